// SPDX-License-Identifier: Apache-2.0
// LSTM, dynamic-range ("DRQ", hybrid): int8 weights with one scale per gate row, float state and
// activations. At every step the input x and the hidden state h are quantized on the fly to
// asymmetric int8 (each from its own range), the gate products run in int32, and everything after
// them (bias, sigmoid, tanh, the cell) stays float:
//   z[r] = S_x S_W[r] (sum_k W[r,k] q_x[k] - Z_x rowsum_W[r])
//        + S_h S_R[r] (sum_k R[r,k] q_h[k] - Z_h rowsum_R[r]) + b[r]
// The study's best scheme for Conv+LSTM models; it needs an FPU.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace hybrid {

struct LstmWeights {
  TensorView<const std::int8_t> input_weights;      // [4H, I]
  TensorView<const std::int8_t> recurrent_weights;  // [4H, H]
  Span<const float> input_weight_scales;            // 4H
  Span<const float> recurrent_weight_scales;        // 4H
  Span<const float> bias;                           // 4H float, may be empty
};

struct LstmParams {
  std::int32_t input_size = 0;
  std::int32_t hidden_size = 0;
  Span<const std::int32_t> input_row_sums;      // 4H
  Span<const std::int32_t> recurrent_row_sums;  // 4H
  PreparedMark prepared;                        // set by prepare_lstm
};

// Working memory of one step: 4H floats for the gate pre-activations and I + H int8 values for
// the quantized input and hidden state.
struct LstmScratch {
  Span<float> gates;
  Span<std::int8_t> quantized;
};
constexpr std::size_t lstm_gate_scratch_size(std::int32_t hidden_size) {
  return static_cast<std::size_t>(kLstmGateCount) *
         static_cast<std::size_t>(hidden_size > 0 ? hidden_size : 0);
}
constexpr std::size_t lstm_quantized_scratch_size(std::int32_t input_size,
                                                  std::int32_t hidden_size) {
  return static_cast<std::size_t>(input_size > 0 ? input_size : 0) +
         static_cast<std::size_t>(hidden_size > 0 ? hidden_size : 0);
}

// Validates the weights and scales and precomputes row sums (8H entries of storage).
inline Result<LstmParams> prepare_lstm(const LstmWeights& weights,
                                       Span<std::int32_t> row_sum_storage) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("hybrid LSTM", weights.input_weights,
                                                      weights.recurrent_weights));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(
      "hybrid LSTM", weights.input_weight_scales, weights.recurrent_weight_scales, weights.bias));
  const TensorView<const std::int8_t>& w = weights.input_weights;
  const TensorView<const std::int8_t>& r = weights.recurrent_weights;
  if (r.rank() != 2 || r.dim(1) < 1 || r.dim(0) != kLstmGateCount * r.dim(1) ||
      !r.is_contiguous()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid LSTM recurrent weights must be a dense [4H, H]");
  }
  const std::int32_t hidden = r.dim(1);
  const std::int32_t rows = kLstmGateCount * hidden;
  if (w.rank() != 2 || w.dim(0) != rows || w.dim(1) < 1 || !w.is_contiguous()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid LSTM input weights must be a dense [4H, I]");
  }
  const auto row_count = static_cast<std::size_t>(rows);
  if (weights.input_weight_scales.size() != row_count ||
      weights.recurrent_weight_scales.size() != row_count) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid LSTM needs one weight scale per gate row (4H)");
  }
  for (std::size_t i = 0; i < row_count; ++i) {
    if (!validate_scale(weights.input_weight_scales[i]).is_ok() ||
        !validate_scale(weights.recurrent_weight_scales[i]).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, "hybrid LSTM weight scale of row ")
          .append(i)
          .append(" is not finite and > 0");
    }
  }
  if (!weights.bias.empty() && weights.bias.size() != row_count) {
    return Status::error(ErrorCode::shape_mismatch, "hybrid LSTM bias must have 4H values");
  }
  if (row_sum_storage.size() < 2 * row_count) {
    return Status::error(ErrorCode::buffer_too_small, "hybrid LSTM row-sum storage needs ")
        .append(2 * row_count);
  }
  for (std::int32_t row = 0; row < rows; ++row) {
    std::int32_t input_sum = 0, recurrent_sum = 0;
    for (std::int32_t k = 0; k < w.dim(1); ++k) input_sum += w(row, k);
    for (std::int32_t k = 0; k < hidden; ++k) recurrent_sum += r(row, k);
    row_sum_storage[static_cast<std::size_t>(row)] = input_sum;
    row_sum_storage[row_count + static_cast<std::size_t>(row)] = recurrent_sum;
  }
  LstmParams params;
  params.input_size = w.dim(1);
  params.hidden_size = hidden;
  params.input_row_sums = Span<const std::int32_t>(row_sum_storage.data(), row_count);
  params.recurrent_row_sums = Span<const std::int32_t>(row_sum_storage.data() + rows, row_count);
  tsq::detail::mark_prepared(params);
  return params;
}

