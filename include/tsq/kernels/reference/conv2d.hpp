// SPDX-License-Identifier: Apache-2.0
// Conv2D, integer reference (spec 3.3, requantization tail 3.1): the specification every
// optimized version must reproduce bit for bit.
//
//   input   [N, H, W, C_in]            int8 (Z_in any) or int16 (Z_in = 0)
//   filter  [C_out, KH, KW, C_in / G]  int8 symmetric, one scale per output channel or one, Z = 0
//   bias    [C_out]                    int32 (int8 input) / int64 (int16 input), S_in*S_w[c]
//   output  [N, OH, OW, C_out]         same type as the input
//
//   y0 = oy * stride_h - pad_top,  x0 = ox * stride_w - pad_left
//   acc = bias[c] + sum_{fy, fx, i} W[c, fy, fx, i] * (X[n, y, x, g*Cg + i] - Z_in)
//         with y = y0 + d_h*fy, x = x0 + d_w*fx
//   y   = clamp(Z_out + round(acc * S_in * S_w[c] / S_out), activation range)
//
// Taps outside the image are skipped: that is zero padding in the real domain. G (groups) =
// C_in / filter depth; output channel c belongs to group g = c / (C_out / G) and reads the
// filter-depth input channels starting at g * Cg. G = 1 is the ordinary convolution.
// Conv1D (the ECG model) is this op with H = 1 and KH = 1.
//
// This header also holds what the float and hybrid Conv2D and DepthwiseConv2D share: options,
// output shape and padding, the prepare-time checks and multipliers, and the loops over the
// output elements and over the filter taps inside the image.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// The layer's attributes as a model file stores them (TFLite's Conv2DOptions).
struct Conv2DOptions {
  Padding padding = Padding::valid;
  std::int32_t stride_height = 1;
  std::int32_t stride_width = 1;
  std::int32_t dilation_height = 1;
  std::int32_t dilation_width = 1;
  FusedActivation activation = FusedActivation::none;
};

// Everything about the sizes that eval needs, computed once (integers only).
struct Conv2DGeometry {
  NhwcDims input;
  NhwcDims output;
  std::int32_t filter_height = 0;
  std::int32_t filter_width = 0;
  std::int32_t filter_input_depth = 0;  // input channels each output channel reads (C_in / G)
  std::int32_t stride_height = 1;
  std::int32_t stride_width = 1;
  std::int32_t dilation_height = 1;
  std::int32_t dilation_width = 1;
  std::int32_t pad_top = 0;   // the odd extra padding row goes to the bottom (spec 3.3)
  std::int32_t pad_left = 0;  // ... and the extra column to the right
};

namespace detail {

// Output size and leading padding of one spatial axis, with the op and axis in the message.
inline Result<AxisGeometry> conv_axis_geometry(const char* op, const char* axis,
                                               std::int32_t input_size, std::int32_t kernel_size,
                                               std::int32_t stride, std::int32_t dilation,
                                               Padding padding) {
  const Result<AxisGeometry> geometry =
      compute_named_axis_geometry(op, axis, input_size, kernel_size, stride, dilation, padding);
  if (!geometry.is_ok()) return geometry.status();
  // Eval computes tap coordinates in int32: origin + dilation * (kernel - 1) must fit.
  if (static_cast<std::int64_t>(input_size) +
          static_cast<std::int64_t>(kernel_size - 1) * dilation + stride >
      kInt32Max) {
    return axis_error(ErrorCode::invalid_argument, op, axis)
        .append("dilated kernel extent too large for int32 coordinates");
  }
  return geometry;
}

inline Status check_positive_dims(const char* op, const char* what, const Shape& shape) {
  for (int axis = 0; axis < shape.rank(); ++axis) {
    if (shape[axis] < 1) {
      Status status = Status::error(ErrorCode::shape_mismatch, op);
      status.append(" ").append(what).append(" ");
      append_shape(status, shape).append(" has a dimension < 1");
      return status;
    }
  }
  return Status::ok();
}

// Input and filter of rank 4 (the message names the op's filter layout), every dimension >= 1.
inline Status check_conv_shapes(const char* op, const Shape& input, const Shape& filter,
                                const char* filter_layout) {
  if (input.rank() != 4) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" input must be NHWC (rank 4), got rank ")
        .append(input.rank());
  }
  if (filter.rank() != 4) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" filter must be ")
        .append(filter_layout)
        .append(" (rank 4), got rank ")
        .append(filter.rank());
  }
  TSQ_RETURN_IF_ERROR(check_positive_dims(op, "input", input));
  return check_positive_dims(op, "filter", filter);
}

