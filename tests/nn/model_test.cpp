// SPDX-License-Identifier: Apache-2.0
// The model API: a model equals its kernels called by hand, float and integer; the arena size is
// exact and never overrun; every scheme gives the element types it promises; the debugger's
// numbers equal a direct computation; copies are independent; bad input gets clear errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "npz_builder.hpp"
#include "tsq/debug/analyzer.hpp"
#include "tsq/debug/debugger.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/mixed_precision.hpp"
#include "tsq/ptq/model_builder.hpp"
#include "tsq/ptq/quantize_model.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::Shape;
using tsq::Span;
using tsq::nn::Dense;
using tsq::nn::Model;
using tsq::nn::Precision;

namespace {

struct Mlp {
  Model model;
  std::vector<float> kernel1, bias1, kernel2, bias2;  // Keras layout (in, out)
  std::vector<float> windows;                         // 120 windows of 6
};

// 6 -> Dense 10 ReLU -> Dense 3, Keras-layout weights loaded from an in-memory .npz.
Mlp make_mlp(std::uint32_t seed = 7) {
  Mlp mlp;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.6f);
  const auto fill = [&](std::vector<float>& v, std::size_t n) {
    v.resize(n);
    for (float& x : v) x = normal(rng);
  };
  fill(mlp.kernel1, 6 * 10);
  fill(mlp.bias1, 10);
  fill(mlp.kernel2, 10 * 3);
  fill(mlp.bias2, 3);
  fill(mlp.windows, 6 * 120);
  const auto x = mlp.model.input("features", Shape{6});
  mlp.model.add(Dense("hidden", 10).relu(), x);
  mlp.model.add(Dense("scores", 3));
  REQUIRE(mlp.model.build().is_ok());
  const auto npz = tsq_test::make_npz({{"hidden.kernel", {6, 10}, mlp.kernel1},
                                       {"hidden.bias", {10}, mlp.bias1},
                                       {"scores.kernel", {10, 3}, mlp.kernel2},
                                       {"scores.bias", {3}, mlp.bias2}});
  REQUIRE(npz.is_ok());
  REQUIRE(mlp.model.load_weights(npz.value()).is_ok());
  return mlp;
}

// A 16-byte aligned arena with guard bytes on both sides.
struct GuardedArena {
  static constexpr std::size_t kGuard = 64;
  std::vector<std::byte> storage;
  Span<std::byte> arena;
  explicit GuardedArena(std::size_t bytes) : storage(bytes + 2 * kGuard + 16, std::byte{0xA5}) {
    std::size_t offset = kGuard;
    while (reinterpret_cast<std::uintptr_t>(storage.data() + offset) % 16 != 0) ++offset;
    arena = Span<std::byte>(storage.data() + offset, bytes);
  }
  bool guards_intact() const {
    const std::byte* begin = storage.data();
    const std::byte* end = storage.data() + storage.size();
    for (const std::byte* p = begin; p < arena.data(); ++p) {
      if (*p != std::byte{0xA5}) return false;
    }
    for (const std::byte* p = arena.data() + arena.size(); p < end; ++p) {
      if (*p != std::byte{0xA5}) return false;
    }
    return true;
  }
};

}  // namespace

TEST_CASE("Float model equals an independent double-precision forward pass", "[model]") {
  const Mlp mlp = make_mlp();
  GuardedArena arena(mlp.model.arena_bytes());
  std::vector<float> out(3);
  for (std::size_t w = 0; w < 10; ++w) {
    const float* x = mlp.windows.data() + 6 * w;
    REQUIRE(mlp.model.run(Span<const float>(x, 6), out, arena.arena).is_ok());
    double hidden[10];
    for (int u = 0; u < 10; ++u) {
      double sum = mlp.bias1[static_cast<std::size_t>(u)];
      for (int d = 0; d < 6; ++d)
        sum += static_cast<double>(x[d]) * mlp.kernel1[static_cast<std::size_t>(d * 10 + u)];
      hidden[u] = std::max(sum, 0.0);
    }
    for (int u = 0; u < 3; ++u) {
      double sum = mlp.bias2[static_cast<std::size_t>(u)];
      for (int d = 0; d < 10; ++d)
        sum += hidden[d] * mlp.kernel2[static_cast<std::size_t>(d * 3 + u)];
      CHECK(out[static_cast<std::size_t>(u)] == Approx(sum).margin(1e-5));
    }
  }
  CHECK(arena.guards_intact());
  CHECK(mlp.model.parameter_count() == 6 * 10 + 10 + 10 * 3 + 3);
}

