// SPDX-License-Identifier: Apache-2.0
// Tanh, integer reference, elementwise.
//
//   int8  -> int8   output (1/128, 0). Spec 3.13: the input rescaling of LOGISTIC (Q4.27,
//                   saturation beyond input_range_radius), gemmlowp's fixed-point tanh, no
//                   output zero point. -1.0 is reachable as -128; +1.0 saturates at 127. The
//                   outputs do not depend on the rounding mode (the rescaling is a left shift).
//   int16 -> int16  input zero point 0, output (2^-15, 0). TFLite-Micro's table kernel:
//                   tanh(x) = 2 sigmoid(2x) - 1 on the spec 4.5 sigmoid table, the input in
//                   1/(3 * 4096) units (exact multipliers 3 and 6 for input scales 2^-12 and
//                   2^-11, otherwise an integer multiplier and a rounding right shift).
//
// TFLite-Micro checks no int8 output parameter; tsq rejects any output other than the fixed one
// (scale within 0.1 %).
#pragma once

#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/reference/logistic.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/fixed_point_math.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

struct TanhQuantization {
  Shape shape;  // input and output
  QuantParams input;
  QuantParams output;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: the fields of LogisticParams (the prepare is the same, spec 3.13), as a
// distinct type so that a Tanh layer's params cannot be passed to logistic() by mistake.
struct TanhParams {
  Shape shape;
  DataType type = DataType::int8;
  std::int32_t input_zero_point = 0;        // int8
  QuantizedMultiplier input_multiplier;     // int8: to Q4.27, shift >= 0
  std::int32_t input_range_radius = 0;      // int8
  std::int32_t table_input_multiplier = 0;  // int16: to 1/(3 * 4096) units
  int table_input_shift = 0;                // int16
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

// Validates the layer and computes the input rescaling (float math here only).
inline Result<TanhParams> prepare_tanh(const TanhQuantization& q) {
  return detail::prepare_logistic_like<TanhParams>("Tanh", q.shape, q.input, q.output, q.rounding,
                                                   1.0f / 128, "1/128", 0, 30, 1);
}

namespace reference {

// int8 -> int8, output (1/128, 0).
inline Status tanh(const TanhParams& params, TensorView<const std::int8_t> input,
                   TensorView<std::int8_t> output) {
  return tsq::detail::logistic_like_int8(
      "Tanh", params, input, output, [](std::int32_t input_q4_27) {
        // Q0.31 -> 1/128 steps.
        return rounding_divide_by_power_of_two(fixed_point::tanh<4>(input_q4_27), 24);
      });
}

// int16 -> int16, output (2^-15, 0). The same in both rounding modes.
inline Status tanh(const TanhParams& params, TensorView<const std::int16_t> input,
                   TensorView<std::int16_t> output) {
  return tsq::detail::logistic_like_int16("Tanh", params, input, output, [](std::int32_t v) {
    return fixed_point::detail::tanh_of_table_input(v);
  });
}

}  // namespace reference
}  // namespace tsq
