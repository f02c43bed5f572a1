// SPDX-License-Identifier: Apache-2.0
// The int8 LSTM (reference/lstm.hpp, TFLite-Micro's 8x8_16 and tsq's int16-state extension) on
// the packed GEMM, bit-identical to reference::lstm in both rounding modes:
//
//  1. the input products u of every time step at once: [steps, I] x [I, 4H] through the packed
//     GEMM with int32 outputs (requantized by M_x, saturated to int16 in TFLite's scheme);
//  2. per step, the recurrent products: the state (int16 or int8) is split into its low and
//     high bytes, s = 256 hi + lo, which makes two rows of bytes for the same int8 GEMM, so the
//     int16 state costs one more row of the same weights, not int16 weights. With the GEMM's
//     byte values b0 = lo + kInputOffset - 128 and b1 = hi + kInputOffset (the rows as the
//     kernels read them) and d = sum R b:
//
//       sum R s = 256 d1 + d0 + (128 - 257 kInputOffset) sum R,
//
//     the last term folded with the reference's recurrent bias into one int32 per row;
//  3. the elementwise half of the step: on AVX-512 in vector form (lstm_avx512.hpp, which also
//     makes the recurrent products itself), on the other paths through the reference's own
//     lstm_unit.
//
// Supported: int8 input and output, int8 weights, an int8 or int16 state (the int16-activation
// and int16-weight forms keep int64 accumulators and run on the reference). The weights are
// packed once (pack_lstm, or the host-only PreparedLstm in prepared.hpp); eval allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/gemm.hpp"
#include "tsq/kernels/simd/lstm_avx512.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace simd {

// The packed weights of one LSTM layer (views into the caller's storage).
struct PackedLstmWeights {
  PackedWeights input;      // [4H, I], requantized by M_x, the effective input bias folded in
  PackedWeights recurrent;  // [4H, H], accumulator outputs; its tiles carry M_h
  Span<const std::int32_t> recurrent_bias;  // 4H: b'' + (128 - 257 kInputOffset) sum R, wrapped
  PreparedMark prepared;
};

// Storage sizes of pack_lstm.
struct PackedLstmSize {
  PackedWeightsSize input;
  PackedWeightsSize recurrent;
  std::size_t recurrent_bias = 0;
};

namespace detail {

constexpr const char* kLstmOp = "LSTM (simd)";

constexpr std::int32_t kStateByteOffset = 128 - 257 * kInputOffset;

inline Status check_simd_lstm_params(const LstmParams& p) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(kLstmOp, p));
  if (p.weight_type != DataType::int8) {
    return Status::error(ErrorCode::unsupported_type, kLstmOp)
        .append(" needs int8 weights (int16 weights run on reference::lstm)");
  }
  if (p.state_type != DataType::int8 && p.state_type != DataType::int16) {
    return Status::error(ErrorCode::unsupported_type, kLstmOp)
        .append(" state must be int8 or int16");
  }
  if (!p.separate_state && p.state_type != DataType::int8) {
    return Status::error(ErrorCode::unsupported_type, kLstmOp)
        .append(" needs int8 activations (int16 activations run on reference::lstm)");
  }
  const auto rows =
      static_cast<std::size_t>(kLstmGateCount) * static_cast<std::size_t>(p.hidden_size);
  if (p.hidden_size < 1 || p.input_size < 1 || p.input_multipliers.size() != rows ||
      p.recurrent_multipliers.size() != rows || p.input_effective_bias.size() != rows ||
      p.recurrent_effective_bias.size() != rows) {
    return Status::error(ErrorCode::invalid_argument, kLstmOp)
        .append(" params are inconsistent: per-row values do not match 4 * hidden");
  }
  return Status::ok();
}

// Byte offsets of the scratch areas, each aligned for its use.
struct LstmScratchLayout {
  std::size_t products = 0;      // int32 [steps, 4H]
  std::size_t accumulators = 0;  // int32 [2, 4H]: the recurrent GEMM's two rows
  std::size_t gates = 0;         // int32 [4H]
  std::size_t state_rows = 0;    // 2 rows of the state's bytes (64-byte aligned from here)
  std::size_t input_rows = 0;    // blocks of input rows
  std::int32_t input_block_rows = 1;
  std::size_t total = 0;
};

