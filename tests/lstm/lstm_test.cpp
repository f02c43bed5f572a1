// SPDX-License-Identifier: Apache-2.0
// The integer LSTM: hand-checked steps, saturation, long sequences, integer vs float, streaming
// vs whole window, Bidirectional, the hybrid (DRQ) LSTM and the validation errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/bidirectional_lstm.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/hybrid/lstm.hpp"
#include "tsq/kernels/reference/bidirectional_lstm.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/ptq/lstm_quantizer.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::Shape;
using tsq::TensorView;

namespace {

// A 1-input, 1-unit layer whose integers are easy to follow: x and h at scale 2^-7 (Z = 0),
// weights at scale 2^-6 (64 = 1.0), cell at 2^-12.
struct TinyLayer {
  std::vector<std::int8_t> input_weights = {64, 64, 64, 64};  // W = 1.0 for i, f, c, o
  std::vector<std::int8_t> recurrent_weights;
  std::vector<float> scales = {1.0f / 64, 1.0f / 64, 1.0f / 64, 1.0f / 64};
  std::vector<QuantizedMultiplier> multipliers = std::vector<QuantizedMultiplier>(8);
  std::vector<std::int32_t> biases = std::vector<std::int32_t>(8);
  tsq::LstmParams params;

  explicit TinyLayer(std::int8_t recurrent) : recurrent_weights(4, recurrent) {
    tsq::LstmQuantization q;
    q.input = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
    q.hidden = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
    q.cell_scale = 1.0f / 4096;
    q.input_weight_scales = scales;
    q.recurrent_weight_scales = scales;
    params = tsq::prepare_lstm(q, weights(), multipliers, biases).value();
  }
  tsq::LstmWeightsInt8 weights() const {
    return {TensorView<const std::int8_t>(input_weights.data(), Shape{4, 1}),
            TensorView<const std::int8_t>(recurrent_weights.data(), Shape{4, 1}),
            {}};
  }
};

struct RandomLstm {
  std::int32_t input_size, hidden_size;
  std::vector<float> kernel, recurrent_kernel, bias;
  tsq::floating::LstmWeights weights() const {
    return {TensorView<const float>(kernel.data(), Shape{input_size, 4 * hidden_size}),
            TensorView<const float>(recurrent_kernel.data(), Shape{hidden_size, 4 * hidden_size}),
            bias};
  }
};

RandomLstm random_lstm(tsq_test::Rng& rng, std::int32_t input_size, std::int32_t hidden_size,
                       float weight_range) {
  RandomLstm l{input_size, hidden_size, {}, {}, {}};
  l.kernel = tsq_test::random_floats(rng, static_cast<std::size_t>(input_size * 4 * hidden_size),
                                     -weight_range, weight_range);
  l.recurrent_kernel = tsq_test::random_floats(
      rng, static_cast<std::size_t>(hidden_size * 4 * hidden_size), -weight_range, weight_range);
  l.bias = tsq_test::random_floats(rng, static_cast<std::size_t>(4 * hidden_size), -0.5f, 0.5f);
  for (std::int32_t j = 0; j < hidden_size; ++j)
    l.bias[static_cast<std::size_t>(hidden_size + j)] += 1.0f;  // forget bias
  return l;
}

// Float run over [batch, steps, input]; returns the [batch, steps, H] outputs.
std::vector<float> run_float(const RandomLstm& l, const std::vector<float>& x, std::int32_t batches,
                             std::int32_t steps, tsq::LstmRangeObserver* observer = nullptr) {
  std::vector<float> out(static_cast<std::size_t>(batches * steps * l.hidden_size));
  std::vector<float> h(static_cast<std::size_t>(batches * l.hidden_size)), c(h.size());
  std::vector<float> scratch(tsq::floating::lstm_scratch_size(l.hidden_size));
  REQUIRE(tsq::floating::lstm(
              l.weights(), TensorView<const float>(x.data(), Shape{batches, steps, l.input_size}),
              TensorView<float>(out.data(), Shape{batches, steps, l.hidden_size}), h, c, scratch,
              false, observer)
              .is_ok());
  return out;
}

template <typename State>
std::vector<std::int8_t> run_int8_with(const tsq::QuantizedLstm<>& q,
                                       const std::vector<std::int8_t>& x, std::int32_t batches,
                                       std::int32_t steps, bool reverse = false) {
  std::vector<std::int8_t> out(static_cast<std::size_t>(batches * steps * q.hidden_size));
  // The state starts at real 0: the hidden zero point for an int8 state, 0 for an int16 one.
  std::vector<State> h(static_cast<std::size_t>(batches * q.hidden_size),
                       static_cast<State>(q.int16_state ? 0 : q.hidden.zero_point));
  std::vector<std::int16_t> c(h.size(), 0);
  std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(steps, q.hidden_size));
  REQUIRE(tsq::reference::lstm<std::int8_t, State>(
              q.params, q.weights(),
              TensorView<const std::int8_t>(x.data(), Shape{batches, steps, q.input_size}),
              TensorView<std::int8_t>(out.data(), Shape{batches, steps, q.hidden_size}), h, c,
              scratch, reverse)
              .is_ok());
  return out;
}

