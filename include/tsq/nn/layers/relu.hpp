// SPDX-License-Identifier: Apache-2.0
// Standalone ReLU and ReLU6, elementwise (a ReLU right after a Conv or Dense is better fused:
// Dense("d", n).relu()). Integer forms: int8 and int16 activations (zero points 0).
//   ReLU   requantizes: the output parameters are the request's (a ReLU output needs no
//          negative range, so the model may give it a finer scale than its input's).
//   ReLU6  does not requantize: its output keeps the input's parameters
//          (passes_quantization_through()), whatever the request's output says.
// The float precisions run the float layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/relu.hpp"
#include "tsq/kernels/reference/relu.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

class ReLU final : public Layer {
 public:
  explicit ReLU(std::string name) : Layer(std::move(name)) {}

  const char* kind() const override { return "ReLU"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ReLU>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override { return inputs[0]; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::relu(inputs[0], output));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;
};

class ReLU6 final : public Layer {
 public:
  explicit ReLU6(std::string name) : Layer(std::move(name)) {}

  const char* kind() const override { return "ReLU6"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ReLU6>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override { return inputs[0]; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::relu6(inputs[0], output));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  bool passes_quantization_through() const override { return true; }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;
};

namespace detail {

template <typename T>
class QuantizedRelu final : public QuantizedLayer {
 public:
  QuantizedRelu(const ReluParams& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedRelu>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return reference::relu(params_, inputs[0].view<const T>(), output.view<T>());
  }
  TensorQuantization output_quantization() const override { return output_; }
  bool multipliers_flush_to_zero() const override { return params_.multiplier.multiplier == 0; }

 private:
  ReluParams params_;
  TensorQuantization output_;
};

template <typename T>
class QuantizedRelu6 final : public QuantizedLayer {
 public:
  QuantizedRelu6(const Relu6Params& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedRelu6>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return reference::relu6(params_, inputs[0].view<const T>(), output.view<T>());
  }
  TensorQuantization output_quantization() const override { return output_; }

 private:
  Relu6Params params_;
  TensorQuantization output_;
};

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> ReLU::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 1)
    return layer_error(ErrorCode::invalid_argument, "request needs one input");
  switch (request.precision) {
    case Precision::float32:
    case Precision::float16_weights:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<ReLU>>(*this));
    case Precision::int8:
    case Precision::int16_activations: {
      ReluQuantization q;
      q.shape = input_shapes()[0];
      q.input = request.inputs[0].params;
      q.output = request.output.params;
      q.rounding = request.rounding;
      const Result<ReluParams> params = prepare_relu(q);
      if (!params.is_ok()) return with_layer(params.status());
      if (request.precision == Precision::int16_activations) {
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<detail::QuantizedRelu<std::int16_t>>(params.value(), request.output));
      }
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedRelu<std::int8_t>>(params.value(), request.output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by ReLU");
}

inline Result<std::unique_ptr<QuantizedLayer>> ReLU6::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 1)
    return layer_error(ErrorCode::invalid_argument, "request needs one input");
  switch (request.precision) {
    case Precision::float32:
    case Precision::float16_weights:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<ReLU6>>(*this));
    case Precision::int8:
    case Precision::int16_activations: {
      // The input's parameters carry through (the kernel clamps, it does not requantize).
      const TensorQuantization output = request.inputs[0];
      const Result<Relu6Params> params =
          prepare_relu6(Relu6Quantization{input_shapes()[0], output.params, output.params});
      if (!params.is_ok()) return with_layer(params.status());
      if (request.precision == Precision::int16_activations) {
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<detail::QuantizedRelu6<std::int16_t>>(params.value(), output));
      }
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedRelu6<std::int8_t>>(params.value(), output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by ReLU6");
}

}  // namespace nn
}  // namespace tsq
