// SPDX-License-Identifier: Apache-2.0
// Add, integer reference (spec 3.8; residual connections): the specification every optimized
// version must reproduce bit for bit.
//
//   input1, input2  int8 or int16, each with its own (S, Z); shapes equal or broadcastable
//   output          same type, its own (S_out, Z_out), the broadcast shape
//
//   T  = 2 * max(S_1, S_2);  left_shift = 20 (int8) or 15 (int16)
//   M_1 = S_1 / T, M_2 = S_2 / T (both <= 1/2), M_out = T / (2^left_shift * S_out), all < 1
//   a  = MBQM((x1 - Z_1) * 2^left_shift, M_1);  b = MBQM((x2 - Z_2) * 2^left_shift, M_2)
//   y  = clamp(Z_out + MBQM(a + b, M_out), activation range)
//
// Three roundings, all with the chosen rounding mode (the SmallerThanOne multiplies of
// TFLite-Micro are the general multiply with a shift <= 0). The int16 path is TFLite-Micro's
// (reference_ops::Add with general scales, pot_scale = false): the same formula with
// left_shift 15; |x - Z| <= 65535 keeps (x - Z) * 2^15 inside int32 for any int16 zero point.
//
// Broadcasting follows NumPy / TFLite: shapes are aligned at their last axis, and along each
// axis the two sizes are equal or one of them is 1 (a missing leading axis counts as 1), up to
// rank kMaxRank. E.g. [N, H, W, C] + [C] (a per-channel term), [N, T, C] + [N, 1, C].
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