std::vector<std::int8_t> run_int8(const tsq::QuantizedLstm<>& q, const std::vector<std::int8_t>& x,
                                  std::int32_t batches, std::int32_t steps, bool reverse = false) {
  return q.int16_state ? run_int8_with<std::int16_t>(q, x, batches, steps, reverse)
                       : run_int8_with<std::int8_t>(q, x, batches, steps, reverse);
}

// Runs the layer one step at a time (state kept by the caller) and compares every output.
template <typename State>
void check_streaming(const tsq::QuantizedLstm<>& q, const std::vector<std::int8_t>& xq,
                     const std::vector<std::int8_t>& window, std::int32_t batches,
                     std::int32_t steps) {
  const std::int32_t input_size = q.input_size, hidden_size = q.hidden_size;
  std::vector<std::int32_t> scratch(tsq::lstm_step_scratch_size(hidden_size));
  for (std::int32_t b = 0; b < batches; ++b) {
    std::vector<State> state(static_cast<std::size_t>(hidden_size),
                             static_cast<State>(q.int16_state ? 0 : q.hidden.zero_point));
    std::vector<std::int16_t> c(static_cast<std::size_t>(hidden_size), 0);
    std::vector<std::int8_t> out(static_cast<std::size_t>(hidden_size));
    for (std::int32_t t = 0; t < steps; ++t) {
      const tsq::Span<const std::int8_t> step(xq.data() + (b * steps + t) * input_size,
                                              static_cast<std::size_t>(input_size));
      REQUIRE(tsq::reference::lstm_step<std::int8_t, State>(q.params, q.weights(), step, state, c,
                                                            out, scratch)
                  .is_ok());
      for (std::int32_t j = 0; j < hidden_size; ++j) {
        REQUIRE(out[static_cast<std::size_t>(j)] ==
                window[static_cast<std::size_t>((b * steps + t) * hidden_size + j)]);
      }
    }
  }
}

}  // namespace

TEST_CASE("LSTM int8: one and two hand-checked steps", "[lstm]") {
  // Step 1, x = 64 (0.5), h = 0, c = 0:
  //   M_x = float32(2^-7 * 2^-6) / 2^-12 = 0.5; u = 0.5 * (64 * 64) = 2048 (Q3.12: 0.5) for every
  //   gate i = f = o = sigmoid_q3_12(2048) = 20397 (0.6225), g = tanh_int16(2048, -12) = 15143
  //   (0.4621) c = round(f * 0 * 2^-15) + round(i * g * 2^-30 / 2^-12) = 0 + round(308871771 /
  //   2^18) = 1178 (0.2876) tanh(c) = tanh_int16(1178, -12) = 9173; h = round(20397 * 9173 * 2^-30
  //   / 2^-7) = 22 (0.1719)
  // Step 2 with R = 32 (0.5): v = 0.5 * (32 * 22) = 352, a = 2048 + 352 = 2400 (0.5859)
  //   i = f = o = 21052, g = 17268; c = round(21052 * 1178 / 2^15) + round(21052 * 17268 / 2^18)
  //     = 757 + 1387 = 2144; tanh(c) = 15740; h = round(21052 * 15740 / 2^23) = 40
  // (The float LSTM gives c = 0.2877, h = 0.1743, then z = 0.5872, c = 0.5233, h = 0.3082.)
  for (std::int8_t recurrent : {std::int8_t{0}, std::int8_t{32}}) {
    TinyLayer layer(recurrent);
    CHECK(layer.params.input_multipliers[0] == (QuantizedMultiplier{1 << 30, 0}));
    CHECK(layer.params.input_cell_multiplier == (QuantizedMultiplier{1 << 30, -17}));
    CHECK(layer.params.hidden_multiplier == (QuantizedMultiplier{1 << 30, -22}));
    std::vector<std::int8_t> x = {64};
    std::vector<std::int8_t> h = {0};
    std::vector<std::int16_t> c = {0};
    std::vector<std::int32_t> scratch(tsq::lstm_step_scratch_size(1));
    REQUIRE(
        tsq::reference::lstm_step<std::int8_t>(layer.params, layer.weights(), x, h, c, h, scratch)
            .is_ok());
    CHECK(c[0] == 1178);
    CHECK(h[0] == 22);
    REQUIRE(
        tsq::reference::lstm_step<std::int8_t>(layer.params, layer.weights(), x, h, c, h, scratch)
            .is_ok());
    if (recurrent == 32) {
      CHECK(c[0] == 2144);
      CHECK(h[0] == 40);
    }
  }
}

