// SPDX-License-Identifier: Apache-2.0
// Bidirectional integer LSTM: forward and time-reversed LSTMs over the same input, outputs
// concatenated on the feature axis [forward H | backward H] (Keras merge_mode="concat").
// Concatenation without requantization needs both directions to share the hidden quantization,
// which is checked.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/lstm.hpp"

namespace tsq {
namespace reference {

// hidden_state / cell_state hold [forward batch * H | backward batch * H]; scratch as for lstm().
template <typename Activation, typename State = Activation, typename Weight>
Status bidirectional_lstm(const LstmParams& forward,
                          const LstmIntegerWeights<Weight>& forward_weights,
                          const LstmParams& backward,
                          const LstmIntegerWeights<Weight>& backward_weights,
                          TensorView<const detail::non_deduced_t<Activation>> input,
                          TensorView<detail::non_deduced_t<Activation>> output,
                          Span<detail::non_deduced_t<State>> hidden_state,
                          Span<std::int16_t> cell_state, Span<std::int32_t> scratch) {
  if (forward.hidden_size != backward.hidden_size || forward.input_size != backward.input_size) {
    return Status::error(ErrorCode::shape_mismatch,
                         "Bidirectional LSTM: both directions need the same sizes");
  }
  if (forward.hidden_zero_point != backward.hidden_zero_point ||
      forward.hidden_multiplier != backward.hidden_multiplier ||
      forward.hidden_min != backward.hidden_min || forward.hidden_max != backward.hidden_max) {
    return Status::error(
        ErrorCode::invalid_argument,
        "Bidirectional LSTM: both directions must share the hidden scale and zero point");
  }
  const std::int32_t hidden_size = forward.hidden_size;
  TSQ_RETURN_IF_ERROR(detail::check_bidirectional_buffers(output, hidden_size, hidden_state.size(),
                                                          cell_state.size()));
  const std::size_t half = hidden_state.size() / 2;
  // Both directions are checked before either runs: on error no caller buffer is touched.
  const auto check_direction = [&](const LstmParams& params,
                                   const LstmIntegerWeights<Weight>& weights, int direction) {
    return detail::check_lstm_window<Activation, State>(
        params, weights, input, detail::direction_half(output, hidden_size, direction),
        Span<const State>(hidden_state.data() + direction * half, half),
        Span<const std::int16_t>(cell_state.data() + direction * half, half),
        Span<const std::int32_t>(scratch.data(), scratch.size()));
  };
  TSQ_RETURN_IF_ERROR(check_direction(forward, forward_weights, 0));
  TSQ_RETURN_IF_ERROR(check_direction(backward, backward_weights, 1));
  TSQ_RETURN_IF_ERROR((lstm<Activation, State>(
      forward, forward_weights, input, detail::direction_half(output, hidden_size, 0),
      hidden_state.subspan(0, half), cell_state.subspan(0, half), scratch, false)));
  return lstm<Activation, State>(
      backward, backward_weights, input, detail::direction_half(output, hidden_size, 1),
      hidden_state.subspan(half, half), cell_state.subspan(half, half), scratch, true);
}

}  // namespace reference
}  // namespace tsq
