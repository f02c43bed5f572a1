// SPDX-License-Identifier: Apache-2.0
// simd::softmax (the exponentials tabled once) against reference::softmax, bit for bit: random
// int8 input scales, betas, both rounding modes, int8 and int16 outputs, rows of 1 to 300
// classes; and its errors.
#include <cmath>
#include <cstdint>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/kernels/simd/softmax.hpp"

namespace {

using tsq_test::pick;
using tsq_test::Rng;

template <typename Output>
void check_random_layers(Rng& rng, tsq::DataType output_type) {
  const tsq::QuantParams output =
      output_type == tsq::DataType::int8
          ? tsq::make_quant_params(1.0f / 256, -128, tsq::DataType::int8)
          : tsq::make_quant_params(1.0f / 65536, -32768, tsq::DataType::int16);
  for (int trial = 0; trial < 300; ++trial) {
    const std::int32_t rows = pick(rng, 1, 4);
    const std::int32_t depth = pick(rng, 0, 4) == 0 ? pick(rng, 100, 300) : pick(rng, 1, 12);
    tsq::SoftmaxQuantization q;
    q.shape = tsq::Shape{rows, depth};
    q.input = tsq::make_quant_params(static_cast<float>(std::pow(10.0, pick(rng, -30, 5) / 10.0)),
                                     pick(rng, -128, 127), tsq::DataType::int8);
    q.output = output;
    q.beta = static_cast<float>(std::pow(10.0, pick(rng, -10, 10) / 10.0));
    q.rounding = pick(rng, 0, 1) == 0 ? tsq::RoundingMode::double_rounding
                                      : tsq::RoundingMode::single_rounding;
    const auto params = tsq::prepare_softmax(q);
    if (!params.is_ok()) continue;  // a multiplier outside the kernel's range: refused by both
    tsq::simd::SoftmaxExpTable table;
    REQUIRE(tsq::simd::make_softmax_exp_table(*params, table).is_ok());
    std::vector<std::int8_t> input(static_cast<std::size_t>(rows * depth));
    // Narrow rows (all within a few steps) and wide ones (differences past diff_min).
    const std::int32_t spread = pick(rng, 0, 1) == 0 ? 6 : 255;
    const std::int32_t low = pick(rng, -128, 127 - (spread < 255 ? spread : 0));
    for (auto& x : input) {
      x = static_cast<std::int8_t>(spread < 255 ? low + pick(rng, 0, spread)
                                                : pick(rng, -128, 127));
    }
    std::vector<Output> expected(input.size()), got(input.size(), 7);
    const tsq::TensorView<const std::int8_t> x(input.data(), q.shape);
    REQUIRE(tsq::reference::softmax(*params, x, tsq::TensorView<Output>(expected.data(), q.shape))
                .is_ok());
    REQUIRE(tsq::simd::softmax(*params, table, x, tsq::TensorView<Output>(got.data(), q.shape))
                .is_ok());
    INFO("trial " << trial << " depth " << depth << " beta " << q.beta << " scale "
                  << q.input.scale);
    CHECK(got == expected);
  }
}

}  // namespace

TEST_CASE("simd::softmax equals reference::softmax on random int8 layers", "[simd][softmax]") {
  Rng rng(256);
  check_random_layers<std::int8_t>(rng, tsq::DataType::int8);
  check_random_layers<std::int16_t>(rng, tsq::DataType::int16);
}

TEST_CASE("simd::softmax errors", "[simd][softmax]") {
  tsq::SoftmaxQuantization q;
  q.shape = tsq::Shape{1, 4};
  q.input = tsq::make_quant_params(0.1f, 0, tsq::DataType::int8);
  q.output = tsq::make_quant_params(1.0f / 256, -128, tsq::DataType::int8);
  const auto params = tsq::prepare_softmax(q);
  REQUIRE(params.is_ok());
  std::vector<std::int8_t> input(4), output(4);
  const tsq::TensorView<const std::int8_t> x(input.data(), q.shape);
  const tsq::TensorView<std::int8_t> y(output.data(), q.shape);

  tsq::simd::SoftmaxExpTable empty;
  CHECK(tsq::simd::softmax(*params, empty, x, y).code() == tsq::ErrorCode::not_prepared);

  tsq::simd::SoftmaxExpTable table;
  REQUIRE(tsq::simd::make_softmax_exp_table(*params, table).is_ok());
  CHECK(tsq::simd::softmax(*params, table, x, y).is_ok());
  const tsq::TensorView<std::int8_t> wrong(output.data(), tsq::Shape{2, 2});
  CHECK(tsq::simd::softmax(*params, table, x, wrong).code() == tsq::ErrorCode::shape_mismatch);

  tsq::SoftmaxQuantization other = q;
  other.input = tsq::make_quant_params(0.05f, 0, tsq::DataType::int8);
  const auto other_params = tsq::prepare_softmax(other);
  REQUIRE(other_params.is_ok());
  CHECK(tsq::simd::softmax(*other_params, table, x, y).code() == tsq::ErrorCode::invalid_argument);

  tsq::SoftmaxQuantization wide = q;
  wide.input = tsq::make_quant_params(0.001f, 0, tsq::DataType::int16);
  wide.output = tsq::make_quant_params(1.0f / 32768, 0, tsq::DataType::int16);
  const auto wide_params = tsq::prepare_softmax(wide);
  REQUIRE(wide_params.is_ok());
  tsq::simd::SoftmaxExpTable unused;
  CHECK(tsq::simd::make_softmax_exp_table(*wide_params, unused).code() ==
        tsq::ErrorCode::unsupported_type);
}
