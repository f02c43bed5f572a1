// SPDX-License-Identifier: Apache-2.0
// Integer LSTM (spec section 4): TFLite-Micro's "8x8_16" algorithm, the same algorithm with
// int16 input and hidden state ("16x8"), and tsq's extension of 8x8_16 that keeps the recurrent
// hidden state in int16 while the layer's input and output stay int8.
//
//   weights    input [4H, I] and recurrent [4H, H], rows gate-major (i, f, c, o), symmetric int8
//              (or int16: tsq's mixed precision, int64 accumulators and the 16-bit multiply of
//              spec 2.5); one scale per gate (TFLite) or one per gate row (tsq's quantization)
//   bias       int32 [4H], scale S_x * S_W[row]
//   input x    int8 (any zero point) or int16 (zero point 0)
//   hidden h   the layer's output, same type as x; in TFLite's scheme also the recurrent state
//   state s    the hidden state fed back to the next step: h itself, or (tsq's extension for int8
//              layers) an int16 symmetric copy, which removes the int8 rounding noise from the
//              recurrence; the int8 output is then rounded from the same product o * tanh(c)
//   cell c     int16 with scale 2^p (p = cell exponent); gate pre-activations Q3.12, gate
//              outputs Q0.15
//
// Per step and gate row r (TFLite-Micro computes exactly this):
//   u = sat16(round(M_x[r] * (b'[r] + sum_k W[r,k] x_k)))         M_x = S_x S_W[r] / 2^-12
//   v = sat16(round(M_h[r] * (b''[r] + sum_k R[r,k] s_k)))        M_h = S_s S_R[r] / 2^-12
//   a = sat16(u + v); i, f, o = sigmoid(a) and g = tanh(a) from the int16 tables (Q0.15)
//   (TFLite saturates u and v to int16 before the sum; tsq's extension saturates only the sum)
//   c = sat16(round(f c 2^-15)) + sat16(round(i g 2^-30 / 2^p)), saturated, optionally clipped
//   h = clamp(Z_h + round(o tanh(c) 2^-30 / S_h)),  s = h or clamp(round(o tanh(c) 2^-30 / S_s))
// where b' = b - Z_x sum_k W[r,k] and b'' = -Z_s sum_k R[r,k] fold the zero points at prepare
// time (integer-identical to subtracting them in every MAC).
//
// The input products of all time steps do not depend on the state, so `lstm` computes them as one
// matrix product before the recurrence; `lstm_step` does one step for streaming use. Both give the
// same bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/fixed_point_math.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// Everything prepare needs to know about a quantized LSTM layer.
struct LstmQuantization {
  QuantParams input;         // int8, or int16 with zero point 0
  QuantParams hidden;        // the output: same type as input
  bool int16_state = false;  // tsq's extension (int8 layers only), see above
  float state_scale = 0.0f;  // scale of the int16 state (zero point 0)
  // TFLite saturates the input and the recurrent product of a gate to int16 (Q3.12, +-8) each,
  // then adds them: with large inputs (conv features in the hundreds) two saturated terms of
  // opposite signs sum to nonsense. tsq's extension (false) adds them in int32 and saturates
  // once; results are identical whenever neither term saturates.
  bool saturate_gate_products = true;
  float cell_scale = 1.0f / 4096.0f;          // must be an exact power of two
  Span<const float> input_weight_scales;      // 4 (per gate) or 4H (per gate row)
  Span<const float> recurrent_weight_scales;  // 4 or 4H
  // Real-valued |c| limit; 0 = no clip. As in TFLite-Micro, any clip > 0 clamps the cell to
  // +-int16(clip / S_c) (truncated): a clip below one cell step S_c forces the cell to 0 at every
  // step, which makes the layer's output depend on the input of the current step only.
  float cell_clip = 0.0f;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Gate weights, rows gate-major (i, f, c, o). int8 is TFLite's scheme; int16 weights are tsq's
// mixed-precision option for layers whose inputs have a wide dynamic range, where int8 weight
// rounding dominates the error (int64 accumulators then).
template <typename Weight>
struct LstmIntegerWeights {
  TensorView<const Weight> input_weights;      // [4H, I]
  TensorView<const Weight> recurrent_weights;  // [4H, H]
  Span<const std::int32_t> bias;               // [4H], may be empty
};
using LstmWeightsInt8 = LstmIntegerWeights<std::int8_t>;
using LstmWeightsInt16 = LstmIntegerWeights<std::int16_t>;

// Integers only: what eval reads.
struct LstmParams {
  std::int32_t input_size = 0;
  std::int32_t hidden_size = 0;
  DataType state_type = DataType::int8;  // the recurrent state's element type
  DataType weight_type = DataType::int8;
  bool separate_state = false;         // state is an int16 copy, not the output itself
  bool saturate_gate_products = true;  // TFLite's separate int16 saturation of u and v
  std::int32_t hidden_zero_point = 0;  // output
  Span<const QuantizedMultiplier> input_multipliers;      // 4H
  Span<const QuantizedMultiplier> recurrent_multipliers;  // 4H
  Span<const std::int32_t> input_effective_bias;          // 4H: b - Z_x * row sums of W
  Span<const std::int32_t> recurrent_effective_bias;      // 4H: -Z_h * row sums of R
  QuantizedMultiplier forget_cell_multiplier;             // 2^-15 (f * c -> c)
  QuantizedMultiplier input_cell_multiplier;              // 2^-30 / S_c (i * g -> c)
  QuantizedMultiplier hidden_multiplier;                  // 2^-30 / S_h (o * tanh(c) -> h)
  QuantizedMultiplier state_multiplier;                   // 2^-30 / S_s (o * tanh(c) -> s)
  int cell_exponent = -12;                                // S_c = 2^cell_exponent
  bool clip_cell = false;                                 // clamp c to +-quantized_cell_clip
  std::int16_t quantized_cell_clip = 0;                   // may be 0: the cell stays 0
  std::int32_t hidden_min = -128;
  std::int32_t hidden_max = 127;
  std::int32_t state_zero_point = 0;
  std::int32_t state_min = -128;
  std::int32_t state_max = 127;
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by prepare_lstm
};

// Caller storage that prepare fills and the params then point into (8H entries each).
constexpr std::size_t lstm_prepare_storage_size(std::int32_t hidden_size) {
  return 2 * kLstmGateCount * static_cast<std::size_t>(hidden_size > 0 ? hidden_size : 0);
}

// int32 scratch of one streaming step, and of a whole window of `steps` (the input products of
// every step, computed before the recurrence, plus the step buffer).
constexpr std::size_t lstm_step_scratch_size(std::int32_t hidden_size) {
  return 2 * kLstmGateCount * static_cast<std::size_t>(hidden_size > 0 ? hidden_size : 0);
}
constexpr std::size_t lstm_scratch_size(std::int32_t steps, std::int32_t hidden_size) {
  return (static_cast<std::size_t>(steps > 0 ? steps : 0) + 1) * kLstmGateCount *
         static_cast<std::size_t>(hidden_size > 0 ? hidden_size : 0);
}

namespace detail {

inline Status check_gate_scales(const char* what, Span<const float> scales,
                                std::int32_t hidden_size) {
  const auto rows = static_cast<std::size_t>(kLstmGateCount * hidden_size);
  if (scales.size() != static_cast<std::size_t>(kLstmGateCount) && scales.size() != rows) {
    return Status::error(ErrorCode::shape_mismatch, what)
        .append(" weight scales: need 4 or ")
        .append(rows)
        .append(", got ")
        .append(scales.size());
  }
  for (std::size_t i = 0; i < scales.size(); ++i) {
    if (!validate_scale(scales[i]).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, what)
          .append(" weight scale ")
          .append(i)
          .append(" is not finite and > 0");
    }
  }
  return Status::ok();
}

// Scale of gate row r when there is one scale per gate or one per row.
inline float row_scale(Span<const float> scales, std::int32_t row, std::int32_t hidden_size) {
  return scales.size() == static_cast<std::size_t>(kLstmGateCount)
             ? scales[static_cast<std::size_t>(row / hidden_size)]
             : scales[static_cast<std::size_t>(row)];
}

}  // namespace detail