TEST_CASE("LSTM int8: a cell clip below one cell step holds the cell at 0, as TFLite-Micro",
          "[lstm]") {
  // cell_clip = 1e-4 < S_c = 2^-12: TFLite-Micro clamps the cell to +-int16(0.41) = 0 at every
  // step, so h = o * tanh(0) = 0 whatever the input. Its outputs for x = [127, 127]: [0, 0].
  const std::vector<std::int8_t> input_weights(4, 64), recurrent_weights(4, 0);
  const std::vector<float> weight_scales(4, 1.0f / 64);
  tsq::LstmQuantization q;
  q.input = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
  q.hidden = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
  q.cell_scale = 1.0f / 4096;
  q.input_weight_scales = weight_scales;
  q.recurrent_weight_scales = weight_scales;
  q.cell_clip = 1e-4f;
  const tsq::LstmWeightsInt8 weights{
      TensorView<const std::int8_t>(input_weights.data(), Shape{4, 1}),
      TensorView<const std::int8_t>(recurrent_weights.data(), Shape{4, 1}),
      {}};
  std::vector<QuantizedMultiplier> multipliers(tsq::lstm_prepare_storage_size(1));
  std::vector<std::int32_t> biases(tsq::lstm_prepare_storage_size(1));
  for (const auto rounding :
       {tsq::RoundingMode::double_rounding, tsq::RoundingMode::single_rounding}) {
    q.rounding = rounding;
    const auto params = tsq::prepare_lstm(q, weights, multipliers, biases);
    REQUIRE(params.is_ok());
    CHECK(params->clip_cell);
    CHECK(params->quantized_cell_clip == 0);
    const std::vector<std::int8_t> x = {127, 127};
    std::vector<std::int8_t> y(2, 99), h(1, 0);
    std::vector<std::int16_t> c(1, 0);
    std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(2, 1));
    REQUIRE(tsq::reference::lstm<std::int8_t>(
                params.value(), weights, TensorView<const std::int8_t>(x.data(), Shape{1, 2, 1}),
                TensorView<std::int8_t>(y.data(), Shape{1, 2, 1}), h, c, scratch)
                .is_ok());
    CHECK(y == std::vector<std::int8_t>{0, 0});
    CHECK(c[0] == 0);
    // Without a clip the cell grows and so does h: [47, 69], what skipping the clip gave.
    q.cell_clip = 0.0f;
    const auto unclipped = tsq::prepare_lstm(q, weights, multipliers, biases);
    REQUIRE(unclipped.is_ok());
    CHECK_FALSE(unclipped->clip_cell);
    std::fill(h.begin(), h.end(), std::int8_t{0});
    std::fill(c.begin(), c.end(), std::int16_t{0});
    REQUIRE(tsq::reference::lstm<std::int8_t>(
                unclipped.value(), weights, TensorView<const std::int8_t>(x.data(), Shape{1, 2, 1}),
                TensorView<std::int8_t>(y.data(), Shape{1, 2, 1}), h, c, scratch)
                .is_ok());
    CHECK(y == std::vector<std::int8_t>{47, 69});
    q.cell_clip = 1e-4f;
  }
}

TEST_CASE("LSTM int8: saturated gates", "[lstm]") {
  // Pre-activations far beyond +-8 saturate Q3.12 at 32767 / -32768; the gates are then 0 or 1
  // up to the table's last entry, and the cell and hidden state stay finite and bounded.
  TinyLayer layer(0);
  layer.input_weights = {127, -127, 127, 127};  // i -> 1, f -> 0, g -> 1, o -> 1
  layer.scales = {1.0f, 1.0f, 1.0f, 1.0f};
  tsq::LstmQuantization q;
  q.input = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
  q.hidden = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
  q.cell_scale = 1.0f / 4096;
  q.input_weight_scales = layer.scales;
  q.recurrent_weight_scales = layer.scales;
  const auto params =
      tsq::prepare_lstm(q, layer.weights(), layer.multipliers, layer.biases).value();
  std::vector<std::int8_t> x = {127}, h = {0};
  std::vector<std::int16_t> c = {0};
  std::vector<std::int32_t> scratch(8);
  for (int step = 0; step < 20; ++step) {
    REQUIRE(tsq::reference::lstm_step<std::int8_t>(params, layer.weights(), x, h, c, h, scratch)
                .is_ok());
    // f = sigmoid(-8) ~ 0: the cell is refilled with i * g ~ 1 at every step (4096 = 1.0).
    CHECK(c[0] >= 4080);
    CHECK(c[0] <= 4096);
    CHECK(h[0] == 97);  // tanh(1.0) * 128 = 97.5 -> 97 after the table's rounding
  }
  // The opposite sign: f -> 1, i -> 0: the cell keeps its value.
  std::vector<std::int8_t> negative = {-128};
  const std::int16_t kept = c[0];
  REQUIRE(
      tsq::reference::lstm_step<std::int8_t>(params, layer.weights(), negative, h, c, h, scratch)
          .is_ok());
  CHECK(std::abs(c[0] - kept) <= 2);
}

