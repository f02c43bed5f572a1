// SPDX-License-Identifier: Apache-2.0
// FullyConnected: hand-computed integers, TFLite's multiplier rules, integer vs float on random
// layers, int16, hybrid, the accumulator limit and every validation error.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::FusedActivation;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;

namespace {

struct Int8Layer {
  std::vector<std::int8_t> input, weights, output;
  std::vector<std::int32_t> bias;
  std::vector<float> weight_scales;
  std::vector<QuantizedMultiplier> multipliers;
  tsq::FullyConnectedQuantization quantization;
};

tsq::Result<tsq::FullyConnectedParams> prepare(Int8Layer& layer) {
  layer.quantization.weight_scales = layer.weight_scales;
  layer.multipliers.resize(layer.weight_scales.size());
  return tsq::prepare_fully_connected(layer.quantization, layer.multipliers);
}

tsq::Status run(const tsq::FullyConnectedParams& params, Int8Layer& layer, std::int32_t batches,
                std::int32_t depth, std::int32_t units) {
  layer.output.assign(static_cast<std::size_t>(batches * units), 0);
  return tsq::reference::fully_connected(
      params, TensorView<const std::int8_t>(layer.input.data(), Shape{batches, depth}),
      TensorView<const std::int8_t>(layer.weights.data(), Shape{units, depth}), layer.bias,
      TensorView<std::int8_t>(layer.output.data(), Shape{batches, units}));
}

}  // namespace

TEST_CASE("FullyConnected int8: hand-computed outputs in both rounding modes",
          "[kernels][fully_connected]") {
  // x - Z_in = {10, -20, 30} - 5 = {5, -25, 25}
  // unit 0: 100 + 1*5 + 2*(-25) + 3*25        =  130; * (0.5*0.25/1.0)  =  16.25  -> 16
  // unit 1:  31 - 4*5 + 5*(-25) - 6*25         = -264; * (0.5*0.125/1.0) = -16.5  -> tie:
  //         double rounding (ties away from zero at the shift) -17, single rounding (ties up) -16
  // then + Z_out = -3.
  Int8Layer layer;
  layer.input = {10, -20, 30};
  layer.weights = {1, 2, 3, -4, 5, -6};
  layer.bias = {100, 31};
  layer.weight_scales = {0.25f, 0.125f};
  layer.quantization.input_shape = Shape{1, 3};
  layer.quantization.input = tsq::make_quant_params(0.5f, 5, DataType::int8);
  layer.quantization.weights_shape = Shape{2, 3};
  layer.quantization.output = tsq::make_quant_params(1.0f, -3, DataType::int8);

  layer.quantization.rounding = RoundingMode::double_rounding;
  auto params = prepare(layer);
  REQUIRE(params.is_ok());
  CHECK(params->multipliers[0] == (QuantizedMultiplier{1 << 30, -2}));
  REQUIRE(run(params.value(), layer, 1, 3, 2).is_ok());
  CHECK(layer.output == std::vector<std::int8_t>{13, -20});

  layer.quantization.rounding = RoundingMode::single_rounding;
  params = prepare(layer);
  REQUIRE(run(params.value(), layer, 1, 3, 2).is_ok());
  CHECK(layer.output == std::vector<std::int8_t>{13, -19});

  // Fused ReLU clamps at Z_out; ReLU6 also at Z_out + round(6 / S_out) = 3.
  layer.quantization.activation = FusedActivation::relu;
  params = prepare(layer);
  REQUIRE(run(params.value(), layer, 1, 3, 2).is_ok());
  CHECK(layer.output == std::vector<std::int8_t>{13, -3});
  layer.quantization.activation = FusedActivation::relu6;
  params = prepare(layer);
  REQUIRE(run(params.value(), layer, 1, 3, 2).is_ok());
  CHECK(layer.output == std::vector<std::int8_t>{3, -3});

  // Without bias: unit 0 = 30 * 0.125 = 3.75 -> 4, + Z_out.
  layer.quantization.activation = FusedActivation::none;
  params = prepare(layer);
  layer.bias.clear();
  REQUIRE(run(params.value(), layer, 1, 3, 2).is_ok());
  CHECK(layer.output[0] == 1);
}

