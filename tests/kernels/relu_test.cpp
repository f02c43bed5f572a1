// SPDX-License-Identifier: Apache-2.0
// ReLU / ReLU6: hand-computed requantization, the two multiplier rules, every int8 and int16
// input against double precision in both rounding modes, the float twins and every validation
// error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/relu.hpp"
#include "tsq/kernels/reference/relu.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::ReluMultiplierRule;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_test::every_value;

namespace {

template <typename T>
std::vector<T> run_relu(const tsq::ReluParams& params, const std::vector<T>& input) {
  return tsq_test::run_elementwise(
      input, [&](auto in, auto out) { return tsq::reference::relu(params, in, out); });
}

template <typename T>
std::vector<T> run_relu6(const tsq::Relu6Params& params, const std::vector<T>& input) {
  return tsq_test::run_elementwise(
      input, [&](auto in, auto out) { return tsq::reference::relu6(params, in, out); });
}

}  // namespace

TEST_CASE("ReLU int8: hand-computed requantization", "[kernels][relu]") {
  // S_in = 0.5, Z_in = 10, S_out = 0.25, Z_out = -20: M = 2 -> (2^30, 2).
  // x = 12: 2 * 2 - 20 = -16; x = 5: -10 - 20 = -30 -> clamped at Z_out = -20;
  // x = 127: 234 - 20 = 214 -> 127; x = 10: -20.
  tsq::ReluQuantization q{Shape{4}, tsq::make_quant_params(0.5f, 10, DataType::int8),
                          tsq::make_quant_params(0.25f, -20, DataType::int8)};
  auto params = tsq::prepare_relu(q);
  REQUIRE(params.is_ok());
  CHECK(params->multiplier == (QuantizedMultiplier{1 << 30, 2}));
  CHECK(params->activation.min == -20);
  CHECK(params->activation.max == 127);
  CHECK(run_relu<std::int8_t>(params.value(), {12, 5, 127, 10}) ==
        std::vector<std::int8_t>{-16, -20, 127, -20});
  // M = 1/8 -> (2^30, -2): x - Z_in = 3 is 0.375. Double rounding: round(3/2) = 2 (ties up),
  // then 2/4 = 0.5 -> 1 (ties away); single rounding: 0.375 -> 0. Z_out = 0.
  q.shape = Shape{3};
  q.input = tsq::make_quant_params(0.125f, 0, DataType::int8);
  q.output = tsq::make_quant_params(1.0f, 0, DataType::int8);
  params = tsq::prepare_relu(q);
  CHECK(params->multiplier == (QuantizedMultiplier{1 << 30, -2}));
  CHECK(run_relu<std::int8_t>(params.value(), {3, -3, 12}) == std::vector<std::int8_t>{1, 0, 2});
  q.rounding = RoundingMode::single_rounding;
  params = tsq::prepare_relu(q);
  CHECK(run_relu<std::int8_t>(params.value(), {3, -3, 12}) == std::vector<std::int8_t>{0, 0, 2});
}

TEST_CASE("ReLU int8: float32 quotient (TFLite-Micro, the default) and double quotient rules",
          "[kernels][relu]") {
  // S_in / S_out = 0.037 / 0.07: float32 quotient -> (1135098496, 0), double -> (1135098509, 0).
  // x = 35 is 18.50000016 exactly: the float32 multiplier gives 18, the double one 19.
  tsq::ReluQuantization q{Shape{1}, tsq::make_quant_params(0.037f, 0, DataType::int8),
                          tsq::make_quant_params(0.07f, -100, DataType::int8)};
  CHECK(q.multiplier_rule == ReluMultiplierRule::float32_quotient);  // TFLite-Micro's, the default
  const auto float_rule = tsq::prepare_relu(q);
  CHECK(float_rule->multiplier == (QuantizedMultiplier{1135098496, 0}));
  CHECK(run_relu<std::int8_t>(float_rule.value(), {35}) == std::vector<std::int8_t>{-82});
  q.multiplier_rule = ReluMultiplierRule::double_quotient;
  const auto double_rule = tsq::prepare_relu(q);
  CHECK(double_rule->multiplier == (QuantizedMultiplier{1135098509, 0}));
  CHECK(run_relu<std::int8_t>(double_rule.value(), {35}) == std::vector<std::int8_t>{-81});
}

