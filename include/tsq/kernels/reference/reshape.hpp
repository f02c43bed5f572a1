// SPDX-License-Identifier: Apache-2.0
// Reshape and Flatten: the same elements under another shape, as a view (no copy), for any
// element type. A quantized tensor keeps its scale and zero point (spec 1.1 lists RESHAPE among
// the ops whose input and output share them), so there is nothing to requantize.
//
//   Reshape: the target dimensions may contain one -1, inferred from the element count
//            (TFLite's RESHAPE / Keras Reshape; Keras's target_shape excludes the batch axis,
//            so pass {batch, ...} or {-1, ...} here).
//   Flatten: [d0, d1, ..., dn] -> [d0, d1 * ... * dn], keeping the batch axis (Keras Flatten);
//            a rank-1 input [d0] becomes [d0, 1].
// Only contiguous views can be reshaped (TensorView::reshaped).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// The target shape with its -1 (if any) resolved. Errors: rank above kMaxRank, a dimension
// below -1, a negative input dimension or an element count that differs (shape_mismatch); more
// than one -1, or a -1 beside a zero dimension, where it cannot be inferred (invalid_argument).
inline Result<Shape> reshape_output_shape(const Shape& input, Span<const std::int32_t> target) {
  if (target.size() > static_cast<std::size_t>(kMaxRank)) {
    return Status::error(ErrorCode::shape_mismatch, "Reshape target rank ")
        .append(target.size())
        .append(" exceeds ")
        .append(kMaxRank);
  }
  for (int axis = 0; axis < input.rank(); ++axis) {
    if (input[axis] < 0) {
      return Status::error(ErrorCode::shape_mismatch, "Reshape input has a negative dimension");
    }
  }
  int inferred_axis = -1;
  std::size_t known_count = 1;
  for (std::size_t axis = 0; axis < target.size(); ++axis) {
    const std::int32_t d = target[axis];
    if (d == -1) {
      if (inferred_axis >= 0) {
        return Status::error(ErrorCode::invalid_argument, "Reshape target has more than one -1");
      }
      inferred_axis = static_cast<int>(axis);
    } else if (d < 0) {
      return Status::error(ErrorCode::shape_mismatch, "Reshape target dimension ")
          .append(d)
          .append(" is negative");
    } else {
      if (d != 0 && known_count > static_cast<std::size_t>(-1) / static_cast<std::size_t>(d)) {
        return Status::error(ErrorCode::shape_mismatch, "Reshape target element count overflows");
      }
      known_count *= static_cast<std::size_t>(d);
    }
  }
  const std::size_t count = input.element_count();
  std::int32_t inferred = 0;
  if (inferred_axis >= 0) {
    if (known_count == 0) {
      return Status::error(ErrorCode::invalid_argument,
                           "Reshape cannot infer -1 beside a zero dimension");
    }
    if (count % known_count != 0) {
      Status status = Status::error(ErrorCode::shape_mismatch, "Reshape: ");
      status.append(count).append(" elements of ");
      append_shape(status, input).append(" do not divide into ").append(known_count);
      return status;
    }
    if (count / known_count > 2147483647u) {
      return Status::error(ErrorCode::shape_mismatch, "Reshape: inferred dimension exceeds int32");
    }
    inferred = static_cast<std::int32_t>(count / known_count);
    known_count *= static_cast<std::size_t>(inferred);
  }
  if (known_count != count) {
    Status status = Status::error(ErrorCode::shape_mismatch, "Reshape: target has ");
    status.append(known_count).append(" elements, input ");
    append_shape(status, input).append(" has ").append(count);
    return status;
  }
  std::int32_t dims[kMaxRank] = {};
  for (std::size_t axis = 0; axis < target.size(); ++axis) {
    dims[axis] = static_cast<int>(axis) == inferred_axis ? inferred : target[axis];
  }
  return Shape::make(Span<const std::int32_t>(dims, target.size()));
}

// [d0, product of the rest]; rank >= 1 (shape_mismatch for a scalar).
inline Result<Shape> flatten_output_shape(const Shape& input) {
  if (input.rank() < 1) {
    return Status::error(ErrorCode::shape_mismatch, "Flatten needs a batch axis (rank >= 1)");
  }
  for (int axis = 0; axis < input.rank(); ++axis) {
    if (input[axis] < 0) {
      return Status::error(ErrorCode::shape_mismatch, "Flatten input has a negative dimension");
    }
  }
  const std::size_t rest = input.inner_count(0);
  if (rest > 2147483647u) {
    return Status::error(ErrorCode::shape_mismatch, "Flatten: flattened axis exceeds int32");
  }
  return Shape{input[0], static_cast<std::int32_t>(rest)};
}

// Input and output shapes of a Reshape or Flatten layer, checked once.
struct ReshapeParams {
  Shape input_shape;
  Shape output_shape;
  PreparedMark prepared;  // set by its prepare
};

namespace detail {
inline ReshapeParams make_reshape_params(const Shape& input, const Shape& output) {
  ReshapeParams params;
  params.input_shape = input;
  params.output_shape = output;
  mark_prepared(params);
  return params;
}
}  // namespace detail

inline Result<ReshapeParams> prepare_reshape(const Shape& input, Span<const std::int32_t> target) {
  const Result<Shape> output = reshape_output_shape(input, target);
  if (!output.is_ok()) return output.status();
  return detail::make_reshape_params(input, output.value());
}

inline Result<ReshapeParams> prepare_flatten(const Shape& input) {
  const Result<Shape> output = flatten_output_shape(input);
  if (!output.is_ok()) return output.status();
  return detail::make_reshape_params(input, output.value());
}

namespace reference {

// The input's data under the prepared output shape (no copy). T may be const-qualified.
// Errors: the input's shape is not the prepared one (shape_mismatch), or the view is not
// contiguous (invalid_argument).
template <typename T>
Result<TensorView<T>> reshape(const ReshapeParams& params, TensorView<T> input) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("Reshape", params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("Reshape", input));
  if (input.shape() != params.input_shape) {
    return shape_mismatch_error("Reshape input", input.shape(), params.input_shape);
  }
  return input.reshaped(params.output_shape);
}

// Reshape without a prepared layer: target dims with at most one -1.
template <typename T>
Result<TensorView<T>> reshape(TensorView<T> input, Span<const std::int32_t> target) {
  const Result<Shape> output = reshape_output_shape(input.shape(), target);
  if (!output.is_ok()) return output.status();
  return input.reshaped(output.value());
}

// Flatten without a prepared layer.
template <typename T>
Result<TensorView<T>> flatten(TensorView<T> input) {
  const Result<Shape> output = flatten_output_shape(input.shape());
  if (!output.is_ok()) return output.status();
  return input.reshaped(output.value());
}

}  // namespace reference
}  // namespace tsq
