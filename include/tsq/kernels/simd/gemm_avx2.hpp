// SPDX-License-Identifier: Apache-2.0
// The AVX2 path of the packed int8 GEMM (x86-64 without AVX-512 VNNI), on the same packed layout
// and the same u8 = x + 128 scratch rows as the VNNI path. Target attributes, no -march flag.
//
// The multiply-add. vpmaddubsw (u8 x s8 pairs summed into int16) is not exact here: a pair of
// 255 * -128 products is -65280, far outside int16, and it saturates. Instead both operands are
// widened to int16 inside each 32-bit lane and multiplied with vpmaddwd, whose int16 x int16
// pair sums are exact in int32 (|255 * 128 * 2| < 2^31):
//   weights (4 bytes w0 w1 w2 w3 of one channel per lane): low = (w << 8) >> 8 = (w0, w2),
//     high = w >> 8 = (w1, w3), both arithmetic shifts on int16, so sign-extended;
//   activations (4 broadcast bytes u0 u1 u2 u3): low = u & 0x00ff = (u0, u2), high = u >> 8
//     (logical) = (u1, u3), both zero-extended;
//   vpmaddwd(low, low) + vpmaddwd(high, high) = u0 w0 + u1 w1 + u2 w2 + u3 w3 per lane.
// The weights' split is shared by kRows rows, the activations' by the tile's 16 channels.
// vpmaddwd's pair sums cannot overflow: |2 * 255 * 128| < 2^31.
//
// Requantization: the 64-bit form of packed_weights.hpp on 8 lanes, as gemm_avx512_vnni.hpp.
// AVX2 lacks the 64-bit arithmetic shift, min and max: the shift is a logical one of x ^ sign,
// then ^ sign again (for a negative x that is ~(~x >> T), the floor), and min / max are compares
// and blends.
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"

#define TSQ_TARGET_AVX2 __attribute__((target("avx2,fma")))

namespace tsq {
namespace simd {
namespace detail {
namespace avx2 {

constexpr int kRows = 4;

TSQ_TARGET_AVX2 inline __m256i load(const void* address) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(address));
}

TSQ_TARGET_AVX2 inline __m256i broadcast_depth_group(const std::int8_t* address) {
  std::int32_t group = 0;
  std::memcpy(&group, address, sizeof group);
  return _mm256_set1_epi32(group);
}

TSQ_TARGET_AVX2 inline __m256i min_epi64(__m256i a, __m256i b) {
  return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b));
}
TSQ_TARGET_AVX2 inline __m256i max_epi64(__m256i a, __m256i b) {
  return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(b, a));
}

// x >> count (arithmetic) per 64-bit lane, count in [0, 63].
TSQ_TARGET_AVX2 inline __m256i shift_right_epi64(__m256i x, __m256i count) {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(x, sign), count), sign);
}

struct StageVectors {
  __m256i min64;
  __m256i max64;
  __m256i zero_point;
};

TSQ_TARGET_AVX2 inline StageVectors stage_vectors(const OutputStage& stage) {
  const std::int64_t zero_point = stage.type == OutputType::int8 ? stage.zero_point : 0;
  return StageVectors{_mm256_set1_epi64x(stage.min - zero_point),
                      _mm256_set1_epi64x(stage.max - zero_point),
                      _mm256_set1_epi32(static_cast<std::int32_t>(zero_point))};
}

// Four channels' 64-bit products p: (p + C - (p < N ? D : 0)) >> T (packed_weights.hpp),
// clamped to [min - Z_out, max - Z_out].
template <RoundingMode Mode>
TSQ_TARGET_AVX2 inline __m256i requantize_products(__m256i products, const std::int64_t* rounding,
                                                   const std::int64_t* negative,
                                                   const std::int64_t* correction,
                                                   const std::int64_t* shift,
                                                   const StageVectors& stage) {
  __m256i value = _mm256_add_epi64(products, load(rounding));
  if constexpr (Mode == RoundingMode::double_rounding) {
    const __m256i below = _mm256_cmpgt_epi64(load(negative), products);
    value = _mm256_sub_epi64(value, _mm256_and_si256(below, load(correction)));
  }
  value = shift_right_epi64(value, load(shift));
  return min_epi64(max_epi64(value, stage.min64), stage.max64);
}

