// SPDX-License-Identifier: Apache-2.0
// Post-training quantization of a float (Keras-layout) LSTM into tsq's integer LSTM, from the
// ranges a calibration run recorded (floating::lstm with an LstmRangeObserver). Host-only: owns
// its buffers in std::vector.
//
// How tsq chooses every scale (each choice lowers the error against the float layer; none
// changes the integer algorithm of kernels/reference/lstm.hpp):
//  - input x: asymmetric int8 from its observed range (int16: symmetric, max|x| / 32767);
//  - hidden output h: from the observed range of h united with 0, because the first step's
//    state is 0 (the converter unites the state and output ranges for the same reason); int8
//    asymmetric, or int16 symmetric;
//  - recurrent state (int8 layers): by default an int16 symmetric copy of h (max|h| / 32767)
//    instead of the int8 output itself, so that the int8 rounding of h is not fed back into the
//    gates at every step (mnist_lstm: rmse/scale 0.499 -> 0.475); int16_state = false gives
//    TFLite's scheme;
//  - cell state c: the smallest power of two that covers max|c| (the int16 tables need 2^p);
//  - weights: symmetric int8 with one scale per gate row (per output unit) instead of TFLite's one
//    scale per gate: rows with small weights keep their resolution (mnist_lstm: rmse/scale
//    0.725 -> 0.499, the largest single gain);
//  - bias: int32 with scale S_x * S_W[row] (the same row's input-weight scale);
//  - gate sums: the input and recurrent products of a gate are added in int32 and saturated once
//    (TFLite saturates each to +-8 first, which breaks when both are large with opposite signs);
//  - gate pre-activations: Q3.12 and gate outputs Q0.15, fixed by the int16 sigmoid/tanh tables.
//    The pre-activation ranges are recorded and reported (a range beyond +-8 means saturated
//    gates), but there is no other choice to make there.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {

struct LstmQuantizerOptions {
  DataType activation_type = DataType::int8;  // int8: "8x8_16"; int16: "16x8"
  bool per_row_weight_scales = true;          // false: TFLite's one scale per gate
  bool int16_state = true;              // int8 layers: int16 recurrent state (tsq's extension)
  bool saturate_gate_products = false;  // true: TFLite's separate saturation of u and v
  RoundingMode rounding = RoundingMode::double_rounding;
  float cell_clip = 0.0f;
};

// A quantized LSTM layer with its own storage. Its params point into its vectors: copies would
// point into the original, so the type is move-only (a move keeps the vectors' buffers).
template <typename Weight = std::int8_t>
class QuantizedLstm {
 public:
  QuantizedLstm() = default;
  QuantizedLstm(const QuantizedLstm&) = delete;
  QuantizedLstm& operator=(const QuantizedLstm&) = delete;
  QuantizedLstm(QuantizedLstm&&) = default;
  QuantizedLstm& operator=(QuantizedLstm&&) = default;

  std::int32_t input_size = 0;
  std::int32_t hidden_size = 0;
  QuantParams input;
  QuantParams hidden;
  bool int16_state = false;  // the recurrent state is int16 (zero point 0, state_scale)
  bool saturate_gate_products = true;
  float state_scale = 0.0f;
  float cell_scale = 0.0f;
  std::vector<Weight> input_weights;           // [4H, I]
  std::vector<Weight> recurrent_weights;       // [4H, H]
  std::vector<std::int32_t> bias;              // [4H]
  std::vector<float> input_weight_scales;      // 4H or 4
  std::vector<float> recurrent_weight_scales;  // 4H or 4
  std::vector<QuantizedMultiplier> multiplier_storage;
  std::vector<std::int32_t> bias_storage;
  LstmParams params;

  LstmIntegerWeights<Weight> weights() const {
    const std::int32_t rows = kLstmGateCount * hidden_size;
    return LstmIntegerWeights<Weight>{
        TensorView<const Weight>(input_weights.data(), Shape{rows, input_size}),
        TensorView<const Weight>(recurrent_weights.data(), Shape{rows, hidden_size}),
        Span<const std::int32_t>(bias.data(), bias.size())};
  }

  LstmQuantization quantization(RoundingMode rounding, float cell_clip) const {
    LstmQuantization q;
    q.input = input;
    q.hidden = hidden;
    q.int16_state = int16_state;
    q.saturate_gate_products = saturate_gate_products;
    q.state_scale = state_scale;
    q.cell_scale = cell_scale;
    q.input_weight_scales =
        Span<const float>(input_weight_scales.data(), input_weight_scales.size());
    q.recurrent_weight_scales =
        Span<const float>(recurrent_weight_scales.data(), recurrent_weight_scales.size());
    q.rounding = rounding;
    q.cell_clip = cell_clip;
    return q;
  }
};

namespace detail {

// Keras [depth, 4H] -> tsq rows [4H, depth], quantized symmetric per row (or per gate).
template <typename Weight>
Status quantize_lstm_matrix(const TensorView<const float>& keras, bool per_row,
                            std::vector<Weight>& out, std::vector<float>& scales) {
  const std::int32_t depth = keras.dim(0);
  const std::int32_t rows = keras.dim(1);
  std::vector<float> transposed(static_cast<std::size_t>(rows) * static_cast<std::size_t>(depth));
  for (std::int32_t r = 0; r < rows; ++r) {
    for (std::int32_t k = 0; k < depth; ++k) {
      transposed[static_cast<std::size_t>(r) * static_cast<std::size_t>(depth) +
                 static_cast<std::size_t>(k)] = keras(k, r);
    }
  }
  out.assign(transposed.size(), 0);
  const BitWidth width{static_cast<int>(8 * sizeof(Weight)), true, true};
  if (per_row) {
    scales.assign(static_cast<std::size_t>(rows), 0.0f);
    const std::int32_t dims[] = {rows, depth};
    return quantize_per_channel<Weight>(transposed, dims, 0, out, scales, width);
  }
  // One scale per gate: the gate's H rows form one channel.
  const std::int32_t hidden = rows / kLstmGateCount;
  scales.assign(static_cast<std::size_t>(kLstmGateCount), 0.0f);
  const std::int32_t dims[] = {kLstmGateCount, hidden * depth};
  return quantize_per_channel<Weight>(transposed, dims, 0, out, scales, width);
}

}  // namespace detail

