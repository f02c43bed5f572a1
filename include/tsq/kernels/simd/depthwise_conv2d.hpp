// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv2D int8 on the SIMD paths (cpu.hpp): bit-identical to
// reference::depthwise_conv2d for every geometry the reference accepts (strides, dilations,
// VALID / SAME padding, depth multipliers, batches) and every quantization, in both rounding
// modes.
//
// Input rows are first widened into scratch: each input row y the windows read becomes a padded
// row of (x - Z_in) as int32, one value per OUTPUT channel (input channel c / m repeated m times),
// with zeros where a window reaches into the padding. A zero adds nothing, as the reference's
// skipped taps, so every output pixel then reads the same taps. The rows live in a ring of
// (KH - 1) * d_h + 1 slots, each input row widened once.
//
// With stride 1 along the width, the outputs of consecutive pixels are consecutive elements of
// that row: a run of outputs is one flat vector loop, whatever C is (the ECG model's first layer,
// C = 5, fills all 16 lanes). A column layer ([N, H, 1, C], K x 1: the 1-D layers of the model
// API) runs as the row it is in memory. Its weights and requantization constants are repeated along
// the period of requantize.hpp at pack time, so a vector reads them with plain loads. Other strides
// take one pixel (C elements) at a time.
//
// Products: a widened value and a weight (packed as int32 with the int8 weight in the low 16 bits
// and 0 above) meet in vpmaddwd, whose low-half product (x - Z_in) * w, |.| <= 255 * 128, is
// exact, and whose high-half product is 0. Sums are int32, exact within kMaxAccumulationDepth.
// Requantization: requantize.hpp.
//
//   params  = tsq::prepare_depthwise_conv2d(q, multiplier_storage);    // the reference prepare
//   simd    = simd::prepare_depthwise_conv2d(params);
//   packed  = simd::pack_depthwise_conv2d(params, filter, bias, weights, tiles);  // once
//   scratch : simd::depthwise_conv2d_scratch_size(simd) bytes
//   simd::depthwise_conv2d(simd, input, packed, output, scratch);      // no heap, no throw
#pragma once

#include "tsq/kernels/simd/cpu.hpp"

#if TSQ_SIMD_X86
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
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

// Integers only: what eval reads besides the packed filter.
struct SimdDepthwiseConv2DParams {
  Conv2DGeometry geometry;
  std::int32_t depth_multiplier = 1;
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  ActivationRange activation;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by simd::prepare_depthwise_conv2d

  std::int32_t taps() const { return geometry.filter_height * geometry.filter_width; }
  // Ring slots: the rows one window spans.
  std::int32_t ring_rows() const {
    return (geometry.filter_height - 1) * geometry.dilation_height + 1;
  }
  // Widened pixels per row: the padded columns the windows read.
  std::int64_t padded_width() const {
    const Conv2DGeometry& g = geometry;
    return static_cast<std::int64_t>(g.output.width - 1) * g.stride_width +
           static_cast<std::int64_t>(g.filter_width - 1) * g.dilation_width + 1;
  }
};

namespace detail {

// The geometry the kernels run: a column layer ([N, H, 1, C] with a KH x 1 filter, the model
// API's 1-D layers) is the same memory as a row ([N, 1, H, C], 1 x KH), whose outputs form one
// flat run; others as they are.
inline Conv2DGeometry depthwise_run_geometry(const Conv2DGeometry& g) {
  if (g.input.width != 1 || g.output.width != 1 || g.filter_width != 1 || g.input.height == 1) {
    return g;
  }
  Conv2DGeometry row = g;
  std::swap(row.input.height, row.input.width);
  std::swap(row.output.height, row.output.width);
  std::swap(row.filter_height, row.filter_width);
  std::swap(row.stride_height, row.stride_width);
  std::swap(row.dilation_height, row.dilation_width);
  std::swap(row.pad_top, row.pad_left);
  return row;
}

}  // namespace detail

