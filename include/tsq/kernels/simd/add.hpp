// SPDX-License-Identifier: Apache-2.0
// Add int8 on the SIMD paths (cpu.hpp): bit-identical to reference::add (spec 3.8) for every
// pair of shapes the reference accepts, in both rounding modes:
//
//   a = MBQM((x1 - Z_1) << 20, M_1);  b = MBQM((x2 - Z_2) << 20, M_2)
//   y = clamp(Z_out + MBQM(a + b, M_out), activation range)
//
// Each MBQM (multiply_by_quantized_multiplier) is the 64-bit form of packed_weights.hpp with the
// layer's constants in every lane; all three multipliers are below one (shift <= 0), so every
// intermediate fits int32 as in the reference. Broadcasting: the output is walked row by row
// along its last axis, an input whose last axis is broadcast entering as one value in every
// lane. Views with gaps take the reference's loops.
//
//   params = tsq::prepare_add(q);                  // the reference prepare
//   simd::add(params, input1, input2, output);     // no heap, no throw, no scratch
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/core/status.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/kernels/simd/requantize.hpp"
#include "tsq/tensor/tensor_view.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tsq {
namespace simd {
namespace detail {

// One multiplier's 64-bit constants (packed_weights.hpp), for every lane.
struct UniformMultiplier {
  std::int64_t multiplier = 0;
  std::int64_t rounding = 0;
  std::int64_t negative = 0;
  std::int64_t correction = 0;
  std::int64_t shift = 0;
};

inline UniformMultiplier uniform_multiplier(QuantizedMultiplier m, RoundingMode rounding) {
  TileRequantization tile{};
  set_requantization_lane(tile, 0, 0, m, rounding);
  return UniformMultiplier{m.multiplier, tile.rounding_even[0], tile.negative_even[0],
                           tile.correction_even[0], tile.shift_even[0]};
}

// What one row of outputs needs.
struct AddRow {
  const std::int8_t* input1 = nullptr;
  const std::int8_t* input2 = nullptr;
  bool broadcast1 = false;  // input1's last axis is broadcast: input1[0] for every output
  bool broadcast2 = false;
  std::int8_t* output = nullptr;
  std::int32_t count = 0;
};

struct AddConstants {
  UniformMultiplier input1;
  UniformMultiplier input2;
  UniformMultiplier output;
};

namespace add_scalar {

template <RoundingMode Mode>
inline void row(const AddParams& params, const AddConstants& /*constants*/, const AddRow& r) {
  for (std::int32_t i = 0; i < r.count; ++i) {
    r.output[i] = static_cast<std::int8_t>(tsq::detail::add_element<Mode>(
        params, r.input1[r.broadcast1 ? 0 : i], r.input2[r.broadcast2 ? 0 : i]));
  }
}

}  // namespace add_scalar

#if TSQ_SIMD_X86

namespace add_avx512 {

struct Multiplier {
  __m512i multiplier, rounding, negative, correction, shift;
};

TSQ_TARGET_AVX512_BW inline Multiplier vectors(const UniformMultiplier& m) {
  return Multiplier{_mm512_set1_epi64(m.multiplier), _mm512_set1_epi64(m.rounding),
                    _mm512_set1_epi64(m.negative), _mm512_set1_epi64(m.correction),
                    _mm512_set1_epi64(m.shift)};
}

template <RoundingMode Mode>
TSQ_TARGET_AVX512_BW inline __m512i round_shift(__m512i products, const Multiplier& m) {
  __m512i value = _mm512_add_epi64(products, m.rounding);
  if constexpr (Mode == RoundingMode::double_rounding) {
    value = _mm512_mask_sub_epi64(value, _mm512_cmplt_epi64_mask(products, m.negative), value,
                                  m.correction);
  }
  return _mm512_srav_epi64(value, m.shift);
}

// multiply_by_quantized_multiplier of 16 int32 lanes by a multiplier below one.
template <RoundingMode Mode>
TSQ_TARGET_AVX512_BW inline __m512i multiply(__m512i x, const Multiplier& m) {
  const __m512i even = round_shift<Mode>(_mm512_mul_epi32(x, m.multiplier), m);
  const __m512i odd =
      round_shift<Mode>(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m.multiplier), m);
  return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

template <RoundingMode Mode>
TSQ_TARGET_AVX512_BW void row(const AddParams& params, const AddConstants& constants,
                              const AddRow& r) {
  const Multiplier m1 = vectors(constants.input1);
  const Multiplier m2 = vectors(constants.input2);
  const Multiplier out = vectors(constants.output);
  const __m512i zero1 = _mm512_set1_epi32(params.input1_zero_point);
  const __m512i zero2 = _mm512_set1_epi32(params.input2_zero_point);
  const __m512i zero_out = _mm512_set1_epi32(params.output_zero_point);
  const __m512i low = _mm512_set1_epi32(params.activation.min - params.output_zero_point);
  const __m512i high = _mm512_set1_epi32(params.activation.max - params.output_zero_point);
  const __m128i left_shift = _mm_cvtsi32_si128(params.left_shift);
  const __m512i splat1 = _mm512_set1_epi32(r.input1[0]);
  const __m512i splat2 = _mm512_set1_epi32(r.input2[0]);
  for (std::int32_t i = 0; i < r.count; i += 16) {
    const __mmask16 lanes = requantize_avx512::first_lanes(r.count - i);
    const __m512i x1 =
        r.broadcast1 ? splat1 : _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lanes, r.input1 + i));
    const __m512i x2 =
        r.broadcast2 ? splat2 : _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lanes, r.input2 + i));
    const __m512i a = multiply<Mode>(_mm512_sll_epi32(_mm512_sub_epi32(x1, zero1), left_shift), m1);
    const __m512i b = multiply<Mode>(_mm512_sll_epi32(_mm512_sub_epi32(x2, zero2), left_shift), m2);
    __m512i y = multiply<Mode>(_mm512_add_epi32(a, b), out);
    y = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(y, low), high), zero_out);
    _mm_mask_storeu_epi8(r.output + i, lanes, _mm512_cvtepi32_epi8(y));
  }
}

}  // namespace add_avx512

