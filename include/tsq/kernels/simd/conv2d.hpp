// SPDX-License-Identifier: Apache-2.0
// Conv2D int8 on the SIMD paths (cpu.hpp): bit-identical to reference::conv2d (int8 -> int8)
// for every geometry the reference supports (k x 1, 1 x k and general kernels, strides,
// dilations, VALID / SAME padding, groups) and every quantization.
//
// An im2col GEMM in blocks of output pixels: each pixel's receptive field, in the filter's own
// order [KH, KW, C_in / G], is copied into a scratch row as x + kInputOffset; taps outside the
// image are filled with Z_in + kInputOffset, i.e. x = Z_in, whose products W (x - Z_in) are 0,
// exactly the reference's skipped taps. A group's rows then run against that group's packed
// filters [C_out / G, KH * KW * C_in / G] (packed_weights.hpp).
//
//   params  = tsq::prepare_conv2d(q, multiplier_storage);             // the reference prepare
//   simd    = simd::prepare_conv2d(params);
//   packed  = simd::pack_conv2d(params, filter, bias, values, tiles);  // once
//   scratch : simd::conv2d_scratch_size(simd) bytes
//   simd::conv2d(simd, input, packed, output, scratch);                // no heap, no throw
#pragma once

#include <cstddef>
#include <cstdint>
#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/fully_connected.hpp"
#include "tsq/kernels/simd/gemm.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace simd {

// Integers only: what eval reads besides the packed filter.
struct SimdConv2DParams {
  Conv2DGeometry geometry;
  std::int32_t groups = 1;
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  ActivationRange activation;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by simd::prepare_conv2d

  // Output channels per group, and the GEMM depth KH * KW * C_in / G.
  std::int32_t group_units() const { return geometry.output.channels / groups; }
  std::int32_t depth() const {
    return geometry.filter_height * geometry.filter_width * geometry.filter_input_depth;
  }
};

namespace detail {

constexpr const char* kConv2DOp = "simd Conv2D";

inline Status check_reference_conv2d(const Conv2DParams& params) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(kConv2DOp, params));
  if (params.type != DataType::int8) {
    return Status::error(ErrorCode::unsupported_type, kConv2DOp)
        .append(" supports int8 -> int8 only, the params were prepared for ")
        .append(data_type_name(params.type));
  }
  TSQ_RETURN_IF_ERROR(check_int8_output_range(kConv2DOp, params.activation));
  const Conv2DGeometry& g = params.geometry;
  if ((params.multipliers.size() != 1 &&
       params.multipliers.size() != static_cast<std::size_t>(g.output.channels)) ||
      g.filter_input_depth < 1 || g.input.channels % g.filter_input_depth != 0 ||
      g.output.channels % (g.input.channels / g.filter_input_depth) != 0) {
    return Status::error(ErrorCode::invalid_argument, kConv2DOp)
        .append(" params are inconsistent: channels, groups and multipliers do not match");
  }
  return Status::ok();
}

}  // namespace detail

// The eval params of a Conv2D layer prepared by tsq::prepare_conv2d (int8 only).
inline Result<SimdConv2DParams> prepare_conv2d(const Conv2DParams& params) {
  TSQ_RETURN_IF_ERROR(detail::check_reference_conv2d(params));
  SimdConv2DParams simd_params;
  simd_params.geometry = params.geometry;
  simd_params.groups = params.geometry.input.channels / params.geometry.filter_input_depth;
  simd_params.input_zero_point = params.input_zero_point;
  simd_params.output_zero_point = params.output_zero_point;
  simd_params.activation = params.activation;
  simd_params.rounding = params.rounding;
  tsq::detail::mark_prepared(simd_params);
  return simd_params;
}

inline PackedWeightsSize conv2d_packed_size(const SimdConv2DParams& params) {
  return detail::packed_weights_size(params.groups, params.group_units(), params.depth());
}

