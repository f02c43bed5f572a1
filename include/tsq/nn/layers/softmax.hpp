// SPDX-License-Identifier: Apache-2.0
// Softmax over the last axis, y = exp(beta x) / sum exp(beta x). The integer forms have a fixed
// output, whatever the request says (output_quantization() reports it):
//   int8               int8 -> int8, output (1/256, -128)
//   int16_activations  int16 -> int16 (input zero point 0), output (1/32768, 0)
// The float precisions run the float layer.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

class Softmax final : public Layer {
 public:
  explicit Softmax(std::string name) : Layer(std::move(name)) {}

  Softmax& beta(float beta) {
    beta_ = beta;
    return *this;
  }
  float beta() const { return beta_; }

  // The output every integer Softmax of this element type produces.
  static TensorQuantization fixed_output(DataType type) {
    return type == DataType::int16
               ? TensorQuantization{type, make_quant_params(1.0f / 32768, 0, DataType::int16)}
               : TensorQuantization{type, make_quant_params(1.0f / 256, -128, DataType::int8)};
  }

  const char* kind() const override { return "Softmax"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Softmax>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    if (inputs[0].rank() < 2)
      return layer_error(ErrorCode::shape_mismatch, "input needs rank >= 2");
    if (!std::isfinite(beta_) || !(beta_ > 0.0f)) {
      return layer_error(ErrorCode::invalid_argument, "beta must be finite and > 0");
    }
    return inputs[0];
  }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::softmax(beta_, inputs[0], output));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;

 private:
  float beta_ = 1.0f;
};

namespace detail {

template <typename T>
class QuantizedSoftmax final : public QuantizedLayer {
 public:
  QuantizedSoftmax(const SoftmaxParams& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedSoftmax>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return reference::softmax(params_, inputs[0].view<const T>(), output.view<T>());
  }
  TensorQuantization output_quantization() const override { return output_; }

 private:
  SoftmaxParams params_;  // its int16 tables are the constexpr ones: safe to copy
  TensorQuantization output_;
};

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> Softmax::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 1)
    return layer_error(ErrorCode::invalid_argument, "request needs one input");
  switch (request.precision) {
    case Precision::float32:
    case Precision::float16_weights:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Softmax>>(*this));
    case Precision::int8:
    case Precision::int16_activations: {
      const DataType type = activation_type(request.precision);
      const TensorQuantization output = fixed_output(type);
      const Result<SoftmaxParams> params = prepare_softmax(SoftmaxQuantization{
          input_shapes()[0], request.inputs[0].params, output.params, beta_, request.rounding});
      if (!params.is_ok()) return with_layer(params.status());
      if (type == DataType::int16) {
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<detail::QuantizedSoftmax<std::int16_t>>(params.value(), output));
      }
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedSoftmax<std::int8_t>>(params.value(), output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by Softmax");
}

}  // namespace nn
}  // namespace tsq
