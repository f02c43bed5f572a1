// SPDX-License-Identifier: Apache-2.0
// Data-aware weight rounding (GPTQ): never worse than round-to-nearest on the inputs it was fitted
// to, always on the grid; round-to-nearest again when the inputs are uncorrelated with equal
// variance; dead inputs; errors; the LSTM quantizer's and the model API's use of it (a Dense model
// stays bit-exact with its kernels run by hand on the chosen weights).
#include "tsq/ptq/weight_rounding.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tsq/debug/debugger.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/lstm_quantizer.hpp"
#include "tsq/ptq/quantize_model.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::ErrorCode;
using tsq::LayerHessian;
using tsq::Shape;
using tsq::Span;

namespace {

// A random weight matrix [rows, depth] and its per-row symmetric scales (as quantize_per_channel).
struct Problem {
  std::int32_t rows, depth;
  std::vector<float> weights, scales;
};

template <typename T = std::int8_t>
Problem random_problem(std::int32_t rows, std::int32_t depth, std::uint32_t seed) {
  Problem p{rows, depth, {}, std::vector<float>(static_cast<std::size_t>(rows))};
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  p.weights.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(depth));
  for (float& w : p.weights) w = normal(rng);
  std::vector<T> unused(p.weights.size());
  const std::int32_t dims[] = {rows, depth};
  REQUIRE(tsq::quantize_per_channel<T>(p.weights, dims, 0, unused, p.scales,
                                       tsq::BitWidth{static_cast<int>(8 * sizeof(T)), true, true})
              .is_ok());
  return p;
}

// n inputs of `depth` features driven by 4 shared factors (like the channels of one sensor),
// plus a little independent noise and an offset: strongly correlated. The factors' mixing comes
// from `mixing_seed` (0: `seed`), so calibration and evaluation inputs can share it.
constexpr int kFactors = 4;
std::vector<float> factor_mixing(std::int32_t depth, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> mixing(static_cast<std::size_t>(depth) * kFactors);
  for (float& m : mixing) m = normal(rng);
  return mixing;
}
std::vector<float> correlated_inputs(std::int32_t n, std::int32_t depth, std::uint32_t seed,
                                     std::uint32_t mixing_seed = 0, float offset = 0.3f) {
  const std::vector<float> mixing = factor_mixing(depth, mixing_seed == 0 ? seed : mixing_seed);
  std::mt19937 rng(seed + 1000);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(n) * static_cast<std::size_t>(depth));
  for (std::int32_t s = 0; s < n; ++s) {
    float factor[kFactors];
    for (float& f : factor) f = normal(rng);
    for (std::int32_t k = 0; k < depth; ++k) {
      float v = offset + 0.1f * normal(rng);
      for (int f = 0; f < kFactors; ++f)
        v += mixing[static_cast<std::size_t>(k * kFactors + f)] * factor[f];
      x[static_cast<std::size_t>(s * depth + k)] = v;
    }
  }
  return x;
}

// The objective written out: mean over rows and inputs of ((S_r Q_r - W_r) . x)^2.
template <typename T>
double output_mse(const Problem& p, const std::vector<T>& q, const std::vector<float>& x) {
  const std::size_t n = x.size() / static_cast<std::size_t>(p.depth);
  double total = 0.0;
  for (std::int32_t r = 0; r < p.rows; ++r) {
    for (std::size_t s = 0; s < n; ++s) {
      double e = 0.0;
      for (std::int32_t k = 0; k < p.depth; ++k) {
        const auto at = static_cast<std::size_t>(r * p.depth + k);
        e += (static_cast<double>(q[at]) * p.scales[static_cast<std::size_t>(r)] - p.weights[at]) *
             x[s * static_cast<std::size_t>(p.depth) + static_cast<std::size_t>(k)];
      }
      total += e * e;
    }
  }
  return total / (static_cast<double>(n) * p.rows);
}

template <typename T>
std::vector<T> value_of(const tsq::Result<std::vector<T>>& r) {
  INFO(r.status().message());
  REQUIRE(r.is_ok());
  return r.value();
}

