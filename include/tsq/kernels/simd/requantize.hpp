// SPDX-License-Identifier: Apache-2.0
// Vectorized int32 -> int8 requantization with per-channel multipliers, bit-identical to the
// reference's tail (kernels/common.hpp, requantize_int8_accumulator, then the activation clamp):
//
//   y = clamp(sat32(multiply_by_quantized_multiplier(acc + bias[c], M[c]) + Z_out), min, max)
//
// in both rounding modes, for accumulators laid out [pixels, channels] (channel c = i % C).
//
// Lanes. The per-channel data is repeated along a period of `period` elements (a multiple of C,
// and of 16 when that stays small), one TileRequantization of packed_weights.hpp per 16 elements
// of the period: a vector of 16 consecutive accumulators reads its constants with plain loads,
// whatever C is (C = 5 fills every lane). A row of pixels is requantized a period at a time.
//
// Arithmetic: the 64-bit form derived in packed_weights.hpp, (p + C - (p < N ? D : 0)) >> T with
// p = (acc + bias) * M, equals multiply_by_quantized_multiplier exactly (also where it
// saturates: the value is then outside the clamp). Here it is clamped in 64 bits to
// [min - Z_out, max - Z_out] before + Z_out, which equals the reference's saturating
// clamp(sat32(v) + Z_out): every value outside int32 lies outside the clamp with its sign, and
// |Z_out| <= 128. The result then fits int8, so the narrowing needs no saturation argument.
//
//   storage = requantization_pattern_tiles(C) TileRequantization records
//   pattern = simd::make_requantization_pattern(C, bias, multipliers, Z_out, clamp, rounding,
//                                               storage)
//   simd::requantize_int8(pattern, accumulators, output)   // no heap, no throw
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"

#if TSQ_SIMD_X86
// AVX-512 without VNNI, and AVX2 without FMA: what the small ops use.
#ifndef TSQ_TARGET_AVX512_BW
#define TSQ_TARGET_AVX512_BW __attribute__((target("avx512f,avx512bw,avx512vl")))
#endif
#ifndef TSQ_TARGET_AVX2_ONLY
#define TSQ_TARGET_AVX2_ONLY __attribute__((target("avx2")))
#endif
#endif

