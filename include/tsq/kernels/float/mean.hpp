// SPDX-License-Identifier: Apache-2.0
// Mean over the spatial axes (global average pooling) in float32: the ground truth the integer
// kernel is measured against.
//   input [batch, height, width, channels] or [batch, steps, channels]
//   y[b, c] = sum over the spatial positions of x[b, ..., c] / count
// The output may be [batch, channels] or keep the reduced axes as 1 ([batch, 1, 1, channels] /
// [batch, 1, channels]); its shape says which.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/reference/mean.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status mean(TensorView<const float> input, TensorView<float> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("Mean", input, output));
  const Result<Shape> flat = mean_output_shape(input.shape(), false);
  if (!flat.is_ok()) return flat.status();
  const Shape kept = mean_output_shape(input.shape(), true).value();
  if (output.shape() != flat.value() && output.shape() != kept) {
    return shape_mismatch_error("Mean output", output.shape(), flat.value());
  }
  const bool spatial = input.rank() == 4;
  const std::int32_t height = input.dim(1);
  const std::int32_t width = spatial ? input.dim(2) : 1;
  const std::ptrdiff_t column_stride = spatial ? input.stride(2) : 0;
  const std::int32_t channels = input.dim(input.rank() - 1);
  const auto count = static_cast<float>(static_cast<std::int64_t>(height) * width);
  for (std::int32_t b = 0; b < input.dim(0); ++b) {
    for (std::int32_t c = 0; c < channels; ++c) {
      double sum = 0.0;
      for (std::int32_t y = 0; y < height; ++y) {
        for (std::int32_t x = 0; x < width; ++x) {
          sum += input.data()[b * input.stride(0) + y * input.stride(1) + x * column_stride +
                              c * input.stride(input.rank() - 1)];
        }
      }
      output.data()[b * output.stride(0) + c * output.stride(output.rank() - 1)] =
          static_cast<float>(sum / static_cast<double>(count));
    }
  }
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
