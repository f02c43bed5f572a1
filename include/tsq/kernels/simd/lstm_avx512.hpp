// SPDX-License-Identifier: Apache-2.0
// The elementwise half of the int8 LSTM step on AVX-512 (simd/lstm.hpp): the recurrent
// products' requantization, the gate sums, the sigmoid and tanh table look-ups, the cell update
// and the output, 16 hidden units per vector. Every operation is the reference's integer formula
// (reference/lstm.hpp, lstm_unit; quant/fixed_point_math.hpp) in 32- and 64-bit lanes:
//  - multiply_by_quantized_multiplier with one multiplier for all lanes (the cell and output
//    multipliers) in the 64-bit form of packed_weights.hpp, clamped in 64 bits, so that the
//    int32 and int16 saturations of the reference come out of one clamp;
//  - the sigmoid table held in registers and read by word permutes as (T[i], T[i + 1]) pairs,
//    then the reference's interpolation and rounding.
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/simd/gemm_avx512_vnni.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/quant/fixed_point_math.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tsq {
namespace simd {
namespace detail {
namespace avx512_vnni {

// The sigmoid table in eight registers of 32 words. A look-up of (T[i], T[i + 1]) pairs is then
// four word permutes and three blends (the permutes read 6 index bits, the blends pick the block
// by bits 6 and 7): several times faster than a gather on the CPUs of this path.
struct SigmoidTableVectors {
  __m512i block[8];
};

TSQ_TARGET_AVX512_VNNI inline SigmoidTableVectors sigmoid_table_vectors() {
  SigmoidTableVectors table;
  for (int k = 0; k < 8; ++k) table.block[k] = load(fixed_point::kSigmoidTable + 32 * k);
  return table;
}

// T[i] in the low and T[i + 1] in the high word of each 32-bit lane, for i in [0, 254].
TSQ_TARGET_AVX512_VNNI inline __m512i table_pairs(__m512i index, const SigmoidTableVectors& table) {
  const __m512i words =
      _mm512_or_si512(index, _mm512_slli_epi32(_mm512_add_epi32(index, _mm512_set1_epi32(1)), 16));
  const __m512i b0 = _mm512_permutex2var_epi16(table.block[0], words, table.block[1]);
  const __m512i b1 = _mm512_permutex2var_epi16(table.block[2], words, table.block[3]);
  const __m512i b2 = _mm512_permutex2var_epi16(table.block[4], words, table.block[5]);
  const __m512i b3 = _mm512_permutex2var_epi16(table.block[6], words, table.block[7]);
  const __mmask32 bit6 = _mm512_test_epi16_mask(words, _mm512_set1_epi16(64));
  const __mmask32 bit7 = _mm512_test_epi16_mask(words, _mm512_set1_epi16(128));
  return _mm512_mask_blend_epi16(bit7, _mm512_mask_blend_epi16(bit6, b0, b1),
                                 _mm512_mask_blend_epi16(bit6, b2, b3));
}

// Interpolated table read at |v| >> FractionBits (the rest interpolates), or `saturated` past the
// table's last interval; as fixed_point::detail::*_of_table_input.
template <int FractionBits>
TSQ_TARGET_AVX512_VNNI inline __m512i interpolate(__m512i magnitude, std::int32_t saturated,
                                                  const SigmoidTableVectors& table) {
  const __m512i index = _mm512_srli_epi32(magnitude, FractionBits);
  const __mmask16 inside = _mm512_cmplt_epu32_mask(index, _mm512_set1_epi32(255));
  const __m512i pair = table_pairs(_mm512_min_epu32(index, _mm512_set1_epi32(254)), table);
  const __m512i base = _mm512_and_si512(pair, _mm512_set1_epi32(0xFFFF));
  const __m512i step = _mm512_sub_epi32(_mm512_srli_epi32(pair, 16), base);
  const __m512i fraction = _mm512_and_si512(magnitude, _mm512_set1_epi32((1 << FractionBits) - 1));
  const __m512i value =
      _mm512_add_epi32(_mm512_slli_epi32(base, FractionBits), _mm512_mullo_epi32(fraction, step));
  return _mm512_mask_mov_epi32(_mm512_set1_epi32(saturated), inside, value);
}

// fixed_point::sigmoid_q3_12 of 16 int16 values held in int32 lanes.
TSQ_TARGET_AVX512_VNNI inline __m512i sigmoid_q3_12(__m512i a, const SigmoidTableVectors& table) {
  const __m512i v = _mm512_mullo_epi32(a, _mm512_set1_epi32(3));
  const __m512i value = interpolate<9>(_mm512_abs_epi32(v), 0x7FFF << 10, table);
  const __mmask16 positive = _mm512_cmpge_epi32_mask(v, _mm512_setzero_si512());
  const __m512i result =
      _mm512_mask_blend_epi32(positive, _mm512_sub_epi32(_mm512_set1_epi32((1 << 25) + 511), value),
                              _mm512_add_epi32(value, _mm512_set1_epi32(1 << 9)));
  return _mm512_srli_epi32(result, 10);
}

// fixed_point::tanh_int16(a, input_exponent) of 16 int16 values held in int32 lanes.
TSQ_TARGET_AVX512_VNNI inline __m512i tanh_int16(__m512i a, int input_exponent,
                                                 const SigmoidTableVectors& table) {
  const int shift = 12 + input_exponent;
  __m512i v;
  if (shift >= 0) {
    v = _mm512_mullo_epi32(a, _mm512_set1_epi32(3 << shift));
  } else {
    v = _mm512_add_epi32(_mm512_mullo_epi32(a, _mm512_set1_epi32(3)),
                         _mm512_set1_epi32(1 << (-shift - 1)));
    v = _mm512_sra_epi32(v, _mm_cvtsi32_si128(-shift));
  }
  const __m512i value =
      interpolate<8>(_mm512_abs_epi32(v), static_cast<std::int32_t>(0xFFFFu << 8), table);
  const __mmask16 positive = _mm512_cmpge_epi32_mask(v, _mm512_setzero_si512());
  const __m512i result =
      _mm512_mask_blend_epi32(positive, _mm512_sub_epi32(_mm512_set1_epi32((1 << 23) + 127), value),
                              _mm512_add_epi32(value, _mm512_set1_epi32(-(1 << 23) + (1 << 7))));
  return _mm512_srai_epi32(result, 8);
}

// One multiplier for every lane, in the 64-bit form (packed_weights.hpp).
struct UniformMultiplier {
  __m512i multiplier;
  __m512i rounding;
  __m512i negative;
  __m512i correction;
  __m512i shift;
};

TSQ_TARGET_AVX512_VNNI inline UniformMultiplier uniform_multiplier(QuantizedMultiplier m,
                                                                   RoundingMode rounding) {
  const RequantizationConstants constants = requantization_constants(m, rounding);
  return UniformMultiplier{_mm512_set1_epi64(m.multiplier), _mm512_set1_epi64(constants.rounding),
                           _mm512_set1_epi64(constants.negative),
                           _mm512_set1_epi64(constants.correction),
                           _mm512_set1_epi64(constants.shift)};
}

template <RoundingMode Mode>
TSQ_TARGET_AVX512_VNNI inline __m512i requantize_uniform_half(__m512i products,
                                                              const UniformMultiplier& m,
                                                              __m512i min, __m512i max) {
  __m512i value = _mm512_add_epi64(products, m.rounding);
  if constexpr (Mode == RoundingMode::double_rounding) {
    value = _mm512_mask_sub_epi64(value, _mm512_cmplt_epi64_mask(products, m.negative), value,
                                  m.correction);
  }
  value = _mm512_srav_epi64(value, m.shift);
  return _mm512_min_epi64(_mm512_max_epi64(value, min), max);
}

// clamp(multiply_by_quantized_multiplier(x, m), min, max) per int32 lane, [min, max] inside
// int32 (the clamp of the exact value also gives the reference's int32 saturation).
template <RoundingMode Mode>
TSQ_TARGET_AVX512_VNNI inline __m512i requantize_uniform(__m512i x, const UniformMultiplier& m,
                                                         std::int32_t min, std::int32_t max) {
  const __m512i low = _mm512_set1_epi64(min);
  const __m512i high = _mm512_set1_epi64(max);
  const __m512i even =
      requantize_uniform_half<Mode>(_mm512_mul_epi32(x, m.multiplier), m, low, high);
  const __m512i odd = requantize_uniform_half<Mode>(
      _mm512_mul_epi32(_mm512_srli_epi64(x, 32), m.multiplier), m, low, high);
  return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

TSQ_TARGET_AVX512_VNNI inline __m512i clamp_int16(__m512i x) {
  return _mm512_min_epi32(_mm512_max_epi32(x, _mm512_set1_epi32(-32768)), _mm512_set1_epi32(32767));
}

TSQ_TARGET_AVX512_VNNI inline __mmask16 lane_mask(std::int32_t count) {
  return static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << count) - 1);
}

// The gate pre-activations a = sat16(u + v) of one step, 4H rows, with the recurrent products
// made here (the GEMM's kernel for two rows, without its dispatch, spills and stores: for the
// small hidden sizes of time-series models they cost more than the products). Per tile of 16
// rows, d_low and d_high are the packed weights' dot products with the state's two byte rows
// (lstm.hpp), v = M_h (256 d_high + d_low + bias), saturated to int16 in TFLite's scheme. u + v
// saturates to int32 first (reference: in int64); a wrapped sum means |u + v| >= 2^31, where both
// saturations give the sign of u.
template <RoundingMode Mode, bool Saturate>
TSQ_TARGET_AVX512_VNNI inline void lstm_gate_sums(
    const LstmParams& p, const PackedWeights& recurrent, const std::int32_t* recurrent_bias,
    const std::int32_t* input_products, const std::int8_t* low_row, const std::int8_t* high_row,
    std::int32_t* gates) {
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  const TileRequantization* tiles = recurrent.group_requantization(0);
  const std::int8_t* values = recurrent.group_values(0);
  const std::ptrdiff_t tile_bytes = recurrent.tile_bytes();
  const std::int32_t depth_groups = recurrent.padded_depth / kDepthGroup;
  const __m512i zero = _mm512_setzero_si512();
  for (std::int32_t first = 0, t = 0; first < rows; first += kTileUnits, ++t) {
    const std::int8_t* line = values + t * tile_bytes;
    // Two chains per row (even and odd depth groups) halve the dependency on vpdpbusd latency.
    __m512i low0 = zero, low1 = zero, high0 = zero, high1 = zero;
    std::int32_t k = 0;
    for (; k + 1 < depth_groups; k += 2) {
      const __m512i w0 = load(line + k * kTileLineBytes);
      const __m512i w1 = load(line + (k + 1) * kTileLineBytes);
      low0 = _mm512_dpbusd_epi32(low0, broadcast_depth_group(low_row + k * kDepthGroup), w0);
      high0 = _mm512_dpbusd_epi32(high0, broadcast_depth_group(high_row + k * kDepthGroup), w0);
      low1 = _mm512_dpbusd_epi32(low1, broadcast_depth_group(low_row + (k + 1) * kDepthGroup), w1);
      high1 =
          _mm512_dpbusd_epi32(high1, broadcast_depth_group(high_row + (k + 1) * kDepthGroup), w1);
    }
    if (k < depth_groups) {
      const __m512i w = load(line + k * kTileLineBytes);
      low0 = _mm512_dpbusd_epi32(low0, broadcast_depth_group(low_row + k * kDepthGroup), w);
      high0 = _mm512_dpbusd_epi32(high0, broadcast_depth_group(high_row + k * kDepthGroup), w);
    }
    const __mmask16 lanes = lane_mask(rows - first);
    // 256 d_high + d_low + bias wraps as the reference's int32 accumulator would.
    const __m512i x =
        _mm512_add_epi32(_mm512_add_epi32(_mm512_slli_epi32(_mm512_add_epi32(high0, high1), 8),
                                          _mm512_add_epi32(low0, low1)),
                         _mm512_maskz_loadu_epi32(lanes, recurrent_bias + first));
    __m512i v = requantize_tile<Mode, Saturate>(x, tiles[t]);
    if (p.saturate_gate_products) v = clamp_int16(v);
    const __m512i u = _mm512_maskz_loadu_epi32(lanes, input_products + first);
    const __m512i sum = _mm512_add_epi32(u, v);
    // Overflow: u and v of one sign, the sum of the other.
    const __mmask16 wrapped = _mm512_cmplt_epi32_mask(
        _mm512_and_si512(_mm512_xor_si512(u, sum), _mm512_xor_si512(v, sum)), zero);
    __m512i a = clamp_int16(sum);
    a = _mm512_mask_mov_epi32(
        a, wrapped,
        _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(u, zero), _mm512_set1_epi32(32767),
                                _mm512_set1_epi32(-32768)));
    if (lanes == 0xFFFF) {
      _mm512_storeu_si512(gates + first, a);  // forwarded to lstm_units' loads (see store_lanes)
    } else {
      _mm512_mask_storeu_epi32(gates + first, lanes, a);
    }
  }
}

// lstm.hpp's write_state_rows for an int16 state, 16 values at a time (kInputOffset = 128 here:
// the low byte as it is, the high byte + 128).
TSQ_TARGET_AVX512_VNNI inline void write_state_rows(const std::int16_t* state,
                                                    std::int32_t hidden_size,
                                                    std::int32_t padded_depth, std::int8_t* low,
                                                    std::int8_t* high) {
  static_assert(kInputOffset == 128, "the x86 paths read activations as u = x + 128");
  const __m256i flip = _mm256_set1_epi16(0x80);
  for (std::int32_t k = 0; k < hidden_size; k += 16) {
    const std::int32_t count = hidden_size - k < 16 ? hidden_size - k : 16;
    if (count == 16) {  // whole-vector stores: see store_lanes
      const __m256i values = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state + k));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(low + k), _mm256_cvtepi16_epi8(values));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(high + k),
                       _mm256_cvtepi16_epi8(_mm256_xor_si256(_mm256_srai_epi16(values, 8), flip)));
    } else {
      const auto lanes = static_cast<__mmask16>((1u << count) - 1);
      const __m256i values = _mm256_maskz_loadu_epi16(lanes, state + k);
      _mm_mask_storeu_epi8(low + k, lanes, _mm256_cvtepi16_epi8(values));
      _mm_mask_storeu_epi8(
          high + k, lanes,
          _mm256_cvtepi16_epi8(_mm256_xor_si256(_mm256_srai_epi16(values, 8), flip)));
    }
  }
  for (std::int32_t k = hidden_size; k < padded_depth; ++k) {
    low[k] = 0;
    high[k] = 0;
  }
}