// A depthwise filter [1, KH, KW, C] packed for eval: per tap, the weights of one requantization
// period (int8 in the low 16 bits of int32 lanes), and the requantization pattern.
struct PackedDepthwiseFilter {
  std::int32_t channels = 0;
  std::int32_t taps = 0;
  std::int32_t tap_stride = 0;  // int32 values per tap: pattern tiles * kTileUnits
  Span<const std::int32_t> weights;
  RequantizationPattern requantization;
  PreparedMark prepared;  // set by simd::pack_depthwise_conv2d
};

struct PackedDepthwiseSize {
  std::size_t weights = 0;  // int32 values
  std::size_t tiles = 0;    // TileRequantization records
};

namespace detail {

constexpr const char* kDepthwiseOp = "simd DepthwiseConv2D";

inline Status check_reference_depthwise(const DepthwiseConv2DParams& params) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(kDepthwiseOp, params));
  const Conv2DGeometry& g = params.geometry;
  if (params.depth_multiplier < 1 ||
      g.output.channels != static_cast<std::int64_t>(g.input.channels) * params.depth_multiplier ||
      (params.multipliers.size() != 1 &&
       params.multipliers.size() != static_cast<std::size_t>(g.output.channels))) {
    return Status::error(ErrorCode::invalid_argument,
                         "simd DepthwiseConv2D params are inconsistent: channels, depth "
                         "multiplier and multipliers");
  }
  if (params.activation.min < -128 || params.activation.max > 127 ||
      params.activation.min > params.activation.max) {
    return Status::error(ErrorCode::invalid_argument, kDepthwiseOp)
        .append(" needs an activation range inside int8");
  }
  return Status::ok();
}

}  // namespace detail

// The eval params of a layer prepared by tsq::prepare_depthwise_conv2d.
inline Result<SimdDepthwiseConv2DParams> prepare_depthwise_conv2d(
    const DepthwiseConv2DParams& params) {
  TSQ_RETURN_IF_ERROR(detail::check_reference_depthwise(params));
  SimdDepthwiseConv2DParams simd_params;
  simd_params.geometry = params.geometry;
  simd_params.depth_multiplier = params.depth_multiplier;
  simd_params.input_zero_point = params.input_zero_point;
  simd_params.output_zero_point = params.output_zero_point;
  simd_params.activation = params.activation;
  simd_params.rounding = params.rounding;
  tsq::detail::mark_prepared(simd_params);
  return simd_params;
}

inline PackedDepthwiseSize depthwise_conv2d_packed_size(const SimdDepthwiseConv2DParams& params) {
  const std::size_t tiles = requantization_pattern_tiles(params.geometry.output.channels);
  return PackedDepthwiseSize{
      static_cast<std::size_t>(params.taps()) * tiles * static_cast<std::size_t>(kTileUnits),
      tiles};
}