TEST_CASE("An integer model equals its kernels called by hand, bit for bit", "[model]") {
  const Mlp mlp = make_mlp();
  for (const auto rounding :
       {tsq::RoundingMode::double_rounding, tsq::RoundingMode::single_rounding}) {
    auto quantized =
        tsq::quantize(mlp.model, mlp.windows, tsq::Scheme::fiq_int8().with_rounding(rounding));
    REQUIRE(quantized.is_ok());
    const auto& q = quantized.value();
    // The same layers by hand: per-channel int8 weights, int32 biases, prepared FullyConnected.
    const tsq::QuantParams in = q.tensor_quantization(0).params;
    const tsq::QuantParams mid = q.tensor_quantization(1).params;
    const tsq::QuantParams out = q.tensor_quantization(2).params;
    CHECK(q.input_quantization().params.scale == in.scale);
    const auto by_hand = [&](const Dense& layer, const tsq::QuantParams& input,
                             const tsq::QuantParams& output, Span<const std::int8_t> x,
                             Span<std::int8_t> y) {
      auto w = tsq::nn::quantize_weights_per_channel<std::int8_t>(layer.kernel(),
                                                                  {layer.units(), layer.depth()});
      REQUIRE(w.is_ok());
      auto b = tsq::nn::quantize_bias_int32(layer.bias(), static_cast<std::size_t>(layer.units()),
                                            input.scale, w->scales);
      REQUIRE(b.is_ok());
      auto params = tsq::prepare_owned_fully_connected(tsq::FullyConnectedQuantization{
          Shape{1, layer.depth()}, input, Shape{layer.units(), layer.depth()}, w->scales, output,
          layer.fused_activation(), rounding});
      REQUIRE(params.is_ok());
      REQUIRE(
          tsq::reference::fully_connected(
              *params, tsq::TensorView<const std::int8_t>(x, Shape{1, layer.depth()}),
              tsq::TensorView<const std::int8_t>(w->values, Shape{layer.units(), layer.depth()}),
              b.value(), tsq::TensorView<std::int8_t>(y, Shape{1, layer.units()}))
              .is_ok());
    };
    const auto& hidden = static_cast<const Dense&>(mlp.model.layer(0));
    const auto& scores = static_cast<const Dense&>(mlp.model.layer(1));
    std::vector<std::byte> arena(q.arena_bytes());
    for (std::size_t w = 0; w < 40; ++w) {
      std::vector<std::int8_t> x(6), h(10), y(3), got(3);
      REQUIRE(tsq::quantize<std::int8_t>(Span<const float>(mlp.windows.data() + 6 * w, 6), x, in)
                  .is_ok());
      by_hand(hidden, in, mid, x, h);
      by_hand(scores, mid, out, h, y);
      REQUIRE(q.run(Span<const std::int8_t>(x), Span<std::int8_t>(got), arena).is_ok());
      REQUIRE(got == y);
    }
  }
}