TEST_CASE("FullyConnected prepare: TFLite's per-tensor float32 product rule",
          "[kernels][fully_connected]") {
  // Spec 3.2: per-tensor weights form float32(S_in * S_w) before dividing by S_out in double;
  // per-channel weights use the all-double product. The two give different mantissas here.
  tsq::FullyConnectedQuantization q;
  q.input_shape = Shape{1, 4};
  q.input = tsq::make_quant_params(0.0555289872f, 0, DataType::int8);
  q.weights_shape = Shape{2, 4};
  q.output = tsq::make_quant_params(0.071106635f, 0, DataType::int8);
  std::vector<QuantizedMultiplier> storage(2);
  const std::vector<float> per_tensor = {0.000400088175f};
  q.weight_scales = per_tensor;
  CHECK(tsq::prepare_fully_connected(q, storage)->multipliers[0] ==
        (QuantizedMultiplier{1374121556, -11}));
  const std::vector<float> per_channel = {0.000400088175f, 0.000400088175f};
  q.weight_scales = per_channel;
  CHECK(tsq::prepare_fully_connected(q, storage)->multipliers[1] ==
        (QuantizedMultiplier{1374121574, -11}));
}

TEST_CASE("FullyConnected int8 vs float on random layers", "[kernels][fully_connected]") {
  // Bound: the float kernel runs on the dequantized input and weights and the real bias, so the
  // only differences are (a) the bias rounding, |e| <= S_in*S_w/2, (b) the requantization,
  // <= S_out/2 (single) or S_out (double rounding), (c) float32 summation, and (d) the output
  // clamp, which the comparison applies to the float result too. Bound = S_out + S_in*S_w/2 +
  // 1e-5 * sum|terms|.
  tsq_test::Rng rng(42);
  int cases = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const std::int32_t batches = 1 + static_cast<std::int32_t>(rng() % 4);
    const std::int32_t depth = 1 + static_cast<std::int32_t>(rng() % 70);
    const std::int32_t units = 1 + static_cast<std::int32_t>(rng() % 20);
    const bool per_channel = trial % 2 == 0;
    const RoundingMode rounding =
        trial % 4 < 2 ? RoundingMode::double_rounding : RoundingMode::single_rounding;
    const FusedActivation activation = static_cast<FusedActivation>(trial % 3);

    Int8Layer layer;
    layer.input = tsq_test::random_integers<std::int8_t>(
        rng, static_cast<std::size_t>(batches * depth), -128, 127);
    layer.weights = tsq_test::random_integers<std::int8_t>(
        rng, static_cast<std::size_t>(units * depth), -127, 127);
    const QuantParams input = tsq_test::random_int8_params(rng);
    layer.weight_scales = tsq_test::random_floats(
        rng, per_channel ? static_cast<std::size_t>(units) : 1, 1e-3f, 2e-2f);
    // An output scale that makes typical outputs span the int8 range.
    const float typical =
        input.scale * layer.weight_scales[0] * 64.0f * std::sqrt(static_cast<float>(depth));
    const QuantParams output = tsq::make_quant_params(
        typical / 64.0f, static_cast<std::int32_t>(rng() % 100) - 50, DataType::int8);
    std::vector<float> real_bias =
        tsq_test::random_floats(rng, static_cast<std::size_t>(units), -typical, typical);
    layer.bias.resize(static_cast<std::size_t>(units));
    REQUIRE(tsq::quantize_bias(real_bias, input.scale, layer.weight_scales, layer.bias).is_ok());
    layer.quantization = {
        Shape{batches, depth}, input, Shape{units, depth}, {}, output, activation, rounding};
    const auto params = prepare(layer);
    REQUIRE(params.is_ok());
    REQUIRE(run(params.value(), layer, batches, depth, units).is_ok());

    const std::vector<float> x = tsq_test::dequantize_all(layer.input, input);
    const std::vector<float> w = tsq_test::dequantize_rows(layer.weights, layer.weight_scales,
                                                           static_cast<std::size_t>(depth));
    std::vector<float> y(static_cast<std::size_t>(batches * units));
    REQUIRE(tsq::floating::fully_connected(
                activation, TensorView<const float>(x.data(), Shape{batches, depth}),
                TensorView<const float>(w.data(), Shape{units, depth}), real_bias,
                TensorView<float>(y.data(), Shape{batches, units}))
                .is_ok());
    const float lo = tsq::dequantize(params->activation.min, output);
    const float hi = tsq::dequantize(params->activation.max, output);
    for (std::int32_t b = 0; b < batches; ++b) {
      for (std::int32_t u = 0; u < units; ++u) {
        const std::size_t i = static_cast<std::size_t>(b * units + u);
        const float weight_scale =
            layer.weight_scales[per_channel ? static_cast<std::size_t>(u) : 0];
        float magnitude = 0.0f;
        for (std::int32_t d = 0; d < depth; ++d) {
          magnitude += std::fabs(w[static_cast<std::size_t>(u * depth + d)] *
                                 x[static_cast<std::size_t>(b * depth + d)]);
        }
        const float bound = output.scale + input.scale * weight_scale / 2 + 1e-5f * magnitude;
        const float expected = std::min(std::max(y[i], lo), hi);
        INFO("trial " << trial << " b " << b << " u " << u);
        REQUIRE(std::fabs(tsq::dequantize(layer.output[i], output) - expected) <= bound);
        ++cases;
      }
    }
  }
  CHECK(cases > 1000);
}

