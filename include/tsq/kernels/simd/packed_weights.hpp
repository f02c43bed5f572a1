// SPDX-License-Identifier: Apache-2.0
// Packed int8 weights of the SIMD GEMM kernels (kernels/simd/): the layout every path reads, and
// the per-channel data that lets the inner loop be pure dot products.
//
// Layout. The weights of one group are [units, depth] (FullyConnected [units, input_depth];
// Conv2D [C_out / G, KH * KW * C_in / G], the filter's own order). Units are cut into tiles of
// kTileUnits = 16 output channels and depth into groups of kDepthGroup = 4:
//
//   values[group][tile][k][unit][i] = W[16 * tile + unit][4 * k + i]    (0 past the ends)
//
// so one 64-byte line holds 4 depth steps of 16 channels: one vpdpbusd source on AVX-512, two
// ymm halves on AVX2, four sdot sources on NEON. A tile's lines are contiguous along depth.
//
// Zero points. vpdpbusd multiplies unsigned by signed bytes, so the x86 paths feed activations
// as u = x + 128 (the byte x ^ 0x80), kInputOffset = 128. With acc_ref = sum W (x - Z_in):
//
//   acc_ref + bias = sum W u + (bias - (kInputOffset + Z_in) * sum W)
//
// and the bracket, folded once per channel at pack time (wrapping as the reference's bias
// addition does), leaves only sum W u for eval. NEON's sdot is signed x signed: kInputOffset = 0
// there. Padded depth has W = 0 and padded taps of a convolution read u = kInputOffset + Z_in
// (x = Z_in), so neither adds anything, as in the reference.
//
// Requantization. Each tile carries its 16 channels' multiplier data laid out for vector loads
// (TileRequantization), in the form of the rounding mode packed for: one 64-bit add, correction
// and shift per channel that equals multiply_by_quantized_multiplier exactly (derived below).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"

namespace tsq {
namespace simd {

constexpr std::int32_t kTileUnits = 16;
constexpr std::int32_t kDepthGroup = 4;
constexpr std::int32_t kTileLineBytes = kTileUnits * kDepthGroup;  // 64

// What the kernels add to each int8 activation before the dot products (see above).
#if defined(__aarch64__)
constexpr std::int32_t kInputOffset = 0;
#else
constexpr std::int32_t kInputOffset = 128;
#endif

// The requantization data of one tile's 16 channels (padding channels: multiplier 0), laid out
// for vector loads: 64-bit lanes hold the even channels (0, 2, .., 14) and the odd ones apart,
// as the 32 x 32 -> 64-bit multiplies produce them.
//
// Per channel with QuantizedMultiplier (M, s) and p = acc * M (64 bits, |p| < 2^62), the vector
// paths compute
//
//   y = (p + C - (p < N ? D : 0)) >> T     (arithmetic), then the clamp,
//
// which equals multiply_by_quantized_multiplier in both modes:
//  - single rounding: (p + 2^(P - 1)) >> P with P = 31 - s, saturated: C = 2^(P - 1), D = 0,
//    T = P; values past int32 lie outside the clamp, so the clamp saturates.
//  - double rounding, s >= 0: SRDHM(acc << s, M) = floor((p + 2^(30 - s)) / 2^(31 - s)), also
//    where the reference's left shift overflows and it continues in single rounding: the same
//    constants with P = 31 - s. (SRDHM(a, M) = trunc((a M + nudge) / 2^31) is
//    floor((a M + 2^30) / 2^31) for every a: the nudge 1 - 2^30 of a negative product turns
//    truncation into that floor; and M is never INT32_MIN, so it never saturates.)
//  - double rounding, s < 0, E = -s: h = floor((p + 2^30) / 2^31), then
//    rounding_divide_by_power_of_two(h, E) = floor((h + 2^(E - 1) - (h < 0)) / 2^E) (ties away
//    from zero). Nested floors of integers compose, and h < 0 exactly when p + 2^30 < 0, so
//    y = (p + 2^30 + 2^(30 + E) - (p < -2^30 ? 2^31 : 0)) >> (31 + E):
//    C = 2^30 + 2^(30 + E), N = -2^30, D = 2^31, T = 31 + E <= 62. No sum overflows int64.
// Without a left shift (s <= 0) y fits int32 (|p| < 2^62, T >= 31), so the AVX-512 path
// saturates to int32 only for layers with PackedWeights::left_shift.
struct alignas(64) TileRequantization {
  std::int32_t bias[kTileUnits];        // bias - (kInputOffset + Z_in) * sum W, wrapped
  std::int32_t multiplier[kTileUnits];  // M
  std::int32_t shift[kTileUnits];       // s (the scalar path applies (M, s) as the reference)
  std::int64_t multiplier_odd[kTileUnits / 2];  // M of channels 1, 3, .., 15
  std::int64_t rounding_even[kTileUnits / 2];   // C of channels 0, 2, .., 14
  std::int64_t rounding_odd[kTileUnits / 2];    // C of channels 1, 3, .., 15
  std::int64_t negative_even[kTileUnits / 2];   // N
  std::int64_t negative_odd[kTileUnits / 2];
  std::int64_t correction_even[kTileUnits / 2];  // D
  std::int64_t correction_odd[kTileUnits / 2];
  std::int64_t shift_even[kTileUnits / 2];  // T
  std::int64_t shift_odd[kTileUnits / 2];
};

// A view of packed weights in caller storage, made by simd::pack_fully_connected or
// simd::pack_conv2d for one prepared layer; eval checks that it matches the layer's params.
struct PackedWeights {
  std::int32_t groups = 0;
  std::int32_t units = 0;                                 // output channels per group
  std::int32_t depth = 0;                                 // weights per output channel
  std::int32_t padded_depth = 0;                          // depth rounded up to kDepthGroup
  std::int32_t tiles = 0;                                 // per group: ceil(units / kTileUnits)
  std::int32_t input_zero_point = 0;                      // folded into the biases
  RoundingMode rounding = RoundingMode::double_rounding;  // of the requantization data
  bool left_shift = false;  // a channel's multiplier shifts left (s > 0): see TileRequantization
  bool hybrid = false;      // packed for the hybrid ops: no multipliers, accumulator outputs only
  Span<const std::int8_t> values;                 // groups * tiles * padded_depth * 16
  Span<const TileRequantization> requantization;  // groups * tiles
  PreparedMark prepared;                          // set by the pack functions

  std::ptrdiff_t tile_bytes() const {
    return static_cast<std::ptrdiff_t>(padded_depth) * kTileUnits;
  }
  const std::int8_t* group_values(std::int32_t group) const {
    return values.data() + static_cast<std::ptrdiff_t>(group) * tiles * tile_bytes();
  }
  const TileRequantization* group_requantization(std::int32_t group) const {
    return requantization.data() + static_cast<std::ptrdiff_t>(group) * tiles;
  }
};

// What a GEMM writes per output channel, with acc the dot product of the kernels' activation
// bytes (x + kInputOffset) and the weights, and bias the tile's folded bias:
//  - int8: the ops' outputs, clamp(multiply_by_quantized_multiplier(acc + bias) + Z_out);
//  - int32: multiply_by_quantized_multiplier(acc + bias) clamped to [min, max], no zero point
//    (the LSTM's gate products, saturated to int16 or not);
//  - accumulator: acc + bias itself, no multiplier (the hybrid kernels scale it in float, the
//    LSTM's recurrent products combine two of them).
enum class OutputType : std::uint8_t { int8, int32, accumulator };

constexpr std::ptrdiff_t output_element_bytes(OutputType type) {
  return type == OutputType::int8 ? 1 : 4;
}

// What the kernels do after the dot products, per layer: + Z_out and the activation clamp (the
// rounding mode selects the form of the tiles' requantization data).
struct OutputStage {
  std::int32_t zero_point = 0;  // int8 outputs only
  std::int32_t min = -128;
  std::int32_t max = 127;
  RoundingMode rounding = RoundingMode::double_rounding;
  bool saturate = true;  // PackedWeights::left_shift: values may pass int32 before the clamp
  OutputType type = OutputType::int8;
};

// One call of a GEMM path: `row_count` rows of padded_depth activation bytes (x + kInputOffset,
// the layout the op's row copy writes into scratch) times one group's packed weights, into
// output[r * output_stride + u] for u < units, elements of the stage's output type.
struct GemmBlock {
  const std::int8_t* rows = nullptr;
  std::ptrdiff_t row_stride = 0;
  std::int32_t row_count = 0;
  void* output = nullptr;
  std::ptrdiff_t output_stride = 0;  // elements