inline LstmScratchLayout lstm_scratch_layout(std::int32_t input_size, std::int32_t hidden_size,
                                             std::int32_t steps) {
  const auto gate_rows =
      static_cast<std::size_t>(kLstmGateCount) * static_cast<std::size_t>(hidden_size);
  const std::size_t step_count = static_cast<std::size_t>(steps > 0 ? steps : 0);
  LstmScratchLayout layout;
  layout.products = 0;
  layout.accumulators = layout.products + 4 * step_count * gate_rows;
  layout.gates = layout.accumulators + 4 * 2 * gate_rows;
  layout.state_rows = layout.gates + 4 * gate_rows;
  const std::int32_t state_depth = round_up(hidden_size, kDepthGroup);
  layout.input_rows = layout.state_rows + scratch_size_for_rows(state_depth, 2);
  const std::int32_t input_depth = round_up(input_size, kDepthGroup);
  layout.input_block_rows = recommended_block_rows(input_depth, steps);
  layout.total = layout.input_rows + scratch_size_for_rows(input_depth, layout.input_block_rows);
  return layout;
}

// The two byte rows of the state (see the top of this file), zero past H.
template <typename State>
void write_state_rows(const State* state, std::int32_t hidden_size, std::int32_t padded_depth,
                      std::int8_t* low, std::int8_t* high) {
  for (std::int32_t k = 0; k < hidden_size; ++k) {
    const std::int32_t value = state[k];
    low[k] =
        static_cast<std::int8_t>(static_cast<std::uint8_t>((value & 0xFF) + kInputOffset - 128));
    high[k] = static_cast<std::int8_t>(static_cast<std::uint8_t>((value >> 8) + kInputOffset));
  }
  for (std::int32_t k = hidden_size; k < padded_depth; ++k) {
    low[k] = 0;
    high[k] = 0;
  }
}

// The elementwise half of a step on the scalar and the AVX2/NEON paths: the reference's own
// functions on the products the GEMM left.
template <RoundingMode Mode, typename State>
void lstm_step_portable(const LstmParams& p, const PackedLstmWeights& weights,
                        const std::int32_t* input_products, const std::int32_t* accumulators,
                        std::int32_t* gates, State* state, std::int16_t* cell,
                        std::int8_t* output) {
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  const std::int32_t* low = accumulators;
  const std::int32_t* high = accumulators + rows;
  for (std::int32_t r = 0; r < rows; ++r) {
    // 256 d1 + d0 + bias wraps as the reference's int32 accumulator would.
    const auto x = static_cast<std::int32_t>(
        (static_cast<std::uint32_t>(high[r]) << 8) + static_cast<std::uint32_t>(low[r]) +
        static_cast<std::uint32_t>(weights.recurrent_bias[static_cast<std::size_t>(r)]));
    std::int32_t v = multiply_by_quantized_multiplier<Mode>(
        x, p.recurrent_multipliers[static_cast<std::size_t>(r)]);
    if (p.saturate_gate_products) v = saturate_to_int16(v);
    gates[r] = tsq::detail::lstm_gate_sum(input_products[r], v);
  }
  for (std::int32_t j = 0; j < p.hidden_size; ++j) {
    tsq::detail::lstm_unit<Mode>(p, gates, j, state, cell, output);
  }
}

template <RoundingMode Mode, typename State>
void lstm_step(Path path, const LstmParams& p, const PackedLstmWeights& weights,
               const std::int32_t* input_products, std::int32_t* accumulators, std::int32_t* gates,
               std::int8_t* state_rows, std::ptrdiff_t state_row_stride, State* state,
               std::int16_t* cell, std::int8_t* output) {
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  std::int8_t* low = state_rows;
  std::int8_t* high = state_rows + state_row_stride;
  write_state_rows(state, p.hidden_size, weights.recurrent.padded_depth, low, high);
  GemmBlock block;
  block.rows = low;
  block.row_stride = state_row_stride;
  block.row_count = 2;
  block.output = accumulators;
  block.output_stride = rows;
  OutputStage stage;
  stage.rounding = Mode;
  stage.type = OutputType::accumulator;
  run_gemm(path, weights.recurrent, 0, block, stage);
  lstm_step_portable<Mode>(p, weights, input_products, accumulators, gates, state, cell, output);
}

