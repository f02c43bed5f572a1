// SPDX-License-Identifier: Apache-2.0
// AvgPool2D int8 on the SIMD paths (cpu.hpp): bit-identical to reference::avg_pool2d for every
// window the reference accepts. Per output pixel the stored values of its n taps inside the image
// are summed in int32 lanes, channels innermost, then divided as the reference does,
//
//   sum > 0 ? (sum + n/2) / n : (sum - n/2) / n     (C division, truncating)
//          = sign(sum) * floor((|sum| + n/2) / n),
//
// without a division instruction: t = |sum| + n/2 < 2^31 (prepare limits n to 2^23), and with
// l = ceil(log2 n), m = ceil(2^(31 + l) / n) < 2^32, floor(t / n) = (t * m) >> (31 + l) exactly:
// t * m / 2^(31 + l) exceeds t / n by t (m n - 2^(31 + l)) / (n 2^(31 + l)) < 2^-l <= 1 / n,
// too little to reach the next integer (the fraction of t / n is at most (n - 1) / n). The
// 32 x 32 -> 64-bit unsigned multiplies take the even and the odd lanes apart. Views with gaps
// take the reference's loops.
//
//   params = tsq::prepare_avg_pool2d(q);          // the reference prepare
//   simd::avg_pool2d(params, input, output);      // no heap, no throw, no scratch
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/core/status.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/kernels/simd/max_pool2d.hpp"
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

// floor(t / n) = (t * multiplier) >> shift for 0 <= t < 2^31 (see the header comment).
struct TapDivisor {
  std::int32_t count = 0;  // n
  std::uint32_t multiplier = 0;
  std::int32_t shift = 0;
};

inline TapDivisor tap_divisor(std::int32_t count) {
  std::int32_t log2 = 0;  // ceil(log2 n)
  while ((std::int64_t{1} << log2) < count) ++log2;
  const std::uint64_t power = std::uint64_t{1} << (31 + log2);
  const std::uint64_t n = static_cast<std::uint64_t>(count);
  return TapDivisor{count, static_cast<std::uint32_t>((power + n - 1) / n), 31 + log2};
}

namespace avg_pool_scalar {

inline void pixel(const PoolWindow& w, const TapDivisor& d, const ActivationRange& range,
                  std::int8_t* output) {
  for (std::int32_t c = 0; c < w.channels; ++c) {
    std::int32_t sum = 0;
    for (std::int32_t y = 0; y < w.rows; ++y) {
      const std::int8_t* tap = w.first + y * w.row_step + c;
      for (std::int32_t x = 0; x < w.columns; ++x, tap += w.channels) sum += *tap;
    }
    const std::int32_t n = d.count;
    const std::int32_t average = sum > 0 ? (sum + n / 2) / n : (sum - n / 2) / n;
    output[c] = static_cast<std::int8_t>(clamp(average, range.min, range.max));
  }
}

}  // namespace avg_pool_scalar

#if TSQ_SIMD_X86

namespace avg_pool_avx512 {

// The averages of 16 lanes of sums, clamped, as bytes.
TSQ_TARGET_AVX512_BW inline __m128i average(__m512i sums, const TapDivisor& d,
                                            const ActivationRange& range) {
  const __m512i t = _mm512_add_epi32(_mm512_abs_epi32(sums), _mm512_set1_epi32(d.count / 2));
  const __m512i multiplier = _mm512_set1_epi64(static_cast<std::int64_t>(d.multiplier));
  const __m512i shift = _mm512_set1_epi64(d.shift);
  const __m512i even = _mm512_srlv_epi64(_mm512_mul_epu32(t, multiplier), shift);
  const __m512i odd =
      _mm512_srlv_epi64(_mm512_mul_epu32(_mm512_srli_epi64(t, 32), multiplier), shift);
  __m512i q = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  const __mmask16 negative = _mm512_cmplt_epi32_mask(sums, _mm512_setzero_si512());
  q = _mm512_mask_sub_epi32(q, negative, _mm512_setzero_si512(), q);
  q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(range.min)),
                       _mm512_set1_epi32(range.max));
  return _mm512_cvtepi32_epi8(q);
}

