// SPDX-License-Identifier: Apache-2.0
// The LSTM's intermediates (gate pre-activations and cell state) and the debugger's report of
// them: names and sizes; the float ones equal floating::lstm_step stepped by hand, the int8 ones
// reference::lstm_step stepped by hand (the Q3.12 sums and the int16 cell, bit for bit); the
// debugger's numbers equal a direct computation, also when the layer reads its input through a
// conversion; saturated gates are counted.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tsq/debug/debugger.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/reference/requantize.hpp"
#include "tsq/nn/layers/bidirectional.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/lstm_quantizer.hpp"
#include "tsq/ptq/quantize_model.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::DataType;
using tsq::QuantParams;
using tsq::Shape;
using tsq::Span;
using tsq::TensorView;
using tsq::nn::AnyTensor;
using tsq::nn::Intermediate;
using tsq::nn::LayerCalibration;
using tsq::nn::LayerQuantizationRequest;
using tsq::nn::Model;
using tsq::nn::Precision;
using tsq::nn::QuantizedLayer;
using tsq::nn::TensorQuantization;

namespace {

constexpr std::int32_t kSteps = 10;
constexpr std::int32_t kInputs = 3;
constexpr std::int32_t kUnits = 4;
constexpr std::size_t kWindow = static_cast<std::size_t>(kSteps * kInputs);
constexpr std::size_t kValues = static_cast<std::size_t>(kSteps * kUnits);

const char* const kNames[] = {"input gate pre-activation", "forget gate pre-activation",
                              "cell gate pre-activation", "output gate pre-activation",
                              "cell state"};

// A deterministic generator (the same numbers with every standard library).
struct Random {
  std::uint64_t state;
  explicit Random(std::uint64_t seed) : state(seed * 2862933555777941757ull + 3037000493ull) {}
  float uniform(float low, float high) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const auto bits = static_cast<std::uint32_t>(state >> 40);  // 24 bits
    return low + (high - low) * (static_cast<float>(bits) / 16777216.0f);
  }
  std::vector<float> fill(std::size_t count, float low, float high) {
    std::vector<float> values(count);
    for (float& v : values) v = uniform(low, high);
    return values;
  }
};

struct Weights {
  std::vector<float> kernel, recurrent, bias;  // Keras layout
};

// `gain` scales the input kernel: 12 drives most gate pre-activations beyond Q3.12's +-8.
Weights random_weights(std::uint64_t seed, float gain = 1.0f) {
  Random random(seed);
  Weights w;
  w.kernel = random.fill(static_cast<std::size_t>(kInputs * 4 * kUnits), -0.6f, 0.6f);
  for (float& v : w.kernel) v *= gain;
  w.recurrent = random.fill(static_cast<std::size_t>(kUnits * 4 * kUnits), -0.5f, 0.5f);
  w.bias = random.fill(static_cast<std::size_t>(4 * kUnits), -0.3f, 0.3f);
  return w;
}

tsq::floating::LstmWeights float_view(const Weights& w) {
  return tsq::floating::LstmWeights{
      TensorView<const float>(w.kernel.data(), Shape{kInputs, 4 * kUnits}),
      TensorView<const float>(w.recurrent.data(), Shape{kUnits, 4 * kUnits}),
      Span<const float>(w.bias.data(), w.bias.size())};
}

std::vector<float> windows(std::size_t count, std::uint64_t seed) {
  return Random(seed).fill(count * kWindow, -2.0f, 2.0f);
}

Model lstm_model(const Weights& w) {
  Model model;
  model.input("window", Shape{kSteps, kInputs});
  model.add(tsq::nn::LSTM("lstm", kUnits));
  REQUIRE(model.build().is_ok());
  REQUIRE(static_cast<tsq::nn::LSTM&>(model.layer(0))
              .set_weights(w.kernel, w.recurrent, w.bias)
              .is_ok());
  return model;
}

// A 16-byte aligned byte buffer.
struct Arena {
  std::vector<std::byte> storage;
  Span<std::byte> span;
  explicit Arena(std::size_t bytes) : storage(bytes + 16) {
    std::size_t offset = 0;
    while (reinterpret_cast<std::uintptr_t>(storage.data() + offset) % 16 != 0) ++offset;
    span = Span<std::byte>(storage.data() + offset, bytes);
  }
};