TEST_CASE("LSTM int8 vs float on random layers, both rounding modes", "[lstm]") {
  // Bound: calibrated int8 input and hidden, per-row int8 weights. Each step adds at most half an
  // output step of rounding (S_h/2), the table errors (~1.5e-4 in gates and tanh) and the
  // weight-rounding error; with weights in [-0.3, 0.3] and H <= 16 the recurrence is contractive,
  // so errors do not compound. Measured max |error| over 12 layers: 0.68 .. 1.09 S_h; the test
  // asserts 2 S_h.
  tsq_test::Rng rng(2024);
  for (int trial = 0; trial < 12; ++trial) {
    const std::int32_t input_size = 1 + static_cast<std::int32_t>(rng() % 12);
    const std::int32_t hidden_size = 1 + static_cast<std::int32_t>(rng() % 16);
    const std::int32_t steps = 20 + static_cast<std::int32_t>(rng() % 30);
    const std::int32_t batches = 1 + static_cast<std::int32_t>(rng() % 2);
    const RandomLstm l = random_lstm(rng, input_size, hidden_size, 0.3f);
    const std::vector<float> x = tsq_test::random_floats(
        rng, static_cast<std::size_t>(batches * steps * input_size), -2.0f, 2.0f);
    tsq::LstmRangeObserver ranges;
    run_float(l, x, batches, steps, &ranges);  // calibration
    tsq::LstmQuantizerOptions options;
    options.rounding =
        trial % 2 == 0 ? tsq::RoundingMode::double_rounding : tsq::RoundingMode::single_rounding;
    options.per_row_weight_scales = trial % 3 != 0;
    options.int16_state = (trial / 2) % 2 == 0;
    const auto quantized = tsq::quantize_lstm(l.weights(), ranges, options);
    REQUIRE(quantized.is_ok());
    const tsq::QuantizedLstm<>& q = quantized.value();
    std::vector<std::int8_t> xq(x.size());
    REQUIRE(tsq::quantize<std::int8_t>(x, xq, q.input).is_ok());
    // The float layer reads the same (dequantized) input, as the study's debugger does.
    const std::vector<float> x_dequantized = tsq_test::dequantize_all(xq, q.input);
    const std::vector<float> reference = run_float(l, x_dequantized, batches, steps);
    const std::vector<std::int8_t> got = run_int8(q, xq, batches, steps);
    float worst = 0.0f;
    for (std::size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, std::fabs(tsq::dequantize(got[i], q.hidden) - reference[i]));
    }
    INFO("trial " << trial << " I " << input_size << " H " << hidden_size << " int16 state "
                  << q.int16_state << " worst " << worst / q.hidden.scale << " S_h");
    CHECK(worst <= 2.0f * q.hidden.scale);
  }
}

TEST_CASE("LSTM int8: 250 steps without drift", "[lstm]") {
  // The study's small LSTM: input 64, hidden 16, 250 steps. The error must not grow with time:
  // the worst error of the last 50 steps stays within the bound of the first 50 (2 S_h; measured
  // 1.27 and 1.31 S_h, rmse/scale 0.33 over all 250 steps).
  tsq_test::Rng rng(250);
  const std::int32_t input_size = 64, hidden_size = 16, steps = 250;
  const RandomLstm l = random_lstm(rng, input_size, hidden_size, 0.15f);
  std::vector<float> x(static_cast<std::size_t>(steps * input_size));
  for (std::int32_t t = 0; t < steps; ++t) {
    for (std::int32_t k = 0; k < input_size; ++k) {
      x[static_cast<std::size_t>(t * input_size + k)] =
          std::sin(0.07f * static_cast<float>(t) * static_cast<float>(1 + k % 5) +
                   static_cast<float>(k)) +
          0.2f * std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
    }
  }
  tsq::LstmRangeObserver ranges;
  run_float(l, x, 1, steps, &ranges);
  const auto q = tsq::quantize_lstm(l.weights(), ranges).value();
  std::vector<std::int8_t> xq(x.size());
  REQUIRE(tsq::quantize<std::int8_t>(x, xq, q.input).is_ok());
  const std::vector<float> reference =
      run_float(l, tsq_test::dequantize_all(xq, q.input), 1, steps);
  const std::vector<std::int8_t> got = run_int8(q, xq, 1, steps);
  float first = 0.0f, last = 0.0f;
  double squared = 0.0;
  for (std::int32_t t = 0; t < steps; ++t) {
    for (std::int32_t j = 0; j < hidden_size; ++j) {
      const auto i = static_cast<std::size_t>(t * hidden_size + j);
      const float error = std::fabs(tsq::dequantize(got[i], q.hidden) - reference[i]);
      squared += static_cast<double>(error) * error;
      if (t < 50) first = std::max(first, error);
      if (t >= steps - 50) last = std::max(last, error);
    }
  }
  const double rmse_over_scale =
      std::sqrt(squared / static_cast<double>(got.size())) / q.hidden.scale;
  INFO("first 50 steps " << first / q.hidden.scale << " S_h, last 50 " << last / q.hidden.scale
                         << " S_h, rmse/scale " << rmse_over_scale);
  CHECK(first <= 2.0f * q.hidden.scale);
  CHECK(last <= 2.0f * q.hidden.scale);
  CHECK(rmse_over_scale <= 0.45);
}

