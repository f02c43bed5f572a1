// SPDX-License-Identifier: Apache-2.0
// Mean over the spatial axes -- global average pooling -- integer reference (spec 3.7): the
// specification every optimized version must reproduce bit for bit.
//
//   input   [batch, height, width, channels]  int8 (S_in, Z_in)   Keras GlobalAveragePooling2D,
//           or [batch, steps, channels]                            GlobalAveragePooling1D
//   output  [batch, 1, 1, channels] / [batch, 1, channels] (keep_dims) or [batch, channels],
//           int8 with its own (S_out, Z_out)
//
//   n   = number of elements averaged into one output (height * width, or steps)
//   (q0, e0) = QuantizeMultiplier(S_in / S_out)          (in double, from the float32 scales)
//   k   = min(floor(log2 n), 32, 31 + e0);  q = trunc(q0 * 2^k / n);  e = e0 - k
//   y   = clamp(Z_out + MBQM(sum of x - Z_in * n, q, e), -128, 127)
//
// This is TFLite-Micro's MEAN (QuantizedMeanOrSum, since tflite-micro PR #1908): 1/n is folded
// into the multiplier by a truncating integer division, so the result can differ by one from a
// correctly rounded mean. No fused activation (MEAN has none). The rounding mode applies as in
// every MBQM (spec 2.3 / 2.4).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// The most elements one output may average: the raw sum (|.| <= 128 n) and the zero-point
// corrected sum (|.| <= 255 n = 255 * 2^23 < 2^31) then both fit in int32.
constexpr std::int64_t kMaxMeanCount = std::int64_t{1} << 23;