TEST_CASE("FullyConnected int16 x int8 -> int16 vs float", "[kernels][fully_connected]") {
  // Bound: as for int8, with the 16-bit multiplier of spec 2.5 (relative error 2^-15 of the
  // result) added: S_out * (1 + |y|/S_out * 2^-15) + S_in*S_w/2 + float summation.
  tsq_test::Rng rng(16);
  for (int trial = 0; trial < 100; ++trial) {
    const std::int32_t batches = 1 + static_cast<std::int32_t>(rng() % 3);
    const std::int32_t depth = 1 + static_cast<std::int32_t>(rng() % 60);
    const std::int32_t units = 1 + static_cast<std::int32_t>(rng() % 12);
    const auto input_q = tsq_test::random_integers<std::int16_t>(
        rng, static_cast<std::size_t>(batches * depth), -32768, 32767);
    const auto weights_q = tsq_test::random_integers<std::int8_t>(
        rng, static_cast<std::size_t>(units * depth), -127, 127);
    const QuantParams input = tsq_test::random_int16_params(rng);
    const std::vector<float> weight_scales =
        tsq_test::random_floats(rng, static_cast<std::size_t>(units), 1e-3f, 1e-2f);
    const float typical =
        input.scale * weight_scales[0] * 16384.0f * std::sqrt(static_cast<float>(depth));
    const QuantParams output = tsq::make_quant_params(typical / 16384.0f, 0, DataType::int16);
    const std::vector<float> real_bias =
        tsq_test::random_floats(rng, static_cast<std::size_t>(units), -typical, typical);
    std::vector<std::int64_t> bias(static_cast<std::size_t>(units));
    for (std::size_t u = 0; u < bias.size(); ++u) {
      bias[u] = std::llround(static_cast<double>(real_bias[u]) /
                             (static_cast<double>(input.scale) * weight_scales[u]));
    }
    std::vector<QuantizedMultiplier> multipliers(static_cast<std::size_t>(units));
    const tsq::FullyConnectedQuantization q{Shape{batches, depth},
                                            input,
                                            Shape{units, depth},
                                            weight_scales,
                                            output,
                                            FusedActivation::none,
                                            RoundingMode::double_rounding};
    const auto params = tsq::prepare_fully_connected(q, multipliers);
    REQUIRE(params.is_ok());
    std::vector<std::int16_t> out(static_cast<std::size_t>(batches * units));
    REQUIRE(tsq::reference::fully_connected(
                params.value(),
                TensorView<const std::int16_t>(input_q.data(), Shape{batches, depth}),
                TensorView<const std::int8_t>(weights_q.data(), Shape{units, depth}), bias,
                TensorView<std::int16_t>(out.data(), Shape{batches, units}))
                .is_ok());
    const std::vector<float> x = tsq_test::dequantize_all(input_q, input);
    const std::vector<float> w =
        tsq_test::dequantize_rows(weights_q, weight_scales, static_cast<std::size_t>(depth));
    std::vector<float> y(out.size());
    REQUIRE(tsq::floating::fully_connected(
                FusedActivation::none, TensorView<const float>(x.data(), Shape{batches, depth}),
                TensorView<const float>(w.data(), Shape{units, depth}), real_bias,
                TensorView<float>(y.data(), Shape{batches, units}))
                .is_ok());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const float expected =
          std::min(std::max(y[i], -32768.0f * output.scale), 32767.0f * output.scale);
      const std::size_t u = i % static_cast<std::size_t>(units);
      const float bound = output.scale * (1.0f + std::fabs(expected) / output.scale * 3.1e-5f) +
                          input.scale * weight_scales[u] / 2 + 1e-5f * std::fabs(y[i]) +
                          1e-3f * output.scale * depth;
      REQUIRE(std::fabs(tsq::dequantize(out[i], output) - expected) <= bound);
    }
  }
}

