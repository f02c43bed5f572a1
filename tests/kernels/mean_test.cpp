// SPDX-License-Identifier: Apache-2.0
// Mean (global average pooling): the folded multiplier of spec 3.7, hand-computed means in both
// rounding modes, the spec's vectors, keep_dims and rank-3 inputs, strided views, integer vs
// float on random layers, the accumulator limit and every validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/mean.hpp"
#include "tsq/kernels/reference/mean.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_test::kBothModes;

namespace {

std::vector<std::int8_t> run_mean(const tsq::MeanParams& params,
                                  const std::vector<std::int8_t>& input) {
  std::vector<std::int8_t> output(params.output_shape.element_count());
  const tsq::Status status =
      tsq::reference::mean(params, TensorView<const std::int8_t>(input.data(), params.input_shape),
                           TensorView<std::int8_t>(output.data(), params.output_shape));
  REQUIRE(status.is_ok());
  return output;
}

std::vector<std::int8_t> mean(const Shape& shape, const QuantParams& input,
                              const QuantParams& output, RoundingMode rounding,
                              const std::vector<std::int8_t>& values, bool keep_dims = false) {
  const auto params = tsq::prepare_mean({shape, input, output, keep_dims, rounding});
  REQUIRE(params.is_ok());
  return run_mean(params.value(), values);
}

}  // namespace

TEST_CASE("Mean: folding 1/n into the multiplier", "[kernels][mean]") {
  // Spec 3.7: k = min(floor(log2 n), 32, 31 + e0), q = trunc(q0 * 2^k / n), e = e0 - k.
  // The spec's parameters S_in = 0.02, S_out = 0.015 give (q0, e0) = (1431655765, 1).
  //   n = 5:  k = 2, q = trunc(1431655765 * 4 / 5)   = 1145324612, e = -1
  //   n = 49: k = 5, q = trunc(1431655765 * 32 / 49) = 934958866,  e = -4
  // (45812984480 = 49 * 934958866 + 46; spec 3.7 prints q = 934958051 for this case, which does
  // not follow from its own formula; the output value it gives, 1, is reproduced below.)
  const QuantizedMultiplier m{1431655765, 1};
  CHECK(tsq::fold_mean_count(m, 5) == (QuantizedMultiplier{1145324612, -1}));
  CHECK(tsq::fold_mean_count(m, 49) == (QuantizedMultiplier{934958866, -4}));
  // n = 1 keeps the multiplier; a power of two only moves the shift.
  CHECK(tsq::fold_mean_count(m, 1) == m);
  CHECK(tsq::fold_mean_count(m, 64) == (QuantizedMultiplier{1431655765, -5}));
  // k is capped at 31 + e0, so that e never goes below -31 ...
  CHECK(tsq::fold_mean_count({1 << 30, -29}, 16) == (QuantizedMultiplier{1 << 28, -31}));  // k 2
  CHECK(tsq::fold_mean_count({1 << 30, -31}, 16) == (QuantizedMultiplier{1 << 26, -31}));  // k 0
  // ... and at 32 (n >= 2^33 here): q = trunc(2^30 * 2^32 / 2^40) = 2^22.
  CHECK(tsq::fold_mean_count({1 << 30, 5}, std::int64_t{1} << 40) ==
        (QuantizedMultiplier{1 << 22, -27}));
  // A flushed multiplier stays 0.
  CHECK(tsq::fold_mean_count({0, 0}, 7).multiplier == 0);
  // Through prepare: the spec's parameters over 7 x 7.
  const auto params =
      tsq::prepare_mean({Shape{1, 7, 7, 3}, tsq::make_quant_params(0.02f, -4, DataType::int8),
                         tsq::make_quant_params(0.015f, 6, DataType::int8)});
  REQUIRE(params.is_ok());
  CHECK(params->multiplier == (QuantizedMultiplier{934958866, -4}));
  CHECK(params->count == 49);
}