// Everything prepare needs to know about a quantized spatial Mean.
struct MeanQuantization {
  Shape input_shape;  // [batch, height, width, channels] or [batch, steps, channels]
  QuantParams input;
  QuantParams output;
  bool keep_dims = false;  // Keras GlobalAveragePooling's default keepdims=False: [batch, channels]
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct MeanParams {
  Shape input_shape;
  Shape output_shape;
  std::int32_t batches = 0;
  std::int32_t count = 0;  // elements averaged into one output
  std::int32_t channels = 0;
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  QuantizedMultiplier multiplier;  // S_in / S_out with 1/count folded in
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

// Spec 3.7 step 3: folds 1/count into the multiplier (q0, e0) of S_in / S_out, as TFLite-Micro:
// k = min(floor(log2 count), 32, 31 + e0), q = trunc(q0 * 2^k / count), e = e0 - k. Keeps
// e >= -31; q stays in (q0 / 2, q0] whenever k = floor(log2 count). Precondition count >= 1.
constexpr QuantizedMultiplier fold_mean_count(QuantizedMultiplier m, std::int64_t count) {
  int k = 0;
  while ((count >> (k + 1)) != 0) ++k;  // floor(log2 count) = 63 - clz64(count)
  if (k > 32) k = 32;
  if (k > 31 + m.shift) k = 31 + m.shift;
  const std::int64_t folded = (static_cast<std::int64_t>(m.multiplier) << k) / count;
  return QuantizedMultiplier{static_cast<std::int32_t>(folded), m.shift - k};
}

// The output shape of the spatial Mean of `input_shape` (rank 3 or 4).
inline Result<Shape> mean_output_shape(const Shape& input_shape, bool keep_dims) {
  if (input_shape.rank() != 3 && input_shape.rank() != 4) {
    Status status = Status::error(ErrorCode::shape_mismatch,
                                  "Mean input must be [batch, height, width, channels] or "
                                  "[batch, steps, channels], got ");
    return append_shape(status, input_shape);
  }
  for (int axis = 0; axis < input_shape.rank(); ++axis) {
    if (input_shape[axis] < 1) {
      Status status =
          Status::error(ErrorCode::shape_mismatch, "Mean input dimensions must be >= 1, got ");
      return append_shape(status, input_shape);
    }
  }
  const std::int32_t batches = input_shape[0];
  const std::int32_t channels = input_shape[input_shape.rank() - 1];
  if (!keep_dims) return Shape{batches, channels};
  return input_shape.rank() == 4 ? Shape{batches, 1, 1, channels} : Shape{batches, 1, channels};
}

// Validates shapes, types and scales, computes (q0, e0) from S_in / S_out in double and folds
// the element count into it (integer math, the same as TFLite-Micro does at every eval).
inline Result<MeanParams> prepare_mean(const MeanQuantization& q) {
  TSQ_RETURN_IF_ERROR(validate(q.input));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  if (q.input.type != DataType::int8 || q.output.type != DataType::int8) {
    return Status::error(ErrorCode::unsupported_type, "Mean supports int8 -> int8, got ")
        .append(data_type_name(q.input.type))
        .append(" -> ")
        .append(data_type_name(q.output.type));
  }
  const Result<Shape> output_shape = mean_output_shape(q.input_shape, q.keep_dims);
  if (!output_shape.is_ok()) return output_shape.status();
  const int rank = q.input_shape.rank();
  std::int64_t count = 1;
  for (int axis = 1; axis < rank - 1; ++axis) count *= q.input_shape[axis];
  if (count > kMaxMeanCount) {
    return Status::error(ErrorCode::invalid_argument, "Mean over ")
        .append(count)
        .append(" elements exceeds the int32 accumulator limit ")
        .append(kMaxMeanCount);
  }
  const double real_multiplier =
      static_cast<double>(q.input.scale) / static_cast<double>(q.output.scale);
  const Result<QuantizedMultiplier> multiplier = quantize_multiplier(real_multiplier, q.rounding);
  if (!multiplier.is_ok()) return multiplier.status();
  MeanParams params;
  params.input_shape = q.input_shape;
  params.output_shape = output_shape.value();
  params.batches = q.input_shape[0];
  params.count = static_cast<std::int32_t>(count);
  params.channels = q.input_shape[rank - 1];
  params.input_zero_point = q.input.zero_point;
  params.output_zero_point = q.output.zero_point;
  params.multiplier = fold_mean_count(multiplier.value(), count);
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

template <RoundingMode Mode>
void mean_int8(const MeanParams& params, const TensorView<const std::int8_t>& input,
               const TensorView<std::int8_t>& output) {
  // Rank 3 [batch, steps, channels] is read as [batch, steps, 1, channels].
  const bool spatial = input.rank() == 4;
  const std::int32_t height = input.dim(1);
  const std::int32_t width = spatial ? input.dim(2) : 1;
  const std::ptrdiff_t row_stride = input.stride(1);
  const std::ptrdiff_t column_stride = spatial ? input.stride(2) : 0;
  const std::ptrdiff_t channel_stride = input.stride(input.rank() - 1);
  const std::ptrdiff_t output_channel_stride = output.stride(output.rank() - 1);
  // Clamping before adding Z_out gives clamp(y + Z_out, -128, 127) without int32 overflow.
  const std::int32_t lowest = -128 - params.output_zero_point;
  const std::int32_t highest = 127 - params.output_zero_point;
  const std::int64_t zero_point_sum =
      static_cast<std::int64_t>(params.input_zero_point) * params.count;
  for (std::int32_t b = 0; b < params.batches; ++b) {
    const std::int8_t* batch = input.data() + b * input.stride(0);
    std::int8_t* out = output.data() + b * output.stride(0);
    for (std::int32_t c = 0; c < params.channels; ++c) {
      std::int32_t sum = 0;
      for (std::int32_t y = 0; y < height; ++y) {
        for (std::int32_t x = 0; x < width; ++x) {
          sum += batch[y * row_stride + x * column_stride + c * channel_stride];
        }
      }
      // |sum - Z_in * count| <= 255 * count < 2^31 (kMaxMeanCount).
      const auto centered = static_cast<std::int32_t>(sum - zero_point_sum);
      const std::int32_t scaled =
          multiply_by_quantized_multiplier<Mode>(centered, params.multiplier);
      out[c * output_channel_stride] =
          static_cast<std::int8_t>(clamp(scaled, lowest, highest) + params.output_zero_point);
    }
  }
}

}  // namespace detail

namespace reference {

// int8 -> int8. Views may have any strides; shapes must be the prepared ones.
inline Status mean(const MeanParams& params, TensorView<const std::int8_t> input,
                   TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("Mean", params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("Mean", input, output));
  if (input.shape() != params.input_shape) {
    return shape_mismatch_error("Mean input", input.shape(), params.input_shape);
  }
  if (output.shape() != params.output_shape) {
    return shape_mismatch_error("Mean output", output.shape(), params.output_shape);
  }
  if (params.rounding == RoundingMode::double_rounding) {
    detail::mean_int8<RoundingMode::double_rounding>(params, input, output);
  } else {
    detail::mean_int8<RoundingMode::single_rounding>(params, input, output);
  }
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