// Channels [half * 8, half * 8 + 8) of one tile, before + Z_out.
template <RoundingMode Mode>
TSQ_TARGET_AVX2 inline __m256i requantize_half(__m256i accumulators, const TileRequantization& tile,
                                               int half, const StageVectors& stage) {
  const int lane = half * 8;
  const int pair = half * 4;
  const __m256i x = _mm256_add_epi32(accumulators, load(tile.bias + lane));
  const __m256i even = requantize_products<Mode>(
      _mm256_mul_epi32(x, load(tile.multiplier + lane)), tile.rounding_even + pair,
      tile.negative_even + pair, tile.correction_even + pair, tile.shift_even + pair, stage);
  const __m256i odd = requantize_products<Mode>(
      _mm256_mul_epi32(_mm256_srli_epi64(x, 32), load(tile.multiplier_odd + pair)),
      tile.rounding_odd + pair, tile.negative_odd + pair, tile.correction_odd + pair,
      tile.shift_odd + pair, stage);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// + Z_out and the 16 int8 outputs of a tile (`count` of them written).
TSQ_TARGET_AVX2 inline void store_tile(std::int8_t* output, std::int32_t count, __m256i low,
                                       __m256i high, const StageVectors& stage) {
  low = _mm256_add_epi32(low, stage.zero_point);
  high = _mm256_add_epi32(high, stage.zero_point);
  // The values are inside the int8 range already, so the saturating packs only narrow; the
  // permutes undo their per-128-bit-lane interleaving.
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(low, high), 0xD8);
  const __m256i bytes = _mm256_permute4x64_epi64(_mm256_packs_epi16(words, words), 0x08);
  const __m128i result = _mm256_castsi256_si128(bytes);
  if (count >= kTileUnits) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(output), result);
  } else {
    alignas(16) std::int8_t lanes[kTileUnits];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), result);
    std::memcpy(output, lanes, static_cast<std::size_t>(count));
  }
}

// The 16 int32 outputs of a tile (`count` of them written) at the byte address `output`.
TSQ_TARGET_AVX2 inline void store_tile_int32(std::int8_t* output, std::int32_t count, __m256i low,
                                             __m256i high) {
  if (count >= kTileUnits) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(output), low);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(output + 32), high);
  } else {
    alignas(32) std::int32_t lanes[kTileUnits];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), low);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 8), high);
    std::memcpy(output, lanes, static_cast<std::size_t>(count) * 4);
  }
}

// One row's sums over a tile: channels 0-7 and 8-15. Named members, not arrays, so that GCC
// keeps them in registers (see gemm_avx512_vnni.hpp).
struct RowSums {
  __m256i low;
  __m256i high;
};

// A depth step's weight line, split into the int16 pairs (w0, w2) and (w1, w3) of each channel.
struct TileLine {
  __m256i low_even;
  __m256i low_odd;
  __m256i high_even;
  __m256i high_odd;
};

TSQ_TARGET_AVX2 inline TileLine load_line(const std::int8_t* line) {
  const __m256i low = load(line);
  const __m256i high = load(line + 32);
  return TileLine{_mm256_srai_epi16(_mm256_slli_epi16(low, 8), 8), _mm256_srai_epi16(low, 8),
                  _mm256_srai_epi16(_mm256_slli_epi16(high, 8), 8), _mm256_srai_epi16(high, 8)};
}

TSQ_TARGET_AVX2 inline void accumulate(RowSums& row, const std::int8_t* activations,
                                       const TileLine& line) {
  const __m256i x = broadcast_depth_group(activations);
  const __m256i even = _mm256_and_si256(x, _mm256_set1_epi16(0x00FF));
  const __m256i odd = _mm256_srli_epi16(x, 8);
  row.low = _mm256_add_epi32(row.low, _mm256_add_epi32(_mm256_madd_epi16(even, line.low_even),
                                                       _mm256_madd_epi16(odd, line.low_odd)));
  row.high = _mm256_add_epi32(row.high, _mm256_add_epi32(_mm256_madd_epi16(even, line.high_even),
                                                         _mm256_madd_epi16(odd, line.high_odd)));
}

// Rows rows of sums from memory, two vectors per row (see kernel); `output` and its stride in
// bytes.
template <RoundingMode Mode, int Rows>
TSQ_TARGET_AVX2 void store_rows(std::int8_t* output, std::ptrdiff_t output_stride,
                                const __m256i* sums, const TileRequantization& requantization,
                                std::int32_t units, const OutputStage& stage) {
  const StageVectors vectors = stage_vectors(stage);
  for (int r = 0; r < Rows; ++r) {
    std::int8_t* row = output + r * output_stride;
    if (stage.type == OutputType::accumulator) {
      store_tile_int32(row, units, _mm256_add_epi32(load(sums + 2 * r), load(requantization.bias)),
                       _mm256_add_epi32(load(sums + 2 * r + 1), load(requantization.bias + 8)));
      continue;
    }
    const __m256i low = requantize_half<Mode>(load(sums + 2 * r), requantization, 0, vectors);
    const __m256i high = requantize_half<Mode>(load(sums + 2 * r + 1), requantization, 1, vectors);
    if (stage.type == OutputType::int32) {
      store_tile_int32(row, units, low, high);
    } else {
      store_tile(row, units, low, high, vectors);
    }
  }
}