// See gemm_avx512_vnni.hpp: GCC 12's own AVX-512 intrinsics warn inside target functions.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tsq {
namespace simd {

// The vector paths of the small ops: AVX-512 F/BW/VL (taken where cpu.hpp reports avx512_vnni,
// which implies them), AVX2, else scalar. NEON falls back to scalar.
enum class SmallOpPath : std::uint8_t { scalar, avx2, avx512 };

inline SmallOpPath small_op_path(Path path) {
  switch (path) {
    case Path::avx512_vnni: return SmallOpPath::avx512;
    case Path::avx2: return SmallOpPath::avx2;
    default: return SmallOpPath::scalar;
  }
}

// Per-channel requantization repeated along a period of elements (see the header comment).
struct RequantizationPattern {
  std::int32_t channels = 0;
  std::int32_t period = 0;  // elements: a multiple of channels
  std::int32_t tiles = 0;   // ceil(period / kTileUnits)
  std::int32_t zero_point = 0;
  std::int32_t min = -128;
  std::int32_t max = 127;
  RoundingMode rounding = RoundingMode::double_rounding;
  Span<const TileRequantization> lanes;  // tiles records
  PreparedMark prepared;                 // set by make_requantization_pattern
};

// The period for C channels: lcm(C, 16) repeated to about 256 elements when lcm(C, 16) is small
// (every vector full), else C (a partial vector per pixel).
constexpr std::int32_t requantization_period(std::int32_t channels) {
  std::int32_t common = 16;  // gcd(C, 16)
  while (channels % common != 0) common /= 2;
  const std::int64_t lcm = static_cast<std::int64_t>(channels) * (16 / common);
  if (lcm > 1024) return channels;
  const auto lcm32 = static_cast<std::int32_t>(lcm);
  return lcm32 >= 256 ? lcm32 : lcm32 * (256 / lcm32);
}

constexpr std::size_t requantization_pattern_tiles(std::int32_t channels) {
  return static_cast<std::size_t>((requantization_period(channels) + kTileUnits - 1) / kTileUnits);
}

// Writes the pattern of C channels into `storage`: bias (empty: none) and multipliers (one, or
// one per channel) as the reference prepares them, Z_out and the activation clamp.
inline Result<RequantizationPattern> make_requantization_pattern(
    const char* op, std::int32_t channels, Span<const std::int32_t> bias,
    Span<const QuantizedMultiplier> multipliers, std::int32_t zero_point,
    const ActivationRange& activation, RoundingMode rounding, Span<TileRequantization> storage) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, bias, multipliers, storage));
  if (channels < 1) {
    return Status::error(ErrorCode::invalid_argument, op).append(" needs at least one channel");
  }
  if (!bias.empty() && bias.size() != static_cast<std::size_t>(channels)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" bias has ")
        .append(bias.size())
        .append(" values, expected ")
        .append(channels);
  }
  if (multipliers.size() != 1 && multipliers.size() != static_cast<std::size_t>(channels)) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" params are inconsistent: multipliers do not match the output channels");
  }
  if (activation.min < -128 || activation.max > 127 || activation.min > activation.max ||
      zero_point < -128 || zero_point > 127) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" needs an int8 output range and zero point");
  }
  const std::size_t tiles = requantization_pattern_tiles(channels);
  if (storage.size() < tiles) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" requantization storage holds ")
        .append(storage.size())
        .append(" tiles, needs ")
        .append(tiles);
  }
  RequantizationPattern pattern;
  pattern.channels = channels;
  pattern.period = requantization_period(channels);
  pattern.tiles = static_cast<std::int32_t>(tiles);
  pattern.zero_point = zero_point;
  pattern.min = activation.min;
  pattern.max = activation.max;
  pattern.rounding = rounding;
  for (std::size_t t = 0; t < tiles; ++t) {
    TileRequantization& tile = storage[t];
    tile = TileRequantization{};
    for (std::int32_t lane = 0; lane < kTileUnits; ++lane) {
      const std::int32_t element = static_cast<std::int32_t>(t) * kTileUnits + lane;
      if (element >= pattern.period) {
        detail::set_requantization_lane(tile, lane, 0, QuantizedMultiplier{}, rounding);
        continue;
      }
      const auto channel = static_cast<std::size_t>(element % channels);
      detail::set_requantization_lane(tile, lane, bias.empty() ? 0 : bias[channel],
                                      multipliers[multipliers.size() == 1 ? 0 : channel], rounding);
    }
  }
  pattern.lanes = Span<const TileRequantization>(storage.data(), tiles);
  tsq::detail::mark_prepared(pattern);
  return pattern;
}

namespace detail {

// Scalar: the reference's own functions, lane by lane.
namespace requantize_scalar {

template <RoundingMode Mode>
inline std::int8_t requantize(std::int32_t accumulator, const TileRequantization& tile,
                              std::int32_t lane, const RequantizationPattern& pattern) {
  const std::int32_t value = multiply_by_quantized_multiplier<Mode>(
      wrapping_add(accumulator, tile.bias[lane]),
      QuantizedMultiplier{tile.multiplier[lane], tile.shift[lane]});
  return static_cast<std::int8_t>(
      clamp(tsq::detail::add_zero_point(value, pattern.zero_point), pattern.min, pattern.max));
}

// `count` <= period accumulators from the start of a period.
template <RoundingMode Mode>
inline void requantize_run(const std::int32_t* accumulators, std::int32_t count,
                           const RequantizationPattern& pattern, std::int8_t* output) {
  for (std::int32_t i = 0; i < count; ++i) {
    output[i] = requantize<Mode>(accumulators[i], pattern.lanes[static_cast<std::size_t>(i / 16)],
                                 i % 16, pattern);
  }
}

}  // namespace requantize_scalar

#if TSQ_SIMD_X86

namespace requantize_avx512 {

TSQ_TARGET_AVX512_BW inline __m512i load(const void* address) {
  return _mm512_loadu_si512(address);
}

// The clamp in 64-bit lanes (min - Z_out, max - Z_out) and Z_out in 32-bit lanes.
struct Stage {
  __m512i low;
  __m512i high;
  __m512i zero_point;
};

TSQ_TARGET_AVX512_BW inline Stage stage(const RequantizationPattern& pattern) {
  return Stage{_mm512_set1_epi64(pattern.min - pattern.zero_point),
               _mm512_set1_epi64(pattern.max - pattern.zero_point),
               _mm512_set1_epi32(pattern.zero_point)};
}

// (p + C - (p < N ? D : 0)) >> T, clamped: 8 lanes of 64 bits.
template <RoundingMode Mode>
TSQ_TARGET_AVX512_BW inline __m512i round_shift(__m512i products, __m512i rounding,
                                                __m512i negative, __m512i correction, __m512i shift,
                                                const Stage& s) {
  __m512i value = _mm512_add_epi64(products, rounding);
  if constexpr (Mode == RoundingMode::double_rounding) {
    value = _mm512_mask_sub_epi64(value, _mm512_cmplt_epi64_mask(products, negative), value,
                                  correction);
  }
  value = _mm512_srav_epi64(value, shift);
  return _mm512_min_epi64(_mm512_max_epi64(value, s.low), s.high);
}

// 16 accumulators of one tile's lanes -> 16 int8 outputs (the clamp and Z_out applied).
template <RoundingMode Mode>
TSQ_TARGET_AVX512_BW inline __m128i requantize(__m512i accumulators, const TileRequantization& tile,
                                               const Stage& s) {
  const __m512i x = _mm512_add_epi32(accumulators, load(tile.bias));  // wraps, as the reference
  const __m512i even = round_shift<Mode>(_mm512_mul_epi32(x, load(tile.multiplier)),
                                         load(tile.rounding_even), load(tile.negative_even),
                                         load(tile.correction_even), load(tile.shift_even), s);
  const __m512i odd =
      round_shift<Mode>(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), load(tile.multiplier_odd)),
                        load(tile.rounding_odd), load(tile.negative_odd), load(tile.correction_odd),
                        load(tile.shift_odd), s);
  const __m512i values = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(values, s.zero_point));  // fits int8: truncates
}