TEST_CASE("Mean: hand-computed means in both rounding modes", "[kernels][mean]") {
  const QuantParams same = tsq::make_quant_params(0.1f, 0, DataType::int8);
  // M = 1 -> (2^30, 1); n = 4 -> k = 2, q = 2^30, e = -1: y = round(sum / 4).
  for (const RoundingMode mode : kBothModes) {
    // {1, 2, 3, 5}: 11 / 4 = 2.75 -> 3 in both modes.
    CHECK(mean(Shape{1, 2, 2, 1}, same, same, mode, {1, 2, 3, 5}) == std::vector<std::int8_t>{3});
    // Z_in = 10, S_in = 0.5; Z_out = -20, S_out = 0.25: M = 2 -> (2^30, 2), n = 4 -> (2^30, 0).
    // x - Z_in = {0, 2, 4, 10}, sum 16, * 2 / 4 = 8 exactly -> -20 + 8 = -12.
    CHECK(mean(Shape{1, 2, 2, 1}, tsq::make_quant_params(0.5f, 10, DataType::int8),
               tsq::make_quant_params(0.25f, -20, DataType::int8), mode,
               {10, 12, 14, 20}) == std::vector<std::int8_t>{-12});
  }
  // {-3, -2, -2, -3}: -10 / 4 = -2.5: double rounding -5 / 2 -> -3 (ties away from zero), single
  // rounding (-10 * 2^30 + 2^31) >> 32 = -2 (ties up).
  CHECK(mean(Shape{1, 2, 2, 1}, same, same, RoundingMode::double_rounding, {-3, -2, -2, -3}) ==
        std::vector<std::int8_t>{-3});
  CHECK(mean(Shape{1, 2, 2, 1}, same, same, RoundingMode::single_rounding, {-3, -2, -2, -3}) ==
        std::vector<std::int8_t>{-2});
  // The truncating fold: n = 6, q = trunc(2^32 / 6) = 715827882, e = -1; {1, 1, 1, 0, 0, 0} has
  // mean exactly 0.5, but 3 * q / 2^32 = 0.49999999953:
  //   double: SRDHM(3, q) = round(0.99999999907) = 1, then 1 / 2 -> 1 (tie away from zero);
  //   single: floor(0.49999999953 + 0.5) = 0.
  CHECK(mean(Shape{1, 6, 1}, same, same, RoundingMode::double_rounding, {1, 1, 1, 0, 0, 0}) ==
        std::vector<std::int8_t>{1});
  CHECK(mean(Shape{1, 6, 1}, same, same, RoundingMode::single_rounding, {1, 1, 1, 0, 0, 0}) ==
        std::vector<std::int8_t>{0});
  // Saturation: S_in / S_out = 10, channel means 100 and -100 -> 1000 -> 127 and -128.
  const QuantParams coarse = tsq::make_quant_params(0.01f, 0, DataType::int8);
  for (const RoundingMode mode : kBothModes) {
    CHECK(mean(Shape{1, 1, 2, 2}, same, coarse, mode, {100, -100, 100, -100}) ==
          std::vector<std::int8_t>{127, -128});
  }
}

TEST_CASE("Mean: the spec's test vectors", "[kernels][mean]") {
  const QuantParams input = tsq::make_quant_params(0.02f, -4, DataType::int8);
  const QuantParams output = tsq::make_quant_params(0.015f, 6, DataType::int8);
  for (const RoundingMode mode : kBothModes) {
    // 5 elements {-3, 7, 20, -128, 1}: sum - Z_in * 5 = -103 + 20 = -83;
    // MBQM(-83, 1145324612, -1) = round(-44.27 / 2) = -22 -> -22 + 6 = -16.
    const std::vector<std::int8_t> five = {-3, 7, 20, -128, 1};
    for (const Shape& shape : {Shape{1, 5, 1}, Shape{1, 5, 1, 1}, Shape{1, 1, 5, 1}}) {
      CHECK(mean(shape, input, output, mode, five) == std::vector<std::int8_t>{-16});
      CHECK(mean(shape, input, output, mode, five, true) == std::vector<std::int8_t>{-16});
    }
    // 7 x 7 global average pool with raw sum -392: -392 + 4 * 49 = -196;
    // MBQM(-196, 934958866, -4) = round(-85.33 / 16) = -5 -> -5 + 6 = 1.
    CHECK(mean(Shape{1, 7, 7, 1}, input, output, mode, std::vector<std::int8_t>(49, -8)) ==
          std::vector<std::int8_t>{1});
    std::vector<std::int8_t> mixed(49, 0);
    mixed[0] = -128;
    mixed[1] = -128;
    mixed[2] = -128;
    mixed[48] = -8;  // sum -392
    CHECK(mean(Shape{1, 7, 7, 1}, input, output, mode, mixed) == std::vector<std::int8_t>{1});
  }
}