std::unique_ptr<LayerCalibration> calibrate(const Model& model, const std::vector<float>& data) {
  std::vector<std::unique_ptr<LayerCalibration>> records = model.make_calibrations();
  std::vector<LayerCalibration*> pointers{records[0].get()};
  std::vector<float> output(model.output_size());
  Arena arena(model.arena_bytes());
  for (std::size_t at = 0; at < data.size(); at += kWindow) {
    REQUIRE(model
                .run(Span<const float>(data.data() + at, kWindow), Span<float>(output), arena.span,
                     nullptr, Span<LayerCalibration* const>(pointers.data(), pointers.size()))
                .is_ok());
  }
  return std::move(records[0]);
}

std::unique_ptr<QuantizedLayer> quantize_layer(const tsq::nn::Layer& layer, Precision precision,
                                               const TensorQuantization& input,
                                               const LayerCalibration* calibration) {
  LayerQuantizationRequest request;
  request.precision = precision;
  request.inputs = {input};
  request.output = input;
  request.calibration = calibration;
  auto result = layer.quantize(request);
  INFO(result.status().message());
  REQUIRE(result.is_ok());
  return std::move(result).value();
}

std::vector<Intermediate> float_intermediates(const tsq::nn::Layer& layer, const float* window) {
  const TensorView<const float> view(window, Shape{1, kSteps, kInputs});
  std::vector<Intermediate> out;
  const tsq::Status status =
      layer.float_intermediates(Span<const TensorView<const float>>(&view, 1), out);
  INFO(status.message());
  REQUIRE(status.is_ok());
  return out;
}

template <typename T>
std::vector<Intermediate> quantized_intermediates(const QuantizedLayer& layer,
                                                  std::vector<T>& input) {
  const AnyTensor tensor{input.data(), Shape{1, kSteps, kInputs}, tsq::data_type_of_v<T>};
  std::vector<Intermediate> out;
  const tsq::Status status = layer.intermediates(Span<const AnyTensor>(&tensor, 1), out);
  INFO(status.message());
  REQUIRE(status.is_ok());
  return out;
}

void check_names(const std::vector<Intermediate>& got, const std::string& prefix = "",
                 std::size_t first = 0) {
  for (std::size_t k = 0; k < 5; ++k) {
    CHECK(got[first + k].name == prefix + kNames[k]);
    CHECK(got[first + k].values.size() == kValues);
  }
}

// floating::lstm_step by hand: z (4H) and c (H) of every step, [gate or cell][t * H + j].
std::vector<std::vector<float>> float_by_hand(const Weights& w, const float* window,
                                              bool reverse = false) {
  std::vector<std::vector<float>> out(5, std::vector<float>(kValues));
  std::vector<float> h(kUnits, 0.0f), c(kUnits, 0.0f), z(4 * kUnits);
  for (std::int32_t s = 0; s < kSteps; ++s) {
    const std::int32_t t = reverse ? kSteps - 1 - s : s;
    REQUIRE(tsq::floating::lstm_step(float_view(w),
                                     Span<const float>(window + t * kInputs, kInputs), h, c, z)
                .is_ok());
    for (std::int32_t j = 0; j < kUnits; ++j) {
      const auto at = static_cast<std::size_t>(t * kUnits + j);
      for (std::size_t g = 0; g < 4; ++g) out[g][at] = z[g * kUnits + static_cast<std::size_t>(j)];
      out[4][at] = c[static_cast<std::size_t>(j)];
    }
  }
  return out;
}

