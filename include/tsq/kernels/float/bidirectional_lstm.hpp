// SPDX-License-Identifier: Apache-2.0
// Bidirectional LSTM in float32 (Keras' Bidirectional(LSTM), merge_mode="concat"): a forward LSTM
// and a backward LSTM (time reversed) over the same input, outputs concatenated on the feature
// axis: [forward H | backward H]. With a last-step output the backward half is its state after
// reading time step 0, as in Keras.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/kernels/common.hpp"
#include "tsq/kernels/float/lstm.hpp"

namespace tsq {
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
  TSQ_RETURN_IF_ERROR(tsq::detail::check_bidirectional_buffers(
      output, hidden_size, hidden_state.size(), cell_state.size()));
  const std::size_t half = hidden_state.size() / 2;
  // Both directions are checked before either runs: on error no caller buffer is touched.
  for (int direction = 0; direction < 2; ++direction) {
    TSQ_RETURN_IF_ERROR(
        detail::check_lstm_window(direction == 0 ? forward : backward, input,
                                  tsq::detail::direction_half(output, hidden_size, direction),
                                  Span<const float>(hidden_state.data() + direction * half, half),
                                  Span<const float>(cell_state.data() + direction * half, half),
                                  Span<const float>(scratch.data(), scratch.size())));
  }
  TSQ_RETURN_IF_ERROR(lstm(forward, input, tsq::detail::direction_half(output, hidden_size, 0),
                           hidden_state.subspan(0, half), cell_state.subspan(0, half), scratch,
                           false));
  return lstm(backward, input, tsq::detail::direction_half(output, hidden_size, 1),
              hidden_state.subspan(half, half), cell_state.subspan(half, half), scratch, true);
}

}  // namespace floating
}  // namespace tsq