// Packs filter [C_out, KH, KW, C_in / G] and bias (empty: none) of the prepared layer into the
// caller's storage, which the result points into.
inline Result<PackedWeights> pack_conv2d(const Conv2DParams& params,
                                         TensorView<const std::int8_t> filter,
                                         Span<const std::int32_t> bias,
                                         Span<std::int8_t> value_storage,
                                         Span<TileRequantization> tile_storage) {
  TSQ_RETURN_IF_ERROR(detail::check_reference_conv2d(params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(detail::kConv2DOp, filter));
  const Shape expected = tsq::detail::conv2d_filter_shape(params.geometry);
  if (filter.shape() != expected) {
    return tsq::detail::view_shape_error(detail::kConv2DOp, "filter", filter.shape(), expected);
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(detail::kConv2DOp, filter));
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t groups = g.input.channels / g.filter_input_depth;
  return detail::pack_weights(detail::kConv2DOp, filter.data(), groups, g.output.channels / groups,
                              g.filter_height * g.filter_width * g.filter_input_depth, bias,
                              params.multipliers, params.input_zero_point, params.rounding,
                              value_storage, tile_storage);
}

// Scratch bytes for the recommended block of output pixels.
inline std::size_t conv2d_scratch_size(const SimdConv2DParams& params) {
  const Conv2DGeometry& g = params.geometry;
  const std::int64_t pixels =
      static_cast<std::int64_t>(g.output.batch) * g.output.height * g.output.width;
  const std::int32_t padded_depth = detail::round_up(params.depth(), kDepthGroup);
  return detail::scratch_size_for_rows(
      padded_depth,
      detail::recommended_block_rows(
          padded_depth, pixels > kInt32Max ? kInt32Max : static_cast<std::int32_t>(pixels)));
}

namespace detail {

// An output pixel's position, stepped in NHWC order without divisions.
struct PixelCursor {
  std::int32_t n = 0;
  std::int32_t oy = 0;
  std::int32_t ox = 0;

  void advance(const NhwcDims& output) {
    if (++ox < output.width) return;
    ox = 0;
    if (++oy < output.height) return;
    oy = 0;
    ++n;
  }
};

// The taps of a pixel whose receptive field lies inside the image, as runs of contiguous input
// (offsets from the field's first tap): the same for every such pixel, computed once per call.
// A 1 x k filter with stride 1 along x and one group is one run.
struct InteriorRuns {
  static constexpr std::int32_t kCapacity = 32;
  GatherRun runs[kCapacity];
  std::int32_t count = 0;
  bool usable = false;  // false: more runs than kCapacity, every row takes the general path
};

inline InteriorRuns interior_runs(const Conv2DGeometry& g) {
  InteriorRuns result;
  const std::int32_t channels = g.filter_input_depth;
  for (std::int32_t fy = 0; fy < g.filter_height; ++fy) {
    for (std::int32_t fx = 0; fx < g.filter_width; ++fx) {
      const std::ptrdiff_t offset =
          (static_cast<std::ptrdiff_t>(g.dilation_height) * fy * g.input.width +
           static_cast<std::ptrdiff_t>(g.dilation_width) * fx) *
          g.input.channels;
      if (result.count > 0) {
        GatherRun& last = result.runs[result.count - 1];
        if (last.offset + last.bytes == offset) {
          last.bytes += channels;
          continue;
        }
      }
      if (result.count == InteriorRuns::kCapacity) return result;  // not usable
      result.runs[result.count++] = GatherRun{offset, channels};
    }
  }
  result.usable = true;
  return result;
}

// The first tap of output pixel `pixel`'s receptive field for `group`, or null when part of the
// field lies outside the image.
inline const std::int8_t* interior_field(const Conv2DGeometry& g, const std::int8_t* input,
                                         const PixelCursor& pixel, std::int32_t group) {
  const std::int32_t y0 = pixel.oy * g.stride_height - g.pad_top;
  const std::int32_t x0 = pixel.ox * g.stride_width - g.pad_left;
  const bool inside = y0 >= 0 && y0 + g.dilation_height * (g.filter_height - 1) < g.input.height &&
                      x0 >= 0 && x0 + g.dilation_width * (g.filter_width - 1) < g.input.width;
  return inside ? input + nhwc_offset(g.input, pixel.n, y0, x0, group * g.filter_input_depth)
                : nullptr;
}

// The im2col row of any output pixel for `group`: KH * KW taps of C_in / G activations, the
// taps outside the image as padding (x = Z_in), then padding up to padded_depth.
inline void write_conv_row(const SimdConv2DParams& params, std::int32_t padded_depth,
                           const std::int8_t* input, const PixelCursor& pixel, std::int32_t group,
                           SegmentWriter& writer) {
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t channels = g.filter_input_depth;
  const std::int32_t y0 = pixel.oy * g.stride_height - g.pad_top;
  const std::int32_t x0 = pixel.ox * g.stride_width - g.pad_left;
  for (std::int32_t fy = 0; fy < g.filter_height; ++fy) {
    const std::int32_t y = y0 + g.dilation_height * fy;
    if (y < 0 || y >= g.input.height) {
      writer.pad(g.filter_width * channels);
      continue;
    }
    for (std::int32_t fx = 0; fx < g.filter_width; ++fx) {
      const std::int32_t x = x0 + g.dilation_width * fx;
      if (x < 0 || x >= g.input.width) {
        writer.pad(channels);
      } else {
        writer.copy(input + nhwc_offset(g.input, pixel.n, y, x, group * channels), channels);
      }
    }
  }
  writer.pad(padded_depth - params.depth());
}

// One block's im2col rows for `group`, from output pixel `pixel` on (advanced past the block):
// runs of interior pixels are gathered by the path's vector code in one call, the others
// written tap by tap.
inline void write_conv_block(Path path, const SimdConv2DParams& params,
                             const InteriorRuns& interior, std::int32_t padded_depth,
                             const std::int8_t* input, std::int8_t padding, std::int32_t group,
                             const ScratchRows& rows, std::int32_t count, PixelCursor& pixel) {
  constexpr std::int32_t kFields = 64;
  const std::int8_t* fields[kFields];
  std::int32_t pending = 0;  // rows [r - pending, r) are interior and not yet written
  SegmentWriter writer(path, rows.data, padding);
  const auto gather = [&](std::int32_t end) {
    if (pending == 0) return;
    gather_rows(path, rows.data + (end - pending) * rows.stride, rows.stride, fields, pending,
                interior.runs, interior.count, params.depth(), padded_depth);
    pending = 0;
  };
  for (std::int32_t r = 0; r < count; ++r) {
    const std::int8_t* field =
        interior.usable ? interior_field(params.geometry, input, pixel, group) : nullptr;
    if (field != nullptr) {
      fields[pending++] = field;
      if (pending == kFields) gather(r + 1);
    } else {
      gather(r);
      writer.move_to(rows.data + r * rows.stride);
      write_conv_row(params, padded_depth, input, pixel, group, writer);
    }
    pixel.advance(params.geometry.output);
  }
  gather(count);
  writer.flush();
}

}  // namespace detail

// int8 x int8 -> int8 on the active path: input [N, H, W, C_in] and output [N, OH, OW, C_out]
// of the prepared shapes, contiguous. Errors: not_prepared, unsupported_type, shape_mismatch,
// packed filter of another layer, scratch smaller than one row.
inline Status conv2d(const SimdConv2DParams& params, TensorView<const std::int8_t> input,
                     const PackedWeights& filter, TensorView<std::int8_t> output,
                     Span<std::int8_t> scratch) {
  const char* op = detail::kConv2DOp;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, output));
  const Conv2DGeometry& g = params.geometry;
  if (input.shape() != nhwc_shape(g.input)) {
    return tsq::detail::view_shape_error(op, "input", input.shape(), nhwc_shape(g.input));
  }
  if (output.shape() != nhwc_shape(g.output)) {
    return tsq::detail::view_shape_error(op, "output", output.shape(), nhwc_shape(g.output));
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, input, output));
  const std::int32_t units = params.group_units();
  const std::int32_t depth = params.depth();
  TSQ_RETURN_IF_ERROR(detail::check_packed_weights(op, filter, params.groups, units, depth,
                                                   params.input_zero_point, params.rounding));
  const Result<detail::ScratchRows> rows = detail::scratch_rows(op, scratch, filter.padded_depth);
  if (!rows.is_ok()) return rows.status();

  const Path path = active_path();
  const OutputStage stage{params.output_zero_point, params.activation.min, params.activation.max,
                          params.rounding, filter.left_shift};
  const auto padding =
      static_cast<std::int8_t>(static_cast<std::uint8_t>(params.input_zero_point + kInputOffset));
  const std::int64_t pixels =
      static_cast<std::int64_t>(g.output.batch) * g.output.height * g.output.width;
  const detail::InteriorRuns interior = detail::interior_runs(g);
  detail::PixelCursor block_start;
  for (std::int64_t first = 0; first < pixels; first += rows->capacity) {
    const auto count = static_cast<std::int32_t>(pixels - first < rows->capacity ? pixels - first
                                                                                 : rows->capacity);
    detail::PixelCursor pixel;
    for (std::int32_t group = 0; group < params.groups; ++group) {
      pixel = block_start;
      detail::write_conv_block(path, params, interior, filter.padded_depth, input.data(), padding,
                               group, rows.value(), count, pixel);
      GemmBlock block;
      block.rows = rows->data;
      block.row_stride = rows->stride;
      block.row_count = count;
      block.output = output.data() + first * g.output.channels + group * units;
      block.output_stride = g.output.channels;
      detail::run_gemm(path, filter, group, block, stage);
    }
    block_start = pixel;
  }
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq
