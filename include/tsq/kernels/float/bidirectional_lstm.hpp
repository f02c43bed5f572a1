// SPDX-License-Identifier: Apache-2.0
// Bidirectional LSTM in float32 (Keras' Bidirectional(LSTM), merge_mode="concat"): a forward LSTM
// and a backward LSTM (time reversed) over the same input, outputs concatenated on the feature
// axis: [forward H | backward H]. With a last-step output the backward half is its state after
// reading time step 0, as in Keras.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/kernels/float/lstm.hpp"

namespace tsq {
namespace detail {

// The half of a [.., 2H] output that one direction writes, as a strided view.
template <typename T>
TensorView<T> direction_half(const TensorView<T>& output, std::int32_t hidden_size, int direction) {
  Shape shape = output.shape();
  shape[output.rank() - 1] = hidden_size;
  return TensorView<T>::strided(output.data() + direction * hidden_size, shape, output.strides());
}

}  // namespace detail

namespace floating {

// hidden_state / cell_state hold [forward batch * H | backward batch * H].
inline Status bidirectional_lstm(const LstmWeights& forward, const LstmWeights& backward,
                                 TensorView<const float> input, TensorView<float> output,
                                 Span<float> hidden_state, Span<float> cell_state,
                                 Span<float> scratch) {
  TSQ_RETURN_IF_ERROR(validate_lstm_weights(forward));
  TSQ_RETURN_IF_ERROR(validate_lstm_weights(backward));
  const std::int32_t hidden_size = forward.recurrent_kernel.dim(0);
  if (backward.recurrent_kernel.dim(0) != hidden_size) {
    return Status::error(ErrorCode::shape_mismatch,
                         "Bidirectional LSTM: both directions need the same hidden size");
  }
  if (output.rank() < 2 || output.dim(output.rank() - 1) != 2 * hidden_size ||
      !output.is_contiguous()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "Bidirectional LSTM output must end in 2 * hidden");
  }
  if (hidden_state.size() % 2 != 0 || cell_state.size() != hidden_state.size()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "Bidirectional LSTM state must hold both directions");
  }
  const std::size_t half = hidden_state.size() / 2;
  TSQ_RETURN_IF_ERROR(lstm(forward, input, detail::direction_half(output, hidden_size, 0),
                           hidden_state.subspan(0, half), cell_state.subspan(0, half), scratch,
                           false));
  return lstm(backward, input, detail::direction_half(output, hidden_size, 1),
              hidden_state.subspan(half, half), cell_state.subspan(half, half), scratch, true);
}

}  // namespace floating
}  // namespace tsq
