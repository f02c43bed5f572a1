// SPDX-License-Identifier: Apache-2.0
// FullyConnected, dynamic-range ("DRQ", hybrid), on the SIMD paths (cpu.hpp): float input and
// output, int8 weights packed once; the output floats equal hybrid::fully_connected's bit for bit.
//
// Per block of input rows: each row is quantized by the reference's own hybrid::quantize_row
// (scale S_row, zero point Z_row), straight into its GEMM scratch row; the packed GEMM writes the
// raw int32 dot products sum_d W[u, d] q[d] (OutputType::accumulator, into the output floats'
// own storage); then, per element, the reference's float expression in its order:
//   y = activation(float(acc - Z_row * sum_d W[u, d]) * (S_row * S_w[u]) + bias[u]).
// The weights are packed for input zero point 0 without bias, so the tile bias folded at pack
// time, -kInputOffset * sum W, cancels the kernels' activation offset and acc is exactly
// sum W q; Z_row changes per row and is applied in the epilogue with the reference's row sums.
// |acc - Z_row sum W| = |sum W (q - Z_row)| <= 65536 * 128 * 255 < 2^31, so the int32 value
// the epilogue converts is the reference's own (int64 there, same value, same float).
//
//   params  = hybrid::prepare_fully_connected(weights, scales, activation, row_sums);  // ref.
//   size    = simd::hybrid_fully_connected_packed_size(params);
//   packed  = simd::pack_hybrid_fully_connected(params, weights, values, tiles);       // once
//   scratch : simd::hybrid_fully_connected_scratch_size(params, batches) bytes
//   simd::hybrid_fully_connected(params, input, packed, bias, output, scratch);  // no heap
//
// simd::PreparedHybridFullyConnected (below, host) owns all of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/gemm.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/kernels/simd/prepared.hpp"
#include "tsq/tensor/tensor_view.hpp"

#if TSQ_SIMD_X86
#include <immintrin.h>
#endif

