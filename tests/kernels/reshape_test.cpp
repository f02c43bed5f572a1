// SPDX-License-Identifier: Apache-2.0
// Reshape / Flatten: views without copies, the inferred -1, flatten keeping the batch axis, and
// every validation error.
#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <vector>

#include "tsq/kernels/reference/reshape.hpp"

using tsq::ErrorCode;
using tsq::Shape;
using tsq::Span;
using tsq::TensorView;

namespace {

tsq::Result<Shape> resolve(const Shape& input, std::vector<std::int32_t> target) {
  return tsq::reshape_output_shape(input, target);
}

}  // namespace

TEST_CASE("Reshape: target shapes with and without -1", "[kernels][reshape]") {
  CHECK(resolve(Shape{2, 3, 4}, {6, 4}).value() == (Shape{6, 4}));
  CHECK(resolve(Shape{2, 3, 4}, {-1, 4}).value() == (Shape{6, 4}));
  CHECK(resolve(Shape{2, 3, 4}, {2, -1}).value() == (Shape{2, 12}));
  CHECK(resolve(Shape{2, 3, 4}, {-1}).value() == (Shape{24}));
  CHECK(resolve(Shape{2, 3, 4}, {1, 2, 1, 12, 1}).value() == (Shape{1, 2, 1, 12, 1}));
  CHECK(resolve(Shape{24}, {2, 3, -1}).value() == (Shape{2, 3, 4}));
  CHECK(resolve(Shape{}, {1, 1}).value() == (Shape{1, 1}));  // a scalar has one element
  CHECK(resolve(Shape{1}, {}).value() == (Shape{}));
  CHECK(resolve(Shape{0, 5}, {5, 0}).value() == (Shape{5, 0}));  // empty tensors without -1
}

TEST_CASE("Reshape and Flatten return views of the same data", "[kernels][reshape]") {
  std::vector<std::int8_t> data(24);
  std::iota(data.begin(), data.end(), std::int8_t{0});
  const TensorView<std::int8_t> input(data.data(), Shape{2, 3, 4});
  const std::int32_t target[] = {4, -1};
  const auto reshaped = tsq::reference::reshape(input, Span<const std::int32_t>(target, 2));
  REQUIRE(reshaped.is_ok());
  CHECK(reshaped->data() == data.data());
  CHECK(reshaped->shape() == (Shape{4, 6}));
  CHECK((*reshaped)(3, 5) == 23);
  CHECK((*reshaped)(1, 0) == 6);
  // Writing through the view writes the original buffer.
  reshaped.value()(2, 1) = -7;
  CHECK(data[13] == -7);
  // Flatten keeps the batch axis: [2, 3, 4] -> [2, 12]; a rank-1 input gets a unit axis.
  const auto flat = tsq::reference::flatten(TensorView<const std::int8_t>(input));
  REQUIRE(flat.is_ok());
  CHECK(flat->shape() == (Shape{2, 12}));
  CHECK(flat->data() == data.data());
  CHECK((*flat)(1, 0) == 12);
  CHECK(tsq::flatten_output_shape(Shape{5}).value() == (Shape{5, 1}));
  CHECK(tsq::flatten_output_shape(Shape{1, 128, 6, 64}).value() == (Shape{1, 49152}));
  // Prepared layers: any element type, float included.
  std::vector<float> values(12, 1.5f);
  const auto params = tsq::prepare_flatten(Shape{3, 2, 2});
  REQUIRE(params.is_ok());
  CHECK(params->output_shape == (Shape{3, 4}));
  const auto view =
      tsq::reference::reshape(params.value(), TensorView<float>(values.data(), Shape{3, 2, 2}));
  REQUIRE(view.is_ok());
  CHECK(view->data() == values.data());
  CHECK(view->shape() == (Shape{3, 4}));
  const std::int32_t target2[] = {-1, 6};
  const auto params2 = tsq::prepare_reshape(Shape{3, 2, 2}, Span<const std::int32_t>(target2, 2));
  REQUIRE(params2.is_ok());
  CHECK(params2->output_shape == (Shape{2, 6}));
  const auto view2 = tsq::reference::reshape(
      params2.value(), TensorView<const float>(values.data(), Shape{3, 2, 2}));
  REQUIRE(view2.is_ok());
  CHECK(view2->shape() == (Shape{2, 6}));
}

TEST_CASE("Reshape and Flatten validation errors", "[kernels][reshape]") {
  CHECK(resolve(Shape{2, 3}, {4, 2}).status().code() == ErrorCode::shape_mismatch);
  CHECK(resolve(Shape{2, 3}, {-1, 4}).status().code() == ErrorCode::shape_mismatch);  // 6 % 4
  CHECK(resolve(Shape{2, 3}, {-1, -1}).status().code() == ErrorCode::invalid_argument);
  CHECK(resolve(Shape{2, 3}, {-2, -3}).status().code() == ErrorCode::shape_mismatch);
  CHECK(resolve(Shape{0, 3}, {-1, 0}).status().code() == ErrorCode::invalid_argument);
  CHECK(resolve(Shape{6}, {1, 1, 1, 1, 2, 3}).status().code() == ErrorCode::shape_mismatch);
  CHECK(resolve(Shape{2, -3}, {-6}).status().code() == ErrorCode::shape_mismatch);
  CHECK(resolve(Shape{2, 3}, {65536, 65536, 65536, 65536, -1}).status().code() ==
        ErrorCode::shape_mismatch);  // the product overflows
  CHECK(tsq::flatten_output_shape(Shape{}).status().code() == ErrorCode::shape_mismatch);
  CHECK(tsq::flatten_output_shape(Shape{2, -1}).status().code() == ErrorCode::shape_mismatch);
  CHECK(tsq::flatten_output_shape(Shape{1, 65536, 65536}).status().code() ==
        ErrorCode::shape_mismatch);
  CHECK(tsq::prepare_flatten(Shape{}).status().code() == ErrorCode::shape_mismatch);
  const std::int32_t bad_target[] = {5};
  CHECK(
      tsq::prepare_reshape(Shape{2, 3}, Span<const std::int32_t>(bad_target, 1)).status().code() ==
      ErrorCode::shape_mismatch);

  std::vector<std::int16_t> data(6);
  const auto params = tsq::prepare_flatten(Shape{2, 3}).value();
  CHECK(tsq::reference::reshape(params, TensorView<std::int16_t>(data.data(), Shape{3, 2}))
            .status()
            .code() == ErrorCode::shape_mismatch);
  // A non-contiguous view (a transposed reading) cannot be reshaped without a copy.
  const std::ptrdiff_t strides[] = {1, 2};
  const auto transposed = TensorView<std::int16_t>::strided(data.data(), Shape{2, 3}, strides);
  CHECK(tsq::reference::reshape(params, transposed).status().code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::flatten(transposed).status().code() == ErrorCode::invalid_argument);
  const std::int32_t target[] = {-1};
  CHECK(tsq::reference::reshape(transposed, Span<const std::int32_t>(target, 1)).status().code() ==
        ErrorCode::invalid_argument);
  const std::int32_t too_many[] = {7};
  CHECK(tsq::reference::reshape(TensorView<std::int16_t>(data.data(), Shape{2, 3}),
                                Span<const std::int32_t>(too_many, 1))
            .status()
            .code() == ErrorCode::shape_mismatch);
}
