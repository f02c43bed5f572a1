// SPDX-License-Identifier: Apache-2.0
// ReLU and ReLU6 in float32, elementwise: max(x, 0) and min(max(x, 0), 6).
#pragma once

#include <cstddef>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

namespace detail {
inline Status relu_clamp_elementwise(const char* op, FusedActivation activation,
                                     const TensorView<const float>& input,
                                     const TensorView<float>& output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, output));
  if (output.shape() != input.shape()) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(": output ");
    append_shape(status, output.shape()).append(" differs from input ");
    append_shape(status, input.shape());
    return status;
  }
  if (!input.is_contiguous() || !output.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, op).append(" needs contiguous tensors");
  }
  const FloatActivationRange range = float_activation_range(activation);
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) {
    output.data()[i] = apply_activation(input.data()[i], range);
  }
  return Status::ok();
}
}  // namespace detail

inline Status relu(TensorView<const float> input, TensorView<float> output) {
  return detail::relu_clamp_elementwise("ReLU", FusedActivation::relu, input, output);
}

inline Status relu6(TensorView<const float> input, TensorView<float> output) {
  return detail::relu_clamp_elementwise("ReLU6", FusedActivation::relu6, input, output);
}

}  // namespace floating
}  // namespace tsq
