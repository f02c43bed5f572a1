// SPDX-License-Identifier: Apache-2.0
// MaxPool2D int8 on the SIMD paths (cpu.hpp): bit-identical to reference::max_pool2d for every
// window the reference accepts. A maximum does not depend on the order of its operands, so each
// output pixel takes the bytewise maximum of its window's taps inside the image, channels
// innermost (64 per AVX-512 vector, 32 per AVX2 vector, the tails masked or staged through a
// local buffer), then the activation clamp. Views with gaps take the reference's loops.
//
//   params = tsq::prepare_max_pool2d(q);          // the reference prepare
//   simd::max_pool2d(params, input, output);      // no heap, no throw, no scratch
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tsq/core/status.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
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

// One output pixel's window: its first tap, and the steps between taps.
struct PoolWindow {
  const std::int8_t* first = nullptr;
  std::int32_t rows = 0;
  std::int32_t columns = 0;
  std::ptrdiff_t row_step = 0;  // bytes between input rows
  std::int32_t channels = 0;    // bytes between input columns
};

namespace max_pool_scalar {

inline void pixel(const PoolWindow& w, std::int8_t low, std::int8_t high, std::int8_t* output) {
  for (std::int32_t c = 0; c < w.channels; ++c) {
    std::int8_t value = w.first[c];
    for (std::int32_t y = 0; y < w.rows; ++y) {
      const std::int8_t* tap = w.first + y * w.row_step + c;
      for (std::int32_t x = 0; x < w.columns; ++x, tap += w.channels) {
        value = *tap > value ? *tap : value;
      }
    }
    output[c] = value < low ? low : (value > high ? high : value);
  }
}

}  // namespace max_pool_scalar

#if TSQ_SIMD_X86

namespace max_pool_avx512 {

TSQ_TARGET_AVX512_BW inline void pixel(const PoolWindow& w, std::int8_t low, std::int8_t high,
                                       std::int8_t* output) {
  const __m512i lowest = _mm512_set1_epi8(low);
  const __m512i highest = _mm512_set1_epi8(high);
  for (std::int32_t c = 0; c < w.channels; c += 64) {
    const std::int32_t left = w.channels - c;
    const __mmask64 lanes = left >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << left) - 1;
    // Starting from the activation minimum equals starting from the first tap, then clamping.
    __m512i value = lowest;
    for (std::int32_t y = 0; y < w.rows; ++y) {
      const std::int8_t* tap = w.first + y * w.row_step + c;
      for (std::int32_t x = 0; x < w.columns; ++x, tap += w.channels) {
        value = _mm512_max_epi8(value, _mm512_maskz_loadu_epi8(lanes, tap));
      }
    }
    _mm512_mask_storeu_epi8(output + c, lanes, _mm512_min_epi8(value, highest));
  }
}

}  // namespace max_pool_avx512

namespace max_pool_avx2 {

TSQ_TARGET_AVX2_ONLY inline void pixel(const PoolWindow& w, std::int8_t low, std::int8_t high,
                                       std::int8_t* output) {
  const __m256i lowest = _mm256_set1_epi8(low);
  const __m256i highest = _mm256_set1_epi8(high);
  std::int32_t c = 0;
  for (; c + 32 <= w.channels; c += 32) {
    __m256i value = lowest;
    for (std::int32_t y = 0; y < w.rows; ++y) {
      const std::int8_t* tap = w.first + y * w.row_step + c;
      for (std::int32_t x = 0; x < w.columns; ++x, tap += w.channels) {
        value = _mm256_max_epi8(value, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tap)));
      }
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(output + c), _mm256_min_epi8(value, highest));
  }
  if (c == w.channels) return;
  // The tail through a local buffer: AVX2 has no masked byte loads.
  const auto bytes = static_cast<std::size_t>(w.channels - c);
  alignas(32) std::int8_t staged[32] = {};
  __m256i value = lowest;
  for (std::int32_t y = 0; y < w.rows; ++y) {
    const std::int8_t* tap = w.first + y * w.row_step + c;
    for (std::int32_t x = 0; x < w.columns; ++x, tap += w.channels) {
      std::memcpy(staged, tap, bytes);
      value = _mm256_max_epi8(value, _mm256_load_si256(reinterpret_cast<const __m256i*>(staged)));
    }
  }
  _mm256_store_si256(reinterpret_cast<__m256i*>(staged), _mm256_min_epi8(value, highest));
  std::memcpy(output + c, staged, bytes);
}

}  // namespace max_pool_avx2

#endif  // TSQ_SIMD_X86

// Every output pixel of contiguous NHWC views.
template <typename Pixel>
void for_each_pool_window(const Pool2DGeometry& g, const std::int8_t* input, std::int8_t* output,
                          Pixel pixel) {
  PoolWindow w;
  w.channels = g.input.channels;
  w.row_step = static_cast<std::ptrdiff_t>(g.input.width) * g.input.channels;
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        // >= 1 tap: prepare rejects windows that lie entirely in the padding.
        const tsq::detail::Pool2DWindowBounds b = tsq::detail::pool2d_window_bounds(g, oy, ox);
        w.first = input + nhwc_offset(g.input, n, b.y_begin, b.x_begin, 0);
        w.rows = b.y_end - b.y_begin;
        w.columns = b.x_end - b.x_begin;
        pixel(w, output);
        output += g.output.channels;
      }
    }
  }
}

}  // namespace detail

// int8 -> int8 on the active path. Errors: those of reference::max_pool2d (not_prepared,
// unsupported_type, shape_mismatch); views with gaps take the reference's loops.
inline Status max_pool2d(const MaxPool2DParams& params, TensorView<const std::int8_t> input,
                         TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("MaxPool2D", params));
  TSQ_RETURN_IF_ERROR(
      tsq::detail::check_pool2d_views("MaxPool2D", params.geometry, params.type, input, output));
  if (!input.is_contiguous() || !output.is_contiguous()) {
    return reference::max_pool2d(params, input, output);
  }
  // The clamp bounds lie in int8: prepare computed them for an int8 output.
  const auto low = static_cast<std::int8_t>(params.activation.min);
  const auto high = static_cast<std::int8_t>(params.activation.max);
  switch (small_op_path(active_path())) {
#if TSQ_SIMD_X86
    case SmallOpPath::avx512:
      detail::for_each_pool_window(params.geometry, input.data(), output.data(),
                                   [&](const detail::PoolWindow& w, std::int8_t* out) {
                                     detail::max_pool_avx512::pixel(w, low, high, out);
                                   });
      break;
    case SmallOpPath::avx2:
      detail::for_each_pool_window(params.geometry, input.data(), output.data(),
                                   [&](const detail::PoolWindow& w, std::int8_t* out) {
                                     detail::max_pool_avx2::pixel(w, low, high, out);
                                   });
      break;
#endif
    default:
      detail::for_each_pool_window(params.geometry, input.data(), output.data(),
                                   [&](const detail::PoolWindow& w, std::int8_t* out) {
                                     detail::max_pool_scalar::pixel(w, low, high, out);
                                   });
      break;
  }
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
