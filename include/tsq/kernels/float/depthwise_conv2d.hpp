// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv2D in float32: the ground truth the integer kernel is measured against.
// Same layouts and geometry as the integer reference (reference/depthwise_conv2d.hpp):
//   y[n, oy, ox, c] = activation(bias[c] + sum_{fy, fx} W[0, fy, fx, c] * X[n, y, x, c / m])
//   with y = oy*s_h - pad_top + d_h*fy, x = ox*s_w - pad_left + d_w*fx
// with out-of-image taps skipped (zero padding).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

// `bias` may be empty (no bias).
inline Status depthwise_conv2d(const DepthwiseConv2DOptions& options, TensorView<const float> input,
                               TensorView<const float> filter, Span<const float> bias,
                               TensorView<float> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("DepthwiseConv2D", input, filter, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("DepthwiseConv2D", bias));
  const Result<Conv2DGeometry> geometry_or =
      compute_depthwise_conv2d_geometry(input.shape(), filter.shape(), options);
  if (!geometry_or.is_ok()) return geometry_or.status();
  const Conv2DGeometry& g = geometry_or.value();
  TSQ_RETURN_IF_ERROR(
      detail::check_float_conv_views("DepthwiseConv2D", g, input, filter, bias.size(), output));
  const std::int32_t channels = g.output.channels;
  const auto filter_row = static_cast<std::ptrdiff_t>(g.filter_width) * channels;
  const FloatActivationRange range = float_activation_range(options.activation);
  tsq::detail::for_each_conv_output(
      g, output.data(), [&](std::int32_t n, std::int32_t oy, std::int32_t ox, std::int32_t oc) {
        const std::int32_t input_channel = oc / options.depth_multiplier;
        double sum = 0.0;
        tsq::detail::for_each_conv_tap(
            g, oy, ox, [&](std::int32_t y, std::int32_t x, std::int32_t fy, std::int32_t fx) {
              sum +=
                  static_cast<double>(
                      filter.data()[fy * filter_row + static_cast<std::ptrdiff_t>(fx) * channels +
                                    oc]) *
                  static_cast<double>(input.data()[nhwc_offset(g.input, n, y, x, input_channel)]);
            });
        if (!bias.empty()) sum += static_cast<double>(bias[static_cast<std::size_t>(oc)]);
        return apply_activation(static_cast<float>(sum), range);
      });
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
