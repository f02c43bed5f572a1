// SPDX-License-Identifier: Apache-2.0
// The AVX-512 VNNI path of the packed int8 GEMM (x86-64). Every function carries its own target
// attribute, so the library needs no -march flag; cpu.hpp calls it only on CPUs that have
// AVX-512 F/BW/VL and VNNI.
//
// Micro-kernel: kRows activation rows x kTiles tiles of 16 channels, 24 zmm accumulators. One
// depth step (4 bytes) loads one 64-byte line per tile, broadcasts 4 activation bytes per row
// and issues kRows * kTiles vpdpbusd: u8 activations (x + 128) times s8 weights, 4 products
// summed into each int32 lane without saturation (the exact sum fits: kMaxAccumulationDepth).
//
// Requantization, exact to multiply_by_quantized_multiplier in both rounding modes: the
// 64-bit form of packed_weights.hpp on 16 channels at once, the even and the odd channels apart
// (vpmuldq multiplies the even 32-bit lanes), then + Z_out and the clamp on a row's 64 outputs
// at once through saturating packs (store_row says why that is exact).
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

#define TSQ_TARGET_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

// GCC 12.2's own AVX-512 intrinsics pass _mm512_undefined_epi32() (initialized from itself) as
// the unused merge source, which -Wuninitialized and -Wmaybe-uninitialized report once they are
// inlined into a function with a target attribute: false positives inside GCC's own headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tsq {
namespace simd {
namespace detail {
namespace avx512_vnni {

constexpr int kRows = 6;
constexpr int kTiles = 4;

TSQ_TARGET_AVX512_VNNI inline __m512i load(const void* address) {
  return _mm512_loadu_si512(address);
}

// 4 activation bytes in every 32-bit lane.
TSQ_TARGET_AVX512_VNNI inline __m512i broadcast_depth_group(const std::int8_t* address) {
  std::int32_t group = 0;
  std::memcpy(&group, address, sizeof group);
  return _mm512_set1_epi32(group);
}

// The output stage in vector form: Z_out in every int16 lane, the clamp in every byte.
struct StageVectors {
  __m512i zero_point;
  __m512i min;
  __m512i max;
};

TSQ_TARGET_AVX512_VNNI inline StageVectors stage_vectors(const OutputStage& stage) {
  return StageVectors{_mm512_set1_epi16(static_cast<short>(stage.zero_point)),
                      _mm512_set1_epi8(static_cast<char>(stage.min)),
                      _mm512_set1_epi8(static_cast<char>(stage.max))};
}

// One half of a tile's channels (the even or the odd ones) as 64-bit products p:
// (p + C - (p < N ? D : 0)) >> T (packed_weights.hpp), saturated to int32 when a channel of
// the layer shifts left (without a left shift the value fits int32: |p| / 2^31 < 2^31).
template <RoundingMode Mode, bool Saturate>
TSQ_TARGET_AVX512_VNNI inline __m512i requantize_products(__m512i products,
                                                          const std::int64_t* rounding,
                                                          const std::int64_t* negative,
                                                          const std::int64_t* correction,
                                                          const std::int64_t* shift) {
  __m512i value = _mm512_add_epi64(products, load(rounding));
  if constexpr (Mode == RoundingMode::double_rounding) {
    value = _mm512_mask_sub_epi64(value, _mm512_cmplt_epi64_mask(products, load(negative)), value,
                                  load(correction));
  }
  value = _mm512_srav_epi64(value, load(shift));
  if constexpr (Saturate) {
    value = _mm512_min_epi64(_mm512_max_epi64(value, _mm512_set1_epi64(kInt32Min)),
                             _mm512_set1_epi64(kInt32Max));
  }
  return value;
}

// multiply_by_quantized_multiplier of one tile's 16 accumulators (+ bias), as int32 lanes.
template <RoundingMode Mode, bool Saturate>
TSQ_TARGET_AVX512_VNNI inline __m512i requantize_tile(__m512i accumulators,
                                                      const TileRequantization& tile) {
  const __m512i x = _mm512_add_epi32(accumulators, load(tile.bias));  // wraps, as the reference
  const __m512i even = requantize_products<Mode, Saturate>(
      _mm512_mul_epi32(x, load(tile.multiplier)), tile.rounding_even, tile.negative_even,
      tile.correction_even, tile.shift_even);
  const __m512i odd = requantize_products<Mode, Saturate>(
      _mm512_mul_epi32(_mm512_srli_epi64(x, 32), load(tile.multiplier_odd)), tile.rounding_odd,
      tile.negative_odd, tile.correction_odd, tile.shift_odd);
  // Both halves fit int32 now: their low 32 bits are the values.
  return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

// One row's accumulators, a tile each (Tiles of them used). Named members, not an array: GCC
// keeps an array of vectors in memory and copies it every step; struct members it keeps in
// registers.
struct RowAccumulators {
  __m512i tile0;
  __m512i tile1;
  __m512i tile2;
  __m512i tile3;
};

// A depth step's weight lines of the panel's tiles.
struct PanelLines {
  __m512i tile0;
  __m512i tile1;
  __m512i tile2;
  __m512i tile3;
};

template <int Tiles>
TSQ_TARGET_AVX512_VNNI inline PanelLines load_lines(const std::int8_t* line,
                                                    std::ptrdiff_t tile_bytes) {
  PanelLines lines{};
  lines.tile0 = load(line);
  if constexpr (Tiles > 1) lines.tile1 = load(line + tile_bytes);
  if constexpr (Tiles > 2) lines.tile2 = load(line + 2 * tile_bytes);
  if constexpr (Tiles > 3) lines.tile3 = load(line + 3 * tile_bytes);
  return lines;
}

template <int Tiles>
TSQ_TARGET_AVX512_VNNI inline void accumulate(RowAccumulators& row, const std::int8_t* activations,
                                              const PanelLines& lines) {
  const __m512i x = broadcast_depth_group(activations);
  row.tile0 = _mm512_dpbusd_epi32(row.tile0, x, lines.tile0);
  if constexpr (Tiles > 1) row.tile1 = _mm512_dpbusd_epi32(row.tile1, x, lines.tile1);
  if constexpr (Tiles > 2) row.tile2 = _mm512_dpbusd_epi32(row.tile2, x, lines.tile2);
  if constexpr (Tiles > 3) row.tile3 = _mm512_dpbusd_epi32(row.tile3, x, lines.tile3);
}

// The output bytes of one row: its Tiles tiles requantized (the others 0), + Z_out, clamped,
// stored where the row has channels. The reference computes clamp(sat32(v + Z_out), min, max)
// with [min, max] inside int8; here v goes through saturating packs to int16, + Z_out with int16
// saturation, saturating packs to int8, then the clamp. Each saturation only moves a value that
// is outside int8 (and stays outside with its sign, |Z_out| <= 128) to a bound outside or at the
// edge of [min, max], so the clamp gives the same byte. The packs interleave the four tiles per
// 128-bit lane; a dword permute restores channel order.
template <RoundingMode Mode, bool Saturate, int Tiles>
TSQ_TARGET_AVX512_VNNI inline void store_row(std::int8_t* output, const __m512i* row,
                                             const TileRequantization* requantization,
                                             std::int32_t units, const StageVectors& stage) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i v0 = requantize_tile<Mode, Saturate>(load(row), requantization[0]);
  __m512i v1 = zero;
  __m512i v2 = zero;
  __m512i v3 = zero;
  if constexpr (Tiles > 1) v1 = requantize_tile<Mode, Saturate>(load(row + 1), requantization[1]);
  if constexpr (Tiles > 2) v2 = requantize_tile<Mode, Saturate>(load(row + 2), requantization[2]);
  if constexpr (Tiles > 3) v3 = requantize_tile<Mode, Saturate>(load(row + 3), requantization[3]);
  const __m512i low = _mm512_adds_epi16(_mm512_packs_epi32(v0, v1), stage.zero_point);
  const __m512i high = _mm512_adds_epi16(_mm512_packs_epi32(v2, v3), stage.zero_point);
  __m512i bytes = _mm512_packs_epi16(low, high);
  bytes = _mm512_min_epi8(_mm512_max_epi8(bytes, stage.min), stage.max);
  // Dword 4 * lane + tile holds channels 4 * lane .. + 3 of `tile`: move it to 4 * tile + lane.
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  bytes = _mm512_permutexvar_epi32(order, bytes);
  const __mmask64 lanes =
      units >= kTiles * kTileUnits ? ~std::uint64_t{0} : (std::uint64_t{1} << units) - 1;
  _mm512_mask_storeu_epi8(output, lanes, bytes);
}

// The int32 or accumulator outputs of one row (OutputType), 16 per tile, masked past `units`.
template <RoundingMode Mode, bool Saturate, int Tiles>
TSQ_TARGET_AVX512_VNNI inline void store_row_int32(std::int8_t* output, const __m512i* row,
                                                   const TileRequantization* requantization,
                                                   std::int32_t units, const OutputStage& stage) {
  const __m512i min = _mm512_set1_epi32(stage.min);
  const __m512i max = _mm512_set1_epi32(stage.max);
  for (int t = 0; t < Tiles; ++t) {
    const std::int32_t count = units - t * kTileUnits;
    if (count <= 0) return;
    __m512i value = _mm512_add_epi32(load(row + t), load(requantization[t].bias));  // wraps
    if (stage.type == OutputType::int32) {
      value = requantize_tile<Mode, Saturate>(load(row + t), requantization[t]);
      value = _mm512_min_epi32(_mm512_max_epi32(value, min), max);
    }
    const auto lanes = static_cast<__mmask16>(count >= kTileUnits ? 0xFFFF : (1u << count) - 1);
    _mm512_mask_storeu_epi32(output + t * kTileUnits * 4, lanes, value);
  }
}

// The accumulators of Rows rows, kTiles vectors per row, from memory (see kernel); `output` and
// its stride in bytes.
template <RoundingMode Mode, bool Saturate, int Rows, int Tiles>
TSQ_TARGET_AVX512_VNNI void store_rows(std::int8_t* output, std::ptrdiff_t output_stride,
                                       const __m512i* accumulators,
                                       const TileRequantization* requantization, std::int32_t units,
                                       const OutputStage& stage) {
  if (stage.type != OutputType::int8) {
    for (int r = 0; r < Rows; ++r) {
      store_row_int32<Mode, Saturate, Tiles>(output + r * output_stride, accumulators + r * kTiles,
                                             requantization, units, stage);
    }
    return;
  }
  const StageVectors vectors = stage_vectors(stage);
  for (int r = 0; r < Rows; ++r) {
    store_row<Mode, Saturate, Tiles>(output + r * output_stride, accumulators + r * kTiles,
                                     requantization, units, vectors);
  }
}

// Writes a row's accumulators to memory with explicit stores.
template <int Tiles>
TSQ_TARGET_AVX512_VNNI inline void spill(__m512i* destination, const RowAccumulators& row) {
  _mm512_store_si512(destination, row.tile0);
  if constexpr (Tiles > 1) _mm512_store_si512(destination + 1, row.tile1);
  if constexpr (Tiles > 2) _mm512_store_si512(destination + 2, row.tile2);
  if constexpr (Tiles > 3) _mm512_store_si512(destination + 3, row.tile3);
}

// Rows x Tiles outputs (Rows <= kRows, Tiles <= kTiles): the depth loop, then requantization.
template <int Rows, int Tiles>
TSQ_TARGET_AVX512_VNNI void kernel(const std::int8_t* rows, std::ptrdiff_t row_stride,
                                   const std::int8_t* values, std::ptrdiff_t tile_bytes,
                                   std::int32_t depth_groups,
                                   const TileRequantization* requantization, std::int8_t* output,
                                   std::ptrdiff_t output_stride, std::int32_t units,
                                   const OutputStage& stage) {
  const __m512i zero = _mm512_setzero_si512();
  RowAccumulators row0{zero, zero, zero, zero};
  RowAccumulators row1 = row0;
  RowAccumulators row2 = row0;
  RowAccumulators row3 = row0;
  RowAccumulators row4 = row0;
  RowAccumulators row5 = row0;
  const std::int8_t* line = values;
  const std::int8_t* x = rows;
  for (std::int32_t k = 0; k < depth_groups; ++k) {
    const PanelLines lines = load_lines<Tiles>(line, tile_bytes);
    accumulate<Tiles>(row0, x, lines);
    if constexpr (Rows > 1) accumulate<Tiles>(row1, x + row_stride, lines);
    if constexpr (Rows > 2) accumulate<Tiles>(row2, x + 2 * row_stride, lines);
    if constexpr (Rows > 3) accumulate<Tiles>(row3, x + 3 * row_stride, lines);
    if constexpr (Rows > 4) accumulate<Tiles>(row4, x + 4 * row_stride, lines);
    if constexpr (Rows > 5) accumulate<Tiles>(row5, x + 5 * row_stride, lines);
    line += kTileLineBytes;
    x += kDepthGroup;
  }
  // The requantization reads the accumulators from memory: written here by explicit stores, they
  // stay registers in the loop (passed to a call by value or reference, GCC would keep them in
  // memory throughout it).
  __m512i accumulators[Rows * kTiles];
  spill<Tiles>(accumulators, row0);
  if constexpr (Rows > 1) spill<Tiles>(accumulators + kTiles, row1);
  if constexpr (Rows > 2) spill<Tiles>(accumulators + 2 * kTiles, row2);
  if constexpr (Rows > 3) spill<Tiles>(accumulators + 3 * kTiles, row3);
  if constexpr (Rows > 4) spill<Tiles>(accumulators + 4 * kTiles, row4);
  if constexpr (Rows > 5) spill<Tiles>(accumulators + 5 * kTiles, row5);
  constexpr RoundingMode kDouble = RoundingMode::double_rounding;
  constexpr RoundingMode kSingle = RoundingMode::single_rounding;
  if (stage.rounding == kDouble && !stage.saturate) {
    store_rows<kDouble, false, Rows, Tiles>(output, output_stride, accumulators, requantization,
                                            units, stage);
  } else if (stage.rounding == kDouble) {
    store_rows<kDouble, true, Rows, Tiles>(output, output_stride, accumulators, requantization,
                                           units, stage);
  } else if (!stage.saturate) {
    store_rows<kSingle, false, Rows, Tiles>(output, output_stride, accumulators, requantization,
                                            units, stage);
  } else {
    store_rows<kSingle, true, Rows, Tiles>(output, output_stride, accumulators, requantization,
                                           units, stage);
  }
}

using Kernel = void (*)(const std::int8_t*, std::ptrdiff_t, const std::int8_t*, std::ptrdiff_t,
                        std::int32_t, const TileRequantization*, std::int8_t*, std::ptrdiff_t,
                        std::int32_t, const OutputStage&);

// [rows - 1][tiles - 1]: the full kernel and every remainder of the row and tile loops.
inline constexpr Kernel kKernels[kRows][kTiles] = {
    {&kernel<1, 1>, &kernel<1, 2>, &kernel<1, 3>, &kernel<1, 4>},
    {&kernel<2, 1>, &kernel<2, 2>, &kernel<2, 3>, &kernel<2, 4>},
    {&kernel<3, 1>, &kernel<3, 2>, &kernel<3, 3>, &kernel<3, 4>},
    {&kernel<4, 1>, &kernel<4, 2>, &kernel<4, 3>, &kernel<4, 4>},
    {&kernel<5, 1>, &kernel<5, 2>, &kernel<5, 3>, &kernel<5, 4>},
    {&kernel<6, 1>, &kernel<6, 2>, &kernel<6, 3>, &kernel<6, 4>},
};

// Panels of kTiles tiles (64 channels, whose weights stay in L1 across the block's rows), then
// kRows rows at a time.
inline void gemm(const PackedWeights& weights, std::int32_t group, const GemmBlock& block,
                 const OutputStage& stage) {
  const std::int8_t* values = weights.group_values(group);
  const TileRequantization* requantization = weights.group_requantization(group);
  const std::ptrdiff_t tile_bytes = weights.tile_bytes();
  const std::int32_t depth_groups = weights.padded_depth / kDepthGroup;
  for (std::int32_t t = 0; t < weights.tiles; t += kTiles) {
    const std::int32_t tiles = weights.tiles - t < kTiles ? weights.tiles - t : kTiles;
    const std::int32_t units = weights.units - t * kTileUnits;
    for (std::int32_t r = 0; r < block.row_count; r += kRows) {
      const std::int32_t rows = block.row_count - r < kRows ? block.row_count - r : kRows;
      kKernels[rows - 1][tiles - 1](
          block.rows + r * block.row_stride, block.row_stride, values + t * tile_bytes, tile_bytes,
          depth_groups, requantization + t, block.output_at(r, t * kTileUnits, stage.type),
          block.output_stride_bytes(stage.type), units, stage);
    }
  }
}

// The segments one after the other from `destination` (gemm.hpp): copies as x ^ 0x80 (x + 128
// as an unsigned byte), fills with `padding`, 64 bytes at a time, the tails masked.
TSQ_TARGET_AVX512_VNNI inline void write_segments(std::int8_t* destination,
                                                  const RowSegment* segments, std::int32_t count,
                                                  std::int8_t padding) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i fill = _mm512_set1_epi8(padding);
  for (std::int32_t s = 0; s < count; ++s) {
    const std::int8_t* source = segments[s].source;
    const std::int32_t bytes = segments[s].bytes;
    std::int32_t i = 0;
    if (source != nullptr) {
      for (; i + 64 <= bytes; i += 64) {
        _mm512_storeu_si512(destination + i, _mm512_xor_si512(load(source + i), flip));
      }
      if (i < bytes) {
        const __mmask64 lanes = ~std::uint64_t{0} >> (64 - (bytes - i));
        _mm512_mask_storeu_epi8(destination + i, lanes,
                                _mm512_xor_si512(_mm512_maskz_loadu_epi8(lanes, source + i), flip));
      }
    } else {
      for (; i + 64 <= bytes; i += 64) _mm512_storeu_si512(destination + i, fill);
      if (i < bytes) {
        _mm512_mask_storeu_epi8(destination + i, ~std::uint64_t{0} >> (64 - (bytes - i)), fill);
      }
    }
    destination += bytes;
  }
}

// Rows r < count at destination + r * stride: the runs read from fields[r] as x ^ 0x80, then
// zeros up to padded_depth (gemm.hpp).
TSQ_TARGET_AVX512_VNNI inline void gather_rows(std::int8_t* destination, std::ptrdiff_t stride,
                                               const std::int8_t* const* fields, std::int32_t count,
                                               const GatherRun* runs, std::int32_t run_count,
                                               std::int32_t depth, std::int32_t padded_depth) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (std::int32_t r = 0; r < count; ++r) {
    std::int8_t* row = destination + r * stride;
    for (std::int32_t run = 0; run < run_count; ++run) {
      const std::int8_t* source = fields[r] + runs[run].offset;
      const std::int32_t bytes = runs[run].bytes;
      std::int32_t i = 0;
      for (; i + 64 <= bytes; i += 64) {
        _mm512_storeu_si512(row + i, _mm512_xor_si512(load(source + i), flip));
      }
      if (i < bytes) {
        const __mmask64 lanes = ~std::uint64_t{0} >> (64 - (bytes - i));
        _mm512_mask_storeu_epi8(row + i, lanes,
                                _mm512_xor_si512(_mm512_maskz_loadu_epi8(lanes, source + i), flip));
      }
      row += bytes;
    }
    for (std::int32_t d = depth; d < padded_depth; ++d) *row++ = 0;
  }
}

}  // namespace avx512_vnni
}  // namespace detail
}  // namespace simd
}  // namespace tsq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // TSQ_SIMD_X86
