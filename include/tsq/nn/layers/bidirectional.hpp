// SPDX-License-Identifier: Apache-2.0
// Bidirectional LSTM (Keras' Bidirectional(LSTM), merge_mode="concat"): a forward LSTM and a
// time-reversed one over the same window, outputs concatenated on the last axis:
// [1, T, I] -> [1, 2H] or, with return_sequences, [1, T, 2H]; [forward H | backward H].
//
// The LSTM passed in is a template: its units, return_sequences, layout and cell_clip are used
// for both directions, which become two LSTMs named "<name>/forward" and "<name>/backward".
// Their weights are read under those names, so with the default WeightNaming the members are
//   <name>/forward.kernel  <name>/forward.recurrent_kernel  <name>/forward.bias
//   <name>/backward.kernel ...        (pytorch: <name>/forward.weight_ih, .weight_hh,
//                                      .bias_ih, .bias_hh; PyTorch's "_reverse" weights go
//                                      under <name>/backward)
// and with separator "_": "<name>/forward_kernel". forward() and backward() give each direction
// to set its weights directly.
//
// Quantized forms as the LSTM's. The integer forms run reference::bidirectional_lstm, which
// concatenates without requantizing: both directions share one hidden quantization, chosen from
// the union of the two directions' observed hidden ranges (every other scale is per direction).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/kernels/float/bidirectional_lstm.hpp"
#include "tsq/kernels/reference/bidirectional_lstm.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

// The ranges of both directions.
class BidirectionalCalibration final : public LayerCalibration {
 public:
  LstmRangeObserver forward;
  LstmRangeObserver backward;
};

namespace detail {

// Both directions' ranges with the hidden range replaced by their union, so that quantize_lstm
// gives both the same hidden (and int16 state) parameters.
inline void share_hidden_range(LstmRangeObserver& forward, LstmRangeObserver& backward) {
  RangeObserver hidden = forward.hidden;
  hidden.min = std::min(hidden.min, backward.hidden.min);
  hidden.max = std::max(hidden.max, backward.hidden.max);
  hidden.count += backward.hidden.count;
  hidden.saw_non_finite = hidden.saw_non_finite || backward.hidden.saw_non_finite;
  forward.hidden = hidden;
  backward.hidden = hidden;
}

template <typename Activation, typename Weight>
class QuantizedBidirectional final : public QuantizedLayer {
 public:
  QuantizedBidirectional(IntegerLstmPart<Weight> forward, IntegerLstmPart<Weight> backward,
                         std::int32_t batch, std::int32_t steps)
      : forward_(std::move(forward)),
        backward_(std::move(backward)),
        batch_(batch),
        steps_(steps) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedBidirectional>(*this);
  }
  std::size_t scratch_bytes() const override {
    return integer_lstm_scratch_bytes(batch_, steps_, forward_.hidden_size, 2);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    const LstmParams* params[] = {&forward_.prepared.params(), &backward_.prepared.params()};
    const IntegerLstmScratch buffers =
        take_integer_lstm_scratch(scratch, batch_, steps_, forward_.hidden_size, params, 2);
    if (buffers.gates.data() == nullptr) {
      return Status::error(ErrorCode::buffer_too_small, "Bidirectional scratch");
    }
    return reference::bidirectional_lstm<Activation, std::int16_t>(
        forward_.prepared, forward_.weights(), backward_.prepared, backward_.weights(),
        inputs[0].view<const Activation>(), output.view<Activation>(), buffers.state, buffers.cell,
        buffers.gates);
  }
  ParameterBytes parameter_bytes() const override {
    ParameterBytes bytes = forward_.parameter_bytes();
    bytes += backward_.parameter_bytes();
    return bytes;
  }
  TensorQuantization output_quantization() const override { return forward_.output; }
  bool multipliers_flush_to_zero() const override {
    return forward_.multipliers_flush_to_zero() && backward_.multipliers_flush_to_zero();
  }
  Status intermediates(Span<const AnyTensor> inputs,
                       std::vector<Intermediate>& out) const override {
    out.clear();
    if (inputs.size() != 1) {
      return Status::error(ErrorCode::invalid_argument, "Bidirectional: one input");
    }
    const TensorView<const Activation> input = inputs[0].view<const Activation>();
    TSQ_RETURN_IF_ERROR(
        integer_lstm_intermediates<Activation>(forward_, input, false, "forward ", out));
    return integer_lstm_intermediates<Activation>(backward_, input, true, "backward ", out);
  }
  const IntegerLstmPart<Weight>& forward() const { return forward_; }
  const IntegerLstmPart<Weight>& backward() const { return backward_; }

 private:
  IntegerLstmPart<Weight> forward_;
  IntegerLstmPart<Weight> backward_;
  std::int32_t batch_;
  std::int32_t steps_;
};

