// SPDX-License-Identifier: Apache-2.0
// LSTM in float32 with Keras semantics: the ground truth for the integer and hybrid LSTMs.
//
//   z = x W + h U + b              W: kernel [input, 4H], U: recurrent_kernel [H, 4H], b [4H]
//   i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_c)  o = sigmoid(z_o)     (gate order i, f, c, o)
//   c' = f * c + i * g             h' = o * tanh(c')
//
// State (h, c) belongs to the caller, so the same function serves a whole window or one step at a
// time on a device. An optional observer records the ranges that calibration needs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// Running min/max of one quantity.
struct RangeObserver {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  std::size_t count = 0;
  bool saw_non_finite = false;  // a NaN or infinity was observed: the range is unusable
  void observe(float value) {
    if (!std::isfinite(value)) {
      saw_non_finite = true;
      return;
    }
    min = std::min(min, value);
    max = std::max(max, value);
    ++count;
  }
  float max_abs() const { return count == 0 ? 0.0f : std::max(std::fabs(min), std::fabs(max)); }
};

// What calibration of an integer LSTM needs to know: the ranges of the layer's input, hidden
// state (= output), cell state and each gate's pre-activation, over every time step.
struct LstmRangeObserver {
  RangeObserver input;
  RangeObserver hidden;
  RangeObserver cell;
  RangeObserver gate_pre_activation[kLstmGateCount];
};

namespace floating {

struct LstmWeights {
  TensorView<const float> kernel;            // [input, 4H]
  TensorView<const float> recurrent_kernel;  // [H, 4H]
  Span<const float> bias;                    // [4H] (may be empty: no bias)
};

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

inline Status validate_lstm_weights(const LstmWeights& weights) {
  TSQ_RETURN_IF_ERROR(
      tsq::detail::check_views_usable("LSTM weights", weights.kernel, weights.recurrent_kernel));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("LSTM weights", weights.bias));
  if (weights.kernel.rank() != 2 || weights.recurrent_kernel.rank() != 2) {
    return Status::error(ErrorCode::shape_mismatch,
                         "LSTM kernel and recurrent kernel must be rank 2");
  }
  const std::int32_t hidden = weights.recurrent_kernel.dim(0);
  if (hidden < 1 || weights.recurrent_kernel.dim(1) != kLstmGateCount * hidden) {
    return shape_mismatch_error("LSTM recurrent kernel", weights.recurrent_kernel.shape(),
                                Shape{hidden, kLstmGateCount * hidden});
  }
  if (weights.kernel.dim(1) != kLstmGateCount * hidden) {
    return shape_mismatch_error("LSTM kernel", weights.kernel.shape(),
                                Shape{weights.kernel.dim(0), kLstmGateCount * hidden});
  }
  if (!weights.bias.empty() &&
      weights.bias.size() != static_cast<std::size_t>(kLstmGateCount * hidden)) {
    return Status::error(ErrorCode::shape_mismatch, "LSTM bias has ")
        .append(weights.bias.size())
        .append(" values, expected ")
        .append(kLstmGateCount * hidden);
  }
  if (!weights.kernel.is_contiguous() || !weights.recurrent_kernel.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, "LSTM weights must be contiguous");
  }
  return Status::ok();
}

constexpr std::size_t lstm_scratch_size(std::int32_t hidden_size) {
  return static_cast<std::size_t>(kLstmGateCount) *
         static_cast<std::size_t>(hidden_size > 0 ? hidden_size : 0);
}

// One time step for one batch row: reads x [input] and updates hidden [H] and cell [H] in place.
inline Status lstm_step(const LstmWeights& weights, Span<const float> x, Span<float> hidden,
                        Span<float> cell, Span<float> scratch,
                        LstmRangeObserver* observer = nullptr) {
  TSQ_RETURN_IF_ERROR(validate_lstm_weights(weights));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("LSTM step", x, hidden, cell, scratch));
  const std::int32_t input_size = weights.kernel.dim(0);
  const std::int32_t hidden_size = weights.recurrent_kernel.dim(0);
  const auto h_count = static_cast<std::size_t>(hidden_size);
  if (x.size() != static_cast<std::size_t>(input_size) || hidden.size() != h_count ||
      cell.size() != h_count) {
    return Status::error(ErrorCode::shape_mismatch,
                         "LSTM step: input/hidden/cell sizes do not match the weights");
  }
  if (scratch.size() < lstm_scratch_size(hidden_size)) {
    return Status::error(ErrorCode::buffer_too_small, "LSTM step scratch too small");
  }
  const std::int32_t gates = kLstmGateCount * hidden_size;
  float* z = scratch.data();
  for (std::int32_t j = 0; j < gates; ++j)
    z[j] = weights.bias.empty() ? 0.0f : weights.bias[static_cast<std::size_t>(j)];
  for (std::int32_t k = 0; k < input_size; ++k) {
    const float value = x[static_cast<std::size_t>(k)];
    if (observer != nullptr) observer->input.observe(value);
    const float* row = weights.kernel.data() + static_cast<std::ptrdiff_t>(k) * gates;
    for (std::int32_t j = 0; j < gates; ++j) z[j] += value * row[j];
  }
  for (std::int32_t k = 0; k < hidden_size; ++k) {
    const float value = hidden[static_cast<std::size_t>(k)];
    const float* row = weights.recurrent_kernel.data() + static_cast<std::ptrdiff_t>(k) * gates;
    for (std::int32_t j = 0; j < gates; ++j) z[j] += value * row[j];
  }
  for (std::int32_t j = 0; j < hidden_size; ++j) {
    const float zi = z[j], zf = z[hidden_size + j], zc = z[2 * hidden_size + j],
                zo = z[3 * hidden_size + j];
    if (observer != nullptr) {
      observer->gate_pre_activation[0].observe(zi);
      observer->gate_pre_activation[1].observe(zf);
      observer->gate_pre_activation[2].observe(zc);
      observer->gate_pre_activation[3].observe(zo);
    }
    const auto jj = static_cast<std::size_t>(j);
    const float c = sigmoid(zf) * cell[jj] + sigmoid(zi) * std::tanh(zc);
    cell[jj] = c;
    hidden[jj] = sigmoid(zo) * std::tanh(c);
    if (observer != nullptr) {
      observer->cell.observe(c);
      observer->hidden.observe(hidden[jj]);
    }
  }
  return Status::ok();
}

namespace detail {

// Every check of a window call, before anything is written (Bidirectional checks both
// directions with it before running either).
inline Status check_lstm_window(const LstmWeights& weights, const TensorView<const float>& input,
                                const TensorView<float>& output, Span<const float> hidden_state,
                                Span<const float> cell_state, Span<const float> scratch) {
  TSQ_RETURN_IF_ERROR(validate_lstm_weights(weights));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("LSTM", input, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("LSTM", hidden_state, cell_state, scratch));
  const std::int32_t hidden_size = weights.recurrent_kernel.dim(0);
  const std::int32_t input_size = weights.kernel.dim(0);
  if (input.rank() != 3 || input.dim(2) != input_size || !input.is_contiguous()) {
    return shape_mismatch_error("LSTM input", input.shape(),
                                Shape{input.rank() == 3 ? input.dim(0) : 1,
                                      input.rank() == 3 ? input.dim(1) : 1, input_size});
  }
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  TSQ_RETURN_IF_ERROR(tsq::detail::check_lstm_steps(steps));
  const Shape expected =
      output.rank() == 3 ? Shape{batches, steps, hidden_size} : Shape{batches, hidden_size};
  if (output.shape() != expected) {
    return shape_mismatch_error("LSTM output", output.shape(), expected);
  }
  const auto state_size = static_cast<std::size_t>(batches) * static_cast<std::size_t>(hidden_size);
  if (hidden_state.size() != state_size || cell_state.size() != state_size) {
    return Status::error(ErrorCode::shape_mismatch, "LSTM state must hold batch * hidden = ")
        .append(state_size);
  }
  if (scratch.size() < lstm_scratch_size(hidden_size)) {
    return Status::error(ErrorCode::buffer_too_small, "LSTM scratch needs ")
        .append(lstm_scratch_size(hidden_size))
        .append(" floats");
  }
  return Status::ok();
}

}  // namespace detail

// A whole sequence. input [batch, time, input]; output [batch, time, H] (return_sequences) or
// [batch, H] (last step). hidden_state and cell_state [batch * H] hold the initial state (zeros
// for Keras' default) and receive the final one. `reverse` runs time backwards (the backward half
// of a Bidirectional layer); its sequence output stays aligned with the input time steps. The
// output may be a strided view (a Bidirectional layer writes each direction into its half).
inline Status lstm(const LstmWeights& weights, TensorView<const float> input,
                   TensorView<float> output, Span<float> hidden_state, Span<float> cell_state,
                   Span<float> scratch, bool reverse = false,
                   LstmRangeObserver* observer = nullptr) {
  TSQ_RETURN_IF_ERROR(
      detail::check_lstm_window(weights, input, output, hidden_state, cell_state, scratch));
  const std::int32_t hidden_size = weights.recurrent_kernel.dim(0);
  const std::int32_t input_size = weights.kernel.dim(0);
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  const bool sequences = output.rank() == 3;
  const auto h = static_cast<std::size_t>(hidden_size);
  for (std::int32_t b = 0; b < batches; ++b) {
    Span<float> hidden = hidden_state.subspan(static_cast<std::size_t>(b) * h, h);
    Span<float> cell = cell_state.subspan(static_cast<std::size_t>(b) * h, h);
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      const Span<const float> x(&input(b, t, 0), static_cast<std::size_t>(input_size));
      TSQ_RETURN_IF_ERROR(lstm_step(weights, x, hidden, cell, scratch, observer));
      if (sequences) {
        for (std::int32_t j = 0; j < hidden_size; ++j)
          output(b, t, j) = hidden[static_cast<std::size_t>(j)];
      }
    }
    if (!sequences) {
      for (std::int32_t j = 0; j < hidden_size; ++j)
        output(b, j) = hidden[static_cast<std::size_t>(j)];
    }
  }
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