// Records every tensor of a quantized run as it is stored (raw bytes).
struct RawRecorder final : tsq::nn::TensorObserver {
  std::vector<std::vector<std::byte>> tensors;
  explicit RawRecorder(std::size_t count) : tensors(count) {}
  tsq::Status observe(tsq::nn::TensorId tensor, const AnyTensor& value) override {
    const auto* bytes = static_cast<const std::byte*>(value.data);
    tensors[static_cast<std::size_t>(tensor)].assign(bytes, bytes + value.bytes());
    return tsq::Status::ok();
  }
  template <typename T>
  std::vector<T> as(tsq::nn::TensorId tensor) const {
    const std::vector<std::byte>& bytes = tensors[static_cast<std::size_t>(tensor)];
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
};

template <typename T>
std::vector<float> dequantized(const std::vector<T>& values, const QuantParams& p) {
  std::vector<float> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    out[i] = p.scale * static_cast<float>(values[i] - p.zero_point);
  return out;
}

// The debugger's comparison of one window, by hand: rmse sums and max |error| per intermediate.
struct Direct {
  std::vector<double> squares = std::vector<double>(5, 0.0);
  std::vector<double> max_abs = std::vector<double>(5, 0.0);
  std::vector<std::size_t> saturated = std::vector<std::size_t>(5, 0);
  std::size_t count = 0;
  void add(const std::vector<Intermediate>& got, const std::vector<Intermediate>& reference) {
    REQUIRE(got.size() == 5);
    REQUIRE(reference.size() == 5);
    for (std::size_t k = 0; k < 5; ++k) {
      for (std::size_t i = 0; i < got[k].values.size(); ++i) {
        const double g = got[k].values[i], f = reference[k].values[i];
        squares[k] += (g - f) * (g - f);
        max_abs[k] = std::max(max_abs[k], std::fabs(g - f));
        if (k < 4 && (std::fabs(g) >= 32767.0 / 4096.0 || std::fabs(f) >= 8.0)) ++saturated[k];
      }
    }
    count += got[0].values.size();
  }
  void check(const tsq::debug::LayerReport& layer) const {
    REQUIRE(layer.intermediates.size() == 5);
    for (std::size_t k = 0; k < 5; ++k) {
      const tsq::debug::IntermediateReport& r = layer.intermediates[k];
      INFO(r.name);
      CHECK(r.name == kNames[k]);
      CHECK(r.error.count == count);
      CHECK(r.rmse() == Approx(std::sqrt(squares[k] / static_cast<double>(count))).epsilon(1e-9));
      CHECK(r.max_abs() == Approx(max_abs[k]).epsilon(1e-12));
      CHECK(r.rmse_over_scale() == Approx(r.rmse() / static_cast<double>(r.scale)));
      if (k < 4) {
        CHECK(r.saturated_share ==
              Approx(static_cast<double>(saturated[k]) / static_cast<double>(count)));
      }
    }
  }
};

}  // namespace

TEST_CASE("LSTM float intermediates: names, sizes, and floating::lstm_step's z and c",
          "[nn][lstm][intermediates]") {
  const Weights w = random_weights(1);
  const Model model = lstm_model(w);
  const std::vector<float> data = windows(2, 2);
  const std::vector<Intermediate> got = float_intermediates(model.layer(0), data.data() + kWindow);
  REQUIRE(got.size() == 5);
  check_names(got);
  const auto expected = float_by_hand(w, data.data() + kWindow);
  for (std::size_t k = 0; k < 5; ++k) {
    CHECK(got[k].scale == 0.0f);
    CHECK(got[k].values == expected[k]);
  }
  // The float32 form reports its float layer's; a layer without intermediates reports none.
  const TensorQuantization float_input{DataType::float32, QuantParams{}};
  auto float32 = quantize_layer(model.layer(0), Precision::float32, float_input, nullptr);
  std::vector<float> window(data.begin() + kWindow, data.end());
  const auto same = quantized_intermediates(*float32, window);
  REQUIRE(same.size() == 5);
  for (std::size_t k = 0; k < 5; ++k) CHECK(same[k].values == expected[k]);
  Model dense;
  dense.input("x", Shape{kInputs});
  dense.add(tsq::nn::Dense("dense", 2));
  REQUIRE(dense.build().is_ok());
  const TensorView<const float> view(data.data(), Shape{1, kInputs});
  std::vector<Intermediate> none(1);
  REQUIRE(dense.layer(0)
              .float_intermediates(Span<const TensorView<const float>>(&view, 1), none)
              .is_ok());
  CHECK(none.empty());
}