namespace tsq {
namespace simd {

namespace detail {

constexpr const char* kHybridFullyConnectedOp = "simd hybrid FullyConnected";

// The packed input zero point of the hybrid ops: acc = sum W x, no offset left in it.
constexpr std::int32_t kHybridPackedZeroPoint = 0;

// Packs `weights` [groups * units, depth] for the hybrid ops: no bias, input zero point 0, and
// multiplier 0 (accumulator outputs never requantize), marked `hybrid` so that the int8 ops and
// the hybrid ops each refuse the other's packing.
inline Result<PackedWeights> pack_hybrid_weights(const char* op, const std::int8_t* weights,
                                                 std::int32_t groups, std::int32_t units,
                                                 std::int32_t depth,
                                                 Span<std::int8_t> value_storage,
                                                 Span<TileRequantization> tile_storage) {
  const QuantizedMultiplier none{};
  const Result<PackedWeights> packed =
      pack_weights(op, weights, groups, units, depth, Span<const std::int32_t>(),
                   Span<const QuantizedMultiplier>(&none, 1), kHybridPackedZeroPoint,
                   RoundingMode::double_rounding, value_storage, tile_storage);
  if (!packed.is_ok()) return packed.status();
  PackedWeights hybrid = *packed;
  hybrid.hybrid = true;
  return hybrid;
}

inline Status check_hybrid_packed(const char* op, const PackedWeights& packed, std::int32_t groups,
                                  std::int32_t units, std::int32_t depth) {
  return check_packed_weights(op, packed, groups, units, depth, kHybridPackedZeroPoint,
                              RoundingMode::double_rounding, /*hybrid=*/true);
}

// The GEMM stage of the hybrid ops: the raw accumulators.
inline OutputStage hybrid_output_stage() {
  OutputStage stage;
  stage.type = OutputType::accumulator;
  stage.saturate = false;
  return stage;
}

// The product and the bias must be rounded apart, as the reference does: its product has a
// second use (the no-bias case) and is never contracted with the sum, but GCC contracts a*b + c
// into one FMA across statements in C++ on FMA targets (aarch64) wherever it can, which the
// specialized loops below would allow. Clang contracts only within an expression ("on").
#ifndef TSQ_SIMD_NO_FP_CONTRACT
#if defined(__GNUC__) && !defined(__clang__)
#define TSQ_SIMD_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define TSQ_SIMD_NO_FP_CONTRACT
#endif
#endif

// In place over `count` outputs whose storage holds the GEMM's int32 accumulators: the
// reference's float epilogue, y = activation(float(acc - zero_point * sums[c]) * (scale *
// weight_scales[c]) + bias[c]) in its order of operations, uncontracted. The int32 arithmetic
// wraps: the true value fits int32 (see the file comment).
template <bool PerChannel, bool HasBias>
TSQ_SIMD_NO_FP_CONTRACT void scale_accumulators(float* output, std::int32_t count,
                                                std::int32_t zero_point,
                                                const std::int32_t* weight_sums, float scale,
                                                const float* weight_scales, const float* bias,
                                                FloatActivationRange range) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  const auto zero = static_cast<std::uint32_t>(zero_point);
  for (std::int32_t c = 0; c < count; ++c) {
    std::int32_t accumulator;
    std::memcpy(&accumulator, output + c, sizeof(accumulator));
    const auto folded =
        static_cast<std::int32_t>(static_cast<std::uint32_t>(accumulator) -
                                  zero * static_cast<std::uint32_t>(weight_sums[c]));
    float value = static_cast<float>(folded) * (scale * weight_scales[PerChannel ? c : 0]);
    if (HasBias) value += bias[c];
    output[c] = apply_activation(value, range);
  }
}

#if TSQ_SIMD_X86
// The same, 8 outputs at a time: the same IEEE operations lane by lane (cvtdq2ps rounds to
// nearest as the scalar conversion does; scale * S_w[c] commutes exactly), so the same bits.
// The empty asm after the product hides it from the optimizer, so that a translation unit built
// with -mfma (the target attribute only adds AVX2 to its flags) cannot fuse it with the sum.
template <bool PerChannel, bool HasBias>
TSQ_SIMD_NO_FP_CONTRACT __attribute__((target("avx2"))) void scale_accumulators_avx2(
    float* output, std::int32_t count, std::int32_t zero_point, const std::int32_t* weight_sums,
    float scale, const float* weight_scales, const float* bias, FloatActivationRange range) {
  const __m256i zero = _mm256_set1_epi32(zero_point);
  const __m256 row_scale = _mm256_set1_ps(scale);
  const __m256 tensor_scale = _mm256_set1_ps(scale * weight_scales[0]);
  const __m256 low = _mm256_set1_ps(range.min);
  const __m256 high = _mm256_set1_ps(range.max);
  std::int32_t c = 0;
  for (; c + 8 <= count; c += 8) {
    const __m256i accumulator = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(output + c));
    const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weight_sums + c));
    const __m256i folded = _mm256_sub_epi32(accumulator, _mm256_mullo_epi32(zero, sums));
    const __m256 channel_scale =
        PerChannel ? _mm256_mul_ps(row_scale, _mm256_loadu_ps(weight_scales + c)) : tensor_scale;
    __m256 value = _mm256_mul_ps(_mm256_cvtepi32_ps(folded), channel_scale);
    __asm__("" : "+x"(value));  // rounded on its own, as the reference's product
    if (HasBias) value = _mm256_add_ps(value, _mm256_loadu_ps(bias + c));
    // value < min ? min : (value > max ? max : value), NaN kept, as apply_activation.
    const __m256 below = _mm256_cmp_ps(value, low, _CMP_LT_OQ);
    const __m256 above = _mm256_cmp_ps(value, high, _CMP_GT_OQ);
    value = _mm256_blendv_ps(_mm256_blendv_ps(value, high, above), low, below);
    _mm256_storeu_ps(output + c, value);
  }
  scale_accumulators<PerChannel, HasBias>(output + c, count - c, zero_point, weight_sums + c, scale,
                                          weight_scales + (PerChannel ? c : 0),
                                          HasBias ? bias + c : nullptr, range);
}
#endif

template <bool PerChannel, bool HasBias>
void scale_accumulators_on(Path path, float* output, std::int32_t count, std::int32_t zero_point,
                           const std::int32_t* weight_sums, float scale, const float* weight_scales,
                           const float* bias, FloatActivationRange range) {
#if TSQ_SIMD_X86
  if (path == Path::avx2 || path == Path::avx512_vnni) {
    scale_accumulators_avx2<PerChannel, HasBias>(output, count, zero_point, weight_sums, scale,
                                                 weight_scales, bias, range);
    return;
  }
#endif
  static_cast<void>(path);
  scale_accumulators<PerChannel, HasBias>(output, count, zero_point, weight_sums, scale,
                                          weight_scales, bias, range);
}

