// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv2D int8 with the reference's arithmetic (kernels/reference/depthwise_conv2d.hpp,
// the specification) in loops for short in-order cores, and fast on any host too: the taps inside
// the image are found once per output pixel instead of being tested one by one through a
// callback, and each tap adds a contiguous row of filter values to the accumulators of a chunk of
// output channels (no division per output for the input channel). The same products are summed
// (int32 never overflows for a prepared layer) and requantized by the reference's own function, so
// the outputs are bit-identical (tests/kernels/mcu_kernels_test.cpp).
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
  // Output channels in chunks whose accumulators stay in registers or on the stack; each tap
  // then adds one contiguous filter row to them.
  constexpr std::int32_t kChunk = 32;
  std::int32_t accumulators[kChunk];
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      const std::int32_t y0 = oy * g.stride_height - g.pad_top;
      const detail::TapRange rows =
          detail::taps_inside(y0, g.dilation_height, g.filter_height, g.input.height);
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        const std::int32_t x0 = ox * g.stride_width - g.pad_left;
        const detail::TapRange cols =
            detail::taps_inside(x0, g.dilation_width, g.filter_width, g.input.width);
        for (std::int32_t first = 0; first < channels; first += kChunk) {
          const std::int32_t count = channels - first < kChunk ? channels - first : kChunk;
          for (std::int32_t i = 0; i < count; ++i) accumulators[i] = 0;
          for (std::int32_t fy = rows.begin; fy < rows.end; ++fy) {
            for (std::int32_t fx = cols.begin; fx < cols.end; ++fx) {
              const std::int8_t* pixel =
                  input + tsq::nhwc_offset(g.input, n, y0 + g.dilation_height * fy,
                                           x0 + g.dilation_width * fx, 0);
              const std::int8_t* taps = filter + (fy * g.filter_width + fx) * channels + first;
              if (multiplier == 1) {
                pixel += first;
                for (std::int32_t i = 0; i < count; ++i) {
                  accumulators[i] += static_cast<std::int32_t>(taps[i]) * (pixel[i] - zero_point);
                }
              } else {
                // Output channel first + i reads input channel (first + i) / multiplier.
                std::int32_t input_channel = first / multiplier;
                std::int32_t repeat = first % multiplier;
                for (std::int32_t i = 0; i < count; ++i) {
                  accumulators[i] +=
                      static_cast<std::int32_t>(taps[i]) * (pixel[input_channel] - zero_point);
                  if (++repeat == multiplier) {
                    repeat = 0;
                    ++input_channel;
                  }
                }
              }
            }
          }
          for (std::int32_t i = 0; i < count; ++i) {
            const std::int32_t value = tsq::detail::requantize_int8_accumulator<Mode>(
                accumulators[i], bias, params.multipliers, first + i, params.output_zero_point);
            *output++ = static_cast<std::int8_t>(
                clamp(value, params.activation.min, params.activation.max));
          }
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
