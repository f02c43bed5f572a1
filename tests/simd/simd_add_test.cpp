// SPDX-License-Identifier: Apache-2.0
// simd::add against reference::add, bit for bit, on every path this CPU runs: equal shapes of
// every length around the vector widths, broadcast shapes of rank 1-4 (axes of size 1 on either
// side, missing leading axes, a broadcast last axis), scales from equal to 2^20 apart (flushed
// multipliers), activations, both rounding modes; errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/kernels/simd/add.hpp"

using tsq::ErrorCode;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_simd_test::pick;
using tsq_simd_test::Rng;

namespace {

tsq::QuantParams random_params(Rng& rng, bool wide) {
  const double exponent = wide ? pick(rng, -20, 20) : pick(rng, -2, 2);
  const double scale =
      std::ldexp(0.01 * (1.0 + pick(rng, 0, 999) / 1000.0), static_cast<int>(exponent));
  return tsq::make_quant_params(static_cast<float>(scale), pick(rng, -128, 127),
                                tsq::DataType::int8);
}

Shape random_shape(Rng& rng, int rank) {
  std::int32_t dims[4] = {};
  for (int axis = 0; axis < rank; ++axis) dims[axis] = pick(rng, 1, axis == rank - 1 ? 40 : 5);
  return Shape::make(tsq::Span<const std::int32_t>(dims, static_cast<std::size_t>(rank))).value();
}

// `shape` with some axes set to 1 and some leading axes dropped: it broadcasts to `shape`.
Shape broadcast_of(Rng& rng, const Shape& shape) {
  const int rank = shape.rank() - pick(rng, 0, shape.rank() - 1);
  std::int32_t dims[4] = {};
  for (int axis = 0; axis < rank; ++axis) {
    const std::int32_t size = shape[shape.rank() - rank + axis];
    dims[axis] = pick(rng, 0, 2) == 0 ? 1 : size;
  }
  return Shape::make(tsq::Span<const std::int32_t>(dims, static_cast<std::size_t>(rank))).value();
}

void check_add(Rng& rng, const Shape& shape1, const Shape& shape2, bool wide, int trial) {
  tsq::AddQuantization q;
  q.input1_shape = shape1;
  q.input2_shape = shape2;
  q.input1 = random_params(rng, wide);
  q.input2 = random_params(rng, wide);
  q.output = random_params(rng, false);
  q.activation = static_cast<tsq::FusedActivation>(pick(rng, 0, 2));
  const std::vector<std::int8_t> input1 =
      tsq_test::random_integers<std::int8_t>(rng, shape1.element_count(), -128, 127);
  const std::vector<std::int8_t> input2 =
      tsq_test::random_integers<std::int8_t>(rng, shape2.element_count(), -128, 127);
  for (const RoundingMode rounding : tsq_test::kBothModes) {
    q.rounding = rounding;
    const auto params = tsq::prepare_add(q);
    if (!params.is_ok()) continue;  // an output scale too small for the inputs' (rare)
    const Shape& output_shape = params->output_shape;
    const TensorView<const std::int8_t> in1(input1.data(), shape1);
    const TensorView<const std::int8_t> in2(input2.data(), shape2);
    std::vector<std::int8_t> expected(output_shape.element_count());
    REQUIRE(tsq::reference::add(*params, in1, in2,
                                TensorView<std::int8_t>(expected.data(), output_shape))
                .is_ok());
    tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
      std::vector<std::int8_t> got(expected.size(), 0x11);
      REQUIRE(tsq::simd::add(*params, in1, in2, TensorView<std::int8_t>(got.data(), output_shape))
                  .is_ok());
      INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " "
                    << tsq::rounding_mode_name(rounding) << " ranks " << shape1.rank() << ", "
                    << shape2.rank() << " elements " << expected.size());
      REQUIRE(tsq_simd_test::first_difference(got, expected) == -1);
    });
  }
}

}  // namespace

TEST_CASE("simd Add equals the reference on equal shapes, every path", "[simd][add]") {
  Rng rng(31337);
  for (int trial = 0; trial < 300; ++trial) {
    const std::int32_t length = trial < 80 ? trial + 1 : pick(rng, 1, 3000);
    const Shape shape{1, length};
    check_add(rng, shape, shape, trial % 3 == 0, trial);
  }
}

TEST_CASE("simd Add equals the reference on broadcast shapes, every path", "[simd][add]") {
  Rng rng(2718);
  for (int trial = 0; trial < 600; ++trial) {
    const Shape full = random_shape(rng, pick(rng, 1, 4));
    const Shape other = broadcast_of(rng, full);
    if (trial % 2 == 0) {
      check_add(rng, full, other, trial % 3 == 0, trial);
    } else {
      check_add(rng, other, full, trial % 3 == 0, trial);
    }
  }
}

TEST_CASE("simd Add: validation errors", "[simd][add]") {
  Rng rng(9);
  tsq::AddQuantization q;
  q.input1_shape = Shape{1, 4, 8};
  q.input2_shape = Shape{1, 1, 8};
  q.input1 = random_params(rng, false);
  q.input2 = random_params(rng, false);
  q.output = random_params(rng, false);
  const auto params = tsq::prepare_add(q);
  REQUIRE(params.is_ok());
  std::vector<std::int8_t> a(32), b(8), out(32);
  const TensorView<const std::int8_t> in1(a.data(), Shape{1, 4, 8});
  const TensorView<const std::int8_t> in2(b.data(), Shape{1, 1, 8});
  REQUIRE(tsq::simd::add(*params, in1, in2, TensorView<std::int8_t>(out.data(), Shape{1, 4, 8}))
              .is_ok());
  REQUIRE(tsq::simd::add(*params, in1, in2, TensorView<std::int8_t>(out.data(), Shape{1, 8, 4}))
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::add(*params, TensorView<const std::int8_t>(a.data(), Shape{1, 1, 8}), in2,
                         TensorView<std::int8_t>(out.data(), Shape{1, 4, 8}))
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::add(tsq::AddParams{}, in1, in2,
                         TensorView<std::int8_t>(out.data(), Shape{1, 4, 8}))
              .code() == ErrorCode::not_prepared);
}
