// SPDX-License-Identifier: Apache-2.0
// AvgPool2D, integer reference (spec 3.6): the specification every optimized version must
// reproduce bit for bit.
//
//   input   [batch, height, width, channels]          int8 or int16, (S, Z)
//   output  [batch, out_height, out_width, channels]  same type, same (S, Z)
//
//   sum = sum of the STORED values over the n taps of the window that lie inside the image
//   y   = clamp(sum > 0 ? (sum + n/2) / n : (sum - n/2) / n, activation range)   (C division)
//
// i.e. the average rounded half away from zero in the stored-integer domain: Z is not removed
// first, so ties are broken on raw values ({-3, -2, -2, -3} -> -10/4 = -2.5 -> -3), exactly as
// TFLite-Micro does. Padding taps are skipped (n counts only the taps inside the image), so a
// window at the border averages fewer values. Windows are placed as in spec 3.3, dilation 1.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// The largest window (filter_height * filter_width) whose int32 sum, plus the rounding term n/2,
// cannot overflow: int8: 2^23 * 128 + 2^22 < 2^31; int16: 65535 * 32768 + 32767 = 2^31 - 1.
constexpr std::int64_t kMaxAvgPool2DWindowInt8 = std::int64_t{1} << 23;
constexpr std::int64_t kMaxAvgPool2DWindowInt16 = 65535;

// Everything prepare needs to know about a quantized AvgPool2D layer.
struct AvgPool2DQuantization {
  Shape input_shape;  // [batch, height, width, channels]
  QuantParams input;
  QuantParams output;  // must equal `input` (|S_in - S_out| <= 1e-6, same zero point)
  Pool2DWindow window;
  FusedActivation activation = FusedActivation::none;
};

// Integers only: what eval reads.
struct AvgPool2DParams {
  Pool2DGeometry geometry;
  ActivationRange activation;
  DataType type = DataType::int8;
  PreparedMark prepared;  // set by its prepare
};

// Validates types, quantization (input and output shared, as TFLite-Micro checks), the window
// (no window may lie entirely in the padding; the window area within the accumulator limit) and
// the shape, and computes the output geometry and the activation clamp.
inline Result<AvgPool2DParams> prepare_avg_pool2d(const AvgPool2DQuantization& q) {
  const Result<detail::PreparedPool2D> prepared =
      detail::prepare_pool2d("AvgPool2D", q.input_shape, q.input, q.output, q.window, q.activation);
  if (!prepared.is_ok()) return prepared.status();
  const std::int64_t area =
      static_cast<std::int64_t>(q.window.filter_height) * q.window.filter_width;
  const std::int64_t max_area =
      prepared->type == DataType::int8 ? kMaxAvgPool2DWindowInt8 : kMaxAvgPool2DWindowInt16;
  if (area > max_area) {
    return Status::error(ErrorCode::invalid_argument, "AvgPool2D window of ")
        .append(area)
        .append(" taps exceeds the int32 accumulator limit ")
        .append(max_area)
        .append(" for ")
        .append(data_type_name(prepared->type));
  }
  AvgPool2DParams params;
  params.geometry = prepared->geometry;
  params.activation = prepared->activation;
  params.type = prepared->type;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

// One window's average of the stored values, rounded half away from zero (C division truncates
// toward zero).
struct AvgPool2DAccumulator {
  std::int32_t sum = 0;
  void add(std::int32_t value) { sum += value; }
  std::int32_t result(std::int32_t count) const {
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
  }
};

}  // namespace detail

namespace reference {

// int8 -> int8. Views may have any strides; shapes must be the prepared ones.
inline Status avg_pool2d(const AvgPool2DParams& params, TensorView<const std::int8_t> input,
                         TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(detail::check_prepared("AvgPool2D", params));
  return detail::integer_pool2d<detail::AvgPool2DAccumulator>(
      "AvgPool2D", params.geometry, params.type, params.activation, input, output);
}

// int16 -> int16 (any zero point: the average of stored values, as for int8).
inline Status avg_pool2d(const AvgPool2DParams& params, TensorView<const std::int16_t> input,
                         TensorView<std::int16_t> output) {
  TSQ_RETURN_IF_ERROR(detail::check_prepared("AvgPool2D", params));
  return detail::integer_pool2d<detail::AvgPool2DAccumulator>(
      "AvgPool2D", params.geometry, params.type, params.activation, input, output);
}

}  // namespace reference
}  // namespace tsq