double value_of(const tsq::Result<double>& r) {
  INFO(r.status().message());
  REQUIRE(r.is_ok());
  return r.value();
}

}  // namespace

TEST_CASE("GPTQ lowers the output error of correlated inputs, on the same grid", "[model]") {
  int strictly_lower = 0;
  for (std::uint32_t seed = 1; seed <= 8; ++seed) {
    const Problem p = random_problem(16, 32, seed);
    const std::vector<float> x = correlated_inputs(400, 32, 100 + seed);
    const auto nearest =
        value_of(tsq::round_weights_to_nearest<std::int8_t>(p.weights, p.rows, p.depth, p.scales));
    const auto gptq =
        value_of(tsq::round_weights_gptq<std::int8_t>(p.weights, p.rows, p.depth, p.scales, x));
    tsq::WeightRoundingOptions act_order;
    act_order.activation_order = true;
    const auto ordered = value_of(
        tsq::round_weights_gptq<std::int8_t>(p.weights, p.rows, p.depth, p.scales, x, act_order));
    for (const auto* q : {&gptq, &ordered}) {
      for (const std::int8_t v : *q) {
        CHECK(v >= -127);  // narrow range: -128 never appears
        CHECK(v <= 127);
      }
    }
    const double e_nearest = value_of(
        tsq::weight_rounding_mse<std::int8_t>(p.weights, p.rows, p.depth, p.scales, nearest, x));
    const double e_gptq = value_of(
        tsq::weight_rounding_mse<std::int8_t>(p.weights, p.rows, p.depth, p.scales, gptq, x));
    const double e_ordered = value_of(
        tsq::weight_rounding_mse<std::int8_t>(p.weights, p.rows, p.depth, p.scales, ordered, x));
    // The objective function equals the sum written out.
    CHECK(e_nearest == Approx(output_mse(p, nearest, x)).epsilon(1e-9));
    CHECK(e_gptq == Approx(output_mse(p, gptq, x)).epsilon(1e-9));
    CHECK(e_gptq <= e_nearest);
    CHECK(e_ordered <= e_nearest);
    strictly_lower += e_gptq < 0.5 * e_nearest ? 1 : 0;
    // Some weights are rounded the other way (or further, where errors accumulated).
    std::size_t moved = 0;
    for (std::size_t i = 0; i < gptq.size(); ++i) moved += gptq[i] != nearest[i] ? 1 : 0;
    CHECK(moved > 0);
  }
  CHECK(strictly_lower == 8);  // on these inputs GPTQ halves the error at least

  // int16 weights: the same, on the [-32767, 32767] grid.
  const Problem p = random_problem<std::int16_t>(8, 24, 77);
  const std::vector<float> x = correlated_inputs(300, 24, 78);
  const auto nearest =
      value_of(tsq::round_weights_to_nearest<std::int16_t>(p.weights, p.rows, p.depth, p.scales));
  const auto gptq =
      value_of(tsq::round_weights_gptq<std::int16_t>(p.weights, p.rows, p.depth, p.scales, x));
  for (const std::int16_t v : gptq) CHECK(v >= -32767);
  CHECK(value_of(
            tsq::weight_rounding_mse<std::int16_t>(p.weights, p.rows, p.depth, p.scales, gptq, x)) <
        value_of(tsq::weight_rounding_mse<std::int16_t>(p.weights, p.rows, p.depth, p.scales,
                                                        nearest, x)));
}