// Packs filter [1, KH, KW, C] and bias (empty: none) of the prepared layer into the caller's
// storage, which the result points into.
inline Result<PackedDepthwiseFilter> pack_depthwise_conv2d(const DepthwiseConv2DParams& params,
                                                           TensorView<const std::int8_t> filter,
                                                           Span<const std::int32_t> bias,
                                                           Span<std::int32_t> weight_storage,
                                                           Span<TileRequantization> tile_storage) {
  const char* op = detail::kDepthwiseOp;
  TSQ_RETURN_IF_ERROR(detail::check_reference_depthwise(params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, filter));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, weight_storage));
  const Conv2DGeometry& g = params.geometry;
  const Shape expected{1, g.filter_height, g.filter_width, g.output.channels};
  if (filter.shape() != expected) {
    return tsq::detail::view_shape_error(op, "filter", filter.shape(), expected);
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, filter));
  const std::int32_t channels = g.output.channels;
  const std::int32_t taps = g.filter_height * g.filter_width;
  const std::size_t tiles = requantization_pattern_tiles(channels);
  const std::size_t tap_stride = tiles * static_cast<std::size_t>(kTileUnits);
  if (weight_storage.size() < static_cast<std::size_t>(taps) * tap_stride) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" packed storage holds ")
        .append(weight_storage.size())
        .append(" weights, needs ")
        .append(static_cast<std::size_t>(taps) * tap_stride);
  }
  const Result<RequantizationPattern> pattern =
      make_requantization_pattern(op, channels, bias, params.multipliers, params.output_zero_point,
                                  params.activation, params.rounding, tile_storage);
  if (!pattern.is_ok()) return pattern.status();
  const std::int32_t period = pattern->period;
  for (std::int32_t t = 0; t < taps; ++t) {
    const std::int8_t* row = filter.data() + static_cast<std::ptrdiff_t>(t) * channels;
    std::int32_t* packed = weight_storage.data() + static_cast<std::ptrdiff_t>(t) * tap_stride;
    for (std::size_t i = 0; i < tap_stride; ++i) {
      const auto element = static_cast<std::int32_t>(i);
      packed[i] =
          element < period
              ? static_cast<std::int32_t>(static_cast<std::uint16_t>(row[element % channels]))
              : 0;
    }
  }
  PackedDepthwiseFilter result;
  result.channels = channels;
  result.taps = taps;
  result.tap_stride = static_cast<std::int32_t>(tap_stride);
  result.weights =
      Span<const std::int32_t>(weight_storage.data(), static_cast<std::size_t>(taps) * tap_stride);
  result.requantization = pattern.value();
  tsq::detail::mark_prepared(result);
  return result;
}

namespace detail {

constexpr std::size_t kDepthwiseAlignment = 64;

// Scratch: the tap rows' offsets (one per filter row), then the ring of widened rows.
inline std::size_t depthwise_ring_bytes(const SimdDepthwiseConv2DParams& params) {
  return static_cast<std::size_t>(params.ring_rows()) *
         static_cast<std::size_t>(params.padded_width()) *
         static_cast<std::size_t>(params.geometry.output.channels) * sizeof(std::int32_t);
}
inline std::size_t depthwise_offsets_bytes(const SimdDepthwiseConv2DParams& params) {
  const std::size_t bytes =
      static_cast<std::size_t>(params.geometry.filter_height) * sizeof(std::ptrdiff_t);
  return (bytes + kDepthwiseAlignment - 1) / kDepthwiseAlignment * kDepthwiseAlignment;
}

}  // namespace detail

// Scratch bytes that eval needs (any alignment).
inline std::size_t depthwise_conv2d_scratch_size(const SimdDepthwiseConv2DParams& params) {
  SimdDepthwiseConv2DParams run = params;
  run.geometry = detail::depthwise_run_geometry(params.geometry);
  return detail::kDepthwiseAlignment - 1 + detail::depthwise_offsets_bytes(run) +
         detail::depthwise_ring_bytes(run);
}

