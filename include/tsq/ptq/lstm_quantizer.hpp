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
// On request, with the calibration inputs observe_lstm_rounding_data gathers (x_t and the float
// layer's h_{t-1}): data-aware weight rounding (GPTQ, ptq/weight_rounding.hpp: the same grid and
// scales, each weight rounded so the gate pre-activations move least) and bias correction (the
// gate bias absorbs the mean pre-activation shift of weight rounding). Off by default.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/ptq/weight_rounding.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {

// The calibration inputs of an LSTM's two weight matrices, as GPTQ and bias correction use them:
// every step's input x_t (input kernel) and the hidden state h_{t-1} the float layer held before
// that step (recurrent kernel; 0 at the first step). depth^2 doubles each, however many windows.
struct LstmRoundingData {
  LayerHessian input;      // depth: input size
  LayerHessian recurrent;  // depth: hidden size
};

struct LstmQuantizerOptions {
  DataType activation_type = DataType::int8;  // int8: "8x8_16"; int16: "16x8"
  bool per_row_weight_scales = true;          // false: TFLite's one scale per gate
  bool int16_state = true;              // int8 layers: int16 recurrent state (tsq's extension)
  bool saturate_gate_products = false;  // true: TFLite's separate saturation of u and v
  RoundingMode rounding = RoundingMode::double_rounding;
  float cell_clip = 0.0f;
  // Data-aware weight rounding (GPTQ) and bias correction; both need `rounding_data`, which
  // must outlive the call. With both, GPTQ minimises the error around the inputs' mean (the
  // bias takes the mean part).
  bool data_aware_rounding = false;
  bool bias_correction = false;
  const LstmRoundingData* rounding_data = nullptr;
  WeightRoundingOptions weight_rounding;  // GPTQ's damping and column order (centered: as above)
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

// Keras [depth, 4H] -> tsq rows [4H, depth] (kept in `transposed`), quantized symmetric per row
// (or per gate), rounded to nearest or, given calibration inputs, by GPTQ on the same scales.
template <typename Weight>
Status quantize_lstm_matrix(const TensorView<const float>& keras, bool per_row,
                            std::vector<Weight>& out, std::vector<float>& scales,
                            std::vector<float>& transposed, const LayerHessian* hessian = nullptr,
                            const WeightRoundingOptions& rounding = {}) {
  const std::int32_t depth = keras.dim(0);
  const std::int32_t rows = keras.dim(1);
  transposed.assign(static_cast<std::size_t>(rows) * static_cast<std::size_t>(depth), 0.0f);
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
    TSQ_RETURN_IF_ERROR(quantize_per_channel<Weight>(transposed, dims, 0, out, scales, width));
  } else {
    // One scale per gate: the gate's H rows form one channel.
    const std::int32_t hidden = rows / kLstmGateCount;
    scales.assign(static_cast<std::size_t>(kLstmGateCount), 0.0f);
    const std::int32_t dims[] = {kLstmGateCount, hidden * depth};
    TSQ_RETURN_IF_ERROR(quantize_per_channel<Weight>(transposed, dims, 0, out, scales, width));
  }
  if (hessian == nullptr) return Status::ok();
  Result<std::vector<Weight>> gptq =
      round_weights_gptq<Weight>(transposed, rows, depth, scales, *hessian, rounding);
  if (!gptq.is_ok()) return gptq.status();
  out = std::move(gptq).value();
  return Status::ok();
}