TEST_CASE("LSTM: streaming steps equal the whole window bit for bit", "[lstm]") {
  tsq_test::Rng rng(5);
  const std::int32_t input_size = 7, hidden_size = 9, steps = 40, batches = 2;
  const RandomLstm l = random_lstm(rng, input_size, hidden_size, 0.4f);
  const std::vector<float> x = tsq_test::random_floats(
      rng, static_cast<std::size_t>(batches * steps * input_size), -1.0f, 1.0f);
  tsq::LstmRangeObserver ranges;
  run_float(l, x, batches, steps, &ranges);
  for (int variant = 0; variant < 4; ++variant) {
    tsq::LstmQuantizerOptions options;
    options.rounding =
        variant % 2 == 0 ? tsq::RoundingMode::double_rounding : tsq::RoundingMode::single_rounding;
    options.int16_state = variant >= 2;
    options.cell_clip = 3.0f;
    const auto q = tsq::quantize_lstm(l.weights(), ranges, options).value();
    std::vector<std::int8_t> xq(x.size());
    REQUIRE(tsq::quantize<std::int8_t>(x, xq, q.input).is_ok());
    const std::vector<std::int8_t> window = run_int8(q, xq, batches, steps);
    if (q.int16_state) {
      check_streaming<std::int16_t>(q, xq, window, batches, steps);
    } else {
      check_streaming<std::int8_t>(q, xq, window, batches, steps);
    }
    // The float LSTM streams the same way.
    std::vector<float> h(static_cast<std::size_t>(hidden_size)), c(h.size()),
        fscratch(tsq::floating::lstm_scratch_size(hidden_size));
    const std::vector<float> whole = run_float(l, x, batches, steps);
    for (std::int32_t t = 0; t < steps; ++t) {
      REQUIRE(tsq::floating::lstm_step(l.weights(),
                                       tsq::Span<const float>(x.data() + t * input_size,
                                                              static_cast<std::size_t>(input_size)),
                                       h, c, fscratch)
                  .is_ok());
    }
    for (std::int32_t j = 0; j < hidden_size; ++j)
      CHECK(h[static_cast<std::size_t>(j)] ==
            whole[static_cast<std::size_t>((steps - 1) * hidden_size + j)]);
  }
}

TEST_CASE("LSTM int16 (16x8) vs float", "[lstm]") {
  // int16 input and hidden state: the output step S_h is 2^-15-ish, so the error is dominated by
  // the int16 gate tables (~1.5e-4 per gate) and the int8 weights, not by the hidden rounding.
  tsq_test::Rng rng(16);
  const std::int32_t input_size = 6, hidden_size = 8, steps = 30;
  const RandomLstm l = random_lstm(rng, input_size, hidden_size, 0.3f);
  const std::vector<float> x =
      tsq_test::random_floats(rng, static_cast<std::size_t>(steps * input_size), -1.0f, 1.0f);
  tsq::LstmRangeObserver ranges;
  run_float(l, x, 1, steps, &ranges);
  tsq::LstmQuantizerOptions options;
  options.activation_type = DataType::int16;
  const auto quantized = tsq::quantize_lstm(l.weights(), ranges, options);
  REQUIRE(quantized.is_ok());
  const tsq::QuantizedLstm<>& q = quantized.value();
  CHECK(q.hidden.type == DataType::int16);
  std::vector<std::int16_t> xq(x.size());
  REQUIRE(tsq::quantize<std::int16_t>(x, xq, q.input).is_ok());
  const std::vector<float> reference =
      run_float(l, tsq_test::dequantize_all(xq, q.input), 1, steps);
  std::vector<std::int16_t> out(static_cast<std::size_t>(steps * hidden_size)),
      h(static_cast<std::size_t>(hidden_size), 0);
  std::vector<std::int16_t> c(h.size(), 0);
  std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(steps, hidden_size));
  REQUIRE(tsq::reference::lstm<std::int16_t>(
              q.params, q.weights(),
              TensorView<const std::int16_t>(xq.data(), Shape{1, steps, input_size}),
              TensorView<std::int16_t>(out.data(), Shape{1, steps, hidden_size}), h, c, scratch)
              .is_ok());
  float worst = 0.0f;
  for (std::size_t i = 0; i < out.size(); ++i)
    worst = std::max(worst, std::fabs(tsq::dequantize(out[i], q.hidden) - reference[i]));
  INFO("worst " << worst);
  CHECK(worst <= 3e-3f);  // measured 1.4e-3; one int8 step of a [-1, 1] hidden state is 7.8e-3
}

