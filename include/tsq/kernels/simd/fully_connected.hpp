// SPDX-License-Identifier: Apache-2.0
// FullyConnected int8 on the SIMD paths (AVX-512 VNNI, AVX2, NEON dot product, scalar; cpu.hpp
// picks one at run time): bit-identical to reference::fully_connected (int8 -> int8) for every
// shape, zero point, multiplier (per unit or per tensor), rounding mode and activation.
//
//   params  = tsq::prepare_fully_connected(q, multiplier_storage);    // the reference prepare
//   simd    = simd::prepare_fully_connected(params);                  // int8 check, scalars
//   size    = simd::fully_connected_packed_size(simd);                // caller storage sizes
//   packed  = simd::pack_fully_connected(params, weights, bias, values, tiles);   // once
//   scratch : simd::fully_connected_scratch_size(simd, batches) bytes
//   simd::fully_connected(simd, input, packed, output, scratch);      // no heap, no throw
//
// Packing copies the weights, the biases (with the input zero point folded in) and the
// multipliers: eval needs neither the weight tensor nor the multiplier storage afterwards.
// simd::PreparedFullyConnected (prepared.hpp, host) owns all of it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/gemm.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace simd {

// Integers only: what eval reads besides the packed weights.
struct SimdFullyConnectedParams {
  std::int32_t input_depth = 0;
  std::int32_t units = 0;
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  ActivationRange activation;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by simd::prepare_fully_connected
};

namespace detail {

constexpr const char* kFullyConnectedOp = "simd FullyConnected";

// The kernels store int8 outputs: the clamp must lie inside the int8 range. Params prepared for
// int16 activations have a wider one (the int8 and int16 params have no other distinction).
inline Status check_int8_output_range(const char* op, const ActivationRange& range) {
  if (range.min < -128 || range.max > 127 || range.min > range.max) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" supports int8 -> int8 only (the params clamp outside int8)");
  }
  return Status::ok();
}

inline Status check_reference_fully_connected(const FullyConnectedParams& params) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(kFullyConnectedOp, params));
  TSQ_RETURN_IF_ERROR(check_int8_output_range(kFullyConnectedOp, params.activation));
  if (params.multipliers.size() != 1 &&
      params.multipliers.size() != static_cast<std::size_t>(params.units)) {
    return Status::error(ErrorCode::invalid_argument, kFullyConnectedOp)
        .append(" params are inconsistent: multipliers do not match the units");
  }
  return Status::ok();
}

}  // namespace detail

// The eval params of a FullyConnected layer prepared by tsq::prepare_fully_connected (int8).
inline Result<SimdFullyConnectedParams> prepare_fully_connected(
    const FullyConnectedParams& params) {
  TSQ_RETURN_IF_ERROR(detail::check_reference_fully_connected(params));
  SimdFullyConnectedParams simd_params;
  simd_params.input_depth = params.input_depth;
  simd_params.units = params.units;
  simd_params.input_zero_point = params.input_zero_point;
  simd_params.output_zero_point = params.output_zero_point;
  simd_params.activation = params.activation;
  simd_params.rounding = params.rounding;
  tsq::detail::mark_prepared(simd_params);
  return simd_params;
}

// Storage that pack_fully_connected needs: int8 values and TileRequantization records.
constexpr PackedWeightsSize fully_connected_packed_size(std::int32_t units,
                                                        std::int32_t input_depth) {
  return detail::packed_weights_size(1, units, input_depth);
}
inline PackedWeightsSize fully_connected_packed_size(const SimdFullyConnectedParams& params) {
  return fully_connected_packed_size(params.units, params.input_depth);
}