namespace detail {

// One output row's taps: the filter rows inside the image, as offsets of widened rows in the
// ring, and their weights.
struct DepthwiseRow {
  const std::int32_t* ring = nullptr;
  const std::ptrdiff_t* row_offsets = nullptr;  // one per filter row inside the image
  std::int32_t rows = 0;
  const std::int32_t* weights = nullptr;  // the first such filter row's first tap
  std::int32_t filter_width = 0;
  std::ptrdiff_t tap_step = 0;    // values between the taps of one filter row: d_w * C
  std::ptrdiff_t tap_stride = 0;  // packed weights per tap
};

namespace depthwise_scalar {

// `count` outputs from widened value `source` of each tap row (a run of the period's elements).
template <RoundingMode Mode>
inline void run(const DepthwiseRow& r, const RequantizationPattern& pattern, std::ptrdiff_t source,
                std::int32_t count, std::int8_t* output) {
  for (std::int32_t i = 0; i < count; ++i) {
    std::int32_t accumulator = 0;
    const std::int32_t* w = r.weights + i;
    for (std::int32_t k = 0; k < r.rows; ++k) {
      const std::int32_t* x = r.ring + r.row_offsets[k] + source + i;
      for (std::int32_t fx = 0; fx < r.filter_width; ++fx) {
        accumulator += static_cast<std::int16_t>(static_cast<std::uint16_t>(*w)) * *x;
        x += r.tap_step;
        w += r.tap_stride;
      }
    }
    output[i] = requantize_scalar::requantize<Mode>(
        accumulator, pattern.lanes[static_cast<std::size_t>(i / kTileUnits)], i % kTileUnits,
        pattern);
  }
}

}  // namespace depthwise_scalar

#if TSQ_SIMD_X86

namespace depthwise_avx512 {

// x - Z_in of `count` int8 values as int32.
TSQ_TARGET_AVX512_BW inline void widen(const std::int8_t* input, std::ptrdiff_t count,
                                       std::int32_t zero_point, std::int32_t* output) {
  const __m512i zero = _mm512_set1_epi32(zero_point);
  std::ptrdiff_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(input + i));
    _mm512_storeu_si512(output + i, _mm512_sub_epi32(_mm512_cvtepi8_epi32(bytes), zero));
  }
  if (i < count) {
    const __mmask16 lanes = requantize_avx512::first_lanes(static_cast<std::int32_t>(count - i));
    const __m128i bytes = _mm_maskz_loadu_epi8(lanes, input + i);
    _mm512_mask_storeu_epi32(output + i, lanes,
                             _mm512_sub_epi32(_mm512_cvtepi8_epi32(bytes), zero));
  }
}

template <RoundingMode Mode>
TSQ_TARGET_AVX512_BW void run(const DepthwiseRow& r, const RequantizationPattern& pattern,
                              std::ptrdiff_t source, std::int32_t count, std::int8_t* output) {
  const requantize_avx512::Stage stage = requantize_avx512::stage(pattern);
  for (std::int32_t i = 0; i < count; i += kTileUnits) {
    const bool full = count - i >= kTileUnits;
    const __mmask16 lanes = requantize_avx512::first_lanes(count - i);
    __m512i accumulators = _mm512_setzero_si512();
    const std::int32_t* w = r.weights + i;
    for (std::int32_t k = 0; k < r.rows; ++k) {
      const std::int32_t* x = r.ring + r.row_offsets[k] + source + i;
      for (std::int32_t fx = 0; fx < r.filter_width; ++fx) {
        // The tail reads only its lanes: the row may end there.
        const __m512i values = full ? _mm512_loadu_si512(x) : _mm512_maskz_loadu_epi32(lanes, x);
        accumulators =
            _mm512_add_epi32(accumulators, _mm512_madd_epi16(values, _mm512_loadu_si512(w)));
        x += r.tap_step;
        w += r.tap_stride;
      }
    }
    const __m128i bytes = requantize_avx512::requantize<Mode>(
        accumulators, pattern.lanes[static_cast<std::size_t>(i / kTileUnits)], stage);
    _mm_mask_storeu_epi8(output + i, lanes, bytes);
  }
}

}  // namespace depthwise_avx512

namespace depthwise_avx2 {

TSQ_TARGET_AVX2_ONLY inline std::ptrdiff_t widen(const std::int8_t* input, std::ptrdiff_t count,
                                                 std::int32_t zero_point, std::int32_t* output) {
  const __m256i zero = _mm256_set1_epi32(zero_point);
  std::ptrdiff_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(input + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(output + i),
                        _mm256_sub_epi32(_mm256_cvtepi8_epi32(bytes), zero));
  }
  return i;  // the rest in scalar code
}

