// SPDX-License-Identifier: Apache-2.0
// Logistic (sigmoid), y = 1 / (1 + exp(-x)), elementwise. The integer forms have a fixed output,
// whatever the request says (output_quantization() reports it):
//   int8               int8 -> int8, output (1/256, -128)
//   int16_activations  int16 -> int16 (input zero point 0), output (2^-15, 0)
// The float precisions run the float layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/logistic.hpp"
#include "tsq/kernels/reference/logistic.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

class Logistic final : public Layer {
 public:
  explicit Logistic(std::string name) : Layer(std::move(name)) {}

  // The output every integer Logistic of this element type produces.
  static TensorQuantization fixed_output(DataType type) {
    return type == DataType::int16
               ? TensorQuantization{type, make_quant_params(1.0f / 32768, 0, DataType::int16)}
               : TensorQuantization{type, make_quant_params(1.0f / 256, -128, DataType::int8)};
  }

  const char* kind() const override { return "Logistic"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Logistic>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override { return inputs[0]; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::logistic(inputs[0], output));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;
};

namespace detail {

template <typename T>
class QuantizedLogistic final : public QuantizedLayer {
 public:
  QuantizedLogistic(const LogisticParams& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedLogistic>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return reference::logistic(params_, inputs[0].view<const T>(), output.view<T>());
  }
  TensorQuantization output_quantization() const override { return output_; }

 private:
  LogisticParams params_;
  TensorQuantization output_;
};

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> Logistic::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 1)
    return layer_error(ErrorCode::invalid_argument, "request needs one input");
  switch (request.precision) {
    case Precision::float32:
    case Precision::float16_weights:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Logistic>>(*this));
    case Precision::int8:
    case Precision::int16_activations: {
      const DataType type = activation_type(request.precision);
      const TensorQuantization output = fixed_output(type);
      const Result<LogisticParams> params = prepare_logistic(LogisticQuantization{
          input_shapes()[0], request.inputs[0].params, output.params, request.rounding});
      if (!params.is_ok()) return with_layer(params.status());
      if (type == DataType::int16) {
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<detail::QuantizedLogistic<std::int16_t>>(params.value(), output));
      }
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedLogistic<std::int8_t>>(params.value(), output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by Logistic");
}

}  // namespace nn
}  // namespace tsq