// Validates and computes the integer params. `multiplier_storage` and `bias_storage` need
// lstm_prepare_storage_size(H) entries each and must outlive the params.
template <typename Weight>
Result<LstmParams> prepare_lstm(const LstmQuantization& q,
                                const LstmIntegerWeights<Weight>& weights,
                                Span<QuantizedMultiplier> multiplier_storage,
                                Span<std::int32_t> bias_storage) {
  TSQ_RETURN_IF_ERROR(validate(q.input));
  TSQ_RETURN_IF_ERROR(validate(q.hidden));
  if (q.input.type != q.hidden.type ||
      (q.input.type != DataType::int8 && q.input.type != DataType::int16)) {
    return Status::error(ErrorCode::unsupported_type,
                         "LSTM: input and hidden must both be int8 or both int16");
  }
  if (q.input.type == DataType::int16 && (q.input.zero_point != 0 || q.hidden.zero_point != 0)) {
    return Status::error(ErrorCode::invalid_argument, "int16 LSTM needs zero points 0");
  }
  if (q.int16_state && q.input.type != DataType::int8) {
    return Status::error(ErrorCode::invalid_argument, "an int16 state is for int8 LSTMs only");
  }
  if (q.int16_state) TSQ_RETURN_IF_ERROR(validate_scale(q.state_scale));
  // The recurrent FullyConnected reads the state: its scale and zero point.
  const float state_scale = q.int16_state ? q.state_scale : q.hidden.scale;
  const std::int32_t state_zero_point = q.int16_state ? 0 : q.hidden.zero_point;
  TSQ_RETURN_IF_ERROR(validate_scale(q.cell_scale));
  int exponent = 0;
  if (std::frexp(static_cast<double>(q.cell_scale), &exponent) != 0.5) {
    return Status::error(ErrorCode::invalid_scale, "LSTM cell scale must be an exact power of two");
  }
  const int cell_exponent = exponent - 1;
  if (cell_exponent < -43 || cell_exponent > 2) {
    return Status::error(ErrorCode::shift_out_of_range, "LSTM cell scale 2^")
        .append(cell_exponent)
        .append(" outside 2^-43..2^2");
  }
  if (!std::isfinite(q.cell_clip) || q.cell_clip < 0.0f) {
    return Status::error(ErrorCode::invalid_argument, "LSTM cell clip must be finite and >= 0");
  }
  static_assert(sizeof(Weight) <= 2, "int8 or int16 weights");
  const TensorView<const Weight>& w = weights.input_weights;
  const TensorView<const Weight>& r = weights.recurrent_weights;
  if (r.rank() != 2 || r.dim(0) % kLstmGateCount != 0 || r.dim(0) / kLstmGateCount != r.dim(1) ||
      r.dim(1) < 1) {
    return shape_mismatch_error("LSTM recurrent weights", r.shape(),
                                Shape{kLstmGateCount * r.dim(1), r.dim(1)});
  }
  const std::int32_t hidden_size = r.dim(1);
  const std::int32_t rows = kLstmGateCount * hidden_size;
  if (w.rank() != 2 || w.dim(0) != rows || w.dim(1) < 1) {
    return shape_mismatch_error("LSTM input weights", w.shape(),
                                Shape{rows, w.rank() == 2 ? w.dim(1) : 1});
  }
  const std::int32_t input_size = w.dim(1);
  // An int16 state with int8 weights keeps int32 accumulators: H * 128 * 32768 < 2^31.
  if (input_size > kMaxAccumulationDepth || hidden_size > kMaxAccumulationDepth ||
      (q.int16_state && sizeof(Weight) == 1 && hidden_size > 511)) {
    return Status::error(ErrorCode::invalid_argument,
                         "LSTM input or hidden size exceeds the accumulator limit");
  }
  if (!w.is_contiguous() || !r.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, "LSTM weights must be contiguous");
  }
  if (!weights.bias.empty() && weights.bias.size() != static_cast<std::size_t>(rows)) {
    return Status::error(ErrorCode::shape_mismatch, "LSTM bias has ")
        .append(weights.bias.size())
        .append(" values, expected ")
        .append(rows);
  }
  TSQ_RETURN_IF_ERROR(detail::check_gate_scales("LSTM input", q.input_weight_scales, hidden_size));
  TSQ_RETURN_IF_ERROR(
      detail::check_gate_scales("LSTM recurrent", q.recurrent_weight_scales, hidden_size));
  const std::size_t storage = lstm_prepare_storage_size(hidden_size);
  if (multiplier_storage.size() < storage || bias_storage.size() < storage) {
    return Status::error(ErrorCode::buffer_too_small, "LSTM prepare storage needs ")
        .append(storage)
        .append(" entries each");
  }

  // Gate FullyConnected multipliers, formed as TFLite-Micro does: float32(S_in * S_w) / 2^-12.
  constexpr double kGateInputScale = 1.0 / 4096.0;  // Q3.12
  for (std::int32_t row = 0; row < rows; ++row) {
    const float input_product =
        q.input.scale * detail::row_scale(q.input_weight_scales, row, hidden_size);
    const float recurrent_product =
        state_scale * detail::row_scale(q.recurrent_weight_scales, row, hidden_size);
    const auto input_multiplier =
        quantize_multiplier(static_cast<double>(input_product) / kGateInputScale, q.rounding);
    const auto recurrent_multiplier =
        quantize_multiplier(static_cast<double>(recurrent_product) / kGateInputScale, q.rounding);
    if (!input_multiplier.is_ok()) return input_multiplier.status();
    if (!recurrent_multiplier.is_ok()) return recurrent_multiplier.status();
    if (q.input.type == DataType::int16 &&
        (input_multiplier->shift >= 8 || recurrent_multiplier->shift >= 8)) {
      return Status::error(ErrorCode::shift_out_of_range, "int16 LSTM gate multiplier too large");
    }
    multiplier_storage[static_cast<std::size_t>(row)] = input_multiplier.value();
    multiplier_storage[static_cast<std::size_t>(rows + row)] = recurrent_multiplier.value();
    // Zero-point folding, in 64 bits to prove it fits the int32 the kernel adds it to.
    std::int64_t input_sum = 0, recurrent_sum = 0;
    for (std::int32_t k = 0; k < input_size; ++k) input_sum += w(row, k);
    for (std::int32_t k = 0; k < hidden_size; ++k) recurrent_sum += r(row, k);
    const std::int64_t input_bias =
        (weights.bias.empty() ? 0 : weights.bias[static_cast<std::size_t>(row)]) -
        q.input.zero_point * input_sum;
    const std::int64_t recurrent_bias =
        -static_cast<std::int64_t>(state_zero_point) * recurrent_sum;
    if (input_bias < kInt32Min || input_bias > kInt32Max) {
      return Status::error(ErrorCode::invalid_argument, "LSTM bias of row ")
          .append(row)
          .append(" overflows int32 after zero-point folding");
    }
    bias_storage[static_cast<std::size_t>(row)] = static_cast<std::int32_t>(input_bias);
    bias_storage[static_cast<std::size_t>(rows + row)] = static_cast<std::int32_t>(recurrent_bias);
  }
  // Element-wise products, with the exact powers of two of the gate formats (spec 4.4).
  constexpr double kGateOutputScale = 1.0 / 32768.0;  // Q0.15
  const double cell_scale = q.cell_scale;
  const auto forget_cell =
      quantize_multiplier(kGateOutputScale * cell_scale / cell_scale, q.rounding);
  const auto input_cell =
      quantize_multiplier(kGateOutputScale * kGateOutputScale / cell_scale, q.rounding);
  const auto hidden = quantize_multiplier(
      kGateOutputScale * kGateOutputScale / static_cast<double>(q.hidden.scale), q.rounding);
  if (!forget_cell.is_ok()) return forget_cell.status();
  if (!input_cell.is_ok()) return input_cell.status();
  if (!hidden.is_ok()) return hidden.status();
  const auto state = quantize_multiplier(
      kGateOutputScale * kGateOutputScale / static_cast<double>(state_scale), q.rounding);
  if (!state.is_ok()) return state.status();

  LstmParams params;
  params.input_size = input_size;
  params.hidden_size = hidden_size;
  params.hidden_zero_point = q.hidden.zero_point;
  params.input_multipliers =
      Span<const QuantizedMultiplier>(multiplier_storage.data(), static_cast<std::size_t>(rows));
  params.recurrent_multipliers = Span<const QuantizedMultiplier>(multiplier_storage.data() + rows,
                                                                 static_cast<std::size_t>(rows));
  params.input_effective_bias =
      Span<const std::int32_t>(bias_storage.data(), static_cast<std::size_t>(rows));
  params.recurrent_effective_bias =
      Span<const std::int32_t>(bias_storage.data() + rows, static_cast<std::size_t>(rows));
  params.forget_cell_multiplier = forget_cell.value();
  params.input_cell_multiplier = input_cell.value();
  params.hidden_multiplier = hidden.value();
  params.cell_exponent = cell_exponent;
  if (q.cell_clip > 0.0f) {
    const double clip = static_cast<double>(q.cell_clip) / cell_scale;
    params.clip_cell = true;
    params.quantized_cell_clip = static_cast<std::int16_t>(clip > 32767.0 ? 32767.0 : clip);
  }
  params.hidden_min = q.hidden.quant_min;
  params.hidden_max = q.hidden.quant_max;
  params.state_type = q.int16_state ? DataType::int16 : q.hidden.type;
  params.separate_state = q.int16_state;
  params.weight_type = data_type_of_v<Weight>;
  params.saturate_gate_products = q.saturate_gate_products;
  params.state_multiplier = state.value();
  params.state_zero_point = state_zero_point;
  params.state_min = q.int16_state ? -32768 : q.hidden.quant_min;
  params.state_max = q.int16_state ? 32767 : q.hidden.quant_max;
  params.rounding = q.rounding;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