template <RoundingMode Mode, typename State>
void lstm_sequence(const LstmParams& p, const PackedLstmWeights& weights,
                   const TensorView<const std::int8_t>& input,
                   const TensorView<std::int8_t>& output, State* state_data,
                   std::int16_t* cell_state, std::int8_t* scratch, const LstmScratchLayout& layout,
                   bool reverse) {
  const Path path = active_path();
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  const std::int32_t gate_rows = kLstmGateCount * p.hidden_size;
  const bool sequences = output.rank() == 3;
  auto* products = reinterpret_cast<std::int32_t*>(scratch + layout.products);
  auto* accumulators = reinterpret_cast<std::int32_t*>(scratch + layout.accumulators);
  auto* gates = reinterpret_cast<std::int32_t*>(scratch + layout.gates);
  const std::int32_t input_depth = weights.input.padded_depth;
  const std::int32_t state_depth = weights.recurrent.padded_depth;
  // Aligned rows, as the GEMM's scratch_rows gives them (the sizes reserved room for it).
  const Span<std::int8_t> state_area(scratch + layout.state_rows,
                                     layout.input_rows - layout.state_rows);
  const ScratchRows state_rows = *scratch_rows(kLstmOp, state_area, state_depth);
  const Span<std::int8_t> input_area(scratch + layout.input_rows, layout.total - layout.input_rows);
  const ScratchRows input_rows = *scratch_rows(kLstmOp, input_area, input_depth);
  const std::int32_t block_rows =
      layout.input_block_rows < input_rows.capacity ? layout.input_block_rows : input_rows.capacity;

  OutputStage products_stage;
  products_stage.rounding = Mode;
  products_stage.type = OutputType::int32;
  products_stage.saturate = weights.input.left_shift;
  products_stage.min = p.saturate_gate_products ? -32768 : kInt32Min;
  products_stage.max = p.saturate_gate_products ? 32767 : kInt32Max;

  for (std::int32_t b = 0; b < batches; ++b) {
    // The input products of every step first: one [steps, I] x [I, 4H] matrix product.
    const std::int8_t* x = &input(b, 0, 0);
    for (std::int32_t first = 0; first < steps; first += block_rows) {
      const std::int32_t count = steps - first < block_rows ? steps - first : block_rows;
      SegmentWriter writer(path, input_rows.data, std::int8_t{0});
      for (std::int32_t r = 0; r < count; ++r) {
        writer.copy(x + static_cast<std::ptrdiff_t>(first + r) * p.input_size, p.input_size);
        writer.pad(static_cast<std::int32_t>(input_rows.stride) - p.input_size);
      }
      writer.flush();
      GemmBlock block;
      block.rows = input_rows.data;
      block.row_stride = input_rows.stride;
      block.row_count = count;
      block.output = products + static_cast<std::ptrdiff_t>(first) * gate_rows;
      block.output_stride = gate_rows;
      run_gemm(path, weights.input, 0, block, products_stage);
    }
    State* state = state_data + static_cast<std::ptrdiff_t>(b) * p.hidden_size;
    std::int16_t* cell = cell_state + static_cast<std::ptrdiff_t>(b) * p.hidden_size;
#if TSQ_SIMD_X86
    if (path == Path::avx512_vnni) {
      // The whole recurrence in one vector function: its constants are made once per window.
      std::int8_t* out = sequences ? &output(b, 0, 0) : &output(b, 0);
      const std::ptrdiff_t step = sequences ? output.stride(1) : 0;
      std::int8_t* low = state_rows.data;
      std::int8_t* high = state_rows.data + state_rows.stride;
      if (weights.recurrent.left_shift) {
        avx512_vnni::lstm_steps<Mode, true>(p, weights.recurrent, weights.recurrent_bias.data(),
                                            products, steps, reverse, out, step, state, cell, low,
                                            high, gates);
      } else {
        avx512_vnni::lstm_steps<Mode, false>(p, weights.recurrent, weights.recurrent_bias.data(),
                                             products, steps, reverse, out, step, state, cell, low,
                                             high, gates);
      }
      continue;
    }
#endif
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      std::int8_t* out = sequences ? &output(b, t, 0) : &output(b, 0);
      lstm_step<Mode>(path, p, weights, products + static_cast<std::ptrdiff_t>(t) * gate_rows,
                      accumulators, gates, state_rows.data, state_rows.stride, state, cell, out);
    }
  }
}

}  // namespace detail

// Storage for pack_lstm.
inline PackedLstmSize lstm_packed_size(const LstmParams& p) {
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  PackedLstmSize size;
  size.input = detail::packed_weights_size(1, rows, p.input_size);
  size.recurrent = detail::packed_weights_size(1, rows, p.hidden_size);
  size.recurrent_bias = static_cast<std::size_t>(rows > 0 ? rows : 0);
  return size;
}