TEST_CASE("Mean: batches and channels, keep_dims and output shapes", "[kernels][mean]") {
  // Every (batch, channel) column constant: v = 10 * (3b + c) - 25. With S_in = S_out, Z = 0,
  // y = v * (q * n / 2^(30 + k)) and q * n / 2^(30 + k) is in (1 - 2^-29, 1]: exactly v.
  const Shape shape{2, 3, 4, 3};
  std::vector<std::int8_t> input(shape.element_count());
  for (std::size_t i = 0; i < input.size(); ++i) {
    const std::size_t b = i / 36;
    const std::size_t c = i % 3;
    input[i] = static_cast<std::int8_t>(10 * static_cast<int>(3 * b + c) - 25);
  }
  const std::vector<std::int8_t> expected = {-25, -15, -5, 5, 15, 25};
  const QuantParams same = tsq::make_quant_params(0.3f, 0, DataType::int8);
  for (const RoundingMode mode : kBothModes) {
    for (const bool keep_dims : {false, true}) {
      const auto params = tsq::prepare_mean({shape, same, same, keep_dims, mode});
      REQUIRE(params.is_ok());
      CHECK(params->output_shape == (keep_dims ? Shape{2, 1, 1, 3} : Shape{2, 3}));
      CHECK(run_mean(params.value(), input) == expected);
    }
  }
  CHECK(tsq::mean_output_shape(Shape{4, 10, 6}, true).value() == (Shape{4, 1, 6}));
  CHECK(tsq::mean_output_shape(Shape{4, 10, 6}, false).value() == (Shape{4, 6}));
}

TEST_CASE("Mean: strided views give the same result as dense ones", "[kernels][mean]") {
  // [2, 5, 4, 3] read as the channel-reversed view of a dense buffer (negative channel stride),
  // written into every third element of the output.
  tsq_test::Rng rng(3);
  const auto buffer = tsq_test::random_integers<std::int8_t>(rng, 2 * 5 * 4 * 3, -128, 127);
  std::vector<std::int8_t> dense(buffer.size());
  for (std::size_t p = 0; p < 40; ++p)
    for (std::size_t c = 0; c < 3; ++c) dense[p * 3 + c] = buffer[p * 3 + 2 - c];
  const std::ptrdiff_t strides[] = {60, 12, 3, -1};
  const auto params =
      tsq::prepare_mean({Shape{2, 5, 4, 3}, tsq::make_quant_params(0.05f, 9, DataType::int8),
                         tsq::make_quant_params(0.02f, -30, DataType::int8)});
  REQUIRE(params.is_ok());
  std::vector<std::int8_t> spread(18, 77);
  const std::ptrdiff_t output_strides[] = {9, 3};
  REQUIRE(tsq::reference::mean(
              params.value(),
              TensorView<const std::int8_t>::strided(buffer.data() + 2, Shape{2, 5, 4, 3}, strides),
              TensorView<std::int8_t>::strided(spread.data(), Shape{2, 3}, output_strides))
              .is_ok());
  const auto expected = run_mean(params.value(), dense);
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(spread[3 * i] == expected[i]);
    CHECK(spread[3 * i + 1] == 77);
  }
}