// Keeps a template parameter out of deduction, so that callers name <Activation, State> and
// pass std::vector or Span arguments alike.
template <typename T>
struct non_deduced {
  using type = T;
};
template <typename T>
using non_deduced_t = typename non_deduced<T>::type;

// out[r] = M[r] * (bias[r] + sum_k weights[r, k] * x[k]) for the 4H gate rows, saturated to int16
// in TFLite's scheme (`saturate`), or left in int32 so that only the gate's sum saturates. Wide:
// the int64 accumulators and 16-bit multipliers of TFLite's 16x8 scheme; otherwise int32 and the
// 32-bit multiply in the chosen rounding mode.
template <RoundingMode Mode, bool Wide, typename Weight, typename Element>
void lstm_gate_products(const Weight* weights, std::int32_t depth, const Element* x,
                        Span<const std::int32_t> bias, Span<const QuantizedMultiplier> multipliers,
                        bool saturate, std::int32_t* out) {
  const auto rows = static_cast<std::int32_t>(multipliers.size());
  for (std::int32_t r = 0; r < rows; ++r) {
    const Weight* row = weights + static_cast<std::ptrdiff_t>(r) * depth;
    const QuantizedMultiplier m = multipliers[static_cast<std::size_t>(r)];
    std::int32_t value = 0;
    if constexpr (Wide) {
      std::int64_t accumulator = bias[static_cast<std::size_t>(r)];
      for (std::int32_t k = 0; k < depth; ++k)
        accumulator += static_cast<std::int32_t>(row[k]) * x[k];
      value = multiply_by_quantized_multiplier_int64(accumulator, m);
    } else {
      std::int32_t accumulator = bias[static_cast<std::size_t>(r)];
      for (std::int32_t k = 0; k < depth; ++k)
        accumulator += static_cast<std::int32_t>(row[k]) * x[k];
      value = multiply_by_quantized_multiplier<Mode>(accumulator, m);
    }
    out[r] = saturate ? saturate_to_int16(value) : value;
  }
}