TEST_CASE("GPTQ is round-to-nearest for uncorrelated inputs of equal variance", "[model]") {
  const Problem p = random_problem(12, 32, 5);
  std::vector<std::int8_t> per_channel(p.weights.size());
  std::vector<float> scales(12);
  const std::int32_t dims[] = {12, 32};
  REQUIRE(tsq::quantize_per_channel<std::int8_t>(p.weights, dims, 0, per_channel, scales).is_ok());
  REQUIRE(scales == p.scales);
  // (a) identity-like inputs: each one excites one feature, 3 times over.
  std::vector<float> identity(3 * 32 * 32, 0.0f);
  for (int s = 0; s < 96; ++s) identity[static_cast<std::size_t>(s * 32 + s % 32)] = 2.5f;
  // (b) the rows of a 32 x 32 Sylvester-Hadamard matrix: every feature active, X^T X = 32 I.
  std::vector<float> hadamard(32 * 32);
  for (int i = 0; i < 32; ++i) {
    for (int j = 0; j < 32; ++j) {
      int bits = i & j, parity = 0;
      for (; bits != 0; bits &= bits - 1) parity ^= 1;
      hadamard[static_cast<std::size_t>(i * 32 + j)] = parity ? -1.0f : 1.0f;
    }
  }
  for (const auto* x : {&identity, &hadamard}) {
    for (const bool act_order : {false, true}) {
      tsq::WeightRoundingOptions options;
      options.activation_order = act_order;
      const auto gptq = value_of(
          tsq::round_weights_gptq<std::int8_t>(p.weights, p.rows, p.depth, p.scales, *x, options));
      CHECK(gptq == per_channel);
    }
  }
}

TEST_CASE("GPTQ leaves dead inputs at round-to-nearest and ignores them", "[model]") {
  const Problem p = random_problem(10, 24, 9);
  std::vector<float> x = correlated_inputs(300, 24, 10);
  const std::size_t dead[] = {0, 5, 6, 23};  // never non-zero in calibration (ReLU features)
  for (std::size_t s = 0; s < 300; ++s) {
    for (const std::size_t k : dead) x[s * 24 + k] = 0.0f;
  }
  const auto nearest =
      value_of(tsq::round_weights_to_nearest<std::int8_t>(p.weights, p.rows, p.depth, p.scales));
  const auto gptq =
      value_of(tsq::round_weights_gptq<std::int8_t>(p.weights, p.rows, p.depth, p.scales, x));
  for (std::size_t r = 0; r < 10; ++r) {
    for (const std::size_t k : dead) CHECK(gptq[r * 24 + k] == nearest[r * 24 + k]);
  }
  // The live columns are the same as GPTQ on the live inputs alone.
  std::vector<float> live_weights, live_x;
  std::vector<std::size_t> live;
  for (std::size_t k = 0; k < 24; ++k) {
    if (k != 0 && k != 5 && k != 6 && k != 23) live.push_back(k);
  }
  for (std::size_t r = 0; r < 10; ++r) {
    for (const std::size_t k : live) live_weights.push_back(p.weights[r * 24 + k]);
  }
  for (std::size_t s = 0; s < 300; ++s) {
    for (const std::size_t k : live) live_x.push_back(x[s * 24 + k]);
  }
  // (Same damping only if the mean diagonal is the same: dead columns enter it as 1, as in GPTQ.)
  LayerHessian full(24);
  REQUIRE(full.add(x).is_ok());
  double diagonal = 0.0;
  for (std::int32_t k = 0; k < 24; ++k) diagonal += 2.0 * full.second_moment(k, k);
  tsq::WeightRoundingOptions same_damping;
  same_damping.damping = 0.01 * ((diagonal + 4.0) / 24.0) / (diagonal / 20.0);
  const auto alone = value_of(
      tsq::round_weights_gptq<std::int8_t>(live_weights, 10, 20, p.scales, live_x, same_damping));
  std::size_t differ = 0;
  for (std::size_t r = 0; r < 10; ++r) {
    for (std::size_t i = 0; i < live.size(); ++i)
      differ += gptq[r * 24 + live[i]] != alone[r * 20 + i] ? 1 : 0;
  }
  CHECK(differ == 0);
  CHECK(value_of(
            tsq::weight_rounding_mse<std::int8_t>(p.weights, p.rows, p.depth, p.scales, gptq, x)) <
        value_of(tsq::weight_rounding_mse<std::int8_t>(p.weights, p.rows, p.depth, p.scales,
                                                       nearest, x)));
  // All inputs dead: round-to-nearest everywhere.
  const std::vector<float> zeros(24 * 50, 0.0f);
  CHECK(value_of(tsq::round_weights_gptq<std::int8_t>(p.weights, p.rows, p.depth, p.scales,
                                                      zeros)) == nearest);
}