TEST_CASE("Bidirectional intermediates: both directions, prefixed, aligned with the input",
          "[nn][bidirectional][intermediates]") {
  const Weights forward = random_weights(3);
  const Weights backward = random_weights(4);
  Model model;
  model.input("window", Shape{kSteps, kInputs});
  model.add(tsq::nn::Bidirectional("bi", tsq::nn::LSTM("cell", kUnits)));
  REQUIRE(model.build().is_ok());
  auto& layer = static_cast<tsq::nn::Bidirectional&>(model.layer(0));
  REQUIRE(layer.forward().set_weights(forward.kernel, forward.recurrent, forward.bias).is_ok());
  REQUIRE(layer.backward().set_weights(backward.kernel, backward.recurrent, backward.bias).is_ok());
  const std::vector<float> data = windows(8, 5);
  const std::vector<Intermediate> got = float_intermediates(layer, data.data());
  REQUIRE(got.size() == 10);
  check_names(got, "forward ", 0);
  check_names(got, "backward ", 5);
  const auto f = float_by_hand(forward, data.data());
  const auto b = float_by_hand(backward, data.data(), true);
  for (std::size_t k = 0; k < 5; ++k) {
    CHECK(got[k].values == f[k]);
    CHECK(got[5 + k].values == b[k]);
  }
  // The int8 form: the same names, integer scales.
  const auto record = calibrate(model, data);
  const auto& ranges = static_cast<const tsq::nn::BidirectionalCalibration&>(*record);
  const QuantParams input =
      tsq::choose_quant_params(ranges.forward.input.min, ranges.forward.input.max).value();
  auto int8 = quantize_layer(layer, Precision::int8, {DataType::int8, input}, record.get());
  std::vector<std::int8_t> x(kWindow);
  REQUIRE(tsq::quantize<std::int8_t>(Span<const float>(data.data(), kWindow), x, input).is_ok());
  const auto q = quantized_intermediates(*int8, x);
  REQUIRE(q.size() == 10);
  check_names(q, "forward ", 0);
  check_names(q, "backward ", 5);
  CHECK(q[0].scale == 1.0f / 4096.0f);
  CHECK(q[9].scale > 0.0f);
  // The backward direction by hand: reference::lstm_step from the last step to the first, each
  // step's values at its input time step.
  const auto& part =
      static_cast<const tsq::nn::detail::QuantizedBidirectional<std::int8_t, std::int8_t>&>(*int8)
          .backward();
  std::vector<std::int16_t> state(kUnits, 0), cell(kUnits, 0);
  std::vector<std::int8_t> h(kUnits);
  std::vector<std::int32_t> scratch(tsq::lstm_step_scratch_size(kUnits));
  for (std::int32_t t = kSteps - 1; t >= 0; --t) {
    REQUIRE((tsq::reference::lstm_step<std::int8_t, std::int16_t>(
                 part.prepared.params(), part.weights(),
                 Span<const std::int8_t>(x.data() + t * kInputs, kInputs), state, cell, h, scratch))
                .is_ok());
    for (std::int32_t j = 0; j < kUnits; ++j) {
      const auto at = static_cast<std::size_t>(t * kUnits + j);
      for (std::int32_t g = 0; g < 4; ++g) {
        CHECK(q[static_cast<std::size_t>(5 + g)].values[at] * 4096.0f ==
              static_cast<float>(scratch[static_cast<std::size_t>(4 * kUnits + g * kUnits + j)]));
      }
      CHECK(q[9].values[at] / q[9].scale == static_cast<float>(cell[static_cast<std::size_t>(j)]));
    }
  }
  // The debugger reports both directions.
  auto quantized = tsq::quantize(model, data, tsq::Scheme::fiq_float32());
  REQUIRE(quantized.is_ok());
  const auto report = tsq::debug::debug_model(quantized.value(), data);
  REQUIRE(report.is_ok());
  const auto& inside = report->layers[0].intermediates;
  REQUIRE(inside.size() == 10);
  CHECK(inside[1].name == "forward forget gate pre-activation");
  CHECK(inside[9].name == "backward cell state");
  CHECK(inside[9].error.count == 8 * kValues);
}