// Spatial part of the geometry (everything but the channel counts).
inline Status fill_spatial_geometry(const char* op, const Shape& input, std::int32_t filter_height,
                                    std::int32_t filter_width, Padding padding,
                                    std::int32_t stride_height, std::int32_t stride_width,
                                    std::int32_t dilation_height, std::int32_t dilation_width,
                                    Conv2DGeometry& geometry) {
  const Result<AxisGeometry> rows = conv_axis_geometry(op, "height", input[1], filter_height,
                                                       stride_height, dilation_height, padding);
  if (!rows.is_ok()) return rows.status();
  const Result<AxisGeometry> columns = conv_axis_geometry(op, "width", input[2], filter_width,
                                                          stride_width, dilation_width, padding);
  if (!columns.is_ok()) return columns.status();
  geometry.input = NhwcDims{input[0], input[1], input[2], input[3]};
  geometry.output.batch = input[0];
  geometry.output.height = rows->output_size;
  geometry.output.width = columns->output_size;
  geometry.filter_height = filter_height;
  geometry.filter_width = filter_width;
  geometry.stride_height = stride_height;
  geometry.stride_width = stride_width;
  geometry.dilation_height = dilation_height;
  geometry.dilation_width = dilation_width;
  geometry.pad_top = rows->pad_before;
  geometry.pad_left = columns->pad_before;
  return Status::ok();
}

// The int32 accumulator holds kMaxAccumulationDepth worst-case int8 products (common.hpp).
inline Status check_accumulation_depth(const char* op, std::int64_t depth) {
  if (depth > kMaxAccumulationDepth) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" filter volume ")
        .append(depth)
        .append(" exceeds the int32 accumulator limit ")
        .append(kMaxAccumulationDepth);
  }
  return Status::ok();
}

}  // namespace detail

// Validates ranks, channel counts, strides, dilations and padding and computes the geometry.
// Errors: rank != 4, a dimension < 1, C_in not a multiple of the filter depth or C_out not a
// multiple of the group count (shape_mismatch); stride or dilation < 1 (invalid_argument);
// VALID with a dilated kernel larger than the input (shape_mismatch).
inline Result<Conv2DGeometry> compute_conv2d_geometry(const Shape& input, const Shape& filter,
                                                      const Conv2DOptions& options) {
  TSQ_RETURN_IF_ERROR(detail::check_conv_shapes("Conv2D", input, filter, "[C_out, KH, KW, C_in]"));
  const std::int32_t input_channels = input[3];
  const std::int32_t output_channels = filter[0];
  const std::int32_t filter_depth = filter[3];
  if (input_channels % filter_depth != 0) {
    return Status::error(ErrorCode::shape_mismatch, "Conv2D input channels ")
        .append(input_channels)
        .append(" are not a multiple of the filter depth ")
        .append(filter_depth);
  }
  const std::int32_t groups = input_channels / filter_depth;
  if (output_channels % groups != 0) {
    return Status::error(ErrorCode::shape_mismatch, "Conv2D output channels ")
        .append(output_channels)
        .append(" are not a multiple of the group count ")
        .append(groups);
  }
  Conv2DGeometry geometry;
  TSQ_RETURN_IF_ERROR(detail::fill_spatial_geometry(
      "Conv2D", input, filter[1], filter[2], options.padding, options.stride_height,
      options.stride_width, options.dilation_height, options.dilation_width, geometry));
  geometry.output.channels = output_channels;
  geometry.filter_input_depth = filter_depth;
  return geometry;
}