template <RoundingMode Mode>
TSQ_TARGET_AVX2_ONLY void run(const DepthwiseRow& r, const RequantizationPattern& pattern,
                              std::ptrdiff_t source, std::int32_t count, std::int8_t* output) {
  const requantize_avx2::Stage stage = requantize_avx2::stage(pattern);
  for (std::int32_t i = 0; i < count; i += 8) {
    const bool full = count - i >= 8;
    const __m256i lanes = requantize_avx2::first_lanes(count - i);
    __m256i accumulators = _mm256_setzero_si256();
    const std::int32_t* w = r.weights + i;
    for (std::int32_t k = 0; k < r.rows; ++k) {
      const std::int32_t* x = r.ring + r.row_offsets[k] + source + i;
      for (std::int32_t fx = 0; fx < r.filter_width; ++fx) {
        const __m256i values = full ? requantize_avx2::load(x) : _mm256_maskload_epi32(x, lanes);
        accumulators =
            _mm256_add_epi32(accumulators, _mm256_madd_epi16(values, requantize_avx2::load(w)));
        x += r.tap_step;
        w += r.tap_stride;
      }
    }
    const __m256i values = requantize_avx2::requantize<Mode>(
        accumulators, pattern.lanes[static_cast<std::size_t>(i / kTileUnits)], (i / 8) % 2, stage);
    requantize_avx2::store_bytes(output + i, requantize_avx2::narrow(values), count - i);
  }
}

}  // namespace depthwise_avx2

#endif  // TSQ_SIMD_X86

// Widens input row (n, y) into `destination`: Wp * C values x - Z_in (input channel c / m for
// output channel c), zeros in the padding.
inline void widen_row(SmallOpPath path, const SimdDepthwiseConv2DParams& params,
                      const std::int8_t* input_row, std::int32_t* destination) {
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t channels = g.output.channels;
  const std::int64_t padded = params.padded_width();
  std::int64_t inside = padded - g.pad_left;
  if (inside > g.input.width) inside = g.input.width;
  if (inside < 0) inside = 0;
  std::int64_t before = g.pad_left < padded ? g.pad_left : padded;
  const std::ptrdiff_t head = static_cast<std::ptrdiff_t>(before) * channels;
  const std::ptrdiff_t values = static_cast<std::ptrdiff_t>(inside) * channels;
  const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(padded) * channels;
  std::memset(destination, 0, static_cast<std::size_t>(head) * sizeof(std::int32_t));
  std::int32_t* out = destination + head;
  const std::int32_t zero_point = params.input_zero_point;
  if (params.depth_multiplier == 1) {
    std::ptrdiff_t i = 0;
#if TSQ_SIMD_X86
    if (path == SmallOpPath::avx512) {
      depthwise_avx512::widen(input_row, values, zero_point, out);
      i = values;
    } else if (path == SmallOpPath::avx2) {
      i = depthwise_avx2::widen(input_row, values, zero_point, out);
    }
#else
    (void)path;
#endif
    for (; i < values; ++i) out[i] = input_row[i] - zero_point;
  } else {
    const std::int32_t multiplier = params.depth_multiplier;
    const std::ptrdiff_t inputs = static_cast<std::ptrdiff_t>(inside) * g.input.channels;
    for (std::ptrdiff_t x = 0; x < inputs; ++x) {
      const std::int32_t value = input_row[x] - zero_point;
      for (std::int32_t j = 0; j < multiplier; ++j) *out++ = value;
    }
  }
  std::memset(destination + head + values, 0,
              static_cast<std::size_t>(total - head - values) * sizeof(std::int32_t));
}

template <RoundingMode Mode>
inline void run_depthwise(SmallOpPath path, const DepthwiseRow& row,
                          const RequantizationPattern& pattern, std::ptrdiff_t source,
                          std::int32_t count, std::int8_t* output) {
  switch (path) {
#if TSQ_SIMD_X86
    case SmallOpPath::avx512:
      depthwise_avx512::run<Mode>(row, pattern, source, count, output);
      return;
    case SmallOpPath::avx2: depthwise_avx2::run<Mode>(row, pattern, source, count, output); return;
#endif
    default: depthwise_scalar::run<Mode>(row, pattern, source, count, output); return;
  }
}

