// SPDX-License-Identifier: Apache-2.0
// Conv2D in float32: the ground truth the integer and hybrid kernels are measured against.
// Same layouts and geometry as the integer reference (reference/conv2d.hpp):
//   y[n, oy, ox, c] = activation(bias[c] + sum_{fy, fx, i} W[c, fy, fx, i] * X[n, y, x, g*Cg + i])
//   with y = oy*s_h - pad_top + d_h*fy, x = ox*s_w - pad_left + d_w*fx
// with out-of-image taps skipped (zero padding) and groups G = C_in / filter depth.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

namespace detail {
// Output shape, bias length and contiguity of a float (or hybrid) convolution's views.
template <typename Filter>
Status check_float_conv_views(const char* op, const Conv2DGeometry& geometry,
                              const TensorView<const float>& input,
                              const TensorView<const Filter>& filter, std::size_t bias_size,
                              const TensorView<float>& output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, filter, output));
  if (output.shape() != nhwc_shape(geometry.output)) {
    return tsq::detail::view_shape_error(op, "output", output.shape(), nhwc_shape(geometry.output));
  }
  if (bias_size != 0 && bias_size != static_cast<std::size_t>(geometry.output.channels)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" bias has ")
        .append(bias_size)
        .append(" values, expected ")
        .append(geometry.output.channels);
  }
  return tsq::detail::check_contiguous(op, input, filter, output);
}
}  // namespace detail

// `bias` may be empty (no bias).
inline Status conv2d(const Conv2DOptions& options, TensorView<const float> input,
                     TensorView<const float> filter, Span<const float> bias,
                     TensorView<float> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("Conv2D", input, filter, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("Conv2D", bias));
  const Result<Conv2DGeometry> geometry_or =
      compute_conv2d_geometry(input.shape(), filter.shape(), options);
  if (!geometry_or.is_ok()) return geometry_or.status();
  const Conv2DGeometry& g = geometry_or.value();
  TSQ_RETURN_IF_ERROR(
      detail::check_float_conv_views("Conv2D", g, input, filter, bias.size(), output));
  const std::int32_t depth = g.filter_input_depth;
  const std::int32_t filters_per_group = g.output.channels / (g.input.channels / depth);
  const auto filter_row = static_cast<std::ptrdiff_t>(g.filter_width) * depth;
  const auto filter_size = static_cast<std::ptrdiff_t>(g.filter_height) * filter_row;
  const FloatActivationRange range = float_activation_range(options.activation);
  tsq::detail::for_each_conv_output(
      g, output.data(), [&](std::int32_t n, std::int32_t oy, std::int32_t ox, std::int32_t oc) {
        const std::int32_t first_channel = (oc / filters_per_group) * depth;
        const float* channel_filter = filter.data() + oc * filter_size;
        double sum = 0.0;  // long filter volumes stay at float32 precision
        tsq::detail::for_each_conv_tap(
            g, oy, ox, [&](std::int32_t y, std::int32_t x, std::int32_t fy, std::int32_t fx) {
              const float* pixel = input.data() + nhwc_offset(g.input, n, y, x, first_channel);
              const float* taps = channel_filter + fy * filter_row + fx * depth;
              for (std::int32_t i = 0; i < depth; ++i)
                sum += static_cast<double>(taps[i]) * static_cast<double>(pixel[i]);
            });
        if (!bias.empty()) sum += static_cast<double>(bias[static_cast<std::size_t>(oc)]);
        return apply_activation(static_cast<float>(sum), range);
      });
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