TEST_CASE("FullyConnected int8: the largest supported depth at worst-case values",
          "[kernels][fully_connected]") {
  // depth 65536 with every product at its extreme, 127 * 255 (x = 127, Z_in = -128) or
  // (-128) * (-255) (imported weights may hold -128): the accumulator reaches 2,139,095,040,
  // just below 2^31. The multiplier 2^-25 brings it back into int8.
  const std::int32_t depth = tsq::kMaxAccumulationDepth;
  for (const std::int8_t weight : {std::int8_t{127}, std::int8_t{-128}}) {
    const std::int8_t x = weight > 0 ? 127 : -128;
    const std::int32_t zero_point = weight > 0 ? -128 : 127;
    std::vector<std::int8_t> input(static_cast<std::size_t>(depth), x);
    std::vector<std::int8_t> weights(static_cast<std::size_t>(depth), weight);
    const std::vector<float> weight_scales = {1.0f / 1024.0f};
    const tsq::FullyConnectedQuantization q{
        Shape{1, depth}, tsq::make_quant_params(1.0f / 1024.0f, zero_point, DataType::int8),
        Shape{1, depth}, weight_scales, tsq::make_quant_params(32.0f, 0, DataType::int8)};
    std::vector<QuantizedMultiplier> multipliers(1);
    const auto params = tsq::prepare_fully_connected(q, multipliers);
    REQUIRE(params.is_ok());
    CHECK(params->multipliers[0] == (QuantizedMultiplier{1 << 30, -24}));
    std::int8_t out = 0;
    REQUIRE(tsq::reference::fully_connected(
                params.value(), TensorView<const std::int8_t>(input.data(), Shape{1, depth}),
                TensorView<const std::int8_t>(weights.data(), Shape{1, depth}), {},
                TensorView<std::int8_t>(&out, Shape{1, 1}))
                .is_ok());
    const std::int64_t exact = static_cast<std::int64_t>(depth) * weight * (x - zero_point);
    CHECK(exact == (weight > 0 ? 2122383360 : 2139095040));
    CHECK(out == static_cast<std::int8_t>(std::llround(static_cast<double>(exact) / 33554432.0)));
  }
  // One more input and prepare refuses.
  const std::vector<float> one_scale = {0.01f};
  std::vector<QuantizedMultiplier> multipliers(1);
  const tsq::FullyConnectedQuantization too_deep{
      Shape{1, depth + 1}, tsq::make_quant_params(0.1f, 0, DataType::int8), Shape{1, depth + 1},
      one_scale, tsq::make_quant_params(0.1f, 0, DataType::int8)};
  CHECK(tsq::prepare_fully_connected(too_deep, multipliers).status().code() ==
        ErrorCode::invalid_argument);
}