// sum_k (Q[r, k] S_r - W[r, k]) E[x_k]: the mean shift weight rounding adds to row r.
template <typename Weight>
double mean_rounding_shift(const std::vector<Weight>& quantized, const std::vector<float>& weights,
                           const std::vector<float>& scales, const LayerHessian& inputs,
                           std::int32_t row, std::int32_t hidden_size) {
  const std::int32_t depth = inputs.depth();
  const double scale = row_scale(scales, row, hidden_size);
  double shift = 0.0;
  for (std::int32_t k = 0; k < depth; ++k) {
    const std::size_t at = static_cast<std::size_t>(row) * static_cast<std::size_t>(depth) +
                           static_cast<std::size_t>(k);
    shift += (static_cast<double>(quantized[at]) * scale - weights[at]) * inputs.mean(k);
  }
  return shift;
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

  const LstmRoundingData* data = options.rounding_data;
  if (options.data_aware_rounding || options.bias_correction) {
    if (data == nullptr) {
      return Status::error(ErrorCode::invalid_argument,
                           "LSTM data-aware rounding and bias correction need rounding_data "
                           "(observe_lstm_rounding_data)");
    }
    if (data->input.depth() != layer.input_size || data->recurrent.depth() != layer.hidden_size) {
      return Status::error(ErrorCode::shape_mismatch, "LSTM rounding data of depths ")
          .append(data->input.depth())
          .append(" / ")
          .append(data->recurrent.depth())
          .append(", layer of input size ")
          .append(layer.input_size)
          .append(" / hidden size ")
          .append(layer.hidden_size);
    }
    if (data->input.row_count() == 0) {
      return Status::error(ErrorCode::invalid_argument, "LSTM rounding data saw no steps");
    }
  }
  const bool gptq = options.data_aware_rounding;
  WeightRoundingOptions rounding = options.weight_rounding;
  rounding.centered = options.bias_correction;
  std::vector<float> input_rows, recurrent_rows;  // [4H, I] and [4H, H] float
  TSQ_RETURN_IF_ERROR(detail::quantize_lstm_matrix(
      weights.kernel, options.per_row_weight_scales, layer.input_weights, layer.input_weight_scales,
      input_rows, gptq ? &data->input : nullptr, rounding));
  TSQ_RETURN_IF_ERROR(detail::quantize_lstm_matrix(
      weights.recurrent_kernel, options.per_row_weight_scales, layer.recurrent_weights,
      layer.recurrent_weight_scales, recurrent_rows, gptq ? &data->recurrent : nullptr, rounding));
  const auto rows = static_cast<std::size_t>(kLstmGateCount * layer.hidden_size);
  layer.bias.assign(rows, 0);
  if (!weights.bias.empty() || options.bias_correction) {
    std::vector<float> bias(weights.bias.begin(), weights.bias.end());
    bias.resize(rows, 0.0f);
    if (options.bias_correction) {
      // Nagel et al. 2019: b -= (W_q - W) E[x] + (R_q - R) E[h].
      for (std::size_t r = 0; r < rows; ++r) {
        const auto row = static_cast<std::int32_t>(r);
        const double shift =
            detail::mean_rounding_shift(layer.input_weights, input_rows, layer.input_weight_scales,
                                        data->input, row, layer.hidden_size) +
            detail::mean_rounding_shift(layer.recurrent_weights, recurrent_rows,
                                        layer.recurrent_weight_scales, data->recurrent, row,
                                        layer.hidden_size);
        bias[r] = static_cast<float>(static_cast<double>(bias[r]) - shift);
      }
    }
    std::vector<float> row_scales(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      row_scales[r] = detail::row_scale(layer.input_weight_scales, static_cast<std::int32_t>(r),
                                        layer.hidden_size);
    }
    TSQ_RETURN_IF_ERROR(quantize_bias(bias, layer.input.scale, row_scales, layer.bias));
  }
  layer.multiplier_storage.resize(lstm_prepare_storage_size(layer.hidden_size));
  layer.bias_storage.resize(lstm_prepare_storage_size(layer.hidden_size));
  const auto params = prepare_lstm(layer.quantization(options.rounding, options.cell_clip),
                                   layer.weights(), layer.multiplier_storage, layer.bias_storage);
  if (!params.is_ok()) return params.status();
  layer.params = params.value();
  return layer;
}

// Runs the float LSTM over `windows` [batch, time, input] from the zero state, as calibration
// does, and adds every step's x_t and h_{t-1} to `data` (sized on first use). `ranges`, when
// given, records the calibration ranges in the same pass; `reverse` runs time backwards (the
// backward half of a Bidirectional layer). On error `data` is left as it was.
inline Status observe_lstm_rounding_data(const floating::LstmWeights& weights,
                                         const TensorView<const float>& windows,
                                         LstmRoundingData& data,
                                         LstmRangeObserver* ranges = nullptr,
                                         bool reverse = false) {
  TSQ_RETURN_IF_ERROR(floating::validate_lstm_weights(weights));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("LSTM rounding data", windows));
  const std::int32_t input_size = weights.kernel.dim(0);
  const std::int32_t hidden_size = weights.recurrent_kernel.dim(0);
  if (windows.rank() != 3 || windows.dim(2) != input_size || !windows.is_contiguous()) {
    return shape_mismatch_error("LSTM rounding data windows", windows.shape(),
                                Shape{windows.rank() == 3 ? windows.dim(0) : 1,
                                      windows.rank() == 3 ? windows.dim(1) : 1, input_size});
  }
  LstmRoundingData updated = data;
  if (updated.input.row_count() == 0 && updated.recurrent.row_count() == 0) {
    updated.input = LayerHessian(input_size);
    updated.recurrent = LayerHessian(hidden_size);
  } else if (updated.input.depth() != input_size || updated.recurrent.depth() != hidden_size) {
    return Status::error(ErrorCode::shape_mismatch,
                         "LSTM rounding data was gathered for another layer shape");
  }
  const auto h = static_cast<std::size_t>(hidden_size);
  std::vector<float> hidden(h), cell(h), scratch(floating::lstm_scratch_size(hidden_size));
  const std::int32_t steps = windows.dim(1);
  for (std::int32_t b = 0; b < windows.dim(0); ++b) {
    std::fill(hidden.begin(), hidden.end(), 0.0f);
    std::fill(cell.begin(), cell.end(), 0.0f);
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      const Span<const float> x(&windows(b, t, 0), static_cast<std::size_t>(input_size));
      TSQ_RETURN_IF_ERROR(updated.input.add(x));
      TSQ_RETURN_IF_ERROR(updated.recurrent.add(hidden));
      TSQ_RETURN_IF_ERROR(floating::lstm_step(weights, x, hidden, cell, scratch, ranges));
    }
  }
  data = std::move(updated);
  return Status::ok();
}

}  // namespace tsq