  // The byte address of element (row, unit); the kernels address their outputs in bytes.
  std::int8_t* output_at(std::int32_t row, std::int32_t unit, OutputType type) const {
    return static_cast<std::int8_t*>(output) +
           (static_cast<std::ptrdiff_t>(row) * output_stride + unit) * output_element_bytes(type);
  }
  std::ptrdiff_t output_stride_bytes(OutputType type) const {
    return output_stride * output_element_bytes(type);
  }
};

// A piece of scratch rows, written one after the other: `bytes` activations read from `source`
// and stored as x + kInputOffset, or, with a null source, `bytes` copies of a padding byte.
// (No default member initializers: the writers keep arrays of them that need no zeroing.)
struct RowSegment {
  const std::int8_t* source;
  std::int32_t bytes;
};

// A piece of a gathered row (gather_rows): `bytes` activations at `offset` from the row's field.
struct GatherRun {
  std::ptrdiff_t offset;
  std::int32_t bytes;
};

// Storage sizes for packing: int8 values, and TileRequantization records.
struct PackedWeightsSize {
  std::size_t values = 0;
  std::size_t tiles = 0;
};

namespace detail {

constexpr std::int32_t round_up(std::int32_t value, std::int32_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

constexpr PackedWeightsSize packed_weights_size(std::int32_t groups, std::int32_t units,
                                                std::int32_t depth) {
  const auto tiles = static_cast<std::size_t>(groups) *
                     static_cast<std::size_t>((units + kTileUnits - 1) / kTileUnits);
  return PackedWeightsSize{
      tiles * static_cast<std::size_t>(round_up(depth, kDepthGroup)) * kTileUnits, tiles};
}

// The 64-bit form of one multiplier (see TileRequantization):
// y = (acc * M + C - (acc * M < N ? D : 0)) >> T.
struct RequantizationConstants {
  std::int64_t rounding = 0;    // C
  std::int64_t negative = 0;    // N
  std::int64_t correction = 0;  // D
  std::int64_t shift = 0;       // T
};

inline RequantizationConstants requantization_constants(QuantizedMultiplier m,
                                                        RoundingMode rounding) {
  const bool divides = rounding == RoundingMode::double_rounding && m.shift < 0;
  const int product_shift = divides ? 31 : 31 - m.shift;  // P
  const int exponent = divides ? -m.shift : 0;            // E
  const std::int64_t round = std::int64_t{1} << (product_shift - 1);
  RequantizationConstants constants;
  constants.rounding = divides ? round + (std::int64_t{1} << (30 + exponent)) : round;
  constants.negative = -round;
  constants.correction = divides ? std::int64_t{1} << 31 : 0;
  constants.shift = product_shift + exponent;
  return constants;
}

// One channel's lane of a tile's requantization data (the constants above).
inline void set_requantization_lane(TileRequantization& tile, std::int32_t lane, std::int32_t bias,
                                    QuantizedMultiplier m, RoundingMode rounding) {
  const RequantizationConstants constants = requantization_constants(m, rounding);
  tile.bias[lane] = bias;
  tile.multiplier[lane] = m.multiplier;
  tile.shift[lane] = m.shift;
  const std::int32_t pair = lane / 2;
  if (lane % 2 == 0) {
    tile.rounding_even[pair] = constants.rounding;
    tile.negative_even[pair] = constants.negative;
    tile.correction_even[pair] = constants.correction;
    tile.shift_even[pair] = constants.shift;
  } else {
    tile.multiplier_odd[pair] = m.multiplier;
    tile.rounding_odd[pair] = constants.rounding;
    tile.negative_odd[pair] = constants.negative;
    tile.correction_odd[pair] = constants.correction;
    tile.shift_odd[pair] = constants.shift;
  }
}

// The channel data and the units of layout above; `weights` is [groups * units, depth] row-major
// (channel c = g * units + u), `bias` empty or one per channel, `multipliers` one or one per
// channel (checked by the op's prepare, whose params they come from).
inline Result<PackedWeights> pack_weights(const char* op, const std::int8_t* weights,
                                          std::int32_t groups, std::int32_t units,
                                          std::int32_t depth, Span<const std::int32_t> bias,
                                          Span<const QuantizedMultiplier> multipliers,
                                          std::int32_t input_zero_point, RoundingMode rounding,
                                          Span<std::int8_t> value_storage,
                                          Span<TileRequantization> requantization_storage) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, bias, multipliers, value_storage,
                                                      requantization_storage));
  const auto channels = static_cast<std::size_t>(groups) * static_cast<std::size_t>(units);
  if (!bias.empty() && bias.size() != channels) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" bias has ")
        .append(bias.size())
        .append(" values, expected ")
        .append(channels);
  }
  if (multipliers.size() != 1 && multipliers.size() != channels) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" params are inconsistent: multipliers do not match the output channels");
  }
  const PackedWeightsSize size = packed_weights_size(groups, units, depth);
  if (value_storage.size() < size.values || requantization_storage.size() < size.tiles) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" packed storage holds ")
        .append(value_storage.size())
        .append(" values and ")
        .append(requantization_storage.size())
        .append(" tiles, needs ")
        .append(size.values)
        .append(" and ")
        .append(size.tiles);
  }
  PackedWeights packed;
  packed.groups = groups;
  packed.units = units;
  packed.depth = depth;
  packed.padded_depth = round_up(depth, kDepthGroup);
  packed.tiles = (units + kTileUnits - 1) / kTileUnits;
  packed.input_zero_point = input_zero_point;
  packed.rounding = rounding;
  const std::ptrdiff_t tile_bytes = packed.tile_bytes();
  const std::int32_t depth_groups = packed.padded_depth / kDepthGroup;
  for (std::int32_t g = 0; g < groups; ++g) {
    for (std::int32_t t = 0; t < packed.tiles; ++t) {
      std::int8_t* tile =
          value_storage.data() + (static_cast<std::ptrdiff_t>(g) * packed.tiles + t) * tile_bytes;
      TileRequantization& record =
          requantization_storage[static_cast<std::size_t>(g) * packed.tiles +
                                 static_cast<std::size_t>(t)];
      record = TileRequantization{};
      for (std::int32_t lane = 0; lane < kTileUnits; ++lane) {
        const std::int32_t unit = t * kTileUnits + lane;
        if (unit >= units) {
          for (std::int32_t k = 0; k < depth_groups; ++k) {
            for (std::int32_t i = 0; i < kDepthGroup; ++i)
              tile[k * kTileLineBytes + lane * kDepthGroup + i] = 0;
          }
          set_requantization_lane(record, lane, 0, QuantizedMultiplier{}, rounding);
          continue;
        }
        const std::size_t channel = static_cast<std::size_t>(g) * static_cast<std::size_t>(units) +
                                    static_cast<std::size_t>(unit);
        const std::int8_t* row = weights + static_cast<std::ptrdiff_t>(channel) * depth;
        std::int64_t weight_sum = 0;
        for (std::int32_t k = 0; k < depth_groups; ++k) {
          for (std::int32_t i = 0; i < kDepthGroup; ++i) {
            const std::int32_t d = k * kDepthGroup + i;
            const std::int8_t w = d < depth ? row[d] : std::int8_t{0};
            weight_sum += w;
            tile[k * kTileLineBytes + lane * kDepthGroup + i] = w;
          }
        }
        // |weight_sum| <= 65536 * 128 and the offset <= 255: the product fits int64 easily; the
        // sum with the bias wraps to int32 like the reference's wrapping bias addition.
        const std::int64_t folded =
            (bias.empty() ? 0 : static_cast<std::int64_t>(bias[channel])) -
            (kInputOffset + static_cast<std::int64_t>(input_zero_point)) * weight_sum;
        const QuantizedMultiplier m = multipliers[multipliers.size() == 1 ? 0 : channel];
        if (m.shift > 0) packed.left_shift = true;
        set_requantization_lane(record, lane,
                                static_cast<std::int32_t>(
                                    static_cast<std::uint32_t>(static_cast<std::uint64_t>(folded))),
                                m, rounding);
      }
    }
  }
  packed.values = Span<const std::int8_t>(value_storage.data(), size.values);
  packed.requantization = Span<const TileRequantization>(requantization_storage.data(), size.tiles);
  tsq::detail::mark_prepared(packed);
  return packed;
}