TEST_CASE("Bidirectional LSTM: forward and reversed halves, float and int8", "[lstm]") {
  tsq_test::Rng rng(8);
  const std::int32_t input_size = 5, hidden_size = 4, steps = 12, batches = 2;
  const RandomLstm forward = random_lstm(rng, input_size, hidden_size, 0.4f);
  const RandomLstm backward = random_lstm(rng, input_size, hidden_size, 0.4f);
  const std::vector<float> x = tsq_test::random_floats(
      rng, static_cast<std::size_t>(batches * steps * input_size), -1.0f, 1.0f);
  const TensorView<const float> input(x.data(), Shape{batches, steps, input_size});
  std::vector<float> scratch(tsq::floating::lstm_scratch_size(hidden_size));
  // Float: the concatenated output equals the two directions run separately.
  std::vector<float> both(static_cast<std::size_t>(batches * steps * 2 * hidden_size));
  std::vector<float> h(static_cast<std::size_t>(2 * batches * hidden_size)), c(h.size());
  REQUIRE(tsq::floating::bidirectional_lstm(
              forward.weights(), backward.weights(), input,
              TensorView<float>(both.data(), Shape{batches, steps, 2 * hidden_size}), h, c, scratch)
              .is_ok());
  const std::vector<float> f_only = run_float(forward, x, batches, steps);
  std::vector<float> b_only(f_only.size()), hb(static_cast<std::size_t>(batches * hidden_size)),
      cb(hb.size());
  REQUIRE(tsq::floating::lstm(backward.weights(), input,
                              TensorView<float>(b_only.data(), Shape{batches, steps, hidden_size}),
                              hb, cb, scratch, true)
              .is_ok());
  for (std::int32_t b = 0; b < batches; ++b) {
    for (std::int32_t t = 0; t < steps; ++t) {
      for (std::int32_t j = 0; j < hidden_size; ++j) {
        const auto single = static_cast<std::size_t>((b * steps + t) * hidden_size + j);
        const auto pair = static_cast<std::size_t>((b * steps + t) * 2 * hidden_size + j);
        REQUIRE(both[pair] == f_only[single]);
        REQUIRE(both[pair + static_cast<std::size_t>(hidden_size)] == b_only[single]);
      }
    }
  }
  // Last-step output: [forward at T-1 | backward after reading t = 0].
  std::vector<float> last(static_cast<std::size_t>(batches * 2 * hidden_size));
  std::fill(h.begin(), h.end(), 0.0f);
  std::fill(c.begin(), c.end(), 0.0f);
  REQUIRE(tsq::floating::bidirectional_lstm(
              forward.weights(), backward.weights(), input,
              TensorView<float>(last.data(), Shape{batches, 2 * hidden_size}), h, c, scratch)
              .is_ok());
  CHECK(last[0] == f_only[static_cast<std::size_t>((steps - 1) * hidden_size)]);
  CHECK(last[static_cast<std::size_t>(hidden_size)] == b_only[0]);

  // Integer: both directions quantized with one shared hidden quantization (union of ranges).
  tsq::LstmRangeObserver ranges_f, ranges_b;
  run_float(forward, x, batches, steps, &ranges_f);
  std::vector<float> unused(b_only.size());
  std::fill(hb.begin(), hb.end(), 0.0f);
  std::fill(cb.begin(), cb.end(), 0.0f);
  REQUIRE(tsq::floating::lstm(backward.weights(), input,
                              TensorView<float>(unused.data(), Shape{batches, steps, hidden_size}),
                              hb, cb, scratch, true, &ranges_b)
              .is_ok());
  for (auto* r : {&ranges_f, &ranges_b}) {
    r->hidden.observe(std::min(ranges_f.hidden.min, ranges_b.hidden.min));
    r->hidden.observe(std::max(ranges_f.hidden.max, ranges_b.hidden.max));
    r->input.observe(std::min(ranges_f.input.min, ranges_b.input.min));
    r->input.observe(std::max(ranges_f.input.max, ranges_b.input.max));
  }
  const auto qf = tsq::quantize_lstm(forward.weights(), ranges_f).value();
  const auto qb = tsq::quantize_lstm(backward.weights(), ranges_b).value();
  std::vector<std::int8_t> xq(x.size());
  REQUIRE(tsq::quantize<std::int8_t>(x, xq, qf.input).is_ok());
  std::vector<std::int8_t> out(both.size());
  REQUIRE(qf.int16_state);  // tsq's default: the state is int16, starting at 0
  std::vector<std::int16_t> hq(h.size(), 0);
  std::vector<std::int16_t> cq(h.size(), 0);
  std::vector<std::int32_t> iscratch(tsq::lstm_scratch_size(steps, hidden_size));
  const TensorView<const std::int8_t> qinput(xq.data(), Shape{batches, steps, input_size});
  REQUIRE(tsq::reference::bidirectional_lstm<std::int8_t, std::int16_t>(
              qf.params, qf.weights(), qb.params, qb.weights(), qinput,
              TensorView<std::int8_t>(out.data(), Shape{batches, steps, 2 * hidden_size}), hq, cq,
              iscratch)
              .is_ok());
  const std::vector<std::int8_t> fq = run_int8(qf, xq, batches, steps);
  const std::vector<std::int8_t> bq = run_int8(qb, xq, batches, steps, true);
  for (std::size_t i = 0; i < fq.size(); ++i) {
    const std::size_t row = i / static_cast<std::size_t>(hidden_size),
                      j = i % static_cast<std::size_t>(hidden_size);
    REQUIRE(out[row * 2 * static_cast<std::size_t>(hidden_size) + j] == fq[i]);
    REQUIRE(out[row * 2 * static_cast<std::size_t>(hidden_size) +
                static_cast<std::size_t>(hidden_size) + j] == bq[i]);
  }
  // Directions with different hidden quantization cannot be concatenated.
  tsq::LstmRangeObserver narrow = ranges_b;
  narrow.hidden = tsq::RangeObserver{};
  narrow.hidden.observe(-0.1f);
  narrow.hidden.observe(0.1f);
  const auto other = tsq::quantize_lstm(backward.weights(), narrow).value();
  CHECK(tsq::reference::bidirectional_lstm<std::int8_t, std::int16_t>(
            qf.params, qf.weights(), other.params, other.weights(), qinput,
            TensorView<std::int8_t>(out.data(), Shape{batches, steps, 2 * hidden_size}), hq, cq,
            iscratch)
            .code() == ErrorCode::invalid_argument);
}