TEST_CASE("Weight rounding: clear errors", "[model]") {
  const Problem p = random_problem(4, 8, 3);
  const std::vector<float> x = correlated_inputs(20, 8, 4);
  const auto code = [](const auto& result) { return result.status().code(); };
  using tsq::round_weights_gptq;
  // Shapes.
  CHECK(code(round_weights_gptq<std::int8_t>(Span<const float>(p.weights.data(), 31), 4, 8,
                                             p.scales, x)) == ErrorCode::shape_mismatch);
  CHECK(code(round_weights_gptq<std::int8_t>(p.weights, 4, 8, Span<const float>(p.scales.data(), 3),
                                             x)) == ErrorCode::shape_mismatch);
  CHECK(code(round_weights_gptq<std::int8_t>(p.weights, 0, 8, p.scales, x)) ==
        ErrorCode::shape_mismatch);
  CHECK(code(round_weights_gptq<std::int8_t>(p.weights, 4, 8, p.scales,
                                             Span<const float>(x.data(), 12))) ==
        ErrorCode::shape_mismatch);
  LayerHessian other_depth(6);
  REQUIRE(other_depth.add(Span<const float>(x.data(), 18)).is_ok());
  const auto mismatch = round_weights_gptq<std::int8_t>(p.weights, 4, 8, p.scales, other_depth);
  CHECK(code(mismatch) == ErrorCode::shape_mismatch);
  CHECK(std::string(mismatch.status().message()).find("depth 6") != std::string::npos);
  // Empty calibration.
  const auto empty =
      round_weights_gptq<std::int8_t>(p.weights, 4, 8, p.scales, Span<const float>());
  CHECK(code(empty) == ErrorCode::invalid_argument);
  CHECK(std::string(empty.status().message()).find("no calibration inputs") != std::string::npos);
  // Non-finite data and bad scales.
  std::vector<float> bad = p.weights;
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  CHECK(code(round_weights_gptq<std::int8_t>(bad, 4, 8, p.scales, x)) ==
        ErrorCode::non_finite_value);
  std::vector<float> bad_x = x;
  bad_x[17] = std::numeric_limits<float>::infinity();
  const auto nan_input = round_weights_gptq<std::int8_t>(p.weights, 4, 8, p.scales, bad_x);
  CHECK(code(nan_input) == ErrorCode::non_finite_value);
  CHECK(std::string(nan_input.status().message()).find("index 17") != std::string::npos);
  LayerHessian untouched(8);
  CHECK(untouched.add(bad_x).code() == ErrorCode::non_finite_value);
  CHECK(untouched.row_count() == 0);  // nothing added on error
  std::vector<float> bad_scales = p.scales;
  bad_scales[2] = 0.0f;
  CHECK(code(round_weights_gptq<std::int8_t>(p.weights, 4, 8, bad_scales, x)) ==
        ErrorCode::invalid_scale);
  tsq::WeightRoundingOptions negative;
  negative.damping = -0.1;
  CHECK(code(round_weights_gptq<std::int8_t>(p.weights, 4, 8, p.scales, x, negative)) ==
        ErrorCode::invalid_argument);
  // Singular H without damping (8 features, 2 inputs).
  tsq::WeightRoundingOptions undamped;
  undamped.damping = 0.0;
  CHECK(code(round_weights_gptq<std::int8_t>(p.weights, 4, 8, p.scales,
                                             Span<const float>(x.data(), 16), undamped)) ==
        ErrorCode::invalid_argument);
  // The objective checks the quantized weights too.
  const std::vector<std::int8_t> short_q(31, 0);
  CHECK(code(tsq::weight_rounding_mse<std::int8_t>(p.weights, 4, 8, p.scales, short_q, x)) ==
        ErrorCode::shape_mismatch);
}

