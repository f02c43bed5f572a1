// SPDX-License-Identifier: Apache-2.0
// Logistic (sigmoid) in float32, elementwise: y = 1 / (1 + exp(-x)). For x below about -88,
// exp(-x) overflows to infinity and y is 0, the correctly rounded value; no NaN arises.
#pragma once

#include <cmath>
#include <cstddef>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status logistic(TensorView<const float> input, TensorView<float> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_float_elementwise_views("Logistic", input, output));
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) {
    output.data()[i] = 1.0f / (1.0f + std::exp(-input.data()[i]));
  }
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
