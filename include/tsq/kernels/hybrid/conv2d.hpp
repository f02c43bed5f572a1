// SPDX-License-Identifier: Apache-2.0
// Conv2D, dynamic-range ("DRQ", hybrid): int8 per-channel filter, float input and output.
// Each batch item (the whole [H, W, C_in] image) is quantized on the fly to asymmetric int8
// from its own range, the taps run in int32 and the accumulators are scaled back to float:
//   q = round(x / S_n) + Z_n   (S_n, Z_n from min/max of batch item n, 0 included)
//   acc = sum over the taps inside the image of W[c, fy, fx, i] * (q - Z_n)
//   y = activation(S_n * S_w[c] * acc + bias[c])
// Subtracting Z_n inside the sum (as the integer reference does) keeps SAME padding right: a
// skipped tap contributes nothing, whereas folding Z_n * sum(W) over all taps would not.
// Same layouts and geometry as the integer reference (reference/conv2d.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace hybrid {

struct Conv2DParams {
  Conv2DGeometry geometry;
  Span<const float> filter_scales;  // one per output channel, or one
  FusedActivation activation = FusedActivation::none;
  PreparedMark prepared;  // set by its prepare
};

// Scratch (bytes) that eval needs: one quantized batch item [H, W, C_in].
constexpr std::size_t conv2d_scratch_size(std::int32_t height, std::int32_t width,
                                          std::int32_t channels) {
  return height > 0 && width > 0 && channels > 0
             ? static_cast<std::size_t>(height) * static_cast<std::size_t>(width) *
                   static_cast<std::size_t>(channels)
             : 0;
}

constexpr std::size_t conv2d_scratch_size(const Conv2DParams& params) {
  return conv2d_scratch_size(params.geometry.input.height, params.geometry.input.width,
                             params.geometry.input.channels);
}

// Validates the shapes, options and filter scales (one per output channel or one, finite and
// > 0). The scales must outlive the params.
inline Result<Conv2DParams> prepare_conv2d(const Shape& input_shape, const Shape& filter_shape,
                                           Span<const float> filter_scales,
                                           const Conv2DOptions& options) {
  const Result<Conv2DGeometry> geometry =
      compute_conv2d_geometry(input_shape, filter_shape, options);
  if (!geometry.is_ok()) return geometry.status();
  TSQ_RETURN_IF_ERROR(tsq::detail::check_accumulation_depth(
      "hybrid Conv2D", static_cast<std::int64_t>(geometry->filter_height) * geometry->filter_width *
                           geometry->filter_input_depth));
  // quantize_row takes an int32 length.
  if (conv2d_scratch_size(input_shape[1], input_shape[2], input_shape[3]) >
      static_cast<std::size_t>(kInt32Max)) {
    return Status::error(ErrorCode::invalid_argument,
                         "hybrid Conv2D batch item has more than 2^31 - 1 elements");
  }
  const std::int32_t output_channels = geometry->output.channels;
  if (filter_scales.size() != 1 &&
      filter_scales.size() != static_cast<std::size_t>(output_channels)) {
    return Status::error(ErrorCode::shape_mismatch, "hybrid Conv2D needs 1 or ")
        .append(output_channels)
        .append(" filter scales (one per output channel), got ")
        .append(filter_scales.size());
  }
  for (std::size_t c = 0; c < filter_scales.size(); ++c) {
    if (!validate_scale(filter_scales[c]).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, "hybrid Conv2D filter scale ")
          .append(c)
          .append(" is not finite and > 0");
    }
  }
  Conv2DParams params;
  params.geometry = geometry.value();
  params.filter_scales = filter_scales;
  params.activation = options.activation;
  tsq::detail::mark_prepared(params);
  return params;
}

// `bias` may be empty (no bias). `scratch` holds conv2d_scratch_size(params) bytes.
inline Status conv2d(const Conv2DParams& params, TensorView<const float> input,
                     TensorView<const std::int8_t> filter, Span<const float> bias,
                     TensorView<float> output, Span<std::int8_t> scratch) {
  const Conv2DGeometry& g = params.geometry;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("hybrid Conv2D", params));
  if ((params.filter_scales.size() != 1 &&
       params.filter_scales.size() != static_cast<std::size_t>(g.output.channels)) ||
      g.filter_input_depth < 1) {
    return Status::error(ErrorCode::invalid_argument,
                         "hybrid Conv2D params are inconsistent: filter scales and channels");
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("hybrid Conv2D", input, filter, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("hybrid Conv2D", bias, scratch));
  if (input.shape() != nhwc_shape(g.input)) {
    return tsq::detail::view_shape_error("hybrid Conv2D", "input", input.shape(),
                                         nhwc_shape(g.input));
  }
  const Shape expected_filter = tsq::detail::conv2d_filter_shape(g);
  if (filter.shape() != expected_filter) {
    return tsq::detail::view_shape_error("hybrid Conv2D", "filter", filter.shape(),
                                         expected_filter);
  }
  TSQ_RETURN_IF_ERROR(floating::detail::check_float_conv_views("hybrid Conv2D", g, input, filter,
                                                               bias.size(), output));
  const std::size_t item_size = conv2d_scratch_size(params);
  if (scratch.size() < item_size) {
    return Status::error(ErrorCode::buffer_too_small, "hybrid Conv2D scratch holds ")
        .append(scratch.size())
        .append(" bytes, needs ")
        .append(item_size);
  }
  const std::int32_t depth = g.filter_input_depth;
  const std::int32_t filters_per_group = g.output.channels / (g.input.channels / depth);
  const auto filter_row = static_cast<std::ptrdiff_t>(g.filter_width) * depth;
  const auto filter_size = static_cast<std::ptrdiff_t>(g.filter_height) * filter_row;
  const bool per_channel = params.filter_scales.size() > 1;
  const FloatActivationRange range = float_activation_range(params.activation);
  const NhwcDims item_dims{1, g.input.height, g.input.width, g.input.channels};
  std::int8_t* quantized = scratch.data();
  float* out = output.data();
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    const RowQuantization item = quantize_row(
        input.data() + static_cast<std::ptrdiff_t>(n) * static_cast<std::ptrdiff_t>(item_size),
        static_cast<std::int32_t>(item_size), quantized);
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        for (std::int32_t oc = 0; oc < g.output.channels; ++oc) {
          const std::int32_t first_channel = (oc / filters_per_group) * depth;
          const std::int8_t* channel_filter = filter.data() + oc * filter_size;
          // At most kMaxAccumulationDepth products of |W| <= 128 and |q - Z| <= 255: fits.
          std::int32_t accumulator = 0;
          tsq::detail::for_each_conv_tap(
              g, oy, ox, [&](std::int32_t y, std::int32_t x, std::int32_t fy, std::int32_t fx) {
                const std::int8_t* pixel =
                    quantized + nhwc_offset(item_dims, 0, y, x, first_channel);
                const std::int8_t* taps = channel_filter + fy * filter_row + fx * depth;
                for (std::int32_t i = 0; i < depth; ++i) {
                  accumulator += static_cast<std::int32_t>(taps[i]) *
                                 (static_cast<std::int32_t>(pixel[i]) - item.zero_point);
                }
              });
          const float filter_scale =
              params.filter_scales[per_channel ? static_cast<std::size_t>(oc) : 0];
          float value = static_cast<float>(accumulator) * (item.scale * filter_scale);
          if (!bias.empty()) value += bias[static_cast<std::size_t>(oc)];
          *out++ = apply_activation(value, range);
        }
      }
    }
  }
  return Status::ok();
}

}  // namespace hybrid
}  // namespace tsq