TEST_CASE("LSTM int8 intermediates equal reference::lstm_step stepped by hand, bit for bit",
          "[nn][lstm][intermediates]") {
  const Weights w = random_weights(6);
  const Model model = lstm_model(w);
  const std::vector<float> calibration = windows(16, 7);
  const std::vector<float> evaluation = windows(4, 8);
  const auto record = calibrate(model, calibration);
  const auto& ranges = static_cast<const tsq::nn::LstmCalibration&>(*record).ranges;
  // quantize_lstm with the input params it chooses itself is what the layer runs.
  auto q = tsq::quantize_lstm(float_view(w), ranges);
  REQUIRE(q.is_ok());
  auto layer =
      quantize_layer(model.layer(0), Precision::int8, {DataType::int8, q->input}, record.get());
  for (std::size_t at = 0; at < evaluation.size(); at += kWindow) {
    std::vector<std::int8_t> x(kWindow);
    REQUIRE(
        tsq::quantize<std::int8_t>(Span<const float>(evaluation.data() + at, kWindow), x, q->input)
            .is_ok());
    const auto got = quantized_intermediates(*layer, x);
    REQUIRE(got.size() == 5);
    check_names(got);
    for (std::size_t k = 0; k < 4; ++k) CHECK(got[k].scale == 1.0f / 4096.0f);
    CHECK(got[4].scale == q->cell_scale);

    // By hand: the step's scratch holds [u | a] after the call, a = the Q3.12 gate sums.
    std::vector<std::int16_t> state(kUnits, 0), cell(kUnits, 0);
    std::vector<std::int8_t> h(kUnits);
    std::vector<std::int32_t> scratch(tsq::lstm_step_scratch_size(kUnits));
    for (std::int32_t t = 0; t < kSteps; ++t) {
      REQUIRE(
          (tsq::reference::lstm_step<std::int8_t, std::int16_t>(
               q->params, q->weights(), Span<const std::int8_t>(x.data() + t * kInputs, kInputs),
               state, cell, h, scratch))
              .is_ok());
      for (std::int32_t j = 0; j < kUnits; ++j) {
        const auto at_t = static_cast<std::size_t>(t * kUnits + j);
        for (std::int32_t g = 0; g < 4; ++g) {
          const std::int32_t a = scratch[static_cast<std::size_t>(4 * kUnits + g * kUnits + j)];
          CHECK(got[static_cast<std::size_t>(g)].values[at_t] * 4096.0f == static_cast<float>(a));
        }
        // The cell's bits: the value over S_c is the int16 the kernel holds.
        CHECK(got[4].values[at_t] / q->cell_scale ==
              static_cast<float>(cell[static_cast<std::size_t>(j)]));
      }
    }
    // The layer's window run ends in the same output.
    std::vector<std::int8_t> y(kUnits);
    Arena scratch_bytes(layer->scratch_bytes());
    const AnyTensor in{x.data(), Shape{1, kSteps, kInputs}, DataType::int8};
    REQUIRE(layer
                ->run(Span<const AnyTensor>(&in, 1),
                      AnyTensor{y.data(), Shape{1, kUnits}, DataType::int8}, scratch_bytes.span)
                .is_ok());
    CHECK(y == h);
  }

  SECTION("int16 activations, int16 weights, dynamic int8 and float16 report the same names") {
    const QuantParams input16 = tsq::make_quant_params(2.0f / 32767, 0, DataType::int16);
    std::vector<std::int16_t> x16(kWindow);
    REQUIRE(tsq::quantize<std::int16_t>(Span<const float>(evaluation.data(), kWindow), x16, input16)
                .is_ok());
    std::vector<std::int8_t> x8(kWindow);
    REQUIRE(tsq::quantize<std::int8_t>(Span<const float>(evaluation.data(), kWindow), x8, q->input)
                .is_ok());
    std::vector<float> xf(evaluation.begin(), evaluation.begin() + kWindow);
    const auto reference = float_intermediates(model.layer(0), xf.data());
    const TensorQuantization float_input{DataType::float32, QuantParams{}};
    const auto a16 =
        quantized_intermediates(*quantize_layer(model.layer(0), Precision::int16_activations,
                                                {DataType::int16, input16}, record.get()),
                                x16);
    const auto w16 =
        quantized_intermediates(*quantize_layer(model.layer(0), Precision::int16_weights,
                                                {DataType::int8, q->input}, record.get()),
                                x8);
    const auto hybrid = quantized_intermediates(
        *quantize_layer(model.layer(0), Precision::dynamic_int8, float_input, nullptr), xf);
    const auto half = quantized_intermediates(
        *quantize_layer(model.layer(0), Precision::float16_weights, float_input, nullptr), xf);
    for (const auto* form : {&a16, &w16, &hybrid, &half}) {
      REQUIRE(form->size() == 5);
      check_names(*form);
      for (std::size_t k = 0; k < 5; ++k) {
        // Integer forms: values on their grid; all forms close to the float layer.
        if ((*form)[k].scale > 0.0f) {
          for (const float v : (*form)[k].values) {
            CHECK(std::round(v / (*form)[k].scale) == v / (*form)[k].scale);
          }
        }
        double worst = 0.0;
        for (std::size_t i = 0; i < kValues; ++i) {
          worst = std::max(
              worst, std::fabs(static_cast<double>((*form)[k].values[i]) - reference[k].values[i]));
        }
        // Measured at most 0.0100 (dynamic int8's output gate); float16 at most 0.0006.
        CHECK(worst < 0.03);
      }
    }
    CHECK(a16[0].scale == 1.0f / 4096.0f);
    CHECK(w16[4].scale > 0.0f);
    CHECK(hybrid[0].scale == 0.0f);
    CHECK(half[4].scale == 0.0f);
  }
}

