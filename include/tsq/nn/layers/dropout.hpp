// SPDX-License-Identifier: Apache-2.0
// Dropout: the identity at inference. A model removes it when it is built (is_identity()); run on
// its own it copies its input, and in a quantized model it passes values and their
// quantization through unchanged.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/common.hpp"
#include "tsq/nn/layer.hpp"

namespace tsq {
namespace nn {

namespace detail {

// Copies the input's bytes to the output, whatever their element type.
class PassThrough final : public QuantizedLayer {
 public:
  explicit PassThrough(TensorQuantization quantization) : quantization_(quantization) {}
  std::optional<std::size_t> output_aliases_input() const override { return 0; }
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<PassThrough>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    const AnyTensor& input = inputs[0];
    if (input.type != output.type || input.bytes() != output.bytes()) {
      return Status::error(ErrorCode::shape_mismatch,
                           "Dropout output must have the input's type and size");
    }
    if ((input.data == nullptr || output.data == nullptr) && input.bytes() != 0) {
      return Status::error(ErrorCode::invalid_argument, "Dropout tensor has null data");
    }
    if (input.data != output.data && input.bytes() != 0) {
      std::memmove(output.data, input.data, input.bytes());
    }
    return Status::ok();
  }
  TensorQuantization output_quantization() const override { return quantization_; }

 private:
  TensorQuantization quantization_;
};

}  // namespace detail

class Dropout final : public Layer {
 public:
  // `rate` is kept for the record: inference never drops anything.
  Dropout(std::string name, float rate) : Layer(std::move(name)), rate_(rate) {}

  const char* kind() const override { return "Dropout"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout>(*this); }
  float rate() const { return rate_; }

  Result<Shape> configure(Span<const Shape> inputs) override {
    if (!(rate_ >= 0.0f && rate_ < 1.0f)) {
      return layer_error(ErrorCode::invalid_argument, "rate must be in [0, 1)");
    }
    return inputs[0];
  }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    TSQ_RETURN_IF_ERROR(
        with_layer(tsq::detail::check_float_elementwise_views(kind(), inputs[0], output)));
    const float* in = inputs[0].data();
    if (in != output.data()) std::copy(in, in + output.element_count(), output.data());
    return Status::ok();
  }

  bool supports(Precision /*precision*/) const override { return true; }
  bool passes_quantization_through() const override { return true; }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override {
    if (request.inputs.empty()) return layer_error(ErrorCode::invalid_argument, "has no input");
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<detail::PassThrough>(request.inputs[0]));
  }

  bool is_identity() const override { return true; }

 private:
  float rate_ = 0.0f;
};

}  // namespace nn
}  // namespace tsq