// [N, OH, OW, C_out] of a Conv2D layer (spec 3.3: SAME ceil(n / s), VALID (n - k') / s + 1).
inline Result<Shape> conv2d_output_shape(const Shape& input, const Shape& filter,
                                         const Conv2DOptions& options) {
  const Result<Conv2DGeometry> geometry = compute_conv2d_geometry(input, filter, options);
  if (!geometry.is_ok()) return geometry.status();
  return nhwc_shape(geometry->output);
}

// Everything prepare needs to know about a quantized Conv2D layer.
struct Conv2DQuantization {
  Shape input_shape;  // [N, H, W, C_in]
  QuantParams input;
  Shape filter_shape;               // [C_out, KH, KW, C_in / G]
  Span<const float> filter_scales;  // one per output channel (per-channel) or one (per-tensor)
  QuantParams output;
  Conv2DOptions options;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct Conv2DParams {
  Conv2DGeometry geometry;
  DataType type = DataType::int8;  // of input and output
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  Span<const QuantizedMultiplier> multipliers;  // one per output channel, or one for all
  ActivationRange activation;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

namespace detail {

// Checks the activation types (int8 -> int8, or int16 -> int16 with zero points 0).
inline Status check_conv_activation_types(const char* op, const QuantParams& input,
                                          const QuantParams& output, bool allow_int16) {
  TSQ_RETURN_IF_ERROR(validate(input));
  TSQ_RETURN_IF_ERROR(validate(output));
  const bool int8 = input.type == DataType::int8 && output.type == DataType::int8;
  const bool int16 = input.type == DataType::int16 && output.type == DataType::int16;
  if (!int8 && !(allow_int16 && int16)) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(allow_int16 ? " supports int8 -> int8 and int16 -> int16"
                            : " supports int8 -> int8 only");
  }
  if (int16 && (input.zero_point != 0 || output.zero_point != 0)) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" with int16 activations needs zero points 0");
  }
  return Status::ok();
}

// Per-channel multipliers M_c = double(S_in) * double(S_w[c]) / double(S_out) (spec 3.3: all
// double, also for a per-tensor filter scale, unlike FullyConnected) into `storage`.
inline Result<Span<const QuantizedMultiplier>> compute_conv_multipliers(
    const char* op, const QuantParams& input, Span<const float> filter_scales,
    const QuantParams& output, std::int32_t output_channels, RoundingMode rounding,
    Span<QuantizedMultiplier> storage) {
  const std::size_t scale_count = filter_scales.size();
  if (scale_count != 1 && scale_count != static_cast<std::size_t>(output_channels)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" needs 1 or ")
        .append(output_channels)
        .append(" filter scales (one per output channel), got ")
        .append(scale_count);
  }
  if (storage.size() < scale_count) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" multiplier storage holds ")
        .append(storage.size())
        .append(", needs ")
        .append(scale_count);
  }
  for (std::size_t c = 0; c < scale_count; ++c) {
    if (!validate_scale(filter_scales[c]).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, op)
          .append(" filter scale ")
          .append(c)
          .append(" is not finite and > 0");
    }
  }
  for (std::size_t c = 0; c < scale_count; ++c) {
    const double real_multiplier = static_cast<double>(input.scale) *
                                   static_cast<double>(filter_scales[c]) /
                                   static_cast<double>(output.scale);
    const Result<QuantizedMultiplier> multiplier = quantize_multiplier(real_multiplier, rounding);
    if (!multiplier.is_ok()) {
      return Status::error(multiplier.status().code(), op)
          .append(" channel ")
          .append(c)
          .append(": ")
          .append(multiplier.status().message());
    }
    // The int64 requantization of 16-bit activations (spec 2.5) needs shift < 8.
    if (input.type == DataType::int16 && multiplier->shift >= 8) {
      return Status::error(ErrorCode::shift_out_of_range, op)
          .append(" channel ")
          .append(c)
          .append(": multiplier too large for int16 activations");
    }
    storage[c] = multiplier.value();
  }
  return Span<const QuantizedMultiplier>(storage.data(), scale_count);
}