TEST_CASE("Mean int8 vs float on random layers", "[kernels][mean]") {
  // Bound, in output steps S_out (then times S_out):
  //  - the final MBQM rounds once (single: <= 1/2) or twice (double: <= 1/2 + 1/2^(r+1) <= 1);
  //  - the multiplier: q0 is S_in/S_out to a relative 2^-31, and the fold truncates q > 2^29 by
  //    less than 1: relative error < 2^-28 of the result |y|;
  //  - the float kernel sums n float32 values and divides, the inputs and the output were
  //    dequantized in float32: <= (n + 3) * 2^-24 * max|x| in real units;
  //  - both sides are clamped to the output range (1-Lipschitz).
  tsq_test::Rng rng(7);
  double worst[2] = {0.0, 0.0};
  int outputs = 0;
  for (int trial = 0; trial < 800; ++trial) {
    const bool spatial = trial % 3 != 0;
    const std::int32_t batch = 1 + static_cast<std::int32_t>(rng() % 3);
    const std::int32_t height = 1 + static_cast<std::int32_t>(rng() % 16);
    const std::int32_t width = 1 + static_cast<std::int32_t>(rng() % 16);
    const std::int32_t channels = 1 + static_cast<std::int32_t>(rng() % 8);
    const Shape shape =
        spatial ? Shape{batch, height, width, channels} : Shape{batch, height * width, channels};
    const RoundingMode mode = kBothModes[trial % 2];
    const bool keep_dims = trial % 4 < 2;
    const QuantParams input = tsq_test::random_int8_params(rng);
    // Output scale around the input's (a mean narrows the range), sometimes much smaller so
    // that outputs saturate, sometimes larger.
    std::uniform_real_distribution<float> log_ratio(-1.5f, 1.0f);
    const QuantParams output =
        tsq::make_quant_params(input.scale * std::pow(10.0f, log_ratio(rng)),
                               static_cast<std::int32_t>(rng() % 256) - 128, DataType::int8);
    const auto params = tsq::prepare_mean({shape, input, output, keep_dims, mode});
    REQUIRE(params.is_ok());
    // Inputs concentrated in a random sub-range, so that means are not all near Z_in.
    const std::int32_t lo = static_cast<std::int32_t>(rng() % 200) - 128;
    const std::int32_t hi = std::min(127, lo + 1 + static_cast<std::int32_t>(rng() % 128));
    const auto values = tsq_test::random_integers<std::int8_t>(rng, shape.element_count(), lo, hi);
    const auto y = run_mean(params.value(), values);

    const std::vector<float> x = tsq_test::dequantize_all(values, input);
    float largest = 0.0f;
    for (const float v : x) largest = std::max(largest, std::fabs(v));
    std::vector<float> expected(params->output_shape.element_count());
    REQUIRE(tsq::floating::mean(TensorView<const float>(x.data(), shape),
                                TensorView<float>(expected.data(), params->output_shape))
                .is_ok());
    const float lo_real = tsq::dequantize(std::int8_t{-128}, output);
    const float hi_real = tsq::dequantize(std::int8_t{127}, output);
    const float count = static_cast<float>(params->count);
    for (std::size_t i = 0; i < y.size(); ++i) {
      const float reference = std::min(std::max(expected[i], lo_real), hi_real);
      const float got = tsq::dequantize(y[i], output);
      const float steps = mode == RoundingMode::double_rounding ? 1.0f : 0.5f;
      const float bound =
          output.scale * steps + std::fabs(reference) * 3.8e-9f + (count + 3) * 5.97e-8f * largest;
      INFO("trial " << trial << " output " << i);
      REQUIRE(std::fabs(got - reference) <= bound);
      const double error = (std::fabs(got - reference) - (count + 3) * 5.97e-8f * largest) /
                           static_cast<double>(output.scale);
      worst[trial % 2] = std::max(worst[trial % 2], error);
      ++outputs;
    }
  }
  CHECK(outputs > 5000);
  // Measured worst case in output steps (run with -s to see): double rounding, single rounding.
  CHECK(worst[0] <= 1.0);
  CHECK(worst[1] <= 0.5);
}

