// SPDX-License-Identifier: Apache-2.0
// Tanh in float32, elementwise.
#pragma once

#include <cmath>
#include <cstddef>

#include "tsq/core/status.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status tanh(TensorView<const float> input, TensorView<float> output) {
  if (output.shape() != input.shape()) {
    return shape_mismatch_error("Tanh output", output.shape(), input.shape());
  }
  if (!input.is_contiguous() || !output.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, "Tanh needs contiguous tensors");
  }
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) output.data()[i] = std::tanh(input.data()[i]);
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