// Whole-vector loads and stores where all 16 lanes are used: a masked store, even with a full
// mask, is not forwarded to the next step's load of the same values (AMD Zen 4), which put a
// store-to-load stall into every step of the recurrence.
template <typename T>
TSQ_TARGET_AVX512_VNNI inline void store_lanes(T* destination, __mmask16 lanes, __m512i values) {
  if constexpr (sizeof(T) == 1) {
    if (lanes == 0xFFFF) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(destination), _mm512_cvtepi32_epi8(values));
    } else {
      _mm512_mask_cvtepi32_storeu_epi8(destination, lanes, values);
    }
  } else {
    if (lanes == 0xFFFF) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(destination), _mm512_cvtepi32_epi16(values));
    } else {
      _mm512_mask_cvtepi32_storeu_epi16(destination, lanes, values);
    }
  }
}

template <typename T>
TSQ_TARGET_AVX512_VNNI inline __m512i load_lanes(const T* source, __mmask16 lanes) {
  if constexpr (sizeof(T) == 1) {
    if (lanes == 0xFFFF) {
      return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(source)));
    }
    return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lanes, source));
  } else {
    if (lanes == 0xFFFF) {
      return _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(source)));
    }
    return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(lanes, source));
  }
}

TSQ_TARGET_AVX512_VNNI inline __m512i load_int32_lanes(const std::int32_t* source,
                                                       __mmask16 lanes) {
  return lanes == 0xFFFF ? load(source) : _mm512_maskz_loadu_epi32(lanes, source);
}

