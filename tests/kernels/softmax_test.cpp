// SPDX-License-Identifier: Apache-2.0
// Softmax: the spec 3.16 vector, hand-computed rows, the rounding-mode cap, the int16 tables,
// integer vs float on random rows (int8 -> int8, int8 -> int16, int16 -> int16) and every
// validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/reference/softmax.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;

namespace {

const QuantParams kInt8Output = tsq::make_quant_params(1.0f / 256, -128, DataType::int8);
const QuantParams kInt8ToInt16Output =
    tsq::make_quant_params(1.0f / 65536, -32768, DataType::int16);
const QuantParams kInt16Output = tsq::make_quant_params(1.0f / 32768, 0, DataType::int16);

template <typename Input, typename Output>
std::vector<Output> run_softmax(const tsq::SoftmaxParams& params, const std::vector<Input>& input,
                                const Shape& shape) {
  std::vector<Output> output(input.size());
  const tsq::Status status =
      tsq::reference::softmax(params, TensorView<const Input>(input.data(), shape),
                              TensorView<Output>(output.data(), shape));
  REQUIRE(status.is_ok());
  return output;
}

std::vector<float> float_softmax(float beta, const std::vector<float>& x, const Shape& shape) {
  std::vector<float> y(x.size());
  REQUIRE(tsq::floating::softmax(beta, TensorView<const float>(x.data(), shape),
                                 TensorView<float>(y.data(), shape))
              .is_ok());
  return y;
}

}  // namespace