TSQ_TARGET_AVX512_BW inline __mmask16 first_lanes(std::int32_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF)
                     : static_cast<__mmask16>((1u << static_cast<unsigned>(count)) - 1u);
}

template <RoundingMode Mode>
TSQ_TARGET_AVX512_BW void requantize_run(const std::int32_t* accumulators, std::int32_t count,
                                         const RequantizationPattern& pattern,
                                         std::int8_t* output) {
  const Stage s = stage(pattern);
  for (std::int32_t i = 0; i < count; i += 16) {
    const __mmask16 lanes = first_lanes(count - i);
    const __m128i bytes = requantize<Mode>(_mm512_maskz_loadu_epi32(lanes, accumulators + i),
                                           pattern.lanes[static_cast<std::size_t>(i / 16)], s);
    _mm_mask_storeu_epi8(output + i, lanes, bytes);
  }
}

}  // namespace requantize_avx512

namespace requantize_avx2 {

TSQ_TARGET_AVX2_ONLY inline __m256i load(const void* address) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(address));
}

struct Stage {
  __m256i low;
  __m256i high;
  __m256i zero_point;
};

TSQ_TARGET_AVX2_ONLY inline Stage stage(const RequantizationPattern& pattern) {
  return Stage{_mm256_set1_epi64x(pattern.min - pattern.zero_point),
               _mm256_set1_epi64x(pattern.max - pattern.zero_point),
               _mm256_set1_epi32(pattern.zero_point)};
}

// AVX2 has no 64-bit arithmetic shift, min or max: a logical shift of x ^ sign, then ^ sign
// (the floor for negative x), and compares with blends.
template <RoundingMode Mode>
TSQ_TARGET_AVX2_ONLY inline __m256i round_shift(__m256i products, __m256i rounding,
                                                __m256i negative, __m256i correction, __m256i shift,
                                                const Stage& s) {
  __m256i value = _mm256_add_epi64(products, rounding);
  if constexpr (Mode == RoundingMode::double_rounding) {
    const __m256i below = _mm256_cmpgt_epi64(negative, products);
    value = _mm256_sub_epi64(value, _mm256_and_si256(below, correction));
  }
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), value);
  value = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(value, sign), shift), sign);
  value = _mm256_blendv_epi8(value, s.low, _mm256_cmpgt_epi64(s.low, value));
  return _mm256_blendv_epi8(value, s.high, _mm256_cmpgt_epi64(value, s.high));
}