TEST_CASE("The debugger's LSTM intermediates equal a direct computation",
          "[debug][lstm][intermediates]") {
  const Weights w = random_weights(9);
  const Model model = lstm_model(w);
  const std::vector<float> data = windows(12, 10);
  auto quantized = tsq::quantize(model, data, tsq::Scheme::fiq_float32());
  REQUIRE(quantized.is_ok());
  const auto report = tsq::debug::debug_model(quantized.value(), data);
  INFO(report.status().message());
  REQUIRE(report.is_ok());
  REQUIRE(report->layers.size() == 1);

  // By hand: the int8 input the layer read (recorded), its intermediates and the float layer's
  // on the same input dequantized.
  const QuantizedLayer& layer = *quantized->node_step(0).layer;
  const QuantParams& input = quantized->tensor_quantization(model.input_tensor()).params;
  Arena arena(quantized->arena_bytes());
  Direct direct;
  for (std::size_t at = 0; at < data.size(); at += kWindow) {
    RawRecorder recorder(model.tensors().size());
    std::vector<float> y(kUnits);
    REQUIRE(quantized->run(Span<const float>(data.data() + at, kWindow), y, arena.span, &recorder)
                .is_ok());
    std::vector<std::int8_t> x = recorder.as<std::int8_t>(model.input_tensor());
    REQUIRE(x.size() == kWindow);
    const std::vector<float> real = dequantized(x, input);
    direct.add(quantized_intermediates(layer, x), float_intermediates(model.layer(0), real.data()));
  }
  direct.check(report->layers[0]);
  CHECK(report->layers[0].intermediates[0].scale == 1.0f / 4096.0f);
  // Rounding of the gate sums alone would give ~0.29 steps; the int8 input and weights make it
  // 4.0 to 7.1 steps here, and 14.4 cell steps (S_c = 2^-15) for the cell.
  CHECK(report->layers[0].intermediates[0].rmse_over_scale() > 0.29);

  SECTION("Off on request") {
    tsq::debug::DebugOptions options;
    options.intermediates = false;
    CHECK(
        tsq::debug::debug_model(quantized.value(), data, options)->layers[0].intermediates.empty());
  }

  SECTION("The print and the CSV show them") {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    tsq::debug::print_debug_report(file, report.value());
    std::rewind(file);
    std::string text;
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) text += static_cast<char>(c);
    std::fclose(file);
    // An indented block under the layer's row.
    CHECK_THAT(text, Catch::Contains("\n    intermediate (own error)") &&
                         Catch::Contains("\n    forget gate pre-activation") &&
                         Catch::Contains("\n    cell state"));
    const std::string path = std::string(P_tmpdir) + "/tsq_debugger_lstm_test.csv";
    REQUIRE(tsq::debug::write_debug_csv(report.value(), path).is_ok());
    std::ifstream csv(path);
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(csv, line)) lines.push_back(line);
    std::remove(path.c_str());
    REQUIRE(lines.size() == 1 + 1 + 5);  // header, the layer, its five intermediates
    CHECK(lines[0].substr(lines[0].size() - 13) == ",intermediate");
    CHECK(lines[1].back() == ',');  // a layer row: no intermediate
    CHECK(lines[6].substr(lines[6].size() - 11) == ",cell state");
  }
}