TEST_CASE("LSTM hybrid (DRQ) vs float", "[lstm][hybrid]") {
  // Per step, x and h are quantized to int8 from their own ranges (error <= S/2 each) and the
  // weights are per-row int8; the rest is float. Measured max |error| 4.8e-3 over 50 steps.
  tsq_test::Rng rng(31);
  const std::int32_t input_size = 10, hidden_size = 12, steps = 50;
  const RandomLstm l = random_lstm(rng, input_size, hidden_size, 0.3f);
  const std::vector<float> x =
      tsq_test::random_floats(rng, static_cast<std::size_t>(steps * input_size), -2.0f, 2.0f);
  const std::vector<float> reference = run_float(l, x, 1, steps);
  tsq::LstmRangeObserver ranges;
  run_float(l, x, 1, steps, &ranges);
  const auto q = tsq::quantize_lstm(l.weights(), ranges).value();
  std::vector<std::int32_t> row_sums(8 * static_cast<std::size_t>(hidden_size));
  const tsq::hybrid::LstmWeights weights{
      TensorView<const std::int8_t>(q.input_weights.data(), Shape{4 * hidden_size, input_size}),
      TensorView<const std::int8_t>(q.recurrent_weights.data(),
                                    Shape{4 * hidden_size, hidden_size}),
      q.input_weight_scales, q.recurrent_weight_scales, l.bias};
  const auto params = tsq::hybrid::prepare_lstm(weights, row_sums);
  REQUIRE(params.is_ok());
  std::vector<float> gates(tsq::hybrid::lstm_gate_scratch_size(hidden_size));
  std::vector<std::int8_t> quantized(
      tsq::hybrid::lstm_quantized_scratch_size(input_size, hidden_size));
  std::vector<float> out(reference.size()), h(static_cast<std::size_t>(hidden_size)), c(h.size());
  REQUIRE(tsq::hybrid::lstm(params.value(), weights,
                            TensorView<const float>(x.data(), Shape{1, steps, input_size}),
                            TensorView<float>(out.data(), Shape{1, steps, hidden_size}), h, c,
                            {gates, quantized})
              .is_ok());
  float worst = 0.0f;
  for (std::size_t i = 0; i < out.size(); ++i)
    worst = std::max(worst, std::fabs(out[i] - reference[i]));
  INFO("worst " << worst);
  CHECK(worst <= 0.01f);
  std::vector<float> tiny(1);
  CHECK(tsq::hybrid::lstm(
            params.value(), weights, TensorView<const float>(x.data(), Shape{1, steps, input_size}),
            TensorView<float>(out.data(), Shape{1, steps, hidden_size}), h, c, {tiny, quantized})
            .code() == ErrorCode::buffer_too_small);
}

