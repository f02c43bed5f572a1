// SPDX-License-Identifier: Apache-2.0
// Add in float32: the ground truth the integer kernel is measured against.
//   y = activation(x1 + x2), with the same NumPy/TFLite broadcasting as the integer kernel
//   (shapes aligned at the last axis; along each axis equal sizes or one of them 1).
#pragma once

#include <cstddef>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status add(FusedActivation activation, TensorView<const float> input1,
                  TensorView<const float> input2, TensorView<float> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("Add", input1, input2, output));
  const Result<Shape> shape = add_output_shape(input1.shape(), input2.shape());
  if (!shape.is_ok()) return shape.status();
  if (output.shape() != shape.value()) {
    return shape_mismatch_error("Add output", output.shape(), shape.value());
  }
  const FloatActivationRange range = float_activation_range(activation);
  std::ptrdiff_t strides1[kMaxRank] = {};
  std::ptrdiff_t strides2[kMaxRank] = {};
  std::ptrdiff_t output_strides[kMaxRank] = {};
  tsq::detail::broadcast_strides(input1, shape.value(), strides1);
  tsq::detail::broadcast_strides(input2, shape.value(), strides2);
  tsq::detail::broadcast_strides(output, shape.value(), output_strides);
  const float* in1 = input1.data();
  const float* in2 = input2.data();
  float* out = output.data();
  tsq::detail::for_each_broadcast(
      shape.value(), strides1, strides2, output_strides,
      [&](std::ptrdiff_t offset1, std::ptrdiff_t offset2, std::ptrdiff_t offset) {
        out[offset] = apply_activation(in1[offset1] + in2[offset2], range);
      });
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