TEST_CASE("FullyConnected hybrid (DRQ) vs float", "[kernels][fully_connected][hybrid]") {
  // The hybrid kernel differs from float on the same (dequantized) weights only by quantizing
  // each input row: |x - x_q| <= S_row / 2, so |error| <= S_row/2 * S_w[u] * sum_d |W_q[u, d]|,
  // plus float32 summation.
  tsq_test::Rng rng(77);
  for (int trial = 0; trial < 100; ++trial) {
    const std::int32_t batches = 1 + static_cast<std::int32_t>(rng() % 4);
    const std::int32_t depth = 1 + static_cast<std::int32_t>(rng() % 100);
    const std::int32_t units = 1 + static_cast<std::int32_t>(rng() % 16);
    std::vector<float> x =
        tsq_test::random_floats(rng, static_cast<std::size_t>(batches * depth), -3.0f, 2.0f);
    if (trial == 0) std::fill(x.begin(), x.begin() + depth, 0.0f);  // an all-zero row
    const std::vector<float> w_real =
        tsq_test::random_floats(rng, static_cast<std::size_t>(units * depth), -0.5f, 0.5f);
    std::vector<std::int8_t> w_q(w_real.size());
    std::vector<float> scales(static_cast<std::size_t>(units));
    const std::int32_t dims[] = {units, depth};
    REQUIRE(tsq::quantize_per_channel<std::int8_t>(w_real, dims, 0, w_q, scales).is_ok());
    const std::vector<float> bias =
        tsq_test::random_floats(rng, static_cast<std::size_t>(units), -1.0f, 1.0f);
    std::vector<std::int32_t> row_sums(static_cast<std::size_t>(units));
    const TensorView<const std::int8_t> weights(w_q.data(), Shape{units, depth});
    const auto params =
        tsq::hybrid::prepare_fully_connected(weights, scales, FusedActivation::none, row_sums);
    REQUIRE(params.is_ok());
    std::vector<std::int8_t> scratch(tsq::hybrid::fully_connected_scratch_size(depth));
    std::vector<float> y(static_cast<std::size_t>(batches * units));
    REQUIRE(tsq::hybrid::fully_connected(
                params.value(), TensorView<const float>(x.data(), Shape{batches, depth}), weights,
                bias, TensorView<float>(y.data(), Shape{batches, units}), scratch)
                .is_ok());
    const std::vector<float> w =
        tsq_test::dequantize_rows(w_q, scales, static_cast<std::size_t>(depth));
    std::vector<float> expected(y.size());
    REQUIRE(tsq::floating::fully_connected(
                FusedActivation::none, TensorView<const float>(x.data(), Shape{batches, depth}),
                TensorView<const float>(w.data(), Shape{units, depth}), bias,
                TensorView<float>(expected.data(), Shape{batches, units}))
                .is_ok());
    for (std::int32_t b = 0; b < batches; ++b) {
      float lo = 0.0f, hi = 0.0f;
      for (std::int32_t d = 0; d < depth; ++d) {
        lo = std::min(lo, x[static_cast<std::size_t>(b * depth + d)]);
        hi = std::max(hi, x[static_cast<std::size_t>(b * depth + d)]);
      }
      const float row_scale = (hi - lo) / 255.0f;
      for (std::int32_t u = 0; u < units; ++u) {
        float weight_mass = 0.0f;
        for (std::int32_t d = 0; d < depth; ++d)
          weight_mass += std::fabs(w[static_cast<std::size_t>(u * depth + d)]);
        const float bound =
            row_scale / 2 * weight_mass * 1.001f + 1e-5f * (1.0f + weight_mass * 3.0f);
        const std::size_t i = static_cast<std::size_t>(b * units + u);
        REQUIRE(std::fabs(y[i] - expected[i]) <= bound);
      }
    }
  }
}