// What prepare computes for a quantized convolution once its geometry is known.
struct ConvRequantization {
  Span<const QuantizedMultiplier> multipliers;
  ActivationRange activation;
};

// Checks the filter volume against the accumulator limit, computes the multipliers into
// `storage` and the activation clamp (shared by Conv2D and DepthwiseConv2D).
inline Result<ConvRequantization> prepare_conv_requantization(
    const char* op, const Conv2DGeometry& geometry, const QuantParams& input,
    Span<const float> filter_scales, const QuantParams& output, FusedActivation activation,
    RoundingMode rounding, Span<QuantizedMultiplier> storage) {
  TSQ_RETURN_IF_ERROR(
      check_accumulation_depth(op, static_cast<std::int64_t>(geometry.filter_height) *
                                       geometry.filter_width * geometry.filter_input_depth));
  const Result<Span<const QuantizedMultiplier>> multipliers = compute_conv_multipliers(
      op, input, filter_scales, output, geometry.output.channels, rounding, storage);
  if (!multipliers.is_ok()) return multipliers.status();
  const Result<ActivationRange> range = quantized_activation_range(activation, output);
  if (!range.is_ok()) return range.status();
  return ConvRequantization{multipliers.value(), range.value()};
}

}  // namespace detail

// Validates shapes, types, scales and options and computes the multipliers into
// `multiplier_storage` (size >= number of filter scales), which must outlive the returned params.
// Float math here only.
inline Result<Conv2DParams> prepare_conv2d(const Conv2DQuantization& q,
                                           Span<QuantizedMultiplier> multiplier_storage) {
  TSQ_RETURN_IF_ERROR(detail::check_conv_activation_types("Conv2D", q.input, q.output, true));
  const Result<Conv2DGeometry> geometry =
      compute_conv2d_geometry(q.input_shape, q.filter_shape, q.options);
  if (!geometry.is_ok()) return geometry.status();
  const Result<detail::ConvRequantization> requantization = detail::prepare_conv_requantization(
      "Conv2D", geometry.value(), q.input, q.filter_scales, q.output, q.options.activation,
      q.rounding, multiplier_storage);
  if (!requantization.is_ok()) return requantization.status();
  Conv2DParams params;
  params.geometry = geometry.value();
  params.type = q.input.type;
  params.input_zero_point = q.input.zero_point;
  params.output_zero_point = q.output.zero_point;
  params.multipliers = requantization->multipliers;
  params.activation = requantization->activation;
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

// The largest |bias| of an int16 layer for which the int64 accumulator stays below 2^47, the
// precondition of the 64-bit requantization (spec 2.5): the taps add at most
// kMaxAccumulationDepth * 128 * 32768 = 2^38.
constexpr std::int64_t kMaxInt16ConvBias = (std::int64_t{1} << 47) - 1 - (std::int64_t{1} << 38);

template <typename Input, typename Bias>
Status check_conv_views(const char* op, const PreparedMark& prepared,
                        const Conv2DGeometry& geometry, DataType type, std::size_t multiplier_count,
                        const Shape& expected_filter, const TensorView<const Input>& input,
                        const TensorView<const std::int8_t>& filter, Span<const Bias> bias,
                        const TensorView<Input>& output) {
  if (!prepared.is_set()) {
    return Status::error(ErrorCode::not_prepared, op)
        .append(" params were not produced by its prepare function");
  }
  // Prepared params edited afterwards: the multiplier count must still fit the channels.
  if ((multiplier_count != 1 &&
       multiplier_count != static_cast<std::size_t>(geometry.output.channels)) ||
      geometry.filter_input_depth < 1) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" params are inconsistent: multipliers do not match the output channels");
  }
  TSQ_RETURN_IF_ERROR(check_views_usable(op, input, filter, output));
  TSQ_RETURN_IF_ERROR(check_spans_usable(op, bias));
  if (type != data_type_of_v<Input>) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" was prepared for ")
        .append(data_type_name(type))
        .append(" activations, eval got ")
        .append(data_type_name(data_type_of_v<Input>));
  }
  if (input.shape() != nhwc_shape(geometry.input)) {
    return view_shape_error(op, "input", input.shape(), nhwc_shape(geometry.input));
  }
  if (filter.shape() != expected_filter) {
    return view_shape_error(op, "filter", filter.shape(), expected_filter);
  }
  if (!bias.empty() && bias.size() != static_cast<std::size_t>(geometry.output.channels)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" bias has ")
        .append(bias.size())
        .append(" values, expected ")
        .append(geometry.output.channels);
  }
  if (output.shape() != nhwc_shape(geometry.output)) {
    return view_shape_error(op, "output", output.shape(), nhwc_shape(geometry.output));
  }
  return check_contiguous(op, input, filter, output);
}

