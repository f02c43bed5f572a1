// SPDX-License-Identifier: Apache-2.0
// Tanh in float32, elementwise.
#pragma once

#include <cmath>
#include <cstddef>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status tanh(TensorView<const float> input, TensorView<float> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_float_elementwise_views("Tanh", input, output));
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) output.data()[i] = std::tanh(input.data()[i]);
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