namespace add_avx2 {

struct Multiplier {
  __m256i multiplier, rounding, negative, correction, shift;
};

TSQ_TARGET_AVX2_ONLY inline Multiplier vectors(const UniformMultiplier& m) {
  return Multiplier{_mm256_set1_epi64x(m.multiplier), _mm256_set1_epi64x(m.rounding),
                    _mm256_set1_epi64x(m.negative), _mm256_set1_epi64x(m.correction),
                    _mm256_set1_epi64x(m.shift)};
}

// See requantize_avx2::round_shift: the arithmetic shift from a logical one.
template <RoundingMode Mode>
TSQ_TARGET_AVX2_ONLY inline __m256i round_shift(__m256i products, const Multiplier& m) {
  __m256i value = _mm256_add_epi64(products, m.rounding);
  if constexpr (Mode == RoundingMode::double_rounding) {
    const __m256i below = _mm256_cmpgt_epi64(m.negative, products);
    value = _mm256_sub_epi64(value, _mm256_and_si256(below, m.correction));
  }
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), value);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(value, sign), m.shift), sign);
}

template <RoundingMode Mode>
TSQ_TARGET_AVX2_ONLY inline __m256i multiply(__m256i x, const Multiplier& m) {
  const __m256i even = round_shift<Mode>(_mm256_mul_epi32(x, m.multiplier), m);
  const __m256i odd =
      round_shift<Mode>(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m.multiplier), m);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

// 8 bytes (fewer at the end of a row, the rest 0) as int32 lanes.
TSQ_TARGET_AVX2_ONLY inline __m256i load8(const std::int8_t* address, std::int32_t count) {
  std::int64_t bytes = 0;  // no masked byte loads in AVX2
  std::memcpy(&bytes, address, count >= 8 ? 8 : static_cast<std::size_t>(count));
  return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bytes));
}

template <RoundingMode Mode>
TSQ_TARGET_AVX2_ONLY void row(const AddParams& params, const AddConstants& constants,
                              const AddRow& r) {
  const Multiplier m1 = vectors(constants.input1);
  const Multiplier m2 = vectors(constants.input2);
  const Multiplier out = vectors(constants.output);
  const __m256i zero1 = _mm256_set1_epi32(params.input1_zero_point);
  const __m256i zero2 = _mm256_set1_epi32(params.input2_zero_point);
  const __m256i zero_out = _mm256_set1_epi32(params.output_zero_point);
  const __m256i low = _mm256_set1_epi32(params.activation.min - params.output_zero_point);
  const __m256i high = _mm256_set1_epi32(params.activation.max - params.output_zero_point);
  const __m128i left_shift = _mm_cvtsi32_si128(params.left_shift);
  const __m256i splat1 = _mm256_set1_epi32(r.input1[0]);
  const __m256i splat2 = _mm256_set1_epi32(r.input2[0]);
  for (std::int32_t i = 0; i < r.count; i += 8) {
    const std::int32_t left = r.count - i;
    const __m256i x1 = r.broadcast1 ? splat1 : load8(r.input1 + i, left);
    const __m256i x2 = r.broadcast2 ? splat2 : load8(r.input2 + i, left);
    const __m256i a = multiply<Mode>(_mm256_sll_epi32(_mm256_sub_epi32(x1, zero1), left_shift), m1);
    const __m256i b = multiply<Mode>(_mm256_sll_epi32(_mm256_sub_epi32(x2, zero2), left_shift), m2);
    __m256i y = multiply<Mode>(_mm256_add_epi32(a, b), out);
    y = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(y, low), high), zero_out);
    requantize_avx2::store_bytes(r.output + i, requantize_avx2::narrow(y), left);
  }
}

}  // namespace add_avx2

