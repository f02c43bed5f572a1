// SPDX-License-Identifier: Apache-2.0
// Conv2D int8 for microcontrollers: the reference's arithmetic (kernels/reference/conv2d.hpp,
// the specification) with its loops arranged for a short in-order core without a cache.
//
// The reference visits every filter tap through a callback and checks it against the image
// borders, which at -Os costs a call and a dozen instructions per tap: on the ECG model's
// Conv1D layers (4 taps of 5 and 10 channels) about 30 instructions per multiply-accumulate.
// Here the taps inside the image are found once per output pixel, and every run of taps that
// lies contiguously in memory (one filter row across the channels, or, for a 1-D convolution
// along the height, all filter rows at once) is one plain dot product over two byte pointers.
// The accumulator sums the same products (int32 never overflows for a prepared layer, so the
// order does not matter) and the requantization is the reference's own function: the outputs
// are bit-identical, which tests/kernels/mcu_conv2d_test.cpp checks on random layers.
//
// Grouped convolutions (filter_input_depth < input channels) take the reference's loops.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/conv2d.hpp"

namespace tsq {
namespace mcu {
namespace detail {

// sum over i < count of filter[i] * (input[i] - zero_point)
inline std::int32_t dot_int8(const std::int8_t* input, const std::int8_t* filter,
                             std::int32_t count, std::int32_t zero_point) {
  std::int32_t accumulator = 0;
  for (std::int32_t i = 0; i < count; ++i) {
    accumulator += static_cast<std::int32_t>(filter[i]) * (input[i] - zero_point);
  }
  return accumulator;
}

// The taps [begin, end) of one filter axis that land inside [0, size) for an output whose first
// tap sits at `origin`.
struct TapRange {
  std::int32_t begin = 0;
  std::int32_t end = 0;
};

inline TapRange taps_inside(std::int32_t origin, std::int32_t dilation, std::int32_t kernel,
                            std::int32_t size) {
  TapRange range{0, kernel};
  while (range.begin < range.end && origin + dilation * range.begin < 0) ++range.begin;
  while (range.end > range.begin && origin + dilation * (range.end - 1) >= size) --range.end;
  return range;
}

}  // namespace detail

// Unchecked, as the exported models call it: `params` from prepare_conv2d (int8), input, filter
// and output as the params' geometry says, bias null or one per output channel.
template <RoundingMode Mode>
void conv2d_int8(const Conv2DParams& params, const std::int8_t* input, const std::int8_t* filter,
                 const std::int32_t* bias, std::int8_t* output) {
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t channels = g.input.channels;
  if (g.filter_input_depth != channels) {
    tsq::detail::conv2d_int8<Mode>(params, input, filter, bias, output);
    return;
  }
  const std::int32_t zero_point = params.input_zero_point;
  const std::int32_t filter_row = g.filter_width * channels;
  const std::int32_t filter_size = g.filter_height * filter_row;
  // A 1-D convolution along the height: consecutive rows are consecutive in memory too.
  const bool column = g.input.width == 1 && g.filter_width == 1 && g.dilation_height == 1;
  const bool contiguous_row = g.dilation_width == 1;
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      const std::int32_t y0 = oy * g.stride_height - g.pad_top;
      const detail::TapRange rows =
          detail::taps_inside(y0, g.dilation_height, g.filter_height, g.input.height);
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        const std::int32_t x0 = ox * g.stride_width - g.pad_left;
        const detail::TapRange cols =
            detail::taps_inside(x0, g.dilation_width, g.filter_width, g.input.width);
        const std::int32_t run = (cols.end - cols.begin) * channels;
        for (std::int32_t oc = 0; oc < g.output.channels; ++oc) {
          const std::int8_t* channel_filter = filter + oc * filter_size;
          std::int32_t accumulator = 0;
          if (column) {
            const std::int8_t* pixel = input + tsq::nhwc_offset(g.input, n, y0 + rows.begin, 0, 0);
            accumulator = detail::dot_int8(pixel, channel_filter + rows.begin * channels,
                                           (rows.end - rows.begin) * channels, zero_point);
          } else {
            for (std::int32_t fy = rows.begin; fy < rows.end; ++fy) {
              const std::int32_t y = y0 + g.dilation_height * fy;
              const std::int8_t* taps = channel_filter + fy * filter_row;
              if (contiguous_row) {
                const std::int8_t* pixel =
                    input + tsq::nhwc_offset(g.input, n, y, x0 + cols.begin, 0);
                accumulator +=
                    detail::dot_int8(pixel, taps + cols.begin * channels, run, zero_point);
              } else {
                for (std::int32_t fx = cols.begin; fx < cols.end; ++fx) {
                  const std::int8_t* pixel =
                      input + tsq::nhwc_offset(g.input, n, y, x0 + g.dilation_width * fx, 0);
                  accumulator +=
                      detail::dot_int8(pixel, taps + fx * channels, channels, zero_point);
                }
              }
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

// Checked: the same views and errors as reference::conv2d.
inline Status conv2d(const Conv2DParams& params, TensorView<const std::int8_t> input,
                     TensorView<const std::int8_t> filter, Span<const std::int32_t> bias,
                     TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_conv_views(
      "Conv2D", params.prepared, params.geometry, params.type, params.multipliers.size(),
      tsq::detail::conv2d_filter_shape(params.geometry), input, filter, bias, output));
  const std::int32_t* bias_data = bias.empty() ? nullptr : bias.data();
  if (params.rounding == RoundingMode::double_rounding) {
    conv2d_int8<RoundingMode::double_rounding>(params, input.data(), filter.data(), bias_data,
                                               output.data());
  } else {
    conv2d_int8<RoundingMode::single_rounding>(params, input.data(), filter.data(), bias_data,
                                               output.data());
  }
  return Status::ok();
}

}  // namespace mcu
}  // namespace tsq