TEST_CASE("Softmax int8: the spec 3.16 vector in both rounding modes", "[kernels][softmax]") {
  // S_in = 0.1, beta = 1: M = 0.1 * 2^26 = 6710886.4 -> (1717986944, 23), diff_min =
  // -floor(31 * 2^26 / 2^23) = -248. Row {10, 20, 30, -128} -> {-105, -65, 42, -128}
  // (exact: 256 * softmax({1, 2, 3, -12.8}) - 128 = {-104.9, -65.4, 42.3, -128.0}).
  for (const RoundingMode rounding :
       {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
    const tsq::SoftmaxQuantization q{Shape{1, 4}, tsq::make_quant_params(0.1f, 0, DataType::int8),
                                     kInt8Output, 1.0f, rounding};
    const auto params = tsq::prepare_softmax(q);
    REQUIRE(params.is_ok());
    CHECK(params->input_multiplier == (QuantizedMultiplier{1717986944, 23}));
    CHECK(params->diff_min == -248);
    const std::vector<std::int8_t> input = {10, 20, 30, -128};
    CHECK(run_softmax<std::int8_t, std::int8_t>(params.value(), input, Shape{1, 4}) ==
          std::vector<std::int8_t>{-105, -65, 42, -128});
  }
}

TEST_CASE("Softmax int8: hand-computed rows", "[kernels][softmax]") {
  const tsq::SoftmaxQuantization q{Shape{3, 2}, tsq::make_quant_params(0.1f, 7, DataType::int8),
                                   kInt8Output};
  const auto params = tsq::prepare_softmax(q);
  REQUIRE(params.is_ok());
  // Two equal values: sum = 2 * 2^19 (Q12.19), 1 bit over unit, reciprocal of (1 + 0) = 1 in
  // Q0.31 (saturated to 2^31 - 1); exp(0) = 2^31 - 1, so (2^31 - 2) / 2^24 rounds to 128 -> 0.
  // A row [x, x - 248]: the difference is exactly diff_min, exp(-24.8) ~ 1.7e-11 counts but
  // rounds to 0 -> -128; the maximum gets p = 1 -> 256 - 128 = 128, saturated to 127.
  // A row [x, x - 249]: the second element is below diff_min -> -128 directly.
  const std::vector<std::int8_t> input = {5, 5, 120, -128, 127, -122};
  CHECK(run_softmax<std::int8_t, std::int8_t>(params.value(), input, Shape{3, 2}) ==
        std::vector<std::int8_t>{0, 0, 127, -128, 127, -128});
  // int8 -> int16: p = 1/2 -> 32768 - 32768 = 0; p = 1 -> 65536 - 32768 saturates to 32767.
  const tsq::SoftmaxQuantization q16{Shape{3, 2}, q.input, kInt8ToInt16Output};
  const auto params16 = tsq::prepare_softmax(q16);
  REQUIRE(params16.is_ok());
  CHECK(run_softmax<std::int8_t, std::int16_t>(params16.value(), input, Shape{3, 2}) ==
        std::vector<std::int16_t>{0, 0, 32767, -32768, 32767, -32768});
}

TEST_CASE("Softmax int8: long rows, where TFLite-Micro would abort", "[kernels][softmax]") {
  // 300 equal values: sum = 300 * 2^19, 8 bits over unit, exponent 31: p = 1/300 -> 0.853 -> 1.
  // 600 equal values: 9 bits over unit, exponent 32 (TFLite-Micro's TFLITE_CHECK fails):
  // p = 1/600 -> 0.427 rounds to 0 -> -128, which tsq writes.
  for (const std::int32_t depth : {300, 600, tsq::kMaxSoftmaxDepthInt8}) {
    const tsq::SoftmaxQuantization q{Shape{1, depth},
                                     tsq::make_quant_params(0.05f, 0, DataType::int8), kInt8Output};
    const auto params = tsq::prepare_softmax(q);
    REQUIRE(params.is_ok());
    const std::vector<std::int8_t> input(static_cast<std::size_t>(depth), 42);
    const auto output =
        run_softmax<std::int8_t, std::int8_t>(params.value(), input, Shape{1, depth});
    const std::int8_t expected = depth == 300 ? -127 : -128;
    CHECK(std::all_of(output.begin(), output.end(), [&](std::int8_t y) { return y == expected; }));
  }
}

TEST_CASE("Softmax int8: the multiplier cap differs by rounding mode", "[kernels][softmax]") {
  // beta * S_in = 20: beta * S_in * 2^26 = 1.34e9 >= 2^30. Double rounding keeps it (cap
  // 2^31 - 1): frexp gives shift 31, diff_min = -floor(31 * 2^26 / 2^31) = 0, so only the row
  // maximum counts. Single rounding caps it at 2^30 - 1 -> (2^31 - 2, 30), diff_min = -1.
  QuantParams input = tsq::make_quant_params(1.0f, 0, DataType::int8);
  tsq::SoftmaxQuantization q{Shape{2, 3}, input, kInt8Output, 20.0f, RoundingMode::double_rounding};
  const auto double_params = tsq::prepare_softmax(q);
  REQUIRE(double_params.is_ok());
  CHECK(double_params->input_multiplier == (QuantizedMultiplier{1342177280, 31}));
  CHECK(double_params->diff_min == 0);
  q.rounding = RoundingMode::single_rounding;
  const auto single_params = tsq::prepare_softmax(q);
  REQUIRE(single_params.is_ok());
  CHECK(single_params->input_multiplier == (QuantizedMultiplier{2147483646, 30}));
  CHECK(single_params->diff_min == -1);
  // Both give the exact answer to the int8 resolution: a difference of -1 means exp(-20) (or
  // exp(-16) after the cap), which rounds to 0.
  const std::vector<std::int8_t> rows = {3, 2, 3, -7, 50, 49};
  const std::vector<std::int8_t> expected = {0, -128, 0, -128, 127, -128};
  CHECK(run_softmax<std::int8_t, std::int8_t>(double_params.value(), rows, Shape{2, 3}) ==
        expected);
  CHECK(run_softmax<std::int8_t, std::int8_t>(single_params.value(), rows, Shape{2, 3}) ==
        expected);
  // Above beta * S_in = 32 double rounding is capped too: (2^31 - 1, 31).
  q.beta = 40.0f;
  q.rounding = RoundingMode::double_rounding;
  CHECK(tsq::prepare_softmax(q)->input_multiplier == (QuantizedMultiplier{2147483647, 31}));
}

TEST_CASE("Softmax int8 vs float on random rows, both output types and rounding modes",
          "[kernels][softmax]") {
  // Bound, in output steps (1/256 or 1/65536), for p = the float softmax of the dequantized row:
  //  - final rounding: 0.5, plus 2^-15 from the doubling high multiply before it;
  //  - each exponential: Taylor/fixed-point error <= 560 * 2^-31 < 3e-7 (fixed_point_math_test),
  //    input rescaling to Q5.26 < 4e-8 relative, rounding to the Q12.19 sum < 2^-20 = 9.6e-7,
  //    a skipped term (below diff_min) < e^-15.5 = 1.9e-7: |sum error| < 1.5e-6 * n, and the sum
  //    is >= 1, so |p error| < p * 1.5e-6 * n + 4e-7 (plus 2e-8 for the reciprocal);
  //  - the float reference: float32 exp and sum, < 2e-7 * n relative.
  // bound = 0.5 + 2^-15 + 2^bits * (1.7e-6 * n * p + 5e-7). The saturation at p = 1 (+1.0 is
  // not representable) is applied to the reference too.
  tsq_test::Rng rng(2024);
  double worst_int8 = 0.0, worst_int16 = 0.0;
  int cases = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const std::int32_t depth = trial == 0 ? 1000 : 1 + static_cast<std::int32_t>(rng() % 64);
    const std::int32_t rows = 1 + static_cast<std::int32_t>(rng() % 4);
    const Shape shape = trial % 3 == 0 ? Shape{rows, depth} : Shape{1, rows, depth};
    const QuantParams input = tsq_test::random_int8_params(rng);
    const float betas[] = {1.0f, 0.5f, 2.0f, 0.125f, 3.0f};
    const float beta = betas[trial % 5];
    const RoundingMode rounding =
        trial % 2 == 0 ? RoundingMode::double_rounding : RoundingMode::single_rounding;
    const bool int16_output = trial % 4 >= 2;
    const auto q_in = tsq_test::random_integers<std::int8_t>(
        rng, static_cast<std::size_t>(rows * depth), -128, 127);
    const tsq::SoftmaxQuantization q{shape, input, int16_output ? kInt8ToInt16Output : kInt8Output,
                                     beta, rounding};
    const auto params = tsq::prepare_softmax(q);
    if (!params.is_ok()) {
      // beta * S_in <= 2^-26 cannot happen for the scales drawn here.
      FAIL(params.status().message());
    }
    const std::vector<float> p = float_softmax(beta, tsq_test::dequantize_all(q_in, input), shape);
    const double steps = int16_output ? 65536.0 : 256.0;
    const double offset = int16_output ? -32768.0 : -128.0;
    const double top = int16_output ? 32767.0 : 127.0;
    std::vector<double> got(q_in.size());
    if (int16_output) {
      const auto y = run_softmax<std::int8_t, std::int16_t>(params.value(), q_in, shape);
      std::copy(y.begin(), y.end(), got.begin());
    } else {
      const auto y = run_softmax<std::int8_t, std::int8_t>(params.value(), q_in, shape);
      std::copy(y.begin(), y.end(), got.begin());
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double expected = std::min(static_cast<double>(p[i]) * steps + offset, top);
      const double bound =
          0.5 + 3.1e-5 + steps * (1.7e-6 * depth * static_cast<double>(p[i]) + 5e-7);
      const double error = std::fabs(got[i] - expected);
      (int16_output ? worst_int16 : worst_int8) =
          std::max(int16_output ? worst_int16 : worst_int8, error);
      INFO("trial " << trial << " element " << i << " p " << p[i] << " depth " << depth);
      REQUIRE(error <= bound);
      ++cases;
    }
  }
  INFO("worst error: int8 output " << worst_int8 << " steps, int16 output " << worst_int16);
  // Measured: 0.49996 (int8 output) and 0.69 (int16 output) steps.
  CHECK(worst_int8 < 0.51);
  CHECK(worst_int16 < 0.75);
  CHECK(cases > 10000);
}

