// SPDX-License-Identifier: Apache-2.0
// Conv2D, dynamic-range ("DRQ", hybrid), on the SIMD paths (cpu.hpp): float input and output,
// int8 filter packed once; the output floats equal hybrid::conv2d's bit for bit.
//
// As the reference, each batch item [H, W, C_in] is quantized whole by hybrid::quantize_row
// (scale S_n, zero point Z_n) into scratch. Then simd::conv2d's im2col GEMM runs on it, the taps
// outside the image filled with x = Z_n, with the filter packed for input zero point 0 and no
// bias, so the GEMM's accumulator outputs (OutputType::accumulator) are sum over all taps of
// W x. With the filter sums kept at prepare, acc - Z_n * sum W = sum over the taps inside the
// image of W (x - Z_n): the padded taps cancel, and this is exactly the reference's int32
// accumulator. The epilogue is the reference's float expression in its order:
//   y = activation(float(acc - Z_n * sum W[c]) * (S_n * S_w[c]) + bias[c]).
//
//   params  = hybrid::prepare_conv2d(input_shape, filter_shape, scales, options);  // reference
//   simd    = simd::prepare_hybrid_conv2d(params, filter, filter_sum_storage);
//   packed  = simd::pack_hybrid_conv2d(simd, filter, values, tiles);                // once
//   scratch : simd::hybrid_conv2d_scratch_size(simd) bytes
//   simd::hybrid_conv2d(simd, input, packed, bias, output, scratch);       // no heap, no throw
//
// simd::PreparedHybridConv2D (below, host) owns all of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/simd/conv2d.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/gemm.hpp"
#include "tsq/kernels/simd/hybrid_fully_connected.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/kernels/simd/prepared.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace simd {

// What eval reads besides the packed filter. The spans point into the reference params' scales
// and the caller's filter-sum storage, which must outlive these params.
struct SimdHybridConv2DParams {
  Conv2DGeometry geometry;
  std::int32_t groups = 1;
  Span<const float> filter_scales;       // one per output channel, or one
  Span<const std::int32_t> filter_sums;  // sum of W[c, :, :, :], one per output channel
  FusedActivation activation = FusedActivation::none;
  PreparedMark prepared;  // set by simd::prepare_hybrid_conv2d

  // Output channels per group, and the GEMM depth KH * KW * C_in / G.
  std::int32_t group_units() const { return geometry.output.channels / groups; }
  std::int32_t depth() const {
    return geometry.filter_height * geometry.filter_width * geometry.filter_input_depth;
  }
};

namespace detail {

constexpr const char* kHybridConv2DOp = "simd hybrid Conv2D";

// Bytes of one quantized batch item in scratch, rounded up so that the GEMM rows after it start
// on their own cache line.
inline std::size_t hybrid_item_bytes(const Conv2DGeometry& g) {
  const std::size_t item =
      hybrid::conv2d_scratch_size(g.input.height, g.input.width, g.input.channels);
  const auto alignment = static_cast<std::size_t>(kRowAlignment);
  return (item + alignment - 1) / alignment * alignment;
}

inline Status check_hybrid_conv2d_geometry(const char* op, const Conv2DGeometry& g,
                                           std::size_t scale_count) {
  if ((scale_count != 1 && scale_count != static_cast<std::size_t>(g.output.channels)) ||
      g.filter_input_depth < 1 || g.input.channels % g.filter_input_depth != 0 ||
      g.output.channels % (g.input.channels / g.filter_input_depth) != 0) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" params are inconsistent: channels, groups and filter scales do not match");
  }
  return Status::ok();
}

// The geometry in the form simd::conv2d's im2col writer reads (geometry and groups only).
inline SimdConv2DParams im2col_layout(const SimdHybridConv2DParams& params) {
  SimdConv2DParams layout;
  layout.geometry = params.geometry;
  layout.groups = params.groups;
  return layout;
}

}  // namespace detail

