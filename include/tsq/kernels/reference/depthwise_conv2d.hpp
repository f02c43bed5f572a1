// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv2D, integer reference (spec 3.4, requantization tail 3.1): the specification
// every optimized version must reproduce bit for bit.
//
//   input   [N, H, W, C_in]        int8, Z_in any
//   filter  [1, KH, KW, C_in * m]  int8 symmetric, one scale per output channel or one, Z = 0
//   bias    [C_in * m]             int32, scale S_in * S_w[c]
//   output  [N, OH, OW, C_in * m]  int8
//
//   output channel c = i * m + j (j in [0, m)) reads only input channel i:
//   acc = bias[c] + sum_{fy, fx} W[0, fy, fx, c] * (X[n, y0 + d_h*fy, x0 + d_w*fx, i] - Z_in)
//   y   = clamp(Z_out + round(acc * S_in * S_w[c] / S_out), activation range)
//
// Padding, strides, dilations, skipped out-of-image taps and the all-double per-channel
// multipliers are exactly those of Conv2D (conv2d.hpp); the filter is quantized along dim 3.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// The layer's attributes as a model file stores them (TFLite's DepthwiseConv2DOptions).
struct DepthwiseConv2DOptions {
  Padding padding = Padding::valid;
  std::int32_t stride_height = 1;
  std::int32_t stride_width = 1;
  std::int32_t dilation_height = 1;
  std::int32_t dilation_width = 1;
  std::int32_t depth_multiplier = 1;  // output channels per input channel
  FusedActivation activation = FusedActivation::none;
};

// Validates ranks, channel counts, strides, dilations and padding and computes the geometry
// (filter_input_depth is 1: each output channel reads one input channel).
// Errors: rank != 4, a dimension < 1, filter dim 0 != 1 or filter dim 3 != C_in * m
// (shape_mismatch); depth multiplier, stride or dilation < 1 (invalid_argument); VALID with a
// dilated kernel larger than the input (shape_mismatch).
inline Result<Conv2DGeometry> compute_depthwise_conv2d_geometry(
    const Shape& input, const Shape& filter, const DepthwiseConv2DOptions& options) {
  TSQ_RETURN_IF_ERROR(
      detail::check_conv_shapes("DepthwiseConv2D", input, filter, "[1, KH, KW, C_in * m]"));
  if (options.depth_multiplier < 1) {
    return Status::error(ErrorCode::invalid_argument, "DepthwiseConv2D depth multiplier ")
        .append(options.depth_multiplier)
        .append(" must be >= 1");
  }
  if (filter[0] != 1) {
    return Status::error(ErrorCode::shape_mismatch, "DepthwiseConv2D filter dim 0 is ")
        .append(filter[0])
        .append(", must be 1");
  }
  const std::int64_t output_channels =
      static_cast<std::int64_t>(input[3]) * options.depth_multiplier;
  if (filter[3] != output_channels) {
    return Status::error(ErrorCode::shape_mismatch, "DepthwiseConv2D filter has ")
        .append(filter[3])
        .append(" channels, expected C_in * depth_multiplier = ")
        .append(output_channels);
  }
  Conv2DGeometry geometry;
  TSQ_RETURN_IF_ERROR(detail::fill_spatial_geometry(
      "DepthwiseConv2D", input, filter[1], filter[2], options.padding, options.stride_height,
      options.stride_width, options.dilation_height, options.dilation_width, geometry));
  geometry.output.channels = filter[3];
  geometry.filter_input_depth = 1;
  return geometry;
}

// [N, OH, OW, C_in * m] of a DepthwiseConv2D layer.
inline Result<Shape> depthwise_conv2d_output_shape(const Shape& input, const Shape& filter,
                                                   const DepthwiseConv2DOptions& options) {
  const Result<Conv2DGeometry> geometry = compute_depthwise_conv2d_geometry(input, filter, options);
  if (!geometry.is_ok()) return geometry.status();
  return nhwc_shape(geometry->output);
}