inline void scale_accumulators(Path path, float* output, std::int32_t count,
                               std::int32_t zero_point, const std::int32_t* weight_sums,
                               float scale, Span<const float> weight_scales, Span<const float> bias,
                               FloatActivationRange range) {
  const bool per_channel = weight_scales.size() > 1;
  const float* scales = weight_scales.data();
  if (per_channel && !bias.empty()) {
    scale_accumulators_on<true, true>(path, output, count, zero_point, weight_sums, scale, scales,
                                      bias.data(), range);
  } else if (per_channel) {
    scale_accumulators_on<true, false>(path, output, count, zero_point, weight_sums, scale, scales,
                                       nullptr, range);
  } else if (!bias.empty()) {
    scale_accumulators_on<false, true>(path, output, count, zero_point, weight_sums, scale, scales,
                                       bias.data(), range);
  } else {
    scale_accumulators_on<false, false>(path, output, count, zero_point, weight_sums, scale, scales,
                                        nullptr, range);
  }
}

// q + kInputOffset in place (the byte the kernels read; x ^ 0x80 for the offset 128).
inline void offset_activations(std::int8_t* row, std::int32_t count) {
  if constexpr (kInputOffset != 0) {
    for (std::int32_t i = 0; i < count; ++i) {
      row[i] = static_cast<std::int8_t>(static_cast<std::uint8_t>(row[i]) ^ 0x80u);
    }
  }
}

inline Status check_hybrid_fully_connected_params(const hybrid::FullyConnectedParams& params) {
  const char* op = kHybridFullyConnectedOp;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, params));
  if ((params.weight_scales.size() != 1 &&
       params.weight_scales.size() != static_cast<std::size_t>(params.units)) ||
      params.weight_row_sums.size() < static_cast<std::size_t>(params.units) ||
      params.input_depth < 1 || params.units < 1) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" params are inconsistent: weight scales, row sums and units do not match");
  }
  return Status::ok();
}

}  // namespace detail

// Storage that pack_hybrid_fully_connected needs: int8 values and TileRequantization records.
inline PackedWeightsSize hybrid_fully_connected_packed_size(
    const hybrid::FullyConnectedParams& params) {
  return detail::packed_weights_size(1, params.units, params.input_depth);
}

// Packs weights [units, input_depth] of the prepared layer into the caller's storage, which the
// result points into. Errors: params, weight shape, storage too small.
inline Result<PackedWeights> pack_hybrid_fully_connected(const hybrid::FullyConnectedParams& params,
                                                         TensorView<const std::int8_t> weights,
                                                         Span<std::int8_t> value_storage,
                                                         Span<TileRequantization> tile_storage) {
  const char* op = detail::kHybridFullyConnectedOp;
  TSQ_RETURN_IF_ERROR(detail::check_hybrid_fully_connected_params(params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, weights));
  if (weights.shape() != Shape{params.units, params.input_depth}) {
    return tsq::detail::view_shape_error(op, "weights", weights.shape(),
                                         Shape{params.units, params.input_depth});
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, weights));
  return detail::pack_hybrid_weights(op, weights.data(), 1, params.units, params.input_depth,
                                     value_storage, tile_storage);
}

// Scratch bytes for `batches` rows (any size that holds one GEMM row works).
inline std::size_t hybrid_fully_connected_scratch_size(const hybrid::FullyConnectedParams& params,
                                                       std::int32_t batches) {
  const std::int32_t padded_depth = detail::round_up(params.input_depth, kDepthGroup);
  return detail::scratch_size_for_rows(padded_depth,
                                       detail::recommended_block_rows(padded_depth, batches));
}