TEST_CASE("Softmax int16: the constexpr tables equal TFLite-Micro's float recipe",
          "[kernels][softmax]") {
  std::vector<std::int16_t> exp_table(tsq::kSoftmaxTableSize), reciprocal(tsq::kSoftmaxTableSize);
  REQUIRE(tsq::populate_softmax_int16_tables(exp_table, reciprocal).is_ok());
  int differences = 0;
  for (std::size_t i = 0; i < tsq::kSoftmaxTableSize; ++i) {
    differences += exp_table[i] != tsq::kSoftmaxExpTable[i];
    differences += reciprocal[i] != tsq::kSoftmaxReciprocalTable[i];
  }
  CHECK(differences == 0);
  // End points: exp(-10) * 32768 = 1.49 -> 2 (after the bias correction), exp(0) saturates at
  // 32767; 1/(1+0) saturates at 32767, 1/(1+1) = 16384.
  CHECK(tsq::kSoftmaxExpTable[0] == 2);
  CHECK(tsq::kSoftmaxExpTable[512] == 32767);
  CHECK(tsq::kSoftmaxReciprocalTable[0] == 32767);
  CHECK(tsq::kSoftmaxReciprocalTable[512] == 16384);
  // The sampled values are within 2 steps of round(32768 * f) everywhere.
  for (std::size_t i = 0; i < tsq::kSoftmaxTableSize; ++i) {
    const double x = static_cast<double>(i) / 512.0;
    const double exp_exact = std::min(32767.0, 32768.0 * std::exp(-10.0 + 10.0 * x));
    const double reciprocal_exact = std::min(32767.0, 32768.0 / (1.0 + x));
    REQUIRE(std::fabs(tsq::kSoftmaxExpTable[i] - exp_exact) <= 2.0);
    REQUIRE(std::fabs(tsq::kSoftmaxReciprocalTable[i] - reciprocal_exact) <= 2.0);
  }
  std::vector<std::int16_t> short_table(512);
  CHECK(tsq::populate_softmax_int16_tables(short_table, reciprocal).code() ==
        ErrorCode::buffer_too_small);
}