TEST_CASE("FullyConnected validation errors", "[kernels][fully_connected]") {
  const std::vector<float> scales = {0.01f, 0.02f};
  std::vector<QuantizedMultiplier> storage(2);
  const QuantParams act = tsq::make_quant_params(0.1f, 0, DataType::int8);
  tsq::FullyConnectedQuantization q{Shape{1, 3}, act, Shape{2, 3}, scales, act};
  REQUIRE(tsq::prepare_fully_connected(q, storage).is_ok());

  auto bad = q;
  bad.input_shape = Shape{1, 4};
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() == ErrorCode::shape_mismatch);
  bad = q;
  bad.weights_shape = Shape{2, 3, 1};
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() == ErrorCode::shape_mismatch);
  bad = q;
  const std::vector<float> three = {0.1f, 0.1f, 0.1f};
  bad.weight_scales = three;
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() == ErrorCode::shape_mismatch);
  bad = q;
  const std::vector<float> negative = {0.1f, -0.1f};
  bad.weight_scales = negative;
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() == ErrorCode::invalid_scale);
  bad = q;
  bad.input.scale = std::nanf("");
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() == ErrorCode::invalid_scale);
  bad = q;
  bad.output = tsq::make_quant_params(0.1f, 0, DataType::int16);
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() == ErrorCode::unsupported_type);
  bad = q;
  bad.input = tsq::make_quant_params(0.1f, 3, DataType::int16);
  bad.output = tsq::make_quant_params(0.1f, 0, DataType::int16);
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() == ErrorCode::invalid_argument);
  std::vector<QuantizedMultiplier> too_small(1);
  CHECK(tsq::prepare_fully_connected(q, too_small).status().code() == ErrorCode::buffer_too_small);
  // A multiplier too large for double rounding.
  bad = q;
  bad.output.scale = 1e-12f;
  CHECK(tsq::prepare_fully_connected(bad, storage).status().code() ==
        ErrorCode::shift_out_of_range);

  // Eval with views that do not match the prepared layer.
  const auto params = tsq::prepare_fully_connected(q, storage).value();
  std::vector<std::int8_t> input(3), weights(6), output(2);
  std::vector<std::int32_t> bias(2);
  const TensorView<const std::int8_t> w(weights.data(), Shape{2, 3});
  CHECK(tsq::reference::fully_connected(params,
                                        TensorView<const std::int8_t>(input.data(), Shape{1, 2}), w,
                                        bias, TensorView<std::int8_t>(output.data(), Shape{1, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::fully_connected(params,
                                        TensorView<const std::int8_t>(input.data(), Shape{1, 3}),
                                        TensorView<const std::int8_t>(weights.data(), Shape{3, 2}),
                                        bias, TensorView<std::int8_t>(output.data(), Shape{1, 2}))
            .code() == ErrorCode::shape_mismatch);
  const std::vector<std::int32_t> long_bias(3);
  CHECK(tsq::reference::fully_connected(
            params, TensorView<const std::int8_t>(input.data(), Shape{1, 3}), w, long_bias,
            TensorView<std::int8_t>(output.data(), Shape{1, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::fully_connected(params,
                                        TensorView<const std::int8_t>(input.data(), Shape{1, 3}), w,
                                        bias, TensorView<std::int8_t>(output.data(), Shape{2, 1}))
            .code() == ErrorCode::shape_mismatch);
  // Float kernel shape errors; hybrid scratch too small.
  std::vector<float> xf(3), wf(6), yf(2);
  CHECK(tsq::floating::fully_connected(FusedActivation::none,
                                       TensorView<const float>(xf.data(), Shape{1, 3}),
                                       TensorView<const float>(wf.data(), Shape{2, 3}), {},
                                       TensorView<float>(yf.data(), Shape{2, 1}))
            .code() == ErrorCode::shape_mismatch);
  std::vector<std::int32_t> sums(2);
  const auto hybrid_params =
      tsq::hybrid::prepare_fully_connected(w, scales, FusedActivation::none, sums).value();
  std::vector<std::int8_t> scratch(2);
  CHECK(tsq::hybrid::fully_connected(hybrid_params, TensorView<const float>(xf.data(), Shape{1, 3}),
                                     w, {}, TensorView<float>(yf.data(), Shape{1, 2}), scratch)
            .code() == ErrorCode::buffer_too_small);
  std::vector<std::int32_t> no_sums(1);
  CHECK(tsq::hybrid::prepare_fully_connected(w, scales, FusedActivation::none, no_sums)
            .status()
            .code() == ErrorCode::buffer_too_small);
}