TEST_CASE("ReLU: the default multiplier reproduces TFLite-Micro outputs", "[kernels][relu]") {
  // Values computed by TFLite-Micro's RELU kernel (current main), both rounding modes.
  float input_scale = 0.0f, output_scale = 0.0f;
  const std::uint32_t input_bits = 0x3cc3def3u;   // 0x1.87bde6p-6
  const std::uint32_t output_bits = 0x3bfb3e62u;  // 0x1.f67cc4p-8
  std::memcpy(&input_scale, &input_bits, sizeof(float));
  std::memcpy(&output_scale, &output_bits, sizeof(float));
  for (const RoundingMode rounding :
       {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
    CAPTURE(static_cast<int>(rounding));
    tsq::ReluQuantization q{Shape{1}, tsq::make_quant_params(input_scale, -128, DataType::int8),
                            tsq::make_quant_params(output_scale, 0, DataType::int8), rounding};
    const auto int8_params = tsq::prepare_relu(q);
    REQUIRE(int8_params.is_ok());
    CHECK(int8_params->multiplier == (QuantizedMultiplier{1674189568, 2}));
    CHECK(run_relu<std::int8_t>(int8_params.value(), {-90}) == std::vector<std::int8_t>{119});
    q.multiplier_rule = ReluMultiplierRule::double_quotient;  // the other rule: one step lower
    const auto double_params = tsq::prepare_relu(q);
    CHECK(double_params->multiplier == (QuantizedMultiplier{1674189537, 2}));
    CHECK(run_relu<std::int8_t>(double_params.value(), {-90}) == std::vector<std::int8_t>{118});

    const tsq::ReluQuantization q16{
        Shape{1}, tsq::make_quant_params(0.00151568314f, 0, DataType::int16),
        tsq::make_quant_params(0.000142681427f, 0, DataType::int16), rounding};
    const auto int16_params = tsq::prepare_relu(q16);
    REQUIRE(int16_params.is_ok());
    CHECK(run_relu<std::int16_t>(int16_params.value(), {2963}) == std::vector<std::int16_t>{31476});
  }
}

TEST_CASE("ReLU int8 and int16: every input against double precision", "[kernels][relu]") {
  // Reference: max(Z_out + (q - Z_in) * S_in / S_out, Z_out) clamped to the output range. Error:
  // the final rounding (0.5 step); in double rounding the first rounding (to an integer at 2^-r
  // steps, r = the right shift) adds up to 2^-(r + 1) step, e.g. 0.26 -> 0.52 -> 1 -> 0.5 -> 1
  // for r = 1; plus the multiplier's relative error 2^-31 (float32 quotient: 2^-24) times
  // |x * S_in / S_out|.
  tsq_test::Rng rng(66);
  double worst_double = 0.0, worst_single = 0.0;
  for (int trial = 0; trial < 60; ++trial) {
    const bool int16 = trial % 3 == 2;
    const DataType type = int16 ? DataType::int16 : DataType::int8;
    QuantParams input =
        int16 ? tsq_test::random_int16_params(rng) : tsq_test::random_int8_params(rng);
    QuantParams output =
        int16 ? tsq_test::random_int16_params(rng) : tsq_test::random_int8_params(rng);
    if (trial == 0) output = input;  // identity: M = 1 exactly
    for (const RoundingMode rounding :
         {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
      const tsq::ReluQuantization q{Shape{int16 ? 65536 : 256}, input, output, rounding,
                                    trial % 2 == 0 ? ReluMultiplierRule::float32_quotient
                                                   : ReluMultiplierRule::double_quotient};
      const auto params = tsq::prepare_relu(q);
      REQUIRE(params.is_ok());
      std::vector<std::int32_t> got;
      if (int16) {
        const auto y = run_relu(params.value(), every_value<std::int16_t>());
        got.assign(y.begin(), y.end());
      } else {
        const auto y = run_relu(params.value(), every_value<std::int8_t>());
        got.assign(y.begin(), y.end());
      }
      const double ratio = static_cast<double>(input.scale) / output.scale;
      const tsq::IntegerRange range = tsq::type_range(type);
      for (std::size_t i = 0; i < got.size(); ++i) {
        const double x = range.min + static_cast<double>(i) - input.zero_point;
        const double exact = output.zero_point + x * ratio;
        const double expected = std::min<double>(
            std::max<double>(exact, std::max(output.zero_point, range.min)), range.max);
        const double error = std::fabs(got[i] - expected);
        const int right_shift = std::max(0, -params->multiplier.shift);
        const double first_rounding = rounding == RoundingMode::double_rounding && right_shift > 0
                                          ? std::ldexp(0.5, -right_shift)
                                          : 0.0;
        const double bound = 0.5 + first_rounding + 1e-6 + std::fabs(x * ratio) * 1.2e-7;
        double& worst = rounding == RoundingMode::double_rounding ? worst_double : worst_single;
        worst = std::max(worst, error);
        const std::int32_t q = range.min + static_cast<std::int32_t>(i);
        const bool identity_ok = trial != 0 || got[i] == std::max(q, output.zero_point);
        if (!(error <= bound) || !identity_ok) {  // one assertion per failure, not per element
          INFO("trial " << trial << " q " << q);
          REQUIRE(error <= bound);
          REQUIRE(identity_ok);
        }
      }
    }
  }
  // Measured: 0.74998 in double rounding (r = 1), 0.50053 in single rounding (the float32
  // quotient's 2^-24 relative error on an int16 value near 32767 * S_in / S_out).
  INFO("worst ReLU error: double rounding " << worst_double << ", single " << worst_single);
  CHECK(worst_single <= 0.501);
  CHECK(worst_double < 0.75);
}

TEST_CASE("ReLU6 int8 and int16: clamps to [Z, Z + round(6 / S)]", "[kernels][relu]") {
  // S = 0.05, Z = -100: six = -100 + round(6 / 0.05) = -100 + 120 = 20.
  const QuantParams p8 = tsq::make_quant_params(0.05f, -100, DataType::int8);
  const auto params = tsq::prepare_relu6(tsq::Relu6Quantization{Shape{5}, p8, p8});
  REQUIRE(params.is_ok());
  CHECK(params->range.min == -100);
  CHECK(params->range.max == 20);
  CHECK(run_relu6<std::int8_t>(params.value(), {-128, -100, 0, 20, 127}) ==
        std::vector<std::int8_t>{-100, -100, 0, 20, 20});
  // 6 beyond the range: the upper bound is the type's maximum.
  const QuantParams coarse = tsq::make_quant_params(0.01f, 0, DataType::int8);
  CHECK(tsq::prepare_relu6(tsq::Relu6Quantization{Shape{1}, coarse, coarse})->range.max == 127);
  // Every input, int8 and int16: the output equals clamp(q, Z, six) and its real value is
  // within S/2 of min(max(x, 0), 6) (six is 6/S rounded).
  tsq_test::Rng rng(6);
  for (int trial = 0; trial < 20; ++trial) {
    const bool int16 = trial % 2 == 1;
    QuantParams p = int16 ? tsq_test::random_int16_params(rng) : tsq_test::random_int8_params(rng);
    if (int16 && trial % 4 == 1) p.zero_point = 1000;  // TFLite-Micro accepts any zero point here
    const auto relu6 = tsq::prepare_relu6(tsq::Relu6Quantization{Shape{int16 ? 65536 : 256}, p, p});
    REQUIRE(relu6.is_ok());
    std::vector<std::int32_t> in, out;
    if (int16) {
      const auto x = every_value<std::int16_t>();
      const auto y = run_relu6(relu6.value(), x);
      in.assign(x.begin(), x.end());
      out.assign(y.begin(), y.end());
    } else {
      const auto x = every_value<std::int8_t>();
      const auto y = run_relu6(relu6.value(), x);
      in.assign(x.begin(), x.end());
      out.assign(y.begin(), y.end());
    }
    for (std::size_t i = 0; i < in.size(); ++i) {
      const double x = static_cast<double>(p.scale) * (in[i] - p.zero_point);
      const double real_out = static_cast<double>(p.scale) * (out[i] - p.zero_point);
      const double top =
          static_cast<double>(p.scale) * (tsq::type_range(p.type).max - p.zero_point);
      const double expected = std::min(std::max(x, 0.0), std::min(6.0, top));
      REQUIRE(std::fabs(real_out - expected) <= p.scale * 0.5 + 1e-6);
    }
  }
}

TEST_CASE("ReLU and ReLU6 float32", "[kernels][relu]") {
  const std::vector<float> x = {-3.0f, -0.0f, 0.5f, 5.9f, 6.0f, 7.5f};
  std::vector<float> y(x.size());
  REQUIRE(tsq::floating::relu(TensorView<const float>(x.data(), Shape{2, 3}),
                              TensorView<float>(y.data(), Shape{2, 3}))
              .is_ok());
  CHECK(y == std::vector<float>{0.0f, 0.0f, 0.5f, 5.9f, 6.0f, 7.5f});
  REQUIRE(tsq::floating::relu6(TensorView<const float>(x.data(), Shape{6}),
                               TensorView<float>(y.data(), Shape{6}))
              .is_ok());
  CHECK(y == std::vector<float>{0.0f, 0.0f, 0.5f, 5.9f, 6.0f, 6.0f});
  CHECK(tsq::floating::relu6(TensorView<const float>(x.data(), Shape{6}),
                             TensorView<float>(y.data(), Shape{3, 2}))
            .code() == ErrorCode::shape_mismatch);
  const std::ptrdiff_t stride[] = {2};
  CHECK(tsq::floating::relu(TensorView<const float>::strided(x.data(), Shape{3}, stride),
                            TensorView<float>(y.data(), Shape{3}))
            .code() == ErrorCode::invalid_argument);
}

TEST_CASE("ReLU and ReLU6 validation errors", "[kernels][relu]") {
  const QuantParams a = tsq::make_quant_params(0.1f, 3, DataType::int8);
  const QuantParams b = tsq::make_quant_params(0.2f, -3, DataType::int8);
  const tsq::ReluQuantization good{Shape{2, 2}, a, b};
  REQUIRE(tsq::prepare_relu(good).is_ok());
  const auto code = [](const tsq::ReluQuantization& q) {
    return tsq::prepare_relu(q).status().code();
  };
  auto bad = good;
  bad.shape = Shape{-2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = good;
  bad.output.scale = -1.0f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = good;
  bad.output.zero_point = 128;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output = tsq::make_quant_params(0.2f, 0, DataType::int16);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = good;
  bad.input = tsq::make_quant_params(0.2f, 0, DataType::uint8);
  bad.output = tsq::make_quant_params(0.2f, 0, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = good;
  bad.input = tsq::make_quant_params(0.2f, 5, DataType::int16);
  bad.output = tsq::make_quant_params(0.2f, 0, DataType::int16);
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output.scale = 1e-12f;  // M = 1e11 >= 2^30: cannot be applied in double rounding
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  bad.input.scale = 3e38f;  // the float32 quotient overflows (the double one is just too large)
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad.multiplier_rule = tsq::ReluMultiplierRule::double_quotient;
  CHECK(code(bad) == ErrorCode::shift_out_of_range);

  const auto relu6_code = [](const tsq::Relu6Quantization& q) {
    return tsq::prepare_relu6(q).status().code();
  };
  CHECK(relu6_code({Shape{2}, a, a}) == ErrorCode::ok);
  CHECK(relu6_code({Shape{2}, a, b}) == ErrorCode::invalid_argument);  // would need requantizing
  CHECK(relu6_code({Shape{-2}, a, a}) == ErrorCode::shape_mismatch);
  const QuantParams u = tsq::make_quant_params(0.1f, 3, DataType::uint8);
  CHECK(relu6_code({Shape{2}, u, u}) == ErrorCode::unsupported_type);
  QuantParams nan_scale = a;
  nan_scale.scale = std::nanf("");
  CHECK(relu6_code({Shape{2}, nan_scale, nan_scale}) == ErrorCode::invalid_scale);

  const auto params = tsq::prepare_relu(good).value();
  const auto params6 = tsq::prepare_relu6({Shape{2, 2}, a, a}).value();
  std::vector<std::int8_t> in8(4), out8(4);
  std::vector<std::int16_t> in16(4), out16(4);
  CHECK(tsq::reference::relu(params, TensorView<const std::int16_t>(in16.data(), Shape{2, 2}),
                             TensorView<std::int16_t>(out16.data(), Shape{2, 2}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::relu(params, TensorView<const std::int8_t>(in8.data(), Shape{4}),
                             TensorView<std::int8_t>(out8.data(), Shape{2, 2}))
            .code() == ErrorCode::shape_mismatch);
  const std::ptrdiff_t strides[] = {1, 2};
  CHECK(tsq::reference::relu(
            params, TensorView<const std::int8_t>::strided(in8.data(), Shape{2, 2}, strides),
            TensorView<std::int8_t>(out8.data(), Shape{2, 2}))
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::relu6(params6, TensorView<const std::int16_t>(in16.data(), Shape{2, 2}),
                              TensorView<std::int16_t>(out16.data(), Shape{2, 2}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::relu6(params6, TensorView<const std::int8_t>(in8.data(), Shape{2, 2}),
                              TensorView<std::int8_t>(out8.data(), Shape{2, 3}))
            .code() == ErrorCode::shape_mismatch);
}