// Everything prepare needs to know about a quantized DepthwiseConv2D layer.
struct DepthwiseConv2DQuantization {
  Shape input_shape;  // [N, H, W, C_in]
  QuantParams input;
  Shape filter_shape;               // [1, KH, KW, C_in * m]
  Span<const float> filter_scales;  // one per output channel (dim 3), or one
  QuantParams output;
  DepthwiseConv2DOptions options;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct DepthwiseConv2DParams {
  Conv2DGeometry geometry;
  std::int32_t depth_multiplier = 1;
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  Span<const QuantizedMultiplier> multipliers;  // one per output channel, or one for all
  ActivationRange activation;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

// Validates shapes, types, scales and options and computes the multipliers into
// `multiplier_storage` (size >= number of filter scales), which must outlive the returned params.
// int8 activations only. Float math here only.
inline Result<DepthwiseConv2DParams> prepare_depthwise_conv2d(
    const DepthwiseConv2DQuantization& q, Span<QuantizedMultiplier> multiplier_storage) {
  TSQ_RETURN_IF_ERROR(
      detail::check_conv_activation_types("DepthwiseConv2D", q.input, q.output, false));
  const Result<Conv2DGeometry> geometry =
      compute_depthwise_conv2d_geometry(q.input_shape, q.filter_shape, q.options);
  if (!geometry.is_ok()) return geometry.status();
  // The filter volume is KH * KW (filter_input_depth is 1).
  const Result<detail::ConvRequantization> requantization = detail::prepare_conv_requantization(
      "DepthwiseConv2D", geometry.value(), q.input, q.filter_scales, q.output, q.options.activation,
      q.rounding, multiplier_storage);
  if (!requantization.is_ok()) return requantization.status();
  DepthwiseConv2DParams params;
  params.geometry = geometry.value();
  params.depth_multiplier = q.options.depth_multiplier;
  params.input_zero_point = q.input.zero_point;
  params.output_zero_point = q.output.zero_point;
  params.multipliers = requantization->multipliers;
  params.activation = requantization->activation;
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

template <RoundingMode Mode>
void depthwise_conv2d_int8(const DepthwiseConv2DParams& params, const std::int8_t* input,
                           const std::int8_t* filter, const std::int32_t* bias,
                           std::int8_t* output) {
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t channels = g.output.channels;
  const auto filter_row = static_cast<std::ptrdiff_t>(g.filter_width) * channels;
  for_each_conv_output(
      g, output, [&](std::int32_t n, std::int32_t oy, std::int32_t ox, std::int32_t oc) {
        const std::int32_t input_channel = oc / params.depth_multiplier;
        std::int32_t accumulator = 0;
        for_each_conv_tap(
            g, oy, ox, [&](std::int32_t y, std::int32_t x, std::int32_t fy, std::int32_t fx) {
              const std::int32_t pixel = input[nhwc_offset(g.input, n, y, x, input_channel)];
              const std::int32_t tap =
                  filter[fy * filter_row + static_cast<std::ptrdiff_t>(fx) * channels + oc];
              accumulator += tap * (pixel - params.input_zero_point);
            });
        const std::int32_t value = requantize_int8_accumulator<Mode>(
            accumulator, bias, params.multipliers, oc, params.output_zero_point);
        return static_cast<std::int8_t>(clamp(value, params.activation.min, params.activation.max));
      });
}

}  // namespace detail

namespace reference {

// int8 x int8 -> int8. `bias` may be empty (no bias).
inline Status depthwise_conv2d(const DepthwiseConv2DParams& params,
                               TensorView<const std::int8_t> input,
                               TensorView<const std::int8_t> filter, Span<const std::int32_t> bias,
                               TensorView<std::int8_t> output) {
  const Conv2DGeometry& g = params.geometry;
  TSQ_RETURN_IF_ERROR(detail::check_prepared("DepthwiseConv2D", params));
  if (params.depth_multiplier < 1 ||
      g.output.channels != static_cast<std::int64_t>(g.input.channels) * params.depth_multiplier) {
    return Status::error(ErrorCode::invalid_argument,
                         "DepthwiseConv2D params are inconsistent: channels and depth multiplier");
  }
  TSQ_RETURN_IF_ERROR(detail::check_conv_views(
      "DepthwiseConv2D", params.prepared, g, DataType::int8, params.multipliers.size(),
      Shape{1, g.filter_height, g.filter_width, g.output.channels}, input, filter, bias, output));
  const std::int32_t* bias_data = bias.empty() ? nullptr : bias.data();
  if (params.rounding == RoundingMode::double_rounding) {
    detail::depthwise_conv2d_int8<RoundingMode::double_rounding>(
        params, input.data(), filter.data(), bias_data, output.data());
  } else {
    detail::depthwise_conv2d_int8<RoundingMode::single_rounding>(
        params, input.data(), filter.data(), bias_data, output.data());
  }
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