namespace detail {
inline void add_gate_products(const std::int8_t* weights, std::int32_t depth,
                              const std::int8_t* quantized, const RowQuantization& q,
                              Span<const float> scales, Span<const std::int32_t> row_sums, float* z,
                              std::int32_t rows) {
  for (std::int32_t r = 0; r < rows; ++r) {
    const std::int8_t* row = weights + static_cast<std::ptrdiff_t>(r) * depth;
    std::int32_t accumulator = 0;
    for (std::int32_t k = 0; k < depth; ++k)
      accumulator += static_cast<std::int32_t>(row[k]) * quantized[k];
    const std::int64_t folded = accumulator - static_cast<std::int64_t>(q.zero_point) *
                                                  row_sums[static_cast<std::size_t>(r)];
    z[r] += static_cast<float>(folded) * (q.scale * scales[static_cast<std::size_t>(r)]);
  }
}
// The weights and the scratch must fit the prepared layer.
inline Status check_lstm_layer(const LstmParams& p, const LstmWeights& weights,
                               const LstmScratch& scratch) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("hybrid LSTM", p));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("hybrid LSTM", weights.input_weights,
                                                      weights.recurrent_weights));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("hybrid LSTM", weights.input_weight_scales,
                                                      weights.recurrent_weight_scales, weights.bias,
                                                      scratch.gates, scratch.quantized));
  const auto rows =
      static_cast<std::size_t>(kLstmGateCount) * static_cast<std::size_t>(p.hidden_size);
  if (weights.input_weights.shape() != Shape{kLstmGateCount * p.hidden_size, p.input_size} ||
      weights.recurrent_weights.shape() != Shape{kLstmGateCount * p.hidden_size, p.hidden_size} ||
      weights.input_weight_scales.size() != rows ||
      weights.recurrent_weight_scales.size() != rows ||
      (!weights.bias.empty() && weights.bias.size() != rows) || p.input_row_sums.size() != rows ||
      p.recurrent_row_sums.size() != rows) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid LSTM weights do not match the prepared layer");
  }
  if (scratch.gates.size() < lstm_gate_scratch_size(p.hidden_size) ||
      scratch.quantized.size() < lstm_quantized_scratch_size(p.input_size, p.hidden_size)) {
    return Status::error(ErrorCode::buffer_too_small,
                         "hybrid LSTM scratch smaller than lstm_*_scratch_size()");
  }
  return Status::ok();
}

}  // namespace detail

// One step of one batch row; hidden and cell (float, [H]) are updated in place.
inline Status lstm_step(const LstmParams& p, const LstmWeights& weights, Span<const float> x,
                        Span<float> hidden, Span<float> cell, LstmScratch scratch) {
  TSQ_RETURN_IF_ERROR(detail::check_lstm_layer(p, weights, scratch));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("hybrid LSTM step", x, hidden, cell));
  const auto h = static_cast<std::size_t>(p.hidden_size);
  if (x.size() != static_cast<std::size_t>(p.input_size) || hidden.size() != h ||
      cell.size() != h) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid LSTM step: input/hidden/cell sizes do not match");
  }
  const std::int32_t rows = kLstmGateCount * p.hidden_size;
  float* z = scratch.gates.data();
  std::int8_t* quantized_input = scratch.quantized.data();
  std::int8_t* quantized_hidden = quantized_input + p.input_size;
  for (std::int32_t r = 0; r < rows; ++r)
    z[r] = weights.bias.empty() ? 0.0f : weights.bias[static_cast<std::size_t>(r)];
  const RowQuantization xq = quantize_row(x.data(), p.input_size, quantized_input);
  const RowQuantization hq = quantize_row(hidden.data(), p.hidden_size, quantized_hidden);
  detail::add_gate_products(weights.input_weights.data(), p.input_size, quantized_input, xq,
                            weights.input_weight_scales, p.input_row_sums, z, rows);
  detail::add_gate_products(weights.recurrent_weights.data(), p.hidden_size, quantized_hidden, hq,
                            weights.recurrent_weight_scales, p.recurrent_row_sums, z, rows);
  const std::int32_t n = p.hidden_size;
  for (std::int32_t j = 0; j < n; ++j) {
    const auto jj = static_cast<std::size_t>(j);
    const float c =
        floating::sigmoid(z[n + j]) * cell[jj] + floating::sigmoid(z[j]) * std::tanh(z[2 * n + j]);
    cell[jj] = c;
    hidden[jj] = floating::sigmoid(z[3 * n + j]) * std::tanh(c);
  }
  return Status::ok();
}

// A window, with the layouts and state conventions of floating::lstm.
inline Status lstm(const LstmParams& p, const LstmWeights& weights, TensorView<const float> input,
                   TensorView<float> output, Span<float> hidden_state, Span<float> cell_state,
                   LstmScratch scratch, bool reverse = false) {
  TSQ_RETURN_IF_ERROR(detail::check_lstm_layer(p, weights, scratch));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("hybrid LSTM", input, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("hybrid LSTM", hidden_state, cell_state));
  if (input.rank() != 3 || input.dim(2) != p.input_size || !input.is_contiguous()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid LSTM input must be [batch, time, input]");
  }
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  TSQ_RETURN_IF_ERROR(tsq::detail::check_lstm_steps(steps));
  const bool sequences = output.rank() == 3;
  const Shape expected =
      sequences ? Shape{batches, steps, p.hidden_size} : Shape{batches, p.hidden_size};
  if (output.shape() != expected)
    return shape_mismatch_error("hybrid LSTM output", output.shape(), expected);
  const auto h = static_cast<std::size_t>(p.hidden_size);
  if (hidden_state.size() != static_cast<std::size_t>(batches) * h ||
      cell_state.size() != hidden_state.size()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid LSTM state must hold batch * hidden values");
  }
  for (std::int32_t b = 0; b < batches; ++b) {
    Span<float> hidden = hidden_state.subspan(static_cast<std::size_t>(b) * h, h);
    Span<float> cell = cell_state.subspan(static_cast<std::size_t>(b) * h, h);
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      TSQ_RETURN_IF_ERROR(lstm_step(
          p, weights, Span<const float>(&input(b, t, 0), static_cast<std::size_t>(p.input_size)),
          hidden, cell, scratch));
      if (sequences) {
        for (std::size_t j = 0; j < h; ++j) output(b, t, static_cast<std::int32_t>(j)) = hidden[j];
      }
    }
    if (!sequences) {
      for (std::size_t j = 0; j < h; ++j) output(b, static_cast<std::int32_t>(j)) = hidden[j];
    }
  }
  return Status::ok();
}

}  // namespace hybrid
}  // namespace tsq
