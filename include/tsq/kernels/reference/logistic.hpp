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
#include "tsq/kernels/common.hpp"
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
  PreparedMark prepared;  // set by its prepare
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
  TSQ_RETURN_IF_ERROR(check_no_negative_dimension(op, shape));
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
    mark_prepared(params);
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
  mark_prepared(params);
  return params;
}

template <typename Params, typename T>
Status check_logistic_like_views(const char* op, const Params& params,
                                 const TensorView<const T>& input, const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(check_prepared(op, params));
  TSQ_RETURN_IF_ERROR(check_prepared_type(op, params.type, data_type_of_v<T>));
  return check_elementwise_views(op, params.shape, input, output);
}

// The int16 input rescaled to 1/(3 * 4096) units: |x * multiplier| <= 32768 * 32767 < 2^30, so
// adding the rounding term stays in int32.
inline std::int32_t int16_table_input(std::int16_t x, std::int32_t multiplier, int shift) {
  const std::int32_t round = shift > 0 ? std::int32_t{1} << (shift - 1) : 0;
  return (static_cast<std::int32_t>(x) * multiplier + round) >> shift;
}

// The int8 path of LOGISTIC and TANH (spec 3.12, 3.13): x - Z_in at or beyond the input range
// radius saturates to -128 or 127; inside it is rescaled to Q4.27 and `from_q4_27` gives the
// output before the clamp.
template <RoundingMode Mode, typename Params, typename FromQ4_27>
void logistic_like_int8_elements(const Params& params, const std::int8_t* input,
                                 std::int8_t* output, std::size_t count, FromQ4_27 from_q4_27) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::int32_t difference = input[i] - params.input_zero_point;
    if (difference <= -params.input_range_radius) {
      output[i] = -128;
    } else if (difference >= params.input_range_radius) {
      output[i] = 127;
    } else {
      const std::int32_t input_q4_27 =
          multiply_by_quantized_multiplier<Mode>(difference, params.input_multiplier);
      output[i] = static_cast<std::int8_t>(tsq::clamp(from_q4_27(input_q4_27), -128, 127));
    }
  }
}

// The int8 eval of LOGISTIC and TANH: checks the views, then runs the prepared rounding mode.
template <typename Params, typename FromQ4_27>
Status logistic_like_int8(const char* op, const Params& params,
                          const TensorView<const std::int8_t>& input,
                          const TensorView<std::int8_t>& output, FromQ4_27 from_q4_27) {
  TSQ_RETURN_IF_ERROR(check_logistic_like_views(op, params, input, output));
  if (params.rounding == RoundingMode::double_rounding) {
    logistic_like_int8_elements<RoundingMode::double_rounding>(params, input.data(), output.data(),
                                                               input.element_count(), from_q4_27);
  } else {
    logistic_like_int8_elements<RoundingMode::single_rounding>(params, input.data(), output.data(),
                                                               input.element_count(), from_q4_27);
  }
  return Status::ok();
}

// The int16 eval of LOGISTIC and TANH (the same in both rounding modes): checks the views, then
// maps each input, rescaled to 1/(3 * 4096) units, through `of_table_input`.
template <typename Params, typename OfTableInput>
Status logistic_like_int16(const char* op, const Params& params,
                           const TensorView<const std::int16_t>& input,
                           const TensorView<std::int16_t>& output, OfTableInput of_table_input) {
  TSQ_RETURN_IF_ERROR(check_logistic_like_views(op, params, input, output));
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) {
    output.data()[i] = of_table_input(int16_table_input(
        input.data()[i], params.table_input_multiplier, params.table_input_shift));
  }
  return Status::ok();
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
  return tsq::detail::logistic_like_int8(
      "Logistic", params, input, output, [](std::int32_t input_q4_27) {
        // Q0.31 -> 1/256 steps, then the zero point -128.
        return rounding_divide_by_power_of_two(fixed_point::logistic<4>(input_q4_27), 23) - 128;
      });
}

// int16 -> int16, output (2^-15, 0). The same in both rounding modes.
inline Status logistic(const LogisticParams& params, TensorView<const std::int16_t> input,
                       TensorView<std::int16_t> output) {
  return tsq::detail::logistic_like_int16("Logistic", params, input, output, [](std::int32_t v) {
    return fixed_point::detail::sigmoid_of_table_input(v);
  });
}

}  // namespace reference
}  // namespace tsq