TEST_CASE("The arena size is exact and a run stays inside it", "[model]") {
  const Mlp mlp = make_mlp();
  auto quantized = tsq::quantize(mlp.model, mlp.windows, tsq::Scheme::fiq_float32());
  REQUIRE(quantized.is_ok());
  for (const std::size_t bytes : {mlp.model.arena_bytes(), quantized->arena_bytes()}) {
    const bool is_float = bytes == mlp.model.arena_bytes();
    std::vector<float> out(3);
    const Span<const float> x(mlp.windows.data(), 6);
    GuardedArena exact(bytes);
    const auto run = [&](Span<std::byte> arena) {
      return is_float ? mlp.model.run(x, out, arena) : quantized->run(x, out, arena);
    };
    REQUIRE(run(exact.arena).is_ok());
    CHECK(exact.guards_intact());
    GuardedArena short_one(bytes - 1);
    const tsq::Status status = run(short_one.arena);
    CHECK(status.code() == ErrorCode::buffer_too_small);
    CHECK(std::string(status.message()).find("needs " + std::to_string(bytes)) !=
          std::string::npos);
  }
  // Dead tensors share memory: the float MLP's input (24 B) and hidden (40 B) may not overlap,
  // but the output reuses the input's bytes.
  CHECK(mlp.model.arena_bytes() <= 2 * 48);
}

TEST_CASE("Every scheme gives the element types it promises", "[model]") {
  const Mlp mlp = make_mlp();
  const auto calibration = tsq::calibrate(mlp.model, mlp.windows);
  REQUIRE(calibration.is_ok());
  struct Expect {
    tsq::Scheme scheme;
    DataType input, output, hidden;
    std::size_t int8_bytes, float16_bytes;
  };
  const std::size_t weights = 6 * 10 + 10 * 3;
  const std::vector<Expect> expectations = {
      {tsq::Scheme::float32(), DataType::float32, DataType::float32, DataType::float32, 0, 0},
      {tsq::Scheme::drq(), DataType::float32, DataType::float32, DataType::float32, weights, 0},
      {tsq::Scheme::float16(), DataType::float32, DataType::float32, DataType::float32, 0,
       2 * weights},
      {tsq::Scheme::fiq_float32(), DataType::float32, DataType::float32, DataType::int8, weights,
       0},
      {tsq::Scheme::fiq_int8(), DataType::int8, DataType::int8, DataType::int8, weights, 0},
      {tsq::Scheme::fiq_uint8(), DataType::uint8, DataType::uint8, DataType::int8, weights, 0},
  };
  for (const Expect& e : expectations) {
    INFO(e.scheme.name);
    auto q = tsq::quantize(mlp.model, calibration.value(), e.scheme);
    REQUIRE(q.is_ok());
    CHECK(q->input_quantization().type == e.input);
    CHECK(q->output_quantization().type == e.output);
    CHECK(q->tensor_quantization(1).type == e.hidden);
    const tsq::debug::ModelSummary summary = tsq::debug::summarize(q.value());
    CHECK(summary.quantized_bytes.int8 == e.int8_bytes);
    CHECK(summary.quantized_bytes.float16 == e.float16_bytes);
    CHECK(summary.parameters == weights + 13);
    if (e.scheme.name == "fiq_int8") {
      CHECK(summary.quantized_bytes.int32 == 13 * 4);
      CHECK(summary.compression() == Approx(double(4 * (weights + 13)) / double(weights + 13 * 4)));
    }
  }
  // Overrides: a layer kept in float inside an integer model (conversions around it), and int16
  // activations (16x8) with int64 biases.
  auto mixed = tsq::quantize(mlp.model, calibration.value(),
                             tsq::Scheme::fiq_float32().keep_float("hidden"));
  REQUIRE(mixed.is_ok());
  CHECK(mixed->tensor_quantization(1).type == DataType::float32);
  CHECK(mixed->tensor_quantization(2).type == DataType::int8);
  auto wide = tsq::quantize(mlp.model, calibration.value(),
                            tsq::Scheme::fiq_float32().int16_activations("scores"));
  REQUIRE(wide.is_ok());
  CHECK(wide->tensor_quantization(2).type == DataType::int16);
  CHECK(tsq::debug::summarize(wide.value()).quantized_bytes.int64 == 3 * 8);
  CHECK(tsq::quantize(mlp.model, calibration.value(), tsq::Scheme::fiq_float32().keep_float("nope"))
            .status()
            .code() == ErrorCode::not_found);
}

