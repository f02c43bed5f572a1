// SPDX-License-Identifier: Apache-2.0
// Tanh, elementwise. The integer forms have a fixed output, whatever the request
// says (output_quantization() reports it):
//   int8               int8 -> int8, output (1/128, 0)
//   int16_activations  int16 -> int16 (input zero point 0), output (2^-15, 0)
// The float precisions run the float layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/tanh.hpp"
#include "tsq/kernels/reference/tanh.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

class Tanh final : public Layer {
 public:
  explicit Tanh(std::string name) : Layer(std::move(name)) {}

  // The output every integer Tanh of this element type produces.
  static TensorQuantization fixed_output(DataType type) {
    return type == DataType::int16
               ? TensorQuantization{type, make_quant_params(1.0f / 32768, 0, DataType::int16)}
               : TensorQuantization{type, make_quant_params(1.0f / 128, 0, DataType::int8)};
  }

  const char* kind() const override { return "Tanh"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Tanh>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override { return inputs[0]; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::tanh(inputs[0], output));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;
};

namespace detail {

template <typename T>
class QuantizedTanh final : public QuantizedLayer {
 public:
  QuantizedTanh(const TanhParams& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedTanh>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return reference::tanh(params_, inputs[0].view<const T>(), output.view<T>());
  }
  TensorQuantization output_quantization() const override { return output_; }

 private:
  TanhParams params_;
  TensorQuantization output_;
};

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> Tanh::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 1)
    return layer_error(ErrorCode::invalid_argument, "request needs one input");
  switch (request.precision) {
    case Precision::float32:
    case Precision::float16_weights:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Tanh>>(*this));
    case Precision::int8:
    case Precision::int16_activations: {
      const DataType type = activation_type(request.precision);
      const TensorQuantization output = fixed_output(type);
      const Result<TanhParams> params = prepare_tanh(TanhQuantization{
          input_shapes()[0], request.inputs[0].params, output.params, request.rounding});
      if (!params.is_ok()) return with_layer(params.status());
      if (type == DataType::int16) {
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<detail::QuantizedTanh<std::int16_t>>(params.value(), output));
      }
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedTanh<std::int8_t>>(params.value(), output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by Tanh");
}

}  // namespace nn
}  // namespace tsq
