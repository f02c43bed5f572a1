// SPDX-License-Identifier: Apache-2.0
// Softmax over the last axis in float32, numerically stable (the row maximum is subtracted
// before exponentiating, so no exp overflows):
//   y[c] = exp(beta * (x[c] - max)) / sum_k exp(beta * (x[k] - max))
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status softmax(float beta, TensorView<const float> input, TensorView<float> output) {
  if (!std::isfinite(beta) || !(beta > 0.0f)) {
    return Status::error(ErrorCode::invalid_argument, "Softmax beta must be finite and > 0");
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("Softmax", input, output));
  if (input.rank() < 1) {
    return Status::error(ErrorCode::shape_mismatch, "Softmax needs a tensor of rank >= 1");
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_float_elementwise_views("Softmax", input, output));
  const std::int32_t depth = input.dim(input.rank() - 1);
  const std::size_t rows = depth > 0 ? input.element_count() / static_cast<std::size_t>(depth) : 0;
  for (std::size_t row = 0; row < rows; ++row) {
    const float* x = input.data() + row * static_cast<std::size_t>(depth);
    float* y = output.data() + row * static_cast<std::size_t>(depth);
    float max_value = x[0];
    for (std::int32_t c = 1; c < depth; ++c) max_value = x[c] > max_value ? x[c] : max_value;
    // The exponentials in double and summed in double: a float32 sum over tens of thousands of
    // classes drifts by 1e-4 relative, which would be charged to the integer kernel.
    double sum = 0.0;
    for (std::int32_t c = 0; c < depth; ++c) {
      sum += std::exp((static_cast<double>(x[c]) - max_value) * static_cast<double>(beta));
    }
    for (std::int32_t c = 0; c < depth; ++c) {
      y[c] = static_cast<float>(
          std::exp((static_cast<double>(x[c]) - max_value) * static_cast<double>(beta)) / sum);
    }
  }
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