TEST_CASE("uint8 and int8 I/O give the same scores as float I/O", "[model]") {
  const Mlp mlp = make_mlp();
  const auto calibration = tsq::calibrate(mlp.model, mlp.windows);
  REQUIRE(calibration.is_ok());
  auto f = tsq::quantize(mlp.model, calibration.value(), tsq::Scheme::fiq_float32());
  auto i8 = tsq::quantize(mlp.model, calibration.value(), tsq::Scheme::fiq_int8());
  auto u8 = tsq::quantize(mlp.model, calibration.value(), tsq::Scheme::fiq_uint8());
  REQUIRE((f.is_ok() && i8.is_ok() && u8.is_ok()));
  CHECK(u8->input_quantization().params.zero_point ==
        i8->input_quantization().params.zero_point + 128);
  std::vector<std::byte> arena(std::max({f->arena_bytes(), i8->arena_bytes(), u8->arena_bytes()}));
  for (std::size_t w = 0; w < 20; ++w) {
    const Span<const float> x(mlp.windows.data() + 6 * w, 6);
    std::vector<float> yf(3);
    std::vector<std::int8_t> x8(6), y8(3);
    std::vector<std::uint8_t> xu(6), yu(3);
    REQUIRE(f->run(x, yf, arena).is_ok());
    REQUIRE(tsq::quantize<std::int8_t>(x, x8, i8->input_quantization().params).is_ok());
    REQUIRE(tsq::quantize<std::uint8_t>(x, xu, u8->input_quantization().params).is_ok());
    REQUIRE(i8->run(Span<const std::int8_t>(x8), Span<std::int8_t>(y8), arena).is_ok());
    REQUIRE(u8->run(Span<const std::uint8_t>(xu), Span<std::uint8_t>(yu), arena).is_ok());
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(yu[i] == static_cast<std::uint8_t>(y8[i] + 128));
      CHECK(tsq::dequantize(y8[i], i8->output_quantization().params) == yf[i]);
    }
  }
  // A float window into an int8 model is refused with the reason.
  std::vector<float> y(3);
  CHECK(i8->run(Span<const float>(mlp.windows.data(), 6), y, arena).code() ==
        ErrorCode::unsupported_type);
}

TEST_CASE("The debugger's numbers equal a direct computation", "[model]") {
  // One Dense layer: the end-to-end error is the quantized output against the float output.
  Model model;
  model.input("x", Shape{4});
  model.add(Dense("only", 2));
  REQUIRE(model.build().is_ok());
  REQUIRE(static_cast<Dense&>(model.layer(0))
              .set_weights({0.5f, -0.25f, 0.125f, 1.0f, 0.3f, 0.7f, -0.9f, 0.2f}, {0.1f, -0.2f})
              .is_ok());
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> windows(4 * 50);
  for (float& v : windows) v = uniform(rng);
  auto q = tsq::quantize(model, windows, tsq::Scheme::fiq_float32());
  REQUIRE(q.is_ok());
  auto report = tsq::debug::debug_model(q.value(), windows);
  REQUIRE(report.is_ok());
  REQUIRE(report->layers.size() == 1);
  double sum = 0.0, squares = 0.0, max_abs = 0.0;
  std::vector<std::byte> fa(model.arena_bytes()), qa(q->arena_bytes());
  std::vector<float> yf(2), yq(2);
  for (std::size_t w = 0; w < 50; ++w) {
    const Span<const float> x(windows.data() + 4 * w, 4);
    REQUIRE(model.run(x, yf, fa).is_ok());
    REQUIRE(q->run(x, yq, qa).is_ok());
    for (std::size_t i = 0; i < 2; ++i) {
      const double e = static_cast<double>(yq[i]) - yf[i];
      sum += e;
      squares += e * e;
      max_abs = std::max(max_abs, std::fabs(e));
    }
  }
  const auto& layer = report->layers[0];
  CHECK(layer.end_to_end.count == 100);
  CHECK(layer.end_to_end.mean() == Approx(sum / 100).margin(1e-12));
  CHECK(layer.end_to_end.mse() == Approx(squares / 100).epsilon(1e-9));
  CHECK(layer.end_to_end.max_abs == Approx(max_abs).epsilon(1e-9));
  const double scale = q->tensor_quantization(1).params.scale;
  CHECK(layer.rmse_over_scale() == Approx(std::sqrt(squares / 100) / scale).epsilon(1e-9));
  CHECK(layer.range == Approx(255.0 * scale));
  // A single layer's own error is its end-to-end error minus the input rounding it inherits:
  // here the input is quantized too, so own <= end to end; both well under the flag.
  CHECK(layer.own_rmse_over_scale() <= layer.rmse_over_scale() + 1e-9);
  CHECK_FALSE(layer.flagged);
  CHECK(layer.activation_rounding < 0.3);  // rounding to the grid: at most 1/sqrt(12) ~ 0.29
}