// Packs the layer's weights (LstmWeightsInt8 of prepare_lstm's params) into caller storage of
// lstm_packed_size(p). Errors: unsupported forms (see above), wrong weight shapes, small storage.
inline Result<PackedLstmWeights> pack_lstm(const LstmParams& p, const LstmWeightsInt8& weights,
                                           Span<std::int8_t> input_values,
                                           Span<TileRequantization> input_tiles,
                                           Span<std::int8_t> recurrent_values,
                                           Span<TileRequantization> recurrent_tiles,
                                           Span<std::int32_t> recurrent_bias) {
  TSQ_RETURN_IF_ERROR(detail::check_simd_lstm_params(p));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_lstm_weights(p, weights));
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  if (recurrent_bias.size() < static_cast<std::size_t>(rows)) {
    return Status::error(ErrorCode::buffer_too_small, detail::kLstmOp)
        .append(" recurrent bias storage holds ")
        .append(recurrent_bias.size())
        .append(" values, needs ")
        .append(rows);
  }
  PackedLstmWeights packed;
  // u: the effective bias already holds b - Z_x sum W, so the input zero point is 0 here.
  const Result<PackedWeights> input = detail::pack_weights(
      detail::kLstmOp, weights.input_weights.data(), 1, rows, p.input_size, p.input_effective_bias,
      p.input_multipliers, 0, p.rounding, input_values, input_tiles);
  if (!input.is_ok()) return input.status();
  packed.input = *input;
  // v: pure dot products (the zero point -kInputOffset folds nothing into the tiles' biases).
  const Result<PackedWeights> recurrent =
      detail::pack_weights(detail::kLstmOp, weights.recurrent_weights.data(), 1, rows,
                           p.hidden_size, Span<const std::int32_t>(), p.recurrent_multipliers,
                           -kInputOffset, p.rounding, recurrent_values, recurrent_tiles);
  if (!recurrent.is_ok()) return recurrent.status();
  packed.recurrent = *recurrent;
  for (std::int32_t r = 0; r < rows; ++r) {
    std::int64_t weight_sum = 0;
    const std::int8_t* row =
        weights.recurrent_weights.data() + static_cast<std::ptrdiff_t>(r) * p.hidden_size;
    for (std::int32_t k = 0; k < p.hidden_size; ++k) weight_sum += row[k];
    const std::int64_t folded = p.recurrent_effective_bias[static_cast<std::size_t>(r)] +
                                detail::kStateByteOffset * weight_sum;
    recurrent_bias[static_cast<std::size_t>(r)] =
        static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(folded)));
  }
  packed.recurrent_bias =
      Span<const std::int32_t>(recurrent_bias.data(), static_cast<std::size_t>(rows));
  tsq::detail::mark_prepared(packed);
  return packed;
}

// Scratch bytes of a window of `steps` steps (any batch), at any alignment (3 bytes of the size
// let the int32 areas start 4-byte aligned).
inline std::size_t lstm_scratch_bytes(const LstmParams& p, std::int32_t steps) {
  return detail::lstm_scratch_layout(p.input_size, p.hidden_size, steps).total + 3;
}

// reference::lstm on the active path, for int8 activations: input [batch, time, I]; output
// [batch, time, H] or [batch, H]; state [batch * H] (int8 or int16, as prepared) and cell
// [batch * H] hold the initial state and receive the final one; scratch of lstm_scratch_bytes
// (any alignment).
// The same checks and errors as the reference, and packed weights of another layer.
template <typename State>
Status lstm(const LstmParams& p, const PackedLstmWeights& weights,
            TensorView<const std::int8_t> input, TensorView<std::int8_t> output, Span<State> state,
            Span<std::int16_t> cell_state, Span<std::int8_t> scratch, bool reverse = false) {
  const char* op = detail::kLstmOp;
  TSQ_RETURN_IF_ERROR(detail::check_simd_lstm_params(p));
  TSQ_RETURN_IF_ERROR((tsq::detail::check_lstm_types<std::int8_t, State>(p)));
  if (!weights.prepared.is_set()) {
    return Status::error(ErrorCode::not_prepared, op)
        .append(" packed weights were not produced by pack_lstm");
  }
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  TSQ_RETURN_IF_ERROR(
      detail::check_packed_weights(op, weights.input, 1, rows, p.input_size, 0, p.rounding));
  TSQ_RETURN_IF_ERROR(detail::check_packed_weights(op, weights.recurrent, 1, rows, p.hidden_size,
                                                   -kInputOffset, p.rounding));
  if (weights.recurrent_bias.size() != static_cast<std::size_t>(rows)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" packed weights do not match the layer's shape");
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, state, cell_state, scratch));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_lstm_window_shapes(
      p, input.shape(), input.is_contiguous(), output, state.size(), cell_state.size()));
  const std::int32_t steps = input.dim(1);
  const detail::LstmScratchLayout layout =
      detail::lstm_scratch_layout(p.input_size, p.hidden_size, steps);
  // The int32 areas start 4-byte aligned: the layout's offsets are multiples of 4.
  const std::size_t skip = (4 - reinterpret_cast<std::uintptr_t>(scratch.data()) % 4) % 4;
  if (scratch.size() < skip + layout.total) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" scratch holds ")
        .append(scratch.size())
        .append(" bytes, needs ")
        .append(lstm_scratch_bytes(p, steps));
  }
  std::int8_t* const area = scratch.data() + skip;
  if (p.rounding == RoundingMode::double_rounding) {
    detail::lstm_sequence<RoundingMode::double_rounding>(p, weights, input, output, state.data(),
                                                         cell_state.data(), area, layout, reverse);
  } else {
    detail::lstm_sequence<RoundingMode::single_rounding>(p, weights, input, output, state.data(),
                                                         cell_state.data(), area, layout, reverse);
  }
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq
