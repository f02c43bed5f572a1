// SPDX-License-Identifier: Apache-2.0
// Conv2D (NHWC) in float32 through Eigen, host only: the fast float baseline for the integer
// convolutions, with floating::conv2d's options, geometry, groups, checks and errors.
//
// A convolution is one matrix product once every output pixel's receptive field is laid out as
// a row (im2col): [N*OH*OW, KH*KW*C_in/G] patches times the filter read as [C_out/G, KH*KW*C_in/G]
// (its own memory layout), per group. The patches go to the caller's scratch, zero where a tap
// falls outside the image (the scalar kernel skips those taps: the same sum). A 1x1 kernel needs
// no patches: the input pixels already are the rows (strided when the stride is > 1).
#pragma once

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <limits>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/eigen/fully_connected.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace eigen {

namespace detail {

// Copies and zero fills of a few floats each (a tap's channels): Eigen's vector loop, where
// std::copy_n and std::fill_n would call memmove and memset for every tap.
inline void copy_floats(const float* source, std::ptrdiff_t count, float* destination) {
  if (count == 1) {  // a single-channel tap (conv_first): not worth a vector loop's set-up
    *destination = *source;
    return;
  }
  Eigen::Map<Eigen::ArrayXf>(destination, count) = Eigen::Map<const Eigen::ArrayXf>(source, count);
}

inline void zero_floats(float* destination, std::ptrdiff_t count) {
  Eigen::Map<Eigen::ArrayXf>(destination, count).setZero();
}

constexpr bool is_pointwise(const Conv2DGeometry& g) {
  return g.filter_height == 1 && g.filter_width == 1 && g.pad_top == 0 && g.pad_left == 0;
}

// Group `group`'s patch matrix, one row per output pixel (n, oy, ox) in NHWC order: the filter
// depth's input channels at every tap, in the filter's order (fy, fx, i).
inline void im2col(const Conv2DGeometry& g, const float* input, std::int32_t group,
                   float* patches) {
  const std::int32_t depth = g.filter_input_depth;
  const std::int32_t first_channel = group * depth;
  const auto row_length = static_cast<std::ptrdiff_t>(g.filter_width) * depth;
  // Without dilation or groups, a filter row inside the image is one run of the input.
  const bool contiguous_rows = g.dilation_width == 1 && depth == g.input.channels;
  float* p = patches;
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      const std::int32_t y0 = oy * g.stride_height - g.pad_top;
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        const std::int32_t x0 = ox * g.stride_width - g.pad_left;
        const bool row_inside = x0 >= 0 && x0 + g.filter_width <= g.input.width;
        for (std::int32_t fy = 0; fy < g.filter_height; ++fy) {
          const std::int32_t y = y0 + g.dilation_height * fy;
          if (y < 0 || y >= g.input.height) {
            zero_floats(p, row_length);
            p += row_length;
            continue;
          }
          if (contiguous_rows && row_inside) {
            copy_floats(input + nhwc_offset(g.input, n, y, x0, 0), row_length, p);
            p += row_length;
            continue;
          }
          for (std::int32_t fx = 0; fx < g.filter_width; ++fx) {
            const std::int32_t x = x0 + g.dilation_width * fx;
            if (x < 0 || x >= g.input.width) {
              zero_floats(p, depth);
            } else {
              copy_floats(input + nhwc_offset(g.input, n, y, x, first_channel), depth, p);
            }
            p += depth;
          }
        }
      }
    }
  }
}

}  // namespace detail

// Scratch floats that eval needs for this geometry: one group's patch matrix
// [N*OH*OW, KH*KW*C_in/G]; 0 for a 1x1 kernel. SIZE_MAX when the count overflows.
inline std::size_t conv2d_scratch_size(const Conv2DGeometry& g) {
  if (detail::is_pointwise(g)) return 0;
  const std::size_t rows = static_cast<std::size_t>(g.output.batch) *
                           static_cast<std::size_t>(g.output.height) *
                           static_cast<std::size_t>(g.output.width);
  const std::size_t taps = static_cast<std::size_t>(g.filter_height) *
                           static_cast<std::size_t>(g.filter_width) *
                           static_cast<std::size_t>(g.filter_input_depth);
  if (taps != 0 && rows > std::numeric_limits<std::size_t>::max() / taps) {
    return std::numeric_limits<std::size_t>::max();
  }
  return rows * taps;
}