// [C_out, KH, KW, C_in / G]: the filter shape of a Conv2D geometry.
constexpr Shape conv2d_filter_shape(const Conv2DGeometry& g) {
  return Shape{g.output.channels, g.filter_height, g.filter_width, g.filter_input_depth};
}

// Every output element of a convolution, in NHWC order: *output++ = element(n, oy, ox, oc).
template <typename Output, typename Element>
void for_each_conv_output(const Conv2DGeometry& g, Output* output, Element element) {
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        for (std::int32_t oc = 0; oc < g.output.channels; ++oc) {
          *output++ = element(n, oy, ox, oc);
        }
      }
    }
  }
}

// The filter taps of output pixel (oy, ox) that lie inside the image, in filter order:
// visit(y, x, fy, fx). Taps outside the image are skipped: zero padding adds nothing.
template <typename Visit>
void for_each_conv_tap(const Conv2DGeometry& g, std::int32_t oy, std::int32_t ox, Visit visit) {
  const std::int32_t y0 = oy * g.stride_height - g.pad_top;
  const std::int32_t x0 = ox * g.stride_width - g.pad_left;
  for (std::int32_t fy = 0; fy < g.filter_height; ++fy) {
    const std::int32_t y = y0 + g.dilation_height * fy;
    if (y < 0 || y >= g.input.height) continue;
    for (std::int32_t fx = 0; fx < g.filter_width; ++fx) {
      const std::int32_t x = x0 + g.dilation_width * fx;
      if (x < 0 || x >= g.input.width) continue;
      visit(y, x, fy, fx);
    }
  }
}

// int16 biases must keep the int64 accumulator in the range of spec 2.5.
inline Status check_int16_bias(const char* op, Span<const std::int64_t> bias) {
  for (std::size_t c = 0; c < bias.size(); ++c) {
    if (bias[c] > kMaxInt16ConvBias || bias[c] < -kMaxInt16ConvBias) {
      return Status::error(ErrorCode::invalid_argument, op)
          .append(" int16 bias of channel ")
          .append(c)
          .append(" exceeds 2^47 - 2^38 - 1");
    }
  }
  return Status::ok();
}