// 8 accumulators, lanes [8 * half, 8 * half + 8) of a tile -> 8 int32 outputs with Z_out.
template <RoundingMode Mode>
TSQ_TARGET_AVX2_ONLY inline __m256i requantize(__m256i accumulators, const TileRequantization& tile,
                                               int half, const Stage& s) {
  const int lane = half * 8;
  const int pair = half * 4;
  const __m256i x = _mm256_add_epi32(accumulators, load(tile.bias + lane));
  const __m256i even =
      round_shift<Mode>(_mm256_mul_epi32(x, load(tile.multiplier + lane)),
                        load(tile.rounding_even + pair), load(tile.negative_even + pair),
                        load(tile.correction_even + pair), load(tile.shift_even + pair), s);
  const __m256i odd = round_shift<Mode>(
      _mm256_mul_epi32(_mm256_srli_epi64(x, 32), load(tile.multiplier_odd + pair)),
      load(tile.rounding_odd + pair), load(tile.negative_odd + pair),
      load(tile.correction_odd + pair), load(tile.shift_odd + pair), s);
  return _mm256_add_epi32(_mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA), s.zero_point);
}

// 8 int32 values inside int8 -> 8 bytes in the low 64 bits.
TSQ_TARGET_AVX2_ONLY inline std::int64_t narrow(__m256i values) {
  const __m128i words =
      _mm_packs_epi32(_mm256_castsi256_si128(values), _mm256_extracti128_si256(values, 1));
  return _mm_cvtsi128_si64(_mm_packs_epi16(words, words));
}

// The first `count` (<= 8) of 8 bytes to `output`.
inline void store_bytes(std::int8_t* output, std::int64_t bytes, std::int32_t count) {
  if (count >= 8) {
    std::memcpy(output, &bytes, 8);
  } else {
    std::memcpy(output, &bytes, static_cast<std::size_t>(count));  // little-endian: low first
  }
}

// Lanes below `count` set (a maskload mask).
TSQ_TARGET_AVX2_ONLY inline __m256i first_lanes(std::int32_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <RoundingMode Mode>
TSQ_TARGET_AVX2_ONLY void requantize_run(const std::int32_t* accumulators, std::int32_t count,
                                         const RequantizationPattern& pattern,
                                         std::int8_t* output) {
  const Stage s = stage(pattern);
  for (std::int32_t i = 0; i < count; i += 8) {
    const std::int32_t left = count - i;
    const __m256i x = left >= 8 ? load(accumulators + i)
                                : _mm256_maskload_epi32(accumulators + i, first_lanes(left));
    const __m256i values =
        requantize<Mode>(x, pattern.lanes[static_cast<std::size_t>(i / 16)], (i / 8) % 2, s);
    store_bytes(output + i, narrow(values), left);
  }
}

}  // namespace requantize_avx2

#endif  // TSQ_SIMD_X86

template <RoundingMode Mode>
inline void requantize_run(SmallOpPath path, const std::int32_t* accumulators, std::int32_t count,
                           const RequantizationPattern& pattern, std::int8_t* output) {
  switch (path) {
#if TSQ_SIMD_X86
    case SmallOpPath::avx512:
      requantize_avx512::requantize_run<Mode>(accumulators, count, pattern, output);
      return;
    case SmallOpPath::avx2:
      requantize_avx2::requantize_run<Mode>(accumulators, count, pattern, output);
      return;
#endif
    default: requantize_scalar::requantize_run<Mode>(accumulators, count, pattern, output); return;
  }
}

}  // namespace detail

// output[i] = the reference's requantization of accumulators[i] for channel i % C, on the active
// path. Errors: not_prepared, shape_mismatch (sizes differ or are not a multiple of C).
inline Status requantize_int8(const RequantizationPattern& pattern,
                              Span<const std::int32_t> accumulators, Span<std::int8_t> output) {
  constexpr const char* op = "simd requantize";
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, pattern));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, accumulators, output));
  if (accumulators.size() != output.size() ||
      accumulators.size() % static_cast<std::size_t>(pattern.channels) != 0) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(": ")
        .append(accumulators.size())
        .append(" accumulators and ")
        .append(output.size())
        .append(" outputs, expected equal multiples of ")
        .append(pattern.channels);
  }
  const SmallOpPath path = small_op_path(active_path());
  const auto period = static_cast<std::size_t>(pattern.period);
  for (std::size_t first = 0; first < accumulators.size(); first += period) {
    const auto count = static_cast<std::int32_t>(
        accumulators.size() - first < period ? accumulators.size() - first : period);
    if (pattern.rounding == RoundingMode::double_rounding) {
      detail::requantize_run<RoundingMode::double_rounding>(path, accumulators.data() + first,
                                                            count, pattern, output.data() + first);
    } else {
      detail::requantize_run<RoundingMode::single_rounding>(path, accumulators.data() + first,
                                                            count, pattern, output.data() + first);
    }
  }
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
