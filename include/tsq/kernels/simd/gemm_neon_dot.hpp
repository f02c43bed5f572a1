// SPDX-License-Identifier: Apache-2.0
// The NEON dot-product path of the packed int8 GEMM (aarch64 built with the dotprod extension,
// e.g. -march=armv8.2-a+dotprod; chosen at compile time). sdot multiplies signed by signed
// bytes, so on aarch64 kInputOffset is 0: scratch rows hold the int8 activations unchanged and
// the packed biases fold -Z_in * sum W only.
//
// Micro-kernel: kRows rows x one tile. A depth step loads the tile's 64-byte line as four
// 16-byte registers (4 channels x 4 bytes each) and, per row, sdot's them with the row's 4
// bytes broadcast.
//
// Requantization: the 64-bit form of packed_weights.hpp, exact to
// multiply_by_quantized_multiplier in both rounding modes, two channels per vmull_s32.
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_NEON_DOT

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/quant/multiplier.hpp"

namespace tsq {
namespace simd {
namespace detail {
namespace neon_dot {

constexpr int kRows = 4;

// Two channels' 64-bit products p: (p + C - (p < N ? D : 0)) >> T (packed_weights.hpp),
// saturated to int32 (the clamp follows).
template <RoundingMode Mode>
inline int32x2_t requantize_products(int64x2_t products, const std::int64_t* rounding,
                                     const std::int64_t* negative, const std::int64_t* correction,
                                     const std::int64_t* shift) {
  int64x2_t value = vaddq_s64(products, vld1q_s64(rounding));
  if constexpr (Mode == RoundingMode::double_rounding) {
    const int64x2_t below = vreinterpretq_s64_u64(vcltq_s64(products, vld1q_s64(negative)));
    value = vsubq_s64(value, vandq_s64(below, vld1q_s64(correction)));
  }
  return vqmovn_s64(vshlq_s64(value, vnegq_s64(vld1q_s64(shift))));  // arithmetic >> T
}

// Channels [quarter * 4, quarter * 4 + 4) of a tile, clamped to [min - Z_out, max - Z_out].
template <RoundingMode Mode>
inline int32x4_t requantize_quarter(int32x4_t accumulators, const TileRequantization& tile,
                                    int quarter, int32x4_t min, int32x4_t max) {
  const int lane = quarter * 4;
  const int pair = quarter * 2;  // channels lane, lane + 2 are even pair, pair + 1
  const int32x4_t x = vaddq_s32(accumulators, vld1q_s32(tile.bias + lane));  // wraps
  const int32x4_t multiplier = vld1q_s32(tile.multiplier + lane);
  const int32x2_t x_even = vget_low_s32(vuzp1q_s32(x, x));
  const int32x2_t x_odd = vget_low_s32(vuzp2q_s32(x, x));
  const int32x2_t m_even = vget_low_s32(vuzp1q_s32(multiplier, multiplier));
  const int32x2_t m_odd = vget_low_s32(vuzp2q_s32(multiplier, multiplier));
  const int32x2_t even = requantize_products<Mode>(
      vmull_s32(x_even, m_even), tile.rounding_even + pair, tile.negative_even + pair,
      tile.correction_even + pair, tile.shift_even + pair);
  const int32x2_t odd = requantize_products<Mode>(
      vmull_s32(x_odd, m_odd), tile.rounding_odd + pair, tile.negative_odd + pair,
      tile.correction_odd + pair, tile.shift_odd + pair);
  const int32x4_t value = vcombine_s32(vzip1_s32(even, odd), vzip2_s32(even, odd));
  return vminq_s32(vmaxq_s32(value, min), max);
}

// Rows rows of 16 sums from memory (see kernel): requantized, + Z_out, stored (`output` and its
// stride in bytes).
template <RoundingMode Mode, int Rows>
void store_rows(const std::int32_t* sums, const TileRequantization& tile, std::int8_t* output,
                std::ptrdiff_t output_stride, std::int32_t units, const OutputStage& stage) {
  const std::int32_t stage_zero_point = stage.type == OutputType::int8 ? stage.zero_point : 0;
  const int32x4_t min = vdupq_n_s32(stage.min - stage_zero_point);
  const int32x4_t max = vdupq_n_s32(stage.max - stage_zero_point);
  const int32x4_t zero_point = vdupq_n_s32(stage_zero_point);
  for (int r = 0; r < Rows; ++r) {
    const std::int32_t* row_sums = sums + r * kTileUnits;
    if (stage.type != OutputType::int8) {
      std::int32_t lanes[kTileUnits];
      for (int q = 0; q < 4; ++q) {
        const int32x4_t accumulators = vld1q_s32(row_sums + 4 * q);
        vst1q_s32(lanes + 4 * q, stage.type == OutputType::accumulator
                                     ? vaddq_s32(accumulators, vld1q_s32(tile.bias + 4 * q))
                                     : requantize_quarter<Mode>(accumulators, tile, q, min, max));
      }
      const std::int32_t count = units < kTileUnits ? units : kTileUnits;
      std::memcpy(output + r * output_stride, lanes, static_cast<std::size_t>(count) * 4);
      continue;
    }
    int16x4_t words[4];
    for (int q = 0; q < 4; ++q) {
      const int32x4_t value = vaddq_s32(
          requantize_quarter<Mode>(vld1q_s32(row_sums + 4 * q), tile, q, min, max), zero_point);
      words[q] = vmovn_s32(value);  // inside the int8 range already
    }
    const int8x16_t bytes = vcombine_s8(vmovn_s16(vcombine_s16(words[0], words[1])),
                                        vmovn_s16(vcombine_s16(words[2], words[3])));
    std::int8_t* row = output + r * output_stride;
    if (units >= kTileUnits) {
      vst1q_s8(row, bytes);
    } else {
      std::int8_t lanes[kTileUnits];
      vst1q_s8(lanes, bytes);
      std::memcpy(row, lanes, static_cast<std::size_t>(units));
    }
  }
}

// One row's sums over a tile, four channels per register. Named members, not arrays, so that
// GCC keeps them in registers (see gemm_avx512_vnni.hpp).
struct RowSums {
  int32x4_t q0;
  int32x4_t q1;
  int32x4_t q2;
  int32x4_t q3;
};

struct TileLine {
  int8x16_t q0;
  int8x16_t q1;
  int8x16_t q2;
  int8x16_t q3;
};

inline void accumulate(RowSums& row, const std::int8_t* activations, const TileLine& line) {
  std::int32_t group = 0;
  std::memcpy(&group, activations, sizeof group);
  const int8x16_t x = vreinterpretq_s8_s32(vdupq_n_s32(group));
  row.q0 = vdotq_s32(row.q0, line.q0, x);
  row.q1 = vdotq_s32(row.q1, line.q1, x);
  row.q2 = vdotq_s32(row.q2, line.q2, x);
  row.q3 = vdotq_s32(row.q3, line.q3, x);
}

inline void spill(std::int32_t* destination, const RowSums& row) {
  vst1q_s32(destination, row.q0);
  vst1q_s32(destination + 4, row.q1);
  vst1q_s32(destination + 8, row.q2);
  vst1q_s32(destination + 12, row.q3);
}

template <int Rows>
void kernel(const std::int8_t* rows, std::ptrdiff_t row_stride, const std::int8_t* tile,
            std::int32_t depth_groups, const TileRequantization& requantization,
            std::int8_t* output, std::ptrdiff_t output_stride, std::int32_t units,
            const OutputStage& stage) {
  const int32x4_t zero = vdupq_n_s32(0);
  RowSums row0{zero, zero, zero, zero};
  RowSums row1 = row0;
  RowSums row2 = row0;
  RowSums row3 = row0;
  const std::int8_t* line = tile;
  const std::int8_t* x = rows;
  for (std::int32_t k = 0; k < depth_groups; ++k) {
    const TileLine weights{vld1q_s8(line), vld1q_s8(line + 16), vld1q_s8(line + 32),
                           vld1q_s8(line + 48)};
    accumulate(row0, x, weights);
    if constexpr (Rows > 1) accumulate(row1, x + row_stride, weights);
    if constexpr (Rows > 2) accumulate(row2, x + 2 * row_stride, weights);
    if constexpr (Rows > 3) accumulate(row3, x + 3 * row_stride, weights);
    line += kTileLineBytes;
    x += kDepthGroup;
  }
  // Explicit stores keep the sums registers in the loop (see gemm_avx512_vnni.hpp's kernel).
  std::int32_t sums[Rows * kTileUnits];
  spill(sums, row0);
  if constexpr (Rows > 1) spill(sums + kTileUnits, row1);
  if constexpr (Rows > 2) spill(sums + 2 * kTileUnits, row2);
  if constexpr (Rows > 3) spill(sums + 3 * kTileUnits, row3);
  if (stage.rounding == RoundingMode::double_rounding) {
    store_rows<RoundingMode::double_rounding, Rows>(sums, requantization, output, output_stride,
                                                    units, stage);
  } else {
    store_rows<RoundingMode::single_rounding, Rows>(sums, requantization, output, output_stride,
                                                    units, stage);
  }
}

using Kernel = void (*)(const std::int8_t*, std::ptrdiff_t, const std::int8_t*, std::int32_t,
                        const TileRequantization&, std::int8_t*, std::ptrdiff_t, std::int32_t,
                        const OutputStage&);

inline constexpr Kernel kKernels[kRows] = {&kernel<1>, &kernel<2>, &kernel<3>, &kernel<4>};

inline void gemm(const PackedWeights& weights, std::int32_t group, const GemmBlock& block,
                 const OutputStage& stage) {
  const std::int8_t* values = weights.group_values(group);
  const TileRequantization* requantization = weights.group_requantization(group);
  const std::int32_t depth_groups = weights.padded_depth / kDepthGroup;
  for (std::int32_t t = 0; t < weights.tiles; ++t) {
    const std::int32_t units = weights.units - t * kTileUnits;
    for (std::int32_t r = 0; r < block.row_count; r += kRows) {
      const std::int32_t rows = block.row_count - r < kRows ? block.row_count - r : kRows;
      kKernels[rows - 1](block.rows + r * block.row_stride, block.row_stride,
                         values + t * weights.tile_bytes(), depth_groups, requantization[t],
                         block.output_at(r, t * kTileUnits, stage.type),
                         block.output_stride_bytes(stage.type), units, stage);
    }
  }
}

}  // namespace neon_dot
}  // namespace detail
}  // namespace simd
}  // namespace tsq

#endif  // TSQ_SIMD_NEON_DOT