// Everything prepare needs to know about a quantized Add.
struct AddQuantization {
  Shape input1_shape;
  QuantParams input1;
  Shape input2_shape;
  QuantParams input2;
  QuantParams output;
  FusedActivation activation = FusedActivation::none;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct AddParams {
  Shape input1_shape;
  Shape input2_shape;
  Shape output_shape;
  std::int32_t input1_zero_point = 0;
  std::int32_t input2_zero_point = 0;
  std::int32_t output_zero_point = 0;
  int left_shift = 20;
  QuantizedMultiplier input1_multiplier;
  QuantizedMultiplier input2_multiplier;
  QuantizedMultiplier output_multiplier;
  ActivationRange activation;
  DataType type = DataType::int8;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

// The broadcast shape of two shapes (see the header comment); shape_mismatch if incompatible.
inline Result<Shape> add_output_shape(const Shape& a, const Shape& b) {
  const int rank = a.rank() > b.rank() ? a.rank() : b.rank();
  std::int32_t dims[kMaxRank] = {};
  for (int axis = 0; axis < rank; ++axis) {
    // Output axis `axis` is axis `axis - (rank - x.rank())` of x, or absent there (size 1).
    const int axis_a = axis - (rank - a.rank());
    const int axis_b = axis - (rank - b.rank());
    const std::int32_t size_a = axis_a < 0 ? 1 : a[axis_a];
    const std::int32_t size_b = axis_b < 0 ? 1 : b[axis_b];
    if (size_a < 0 || size_b < 0 || (size_a != size_b && size_a != 1 && size_b != 1)) {
      Status status = Status::error(ErrorCode::shape_mismatch, "Add: shapes ");
      append_shape(status, a).append(" and ");
      append_shape(status, b).append(" do not broadcast");
      return status;
    }
    dims[axis] = size_a == 1 ? size_b : size_a;
  }
  return Shape::make(Span<const std::int32_t>(dims, static_cast<std::size_t>(rank)));
}

// Validates types, scales and shapes and computes the three multipliers as TFLite-Micro does
// (QuantizeMultiplierSmallerThanOneExp of the double quotients). Errors: mixed or unsupported
// types (unsupported_type), shapes that do not broadcast (shape_mismatch), an output scale so
// small that M_out = 2 max(S_1, S_2) / (2^left_shift S_out) is not < 1 (shift_out_of_range;
// TFLite aborts there).
inline Result<AddParams> prepare_add(const AddQuantization& q) {
  TSQ_RETURN_IF_ERROR(validate(q.input1));
  TSQ_RETURN_IF_ERROR(validate(q.input2));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  if (q.input1.type != q.output.type || q.input2.type != q.output.type ||
      (q.output.type != DataType::int8 && q.output.type != DataType::int16)) {
    return Status::error(ErrorCode::unsupported_type,
                         "Add supports int8 + int8 -> int8 and int16 + int16 -> int16, got ")
        .append(data_type_name(q.input1.type))
        .append(" + ")
        .append(data_type_name(q.input2.type))
        .append(" -> ")
        .append(data_type_name(q.output.type));
  }
  const Result<Shape> output_shape = add_output_shape(q.input1_shape, q.input2_shape);
  if (!output_shape.is_ok()) return output_shape.status();

  const int left_shift = q.output.type == DataType::int8 ? 20 : 15;
  const double twice_max_input_scale =
      2.0 * static_cast<double>(q.input1.scale > q.input2.scale ? q.input1.scale : q.input2.scale);
  // S_i / T <= 1/2, and > 0 in double for any float32 scales: these cannot fail.
  const Result<QuantizedMultiplier> input1_multiplier = quantize_multiplier_smaller_than_one(
      static_cast<double>(q.input1.scale) / twice_max_input_scale, q.rounding);
  if (!input1_multiplier.is_ok()) return input1_multiplier.status();
  const Result<QuantizedMultiplier> input2_multiplier = quantize_multiplier_smaller_than_one(
      static_cast<double>(q.input2.scale) / twice_max_input_scale, q.rounding);
  if (!input2_multiplier.is_ok()) return input2_multiplier.status();
  const Result<QuantizedMultiplier> output_multiplier = quantize_multiplier_smaller_than_one(
      twice_max_input_scale / (static_cast<double>(std::int32_t{1} << left_shift) *
                               static_cast<double>(q.output.scale)),
      q.rounding);
  if (!output_multiplier.is_ok()) {
    return Status::error(ErrorCode::shift_out_of_range,
                         "Add: output scale too small for the input scales, "
                         "2 max(S_1, S_2) / (2^")
        .append(left_shift)
        .append(" S_out) must be < 1");
  }
  const Result<ActivationRange> activation = quantized_activation_range(q.activation, q.output);
  if (!activation.is_ok()) return activation.status();

  AddParams params;
  params.input1_shape = q.input1_shape;
  params.input2_shape = q.input2_shape;
  params.output_shape = output_shape.value();
  params.input1_zero_point = q.input1.zero_point;
  params.input2_zero_point = q.input2.zero_point;
  params.output_zero_point = q.output.zero_point;
  params.left_shift = left_shift;
  params.input1_multiplier = input1_multiplier.value();
  params.input2_multiplier = input2_multiplier.value();
  params.output_multiplier = output_multiplier.value();
  params.activation = activation.value();
  params.type = q.output.type;
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

// Strides (in elements) that read `view` at the indices of the broadcast `output_shape`: an axis
// the view lacks, or has as size 1 against a larger output axis, gets stride 0.
template <typename T>
void broadcast_strides(const TensorView<T>& view, const Shape& output_shape,
                       std::ptrdiff_t* strides) {
  const int missing = output_shape.rank() - view.rank();
  for (int axis = 0; axis < output_shape.rank(); ++axis) {
    const int source = axis - missing;
    strides[axis] = source < 0 || view.dim(source) != output_shape[axis] ? 0 : view.stride(source);
  }
}

// Calls element(offset1, offset2, output_offset) for every index of `shape`, in row-major order,
// with each offset = sum over the axes of index * stride. No heap: an odometer over <= kMaxRank.
template <typename Function>
void for_each_broadcast(const Shape& shape, const std::ptrdiff_t* strides1,
                        const std::ptrdiff_t* strides2, const std::ptrdiff_t* output_strides,
                        Function&& element) {
  if (shape.element_count() == 0) return;
  const int rank = shape.rank();
  if (rank == 0) {
    element(std::ptrdiff_t{0}, std::ptrdiff_t{0}, std::ptrdiff_t{0});
    return;
  }
  const int last = rank - 1;
  std::int32_t index[kMaxRank] = {};
  std::ptrdiff_t offset1 = 0, offset2 = 0, output_offset = 0;
  for (;;) {
    for (std::int32_t i = 0; i < shape[last]; ++i) {
      element(offset1 + i * strides1[last], offset2 + i * strides2[last],
              output_offset + i * output_strides[last]);
    }
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

// One output value of spec 3.8.
template <RoundingMode Mode>
constexpr std::int32_t add_element(const AddParams& p, std::int32_t x1, std::int32_t x2) {
  // |x - Z| <= 255 (int8) or 65535 (int16): the shifted values stay below 2^28 and 2^31.
  const std::int32_t shifted1 = (x1 - p.input1_zero_point) * (std::int32_t{1} << p.left_shift);
  const std::int32_t shifted2 = (x2 - p.input2_zero_point) * (std::int32_t{1} << p.left_shift);
  // Both multipliers are <= 1/2, so the sum stays within int32.
  const std::int32_t sum = multiply_by_quantized_multiplier<Mode>(shifted1, p.input1_multiplier) +
                           multiply_by_quantized_multiplier<Mode>(shifted2, p.input2_multiplier);
  const std::int32_t scaled = multiply_by_quantized_multiplier<Mode>(sum, p.output_multiplier);
  // Clamping before adding Z_out equals clamp(scaled + Z_out, min, max) without overflow.
  return clamp(scaled, p.activation.min - p.output_zero_point,
               p.activation.max - p.output_zero_point) +
         p.output_zero_point;
}

template <typename T>
Status check_add_views(const AddParams& params, const TensorView<const T>& input1,
                       const TensorView<const T>& input2, const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(check_prepared("Add", params));
  TSQ_RETURN_IF_ERROR(check_views_usable("Add", input1, input2, output));
  if (data_type_of_v<T> != params.type) {
    return Status::error(ErrorCode::unsupported_type, "Add was prepared for ")
        .append(data_type_name(params.type))
        .append(", called with ")
        .append(data_type_name(data_type_of_v<T>));
  }
  if (input1.shape() != params.input1_shape) {
    return shape_mismatch_error("Add input1", input1.shape(), params.input1_shape);
  }
  if (input2.shape() != params.input2_shape) {
    return shape_mismatch_error("Add input2", input2.shape(), params.input2_shape);
  }
  if (output.shape() != params.output_shape) {
    return shape_mismatch_error("Add output", output.shape(), params.output_shape);
  }
  return Status::ok();
}

template <RoundingMode Mode, typename T>
void add(const AddParams& params, const TensorView<const T>& input1,
         const TensorView<const T>& input2, const TensorView<T>& output) {
  const T* in1 = input1.data();
  const T* in2 = input2.data();
  T* out = output.data();
  if (input1.shape() == output.shape() && input2.shape() == output.shape() &&
      input1.is_contiguous() && input2.is_contiguous() && output.is_contiguous()) {
    // The common case (a residual connection): one flat loop.
    const std::size_t count = output.element_count();
    for (std::size_t i = 0; i < count; ++i) {
      out[i] = static_cast<T>(add_element<Mode>(params, in1[i], in2[i]));
    }
    return;
  }
  std::ptrdiff_t strides1[kMaxRank] = {};
  std::ptrdiff_t strides2[kMaxRank] = {};
  std::ptrdiff_t output_strides[kMaxRank] = {};
  broadcast_strides(input1, params.output_shape, strides1);
  broadcast_strides(input2, params.output_shape, strides2);
  broadcast_strides(output, params.output_shape, output_strides);
  for_each_broadcast(params.output_shape, strides1, strides2, output_strides,
                     [&](std::ptrdiff_t offset1, std::ptrdiff_t offset2, std::ptrdiff_t offset) {
                       out[offset] =
                           static_cast<T>(add_element<Mode>(params, in1[offset1], in2[offset2]));
                     });
}

template <typename T>
Status add_dispatch(const AddParams& params, const TensorView<const T>& input1,
                    const TensorView<const T>& input2, const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(check_add_views(params, input1, input2, output));
  if (params.rounding == RoundingMode::double_rounding) {
    add<RoundingMode::double_rounding>(params, input1, input2, output);
  } else {
    add<RoundingMode::single_rounding>(params, input1, input2, output);
  }
  return Status::ok();
}

}  // namespace detail

namespace reference {

// int8 + int8 -> int8. Views may have any strides; shapes must be the prepared ones.
inline Status add(const AddParams& params, TensorView<const std::int8_t> input1,
                  TensorView<const std::int8_t> input2, TensorView<std::int8_t> output) {
  return detail::add_dispatch(params, input1, input2, output);
}

// int16 + int16 -> int16 (left_shift 15).
inline Status add(const AddParams& params, TensorView<const std::int16_t> input1,
                  TensorView<const std::int16_t> input2, TensorView<std::int16_t> output) {
  return detail::add_dispatch(params, input1, input2, output);
}

}  // namespace reference
}  // namespace tsq