TEST_CASE("Softmax int16: hand-computed row and caller-storage tables", "[kernels][softmax]") {
  // Row [0, 0]: both differences are 0 -> table input 32767 -> segment 511, offset 127:
  // 32133 + ((32767 - 32133) * 127 + 64) >> 7 = 32133 + 629 = 32762 each; sum 65524 has 16
  // leading zeros: ((65524 << 15) + 2^13) >> 14 = 131048 -> 131048 - 98304 = 32744 -> segment
  // 511, offset 104: 16400 + ((16384 - 16400) * 104 + 64) >> 7 = 16400 - 13 = 16387;
  // (32762 * 16387 + 2^14) >> 15 = 16384 = 0.5 at 1/32768.
  const tsq::SoftmaxQuantization q{Shape{1, 2}, tsq::make_quant_params(0.001f, 0, DataType::int16),
                                   kInt16Output};
  const auto params = tsq::prepare_softmax(q);
  REQUIRE(params.is_ok());
  CHECK(params->exp_table.data() == tsq::kSoftmaxExpTable);
  const std::vector<std::int16_t> input = {0, 0};
  CHECK(run_softmax<std::int16_t, std::int16_t>(params.value(), input, Shape{1, 2}) ==
        std::vector<std::int16_t>{16384, 16384});
  // The float-generated tables in caller storage give the same outputs on random rows.
  std::vector<std::int16_t> exp_storage(tsq::kSoftmaxTableSize),
      reciprocal_storage(tsq::kSoftmaxTableSize);
  const tsq::SoftmaxQuantization q2{Shape{4, 50}, q.input, kInt16Output, 1.5f};
  const auto constexpr_params = tsq::prepare_softmax(q2);
  const auto storage_params = tsq::prepare_softmax(q2, exp_storage, reciprocal_storage);
  REQUIRE(storage_params.is_ok());
  CHECK(storage_params->exp_table.data() == exp_storage.data());
  tsq_test::Rng rng(5);
  const auto rows = tsq_test::random_integers<std::int16_t>(rng, 200, -32768, 32767);
  CHECK(run_softmax<std::int16_t, std::int16_t>(constexpr_params.value(), rows, Shape{4, 50}) ==
        run_softmax<std::int16_t, std::int16_t>(storage_params.value(), rows, Shape{4, 50}));
  // In place: the output may alias the input.
  std::vector<std::int16_t> in_place = rows;
  REQUIRE(tsq::reference::softmax(storage_params.value(),
                                  TensorView<const std::int16_t>(in_place.data(), Shape{4, 50}),
                                  TensorView<std::int16_t>(in_place.data(), Shape{4, 50}))
              .is_ok());
  CHECK(in_place ==
        run_softmax<std::int16_t, std::int16_t>(storage_params.value(), rows, Shape{4, 50}));
}