template <typename Activation, typename State>
Status check_lstm_types(const LstmParams& p) {
  static_assert(sizeof(Activation) == 1 || sizeof(Activation) == 2, "int8 or int16 activations");
  TSQ_RETURN_IF_ERROR(check_prepared("LSTM", p));
  const auto rows =
      static_cast<std::size_t>(kLstmGateCount) * static_cast<std::size_t>(p.hidden_size);
  if (p.hidden_size < 1 || p.input_multipliers.size() != rows ||
      p.recurrent_multipliers.size() != rows || p.input_effective_bias.size() != rows ||
      p.recurrent_effective_bias.size() != rows) {
    return Status::error(ErrorCode::invalid_argument,
                         "LSTM params are inconsistent: per-row values do not match 4 * hidden");
  }
  if (data_type_of_v<State> != p.state_type) {
    return Status::error(ErrorCode::unsupported_type, "LSTM state element type is not ")
        .append(data_type_name(p.state_type));
  }
  if (!p.separate_state && data_type_of_v<Activation> != p.state_type) {
    return Status::error(ErrorCode::unsupported_type,
                         "LSTM activation type does not match the prepared layer");
  }
  return Status::ok();
}

// The elementwise half of a step for hidden unit j, from the gate pre-activations a (Q3.12,
// gates i, f, c, o at j, H + j, 2H + j, 3H + j): updates the cell and the state, writes the
// output. The SIMD LSTM runs this same function where it has no vector form.
template <RoundingMode Mode, typename Activation, typename State>
inline void lstm_unit(const LstmParams& p, const std::int32_t* gates, std::int32_t j, State* state,
                      std::int16_t* cell, Activation* output) {
  const std::int32_t h = p.hidden_size;
  const std::int32_t input_gate = fixed_point::sigmoid_q3_12(static_cast<std::int16_t>(gates[j]));
  const std::int32_t forget_gate =
      fixed_point::sigmoid_q3_12(static_cast<std::int16_t>(gates[h + j]));
  const std::int32_t cell_gate =
      fixed_point::tanh_int16(static_cast<std::int16_t>(gates[2 * h + j]), -12);
  const std::int32_t output_gate =
      fixed_point::sigmoid_q3_12(static_cast<std::int16_t>(gates[3 * h + j]));
  const std::int32_t kept = saturate_to_int16(
      multiply_by_quantized_multiplier<Mode>(forget_gate * cell[j], p.forget_cell_multiplier));
  const std::int32_t added = saturate_to_int16(
      multiply_by_quantized_multiplier<Mode>(input_gate * cell_gate, p.input_cell_multiplier));
  std::int32_t new_cell = saturate_to_int16(kept + added);
  if (p.clip_cell) {
    new_cell = clamp(new_cell, -p.quantized_cell_clip, p.quantized_cell_clip);
  }
  cell[j] = static_cast<std::int16_t>(new_cell);
  const std::int32_t product = output_gate * fixed_point::tanh_int16(cell[j], p.cell_exponent);
  const std::int32_t value =
      p.hidden_zero_point + multiply_by_quantized_multiplier<Mode>(product, p.hidden_multiplier);
  output[j] = static_cast<Activation>(clamp(value, p.hidden_min, p.hidden_max));
  if (p.separate_state) {
    const std::int32_t state_value =
        p.state_zero_point + multiply_by_quantized_multiplier<Mode>(product, p.state_multiplier);
    state[j] = static_cast<State>(clamp(state_value, p.state_min, p.state_max));
  } else {
    state[j] = static_cast<State>(output[j]);
  }
}

