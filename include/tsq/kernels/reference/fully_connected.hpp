// SPDX-License-Identifier: Apache-2.0
// FullyConnected, integer reference (spec 3.2): the specification every optimized version must
// reproduce bit for bit.
//
//   input   [batches, input_depth]   int8 (Z_in any) or int16 (Z_in = 0)
//   weights [units, input_depth]     int8 symmetric, one scale per unit or one for all, Z = 0
//   bias    [units]                  int32 (int8 input) / int64 (int16 input), scale S_in*S_w[u]
//   output  [batches, units]         same type as the input
//
//   acc = bias[u] + sum_d W[u, d] * (x[b, d] - Z_in)
//   y   = clamp(Z_out + round(acc * S_in * S_w[u] / S_out), activation range)
//
// Any input of rank >= 2 is read as [product of leading dims, last dim]; the output has
// the same leading dims and `units` as its last dim.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// Everything prepare needs to know about a quantized FullyConnected layer.
struct FullyConnectedQuantization {
  Shape input_shape;
  QuantParams input;
  Shape weights_shape;              // [units, input_depth]
  Span<const float> weight_scales;  // one per unit (per-channel) or one (per-tensor)
  QuantParams output;
  FusedActivation activation = FusedActivation::none;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct FullyConnectedParams {
  std::int32_t input_depth = 0;
  std::int32_t units = 0;
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  Span<const QuantizedMultiplier> multipliers;  // one per unit, or one for all
  ActivationRange activation;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by prepare_fully_connected
};

// Output shape of a FullyConnected layer: the input's leading dims, then `units`.
inline Result<Shape> fully_connected_output_shape(const Shape& input, std::int32_t units) {
  if (input.rank() < 1)
    return Status::error(ErrorCode::shape_mismatch, "FullyConnected input has rank 0");
  Shape output = input;
  output[input.rank() - 1] = units;
  return output;
}

// Validates shapes, types and scales and computes the multipliers into `multiplier_storage`
// (size = number of weight scales), which must outlive the returned params. Float math here only.
// Per-tensor weights use float32(S_in * S_w) / S_out as TFLite does; per-channel weights the
// all-double product, so that multipliers equal TFLite-Micro's.
inline Result<FullyConnectedParams> prepare_fully_connected(
    const FullyConnectedQuantization& q, Span<QuantizedMultiplier> multiplier_storage) {
  TSQ_RETURN_IF_ERROR(validate(q.input));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  if (q.input.type != q.output.type ||
      (q.input.type != DataType::int8 && q.input.type != DataType::int16)) {
    return Status::error(ErrorCode::unsupported_type,
                         "FullyConnected supports int8 -> int8 and int16 -> int16");
  }
  if (q.input.type == DataType::int16 && (q.input.zero_point != 0 || q.output.zero_point != 0)) {
    return Status::error(ErrorCode::invalid_argument, "int16 FullyConnected needs zero points 0");
  }
  if (q.weights_shape.rank() != 2) {
    return Status::error(ErrorCode::shape_mismatch,
                         "FullyConnected weights must be [units, input_depth]");
  }
  const std::int32_t units = q.weights_shape[0];
  const std::int32_t depth = q.weights_shape[1];
  if (q.input_shape.rank() < 1 || q.input_shape[q.input_shape.rank() - 1] != depth) {
    Status status = Status::error(ErrorCode::shape_mismatch, "FullyConnected input ");
    append_shape(status, q.input_shape).append(" does not end in input_depth ").append(depth);
    return status;
  }
  if (depth < 1 || units < 1) {
    return Status::error(ErrorCode::shape_mismatch,
                         "FullyConnected needs input_depth and units >= 1");
  }
  if (depth > kMaxAccumulationDepth) {
    return Status::error(ErrorCode::invalid_argument, "FullyConnected input_depth ")
        .append(depth)
        .append(" exceeds the int32 accumulator limit ")
        .append(kMaxAccumulationDepth);
  }
  const std::size_t scale_count = q.weight_scales.size();
  if (scale_count != 1 && scale_count != static_cast<std::size_t>(units)) {
    return Status::error(ErrorCode::shape_mismatch, "FullyConnected needs 1 or ")
        .append(units)
        .append(" weight scales, got ")
        .append(scale_count);
  }
  if (multiplier_storage.size() < scale_count) {
    return Status::error(ErrorCode::buffer_too_small, "multiplier storage holds ")
        .append(multiplier_storage.size())
        .append(", needs ")
        .append(scale_count);
  }
  for (std::size_t c = 0; c < scale_count; ++c) {
    const float weight_scale = q.weight_scales[c];
    if (!validate_scale(weight_scale).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, "weight scale ")
          .append(c)
          .append(" is not finite and > 0");
    }
    const double real_multiplier =
        scale_count == 1 ? static_cast<double>(q.input.scale * weight_scale) /
                               static_cast<double>(q.output.scale)
                         : static_cast<double>(q.input.scale) * static_cast<double>(weight_scale) /
                               static_cast<double>(q.output.scale);
    const Result<QuantizedMultiplier> multiplier = quantize_multiplier(real_multiplier, q.rounding);
    if (!multiplier.is_ok()) return multiplier.status();
    if (q.input.type == DataType::int16 && multiplier->shift >= 8) {
      return Status::error(ErrorCode::shift_out_of_range,
                           "int16 FullyConnected multiplier too large");
    }
    multiplier_storage[c] = multiplier.value();
  }
  const Result<ActivationRange> activation = quantized_activation_range(q.activation, q.output);
  if (!activation.is_ok()) return activation.status();
  FullyConnectedParams params;
  params.input_depth = depth;
  params.units = units;
  params.input_zero_point = q.input.zero_point;
  params.output_zero_point = q.output.zero_point;
  params.multipliers = Span<const QuantizedMultiplier>(multiplier_storage.data(), scale_count);
  params.activation = activation.value();
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

// The views must match the prepared layer; any number of rows (batches) is accepted. Sets
// `batches` to the input's row count.
template <typename Input, typename Bias>
Status check_fully_connected_views(const FullyConnectedParams& params,
                                   const TensorView<const Input>& input,
                                   const TensorView<const std::int8_t>& weights,
                                   Span<const Bias> bias, const TensorView<Input>& output,
                                   std::int32_t& batches) {
  TSQ_RETURN_IF_ERROR(check_prepared("FullyConnected", params));
  TSQ_RETURN_IF_ERROR(check_views_usable("FullyConnected", input, weights, output));
  TSQ_RETURN_IF_ERROR(check_spans_usable("FullyConnected", bias));
  if (input.rank() < 1 || input.dim(input.rank() - 1) != params.input_depth) {
    Status status = Status::error(ErrorCode::shape_mismatch, "FullyConnected input ");
    append_shape(status, input.shape()).append(" does not match the prepared layer");
    return status;
  }
  if (weights.shape() != Shape{params.units, params.input_depth}) {
    return shape_mismatch_error("FullyConnected weights", weights.shape(),
                                Shape{params.units, params.input_depth});
  }
  if (!bias.empty() && bias.size() != static_cast<std::size_t>(params.units)) {
    return Status::error(ErrorCode::shape_mismatch, "FullyConnected bias has ")
        .append(bias.size())
        .append(" values, expected ")
        .append(params.units);
  }
  batches = static_cast<std::int32_t>(input.element_count() /
                                      static_cast<std::size_t>(params.input_depth));
  if (output.rank() < 1 ||
      output.element_count() !=
          static_cast<std::size_t>(batches) * static_cast<std::size_t>(params.units) ||
      output.dim(output.rank() - 1) != params.units) {
    Status status = Status::error(ErrorCode::shape_mismatch, "FullyConnected output ");
    append_shape(status, output.shape()).append(" does not match the prepared layer");
    return status;
  }
  if (!input.is_contiguous() || !weights.is_contiguous() || !output.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, "FullyConnected needs contiguous tensors");
  }
  return Status::ok();
}