TEST_CASE("Softmax int16 vs float on random rows, both rounding modes", "[kernels][softmax]") {
  // Bound, in steps of 1/32768, from the tables' construction: the scaled difference is rounded
  // to 10/65535 (1.5e-4, doubled by double rounding) -> relative 1.6e-4 on each exponential;
  // the exp table and its interpolation err by <= 3 steps absolute and by 1.9e-4 relative at
  // exp(0) (32762 for 32768). Differences below -10 all read exp(-10) = 2 steps (TFLite-Micro
  // treats them as negligible), so n such terms inflate the sum by up to 2n steps. The reciprocal
  // table errs by <= 2 of its >= 16384 steps (1.2e-4); the final rounding 0.5 and the saturation
  // of p = 1 at 32767 one more. With the sum >= 1 (32768 steps):
  // |error| <= 1.5 + 32768 * p * (2 * 3.5e-4 + 1.2e-4) + 3 * (1 + n * p).
  tsq_test::Rng rng(1616);
  double worst = 0.0, worst_ratio = 0.0, worst_short_rows = 0.0;
  for (int trial = 0; trial < 300; ++trial) {
    const std::int32_t depth = trial == 0 ? 1000 : 1 + static_cast<std::int32_t>(rng() % 40);
    const std::int32_t rows = 1 + static_cast<std::int32_t>(rng() % 3);
    const QuantParams input = tsq_test::random_int16_params(rng);
    const float beta = trial % 3 == 0 ? 1.0f : (trial % 3 == 1 ? 0.7f : 2.5f);
    // Keep beta * S_in * 65535 within the table's [-10, 0] for some rows and far beyond for others.
    const std::int32_t spread = trial % 2 == 0 ? 32767 : 2000;
    const auto q_in = tsq_test::random_integers<std::int16_t>(
        rng, static_cast<std::size_t>(rows * depth), -spread, spread);
    const RoundingMode rounding =
        trial % 4 < 2 ? RoundingMode::double_rounding : RoundingMode::single_rounding;
    const tsq::SoftmaxQuantization q{Shape{rows, depth}, input, kInt16Output, beta, rounding};
    const auto params = tsq::prepare_softmax(q);
    REQUIRE(params.is_ok());
    const auto y =
        run_softmax<std::int16_t, std::int16_t>(params.value(), q_in, Shape{rows, depth});
    const std::vector<float> p =
        float_softmax(beta, tsq_test::dequantize_all(q_in, input), Shape{rows, depth});
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double pi = p[i];
      const double expected = std::min(pi * 32768.0, 32767.0);
      const double bound = 1.5 + 32768.0 * pi * 8.2e-4 + 3.0 * (1.0 + depth * pi);
      const double error = std::fabs(y[i] - expected);
      worst = std::max(worst, error);
      worst_ratio = std::max(worst_ratio, error / bound);
      if (depth <= 4) worst_short_rows = std::max(worst_short_rows, error);
      INFO("trial " << trial << " element " << i << " p " << pi);
      REQUIRE(error <= bound);
    }
  }
  // Measured: 67 steps at worst (a 35-element row with p = 1 whose 34 other terms read 2 steps
  // each), at most 0.5 of the bound, and < 3 steps for rows of <= 4 elements.
  INFO("worst int16 softmax error " << worst << " steps of 1/32768, " << worst_ratio
                                    << " of the bound; rows <= 4: " << worst_short_rows);
  CHECK(worst_ratio < 0.6);
  CHECK(worst_short_rows < 4.0);
}

TEST_CASE("Softmax float32: rows sum to 1 and match double precision", "[kernels][softmax]") {
  tsq_test::Rng rng(9);
  const auto x = tsq_test::random_floats(rng, 6 * 7, -50.0f, 50.0f);
  const auto y = float_softmax(0.8f, x, Shape{6, 7});
  for (int row = 0; row < 6; ++row) {
    double max_value = -1e30, sum = 0.0, row_sum = 0.0;
    for (int c = 0; c < 7; ++c)
      max_value = std::max(max_value, static_cast<double>(x[row * 7 + c]));
    for (int c = 0; c < 7; ++c) sum += std::exp(0.8 * (x[row * 7 + c] - max_value));
    for (int c = 0; c < 7; ++c) {
      const double expected = std::exp(0.8 * (x[row * 7 + c] - max_value)) / sum;
      CHECK(std::fabs(y[row * 7 + c] - expected) <= 1e-6 * (1.0 + expected * 7));
      row_sum += y[row * 7 + c];
    }
    CHECK(std::fabs(row_sum - 1.0) < 1e-5);
  }
  // Large inputs do not overflow.
  const std::vector<float> big = {1000.0f, 999.0f};
  const auto p = float_softmax(1.0f, big, Shape{2});
  CHECK(std::fabs(p[0] - 1.0 / (1.0 + std::exp(-1.0))) < 1e-6);
}