// a = sat16(u + v) of one gate row, with the sum in int64 so that two unsaturated int32 terms
// (tsq's extension) saturate once.
inline std::int32_t lstm_gate_sum(std::int32_t input_product, std::int32_t recurrent_product) {
  return saturate_to_int16(
      saturate_to_int32(static_cast<std::int64_t>(input_product) + recurrent_product));
}

// The recurrent half of a step: `input_products` holds u for this step. Updates the state and
// the cell and writes the step's output (which is the state itself unless separate_state).
template <RoundingMode Mode, typename Activation, typename State, typename Weight>
void lstm_recurrence(const LstmParams& p, const LstmIntegerWeights<Weight>& weights,
                     const std::int32_t* input_products, State* state, std::int16_t* cell,
                     Activation* output, std::int32_t* gates) {
  constexpr bool kWide = sizeof(Activation) == 2 || sizeof(Weight) == 2;
  const std::int32_t h = p.hidden_size;
  lstm_gate_products<Mode, kWide>(weights.recurrent_weights.data(), h, state,
                                  p.recurrent_effective_bias, p.recurrent_multipliers,
                                  p.saturate_gate_products, gates);
  for (std::int32_t r = 0; r < kLstmGateCount * h; ++r) {
    gates[r] = lstm_gate_sum(input_products[r], gates[r]);
  }
  for (std::int32_t j = 0; j < h; ++j) lstm_unit<Mode>(p, gates, j, state, cell, output);
}