// The filter rows fy in [begin, end) whose input row y0 + d * fy lies inside [0, size).
inline std::pair<std::int32_t, std::int32_t> rows_inside(std::int32_t origin, std::int32_t dilation,
                                                         std::int32_t kernel, std::int32_t size) {
  std::int32_t begin = 0;
  std::int32_t end = kernel;
  while (begin < end && origin + dilation * begin < 0) ++begin;
  while (end > begin && origin + dilation * (end - 1) >= size) --end;
  return {begin, end};
}

template <RoundingMode Mode>
void depthwise_conv2d_int8(SmallOpPath path, const SimdDepthwiseConv2DParams& params,
                           const std::int8_t* input, const PackedDepthwiseFilter& filter,
                           std::int8_t* output, std::ptrdiff_t* row_offsets, std::int32_t* ring) {
  const Conv2DGeometry& g = params.geometry;
  const std::int32_t channels = g.output.channels;
  const std::int32_t ring_rows = params.ring_rows();
  const std::ptrdiff_t row_values = static_cast<std::ptrdiff_t>(params.padded_width()) * channels;
  const RequantizationPattern& pattern = filter.requantization;
  // Stride 1: a period's worth of pixels is one flat run; otherwise one pixel at a time.
  const std::int32_t run_pixels = g.stride_width == 1 ? pattern.period / channels : 1;
  DepthwiseRow row;
  row.ring = ring;
  row.row_offsets = row_offsets;
  row.filter_width = g.filter_width;
  row.tap_step = static_cast<std::ptrdiff_t>(g.dilation_width) * channels;
  row.tap_stride = filter.tap_stride;
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    std::int32_t next_row = 0;  // the next input row to widen
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      const std::int32_t y0 = oy * g.stride_height - g.pad_top;
      const auto inside = rows_inside(y0, g.dilation_height, g.filter_height, g.input.height);
      row.rows = inside.second - inside.first;
      if (row.rows > 0) {
        // The window's rows inside the image (monotone in oy, unlike its first tap's row); rows
        // below it were needed by no window (a stride larger than the window).
        const std::int32_t lowest = y0 + g.dilation_height * inside.first;
        const std::int32_t highest = y0 + g.dilation_height * (inside.second - 1);
        if (next_row < y0) next_row = y0;
        for (; next_row <= highest; ++next_row) {
          widen_row(path, params, input + nhwc_offset(g.input, n, next_row, 0, 0),
                    ring + static_cast<std::ptrdiff_t>(next_row % ring_rows) * row_values);
        }
        for (std::int32_t k = 0; k < row.rows; ++k) {
          row_offsets[k] =
              static_cast<std::ptrdiff_t>((lowest + g.dilation_height * k) % ring_rows) *
              row_values;
        }
      }
      row.weights = filter.weights.data() +
                    static_cast<std::ptrdiff_t>(inside.first) * g.filter_width * filter.tap_stride;
      std::int8_t* out = output + nhwc_offset(g.output, n, oy, 0, 0);
      for (std::int32_t ox = 0; ox < g.output.width; ox += run_pixels) {
        const std::int32_t pixels =
            g.output.width - ox < run_pixels ? g.output.width - ox : run_pixels;
        run_depthwise<Mode>(path, row, pattern,
                            static_cast<std::ptrdiff_t>(ox) * g.stride_width * channels,
                            pixels * channels, out + static_cast<std::ptrdiff_t>(ox) * channels);
      }
    }
  }
}

}  // namespace detail

