// SPDX-License-Identifier: Apache-2.0
// The scalar path of the packed int8 GEMM: portable C++ over the packed layout
// (packed_weights.hpp), requantized by the reference's own multiply_by_quantized_multiplier. It is
// the fallback on CPUs without AVX2 or NEON dot products, and the model the vector paths follow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/kernels/common.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"

namespace tsq {
namespace simd {
namespace detail {
namespace scalar {

// An activation byte of a scratch row as the integer the dot products use.
constexpr std::int32_t activation_value(std::int8_t byte) {
  if constexpr (kInputOffset == 128) {
    return static_cast<std::int32_t>(static_cast<std::uint8_t>(byte));
  } else {
    return static_cast<std::int32_t>(byte);
  }
}

// dst[i] = src[i] + kInputOffset as a byte (x ^ 0x80 for the offset 128).
inline void copy_activations(std::int8_t* dst, const std::int8_t* src, std::int32_t count) {
  if constexpr (kInputOffset == 0) {
    std::memcpy(dst, src, static_cast<std::size_t>(count));
  } else {
    for (std::int32_t i = 0; i < count; ++i) {
      dst[i] = static_cast<std::int8_t>(static_cast<std::uint8_t>(src[i]) ^ 0x80u);
    }
  }
}

// The segments one after the other from `destination`; `padding` is the (offset) pad byte.
inline void write_segments(std::int8_t* destination, const RowSegment* segments, std::int32_t count,
                           std::int8_t padding) {
  for (std::int32_t i = 0; i < count; ++i) {
    if (segments[i].source != nullptr) {
      copy_activations(destination, segments[i].source, segments[i].bytes);
    } else {
      std::memset(destination, static_cast<unsigned char>(padding),
                  static_cast<std::size_t>(segments[i].bytes));
    }
    destination += segments[i].bytes;
  }
}

// Rows r < count at destination + r * stride: the runs read from fields[r], then zeros up to
// padded_depth (bytes the kernels read, against zero weights).
inline void gather_rows(std::int8_t* destination, std::ptrdiff_t stride,
                        const std::int8_t* const* fields, std::int32_t count, const GatherRun* runs,
                        std::int32_t run_count, std::int32_t depth, std::int32_t padded_depth) {
  for (std::int32_t r = 0; r < count; ++r) {
    std::int8_t* row = destination + r * stride;
    for (std::int32_t i = 0; i < run_count; ++i) {
      copy_activations(row, fields[r] + runs[i].offset, runs[i].bytes);
      row += runs[i].bytes;
    }
    for (std::int32_t d = depth; d < padded_depth; ++d) *row++ = 0;
  }
}

// The reference's requantization tail on the folded accumulator: the same function calls, so
// this path equals the reference by construction. `output` is the byte address of the first lane.
template <RoundingMode Mode>
void store_lanes(const std::int32_t* accumulators, const TileRequantization& tile,
                 const OutputStage& stage, std::int8_t* output, std::int32_t count) {
  for (std::int32_t lane = 0; lane < count; ++lane) {
    const std::int32_t accumulator = wrapping_add(accumulators[lane], tile.bias[lane]);
    if (stage.type == OutputType::accumulator) {
      std::memcpy(output + 4 * lane, &accumulator, 4);
      continue;
    }
    const std::int32_t value = multiply_by_quantized_multiplier<Mode>(
        accumulator, QuantizedMultiplier{tile.multiplier[lane], tile.shift[lane]});
    if (stage.type == OutputType::int32) {
      const std::int32_t clamped = clamp(value, stage.min, stage.max);
      std::memcpy(output + 4 * lane, &clamped, 4);
    } else {
      output[lane] = static_cast<std::int8_t>(
          clamp(tsq::detail::add_zero_point(value, stage.zero_point), stage.min, stage.max));
    }
  }
}

inline void gemm(const PackedWeights& weights, std::int32_t group, const GemmBlock& block,
                 const OutputStage& stage) {
  const std::int8_t* values = weights.group_values(group);
  const TileRequantization* requantization = weights.group_requantization(group);
  const std::int32_t depth_groups = weights.padded_depth / kDepthGroup;
  for (std::int32_t t = 0; t < weights.tiles; ++t) {
    const std::int8_t* tile = values + t * weights.tile_bytes();
    const std::int32_t units =
        weights.units - t * kTileUnits < kTileUnits ? weights.units - t * kTileUnits : kTileUnits;
    for (std::int32_t r = 0; r < block.row_count; ++r) {
      const std::int8_t* row = block.rows + r * block.row_stride;
      // Sum W u <= 65536 * 255 * 128 < 2^31 (kMaxAccumulationDepth): no overflow.
      std::int32_t accumulators[kTileUnits] = {};
      for (std::int32_t k = 0; k < depth_groups; ++k) {
        const std::int8_t* line = tile + k * kTileLineBytes;
        const std::int8_t* x = row + k * kDepthGroup;
        for (std::int32_t lane = 0; lane < kTileUnits; ++lane) {
          std::int32_t sum = 0;
          for (std::int32_t i = 0; i < kDepthGroup; ++i) {
            sum += static_cast<std::int32_t>(line[lane * kDepthGroup + i]) * activation_value(x[i]);
          }
          accumulators[lane] += sum;
        }
      }
      std::int8_t* output = block.output_at(r, t * kTileUnits, stage.type);
      if (stage.rounding == RoundingMode::double_rounding) {
        store_lanes<RoundingMode::double_rounding>(accumulators, requantization[t], stage, output,
                                                   units);
      } else {
        store_lanes<RoundingMode::single_rounding>(accumulators, requantization[t], stage, output,
                                                   units);
      }
    }
  }
}

}  // namespace scalar
}  // namespace detail
}  // namespace simd
}  // namespace tsq