template <typename Weight>
Status check_lstm_weights(const LstmParams& p, const LstmIntegerWeights<Weight>& weights) {
  TSQ_RETURN_IF_ERROR(
      check_views_usable("LSTM weights", weights.input_weights, weights.recurrent_weights));
  TSQ_RETURN_IF_ERROR(check_contiguous("LSTM", weights.input_weights, weights.recurrent_weights));
  if (data_type_of_v<Weight> != p.weight_type) {
    return Status::error(ErrorCode::unsupported_type, "LSTM weights are not ")
        .append(data_type_name(p.weight_type));
  }
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  if (weights.input_weights.shape() != Shape{rows, p.input_size}) {
    return shape_mismatch_error("LSTM input weights", weights.input_weights.shape(),
                                Shape{rows, p.input_size});
  }
  if (weights.recurrent_weights.shape() != Shape{rows, p.hidden_size}) {
    return shape_mismatch_error("LSTM recurrent weights", weights.recurrent_weights.shape(),
                                Shape{rows, p.hidden_size});
  }
  return Status::ok();
}

template <RoundingMode Mode, typename Activation, typename State, typename Weight>
void lstm_sequence(const LstmParams& p, const LstmIntegerWeights<Weight>& weights,
                   const TensorView<const Activation>& input, const TensorView<Activation>& output,
                   State* state_data, std::int16_t* cell_state, std::int32_t* scratch,
                   bool reverse) {
  constexpr bool kWide = sizeof(Activation) == 2 || sizeof(Weight) == 2;
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  const std::int32_t gate_rows = kLstmGateCount * p.hidden_size;
  const bool sequences = output.rank() == 3;
  std::int32_t* gates = scratch + static_cast<std::ptrdiff_t>(steps) * gate_rows;
  for (std::int32_t b = 0; b < batches; ++b) {
    // The input products of every step first: one [steps, I] x [I, 4H] matrix product.
    for (std::int32_t t = 0; t < steps; ++t) {
      lstm_gate_products<Mode, kWide>(weights.input_weights.data(), p.input_size, &input(b, t, 0),
                                      p.input_effective_bias, p.input_multipliers,
                                      p.saturate_gate_products,
                                      scratch + static_cast<std::ptrdiff_t>(t) * gate_rows);
    }
    State* state = state_data + static_cast<std::ptrdiff_t>(b) * p.hidden_size;
    std::int16_t* cell = cell_state + static_cast<std::ptrdiff_t>(b) * p.hidden_size;
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      // Sequence outputs are written in place; a last-step output is overwritten every step.
      Activation* out = sequences ? &output(b, t, 0) : &output(b, 0);
      lstm_recurrence<Mode>(p, weights, scratch + static_cast<std::ptrdiff_t>(t) * gate_rows, state,
                            cell, out, gates);
    }
  }
}

}  // namespace detail