TEST_CASE("The LSTM quantizer: round-to-nearest by default, GPTQ and bias correction on request",
          "[model]") {
  // A small LSTM (6 inputs driven by 2 factors, 8 units) calibrated on 10 windows of 20 steps.
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 0.4f);
  std::vector<float> kernel(6 * 32), recurrent(8 * 32), bias(32);
  for (float& w : kernel) w = normal(rng);
  for (float& w : recurrent) w = normal(rng);
  for (float& b : bias) b = 0.2f * normal(rng);
  const tsq::floating::LstmWeights weights{
      tsq::TensorView<const float>(kernel.data(), Shape{6, 32}),
      tsq::TensorView<const float>(recurrent.data(), Shape{8, 32}), bias};
  const std::vector<float> windows = correlated_inputs(10 * 20, 6, 22);
  const tsq::TensorView<const float> view(windows.data(), Shape{10, 20, 6});
  tsq::LstmRangeObserver ranges, same_pass;
  std::vector<float> out(10 * 8), h(10 * 8), c(10 * 8), scratch(32);
  REQUIRE(tsq::floating::lstm(weights, view, tsq::TensorView<float>(out.data(), Shape{10, 8}), h, c,
                              scratch, false, &ranges)
              .is_ok());
  tsq::LstmRoundingData data;
  REQUIRE(tsq::observe_lstm_rounding_data(weights, view, data, &same_pass).is_ok());
  CHECK(data.input.row_count() == 200);
  CHECK(data.recurrent.row_count() == 200);  // h_{t-1}: one per step, 0 at the first
  CHECK(same_pass.hidden.max == ranges.hidden.max);
  CHECK(same_pass.cell.min == ranges.cell.min);

  const auto plain = tsq::quantize_lstm(weights, ranges);
  tsq::LstmQuantizerOptions options;
  options.rounding_data = &data;
  const auto with_data = tsq::quantize_lstm(weights, ranges, options);
  REQUIRE((plain.is_ok() && with_data.is_ok()));
  // Data given but not asked for: nothing changes.
  CHECK(with_data->input_weights == plain->input_weights);
  CHECK(with_data->recurrent_weights == plain->recurrent_weights);
  CHECK(with_data->bias == plain->bias);

  options.data_aware_rounding = true;
  const auto gptq = tsq::quantize_lstm(weights, ranges, options);
  REQUIRE(gptq.is_ok());
  CHECK(gptq->input_weight_scales == plain->input_weight_scales);  // same grid
  CHECK(gptq->bias == plain->bias);
  CHECK(gptq->input_weights != plain->input_weights);
  // The gate pre-activation error on the calibration steps goes down for both matrices.
  std::vector<float> input_rows(32 * 6), recurrent_rows(32 * 8);
  for (int r = 0; r < 32; ++r) {
    for (int k = 0; k < 6; ++k)
      input_rows[static_cast<std::size_t>(r * 6 + k)] = weights.kernel(k, r);
    for (int k = 0; k < 8; ++k)
      recurrent_rows[static_cast<std::size_t>(r * 8 + k)] = weights.recurrent_kernel(k, r);
  }
  const auto mse = [&](const auto& q) {
    return value_of(tsq::weight_rounding_mse<std::int8_t>(input_rows, 32, 6, q->input_weight_scales,
                                                          q->input_weights, data.input)) +
           value_of(tsq::weight_rounding_mse<std::int8_t>(recurrent_rows, 32, 8,
                                                          q->recurrent_weight_scales,
                                                          q->recurrent_weights, data.recurrent));
  };
  CHECK(mse(gptq) < mse(plain));

  // Bias correction moves the biases by the mean rounding shift, and only them.
  options.data_aware_rounding = false;
  options.bias_correction = true;
  const auto corrected = tsq::quantize_lstm(weights, ranges, options);
  REQUIRE(corrected.is_ok());
  CHECK(corrected->input_weights == plain->input_weights);
  CHECK(corrected->bias != plain->bias);
  for (std::int32_t r = 0; r < 32; ++r) {
    double shift = 0.0;
    for (std::int32_t k = 0; k < 6; ++k) {
      const auto at = static_cast<std::size_t>(r * 6 + k);
      shift += (plain->input_weights[at] * plain->input_weight_scales[static_cast<std::size_t>(r)] -
                input_rows[at]) *
               data.input.mean(k);
    }
    for (std::int32_t k = 0; k < 8; ++k) {
      const auto at = static_cast<std::size_t>(r * 8 + k);
      shift += (plain->recurrent_weights[at] *
                    plain->recurrent_weight_scales[static_cast<std::size_t>(r)] -
                recurrent_rows[at]) *
               data.recurrent.mean(k);
    }
    const double bias_scale = static_cast<double>(plain->input.scale) *
                              plain->input_weight_scales[static_cast<std::size_t>(r)];
    CHECK(static_cast<double>(corrected->bias[static_cast<std::size_t>(r)]) ==
          Approx((bias[static_cast<std::size_t>(r)] - shift) / bias_scale).margin(1.0));
  }

  // Errors: asked without data, data of another shape, windows of another width.
  tsq::LstmQuantizerOptions no_data;
  no_data.data_aware_rounding = true;
  CHECK(tsq::quantize_lstm(weights, ranges, no_data).status().code() ==
        ErrorCode::invalid_argument);
  tsq::LstmRoundingData wrong;
  wrong.input = LayerHessian(5);
  wrong.recurrent = LayerHessian(8);
  no_data.rounding_data = &wrong;
  CHECK(tsq::quantize_lstm(weights, ranges, no_data).status().code() == ErrorCode::shape_mismatch);
  CHECK(tsq::observe_lstm_rounding_data(
            weights, tsq::TensorView<const float>(windows.data(), Shape{10, 24, 5}), data)
            .code() == ErrorCode::shape_mismatch);
  CHECK(data.input.row_count() == 200);  // unchanged on error
}

