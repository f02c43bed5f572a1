// SPDX-License-Identifier: Apache-2.0
// Logistic (sigmoid), integer reference: y = 1 / (1 + exp(-x)), elementwise.
//
//   int8  -> int8   output (1/256, -128). Spec 3.12: x - Z_in is rescaled to Q4.27 and fed to
//                   gemmlowp's fixed-point logistic; |x - Z_in| >= input_range_radius
//                   saturates. The rescaling is a pure left shift, where both rounding modes
//                   agree (spec 2.4), so int8 outputs do not depend on the mode.
//   int16 -> int16  input zero point 0, output (2^-15, 0). TFLite-Micro's table kernel (spec 4.5
//                   table, linear interpolation): the input is rescaled to 1/(3 * 4096) units
//                   by an integer multiplier <= 32767 and a rounding right shift chosen at
//                   prepare (multiplier 3, shift 0 for an input scale of 2^-12 within
//                   TFLite's 1e-3 log2 tolerance).
//
// TFLite-Micro checks only the int8 output zero point and silently assumes the scale; tsq
// rejects any output other than the fixed one (scale within 0.1 %, TFLite's tolerance for
// fixed output scales).
#pragma once

#include <cmath>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/status.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/fixed_point_math.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/quant/quantize.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

struct LogisticQuantization {
  Shape shape;  // input and output
  QuantParams input;
  QuantParams output;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct LogisticParams {
  Shape shape;
  DataType type = DataType::int8;  // of input and output
  // int8: Q4.27 = MBQM(x - Z_in, input_multiplier) (shift >= 0, a left shift), and
  // |x - Z_in| >= input_range_radius saturates.
  std::int32_t input_zero_point = 0;
  QuantizedMultiplier input_multiplier;
  std::int32_t input_range_radius = 0;
  // int16: v = (x * table_input_multiplier + round) >> table_input_shift, in 1/(3 * 4096) units.
  std::int32_t table_input_multiplier = 0;
  int table_input_shift = 0;
  RoundingMode rounding = RoundingMode::double_rounding;
};

namespace detail {

// Spec 3.12 (shared by TANH): frexp(S_in * 2^27) taken apart directly, not QuantizeMultiplier.
// S_in is a float32, so the mantissa has 24 bits and never rounds up to 2^31.
// radius = floor(15 * 2^27 / 2^shift): beyond it the Q4.27 value would leave (-16, 16).
// The floor makes TFLite-Micro's radius too small for very coarse inputs: from S_in = 4
// (shift 30, radius 1) LOGISTIC saturates at |x| = 4, up to 4.6 steps off, and from S_in = 8
// (radius 0) both ops saturate even x = 0. tsq refuses shifts above max_shift instead (29 for
// LOGISTIC, 30 for TANH, whose saturation at |x| >= 4 stays below half a step).
inline Status q4_27_input_rescaling(const char* op, float input_scale, int max_shift,
                                    QuantizedMultiplier& multiplier, std::int32_t& radius) {
  int shift = 0;
  const double mantissa =
      std::frexp(static_cast<double>(input_scale) * 134217728.0, &shift);  // * 2^27
  if (shift < 0) {
    // TFLite-Micro's radius formula is undefined there; such inputs span less than 2^-19.
    return Status::error(ErrorCode::shift_out_of_range, op)
        .append(" int8 input scale below 2^-28 is not supported");
  }
  if (shift > max_shift) {
    return Status::error(ErrorCode::shift_out_of_range, op)
        .append(" int8 input scale too coarse (>= 2^")
        .append(max_shift - 27)
        .append("): TFLite-Micro would saturate inputs near 0");
  }
  multiplier =
      QuantizedMultiplier{static_cast<std::int32_t>(std::round(mantissa * 2147483648.0)), shift};
  radius = static_cast<std::int32_t>(std::floor(std::ldexp(15.0, 27 - shift)));
  return Status::ok();
}

// TFLite's CheckedLog2, in float32: the rounded log2 and whether the scale is a power of two
// within 1e-3 in log2.
inline bool tflite_checked_log2(float value, int& log2_rounded) {
  const float log2_value = std::log(value) * (1.0f / std::log(2.0f));
  const float rounded = std::round(log2_value);
  log2_rounded = static_cast<int>(rounded);
  return std::fabs(log2_value - rounded) < 1e-3f;
}

// The int16 table kernels' input scaling (TFLite-Micro's logistic/tanh prepare, shared by TANH).
// A power-of-two scale 2^(p) with 12 + p in [0, max_power_of_two_shift] uses the exact
// multiplier 3 * 2^(12 + p); any other scale S_in gets floor(S_in * 3 * 4096 * 2^shift) with the
// smallest shift (at most 31) that brings it above 32767 / 2.
inline Status int16_table_input_scaling(const char* op, float input_scale,
                                        int max_power_of_two_shift, std::int32_t& multiplier,
                                        int& shift) {
  int log2_rounded = 0;
  const bool power_of_two = tflite_checked_log2(input_scale, log2_rounded);
  const int power_shift = 12 + log2_rounded;
  if (power_of_two && power_shift >= 0 && power_shift <= max_power_of_two_shift) {
    multiplier = 3 << power_shift;
    shift = 0;
    return Status::ok();
  }
  double real_multiplier = static_cast<double>(input_scale) * 4096.0 * 3.0;
  shift = 0;
  while (real_multiplier <= 32767.0 / 2.0 && shift <= 30) {
    ++shift;
    real_multiplier *= 2.0;
  }
  if (!(real_multiplier < 32768.0)) {
    return Status::error(ErrorCode::invalid_scale, op)
        .append(" int16 input scale too large (S_in * 12288 must stay below 32768)");
  }
  multiplier = static_cast<std::int32_t>(real_multiplier);  // truncated, as TFLite-Micro does
  return Status::ok();
}

inline bool fixed_output_scale_near(float scale, float expected) {
  const float difference = scale > expected ? scale - expected : expected - scale;
  return !(difference > 0.001f * expected);
}

// Shared prepare of LOGISTIC and TANH: both accept int8 -> int8 and int16 -> int16 with a
// fixed output (int8: given scale and zero point; int16: 2^-15 by TFLite's CheckedLog2, 0).
// Params is LogisticParams or TanhParams (the same fields, distinct types).
template <typename Params>
Result<Params> prepare_logistic_like(const char* op, const Shape& shape, const QuantParams& input,
                                     const QuantParams& output, RoundingMode rounding,
                                     float int8_scale, const char* int8_scale_text,
                                     std::int32_t int8_zero_point, int max_int8_shift,
                                     int max_power_of_two_shift) {
  for (int axis = 0; axis < shape.rank(); ++axis) {
    if (shape[axis] < 0) {
      return Status::error(ErrorCode::shape_mismatch, op).append(" shape has a negative dimension");
    }
  }
  TSQ_RETURN_IF_ERROR(validate(input));
  TSQ_RETURN_IF_ERROR(validate(output));
  if (input.type != output.type ||
      (input.type != DataType::int8 && input.type != DataType::int16)) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" supports int8 -> int8 and int16 -> int16");
  }
  const IntegerRange full = type_range(output.type);
  if (output.quant_min != full.min || output.quant_max != full.max) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" output must use the full integer range");
  }
  Params params;
  params.shape = shape;
  params.type = input.type;
  params.rounding = rounding;
  if (input.type == DataType::int8) {
    if (output.zero_point != int8_zero_point ||
        !fixed_output_scale_near(output.scale, int8_scale)) {
      return Status::error(ErrorCode::invalid_argument, op)
          .append(" int8 output must be (")
          .append(int8_scale_text)
          .append(", ")
          .append(int8_zero_point)
          .append(")");
    }
    params.input_zero_point = input.zero_point;
    TSQ_RETURN_IF_ERROR(q4_27_input_rescaling(op, input.scale, max_int8_shift,
                                              params.input_multiplier, params.input_range_radius));
    return params;
  }
  if (input.zero_point != 0 || output.zero_point != 0) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" int16 needs zero points 0 (symmetric int16 activations)");
  }
  int output_log2 = 0;
  if (!tflite_checked_log2(output.scale, output_log2) || output_log2 != -15) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(" int16 output scale must be 2^-15");
  }
  TSQ_RETURN_IF_ERROR(int16_table_input_scaling(op, input.scale, max_power_of_two_shift,
                                                params.table_input_multiplier,
                                                params.table_input_shift));
  return params;
}