// The convolution loops, shared by int8 (int32 accumulator) and int16 (int64 accumulator).
// `requantize(accumulator, channel)` adds the bias and returns the output before the clamp.
template <typename Accumulator, typename Input, typename Requantize>
void conv2d_loops(const Conv2DParams& params, const Input* input, const std::int8_t* filter,
                  Input* output, Requantize requantize) {
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t depth = g.filter_input_depth;
  const std::int32_t filters_per_group = g.output.channels / (g.input.channels / depth);
  const std::int32_t input_zero_point = params.input_zero_point;
  const auto filter_row = static_cast<std::ptrdiff_t>(g.filter_width) * depth;
  const auto filter_size = static_cast<std::ptrdiff_t>(g.filter_height) * filter_row;
  for_each_conv_output(
      g, output, [&](std::int32_t n, std::int32_t oy, std::int32_t ox, std::int32_t oc) {
        const std::int32_t first_channel = (oc / filters_per_group) * depth;
        const std::int8_t* channel_filter = filter + oc * filter_size;
        Accumulator accumulator = 0;
        for_each_conv_tap(
            g, oy, ox, [&](std::int32_t y, std::int32_t x, std::int32_t fy, std::int32_t fx) {
              const Input* pixel = input + nhwc_offset(g.input, n, y, x, first_channel);
              const std::int8_t* taps = channel_filter + fy * filter_row + fx * depth;
              for (std::int32_t i = 0; i < depth; ++i) {
                // |product| <= 128 * 255 (int8) or 128 * 32768 (int16): fits int32.
                accumulator += static_cast<Accumulator>(
                    static_cast<std::int32_t>(taps[i]) *
                    (static_cast<std::int32_t>(pixel[i]) - input_zero_point));
              }
            });
        const std::int32_t value = requantize(accumulator, oc);
        return static_cast<Input>(clamp(value, params.activation.min, params.activation.max));
      });
}

template <RoundingMode Mode>
void conv2d_int8(const Conv2DParams& params, const std::int8_t* input, const std::int8_t* filter,
                 const std::int32_t* bias, std::int8_t* output) {
  conv2d_loops<std::int32_t>(
      params, input, filter, output, [&](std::int32_t accumulator, std::int32_t channel) {
        return requantize_int8_accumulator<Mode>(accumulator, bias, params.multipliers, channel,
                                                 params.output_zero_point);
      });
}

}  // namespace detail

namespace reference {

// int8 x int8 -> int8. `bias` may be empty (no bias).
inline Status conv2d(const Conv2DParams& params, TensorView<const std::int8_t> input,
                     TensorView<const std::int8_t> filter, Span<const std::int32_t> bias,
                     TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(detail::check_conv_views(
      "Conv2D", params.prepared, params.geometry, params.type, params.multipliers.size(),
      detail::conv2d_filter_shape(params.geometry), input, filter, bias, output));
  const std::int32_t* bias_data = bias.empty() ? nullptr : bias.data();
  if (params.rounding == RoundingMode::double_rounding) {
    detail::conv2d_int8<RoundingMode::double_rounding>(params, input.data(), filter.data(),
                                                       bias_data, output.data());
  } else {
    detail::conv2d_int8<RoundingMode::single_rounding>(params, input.data(), filter.data(),
                                                       bias_data, output.data());
  }
  return Status::ok();
}

// int16 x int8 -> int16 with int64 accumulator and bias (TFLite-Micro's 16x8 conv: symmetric
// int16 activations, requantized with the 64-bit multiply of spec 2.5, the same in both modes).
// Errors also when a bias exceeds 2^47 - 2^38 - 1 in magnitude (the int64 multiply's range).
inline Status conv2d(const Conv2DParams& params, TensorView<const std::int16_t> input,
                     TensorView<const std::int8_t> filter, Span<const std::int64_t> bias,
                     TensorView<std::int16_t> output) {
  TSQ_RETURN_IF_ERROR(detail::check_conv_views(
      "Conv2D", params.prepared, params.geometry, params.type, params.multipliers.size(),
      detail::conv2d_filter_shape(params.geometry), input, filter, bias, output));
  TSQ_RETURN_IF_ERROR(detail::check_int16_bias("Conv2D", bias));
  const bool per_channel = params.multipliers.size() > 1;
  const std::int64_t* bias_data = bias.empty() ? nullptr : bias.data();
  detail::conv2d_loops<std::int64_t>(
      params, input.data(), filter.data(), output.data(),
      [&](std::int64_t accumulator, std::int32_t channel) {
        if (bias_data != nullptr) accumulator += bias_data[channel];
        const QuantizedMultiplier m =
            params.multipliers[per_channel ? static_cast<std::size_t>(channel) : 0];
        return detail::add_zero_point(multiply_by_quantized_multiplier_int64(accumulator, m),
                                      params.output_zero_point);
      });
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