// The eval params of a layer prepared by hybrid::prepare_conv2d, with the filter [C_out, KH, KW,
// C_in / G] summed per output channel into `filter_sum_storage` (C_out values, which must
// outlive the result, as the reference params' scales must).
inline Result<SimdHybridConv2DParams> prepare_hybrid_conv2d(const hybrid::Conv2DParams& params,
                                                            TensorView<const std::int8_t> filter,
                                                            Span<std::int32_t> filter_sum_storage) {
  const char* op = detail::kHybridConv2DOp;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, params));
  const Conv2DGeometry& g = params.geometry;
  TSQ_RETURN_IF_ERROR(detail::check_hybrid_conv2d_geometry(op, g, params.filter_scales.size()));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, filter));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, filter_sum_storage));
  const Shape expected = tsq::detail::conv2d_filter_shape(g);
  if (filter.shape() != expected) {
    return tsq::detail::view_shape_error(op, "filter", filter.shape(), expected);
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, filter));
  const std::int32_t channels = g.output.channels;
  if (filter_sum_storage.size() < static_cast<std::size_t>(channels)) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" filter-sum storage holds ")
        .append(filter_sum_storage.size())
        .append(", needs ")
        .append(channels);
  }
  SimdHybridConv2DParams simd_params;
  simd_params.geometry = g;
  simd_params.groups = g.input.channels / g.filter_input_depth;
  const std::int32_t depth = simd_params.depth();
  for (std::int32_t c = 0; c < channels; ++c) {
    // |sum| <= kMaxAccumulationDepth * 128: int32 (prepare_conv2d checked the depth).
    std::int32_t sum = 0;
    const std::int8_t* row = filter.data() + static_cast<std::ptrdiff_t>(c) * depth;
    for (std::int32_t d = 0; d < depth; ++d) sum += row[d];
    filter_sum_storage[static_cast<std::size_t>(c)] = sum;
  }
  simd_params.filter_scales = params.filter_scales;
  simd_params.filter_sums =
      Span<const std::int32_t>(filter_sum_storage.data(), static_cast<std::size_t>(channels));
  simd_params.activation = params.activation;
  tsq::detail::mark_prepared(simd_params);
  return simd_params;
}

inline PackedWeightsSize hybrid_conv2d_packed_size(const SimdHybridConv2DParams& params) {
  return detail::packed_weights_size(params.groups, params.group_units(), params.depth());
}

// Packs filter [C_out, KH, KW, C_in / G] of the prepared layer into the caller's storage, which
// the result points into.
inline Result<PackedWeights> pack_hybrid_conv2d(const SimdHybridConv2DParams& params,
                                                TensorView<const std::int8_t> filter,
                                                Span<std::int8_t> value_storage,
                                                Span<TileRequantization> tile_storage) {
  const char* op = detail::kHybridConv2DOp;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, filter));
  const Shape expected = tsq::detail::conv2d_filter_shape(params.geometry);
  if (filter.shape() != expected) {
    return tsq::detail::view_shape_error(op, "filter", filter.shape(), expected);
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, filter));
  return detail::pack_hybrid_weights(op, filter.data(), params.groups, params.group_units(),
                                     params.depth(), value_storage, tile_storage);
}

// Scratch bytes: one quantized batch item, then the recommended block of im2col rows.
inline std::size_t hybrid_conv2d_scratch_size(const SimdHybridConv2DParams& params) {
  const Conv2DGeometry& g = params.geometry;
  const std::int64_t pixels = static_cast<std::int64_t>(g.output.height) * g.output.width;
  const std::int32_t padded_depth = detail::round_up(params.depth(), kDepthGroup);
  return detail::hybrid_item_bytes(g) +
         detail::scratch_size_for_rows(
             padded_depth,
             detail::recommended_block_rows(
                 padded_depth, pixels > kInt32Max ? kInt32Max : static_cast<std::int32_t>(pixels)));
}