TEST_CASE("Copies of models and quantized models never point into the original", "[model]") {
  auto original = std::make_unique<Mlp>(make_mlp());
  auto quantized = std::make_unique<tsq::QuantizedModel>(
      tsq::quantize(original->model, original->windows, tsq::Scheme::fiq_float32()).value());
  const std::vector<float> x(original->windows.begin(), original->windows.begin() + 6);
  std::vector<float> expected_float(3), expected_int(3);
  std::vector<std::byte> arena(std::max(original->model.arena_bytes(), quantized->arena_bytes()));
  REQUIRE(original->model.run(x, expected_float, arena).is_ok());
  REQUIRE(quantized->run(x, expected_int, arena).is_ok());
  Model model_copy = original->model;
  tsq::QuantizedModel quantized_copy = *quantized;
  Model moved = std::move(model_copy);
  original.reset();
  quantized.reset();
  std::vector<float> got(3);
  REQUIRE(moved.run(x, got, arena).is_ok());
  CHECK(got == expected_float);
  REQUIRE(quantized_copy.run(x, got, arena).is_ok());
  CHECK(got == expected_int);
  REQUIRE(quantized_copy.float_model().run(x, got, arena).is_ok());
  CHECK(got == expected_float);
}

TEST_CASE("Model API bad input gets clear errors", "[model]") {
  // Shape mismatch: a second input for a one-input layer, a missing input.
  {
    Model model;
    model.add(Dense("d", 3));
    CHECK(model.build().code() == ErrorCode::invalid_argument);
  }
  {
    Model model;
    model.input("x", Shape{4});
    model.add(Dense("d", 3));
    model.add(Dense("d", 2));
    const tsq::Status status = model.build();
    CHECK(status.code() == ErrorCode::invalid_argument);
    CHECK(std::string(status.message()).find("two layers are named 'd'") != std::string::npos);
  }
  Mlp mlp = make_mlp();
  // A weight with the right count but transposed dims: Keras (6, 10) given as (10, 6).
  {
    const auto npz = tsq_test::make_npz({{"hidden.kernel", {10, 6}, mlp.kernel1},
                                         {"hidden.bias", {10}, mlp.bias1},
                                         {"scores.kernel", {10, 3}, mlp.kernel2},
                                         {"scores.bias", {3}, mlp.bias2}});
    REQUIRE(npz.is_ok());
    Model copy = mlp.model;
    const tsq::Status status = copy.load_weights(npz.value());
    CHECK(status.code() == ErrorCode::shape_mismatch);
    CHECK(
        std::string(status.message()).find("hidden.kernel' has shape (10, 6), expected (6, 10)") !=
        std::string::npos);
  }
  // A missing weight.
  {
    const auto npz = tsq_test::make_npz({{"hidden.kernel", {6, 10}, mlp.kernel1}});
    REQUIRE(npz.is_ok());
    Model copy = mlp.model;
    CHECK(copy.load_weights(npz.value()).code() == ErrorCode::not_found);
  }
  // A truncated weights file.
  {
    const std::vector<std::uint8_t> bytes =
        tsq_test::npz_bytes({{"hidden.kernel", {6, 10}, mlp.kernel1}});
    CHECK(tsq::io::parse_npz(bytes.data(), bytes.size() - 7).status().code() ==
          ErrorCode::malformed_file);
  }
  // A model without weights cannot run.
  {
    Model model;
    model.input("x", Shape{4});
    model.add(Dense("d", 3));
    REQUIRE(model.build().is_ok());
    std::vector<float> x(4), y(3);
    std::vector<std::byte> arena(model.arena_bytes());
    CHECK(model.run(x, y, arena).code() == ErrorCode::invalid_argument);
  }
  // NaN in the calibration data names the window and the tensor.
  {
    std::vector<float> windows = mlp.windows;
    windows[6 * 17 + 2] = std::numeric_limits<float>::quiet_NaN();
    const auto q = tsq::quantize(mlp.model, windows, tsq::Scheme::fiq_float32());
    CHECK(q.status().code() == ErrorCode::non_finite_value);
    CHECK(std::string(q.status().message()).find("window 17, tensor 'features'") !=
          std::string::npos);
  }
  // Zero windows, and data that is not whole windows.
  CHECK(tsq::quantize(mlp.model, Span<const float>(), tsq::Scheme::fiq_float32()).status().code() ==
        ErrorCode::invalid_argument);
  CHECK(
      tsq::quantize(mlp.model, Span<const float>(mlp.windows.data(), 7), tsq::Scheme::fiq_float32())
          .status()
          .code() == ErrorCode::shape_mismatch);
  // Wrong input size at run.
  std::vector<float> x(5), y(3);
  std::vector<std::byte> arena(mlp.model.arena_bytes());
  CHECK(mlp.model.run(x, y, arena).code() == ErrorCode::shape_mismatch);
}