// int8 -> int8 on the active path: input [N, H, W, C_in] and output [N, OH, OW, C_in * m] of the
// prepared shapes, contiguous. Errors: not_prepared, shape_mismatch, invalid_argument (packed
// filter of another layer, views with gaps), buffer_too_small (scratch).
inline Status depthwise_conv2d(const SimdDepthwiseConv2DParams& params,
                               TensorView<const std::int8_t> input,
                               const PackedDepthwiseFilter& filter, TensorView<std::int8_t> output,
                               Span<std::int8_t> scratch) {
  const char* op = detail::kDepthwiseOp;
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared(op, params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(op, input, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(op, scratch));
  const Conv2DGeometry& g = params.geometry;
  if (input.shape() != nhwc_shape(g.input)) {
    return tsq::detail::view_shape_error(op, "input", input.shape(), nhwc_shape(g.input));
  }
  if (output.shape() != nhwc_shape(g.output)) {
    return tsq::detail::view_shape_error(op, "output", output.shape(), nhwc_shape(g.output));
  }
  TSQ_RETURN_IF_ERROR(tsq::detail::check_contiguous(op, input, output));
  if (!filter.prepared.is_set()) {
    return Status::error(ErrorCode::not_prepared, op)
        .append(" packed filter was not produced by its pack function");
  }
  const RequantizationPattern& pattern = filter.requantization;
  const std::size_t tiles = requantization_pattern_tiles(g.output.channels);
  if (filter.channels != g.output.channels || filter.taps != params.taps() ||
      filter.tap_stride != static_cast<std::int32_t>(tiles) * kTileUnits ||
      filter.weights.size() <
          static_cast<std::size_t>(filter.taps) * static_cast<std::size_t>(filter.tap_stride) ||
      pattern.lanes.size() < tiles || pattern.period != requantization_period(filter.channels)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(" packed filter does not match the layer's shape");
  }
  if (pattern.rounding != params.rounding || pattern.zero_point != params.output_zero_point ||
      pattern.min != params.activation.min || pattern.max != params.activation.max) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" packed filter was made for another output quantization or rounding mode");
  }
  const std::size_t needed = depthwise_conv2d_scratch_size(params);
  if (scratch.size() < needed) {
    return Status::error(ErrorCode::buffer_too_small, op)
        .append(" scratch holds ")
        .append(scratch.size())
        .append(" bytes, needs ")
        .append(needed);
  }
  const auto address = reinterpret_cast<std::uintptr_t>(scratch.data());
  std::int8_t* aligned =
      scratch.data() + (detail::kDepthwiseAlignment - address % detail::kDepthwiseAlignment) %
                           detail::kDepthwiseAlignment;
  SimdDepthwiseConv2DParams run = params;
  run.geometry = detail::depthwise_run_geometry(g);
  auto* row_offsets = reinterpret_cast<std::ptrdiff_t*>(aligned);
  auto* ring = reinterpret_cast<std::int32_t*>(aligned + detail::depthwise_offsets_bytes(run));
  const SmallOpPath path = small_op_path(active_path());
  if (params.rounding == RoundingMode::double_rounding) {
    detail::depthwise_conv2d_int8<RoundingMode::double_rounding>(path, run, input.data(), filter,
                                                                 output.data(), row_offsets, ring);
  } else {
    detail::depthwise_conv2d_int8<RoundingMode::single_rounding>(path, run, input.data(), filter,
                                                                 output.data(), row_offsets, ring);
  }
  return Status::ok();
}