TEST_CASE("LSTM validation errors", "[lstm]") {
  TinyLayer layer(0);
  tsq::LstmQuantization q;
  q.input = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
  q.hidden = tsq::make_quant_params(1.0f / 128, 0, DataType::int8);
  q.cell_scale = 1.0f / 4096;
  q.input_weight_scales = layer.scales;
  q.recurrent_weight_scales = layer.scales;
  REQUIRE(tsq::prepare_lstm(q, layer.weights(), layer.multipliers, layer.biases).is_ok());
  auto bad = q;
  bad.cell_scale = 0.0003f;  // not a power of two
  CHECK(tsq::prepare_lstm(bad, layer.weights(), layer.multipliers, layer.biases).status().code() ==
        ErrorCode::invalid_scale);
  bad = q;
  bad.cell_scale = std::ldexp(1.0f, -50);
  CHECK(tsq::prepare_lstm(bad, layer.weights(), layer.multipliers, layer.biases).status().code() ==
        ErrorCode::shift_out_of_range);
  bad = q;
  bad.hidden = tsq::make_quant_params(1.0f / 128, 0, DataType::int16);
  CHECK(tsq::prepare_lstm(bad, layer.weights(), layer.multipliers, layer.biases).status().code() ==
        ErrorCode::unsupported_type);
  bad = q;
  const std::vector<float> three = {0.1f, 0.1f, 0.1f};
  bad.input_weight_scales = three;
  CHECK(tsq::prepare_lstm(bad, layer.weights(), layer.multipliers, layer.biases).status().code() ==
        ErrorCode::shape_mismatch);
  bad = q;
  const std::vector<float> negative = {0.1f, 0.1f, -0.1f, 0.1f};
  bad.recurrent_weight_scales = negative;
  CHECK(tsq::prepare_lstm(bad, layer.weights(), layer.multipliers, layer.biases).status().code() ==
        ErrorCode::invalid_scale);
  bad = q;
  bad.input.scale = INFINITY;
  CHECK(tsq::prepare_lstm(bad, layer.weights(), layer.multipliers, layer.biases).status().code() ==
        ErrorCode::invalid_scale);
  bad = q;
  bad.cell_clip = -1.0f;
  CHECK(tsq::prepare_lstm(bad, layer.weights(), layer.multipliers, layer.biases).status().code() ==
        ErrorCode::invalid_argument);
  std::vector<QuantizedMultiplier> few(4);
  CHECK(tsq::prepare_lstm(q, layer.weights(), few, layer.biases).status().code() ==
        ErrorCode::buffer_too_small);
  auto weights = layer.weights();
  weights.recurrent_weights =
      TensorView<const std::int8_t>(layer.recurrent_weights.data(), Shape{2, 2});
  CHECK(tsq::prepare_lstm(q, weights, layer.multipliers, layer.biases).status().code() ==
        ErrorCode::shape_mismatch);
  const std::vector<std::int32_t> short_bias(3);
  weights = layer.weights();
  weights.bias = short_bias;
  CHECK(tsq::prepare_lstm(q, weights, layer.multipliers, layer.biases).status().code() ==
        ErrorCode::shape_mismatch);

  // Eval: wrong sizes, scratch too small.
  std::vector<std::int8_t> x = {1, 2}, h = {0};
  std::vector<std::int16_t> c = {0};
  std::vector<std::int32_t> scratch(8), small(7);
  CHECK(tsq::reference::lstm_step<std::int8_t>(layer.params, layer.weights(), x, h, c, h, scratch)
            .code() == ErrorCode::shape_mismatch);
  x.resize(1);
  CHECK(tsq::reference::lstm_step<std::int8_t>(layer.params, layer.weights(), x, h, c, h, small)
            .code() == ErrorCode::buffer_too_small);
  std::vector<std::int8_t> out(3);
  CHECK(tsq::reference::lstm<std::int8_t>(
            layer.params, layer.weights(), TensorView<const std::int8_t>(x.data(), Shape{1, 1, 1}),
            TensorView<std::int8_t>(out.data(), Shape{1, 3}), h, c, scratch)
            .code() == ErrorCode::shape_mismatch);
  // Calibration that saw NaN, or nothing.
  tsq::LstmRangeObserver empty;
  const RandomLstm l{1, 1, std::vector<float>(4, 0.1f), std::vector<float>(4, 0.1f), {}};
  CHECK(tsq::quantize_lstm(l.weights(), empty).status().code() == ErrorCode::invalid_argument);
  tsq::LstmRangeObserver with_nan;
  with_nan.input.observe(std::nanf(""));
  with_nan.hidden.observe(0.5f);
  with_nan.cell.observe(0.5f);
  CHECK(tsq::quantize_lstm(l.weights(), with_nan).status().code() == ErrorCode::non_finite_value);
}
