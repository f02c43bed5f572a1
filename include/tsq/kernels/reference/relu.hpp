// SPDX-License-Identifier: Apache-2.0
// Standalone ReLU and ReLU6, integer reference (spec 3.14), int8 and int16, elementwise.
// (ReLU/ReLU6 folded into a producer's output clamp are FusedActivation in kernels/common.hpp.)
//
//   RELU   y = clamp(Z_out + round((x - Z_in) * S_in / S_out), max(Z_out, q_min), q_max)
//          The input and output parameters may differ: a requantization with a fixed-point
//          multiplier and the chosen rounding mode. int16 needs zero points 0.
//   RELU6  y = clamp(x, Z, Z + round(6 / S)): no requantization. The output must have the
//          input's parameters; prepare checks it (TFLite-Micro does not read the output's).
//
// The RELU multiplier is QuantizeMultiplier(S_in / S_out). ReluMultiplierRule says how the
// quotient is formed. TFLite-Micro (activations_common.cc, CalculateReluOpData) and desktop
// TFLite divide in float32 and widen the quotient to double: that is the default, so imported
// models give TFLite-Micro's bytes. The all-double quotient is kept as an option; the two rules
// give a different multiplier for almost every scale pair and a different output for about 1 %
// of random int8 scale pairs (for one or two of the 256 inputs).
#pragma once

#include <cmath>
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

enum class ReluMultiplierRule : std::uint8_t {
  float32_quotient,  // double(float32(S_in / S_out)): TFLite-Micro and TFLite (default)
  double_quotient,   // double(S_in) / double(S_out): the exact quotient, rounded once
};

struct ReluQuantization {
  Shape shape;  // input and output
  QuantParams input;
  QuantParams output;
  RoundingMode rounding = RoundingMode::double_rounding;
  ReluMultiplierRule multiplier_rule = ReluMultiplierRule::float32_quotient;
};

// Integers only: what eval reads.
struct ReluParams {
  Shape shape;
  DataType type = DataType::int8;  // of input and output
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  QuantizedMultiplier multiplier;  // S_in / S_out
  ActivationRange activation;      // [max(Z_out, q_min), q_max]
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

struct Relu6Quantization {
  Shape shape;
  QuantParams input;
  QuantParams output;  // must equal input
};

struct Relu6Params {
  Shape shape;
  DataType type = DataType::int8;
  ActivationRange range;  // [Z, min(Z + round(6 / S), q_max)]
  PreparedMark prepared;  // set by its prepare
};

namespace detail {

template <typename T>
Status check_relu_views(const char* op, const PreparedMark& prepared, DataType type,
                        const Shape& shape, const TensorView<const T>& input,
                        const TensorView<T>& output) {
  if (!prepared.is_set()) {
    return Status::error(ErrorCode::not_prepared, op)
        .append(" params were not produced by its prepare function");
  }
  TSQ_RETURN_IF_ERROR(check_prepared_type(op, type, data_type_of_v<T>));
  return check_elementwise_views(op, shape, input, output);
}

template <RoundingMode Mode, typename T>
void relu_requantize(const ReluParams& params, const T* input, T* output, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::int32_t value =
        params.output_zero_point + multiply_by_quantized_multiplier<Mode>(
                                       input[i] - params.input_zero_point, params.multiplier);
    output[i] = static_cast<T>(tsq::clamp(value, params.activation.min, params.activation.max));
  }
}

template <typename T>
Status relu_eval(const ReluParams& params, const TensorView<const T>& input,
                 const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(
      check_relu_views("ReLU", params.prepared, params.type, params.shape, input, output));
  if (params.rounding == RoundingMode::double_rounding) {
    relu_requantize<RoundingMode::double_rounding>(params, input.data(), output.data(),
                                                   input.element_count());
  } else {
    relu_requantize<RoundingMode::single_rounding>(params, input.data(), output.data(),
                                                   input.element_count());
  }
  return Status::ok();
}

template <typename T>
Status relu6_eval(const Relu6Params& params, const TensorView<const T>& input,
                  const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(
      check_relu_views("ReLU6", params.prepared, params.type, params.shape, input, output));
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) {
    output.data()[i] =
        static_cast<T>(tsq::clamp(input.data()[i], params.range.min, params.range.max));
  }
  return Status::ok();
}

}  // namespace detail