class HybridBidirectional final : public QuantizedLayer {
 public:
  HybridBidirectional(HybridLstmPart forward, HybridLstmPart backward, std::int32_t batch)
      : forward_(std::move(forward)), backward_(std::move(backward)), batch_(batch) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<HybridBidirectional>(*this);
  }
  std::size_t scratch_bytes() const override {
    return hybrid_lstm_scratch_bytes(batch_, forward_.input_size, forward_.hidden_size, 2);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    const HybridLstmPart* parts[] = {&forward_, &backward_};
    return run_hybrid_lstm(parts, 2, batch_, inputs[0].view<const float>(), output.view<float>(),
                           scratch);
  }
  ParameterBytes parameter_bytes() const override {
    ParameterBytes bytes = forward_.parameter_bytes();
    bytes += backward_.parameter_bytes();
    return bytes;
  }
  TensorQuantization output_quantization() const override {
    return TensorQuantization{DataType::float32, QuantParams{}};
  }
  Status intermediates(Span<const AnyTensor> inputs,
                       std::vector<Intermediate>& out) const override {
    out.clear();
    if (inputs.size() != 1) {
      return Status::error(ErrorCode::invalid_argument, "Bidirectional: one input");
    }
    const TensorView<const float> input = inputs[0].view<const float>();
    TSQ_RETURN_IF_ERROR(hybrid_lstm_intermediates(forward_, input, false, "forward ", out));
    return hybrid_lstm_intermediates(backward_, input, true, "backward ", out);
  }

 private:
  HybridLstmPart forward_;
  HybridLstmPart backward_;
  std::int32_t batch_;
};

}  // namespace detail

class Bidirectional final : public Layer {
 public:
  Bidirectional(std::string name, const LSTM& forward_template)
      : Layer(name),
        forward_(forward_template.renamed(name + "/forward")),
        backward_(forward_template.renamed(name + "/backward")) {}

  // Each direction, to set its weights directly once the layer is in a model.
  LSTM& forward() { return forward_; }
  LSTM& backward() { return backward_; }
  const LSTM& forward() const { return forward_; }
  const LSTM& backward() const { return backward_; }

  const char* kind() const override { return "Bidirectional"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Bidirectional>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Result<Shape> forward = forward_.attach(inputs);
    if (!forward.is_ok()) return with_layer(forward.status());
    const Result<Shape> backward = backward_.attach(inputs);
    if (!backward.is_ok()) return with_layer(backward.status());
    Shape output = forward.value();
    output[output.rank() - 1] = 2 * forward_.units();
    return output;
  }

  Status load_weights(const io::NpzFile& archive, const WeightNaming& naming) override {
    TSQ_RETURN_IF_ERROR(forward_.load_weights(archive, naming));
    return backward_.load_weights(archive, naming);
  }
  bool weights_loaded() const override {
    return forward_.weights_loaded() && backward_.weights_loaded();
  }
  std::size_t parameter_count() const override {
    return forward_.parameter_count() + backward_.parameter_count();
  }

  // One direction's scratch (the directions run one after the other), plus room for the
  // float kernel's states of both directions at once.
  std::size_t float_scratch_bytes(Span<const Shape> inputs) const override {
    const std::int32_t batch = inputs.size() > 0 && inputs[0].rank() == 3 ? inputs[0][0] : 0;
    return forward_.float_scratch_bytes(inputs) +
           2 * detail::scratch_bytes_for<float>(static_cast<std::size_t>(batch > 0 ? batch : 0) *
                                                static_cast<std::size_t>(forward_.units()));
  }
  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> scratch, LayerCalibration* calibration) const override {
    if (calibration == nullptr && !forward_.half_) {
      return run_float_kernel(inputs[0], output, scratch);
    }
    // Calibration (and the float16 twin) run each direction with its own observer; the
    // arithmetic is floating::bidirectional_lstm's: the same lstm() calls into the same halves.
    auto* record = static_cast<BidirectionalCalibration*>(calibration);
    TSQ_RETURN_IF_ERROR(tsq::detail::check_bidirectional_buffers(output, forward_.units(), 2, 2));
    TSQ_RETURN_IF_ERROR(
        forward_.run_direction(inputs[0], tsq::detail::direction_half(output, forward_.units(), 0),
                               scratch, false, record == nullptr ? nullptr : &record->forward));
    return backward_.run_direction(inputs[0],
                                   tsq::detail::direction_half(output, forward_.units(), 1),
                                   scratch, true, record == nullptr ? nullptr : &record->backward);
  }

  // Both directions' intermediates, "forward ..." then "backward ...", each aligned with the
  // input's time steps.
  Status float_intermediates(Span<const TensorView<const float>> inputs,
                             std::vector<Intermediate>& out) const override {
    out.clear();
    if (inputs.size() != 1) return layer_error(ErrorCode::invalid_argument, "needs one input");
    TSQ_RETURN_IF_ERROR(
        with_layer(forward_.direction_intermediates(inputs[0], false, "forward ", out)));
    return with_layer(backward_.direction_intermediates(inputs[0], true, "backward ", out));
  }

  std::unique_ptr<LayerCalibration> make_calibration() const override {
    return std::make_unique<BidirectionalCalibration>();
  }

  bool supports(Precision /*precision*/) const override { return true; }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;

  Bidirectional with_half_weights() const {
    Bidirectional twin(*this);
    twin.forward_ = forward_.with_half_weights();
    twin.backward_ = backward_.with_half_weights();
    return twin;
  }
  ParameterBytes stored_parameter_bytes() const override {
    ParameterBytes bytes = forward_.stored_parameter_bytes();
    bytes += backward_.stored_parameter_bytes();
    return bytes;
  }

 private:
  // floating::bidirectional_lstm with the layer's scratch.
  Status run_float_kernel(const TensorView<const float>& input, const TensorView<float>& output,
                          Span<std::byte> scratch) const {
    const std::size_t state = 2 * static_cast<std::size_t>(input.rank() == 3 ? input.dim(0) : 0) *
                              static_cast<std::size_t>(forward_.units());
    Span<float> hidden = detail::take_scratch<float>(scratch, state);
    Span<float> cell = detail::take_scratch<float>(scratch, state);
    Span<float> gates =
        detail::take_scratch<float>(scratch, floating::lstm_scratch_size(forward_.units()));
    if (hidden.data() == nullptr || cell.data() == nullptr || gates.data() == nullptr) {
      return layer_error(ErrorCode::buffer_too_small, "scratch");
    }
    for (float& v : hidden) v = 0.0f;
    for (float& v : cell) v = 0.0f;
    return with_layer(floating::bidirectional_lstm(
        forward_.float_weights(), backward_.float_weights(), input, output, hidden, cell, gates));
  }

  LSTM forward_;
  LSTM backward_;
};