// The same from the layer's shapes and options (the geometry's errors for a bad layer).
inline Result<std::size_t> conv2d_scratch_size(const Shape& input_shape, const Shape& filter_shape,
                                               const Conv2DOptions& options) {
  const Result<Conv2DGeometry> geometry =
      compute_conv2d_geometry(input_shape, filter_shape, options);
  if (!geometry.is_ok()) return geometry.status();
  return conv2d_scratch_size(geometry.value());
}

// input [N, H, W, C_in], filter [C_out, KH, KW, C_in / G], bias [C_out] (may be empty), output
// [N, OH, OW, C_out]; `scratch` holds conv2d_scratch_size(...) floats. The same checks and
// errors as floating::conv2d, plus buffer_too_small for a short scratch. Nothing is allocated.
inline Status conv2d(const Conv2DOptions& options, TensorView<const float> input,
                     TensorView<const float> filter, Span<const float> bias,
                     TensorView<float> output, Span<float> scratch) {
  constexpr const char* kOp = "Eigen Conv2D";
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(kOp, input, filter, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(kOp, bias, scratch));
  const Result<Conv2DGeometry> geometry_or =
      compute_conv2d_geometry(input.shape(), filter.shape(), options);
  if (!geometry_or.is_ok()) return geometry_or.status();
  const Conv2DGeometry& g = geometry_or.value();
  TSQ_RETURN_IF_ERROR(
      floating::detail::check_float_conv_views(kOp, g, input, filter, bias.size(), output));
  const std::size_t needed = conv2d_scratch_size(g);
  if (scratch.size() < needed) {
    return Status::error(ErrorCode::buffer_too_small, kOp)
        .append(" scratch holds ")
        .append(scratch.size())
        .append(" floats, needs ")
        .append(needed);
  }
  using detail::Index;
  const Index depth = g.filter_input_depth;
  const std::int32_t groups = g.input.channels / g.filter_input_depth;
  const Index filters_per_group = g.output.channels / groups;
  const Index taps = static_cast<Index>(g.filter_height) * g.filter_width * depth;
  const Index pixels = static_cast<Index>(g.output.batch) * g.output.height * g.output.width;
  const Index out_channels = g.output.channels;
  const Index in_channels = g.input.channels;
  detail::fill_with_bias(output.data(), pixels, out_channels, out_channels, bias);
  for (std::int32_t group = 0; group < groups; ++group) {
    const detail::MatrixRef group_filter{filter.data() + group * filters_per_group * taps, taps};
    float* group_output = output.data() + group * filters_per_group;
    if (!detail::is_pointwise(g)) {
      detail::im2col(g, input.data(), group, scratch.data());
      detail::accumulate_product(detail::MatrixRef{scratch.data(), taps}, group_filter,
                                 detail::RhsLayout::n_by_depth, group_output, out_channels, pixels,
                                 taps, filters_per_group);
    } else if (g.stride_height == 1 && g.stride_width == 1) {
      // Every input pixel is an output pixel: the input is the patch matrix.
      detail::accumulate_product(detail::MatrixRef{input.data() + group * depth, in_channels},
                                 group_filter, detail::RhsLayout::n_by_depth, group_output,
                                 out_channels, pixels, depth, filters_per_group);
    } else {
      // One product per output row: its pixels are stride_width pixels apart in the input.
      for (std::int32_t n = 0; n < g.output.batch; ++n) {
        for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
          const float* first_pixel = input.data() + nhwc_offset(g.input, n, oy * g.stride_height, 0,
                                                                group * g.filter_input_depth);
          const Index output_row =
              (static_cast<Index>(n) * g.output.height + oy) * g.output.width * out_channels;
          detail::accumulate_product(detail::MatrixRef{first_pixel, g.stride_width * in_channels},
                                     group_filter, detail::RhsLayout::n_by_depth,
                                     group_output + output_row, out_channels, g.output.width, depth,
                                     filters_per_group);
        }
      }
    }
  }
  detail::apply_fused_activation(output.data(), output.element_count(), options.activation);
  return Status::ok();
}

}  // namespace eigen
}  // namespace tsq