TEST_CASE("Bias correction removes the mean output shift of weight rounding", "[model]") {
  // Inputs with a large common mean: weight rounding then shifts every output by (W_q - W) E[x].
  Model model;
  model.input("x", Shape{64});
  model.add(Dense("wide", 8));
  REQUIRE(model.build().is_ok());
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> kernel(64 * 8), bias(8, 0.0f), windows(64 * 200);
  for (float& w : kernel) w = normal(rng);
  for (float& x : windows) x = 2.0f + 0.2f * normal(rng);
  REQUIRE(static_cast<Dense&>(model.layer(0)).set_weights(kernel, bias).is_ok());
  auto plain = tsq::quantize(model, windows, tsq::Scheme::fiq_float32());
  auto corrected = tsq::quantize(model, windows, tsq::Scheme::fiq_float32().with_bias_correction());
  REQUIRE((plain.is_ok() && corrected.is_ok()));
  const auto plain_report = tsq::debug::debug_model(plain.value(), windows);
  const auto corrected_report = tsq::debug::debug_model(corrected.value(), windows);
  REQUIRE((plain_report.is_ok() && corrected_report.is_ok()));
  // Per-channel shifts of either sign average out over channels: compare the MSE.
  const double before = plain_report->layers[0].end_to_end.mse();
  const double after = corrected_report->layers[0].end_to_end.mse();
  CHECK(after < 0.8 * before);
}

