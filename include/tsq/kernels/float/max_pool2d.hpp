// SPDX-License-Identifier: Apache-2.0
// MaxPool2D in float32: the ground truth the integer kernel is measured against.
//   y[b, oy, ox, c] = activation(max over the window's taps inside the image of x[b, y, x, c])
// Same window placement as the integer kernel (spec 3.3, dilation 1; padding taps skipped).
#pragma once

#include <cstdint>
#include <limits>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

inline Status max_pool2d(const Pool2DWindow& window, FusedActivation activation,
                         TensorView<const float> input, TensorView<float> output) {
  const Result<Pool2DGeometry> geometry =
      compute_pool2d_geometry(input.shape(), window, "MaxPool2D");
  if (!geometry.is_ok()) return geometry.status();
  const Pool2DGeometry& g = geometry.value();
  if (output.shape() != nhwc_shape(g.output)) {
    return shape_mismatch_error("MaxPool2D output", output.shape(), nhwc_shape(g.output));
  }
  const FloatActivationRange range = float_activation_range(activation);
  for (std::int32_t b = 0; b < g.output.batch; ++b) {
    for (std::int32_t out_y = 0; out_y < g.output.height; ++out_y) {
      for (std::int32_t out_x = 0; out_x < g.output.width; ++out_x) {
        const tsq::detail::Pool2DWindowBounds w =
            tsq::detail::pool2d_window_bounds(g, out_y, out_x);
        for (std::int32_t c = 0; c < g.output.channels; ++c) {
          float max = std::numeric_limits<float>::lowest();
          for (std::int32_t y = w.y_begin; y < w.y_end; ++y) {
            for (std::int32_t x = w.x_begin; x < w.x_end; ++x) {
              const float value = input(b, y, x, c);
              if (value > max) max = value;
            }
          }
          output(b, out_y, out_x, c) = apply_activation(max, range);
        }
      }
    }
  }
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
