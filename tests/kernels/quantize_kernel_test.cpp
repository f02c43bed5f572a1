// SPDX-License-Identifier: Apache-2.0
// The model edges: QUANTIZE (float32 -> int8/uint8/int16), DEQUANTIZE and REQUANTIZE (int8,
// uint8, int16, scale and zero-point changes). Hand-computed values, round trips, every integer
// input against double precision in both rounding modes, and every validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/reference/dequantize.hpp"
#include "tsq/kernels/reference/quantize.hpp"
#include "tsq/kernels/reference/requantize.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_test::every_value;

namespace {

template <typename T>
std::vector<T> run_quantize(const QuantParams& output, const std::vector<float>& input) {
  const Shape shape{static_cast<std::int32_t>(input.size())};
  const auto params = tsq::prepare_quantize({shape, output});
  REQUIRE(params.is_ok());
  std::vector<T> result(input.size());
  REQUIRE(tsq::reference::quantize(params.value(), TensorView<const float>(input.data(), shape),
                                   TensorView<T>(result.data(), shape))
              .is_ok());
  return result;
}

template <typename T>
std::vector<float> run_dequantize(const QuantParams& input, const std::vector<T>& values) {
  const Shape shape{static_cast<std::int32_t>(values.size())};
  const auto params = tsq::prepare_dequantize({shape, input});
  REQUIRE(params.is_ok());
  std::vector<float> result(values.size());
  REQUIRE(tsq::reference::dequantize(params.value(), TensorView<const T>(values.data(), shape),
                                     TensorView<float>(result.data(), shape))
              .is_ok());
  return result;
}

template <typename Input, typename Output>
std::vector<Output> run_requantize(const tsq::RequantizeParams& params,
                                   const std::vector<Input>& input) {
  const Shape shape{static_cast<std::int32_t>(input.size())};
  std::vector<Output> result(input.size());
  REQUIRE(tsq::reference::requantize(params, TensorView<const Input>(input.data(), shape),
                                     TensorView<Output>(result.data(), shape))
              .is_ok());
  return result;
}

// Every value of Input requantized to Output, compared with Z_out + (q - Z_in) * S_in / S_out
// in double; returns the worst error in output steps. Bound: 0.5 (final rounding) + in double
// rounding 2^-(r + 1) for the first rounding (r = right shift) + the multiplier's relative
// error 2^-31 times the value.
template <typename Input, typename Output>
double requantize_every_value(const QuantParams& input, const QuantParams& output,
                              RoundingMode rounding) {
  const auto x = every_value<Input>();
  const auto params = tsq::prepare_requantize(
      {Shape{static_cast<std::int32_t>(x.size())}, input, output, rounding});
  REQUIRE(params.is_ok());
  const auto y = run_requantize<Input, Output>(params.value(), x);
  const double ratio = static_cast<double>(input.scale) / output.scale;
  const int right_shift = std::max(0, -params->multiplier.shift);
  const double first_rounding = rounding == RoundingMode::double_rounding && right_shift > 0
                                    ? std::ldexp(0.5, -right_shift)
                                    : 0.0;
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double exact = output.zero_point + (x[i] - input.zero_point) * ratio;
    const double expected =
        std::min<double>(std::max<double>(exact, output.quant_min), output.quant_max);
    const double error = std::fabs(y[i] - expected);
    worst = std::max(worst, error);
    const double bound = 0.5 + first_rounding + 1e-9 * (1.0 + std::fabs(exact));
    if (!(error <= bound)) {  // one assertion per failure, not per element (speed)
      INFO("q " << static_cast<std::int32_t>(x[i]) << " ratio " << ratio);
      REQUIRE(error <= bound);
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("Quantize: hand-computed values, ties away from zero, saturation",
          "[kernels][quantize]") {
  // S = 0.5, Z = 3: 1.25 / 0.5 = 2.5 -> 3 (away from zero) -> 6; -1.25 -> -3 -> 0;
  // 0.2 -> 0.4 -> 0 -> 3; 100 -> 200 -> 203 -> 127; -inf -> -128; +inf -> 127.
  const QuantParams p = tsq::make_quant_params(0.5f, 3, DataType::int8);
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(run_quantize<std::int8_t>(p, {1.25f, -1.25f, 0.2f, 100.0f, -inf, inf}) ==
        std::vector<std::int8_t>{6, 0, 3, 127, -128, 127});
  // uint8: S = float32(1/255) = 0.0039215689 (a little above 1/255), Z = 0: 0.5 / S =
  // 127.49999 -> 127 (not 128: the stored scale decides); -0.1 -> 0; 1 / S = 254.99998 -> 255.
  CHECK(run_quantize<std::uint8_t>(tsq::make_quant_params(1.0f / 255, 0, DataType::uint8),
                                   {0.5f, -0.1f, 1.0f}) == std::vector<std::uint8_t>{127, 0, 255});
  // int16: S = 2^-12, Z = 0: 1.5 -> 6144; -8 -> -32768; 8 -> 32767 (saturated).
  CHECK(run_quantize<std::int16_t>(tsq::make_quant_params(1.0f / 4096, 0, DataType::int16),
                                   {1.5f, -8.0f, 8.0f}) ==
        std::vector<std::int16_t>{6144, -32768, 32767});
  // A narrow range is respected.
  QuantParams narrow = p;
  narrow.quant_min = -127;
  CHECK(run_quantize<std::int8_t>(narrow, {-1000.0f}) == std::vector<std::int8_t>{-127});
}

TEST_CASE("Quantize and Dequantize: round trips and double-precision references",
          "[kernels][quantize]") {
  tsq_test::Rng rng(12);
  for (int trial = 0; trial < 30; ++trial) {
    const QuantParams p8 = tsq_test::random_int8_params(rng);
    QuantParams pu8 = tsq_test::random_int8_params(rng);
    pu8 = tsq::make_quant_params(pu8.scale, pu8.zero_point + 128, DataType::uint8);
    const QuantParams p16 = tsq_test::random_int16_params(rng);
    // Dequantize is S * (q - Z) correctly rounded to float32; quantizing it gives q back.
    const auto check_type = [&](const QuantParams& p, auto tag) {
      using T = decltype(tag);
      const auto q = every_value<T>();
      const auto r = run_dequantize<T>(p, q);
      for (std::size_t i = 0; i < q.size(); ++i) {
        const float exact =
            static_cast<float>(static_cast<double>(p.scale) * (q[i] - p.zero_point));
        if (r[i] != exact || r[i] != tsq::dequantize(q[i], p)) {
          INFO("q " << static_cast<std::int32_t>(q[i]));
          REQUIRE(r[i] == exact);
          REQUIRE(r[i] == tsq::dequantize(q[i], p));
        }
      }
      CHECK(run_quantize<T>(p, r) == q);
    };
    check_type(p8, std::int8_t{});
    check_type(pu8, std::uint8_t{});
    check_type(p16, std::int16_t{});
    // Random reals: |q - (r / S + Z)| <= 0.5 + float32 division error, saturated.
    const auto reals = tsq_test::random_floats(rng, 500, -200.0f * p8.scale, 200.0f * p8.scale);
    const auto q = run_quantize<std::int8_t>(p8, reals);
    for (std::size_t i = 0; i < reals.size(); ++i) {
      const double exact = static_cast<double>(reals[i]) / p8.scale + p8.zero_point;
      const double expected = std::min(std::max(exact, -128.0), 127.0);
      REQUIRE(std::fabs(q[i] - expected) <= 0.5 + 1e-4);
    }
  }
}

TEST_CASE("Quantize: NaN is an error and nothing is written", "[kernels][quantize]") {
  const QuantParams p = tsq::make_quant_params(0.1f, 0, DataType::int8);
  const auto params = tsq::prepare_quantize({Shape{3}, p}).value();
  const std::vector<float> x = {1.0f, std::nanf(""), 2.0f};
  std::vector<std::int8_t> y = {7, 7, 7};
  const tsq::Status status =
      tsq::reference::quantize(params, TensorView<const float>(x.data(), Shape{3}),
                               TensorView<std::int8_t>(y.data(), Shape{3}));
  CHECK(status.code() == ErrorCode::non_finite_value);
  CHECK(y == std::vector<std::int8_t>{7, 7, 7});
}

TEST_CASE("Requantize: hand-computed values", "[kernels][quantize]") {
  // uint8 (S, 0) -> int8 (S, -128): a flip of the top bit, M = 1 exactly -> (2^30, 1).
  const float s = 0.0235f;
  auto params = tsq::prepare_requantize({Shape{4}, tsq::make_quant_params(s, 0, DataType::uint8),
                                         tsq::make_quant_params(s, -128, DataType::int8)});
  REQUIRE(params.is_ok());
  CHECK(params->multiplier == (QuantizedMultiplier{1 << 30, 1}));
  CHECK(run_requantize<std::uint8_t, std::int8_t>(params.value(), {0, 1, 128, 255}) ==
        std::vector<std::int8_t>{-128, -127, 0, 127});
  // And back.
  params = tsq::prepare_requantize({Shape{4}, tsq::make_quant_params(s, -128, DataType::int8),
                                    tsq::make_quant_params(s, 0, DataType::uint8)});
  CHECK(run_requantize<std::int8_t, std::uint8_t>(params.value(), {-128, -127, 0, 127}) ==
        std::vector<std::uint8_t>{0, 1, 128, 255});
  // int8 (0.625, 10) -> int8 (0.25, -5): M = 2.5 -> (1342177280, 2); q = 13: 3 * 2.5 = 7.5 -> 8
  // (the left shift leaves one rounding, ties up) -> 3; q = -128: -345 -> -128 (saturated).
  params = tsq::prepare_requantize({Shape{3}, tsq::make_quant_params(0.625f, 10, DataType::int8),
                                    tsq::make_quant_params(0.25f, -5, DataType::int8)});
  CHECK(params->multiplier == (QuantizedMultiplier{1342177280, 2}));
  CHECK(run_requantize<std::int8_t, std::int8_t>(params.value(), {13, -128, 10}) ==
        std::vector<std::int8_t>{3, -128, -5});
  // Spec 2.8 with an int16 input: M = 2^-15 -> (2^30, -14); 16383 -> 1 (double) / 0 (single);
  // -16384 -> -1 / 0.
  for (const RoundingMode rounding :
       {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
    params =
        tsq::prepare_requantize({Shape{2}, tsq::make_quant_params(1.0f / 32768, 0, DataType::int16),
                                 tsq::make_quant_params(1.0f, 0, DataType::int8), rounding});
    CHECK(params->multiplier == (QuantizedMultiplier{1 << 30, -14}));
    const std::vector<std::int8_t> expected = rounding == RoundingMode::double_rounding
                                                  ? std::vector<std::int8_t>{1, -1}
                                                  : std::vector<std::int8_t>{0, 0};
    CHECK(run_requantize<std::int16_t, std::int8_t>(params.value(), {16383, -16384}) == expected);
  }
  // The output's narrow range is the clamp.
  QuantParams narrow = tsq::make_quant_params(0.1f, 0, DataType::int8);
  narrow.quant_min = -127;
  params =
      tsq::prepare_requantize({Shape{1}, tsq::make_quant_params(0.1f, 0, DataType::int8), narrow});
  CHECK(run_requantize<std::int8_t, std::int8_t>(params.value(), {-128}) ==
        std::vector<std::int8_t>{-127});
}

TEST_CASE("Requantize: every input against double precision, all type pairs, both modes",
          "[kernels][quantize]") {
  tsq_test::Rng rng(77);
  double worst[2] = {0.0, 0.0};
  for (int trial = 0; trial < 40; ++trial) {
    for (const RoundingMode rounding :
         {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
      const int mode = rounding == RoundingMode::double_rounding ? 0 : 1;
      const QuantParams a8 = tsq_test::random_int8_params(rng);
      const QuantParams b8 = tsq_test::random_int8_params(rng);
      const QuantParams u8 =
          tsq::make_quant_params(a8.scale * 1.7f, a8.zero_point + 128, DataType::uint8);
      QuantParams c16 = tsq_test::random_int16_params(rng);
      c16.zero_point = trial % 5 == 0 ? 321 : 0;
      const double errors[] = {
          requantize_every_value<std::int8_t, std::int8_t>(a8, b8, rounding),
          requantize_every_value<std::int8_t, std::uint8_t>(a8, u8, rounding),
          requantize_every_value<std::uint8_t, std::int8_t>(u8, b8, rounding),
          requantize_every_value<std::uint8_t, std::uint8_t>(u8, u8, rounding),
          requantize_every_value<std::int8_t, std::int16_t>(a8, c16, rounding),
      };
      for (const double e : errors) worst[mode] = std::max(worst[mode], e);
      const QuantParams d16 = tsq_test::random_int16_params(rng);
      if (trial % 4 == 0) {  // every int16 input: 65536 values per pair
        worst[mode] = std::max(
            {worst[mode], requantize_every_value<std::int16_t, std::int8_t>(c16, b8, rounding),
             requantize_every_value<std::int16_t, std::int16_t>(c16, d16, rounding)});
      }
    }
  }
  // Measured: 0.74999 in double rounding (right shift 1: the first rounding adds up to 1/4),
  // 0.500003 in single rounding (the multiplier's 2^-31 relative error on int16 values).
  INFO("worst requantize error: double rounding " << worst[0] << ", single rounding " << worst[1]);
  CHECK(worst[1] <= 0.5 + 1e-5);
  CHECK(worst[0] > 0.5);
  CHECK(worst[0] < 0.75);
}

TEST_CASE("Quantize, Dequantize and Requantize validation errors", "[kernels][quantize]") {
  const QuantParams p8 = tsq::make_quant_params(0.1f, 0, DataType::int8);
  CHECK(tsq::prepare_quantize({Shape{-1}, p8}).status().code() == ErrorCode::shape_mismatch);
  QuantParams bad_scale = p8;
  bad_scale.scale = 0.0f;
  CHECK(tsq::prepare_quantize({Shape{1}, bad_scale}).status().code() == ErrorCode::invalid_scale);
  QuantParams bad_zero = p8;
  bad_zero.zero_point = 300;
  CHECK(tsq::prepare_quantize({Shape{1}, bad_zero}).status().code() == ErrorCode::invalid_argument);
  const QuantParams p32 = tsq::make_quant_params(0.1f, 0, DataType::int32);
  CHECK(tsq::prepare_quantize({Shape{1}, p32}).status().code() == ErrorCode::unsupported_type);
  QuantParams pf = p8;
  pf.type = DataType::float32;
  CHECK(tsq::prepare_quantize({Shape{1}, pf}).status().code() == ErrorCode::unsupported_type);
  CHECK(tsq::prepare_dequantize({Shape{-1}, p8}).status().code() == ErrorCode::shape_mismatch);
  CHECK(tsq::prepare_dequantize({Shape{1}, bad_scale}).status().code() == ErrorCode::invalid_scale);
  CHECK(tsq::prepare_dequantize({Shape{1}, p32}).status().code() == ErrorCode::unsupported_type);
  const auto req = [](const QuantParams& in, const QuantParams& out) {
    return tsq::prepare_requantize({Shape{1}, in, out}).status().code();
  };
  CHECK(req(p8, p8) == ErrorCode::ok);
  CHECK(req(p32, p8) == ErrorCode::unsupported_type);
  CHECK(req(p8, p32) == ErrorCode::unsupported_type);
  CHECK(req(bad_scale, p8) == ErrorCode::invalid_scale);
  CHECK(req(p8, bad_zero) == ErrorCode::invalid_argument);
  CHECK(req(p8, tsq::make_quant_params(1e-12f, 0, DataType::int8)) ==
        ErrorCode::shift_out_of_range);
  CHECK(tsq::prepare_requantize({Shape{-3}, p8, p8}).status().code() == ErrorCode::shape_mismatch);

  // Eval: element types, shapes and contiguity.
  const auto qp = tsq::prepare_quantize({Shape{2}, p8}).value();
  const auto dp = tsq::prepare_dequantize({Shape{2}, p8}).value();
  const auto rp = tsq::prepare_requantize({Shape{2}, p8, p8}).value();
  std::vector<float> f(2);
  std::vector<std::int8_t> i8(2);
  std::vector<std::uint8_t> u8(2);
  std::vector<std::int16_t> i16(2);
  CHECK(tsq::reference::quantize(qp, TensorView<const float>(f.data(), Shape{2}),
                                 TensorView<std::uint8_t>(u8.data(), Shape{2}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::quantize(qp, TensorView<const float>(f.data(), Shape{1, 2}),
                                 TensorView<std::int8_t>(i8.data(), Shape{2}))
            .code() == ErrorCode::shape_mismatch);
  const std::ptrdiff_t stride[] = {-1};
  CHECK(tsq::reference::quantize(qp,
                                 TensorView<const float>::strided(f.data() + 1, Shape{2}, stride),
                                 TensorView<std::int8_t>(i8.data(), Shape{2}))
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::dequantize(dp, TensorView<const std::int16_t>(i16.data(), Shape{2}),
                                   TensorView<float>(f.data(), Shape{2}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::dequantize(dp, TensorView<const std::int8_t>(i8.data(), Shape{2}),
                                   TensorView<float>(f.data(), Shape{2, 1}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::dequantize(dp, TensorView<const std::int8_t>(i8.data(), Shape{2}),
                                   TensorView<float>::strided(f.data() + 1, Shape{2}, stride))
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::requantize(rp, TensorView<const std::int8_t>(i8.data(), Shape{2}),
                                   TensorView<std::uint8_t>(u8.data(), Shape{2}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::requantize(rp, TensorView<const std::uint8_t>(u8.data(), Shape{2}),
                                   TensorView<std::int8_t>(i8.data(), Shape{2}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::requantize(rp, TensorView<const std::int8_t>(i8.data(), Shape{2}),
                                   TensorView<std::int8_t>(i8.data(), Shape{1}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::requantize(
            rp, TensorView<const std::int8_t>::strided(i8.data() + 1, Shape{2}, stride),
            TensorView<std::int8_t>(i8.data(), Shape{2}))
            .code() == ErrorCode::invalid_argument);
}