// What every step's elementwise half reads: made once per window.
struct UnitConstants {
  SigmoidTableVectors table;
  UniformMultiplier forget;  // f * c -> c
  UniformMultiplier input;   // i * g -> c
  UniformMultiplier hidden;  // o * tanh(c) -> h
  UniformMultiplier state;   // o * tanh(c) -> s
};

TSQ_TARGET_AVX512_VNNI inline UnitConstants unit_constants(const LstmParams& p) {
  return UnitConstants{sigmoid_table_vectors(),
                       uniform_multiplier(p.forget_cell_multiplier, p.rounding),
                       uniform_multiplier(p.input_cell_multiplier, p.rounding),
                       uniform_multiplier(p.hidden_multiplier, p.rounding),
                       uniform_multiplier(p.state_multiplier, p.rounding)};
}

// reference::detail::lstm_unit for every hidden unit, 16 at a time.
template <RoundingMode Mode, typename Activation, typename State>
TSQ_TARGET_AVX512_VNNI inline void lstm_units(const LstmParams& p, const UnitConstants& constants,
                                              const std::int32_t* gates, State* state,
                                              std::int16_t* cell, Activation* output) {
  const std::int32_t h = p.hidden_size;
  const UniformMultiplier& forget = constants.forget;
  const UniformMultiplier& input = constants.input;
  const UniformMultiplier& hidden = constants.hidden;
  const UniformMultiplier& state_m = constants.state;
  const __m512i hidden_zero_point = _mm512_set1_epi32(p.hidden_zero_point);
  const __m512i state_zero_point = _mm512_set1_epi32(p.state_zero_point);
  const __m512i clip = _mm512_set1_epi32(p.quantized_cell_clip);
  const SigmoidTableVectors& table = constants.table;
  for (std::int32_t j = 0; j < h; j += 16) {
    const __mmask16 lanes = lane_mask(h - j);
    const __m512i input_gate = sigmoid_q3_12(load_int32_lanes(gates + j, lanes), table);
    const __m512i forget_gate = sigmoid_q3_12(load_int32_lanes(gates + h + j, lanes), table);
    const __m512i cell_gate = tanh_int16(load_int32_lanes(gates + 2 * h + j, lanes), -12, table);
    const __m512i output_gate = sigmoid_q3_12(load_int32_lanes(gates + 3 * h + j, lanes), table);
    const __m512i old_cell = load_lanes(cell + j, lanes);
    const __m512i kept =
        requantize_uniform<Mode>(_mm512_mullo_epi32(forget_gate, old_cell), forget, -32768, 32767);
    const __m512i added =
        requantize_uniform<Mode>(_mm512_mullo_epi32(input_gate, cell_gate), input, -32768, 32767);
    __m512i new_cell = clamp_int16(_mm512_add_epi32(kept, added));
    if (p.clip_cell) {
      new_cell = _mm512_min_epi32(
          _mm512_max_epi32(new_cell, _mm512_sub_epi32(_mm512_setzero_si512(), clip)), clip);
    }
    store_lanes(cell + j, lanes, new_cell);
    const __m512i product =
        _mm512_mullo_epi32(output_gate, tanh_int16(new_cell, p.cell_exponent, table));
    // clamp(Z + y, min, max) = Z + clamp(y, min - Z, max - Z): no int32 sum can wrap.
    const __m512i out = _mm512_add_epi32(
        requantize_uniform<Mode>(product, hidden, p.hidden_min - p.hidden_zero_point,
                                 p.hidden_max - p.hidden_zero_point),
        hidden_zero_point);
    store_lanes(output + j, lanes, out);
    if (p.separate_state) {
      const __m512i s = _mm512_add_epi32(
          requantize_uniform<Mode>(product, state_m, p.state_min - p.state_zero_point,
                                   p.state_max - p.state_zero_point),
          state_zero_point);
      store_lanes(state + j, lanes, s);
    } else {
      store_lanes(state + j, lanes, out);
    }
  }
}