template <typename Params, typename T>
Status check_logistic_like_views(const char* op, const Params& params,
                                 const TensorView<const T>& input, const TensorView<T>& output) {
  if (params.type != data_type_of_v<T>) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" was prepared for ")
        .append(data_type_name(params.type));
  }
  if (input.shape() != params.shape || output.shape() != params.shape) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(": input ");
    append_shape(status, input.shape()).append(" and output ");
    append_shape(status, output.shape()).append(" must have the prepared shape ");
    append_shape(status, params.shape);
    return status;
  }
  if (!input.is_contiguous() || !output.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, op).append(" needs contiguous tensors");
  }
  return Status::ok();
}

// The int16 input rescaled to 1/(3 * 4096) units: |x * multiplier| <= 32768 * 32767 < 2^30, so
// adding the rounding term stays in int32.
inline std::int32_t int16_table_input(std::int16_t x, std::int32_t multiplier, int shift) {
  const std::int32_t round = shift > 0 ? std::int32_t{1} << (shift - 1) : 0;
  return (static_cast<std::int32_t>(x) * multiplier + round) >> shift;
}

// sigmoid of v in 1/(3 * 4096) units, Q0.15: |v| >> 9 indexes the sigmoid(i/24) table, the low 9
// bits interpolate (spec 4.5, steps 2-5).
inline std::int16_t sigmoid_of_table_input(std::int32_t v) {
  const auto magnitude = static_cast<std::uint32_t>(v < 0 ? -static_cast<std::int64_t>(v) : v);
  const std::uint32_t index = magnitude >> 9;
  std::uint32_t result = 0x7FFFu << 10;  // saturated
  if (index < 255) {
    const std::uint32_t base = fixed_point::kSigmoidTable[index];
    const std::uint32_t next = fixed_point::kSigmoidTable[index + 1];
    result = (base << 9) + (magnitude & 0x1FFu) * (next - base);  // unsigned Q0.25
  }
  result = v >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1;
  return static_cast<std::int16_t>(result >> 10);
}

