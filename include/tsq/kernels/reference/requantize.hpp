// SPDX-License-Identifier: Apache-2.0
// Requantize between int8, uint8 and int16 (a change of type, scale and/or zero point), integer
// only: TFLite's QUANTIZE op with an integer input (reference_ops::Requantize).
//
//   y = clamp(Z_out + MBQM(x - Z_in, M), q_min_out, q_max_out)
//   M = double(S_in) / double(S_out)
//
// This is the edge of a model with int8/uint8 I/O: uint8 data from a sensor or a host enters the
// int8 path (uint8 -> int8, typically same scale and Z_out = Z_in - 128, i.e. a flip of the top
// bit), and leaves it the same way. The multiplier is applied with the chosen rounding mode;
// an identical scale gives M = 1 exactly, so pure zero-point shifts are exact.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/quant/quantize.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

struct RequantizeQuantization {
  Shape shape;  // input and output
  QuantParams input;
  QuantParams output;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct RequantizeParams {
  Shape shape;
  DataType input_type = DataType::int8;
  DataType output_type = DataType::int8;
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  QuantizedMultiplier multiplier;  // S_in / S_out
  IntegerRange output_range;       // the output's [q_min, q_max]
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

constexpr bool is_requantize_type(DataType type) {
  return type == DataType::int8 || type == DataType::uint8 || type == DataType::int16;
}

// Validates both parameter sets and computes the multiplier (float math here only).
inline Result<RequantizeParams> prepare_requantize(const RequantizeQuantization& q) {
  TSQ_RETURN_IF_ERROR(detail::check_no_negative_dimension("Requantize", q.shape));
  TSQ_RETURN_IF_ERROR(validate(q.input));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  if (!is_requantize_type(q.input.type) || !is_requantize_type(q.output.type)) {
    return Status::error(ErrorCode::unsupported_type,
                         "Requantize converts between int8, uint8 and int16");
  }
  const Result<QuantizedMultiplier> multiplier = quantize_multiplier(
      static_cast<double>(q.input.scale) / static_cast<double>(q.output.scale), q.rounding);
  if (!multiplier.is_ok()) return multiplier.status();
  RequantizeParams params;
  params.shape = q.shape;
  params.input_type = q.input.type;
  params.output_type = q.output.type;
  params.input_zero_point = q.input.zero_point;
  params.output_zero_point = q.output.zero_point;
  params.multiplier = multiplier.value();
  params.output_range = IntegerRange{q.output.quant_min, q.output.quant_max};
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

template <RoundingMode Mode, typename Input, typename Output>
void requantize_elements(const RequantizeParams& params, const Input* input, Output* output,
                         std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::int32_t value =
        params.output_zero_point +
        multiply_by_quantized_multiplier<Mode>(
            static_cast<std::int32_t>(input[i]) - params.input_zero_point, params.multiplier);
    output[i] =
        static_cast<Output>(tsq::clamp(value, params.output_range.min, params.output_range.max));
  }
}

}  // namespace detail

namespace reference {

// Input and Output are any of int8_t, uint8_t, int16_t, matching the prepared types.
template <typename Input, typename Output>
Status requantize(const RequantizeParams& params, TensorView<const Input> input,
                  TensorView<Output> output) {
  static_assert(
      is_requantize_type(data_type_of_v<Input>) && is_requantize_type(data_type_of_v<Output>),
      "requantize converts between int8_t, uint8_t and int16_t");
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("Requantize", params));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared_types("Requantize", params.input_type,
                                                        params.output_type, data_type_of_v<Input>,
                                                        data_type_of_v<Output>));
  TSQ_RETURN_IF_ERROR(
      tsq::detail::check_elementwise_views("Requantize", params.shape, input, output));
  if (params.rounding == RoundingMode::double_rounding) {
    tsq::detail::requantize_elements<RoundingMode::double_rounding>(
        params, input.data(), output.data(), input.element_count());
  } else {
    tsq::detail::requantize_elements<RoundingMode::single_rounding>(
        params, input.data(), output.data(), input.element_count());
  }
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