TEST_CASE("Automatic mixed precision promotes layers and stays integer-only", "[model]") {
  const Mlp mlp = make_mlp();
  const auto calibration = tsq::calibrate(mlp.model, mlp.windows);
  REQUIRE(calibration.is_ok());
  tsq::MixedPrecisionOptions options;
  options.threshold = 0.05;  // below int8 rounding noise: every layer wants a promotion
  const auto mixed =
      tsq::quantize_mixed_precision(mlp.model, calibration.value(), mlp.windows, options);
  REQUIRE(mixed.is_ok());
  CHECK_FALSE(mixed->log.empty());
  std::size_t promoted = 0;
  for (std::size_t n = 0; n < mlp.model.node_count(); ++n) {
    const Precision p = mixed->model.node_step(n).precision;
    CHECK(tsq::nn::is_integer_precision(p));
    promoted += p == Precision::int16_activations ? 1 : 0;
  }
  CHECK(promoted >= 1);
  // The promoted model is more accurate end to end than plain int8.
  auto plain = tsq::quantize(mlp.model, calibration.value(), tsq::Scheme::fiq_float32());
  REQUIRE(plain.is_ok());
  const auto plain_report = tsq::debug::debug_model(plain.value(), mlp.windows);
  REQUIRE(plain_report.is_ok());
  CHECK(mixed->report.output.rmse() < plain_report->output.rmse());
  // With a generous threshold nothing changes.
  options.threshold = 10.0;
  const auto unchanged =
      tsq::quantize_mixed_precision(mlp.model, calibration.value(), mlp.windows, options);
  REQUIRE(unchanged.is_ok());
  CHECK(unchanged->log.empty());
}

TEST_CASE("Mixed precision looks upstream and lowers the total error over the threshold",
          "[model]") {
  const Mlp mlp = make_mlp();
  // Node 1 (the second Dense) reads node 0: both are its upstream, node 0 only itself.
  const auto upstream = tsq::detail::upstream_nodes(mlp.model, 1);
  CHECK(std::set<std::size_t>(upstream.begin(), upstream.end()) == std::set<std::size_t>{0, 1});
  CHECK(tsq::detail::upstream_nodes(mlp.model, 0) == std::vector<std::size_t>{0});

  const auto calibration = tsq::calibrate(mlp.model, mlp.windows);
  REQUIRE(calibration.is_ok());
  auto plain = tsq::quantize(mlp.model, calibration.value(), tsq::Scheme::fiq_float32());
  REQUIRE(plain.is_ok());
  const auto plain_report = tsq::debug::debug_model(plain.value(), mlp.windows);
  REQUIRE(plain_report.is_ok());
  tsq::MixedPrecisionOptions options;
  options.threshold = 0.2;
  const auto mixed =
      tsq::quantize_mixed_precision(mlp.model, calibration.value(), mlp.windows, options);
  REQUIRE(mixed.is_ok());
  // Judged in steps of the int8 scales of the plain model, the excess only goes down.
  std::vector<double> int8_scales;
  for (const auto& layer : plain_report->layers) int8_scales.push_back(layer.scale);
  const double before = tsq::detail::excess_error(plain_report.value(), int8_scales, 0.2);
  const double after = tsq::detail::excess_error(mixed->report, int8_scales, 0.2);
  CHECK(before > 0.0);
  CHECK(after < before);
  // Every trial names the layer it was tried for; the last line says where the search ended.
  REQUIRE_FALSE(mixed->log.empty());
  for (std::size_t i = 0; i + 1 < mixed->log.size(); ++i) {
    const std::string& line = mixed->log[i];
    CHECK((line.find(" (for ") != std::string::npos || line.rfind("  ", 0) == 0));
  }
  CHECK(mixed->log.back().rfind("result: worst layer ", 0) == 0);
}