TSQ_TARGET_AVX512_BW inline void pixel(const PoolWindow& w, const TapDivisor& d,
                                       const ActivationRange& range, std::int8_t* output) {
  for (std::int32_t c = 0; c < w.channels; c += 16) {
    const std::int32_t left = w.channels - c;
    const __mmask16 lanes = requantize_avx512::first_lanes(left);
    __m512i sums = _mm512_setzero_si512();
    for (std::int32_t y = 0; y < w.rows; ++y) {
      const std::int8_t* tap = w.first + y * w.row_step + c;
      for (std::int32_t x = 0; x < w.columns; ++x, tap += w.channels) {
        sums = _mm512_add_epi32(sums, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lanes, tap)));
      }
    }
    _mm_mask_storeu_epi8(output + c, lanes, average(sums, d, range));
  }
}

}  // namespace avg_pool_avx512

namespace avg_pool_avx2 {

// The averages of 8 lanes of sums, clamped, as 8 bytes.
TSQ_TARGET_AVX2_ONLY inline std::int64_t average(__m256i sums, const TapDivisor& d,
                                                 const ActivationRange& range) {
  const __m256i t = _mm256_add_epi32(_mm256_abs_epi32(sums), _mm256_set1_epi32(d.count / 2));
  const __m256i multiplier = _mm256_set1_epi64x(static_cast<std::int64_t>(d.multiplier));
  const __m256i shift = _mm256_set1_epi64x(d.shift);
  const __m256i even = _mm256_srlv_epi64(_mm256_mul_epu32(t, multiplier), shift);
  const __m256i odd =
      _mm256_srlv_epi64(_mm256_mul_epu32(_mm256_srli_epi64(t, 32), multiplier), shift);
  __m256i q = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  q = _mm256_sign_epi32(q, sums);  // q is 0 where the sum is 0
  q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(range.min)),
                       _mm256_set1_epi32(range.max));
  return requantize_avx2::narrow(q);
}

TSQ_TARGET_AVX2_ONLY inline void pixel(const PoolWindow& w, const TapDivisor& d,
                                       const ActivationRange& range, std::int8_t* output) {
  for (std::int32_t c = 0; c < w.channels; c += 8) {
    const std::int32_t left = w.channels - c;
    __m256i sums = _mm256_setzero_si256();
    for (std::int32_t y = 0; y < w.rows; ++y) {
      const std::int8_t* tap = w.first + y * w.row_step + c;
      for (std::int32_t x = 0; x < w.columns; ++x, tap += w.channels) {
        std::int64_t bytes = 0;  // the tail through a local value: no masked byte loads
        std::memcpy(&bytes, tap, left >= 8 ? 8 : static_cast<std::size_t>(left));
        sums = _mm256_add_epi32(sums, _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(bytes)));
      }
    }
    requantize_avx2::store_bytes(output + c, average(sums, d, range), left);
  }
}

}  // namespace avg_pool_avx2

#endif  // TSQ_SIMD_X86

}  // namespace detail

// int8 -> int8 on the active path. Errors: those of reference::avg_pool2d (not_prepared,
// unsupported_type, shape_mismatch); views with gaps take the reference's loops.
inline Status avg_pool2d(const AvgPool2DParams& params, TensorView<const std::int8_t> input,
                         TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("AvgPool2D", params));
  TSQ_RETURN_IF_ERROR(
      tsq::detail::check_pool2d_views("AvgPool2D", params.geometry, params.type, input, output));
  if (!input.is_contiguous() || !output.is_contiguous()) {
    return reference::avg_pool2d(params, input, output);
  }
  const ActivationRange range = params.activation;
  const SmallOpPath path = small_op_path(active_path());
  detail::TapDivisor divisor;  // recomputed when the tap count changes (at the borders)
  detail::for_each_pool_window(params.geometry, input.data(), output.data(),
                               [&](const detail::PoolWindow& w, std::int8_t* out) {
                                 const std::int32_t count = w.rows * w.columns;
                                 if (count != divisor.count) divisor = detail::tap_divisor(count);
                                 switch (path) {
#if TSQ_SIMD_X86
                                   case SmallOpPath::avx512:
                                     detail::avg_pool_avx512::pixel(w, divisor, range, out);
                                     return;
                                   case SmallOpPath::avx2:
                                     detail::avg_pool_avx2::pixel(w, divisor, range, out);
                                     return;
#endif
                                   default:
                                     detail::avg_pool_scalar::pixel(w, divisor, range, out);
                                     return;
                                 }
                               });
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