// float -> float on the active path, equal to hybrid::conv2d(params, input, filter, bias,
// output, ..): input [N, H, W, C_in] and output [N, OH, OW, C_out] of the prepared shapes,
// contiguous; `bias` empty or one per output channel. Errors: not_prepared, shape_mismatch,
// packed filter of another layer, scratch smaller than the item and one row.
inline Status hybrid_conv2d(const SimdHybridConv2DParams& params, TensorView<const float> input,
                            const PackedWeights& filter, Span<const float> bias,
                            TensorView<float> output, Span<std::int8_t> scratch) {
  const char* op = detail::kHybridConv2DOp;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, params));
  const Conv2DGeometry& g = params.geometry;
  TSQ_RETURN_IF_ERROR(detail::check_hybrid_conv2d_geometry(op, g, params.filter_scales.size()));
  if (params.filter_sums.size() != static_cast<std::size_t>(g.output.channels)) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" params are inconsistent: filter sums do not match the output channels");
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, bias, scratch));
  if (input.shape() != nhwc_shape(g.input)) {
    return tsq::detail::view_shape_error(op, "input", input.shape(), nhwc_shape(g.input));
  }
  if (output.shape() != nhwc_shape(g.output)) {
    return tsq::detail::view_shape_error(op, "output", output.shape(), nhwc_shape(g.output));
  }
  if (!bias.empty() && bias.size() != static_cast<std::size_t>(g.output.channels)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" bias has ")
        .append(bias.size())
        .append(" values, expected ")
        .append(g.output.channels);
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, input, output));
  const std::int32_t units = params.group_units();
  TSQ_RETURN_IF_ERROR(
      detail::check_hybrid_packed(op, filter, params.groups, units, params.depth()));
  // The quantized item, then the rows.
  const std::size_t item_bytes = detail::hybrid_item_bytes(g);
  const Result<detail::ScratchRows> rows =
      scratch.size() > item_bytes
          ? detail::scratch_rows(
                op, Span<std::int8_t>(scratch.data() + item_bytes, scratch.size() - item_bytes),
                filter.padded_depth)
          : Result<detail::ScratchRows>(Status::error(ErrorCode::buffer_too_small, op));
  if (!rows.is_ok()) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" scratch holds ")
        .append(scratch.size())
        .append(" bytes, needs at least ")
        .append(item_bytes + detail::scratch_size_for_rows(filter.padded_depth, 1));
  }

  const Path path = active_path();
  const OutputStage stage = detail::hybrid_output_stage();
  const FloatActivationRange range = float_activation_range(params.activation);
  const SimdConv2DParams layout = detail::im2col_layout(params);
  const detail::InteriorRuns interior = detail::interior_runs(g);
  const auto item_size = static_cast<std::int32_t>(
      hybrid::conv2d_scratch_size(g.input.height, g.input.width, g.input.channels));
  const std::int64_t pixels = static_cast<std::int64_t>(g.output.height) * g.output.width;
  std::int8_t* quantized = scratch.data();
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    const hybrid::RowQuantization item = hybrid::quantize_row(
        input.data() + static_cast<std::ptrdiff_t>(n) * item_size, item_size, quantized);
    // Taps outside the image read x = Z_n (see the file comment).
    const auto padding =
        static_cast<std::int8_t>(static_cast<std::uint8_t>(item.zero_point + kInputOffset));
    float* item_output =
        output.data() + static_cast<std::ptrdiff_t>(n) * pixels * g.output.channels;
    detail::PixelCursor block_start;  // n = 0: the quantized item is the im2col's whole input
    for (std::int64_t first = 0; first < pixels; first += rows->capacity) {
      const auto count = static_cast<std::int32_t>(
          pixels - first < rows->capacity ? pixels - first : rows->capacity);
      float* block_output = item_output + first * g.output.channels;
      detail::PixelCursor pixel;
      for (std::int32_t group = 0; group < params.groups; ++group) {
        pixel = block_start;
        detail::write_conv_block(path, layout, interior, filter.padded_depth, quantized, padding,
                                 group, rows.value(), count, pixel);
        GemmBlock block;
        block.rows = rows->data;
        block.row_stride = rows->stride;
        block.row_count = count;
        block.output = block_output + group * units;
        block.output_stride = g.output.channels;
        detail::run_gemm(path, filter, group, block, stage);
      }
      block_start = pixel;
      for (std::int32_t r = 0; r < count; ++r) {
        detail::scale_accumulators(
            path, block_output + static_cast<std::ptrdiff_t>(r) * g.output.channels,
            g.output.channels, item.zero_point, params.filter_sums.data(), item.scale,
            params.filter_scales, bias, range);
      }
    }
  }
  return Status::ok();
}

// A hybrid Conv2D layer ready for simd::hybrid_conv2d (host only): the reference's owned params,
// the filter sums, the packed filter and the bias. Copies and moves keep the params' spans
// pointing into the owner's own storage.
class PreparedHybridConv2D {
 public:
  PreparedHybridConv2D() = default;  // empty: run() refuses it (not_prepared)