namespace {

// [1, 16, 64] windows of correlated sensor features -> Dense(6). Each unit mostly cancels the
// shared factors (its output is a small difference of large inputs) and has one outlier weight
// (8 sigma, common in trained layers) that coarsens its grid: weight rounding, not the int8
// rounding of the model's input, dominates the output error, as in the DeepConvLSTM's LSTM 1.
struct DenseCase {
  tsq::nn::Model model;
  std::vector<float> calibration, evaluation;
};

DenseCase dense_case() {
  constexpr std::int32_t kDepth = 64, kUnits = 6;
  DenseCase d;
  d.model.input("features", Shape{16, kDepth});
  d.model.add(tsq::nn::Dense("mix", kUnits));
  REQUIRE(d.model.build().is_ok());
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> kernel(kDepth * kUnits), bias(kUnits);  // Keras layout (depth, units)
  for (float& w : kernel) w = normal(rng);
  for (float& b : bias) b = normal(rng);
  const std::vector<float> mixing = factor_mixing(kDepth, 7);
  const auto at = [](int k, int u) { return static_cast<std::size_t>(k * kUnits + u); };
  for (int u = 0; u < kUnits; ++u) {
    for (int f = 0; f < kFactors; ++f) {
      double dot = 0.0, norm = 0.0;
      for (int k = 0; k < kDepth; ++k) {
        const double m = mixing[static_cast<std::size_t>(k * kFactors + f)];
        dot += kernel[at(k, u)] * m;
        norm += m * m;
      }
      for (int k = 0; k < kDepth; ++k) {
        kernel[at(k, u)] -= static_cast<float>(0.9 * dot / norm) *
                            mixing[static_cast<std::size_t>(k * kFactors + f)];
      }
    }
    kernel[at((u * 7) % kDepth, u)] = 4.0f;
  }
  REQUIRE(static_cast<tsq::nn::Dense&>(d.model.layer(0)).set_weights(kernel, bias).is_ok());
  d.calibration = correlated_inputs(60 * 16, kDepth, 32, 7, 0.0f);  // 60 windows
  d.evaluation = correlated_inputs(40 * 16, kDepth, 33, 7, 0.0f);   // 40 other windows
  return d;
}

}  // namespace