namespace detail {

// The shapes of a window call (input [batch, time, I] contiguous; output [batch, time, H] or
// [batch, H] with unit stride along H; state and cell batch * H), shared by every integer LSTM
// kernel.
template <typename Output>
Status check_lstm_window_shapes(const LstmParams& p, const Shape& input, bool input_contiguous,
                                const TensorView<Output>& output, std::size_t state_size,
                                std::size_t cell_size) {
  if (input.rank() != 3 || input[2] != p.input_size || !input_contiguous) {
    return shape_mismatch_error(
        "LSTM input", input,
        Shape{input.rank() == 3 ? input[0] : 1, input.rank() == 3 ? input[1] : 1, p.input_size});
  }
  const std::int32_t batches = input[0];
  const std::int32_t steps = input[1];
  TSQ_RETURN_IF_ERROR(check_lstm_steps(steps));
  const Shape expected =
      output.rank() == 3 ? Shape{batches, steps, p.hidden_size} : Shape{batches, p.hidden_size};
  if (output.shape() != expected || output.stride(output.rank() - 1) != 1) {
    return shape_mismatch_error("LSTM output", output.shape(), expected);
  }
  const std::size_t expected_state =
      static_cast<std::size_t>(batches) * static_cast<std::size_t>(p.hidden_size);
  if (state_size != expected_state || cell_size != expected_state) {
    return Status::error(ErrorCode::shape_mismatch, "LSTM state must hold batch * hidden = ")
        .append(expected_state);
  }
  return Status::ok();
}

// Every check of a window call, before anything is written (Bidirectional checks both
// directions with it before running either).
template <typename Activation, typename State, typename Weight>
Status check_lstm_window(const LstmParams& p, const LstmIntegerWeights<Weight>& weights,
                         const TensorView<const Activation>& input,
                         const TensorView<Activation>& output, Span<const State> state,
                         Span<const std::int16_t> cell_state, Span<const std::int32_t> scratch) {
  TSQ_RETURN_IF_ERROR((check_lstm_types<Activation, State>(p)));
  TSQ_RETURN_IF_ERROR(check_lstm_weights(p, weights));
  TSQ_RETURN_IF_ERROR(check_views_usable("LSTM", input, output));
  TSQ_RETURN_IF_ERROR(check_spans_usable("LSTM", state, cell_state, scratch));
  TSQ_RETURN_IF_ERROR(check_lstm_window_shapes(p, input.shape(), input.is_contiguous(), output,
                                               state.size(), cell_state.size()));
  const std::int32_t steps = input.dim(1);
  if (scratch.size() < lstm_scratch_size(steps, p.hidden_size)) {
    return Status::error(ErrorCode::buffer_too_small, "LSTM scratch needs ")
        .append(lstm_scratch_size(steps, p.hidden_size))
        .append(" int32 values");
  }
  return Status::ok();
}

}  // namespace detail