TEST_CASE("A quantized model assembled from given layers runs like the original", "[model]") {
  const Mlp mlp = make_mlp();
  auto quantized = tsq::quantize(mlp.model, mlp.windows, tsq::Scheme::fiq_int8());
  REQUIRE(quantized.is_ok());
  tsq::QuantizedModelBuilder builder(mlp.model);
  for (std::size_t t = 0; t < mlp.model.tensors().size(); ++t) {
    const auto id = static_cast<tsq::nn::TensorId>(t);
    REQUIRE(builder.set_tensor(id, quantized->tensor_quantization(id)).is_ok());
  }
  CHECK(builder.build(tsq::IoType::int8).status().code() ==
        ErrorCode::invalid_argument);  // no layers yet
  for (std::size_t n = 0; n < mlp.model.node_count(); ++n) {
    REQUIRE(builder.set_layer(n, quantized->node_step(n).layer->clone(), Precision::int8).is_ok());
  }
  auto assembled = builder.build(tsq::IoType::int8);
  REQUIRE(assembled.is_ok());
  std::vector<std::byte> arena(std::max(assembled->arena_bytes(), quantized->arena_bytes()));
  std::vector<std::int8_t> x(6), expected(3), got(3);
  for (std::size_t w = 0; w < 20; ++w) {
    REQUIRE(tsq::quantize<std::int8_t>(Span<const float>(mlp.windows.data() + 6 * w, 6), x,
                                       quantized->input_quantization().params)
                .is_ok());
    REQUIRE(quantized->run(Span<const std::int8_t>(x), Span<std::int8_t>(expected), arena).is_ok());
    REQUIRE(assembled->run(Span<const std::int8_t>(x), Span<std::int8_t>(got), arena).is_ok());
    CHECK(got == expected);
  }
  // A layer whose output quantization disagrees with its tensor is refused.
  tsq::QuantizedModelBuilder wrong(mlp.model);
  for (std::size_t t = 0; t < mlp.model.tensors().size(); ++t) {
    tsq::nn::TensorQuantization q =
        quantized->tensor_quantization(static_cast<tsq::nn::TensorId>(t));
    if (t == 1) q.params.scale *= 2.0f;
    REQUIRE(wrong.set_tensor(static_cast<tsq::nn::TensorId>(t), q).is_ok());
  }
  for (std::size_t n = 0; n < mlp.model.node_count(); ++n) {
    REQUIRE(wrong.set_layer(n, quantized->node_step(n).layer->clone(), Precision::int8).is_ok());
  }
  CHECK(wrong.build(tsq::IoType::int8).status().code() == ErrorCode::invalid_argument);
}

TEST_CASE("An LSTM model quantizes with data-aware weight rounding", "[model]") {
  // Inputs with a wide, uneven range (conv features in the study's DeepConvLSTM): the case where
  // int8 weight rounding dominates the LSTM's error.
  Model model;
  model.input("features", Shape{20, 12});
  model.add(tsq::nn::LSTM("lstm", 8));
  REQUIRE(model.build().is_ok());
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> kernel(12 * 32), recurrent(8 * 32), bias(32, 0.0f), windows(20 * 12 * 60);
  for (float& w : kernel) w = 0.05f * normal(rng);
  for (float& w : recurrent) w = normal(rng);
  for (std::size_t i = 0; i < windows.size(); ++i) {
    windows[i] = std::max(0.0f, normal(rng)) * (i % 12 < 3 ? 40.0f : 1.0f);
  }
  REQUIRE(model.find<tsq::nn::LSTM>("lstm")->set_weights(kernel, recurrent, bias).is_ok());
  auto plain = tsq::quantize(model, windows, tsq::Scheme::fiq_float32());
  auto aware = tsq::quantize(model, windows, tsq::Scheme::fiq_float32().with_data_aware_rounding());
  REQUIRE(plain.is_ok());
  INFO(aware.status().message());
  REQUIRE(aware.is_ok());
  const auto plain_report = tsq::debug::debug_model(plain.value(), windows);
  const auto aware_report = tsq::debug::debug_model(aware.value(), windows);
  REQUIRE((plain_report.is_ok() && aware_report.is_ok()));
  CHECK(aware_report->output.mse() <= 1.2 * plain_report->output.mse());
}