template <RoundingMode Mode>
void logistic_int8(const LogisticParams& params, const std::int8_t* input, std::int8_t* output,
                   std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::int32_t difference = input[i] - params.input_zero_point;
    if (difference <= -params.input_range_radius) {
      output[i] = -128;
    } else if (difference >= params.input_range_radius) {
      output[i] = 127;
    } else {
      const std::int32_t input_q4_27 =
          multiply_by_quantized_multiplier<Mode>(difference, params.input_multiplier);
      // Q0.31 -> 1/256 steps, then the zero point -128.
      const std::int32_t value =
          rounding_divide_by_power_of_two(fixed_point::logistic<4>(input_q4_27), 23) - 128;
      output[i] = static_cast<std::int8_t>(tsq::clamp(value, -128, 127));
    }
  }
}

}  // namespace detail

// Validates the layer and computes the input rescaling (float math here only).
inline Result<LogisticParams> prepare_logistic(const LogisticQuantization& q) {
  return detail::prepare_logistic_like<LogisticParams>(
      "Logistic", q.shape, q.input, q.output, q.rounding, 1.0f / 256, "1/256", -128, 29, 0);
}

namespace reference {

// int8 -> int8, output (1/256, -128).
inline Status logistic(const LogisticParams& params, TensorView<const std::int8_t> input,
                       TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_logistic_like_views("Logistic", params, input, output));
  if (params.rounding == RoundingMode::double_rounding) {
    tsq::detail::logistic_int8<RoundingMode::double_rounding>(params, input.data(), output.data(),
                                                              input.element_count());
  } else {
    tsq::detail::logistic_int8<RoundingMode::single_rounding>(params, input.data(), output.data(),
                                                              input.element_count());
  }
  return Status::ok();
}

// int16 -> int16, output (2^-15, 0). The same in both rounding modes.
inline Status logistic(const LogisticParams& params, TensorView<const std::int16_t> input,
                       TensorView<std::int16_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_logistic_like_views("Logistic", params, input, output));
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) {
    output.data()[i] = tsq::detail::sigmoid_of_table_input(tsq::detail::int16_table_input(
        input.data()[i], params.table_input_multiplier, params.table_input_shift));
  }
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