inline Result<std::unique_ptr<QuantizedLayer>> Bidirectional::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 1)
    return layer_error(ErrorCode::invalid_argument, "request needs one input");
  if (!weights_loaded() || forward_.half_ || backward_.half_) {
    return layer_error(ErrorCode::invalid_argument, "has no weights");
  }
  const std::int32_t batch = forward_.batch_;
  switch (request.precision) {
    case Precision::float32:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Bidirectional>>(*this));
    case Precision::float16_weights:
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<FloatFallback<Bidirectional>>(with_half_weights()));
    case Precision::dynamic_int8: {
      auto forward =
          detail::make_hybrid_lstm_part(forward_.kernel_, forward_.recurrent_kernel_,
                                        forward_.bias_, forward_.input_size_, forward_.units_);
      if (!forward.is_ok()) return with_layer(forward.status());
      auto backward =
          detail::make_hybrid_lstm_part(backward_.kernel_, backward_.recurrent_kernel_,
                                        backward_.bias_, backward_.input_size_, backward_.units_);
      if (!backward.is_ok()) return with_layer(backward.status());
      return std::unique_ptr<QuantizedLayer>(std::make_unique<detail::HybridBidirectional>(
          std::move(forward).value(), std::move(backward).value(), batch));
    }
    case Precision::int8:
    case Precision::int16_activations:
    case Precision::int16_weights: break;
  }
  const auto* record = static_cast<const BidirectionalCalibration*>(request.calibration);
  if (record == nullptr || record->forward.input.count == 0 || record->backward.input.count == 0) {
    return layer_error(ErrorCode::invalid_argument, "LSTM needs calibration");
  }
  LstmRangeObserver forward_ranges = record->forward;
  LstmRangeObserver backward_ranges = record->backward;
  detail::share_hidden_range(forward_ranges, backward_ranges);
  const LstmQuantizerOptions options =
      detail::lstm_quantizer_options(request.precision, request.rounding, forward_.clip());
  const QuantParams& input = request.inputs[0].params;
  const std::int32_t steps = forward_.steps();
  const auto make = [&](auto weight) -> Result<std::unique_ptr<QuantizedLayer>> {
    using Weight = decltype(weight);
    auto forward = detail::make_integer_lstm_part<Weight>(forward_.float_weights(), forward_ranges,
                                                          options, input);
    if (!forward.is_ok()) return with_layer(forward.status());
    auto backward = detail::make_integer_lstm_part<Weight>(backward_.float_weights(),
                                                           backward_ranges, options, input);
    if (!backward.is_ok()) return with_layer(backward.status());
    if (request.precision == Precision::int16_activations) {
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedBidirectional<std::int16_t, Weight>>(
              std::move(forward).value(), std::move(backward).value(), batch, steps));
    }
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<detail::QuantizedBidirectional<std::int8_t, Weight>>(
            std::move(forward).value(), std::move(backward).value(), batch, steps));
  };
  if (request.precision == Precision::int16_weights) return make(std::int16_t{});
  return make(std::int8_t{});
}

}  // namespace nn
}  // namespace tsq