TSQ_TARGET_AVX2 inline void spill(__m256i* destination, const RowSums& row) {
  _mm256_store_si256(destination, row.low);
  _mm256_store_si256(destination + 1, row.high);
}

template <int Rows>
TSQ_TARGET_AVX2 void kernel(const std::int8_t* rows, std::ptrdiff_t row_stride,
                            const std::int8_t* tile, std::int32_t depth_groups,
                            const TileRequantization& requantization, std::int8_t* output,
                            std::ptrdiff_t output_stride, std::int32_t units,
                            const OutputStage& stage) {
  const __m256i zero = _mm256_setzero_si256();
  RowSums row0{zero, zero};
  RowSums row1 = row0;
  RowSums row2 = row0;
  RowSums row3 = row0;
  const std::int8_t* line = tile;
  const std::int8_t* x = rows;
  for (std::int32_t k = 0; k < depth_groups; ++k) {
    const TileLine weights = load_line(line);
    accumulate(row0, x, weights);
    if constexpr (Rows > 1) accumulate(row1, x + row_stride, weights);
    if constexpr (Rows > 2) accumulate(row2, x + 2 * row_stride, weights);
    if constexpr (Rows > 3) accumulate(row3, x + 3 * row_stride, weights);
    line += kTileLineBytes;
    x += kDepthGroup;
  }
  // Explicit stores keep the sums registers in the loop (see gemm_avx512_vnni.hpp's kernel).
  __m256i sums[2 * Rows];
  spill(sums, row0);
  if constexpr (Rows > 1) spill(sums + 2, row1);
  if constexpr (Rows > 2) spill(sums + 4, row2);
  if constexpr (Rows > 3) spill(sums + 6, row3);
  if (stage.rounding == RoundingMode::double_rounding) {
    store_rows<RoundingMode::double_rounding, Rows>(output, output_stride, sums, requantization,
                                                    units, stage);
  } else {
    store_rows<RoundingMode::single_rounding, Rows>(output, output_stride, sums, requantization,
                                                    units, stage);
  }
}

using Kernel = void (*)(const std::int8_t*, std::ptrdiff_t, const std::int8_t*, std::int32_t,
                        const TileRequantization&, std::int8_t*, std::ptrdiff_t, std::int32_t,
                        const OutputStage&);

inline constexpr Kernel kKernels[kRows] = {&kernel<1>, &kernel<2>, &kernel<3>, &kernel<4>};

// One tile (16 channels) at a time, kRows rows at a time.
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

// The segments one after the other from `destination` (gemm.hpp): copies as x ^ 0x80, fills
// with `padding`, 32 bytes at a time, the tails byte by byte.
TSQ_TARGET_AVX2 inline void write_segments(std::int8_t* destination, const RowSegment* segments,
                                           std::int32_t count, std::int8_t padding) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i fill = _mm256_set1_epi8(padding);
  for (std::int32_t s = 0; s < count; ++s) {
    const std::int8_t* source = segments[s].source;
    const std::int32_t bytes = segments[s].bytes;
    std::int32_t i = 0;
    if (source != nullptr) {
      for (; i + 32 <= bytes; i += 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination + i),
                            _mm256_xor_si256(load(source + i), flip));
      }
      for (; i < bytes; ++i) {
        destination[i] = static_cast<std::int8_t>(static_cast<std::uint8_t>(source[i]) ^ 0x80u);
      }
    } else {
      for (; i + 32 <= bytes; i += 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination + i), fill);
      }
      for (; i < bytes; ++i) destination[i] = padding;
    }
    destination += bytes;
  }
}

// Rows r < count at destination + r * stride: the runs read from fields[r] as x ^ 0x80, then
// zeros up to padded_depth (gemm.hpp).
TSQ_TARGET_AVX2 inline void gather_rows(std::int8_t* destination, std::ptrdiff_t stride,
                                        const std::int8_t* const* fields, std::int32_t count,
                                        const GatherRun* runs, std::int32_t run_count,
                                        std::int32_t depth, std::int32_t padded_depth) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (std::int32_t r = 0; r < count; ++r) {
    std::int8_t* row = destination + r * stride;
    for (std::int32_t run = 0; run < run_count; ++run) {
      const std::int8_t* source = fields[r] + runs[run].offset;
      const std::int32_t bytes = runs[run].bytes;
      std::int32_t i = 0;
      for (; i + 32 <= bytes; i += 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + i),
                            _mm256_xor_si256(load(source + i), flip));
      }
      for (; i < bytes; ++i) {
        row[i] = static_cast<std::int8_t>(static_cast<std::uint8_t>(source[i]) ^ 0x80u);
      }
      row += bytes;
    }
    for (std::int32_t d = depth; d < padded_depth; ++d) *row++ = 0;
  }
}

}  // namespace avx2
}  // namespace detail
}  // namespace simd
}  // namespace tsq

#endif  // TSQ_SIMD_X86