// float -> float on the active path, equal to hybrid::fully_connected(params, input, weights,
// bias, output, ..). Input of rank >= 1 read as [batches, input_depth], output [.., units] with
// the same row count, both contiguous; `bias` empty or one per unit. Errors: not_prepared,
// shape_mismatch, packed weights of another layer, scratch smaller than one row.
inline Status hybrid_fully_connected(const hybrid::FullyConnectedParams& params,
                                     TensorView<const float> input, const PackedWeights& weights,
                                     Span<const float> bias, TensorView<float> output,
                                     Span<std::int8_t> scratch) {
  const char* op = detail::kHybridFullyConnectedOp;
  TSQ_RETURN_IF_ERROR(detail::check_hybrid_fully_connected_params(params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, bias));
  const std::int32_t depth = params.input_depth;
  const std::int32_t units = params.units;
  if (input.rank() < 1 || input.dim(input.rank() - 1) != depth) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(" input ");
    append_shape(status, input.shape()).append(" does not end in input_depth ");
    status.append(depth);
    return status;
  }
  const auto batches =
      static_cast<std::int32_t>(input.element_count() / static_cast<std::size_t>(depth));
  if (output.rank() < 1 || output.dim(output.rank() - 1) != units ||
      output.element_count() !=
          static_cast<std::size_t>(batches) * static_cast<std::size_t>(units)) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(" output ");
    append_shape(status, output.shape()).append(" does not match the prepared layer");
    return status;
  }
  if (!bias.empty() && bias.size() != static_cast<std::size_t>(units)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" bias has ")
        .append(bias.size())
        .append(" values, expected ")
        .append(units);
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, input, output));
  TSQ_RETURN_IF_ERROR(detail::check_hybrid_packed(op, weights, 1, units, depth));
  const Result<detail::ScratchRows> rows = detail::scratch_rows(op, scratch, weights.padded_depth);
  if (!rows.is_ok()) return rows.status();
  // The rows' quantization lives on the stack: blocks of at most kMaxBlockRows rows.
  const std::int32_t capacity =
      rows->capacity < detail::kMaxBlockRows ? rows->capacity : detail::kMaxBlockRows;

  const Path path = active_path();
  const OutputStage stage = detail::hybrid_output_stage();
  const FloatActivationRange range = float_activation_range(params.activation);
  hybrid::RowQuantization quantization[detail::kMaxBlockRows];
  for (std::int32_t first = 0; first < batches; first += capacity) {
    const std::int32_t count = batches - first < capacity ? batches - first : capacity;
    for (std::int32_t r = 0; r < count; ++r) {
      std::int8_t* row = rows->data + r * rows->stride;
      quantization[r] = hybrid::quantize_row(
          input.data() + static_cast<std::ptrdiff_t>(first + r) * depth, depth, row);
      detail::offset_activations(row, depth);
      // Padded depth meets zero weights: any byte works, zeros keep the scratch defined.
      std::memset(row + depth, 0, static_cast<std::size_t>(weights.padded_depth - depth));
    }
    float* block_output = output.data() + static_cast<std::ptrdiff_t>(first) * units;
    GemmBlock block;
    block.rows = rows->data;
    block.row_stride = rows->stride;
    block.row_count = count;
    block.output = block_output;
    block.output_stride = units;
    detail::run_gemm(path, weights, 0, block, stage);
    for (std::int32_t r = 0; r < count; ++r) {
      detail::scale_accumulators(path, block_output + static_cast<std::ptrdiff_t>(r) * units, units,
                                 quantization[r].zero_point, params.weight_row_sums.data(),
                                 quantization[r].scale, params.weight_scales, bias, range);
    }
  }
  return Status::ok();
}

// A hybrid FullyConnected layer ready for simd::hybrid_fully_connected (host only): the
// reference's owned params (scales and row sums), the packed weights and the bias.
class PreparedHybridFullyConnected {
 public:
  // Runs hybrid::prepare_fully_connected (same errors) and packs `weights` [units, input_depth];
  // `bias` empty or one per unit.
  static Result<PreparedHybridFullyConnected> create(TensorView<const std::int8_t> weights,
                                                     Span<const float> weight_scales,
                                                     Span<const float> bias,
                                                     FusedActivation activation) {
    Result<Prepared<hybrid::FullyConnectedParams>> params =
        hybrid::prepare_owned_fully_connected(weights, weight_scales, activation);
    if (!params.is_ok()) return params.status();
    return from_reference(std::move(params).value(), weights, bias);
  }
  static Result<PreparedHybridFullyConnected> from_reference(
      Prepared<hybrid::FullyConnectedParams> params, TensorView<const std::int8_t> weights,
      Span<const float> bias) {
    PreparedHybridFullyConnected layer;
    layer.params_ = std::move(params);
    if (!bias.empty() && bias.size() != static_cast<std::size_t>(layer.params_->units)) {
      return Status::error(ErrorCode::shape_mismatch, detail::kHybridFullyConnectedOp)
          .append(" bias has ")
          .append(bias.size())
          .append(" values, expected ")
          .append(layer.params_->units);
    }
    layer.bias_.assign(bias.begin(), bias.end());
    layer.packed_.allocate(hybrid_fully_connected_packed_size(*layer.params_));
    const Result<PackedWeights> packed = pack_hybrid_fully_connected(
        *layer.params_, weights, layer.packed_.value_storage(), layer.packed_.tile_storage());
    if (!packed.is_ok()) return packed.status();
    layer.packed_.adopt(*packed);
    return layer;
  }

  const hybrid::FullyConnectedParams& params() const { return *params_; }
  const PackedWeights& weights() const { return packed_.view(); }
  std::size_t scratch_size(std::int32_t batches) const {
    return hybrid_fully_connected_scratch_size(*params_, batches);
  }
  Status run(TensorView<const float> input, TensorView<float> output,
             Span<std::int8_t> scratch) const {
    return hybrid_fully_connected(*params_, input, packed_.view(), Span<const float>(bias_), output,
                                  scratch);
  }

 private:
  Prepared<hybrid::FullyConnectedParams> params_;
  std::vector<float> bias_;
  OwnedPackedWeights packed_;
};

}  // namespace simd
}  // namespace tsq
