// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "tsq/tensor/tensor_view.hpp"

using tsq::ErrorCode;
using tsq::Shape;
using tsq::TensorView;

TEST_CASE("Shape: counts, comparison, validation", "[tensor]") {
  const Shape s{2, 3, 4, 5};
  CHECK(s.rank() == 4);
  CHECK(s.element_count() == 120);
  CHECK(s.outer_count(2) == 6);
  CHECK(s.inner_count(1) == 20);
  CHECK(s == Shape{2, 3, 4, 5});
  CHECK(s != Shape{2, 3, 4});
  CHECK(s.without_outer() == Shape{3, 4, 5});
  CHECK(Shape{}.element_count() == 1);
  const std::int32_t too_many[] = {1, 2, 3, 4, 5, 6};
  CHECK(Shape::make(too_many).status().code() == ErrorCode::shape_mismatch);
  const std::int32_t negative[] = {1, -2};
  CHECK(Shape::make(negative).status().code() == ErrorCode::shape_mismatch);
  const tsq::Status message = tsq::shape_mismatch_error("input", Shape{1, 2}, Shape{1, 3});
  CHECK(std::string(message.message()) == "input has shape [1, 2], expected [1, 3]");
}

TEST_CASE("TensorView: row-major strides, access, NHWC offsets", "[tensor]") {
  std::vector<std::int8_t> buffer(2 * 3 * 4 * 5);
  std::iota(buffer.begin(), buffer.end(), 0);
  const auto view_or = TensorView<std::int8_t>::make(buffer, Shape{2, 3, 4, 5});
  REQUIRE(view_or.is_ok());
  const TensorView<std::int8_t> view = view_or.value();
  CHECK(view.stride(0) == 60);
  CHECK(view.stride(3) == 1);
  CHECK(view.is_contiguous());
  CHECK(view(1, 2, 3, 4) == 119);
  CHECK(view(0, 1, 0, 2) == 22);
  CHECK(TensorView<std::int8_t>::type() == tsq::DataType::int8);
  const tsq::NhwcDims d = tsq::nhwc_dims(view).value();
  CHECK(d.channels == 5);
  CHECK(tsq::nhwc_offset(d, 1, 2, 3, 4) == 119);
  CHECK(tsq::nhwc_shape(d) == view.shape());
  // Writing through the view writes the caller's buffer.
  view(0, 0, 0, 1) = -7;
  CHECK(buffer[1] == -7);
  // A read-only view of the same data.
  const TensorView<const std::int8_t> read_only = view;
  CHECK(read_only(1, 2, 3, 4) == 119);
}

TEST_CASE("TensorView: reshape without copy, outer slices, errors", "[tensor]") {
  std::vector<float> buffer(24);
  std::iota(buffer.begin(), buffer.end(), 0.0f);
  const TensorView<float> view(buffer.data(), Shape{2, 3, 4});
  const TensorView<float> flat = view.reshaped(Shape{2, 12}).value();
  CHECK(flat.data() == buffer.data());
  CHECK(flat(1, 5) == 17.0f);
  CHECK(view.reshaped(Shape{5, 5}).status().code() == ErrorCode::shape_mismatch);
  const TensorView<float> step = view.slice_outer(1);
  CHECK(step.shape() == Shape{3, 4});
  CHECK(step(2, 1) == 21.0f);
  // A strided (non-contiguous) view: every other column.
  const std::ptrdiff_t strides[] = {4, 2};
  const auto columns = TensorView<float>::strided(buffer.data(), Shape{6, 2}, strides);
  CHECK_FALSE(columns.is_contiguous());
  CHECK(columns(1, 1) == 6.0f);
  CHECK(columns.reshaped(Shape{12}).status().code() == ErrorCode::invalid_argument);
  // Too small a buffer, null data.
  std::vector<float> small(10);
  const auto too_small = TensorView<float>::make(small, Shape{2, 3, 4});
  CHECK(too_small.status().code() == ErrorCode::buffer_too_small);
  CHECK(std::string(too_small.status().message()) ==
        "tensor view buffer of 10 elements is too small for shape [2, 3, 4]");
  CHECK(TensorView<float>::make(tsq::Span<float>(), Shape{1}).status().code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::nhwc_dims(view).status().code() == ErrorCode::shape_mismatch);
}
