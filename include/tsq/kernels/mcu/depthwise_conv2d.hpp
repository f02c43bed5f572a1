// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv2D int8 with the reference's arithmetic (kernels/reference/depthwise_conv2d.hpp,
// the specification) in loops for short in-order cores, and fast on any host too: the taps inside
// the image are found once per output pixel instead of being tested one by one through a
// callback, and the accumulator runs over them directly. The same products are summed (int32
// never overflows for a prepared layer) and requantized by the reference's own function, so the
// outputs are bit-identical (tests/kernels/mcu_kernels_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/kernels/mcu/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"

namespace tsq {
namespace mcu {

// Unchecked, as the exported models and the model API call it: `params` from
// prepare_depthwise_conv2d, input, filter [1, KH, KW, C_out] and output as the geometry says,
// bias null or one per output channel.
template <RoundingMode Mode>
void depthwise_conv2d_int8(const DepthwiseConv2DParams& params, const std::int8_t* input,
                           const std::int8_t* filter, const std::int32_t* bias,
                           std::int8_t* output) {
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t channels = g.output.channels;
  const std::int32_t multiplier = params.depth_multiplier;
  const std::int32_t zero_point = params.input_zero_point;
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      const std::int32_t y0 = oy * g.stride_height - g.pad_top;
      const detail::TapRange rows =
          detail::taps_inside(y0, g.dilation_height, g.filter_height, g.input.height);
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        const std::int32_t x0 = ox * g.stride_width - g.pad_left;
        const detail::TapRange cols =
            detail::taps_inside(x0, g.dilation_width, g.filter_width, g.input.width);
        for (std::int32_t oc = 0; oc < channels; ++oc) {
          const std::int32_t input_channel = oc / multiplier;
          std::int32_t accumulator = 0;
          for (std::int32_t fy = rows.begin; fy < rows.end; ++fy) {
            const std::int8_t* pixel =
                input + tsq::nhwc_offset(g.input, n, y0 + g.dilation_height * fy,
                                         x0 + g.dilation_width * cols.begin, input_channel);
            const std::int8_t* tap = filter + (fy * g.filter_width + cols.begin) * channels + oc;
            for (std::int32_t fx = cols.begin; fx < cols.end; ++fx) {
              accumulator += static_cast<std::int32_t>(*tap) * (*pixel - zero_point);
              pixel += g.dilation_width * g.input.channels;
              tap += channels;
            }
          }
          const std::int32_t value = tsq::detail::requantize_int8_accumulator<Mode>(
              accumulator, bias, params.multipliers, oc, params.output_zero_point);
          *output++ =
              static_cast<std::int8_t>(clamp(value, params.activation.min, params.activation.max));
        }
      }
    }
  }
}

// Checked: the same views and errors as reference::depthwise_conv2d.
inline Status depthwise_conv2d(const DepthwiseConv2DParams& params,
                               TensorView<const std::int8_t> input,
                               TensorView<const std::int8_t> filter, Span<const std::int32_t> bias,
                               TensorView<std::int8_t> output) {
  const Conv2DGeometry& g = params.geometry;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("DepthwiseConv2D", params));
  if (params.depth_multiplier < 1 ||
      g.output.channels != static_cast<std::int64_t>(g.input.channels) * params.depth_multiplier) {
    return Status::error(ErrorCode::invalid_argument,
                         "DepthwiseConv2D params are inconsistent: channels and depth multiplier");
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_conv_views(
      "DepthwiseConv2D", params.prepared, g, DataType::int8, params.multipliers.size(),
      Shape{1, g.filter_height, g.filter_width, g.output.channels}, input, filter, bias, output));
  const std::int32_t* bias_data = bias.empty() ? nullptr : bias.data();
  if (params.rounding == RoundingMode::double_rounding) {
    depthwise_conv2d_int8<RoundingMode::double_rounding>(params, input.data(), filter.data(),
                                                         bias_data, output.data());
  } else {
    depthwise_conv2d_int8<RoundingMode::single_rounding>(params, input.data(), filter.data(),
                                                         bias_data, output.data());
  }
  return Status::ok();
}

}  // namespace mcu
}  // namespace tsq