#endif  // TSQ_SIMD_X86

template <RoundingMode Mode>
inline void add_row(SmallOpPath path, const AddParams& params, const AddConstants& constants,
                    const AddRow& r) {
  switch (path) {
#if TSQ_SIMD_X86
    case SmallOpPath::avx512: add_avx512::row<Mode>(params, constants, r); return;
    case SmallOpPath::avx2: add_avx2::row<Mode>(params, constants, r); return;
#endif
    default: add_scalar::row<Mode>(params, constants, r); return;
  }
}

// Every row of the output along its last axis, the inputs read through broadcast strides.
template <RoundingMode Mode>
void add_int8(SmallOpPath path, const AddParams& params,
              const TensorView<const std::int8_t>& input1,
              const TensorView<const std::int8_t>& input2, const TensorView<std::int8_t>& output) {
  const AddConstants constants{uniform_multiplier(params.input1_multiplier, params.rounding),
                               uniform_multiplier(params.input2_multiplier, params.rounding),
                               uniform_multiplier(params.output_multiplier, params.rounding)};
  const Shape& shape = params.output_shape;
  if (shape.element_count() == 0) return;
  AddRow row;
  if (input1.shape() == shape && input2.shape() == shape) {  // one flat run (a residual)
    const std::size_t total = shape.element_count();
    for (std::size_t first = 0; first < total; first += std::size_t{1} << 30) {
      const std::size_t count =
          total - first < (std::size_t{1} << 30) ? total - first : std::size_t{1} << 30;
      row.input1 = input1.data() + first;
      row.input2 = input2.data() + first;
      row.output = output.data() + first;
      row.count = static_cast<std::int32_t>(count);
      add_row<Mode>(path, params, constants, row);
    }
    return;
  }
  const int rank = shape.rank();
  std::ptrdiff_t strides1[kMaxRank] = {};
  std::ptrdiff_t strides2[kMaxRank] = {};
  std::ptrdiff_t output_strides[kMaxRank] = {};
  tsq::detail::broadcast_strides(input1, shape, strides1);
  tsq::detail::broadcast_strides(input2, shape, strides2);
  tsq::detail::broadcast_strides(output, shape, output_strides);
  const int last = rank - 1;
  row.count = shape[last];
  row.broadcast1 = strides1[last] == 0;
  row.broadcast2 = strides2[last] == 0;
  std::int32_t index[kMaxRank] = {};
  std::ptrdiff_t offset1 = 0, offset2 = 0, output_offset = 0;
  for (;;) {
    row.input1 = input1.data() + offset1;
    row.input2 = input2.data() + offset2;
    row.output = output.data() + output_offset;
    add_row<Mode>(path, params, constants, row);
    int axis = last - 1;
    for (; axis >= 0; --axis) {
      offset1 += strides1[axis];
      offset2 += strides2[axis];
      output_offset += output_strides[axis];
      if (++index[axis] < shape[axis]) break;
      offset1 -= strides1[axis] * shape[axis];
      offset2 -= strides2[axis] * shape[axis];
      output_offset -= output_strides[axis] * shape[axis];
      index[axis] = 0;
    }
    if (axis < 0) return;
  }
}

}  // namespace detail

// int8 + int8 -> int8 on the active path. Errors: those of reference::add (not_prepared,
// unsupported_type, shape_mismatch); views with gaps, and rank-0 outputs, take the reference.
inline Status add(const AddParams& params, TensorView<const std::int8_t> input1,
                  TensorView<const std::int8_t> input2, TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_add_views(params, input1, input2, output));
  if (!input1.is_contiguous() || !input2.is_contiguous() || !output.is_contiguous() ||
      params.output_shape.rank() == 0) {
    return reference::add(params, input1, input2, output);
  }
  const SmallOpPath path = small_op_path(active_path());
  if (params.rounding == RoundingMode::double_rounding) {
    detail::add_int8<RoundingMode::double_rounding>(path, params, input1, input2, output);
  } else {
    detail::add_int8<RoundingMode::single_rounding>(path, params, input1, input2, output);
  }
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