TEST_CASE("Softmax validation errors", "[kernels][softmax]") {
  const QuantParams input8 = tsq::make_quant_params(0.1f, 0, DataType::int8);
  const QuantParams input16 = tsq::make_quant_params(0.001f, 0, DataType::int16);
  const tsq::SoftmaxQuantization good{Shape{2, 3}, input8, kInt8Output};
  REQUIRE(tsq::prepare_softmax(good).is_ok());
  const auto code = [](const tsq::SoftmaxQuantization& q) {
    return tsq::prepare_softmax(q).status().code();
  };
  auto bad = good;
  bad.shape = Shape{};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.shape = Shape{2, -3};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = good;
  bad.beta = 0.0f;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad.beta = std::nanf("");
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.input.scale = -0.1f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = good;
  bad.output.scale = 1.0f / 255;  // TFLite-Micro compares 1/256 exactly
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output.zero_point = -127;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output.quant_min = -127;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output = tsq::make_quant_params(1.0f / 65536 * 1.002f, -32768, DataType::int16);
  CHECK(code(bad) == ErrorCode::invalid_argument);  // int8 -> int16: 0.1 % tolerance
  bad.output.scale = 1.0f / 65536 * 1.0009f;
  CHECK(code(bad) == ErrorCode::ok);
  bad.output.zero_point = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.output = tsq::make_quant_params(1.0f / 256, 0, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = good;
  bad.input = tsq::make_quant_params(0.1f, 0, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = good;
  bad.input = input16;
  CHECK(code(bad) == ErrorCode::unsupported_type);  // int16 -> int8
  bad = good;
  bad.shape = Shape{1, tsq::kMaxSoftmaxDepthInt8 + 1};
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good;
  bad.input.scale = 1e-9f;  // beta * S_in * 2^26 < 1
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // int16 input.
  const tsq::SoftmaxQuantization good16{Shape{2, 3}, input16, kInt16Output};
  REQUIRE(tsq::prepare_softmax(good16).is_ok());
  bad = good16;
  bad.input.zero_point = 1;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.output.zero_point = 1;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.output.scale = 1.0f / 65536;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.shape = Shape{1, tsq::kMaxSoftmaxDepthInt16 + 1};
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = good16;
  bad.input.scale = 1e6f;  // multiplier >= 2^30 cannot be applied in double rounding
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  std::vector<std::int16_t> small(100), enough(tsq::kSoftmaxTableSize);
  CHECK(tsq::prepare_softmax(good16, small, enough).status().code() == ErrorCode::buffer_too_small);

  // Eval: shapes, types, contiguity.
  const auto params = tsq::prepare_softmax(good).value();
  std::vector<std::int8_t> in8(6), out8(6);
  std::vector<std::int16_t> out16(6), in16(6);
  CHECK(tsq::reference::softmax(params, TensorView<const std::int8_t>(in8.data(), Shape{3, 2}),
                                TensorView<std::int8_t>(out8.data(), Shape{3, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::softmax(params, TensorView<const std::int8_t>(in8.data(), Shape{2, 3}),
                                TensorView<std::int8_t>(out8.data(), Shape{6}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::softmax(params, TensorView<const std::int8_t>(in8.data(), Shape{2, 3}),
                                TensorView<std::int16_t>(out16.data(), Shape{2, 3}))
            .code() == ErrorCode::unsupported_type);
  CHECK(tsq::reference::softmax(params, TensorView<const std::int16_t>(in16.data(), Shape{2, 3}),
                                TensorView<std::int16_t>(out16.data(), Shape{2, 3}))
            .code() == ErrorCode::unsupported_type);
  const std::ptrdiff_t strides[] = {1, 2};  // a transposed reading
  CHECK(tsq::reference::softmax(
            params, TensorView<const std::int8_t>::strided(in8.data(), Shape{2, 3}, strides),
            TensorView<std::int8_t>(out8.data(), Shape{2, 3}))
            .code() == ErrorCode::invalid_argument);
  auto no_tables = tsq::prepare_softmax(good16).value();
  no_tables.exp_table = {};
  CHECK(tsq::reference::softmax(no_tables, TensorView<const std::int16_t>(in16.data(), Shape{2, 3}),
                                TensorView<std::int16_t>(out16.data(), Shape{2, 3}))
            .code() == ErrorCode::invalid_argument);
  // Float kernel.
  std::vector<float> xf(6), yf(6);
  CHECK(tsq::floating::softmax(1.0f, TensorView<const float>(xf.data(), Shape{2, 3}),
                               TensorView<float>(yf.data(), Shape{3, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::floating::softmax(-1.0f, TensorView<const float>(xf.data(), Shape{2, 3}),
                               TensorView<float>(yf.data(), Shape{2, 3}))
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::floating::softmax(1.0f, TensorView<const float>(xf.data(), Shape{}),
                               TensorView<float>(yf.data(), Shape{}))
            .code() == ErrorCode::shape_mismatch);
}