// Eval: the packed weights must come from a pack function, for the layer's own shape, input zero
// point and rounding mode (they are folded into the data).
inline Status check_packed_weights(const char* op, const PackedWeights& packed, std::int32_t groups,
                                   std::int32_t units, std::int32_t depth,
                                   std::int32_t input_zero_point, RoundingMode rounding,
                                   bool hybrid = false) {
  if (!packed.prepared.is_set()) {
    return Status::error(ErrorCode::not_prepared, op)
        .append(" packed weights were not produced by its pack function");
  }
  const PackedWeightsSize size = packed_weights_size(groups, units, depth);
  if (packed.groups != groups || packed.units != units || packed.depth != depth ||
      packed.padded_depth != round_up(depth, kDepthGroup) ||
      packed.tiles != (units + kTileUnits - 1) / kTileUnits || packed.values.size() < size.values ||
      packed.requantization.size() < size.tiles || packed.values.data() == nullptr ||
      packed.requantization.data() == nullptr) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" packed weights do not match the layer's shape");
  }
  if (packed.hybrid != hybrid) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(hybrid ? " packed weights were packed for an int8 layer, not by a hybrid pack"
                       : " packed weights were packed for a hybrid (DRQ) layer");
  }
  if (packed.input_zero_point != input_zero_point || packed.rounding != rounding) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" packed weights were folded for another input zero point or rounding mode");
  }
  return Status::ok();
}

}  // namespace detail
}  // namespace simd
}  // namespace tsq
