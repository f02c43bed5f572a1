// SPDX-License-Identifier: Apache-2.0
// AvgPool2D in float32: the ground truth the integer kernel is measured against.
//   y[b, oy, ox, c] = activation(sum of x over the n window taps inside the image / n)
// Same window placement as the integer kernel (spec 3.3, dilation 1): padding taps are skipped,
// not averaged in as zeros (TFLite and Keras behave the same way).
#pragma once

#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status avg_pool2d(const Pool2DWindow& window, FusedActivation activation,
                         TensorView<const float> input, TensorView<float> output) {
  const Result<Pool2DGeometry> geometry =
      compute_pool2d_geometry(input.shape(), window, "AvgPool2D");
  if (!geometry.is_ok()) return geometry.status();
  const Pool2DGeometry& g = geometry.value();
  if (output.shape() != nhwc_shape(g.output)) {
    return shape_mismatch_error("AvgPool2D output", output.shape(), nhwc_shape(g.output));
  }
  const FloatActivationRange range = float_activation_range(activation);
  for (std::int32_t b = 0; b < g.output.batch; ++b) {
    for (std::int32_t out_y = 0; out_y < g.output.height; ++out_y) {
      for (std::int32_t out_x = 0; out_x < g.output.width; ++out_x) {
        const tsq::detail::Pool2DWindowBounds w =
            tsq::detail::pool2d_window_bounds(g, out_y, out_x);
        const auto count = static_cast<float>((w.y_end - w.y_begin) * (w.x_end - w.x_begin));
        for (std::int32_t c = 0; c < g.output.channels; ++c) {
          float sum = 0.0f;
          for (std::int32_t y = w.y_begin; y < w.y_end; ++y) {
            for (std::int32_t x = w.x_begin; x < w.x_end; ++x) sum += input(b, y, x, c);
          }
          output(b, out_y, out_x, c) = apply_activation(sum / count, range);
        }
      }
    }
  }
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