TEST_CASE("The debugger rebuilds an input the LSTM reads through a conversion",
          "[debug][lstm][intermediates]") {
  // Dense (int8, per time step) -> LSTM with int16 activations: an int8 -> int16 requantize
  // step sits between them.
  const Weights w = random_weights(11);
  Model model;
  model.input("window", Shape{kSteps, kInputs});
  model.add(tsq::nn::Dense("dense", kInputs));
  model.add(tsq::nn::LSTM("lstm", kUnits));
  REQUIRE(model.build().is_ok());
  Random random(12);
  REQUIRE(static_cast<tsq::nn::Dense&>(model.layer(0))
              .set_weights(random.fill(kInputs * kInputs, -0.8f, 0.8f),
                           random.fill(kInputs, -0.2f, 0.2f))
              .is_ok());
  REQUIRE(static_cast<tsq::nn::LSTM&>(model.layer(1))
              .set_weights(w.kernel, w.recurrent, w.bias)
              .is_ok());
  const std::vector<float> data = windows(10, 13);
  auto quantized = tsq::quantize(model, data, tsq::Scheme::fiq_float32().int16_activations("lstm"));
  REQUIRE(quantized.is_ok());
  REQUIRE(quantized->conversion_count() >= 1);
  const auto report = tsq::debug::debug_model(quantized.value(), data);
  INFO(report.status().message());
  REQUIRE(report.is_ok());

  // By hand: the Dense's int8 output requantized to the int16 the LSTM reads.
  const tsq::QuantizedStep& step = quantized->node_step(1);
  const tsq::nn::TensorQuantization& to =
      quantized->slots()[static_cast<std::size_t>(step.inputs[0])].quantization;
  REQUIRE(to.type == DataType::int16);
  const tsq::nn::TensorId hidden = model.node_output(0);
  const QuantParams& from = quantized->tensor_quantization(hidden).params;
  const auto requantize = tsq::prepare_requantize(
      tsq::RequantizeQuantization{Shape{1, kSteps, kInputs}, from, to.params});
  REQUIRE(requantize.is_ok());
  Arena arena(quantized->arena_bytes());
  Direct direct;
  for (std::size_t at = 0; at < data.size(); at += kWindow) {
    RawRecorder recorder(model.tensors().size());
    std::vector<float> y(kUnits);
    REQUIRE(quantized->run(Span<const float>(data.data() + at, kWindow), y, arena.span, &recorder)
                .is_ok());
    const std::vector<std::int8_t> x8 = recorder.as<std::int8_t>(hidden);
    std::vector<std::int16_t> x16(kWindow);
    REQUIRE(tsq::reference::requantize(
                requantize.value(),
                TensorView<const std::int8_t>(x8.data(), Shape{1, kSteps, kInputs}),
                TensorView<std::int16_t>(x16.data(), Shape{1, kSteps, kInputs}))
                .is_ok());
    const std::vector<float> real = dequantized(x16, to.params);
    direct.add(quantized_intermediates(*step.layer, x16),
               float_intermediates(model.layer(1), real.data()));
  }
  REQUIRE(report->layers.size() == 2);
  CHECK(report->layers[0].intermediates.empty());  // a Dense has none
  direct.check(report->layers[1]);
  // Flagged (its int16 output step is far below the int8 weights' error): the reason names the
  // intermediate with the largest rmse/scale.
  const tsq::debug::LayerReport& lstm = report->layers[1];
  REQUIRE(lstm.flagged);
  const auto worst = std::max_element(
      lstm.intermediates.begin(), lstm.intermediates.end(),
      [](const auto& a, const auto& b) { return a.rmse_over_scale() < b.rmse_over_scale(); });
  CHECK_THAT(lstm.flag_reason,
             Catch::Contains("; worst intermediate: " + worst->name + " (rmse/S"));
}

TEST_CASE("Saturated gates show in the debugger's intermediates", "[debug][lstm][intermediates]") {
  const std::vector<float> data = windows(12, 14);
  for (const float gain : {1.0f, 12.0f}) {
    const Model model = lstm_model(random_weights(15, gain));
    auto quantized = tsq::quantize(model, data, tsq::Scheme::fiq_float32());
    REQUIRE(quantized.is_ok());
    const auto report = tsq::debug::debug_model(quantized.value(), data);
    REQUIRE(report.is_ok());
    const tsq::debug::LayerReport& layer = report->layers[0];
    REQUIRE(layer.intermediates.size() == 5);
    double gates = 0.0;
    for (std::size_t k = 0; k < 4; ++k) gates += layer.intermediates[k].saturated_share;
    INFO("gain " << gain);
    if (gain == 1.0f) {
      CHECK(gates == 0.0);  // |z| stays well inside +-8
    } else {
      // Measured: 33% to 44% of each gate's pre-activations at the Q3.12 limits.
      for (std::size_t k = 0; k < 4; ++k) CHECK(layer.intermediates[k].saturated_share > 0.1);
    }
  }
}