template <RoundingMode Mode>
void fully_connected_int8(const FullyConnectedParams& params, std::int32_t batches,
                          const std::int8_t* input, const std::int8_t* weights,
                          const std::int32_t* bias, std::int8_t* output) {
  for (std::int32_t b = 0; b < batches; ++b) {
    const std::int8_t* row = input + static_cast<std::ptrdiff_t>(b) * params.input_depth;
    for (std::int32_t u = 0; u < params.units; ++u) {
      const std::int8_t* filter = weights + static_cast<std::ptrdiff_t>(u) * params.input_depth;
      std::int32_t accumulator = 0;
      for (std::int32_t d = 0; d < params.input_depth; ++d) {
        accumulator += static_cast<std::int32_t>(filter[d]) * (row[d] - params.input_zero_point);
      }
      const std::int32_t value = requantize_int8_accumulator<Mode>(
          accumulator, bias, params.multipliers, u, params.output_zero_point);
      output[static_cast<std::ptrdiff_t>(b) * params.units + u] =
          static_cast<std::int8_t>(clamp(value, params.activation.min, params.activation.max));
    }
  }
}

}  // namespace detail

namespace reference {

// int8 x int8 -> int8. `bias` may be empty (no bias).
inline Status fully_connected(const FullyConnectedParams& params,
                              TensorView<const std::int8_t> input,
                              TensorView<const std::int8_t> weights, Span<const std::int32_t> bias,
                              TensorView<std::int8_t> output) {
  std::int32_t batches = 0;
  TSQ_RETURN_IF_ERROR(
      detail::check_fully_connected_views(params, input, weights, bias, output, batches));
  const std::int32_t* bias_data = bias.empty() ? nullptr : bias.data();
  if (params.rounding == RoundingMode::double_rounding) {
    detail::fully_connected_int8<RoundingMode::double_rounding>(
        params, batches, input.data(), weights.data(), bias_data, output.data());
  } else {
    detail::fully_connected_int8<RoundingMode::single_rounding>(
        params, batches, input.data(), weights.data(), bias_data, output.data());
  }
  return Status::ok();
}

// int16 x int8 -> int16 with int64 accumulators and bias (TFLite's 16x8 scheme: symmetric
// int16 activations, requantized with the 64-bit multiply of spec 2.5, the same in both modes).
inline Status fully_connected(const FullyConnectedParams& params,
                              TensorView<const std::int16_t> input,
                              TensorView<const std::int8_t> weights, Span<const std::int64_t> bias,
                              TensorView<std::int16_t> output) {
  std::int32_t batches = 0;
  TSQ_RETURN_IF_ERROR(
      detail::check_fully_connected_views(params, input, weights, bias, output, batches));
  const bool per_channel = params.multipliers.size() > 1;
  for (std::int32_t b = 0; b < batches; ++b) {
    const std::int16_t* row = input.data() + static_cast<std::ptrdiff_t>(b) * params.input_depth;
    for (std::int32_t u = 0; u < params.units; ++u) {
      const std::int8_t* filter =
          weights.data() + static_cast<std::ptrdiff_t>(u) * params.input_depth;
      std::int64_t accumulator = bias.empty() ? 0 : bias[static_cast<std::size_t>(u)];
      for (std::int32_t d = 0; d < params.input_depth; ++d) {
        accumulator += static_cast<std::int32_t>(filter[d]) * static_cast<std::int32_t>(row[d]);
      }
      const QuantizedMultiplier m =
          params.multipliers[per_channel ? static_cast<std::size_t>(u) : 0];
      const std::int32_t value = detail::add_zero_point(
          multiply_by_quantized_multiplier_int64(accumulator, m), params.output_zero_point);
      output.data()[static_cast<std::ptrdiff_t>(b) * params.units + u] =
          static_cast<std::int16_t>(clamp(value, params.activation.min, params.activation.max));
    }
  }
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