  // Runs hybrid::prepare_conv2d (same errors) and packs `filter` [C_out, KH, KW, C_in / G];
  // `bias` empty or one per output channel.
  static Result<PreparedHybridConv2D> create(const Shape& input_shape,
                                             TensorView<const std::int8_t> filter,
                                             Span<const float> filter_scales,
                                             Span<const float> bias, const Conv2DOptions& options) {
    Result<Prepared<hybrid::Conv2DParams>> params =
        hybrid::prepare_owned_conv2d(input_shape, filter.shape(), filter_scales, options);
    if (!params.is_ok()) return params.status();
    return from_reference(std::move(params).value(), filter, bias);
  }
  static Result<PreparedHybridConv2D> from_reference(Prepared<hybrid::Conv2DParams> reference,
                                                     TensorView<const std::int8_t> filter,
                                                     Span<const float> bias) {
    PreparedHybridConv2D layer;
    layer.reference_ = std::move(reference);
    const std::int32_t channels = layer.reference_->geometry.output.channels;
    if (!bias.empty() && bias.size() != static_cast<std::size_t>(channels)) {
      return Status::error(ErrorCode::shape_mismatch, detail::kHybridConv2DOp)
          .append(" bias has ")
          .append(bias.size())
          .append(" values, expected ")
          .append(channels);
    }
    layer.bias_.assign(bias.begin(), bias.end());
    layer.sums_.assign(channels > 0 ? static_cast<std::size_t>(channels) : 0, 0);
    const Result<SimdHybridConv2DParams> params =
        prepare_hybrid_conv2d(*layer.reference_, filter, Span<std::int32_t>(layer.sums_));
    if (!params.is_ok()) return params.status();
    layer.params_ = *params;
    layer.packed_.allocate(hybrid_conv2d_packed_size(layer.params_));
    const Result<PackedWeights> packed = pack_hybrid_conv2d(
        layer.params_, filter, layer.packed_.value_storage(), layer.packed_.tile_storage());
    if (!packed.is_ok()) return packed.status();
    layer.packed_.adopt(*packed);
    return layer;
  }

  PreparedHybridConv2D(const PreparedHybridConv2D& other)
      : reference_(other.reference_),
        sums_(other.sums_),
        bias_(other.bias_),
        params_(other.params_),
        packed_(other.packed_) {
    repoint();
  }
  PreparedHybridConv2D& operator=(const PreparedHybridConv2D& other) {
    if (this != &other) {
      reference_ = other.reference_;
      sums_ = other.sums_;
      bias_ = other.bias_;
      params_ = other.params_;
      packed_ = other.packed_;
      repoint();
    }
    return *this;
  }
  // Moved vectors and Prepared keep their buffers, so the spans stay valid; the source is left
  // empty.
  PreparedHybridConv2D(PreparedHybridConv2D&& other) noexcept
      : reference_(std::move(other.reference_)),
        sums_(std::move(other.sums_)),
        bias_(std::move(other.bias_)),
        params_(other.params_),
        packed_(std::move(other.packed_)) {
    other.params_ = SimdHybridConv2DParams{};
  }
  PreparedHybridConv2D& operator=(PreparedHybridConv2D&& other) noexcept {
    if (this != &other) {
      reference_ = std::move(other.reference_);
      sums_ = std::move(other.sums_);
      bias_ = std::move(other.bias_);
      params_ = other.params_;
      packed_ = std::move(other.packed_);
      other.params_ = SimdHybridConv2DParams{};
    }
    return *this;
  }
  ~PreparedHybridConv2D() = default;

  const SimdHybridConv2DParams& params() const { return params_; }
  const PackedWeights& filter() const { return packed_.view(); }
  std::size_t scratch_size() const { return hybrid_conv2d_scratch_size(params_); }
  Status run(TensorView<const float> input, TensorView<float> output,
             Span<std::int8_t> scratch) const {
    return hybrid_conv2d(params_, input, packed_.view(), Span<const float>(bias_), output, scratch);
  }

 private:
  void repoint() {
    if (!params_.prepared.is_set()) return;
    params_.filter_scales = reference_->filter_scales;
    params_.filter_sums = Span<const std::int32_t>(sums_);
  }

  Prepared<hybrid::Conv2DParams> reference_;
  std::vector<std::int32_t> sums_;
  std::vector<float> bias_;
  SimdHybridConv2DParams params_;
  OwnedPackedWeights packed_;
};

}  // namespace simd
}  // namespace tsq