// Validates the layer and computes the multiplier and the clamp (float math here only).
inline Result<ReluParams> prepare_relu(const ReluQuantization& q) {
  TSQ_RETURN_IF_ERROR(detail::check_no_negative_dimension("ReLU", q.shape));
  TSQ_RETURN_IF_ERROR(validate(q.input));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  if (q.input.type != q.output.type ||
      (q.input.type != DataType::int8 && q.input.type != DataType::int16)) {
    return Status::error(ErrorCode::unsupported_type,
                         "ReLU supports int8 -> int8 and int16 -> int16");
  }
  if (q.input.type == DataType::int16 && (q.input.zero_point != 0 || q.output.zero_point != 0)) {
    return Status::error(ErrorCode::invalid_argument, "int16 ReLU needs zero points 0");
  }
  const double real_multiplier =
      q.multiplier_rule == ReluMultiplierRule::float32_quotient
          ? static_cast<double>(q.input.scale / q.output.scale)
          : static_cast<double>(q.input.scale) / static_cast<double>(q.output.scale);
  if (!std::isfinite(real_multiplier)) {
    return Status::error(ErrorCode::invalid_scale, "ReLU: S_in / S_out overflows float32");
  }
  const Result<QuantizedMultiplier> multiplier = quantize_multiplier(real_multiplier, q.rounding);
  if (!multiplier.is_ok()) return multiplier.status();
  const Result<ActivationRange> activation =
      quantized_activation_range(FusedActivation::relu, q.output);
  if (!activation.is_ok()) return activation.status();
  ReluParams params;
  params.shape = q.shape;
  params.type = q.input.type;
  params.input_zero_point = q.input.zero_point;
  params.output_zero_point = q.output.zero_point;
  params.multiplier = multiplier.value();
  params.activation = activation.value();
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

// Validates the layer: the output must carry the input's parameters. The upper bound is
// Z + round(6 / S) with the division in float32 (spec 3.14), clamped to the integer range.
inline Result<Relu6Params> prepare_relu6(const Relu6Quantization& q) {
  TSQ_RETURN_IF_ERROR(detail::check_no_negative_dimension("ReLU6", q.shape));
  TSQ_RETURN_IF_ERROR(validate(q.input));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  if (q.input.type != q.output.type ||
      (q.input.type != DataType::int8 && q.input.type != DataType::int16)) {
    return Status::error(ErrorCode::unsupported_type,
                         "ReLU6 supports int8 -> int8 and int16 -> int16");
  }
  if (q.output.scale != q.input.scale || q.output.zero_point != q.input.zero_point ||
      q.output.quant_min != q.input.quant_min || q.output.quant_max != q.input.quant_max) {
    return Status::error(ErrorCode::invalid_argument,
                         "ReLU6 does not requantize: output parameters must equal the input's");
  }
  const Result<ActivationRange> range = quantized_activation_range(FusedActivation::relu6, q.input);
  if (!range.is_ok()) return range.status();
  Relu6Params params;
  params.shape = q.shape;
  params.type = q.input.type;
  params.range = range.value();
  detail::mark_prepared(params);
  return params;
}

namespace reference {

inline Status relu(const ReluParams& params, TensorView<const std::int8_t> input,
                   TensorView<std::int8_t> output) {
  return tsq::detail::relu_eval(params, input, output);
}

inline Status relu(const ReluParams& params, TensorView<const std::int16_t> input,
                   TensorView<std::int16_t> output) {
  return tsq::detail::relu_eval(params, input, output);
}

inline Status relu6(const Relu6Params& params, TensorView<const std::int8_t> input,
                    TensorView<std::int8_t> output) {
  return tsq::detail::relu6_eval(params, input, output);
}

inline Status relu6(const Relu6Params& params, TensorView<const std::int16_t> input,
                    TensorView<std::int16_t> output) {
  return tsq::detail::relu6_eval(params, input, output);
}

}  // namespace reference
}  // namespace tsq