namespace reference {

// One time step of one batch row (streaming): x [I]; state [H] and cell [H] are updated in
// place and output [H] receives the step's output (it may be the same span as the state when
// the state is the output). scratch: lstm_step_scratch_size(H) int32 values.
template <typename Activation, typename State = Activation, typename Weight>
Status lstm_step(const LstmParams& p, const LstmIntegerWeights<Weight>& weights,
                 Span<const detail::non_deduced_t<Activation>> x,
                 Span<detail::non_deduced_t<State>> state, Span<std::int16_t> cell,
                 Span<detail::non_deduced_t<Activation>> output, Span<std::int32_t> scratch) {
  TSQ_RETURN_IF_ERROR((detail::check_lstm_types<Activation, State>(p)));
  TSQ_RETURN_IF_ERROR(detail::check_lstm_weights(p, weights));
  TSQ_RETURN_IF_ERROR(detail::check_spans_usable("LSTM step", x, state, cell, output, scratch));
  const auto h = static_cast<std::size_t>(p.hidden_size);
  if (x.size() != static_cast<std::size_t>(p.input_size) || state.size() != h || cell.size() != h ||
      output.size() != h) {
    return Status::error(
        ErrorCode::shape_mismatch,
        "LSTM step: input/state/cell/output sizes do not match the prepared layer");
  }
  if (scratch.size() < lstm_step_scratch_size(p.hidden_size)) {
    return Status::error(ErrorCode::buffer_too_small, "LSTM step scratch needs ")
        .append(lstm_step_scratch_size(p.hidden_size))
        .append(" int32 values");
  }
  constexpr bool kWide = sizeof(Activation) == 2 || sizeof(Weight) == 2;
  std::int32_t* input_products = scratch.data();
  std::int32_t* gates = scratch.data() + kLstmGateCount * p.hidden_size;
  if (p.rounding == RoundingMode::double_rounding) {
    detail::lstm_gate_products<RoundingMode::double_rounding, kWide>(
        weights.input_weights.data(), p.input_size, x.data(), p.input_effective_bias,
        p.input_multipliers, p.saturate_gate_products, input_products);
    detail::lstm_recurrence<RoundingMode::double_rounding>(p, weights, input_products, state.data(),
                                                           cell.data(), output.data(), gates);
  } else {
    detail::lstm_gate_products<RoundingMode::single_rounding, kWide>(
        weights.input_weights.data(), p.input_size, x.data(), p.input_effective_bias,
        p.input_multipliers, p.saturate_gate_products, input_products);
    detail::lstm_recurrence<RoundingMode::single_rounding>(p, weights, input_products, state.data(),
                                                           cell.data(), output.data(), gates);
  }
  return Status::ok();
}

// The gate pre-activations a = sat16(u + v) of the last lstm_step on `scratch` (4H values,
// Q3.12, gates i, f, c, o), as the sigmoid and tanh tables read them: the step leaves them after
// its input products. Reading them changes nothing; the debugger compares them with the float
// layer's. Empty when the scratch is too small to hold them.
inline Span<const std::int32_t> lstm_step_gate_pre_activations(Span<const std::int32_t> scratch,
                                                               std::int32_t hidden_size) {
  const std::size_t rows = lstm_step_scratch_size(hidden_size) / 2;
  if (rows == 0 || scratch.size() < 2 * rows) return Span<const std::int32_t>();
  return scratch.subspan(rows, rows);
}

// A window: input [batch, time, I]; output [batch, time, H] (every step) or [batch, H] (last
// step). state [batch * H] (start at the state's zero point: the hidden zero point, or 0 for an
// int16 state) and cell_state [batch * H] (start at 0) hold the initial state and receive the
// final one. scratch: lstm_scratch_size(time, H) int32 values. `reverse` runs time backwards.
template <typename Activation, typename State = Activation, typename Weight>
Status lstm(const LstmParams& p, const LstmIntegerWeights<Weight>& weights,
            TensorView<const detail::non_deduced_t<Activation>> input,
            TensorView<detail::non_deduced_t<Activation>> output,
            Span<detail::non_deduced_t<State>> state, Span<std::int16_t> cell_state,
            Span<std::int32_t> scratch, bool reverse = false) {
  TSQ_RETURN_IF_ERROR((detail::check_lstm_window<Activation, State>(
      p, weights, input, output, Span<const State>(state.data(), state.size()),
      Span<const std::int16_t>(cell_state.data(), cell_state.size()),
      Span<const std::int32_t>(scratch.data(), scratch.size()))));
  if (p.rounding == RoundingMode::double_rounding) {
    detail::lstm_sequence<RoundingMode::double_rounding>(
        p, weights, input, output, state.data(), cell_state.data(), scratch.data(), reverse);
  } else {
    detail::lstm_sequence<RoundingMode::single_rounding>(
        p, weights, input, output, state.data(), cell_state.data(), scratch.data(), reverse);
  }
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