// Quantizes `weights` with the ranges in `ranges` (which must have seen at least one step).
// Weight = std::int16_t gives 16-bit weights (mixed precision) for layers whose int8 weight
// rounding error dominates (wide-range inputs, many units).
template <typename Weight = std::int8_t>
Result<QuantizedLstm<Weight>> quantize_lstm(const floating::LstmWeights& weights,
                                            const LstmRangeObserver& ranges,
                                            const LstmQuantizerOptions& options = {}) {
  TSQ_RETURN_IF_ERROR(floating::validate_lstm_weights(weights));
  const struct {
    const RangeObserver* range;
    const char* name;
  } observed[] = {{&ranges.input, "input"},
                  {&ranges.hidden, "hidden state"},
                  {&ranges.cell, "cell state"},
                  {&ranges.gate_pre_activation[0], "input gate pre-activation"},
                  {&ranges.gate_pre_activation[1], "forget gate pre-activation"},
                  {&ranges.gate_pre_activation[2], "cell gate pre-activation"},
                  {&ranges.gate_pre_activation[3], "output gate pre-activation"}};
  for (const auto& entry : observed) {
    if (entry.range->saw_non_finite) {
      return Status::error(ErrorCode::non_finite_value,
                           "LSTM calibration saw a NaN or infinity in the ")
          .append(entry.name);
    }
  }
  if (ranges.input.count == 0 || ranges.hidden.count == 0 || ranges.cell.count == 0) {
    return Status::error(ErrorCode::invalid_argument, "LSTM calibration saw no data");
  }
  if (options.activation_type != DataType::int8 && options.activation_type != DataType::int16) {
    return Status::error(ErrorCode::unsupported_type, "LSTM activations must be int8 or int16");
  }
  QuantizedLstm<Weight> layer;
  layer.input_size = weights.kernel.dim(0);
  layer.hidden_size = weights.recurrent_kernel.dim(0);
  const bool int16 = options.activation_type == DataType::int16;
  const BitWidth width16{16, true, true};
  const auto input_params =
      int16 ? choose_symmetric_quant_params(ranges.input.min, ranges.input.max, width16)
            : choose_quant_params(ranges.input.min, ranges.input.max);
  const auto hidden_params =
      int16 ? choose_symmetric_quant_params(ranges.hidden.min, ranges.hidden.max, width16)
            : choose_quant_params(std::fmin(ranges.hidden.min, 0.0f),
                                  std::fmax(ranges.hidden.max, 0.0f));
  const auto cell_params = choose_power_of_two_int16_params(ranges.cell.max_abs());
  if (!input_params.is_ok()) return input_params.status();
  if (!hidden_params.is_ok()) return hidden_params.status();
  if (!cell_params.is_ok()) return cell_params.status();
  layer.input = input_params.value();
  layer.hidden = hidden_params.value();
  // The kernels clamp to the storage type; symmetric int16 params are narrow: widen to full range.
  if (int16) {
    layer.input.quant_min = layer.hidden.quant_min = -32768;
  }
  layer.cell_scale = cell_params->scale;
  layer.saturate_gate_products = options.saturate_gate_products;
  if (options.int16_state && !int16) {
    const auto state_params =
        choose_symmetric_quant_params(ranges.hidden.min, ranges.hidden.max, width16);
    if (!state_params.is_ok()) return state_params.status();
    layer.int16_state = true;
    layer.state_scale = state_params->scale;
  }

  TSQ_RETURN_IF_ERROR(detail::quantize_lstm_matrix(weights.kernel, options.per_row_weight_scales,
                                                   layer.input_weights, layer.input_weight_scales));
  TSQ_RETURN_IF_ERROR(
      detail::quantize_lstm_matrix(weights.recurrent_kernel, options.per_row_weight_scales,
                                   layer.recurrent_weights, layer.recurrent_weight_scales));
  const auto rows = static_cast<std::size_t>(kLstmGateCount * layer.hidden_size);
  layer.bias.assign(rows, 0);
  if (!weights.bias.empty()) {
    std::vector<float> row_scales(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      row_scales[r] = detail::row_scale(layer.input_weight_scales, static_cast<std::int32_t>(r),
                                        layer.hidden_size);
    }
    TSQ_RETURN_IF_ERROR(quantize_bias(weights.bias, layer.input.scale, row_scales, layer.bias));
  }
  layer.multiplier_storage.resize(lstm_prepare_storage_size(layer.hidden_size));
  layer.bias_storage.resize(lstm_prepare_storage_size(layer.hidden_size));
  const auto params = prepare_lstm(layer.quantization(options.rounding, options.cell_clip),
                                   layer.weights(), layer.multiplier_storage, layer.bias_storage);
  if (!params.is_ok()) return params.status();
  layer.params = params.value();
  return layer;
}

}  // namespace tsq