// A DepthwiseConv2D int8 layer ready for simd::depthwise_conv2d, its packed filter in storage of
// its own (host only: packing allocates; run does not). Copies repoint the view at their own
// storage.
class PreparedDepthwiseConv2D {
 public:
  // Runs tsq::prepare_depthwise_conv2d (same errors) and packs `filter` [1, KH, KW, C_in * m]
  // and `bias` (empty: none).
  static Result<PreparedDepthwiseConv2D> create(const DepthwiseConv2DQuantization& q,
                                                TensorView<const std::int8_t> filter,
                                                Span<const std::int32_t> bias) {
    std::vector<QuantizedMultiplier> multipliers(q.filter_scales.size());
    const Result<DepthwiseConv2DParams> params = tsq::prepare_depthwise_conv2d(q, multipliers);
    if (!params.is_ok()) return params.status();
    return from_reference(*params, filter, bias);
  }
  // From the reference's prepared params (which need not outlive the result).
  static Result<PreparedDepthwiseConv2D> from_reference(const DepthwiseConv2DParams& params,
                                                        TensorView<const std::int8_t> filter,
                                                        Span<const std::int32_t> bias) {
    PreparedDepthwiseConv2D layer;
    const Result<SimdDepthwiseConv2DParams> simd_params = prepare_depthwise_conv2d(params);
    if (!simd_params.is_ok()) return simd_params.status();
    layer.params_ = *simd_params;
    const PackedDepthwiseSize size = depthwise_conv2d_packed_size(layer.params_);
    layer.weights_.assign(size.weights, 0);
    layer.tiles_.assign(size.tiles, TileRequantization{});
    const Result<PackedDepthwiseFilter> packed =
        pack_depthwise_conv2d(params, filter, bias, Span<std::int32_t>(layer.weights_),
                              Span<TileRequantization>(layer.tiles_));
    if (!packed.is_ok()) return packed.status();
    layer.packed_ = *packed;
    return layer;
  }

  PreparedDepthwiseConv2D() = default;
  PreparedDepthwiseConv2D(const PreparedDepthwiseConv2D& other)
      : params_(other.params_),
        weights_(other.weights_),
        tiles_(other.tiles_),
        packed_(other.packed_) {
    repoint();
  }
  PreparedDepthwiseConv2D& operator=(const PreparedDepthwiseConv2D& other) {
    if (this != &other) {
      params_ = other.params_;
      weights_ = other.weights_;
      tiles_ = other.tiles_;
      packed_ = other.packed_;
      repoint();
    }
    return *this;
  }
  // Moved vectors keep their buffers, so the view stays valid; the source is left empty (its
  // run() then refuses the unpacked filter instead of reading the target's storage).
  PreparedDepthwiseConv2D(PreparedDepthwiseConv2D&& other) noexcept
      : params_(other.params_),
        weights_(std::move(other.weights_)),
        tiles_(std::move(other.tiles_)),
        packed_(other.packed_) {
    other.packed_ = PackedDepthwiseFilter{};
  }
  PreparedDepthwiseConv2D& operator=(PreparedDepthwiseConv2D&& other) noexcept {
    if (this != &other) {
      params_ = other.params_;
      weights_ = std::move(other.weights_);
      tiles_ = std::move(other.tiles_);
      packed_ = other.packed_;
      other.packed_ = PackedDepthwiseFilter{};
    }
    return *this;
  }
  ~PreparedDepthwiseConv2D() = default;

  const SimdDepthwiseConv2DParams& params() const { return params_; }
  const PackedDepthwiseFilter& filter() const { return packed_; }
  std::size_t scratch_size() const { return depthwise_conv2d_scratch_size(params_); }
  Status run(TensorView<const std::int8_t> input, TensorView<std::int8_t> output,
             Span<std::int8_t> scratch) const {
    return depthwise_conv2d(params_, input, packed_, output, scratch);
  }

 private:
  void repoint() {
    packed_.weights = Span<const std::int32_t>(weights_.data(), weights_.size());
    packed_.requantization.lanes = Span<const TileRequantization>(tiles_.data(), tiles_.size());
  }

  SimdDepthwiseConv2DParams params_;
  std::vector<std::int32_t> weights_;
  std::vector<TileRequantization> tiles_;
  PackedDepthwiseFilter packed_;
};

}  // namespace simd
}  // namespace tsq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