TEST_CASE("Dense with data-aware rounding: lower output error, bit-exact with its kernels",
          "[model]") {
  const DenseCase d = dense_case();
  const auto plain = tsq::quantize(d.model, d.calibration, tsq::Scheme::fiq_float32());
  const auto gptq =
      tsq::quantize(d.model, d.calibration, tsq::Scheme::fiq_float32().with_data_aware_rounding());
  REQUIRE((plain.is_ok() && gptq.is_ok()));
  const auto plain_report = tsq::debug::debug_model(plain.value(), d.evaluation);
  const auto gptq_report = tsq::debug::debug_model(gptq.value(), d.evaluation);
  REQUIRE((plain_report.is_ok() && gptq_report.is_ok()));
  const double before = plain_report->output.mse();
  const double after = gptq_report->output.mse();
  INFO("output MSE: round-to-nearest " << before << ", GPTQ " << after);
  CHECK(after < 0.8 * before);

  // The weights are GPTQ's on the calibration rows (all 60 windows kept), on the same scales.
  const auto& layer = static_cast<const tsq::nn::Dense&>(d.model.layer(0));
  auto weights = tsq::nn::quantize_weights_per_channel<std::int8_t>(layer.kernel(), {6, 64});
  REQUIRE(weights.is_ok());
  const auto& chosen =
      static_cast<const tsq::nn::detail::QuantizedDense<std::int8_t>&>(*gptq->node_step(0).layer)
          .weights();
  CHECK(chosen.scales == weights->scales);
  CHECK(chosen.values == value_of(tsq::round_weights_gptq<std::int8_t>(
                             layer.kernel(), 6, 64, weights->scales, d.calibration)));
  CHECK(chosen.values != weights->values);

  // The model run equals the FullyConnected kernel run by hand on those weights, bit for bit.
  const tsq::QuantParams in = gptq->tensor_quantization(0).params;
  const tsq::QuantParams out = gptq->tensor_quantization(1).params;
  auto bias = tsq::nn::quantize_bias_int32(layer.bias(), 6, in.scale, chosen.scales);
  REQUIRE(bias.is_ok());
  auto params = tsq::prepare_owned_fully_connected(tsq::FullyConnectedQuantization{
      Shape{1, 16, 64}, in, Shape{6, 64}, chosen.scales, out, tsq::FusedActivation::none,
      tsq::RoundingMode::double_rounding});
  REQUIRE(params.is_ok());
  std::vector<std::byte> arena(gptq->arena_bytes());
  for (std::size_t w = 0; w < 40; ++w) {
    const Span<const float> window(d.evaluation.data() + w * 1024, 1024);
    std::vector<std::int8_t> x(1024), y(96);
    REQUIRE(tsq::quantize<std::int8_t>(window, x, in).is_ok());
    REQUIRE(tsq::reference::fully_connected(
                *params, tsq::TensorView<const std::int8_t>(x, Shape{1, 16, 64}),
                tsq::TensorView<const std::int8_t>(chosen.values, Shape{6, 64}), bias.value(),
                tsq::TensorView<std::int8_t>(y, Shape{1, 16, 6}))
                .is_ok());
    std::vector<float> got(96);
    REQUIRE(gptq->run(window, got, arena).is_ok());
    for (std::size_t i = 0; i < 96; ++i) REQUIRE(got[i] == tsq::dequantize(y[i], out));
  }

  // Calibration that kept no inputs is refused rather than silently rounded to nearest.
  const auto calibration = tsq::calibrate(d.model, d.calibration);
  REQUIRE(calibration.is_ok());
  const auto refused = tsq::quantize(d.model, calibration.value(),
                                     tsq::Scheme::fiq_float32().with_data_aware_rounding());
  CHECK(refused.status().code() == ErrorCode::invalid_argument);
  CHECK(std::string(refused.status().message()).find("keep_inputs") != std::string::npos);
}