TEST_CASE("Mean: the largest reduction the int32 accumulator allows", "[kernels][mean]") {
  // n = 2^23 = 4096 * 2048 values of -128 with Z_in = 127: sum - Z_in * n = -255 * 2^23, just
  // above -2^31. S_in = S_out, Z_out = 127: the mean is -255 steps -> 127 - 255 = -128.
  const Shape shape{1, 4096, 2048, 1};
  const std::vector<std::int8_t> values(shape.element_count(), -128);
  for (const RoundingMode mode : kBothModes) {
    CHECK(mean(shape, tsq::make_quant_params(0.5f, 127, DataType::int8),
               tsq::make_quant_params(0.5f, 127, DataType::int8), mode,
               values) == std::vector<std::int8_t>{-128});
    // S_out = 4 S_in: -255 / 4 = -63.75 -> -64.
    CHECK(mean(shape, tsq::make_quant_params(0.5f, 127, DataType::int8),
               tsq::make_quant_params(2.0f, 0, DataType::int8), mode,
               values) == std::vector<std::int8_t>{-64});
  }
  const QuantParams act = tsq::make_quant_params(0.5f, 0, DataType::int8);
  CHECK(tsq::prepare_mean({Shape{1, 4097, 2048, 1}, act, act}).status().code() ==
        ErrorCode::invalid_argument);
}

TEST_CASE("Mean validation errors", "[kernels][mean]") {
  const QuantParams act = tsq::make_quant_params(0.1f, 0, DataType::int8);
  const tsq::MeanQuantization q{Shape{1, 4, 4, 2}, act, act};
  REQUIRE(tsq::prepare_mean(q).is_ok());
  const auto code = [](const tsq::MeanQuantization& bad) {
    return tsq::prepare_mean(bad).status().code();
  };
  auto bad = q;
  bad.input_shape = Shape{4, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.input_shape = Shape{1, 2, 3, 4, 5};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.input_shape = Shape{1, 0, 4, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.input.scale = std::nanf("");
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.output.scale = -1.0f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.input = tsq::make_quant_params(0.1f, 0, DataType::int16);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.output = tsq::make_quant_params(0.1f, 0, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.output.zero_point = -129;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // S_in / S_out >= 2^30 cannot be applied with double rounding; single rounding saturates the
  // multiplier as TFLite does.
  bad = q;
  bad.output.scale = 1e-11f;
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  bad.rounding = RoundingMode::single_rounding;
  CHECK(tsq::prepare_mean(bad).is_ok());

  const auto params = tsq::prepare_mean(q).value();
  std::vector<std::int8_t> input(32), output(2);
  CHECK(tsq::reference::mean(params, TensorView<const std::int8_t>(input.data(), Shape{1, 16, 2}),
                             TensorView<std::int8_t>(output.data(), Shape{1, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::mean(params, TensorView<const std::int8_t>(input.data(), Shape{1, 4, 4, 2}),
                             TensorView<std::int8_t>(output.data(), Shape{1, 1, 1, 2}))
            .code() == ErrorCode::shape_mismatch);
  std::vector<float> xf(32), yf(2);
  CHECK(tsq::floating::mean(TensorView<const float>(xf.data(), Shape{1, 4, 4, 2}),
                            TensorView<float>(yf.data(), Shape{1, 1, 1, 2}))
            .is_ok());
  CHECK(tsq::floating::mean(TensorView<const float>(xf.data(), Shape{1, 4, 4, 2}),
                            TensorView<float>(yf.data(), Shape{2, 1}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::floating::mean(TensorView<const float>(xf.data(), Shape{32}),
                            TensorView<float>(yf.data(), Shape{1, 2}))
            .code() == ErrorCode::shape_mismatch);
}