// The recurrence of one batch row over `steps` steps (time reversed with `reverse`): the step
// output t goes to output + t * output_step (output_step 0: the last step's only). The input
// products u of step t are at input_products + t * 4H. The state's byte rows `low` and `high`
// hold padded_depth bytes each; `gates` 4H values.
template <RoundingMode Mode, bool Saturate, typename State>
TSQ_TARGET_AVX512_VNNI void lstm_steps(const LstmParams& p, const PackedWeights& recurrent,
                                       const std::int32_t* recurrent_bias,
                                       const std::int32_t* input_products, std::int32_t steps,
                                       bool reverse, std::int8_t* output,
                                       std::ptrdiff_t output_step, State* state, std::int16_t* cell,
                                       std::int8_t* low, std::int8_t* high, std::int32_t* gates) {
  const UnitConstants constants = unit_constants(p);
  const std::int32_t gate_rows = kLstmGateCount * p.hidden_size;
  for (std::int32_t s = 0; s < steps; ++s) {
    const std::int32_t t = reverse ? steps - 1 - s : s;
    if constexpr (sizeof(State) == 2) {
      write_state_rows(state, p.hidden_size, recurrent.padded_depth, low, high);
    } else {
      for (std::int32_t k = 0; k < p.hidden_size; ++k) {
        const std::int32_t value = state[k];
        low[k] = static_cast<std::int8_t>(value);
        high[k] = static_cast<std::int8_t>(static_cast<std::uint8_t>((value >> 8) + 128));
      }
      for (std::int32_t k = p.hidden_size; k < recurrent.padded_depth; ++k) {
        low[k] = 0;
        high[k] = 0;
      }
    }
    lstm_gate_sums<Mode, Saturate>(p, recurrent, recurrent_bias,
                                   input_products + static_cast<std::ptrdiff_t>(t) * gate_rows, low,
                                   high, gates);
    lstm_units<Mode>(p, constants, gates, state, cell, output + t * output_step);
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