// Packs weights [units, input_depth] and bias (empty: none) of the prepared layer into the
// caller's storage (64-byte aligned storage is faster, not required), which the result points
// into. Errors: shapes as the reference's eval reports them, storage too small.
inline Result<PackedWeights> pack_fully_connected(const FullyConnectedParams& params,
                                                  TensorView<const std::int8_t> weights,
                                                  Span<const std::int32_t> bias,
                                                  Span<std::int8_t> value_storage,
                                                  Span<TileRequantization> tile_storage) {
  TSQ_RETURN_IF_ERROR(detail::check_reference_fully_connected(params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(detail::kFullyConnectedOp, weights));
  if (weights.shape() != Shape{params.units, params.input_depth}) {
    return tsq::detail::view_shape_error(detail::kFullyConnectedOp, "weights", weights.shape(),
                                         Shape{params.units, params.input_depth});
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(detail::kFullyConnectedOp, weights));
  return detail::pack_weights(detail::kFullyConnectedOp, weights.data(), 1, params.units,
                              params.input_depth, bias, params.multipliers, params.input_zero_point,
                              params.rounding, value_storage, tile_storage);
}

// Scratch bytes for `batches` rows (any size that holds one row works; see gemm.hpp).
inline std::size_t fully_connected_scratch_size(const SimdFullyConnectedParams& params,
                                                std::int32_t batches) {
  const std::int32_t padded_depth = detail::round_up(params.input_depth, kDepthGroup);
  return detail::scratch_size_for_rows(padded_depth,
                                       detail::recommended_block_rows(padded_depth, batches));
}

// int8 x int8 -> int8 on the active path. Input of rank >= 1 read as [batches, input_depth],
// output [.., units] with the same row count, both contiguous (as the reference). Errors:
// not_prepared, shape_mismatch, packed weights of another layer, scratch smaller than one row.
inline Status fully_connected(const SimdFullyConnectedParams& params,
                              TensorView<const std::int8_t> input, const PackedWeights& weights,
                              TensorView<std::int8_t> output, Span<std::int8_t> scratch) {
  const char* op = detail::kFullyConnectedOp;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, output));
  if (input.rank() < 1 || input.dim(input.rank() - 1) != params.input_depth) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(" input ");
    append_shape(status, input.shape()).append(" does not end in input_depth ");
    status.append(params.input_depth);
    return status;
  }
  const auto batches = static_cast<std::int32_t>(input.element_count() /
                                                 static_cast<std::size_t>(params.input_depth));
  if (output.rank() < 1 || output.dim(output.rank() - 1) != params.units ||
      output.element_count() !=
          static_cast<std::size_t>(batches) * static_cast<std::size_t>(params.units)) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(" output ");
    append_shape(status, output.shape()).append(" does not match the prepared layer");
    return status;
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, input, output));
  TSQ_RETURN_IF_ERROR(detail::check_packed_weights(op, weights, 1, params.units, params.input_depth,
                                                   params.input_zero_point, params.rounding));
  const Result<detail::ScratchRows> rows = detail::scratch_rows(op, scratch, weights.padded_depth);
  if (!rows.is_ok()) return rows.status();

  const Path path = active_path();
  const OutputStage stage{params.output_zero_point, params.activation.min, params.activation.max,
                          params.rounding, weights.left_shift};
  const std::int8_t* source = input.data();
  for (std::int32_t first = 0; first < batches; first += rows->capacity) {
    const std::int32_t count = batches - first < rows->capacity ? batches - first : rows->capacity;
    // Each row's activations, then padding up to the row stride (W = 0 there: any value).
    detail::SegmentWriter writer(path, rows->data, std::int8_t{0});
    for (std::int32_t r = 0; r < count; ++r) {
      writer.copy(source + static_cast<std::ptrdiff_t>(first + r) * params.input_depth,
                  params.input_depth);
      writer.pad(static_cast<std::int32_t>(rows->stride) - params.input_depth);
    }
    writer.flush();
    GemmBlock block;
    block.rows = rows->data;
    block.row_stride = rows->stride;
    block.row_count = count;
    block.output = output.data() + static_cast<std::ptrdiff_t>(first) * params.units;
    block.output_stride = params.units;
    detail::run_gemm(path, weights, 0, block, stage);
  }
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq
