// SPDX-License-Identifier: Apache-2.0
// LSTM window in float32 through Eigen, host only: the fast float baseline for the integer LSTMs,
// with floating::lstm's weights (Keras layout, gate order i, f, c, o), state, output and errors.
//
// Only the recurrent half of the gate pre-activations depends on the previous step, so the input
// half of every step is one matrix product [T, I] x [I, 4H] into scratch before the recurrence;
// each step then adds h [H] x U [H, 4H] and runs the gate math over whole vectors. The sigmoid and
// tanh are Eigen's vectorized rational approximations, not std::exp / std::tanh: the states
// differ from the scalar kernel by float32 rounding and those few ulps (measured in
// tests/eigen/eigen_kernels_test.cpp). Calibration observers stay with the scalar kernel.
#pragma once

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/eigen/fully_connected.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace eigen {

// Scratch floats of a window of `steps` time steps: every step's gate pre-activations [T, 4H].
constexpr std::size_t lstm_scratch_size(std::int32_t steps, std::int32_t hidden_size) {
  return steps > 0 && hidden_size > 0
             ? static_cast<std::size_t>(steps) * static_cast<std::size_t>(kLstmGateCount) *
                   static_cast<std::size_t>(hidden_size)
             : 0;
}

namespace detail {

// floating::lstm's checks, in its order and with its error codes, with this kernel's scratch.
inline Status check_lstm_window(const floating::LstmWeights& weights,
                                const TensorView<const float>& input,
                                const TensorView<float>& output, Span<const float> hidden_state,
                                Span<const float> cell_state, Span<const float> scratch) {
  constexpr const char* kOp = "Eigen LSTM";
  TSQ_RETURN_IF_ERROR(floating::validate_lstm_weights(weights));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(kOp, input, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(kOp, hidden_state, cell_state, scratch));
  const std::int32_t hidden_size = weights.recurrent_kernel.dim(0);
  const std::int32_t input_size = weights.kernel.dim(0);
  if (input.rank() != 3 || input.dim(2) != input_size || !input.is_contiguous()) {
    return shape_mismatch_error("Eigen LSTM input", input.shape(),
                                Shape{input.rank() == 3 ? input.dim(0) : 1,
                                      input.rank() == 3 ? input.dim(1) : 1, input_size});
  }
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  TSQ_RETURN_IF_ERROR(tsq::detail::check_lstm_steps(steps));
  const Shape expected =
      output.rank() == 3 ? Shape{batches, steps, hidden_size} : Shape{batches, hidden_size};
  if (output.shape() != expected) {
    return shape_mismatch_error("Eigen LSTM output", output.shape(), expected);
  }
  const auto state_size = static_cast<std::size_t>(batches) * static_cast<std::size_t>(hidden_size);
  if (hidden_state.size() != state_size || cell_state.size() != state_size) {
    return Status::error(ErrorCode::shape_mismatch, kOp)
        .append(" state must hold batch * hidden = ")
        .append(state_size);
  }
  const std::size_t needed = lstm_scratch_size(steps, hidden_size);
  if (scratch.size() < needed) {
    return Status::error(ErrorCode::buffer_too_small, kOp)
        .append(" scratch holds ")
        .append(scratch.size())
        .append(" floats, needs ")
        .append(needed);
  }
  return Status::ok();
}

}  // namespace detail

// A whole sequence, as floating::lstm: input [batch, time, input]; output [batch, time, H]
// (return_sequences) or [batch, H] (last step), which may be strided (one direction's half of a
// Bidirectional output); hidden_state and cell_state [batch * H] hold the initial state and
// receive the final one; `reverse` runs time backwards. `scratch` holds
// lstm_scratch_size(time, H) floats. Nothing is allocated.
inline Status lstm(const floating::LstmWeights& weights, TensorView<const float> input,
                   TensorView<float> output, Span<float> hidden_state, Span<float> cell_state,
                   Span<float> scratch, bool reverse = false) {
  TSQ_RETURN_IF_ERROR(
      detail::check_lstm_window(weights, input, output, hidden_state, cell_state, scratch));
  using detail::Index;
  const Index hidden_size = weights.recurrent_kernel.dim(0);
  const Index input_size = weights.kernel.dim(0);
  const Index gates = kLstmGateCount * hidden_size;
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  const bool sequences = output.rank() == 3;
  const Index output_stride = output.stride(output.rank() - 1);
  using ConstRowMap = Eigen::Map<const Eigen::RowVectorXf>;
  using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
  using StridedRowMap = Eigen::Map<Eigen::RowVectorXf, Eigen::Unaligned, Eigen::InnerStride<>>;
  const detail::ConstMatrixMap recurrent(weights.recurrent_kernel.data(), hidden_size, gates,
                                         Eigen::OuterStride<>(gates));
  for (std::int32_t b = 0; b < batches; ++b) {
    float* const h = hidden_state.data() + b * hidden_size;
    float* const c = cell_state.data() + b * hidden_size;
    // z [T, 4H] = bias + x W for every step at once.
    detail::fill_with_bias(scratch.data(), steps, gates, gates, weights.bias);
    detail::accumulate_product(detail::MatrixRef{&input(b, 0, 0), input_size},
                               detail::MatrixRef{weights.kernel.data(), gates},
                               detail::RhsLayout::depth_by_n, scratch.data(), gates, steps,
                               input_size, gates);
    const ConstRowMap h_row(h, hidden_size);
    ArrayMap cell(c, hidden_size);
    ArrayMap hidden(h, hidden_size);
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      float* const z = scratch.data() + t * gates;
      Eigen::Map<Eigen::RowVectorXf>(z, gates).noalias() += h_row * recurrent;
      const ArrayMap zi(z, hidden_size);
      const ArrayMap zf(z + hidden_size, hidden_size);
      const ArrayMap zc(z + 2 * hidden_size, hidden_size);
      const ArrayMap zo(z + 3 * hidden_size, hidden_size);
      cell = zf.logistic() * cell + zi.logistic() * zc.tanh();
      hidden = zo.logistic() * cell.tanh();
      if (sequences) {
        StridedRowMap(&output(b, t, 0), hidden_size, Eigen::InnerStride<>(output_stride)) = h_row;
      }
    }
    if (!sequences) {
      StridedRowMap(&output(b, 0), hidden_size, Eigen::InnerStride<>(output_stride)) = h_row;
    }
  }
  return Status::ok();
}

}  // namespace eigen
}  // namespace tsq
