// SPDX-License-Identifier: Apache-2.0
// GlobalAveragePool (Keras GlobalAveragePooling1D / 2D with keepdims=False, TFLite MEAN over the
// spatial axes): [1, T, C] -> [1, C] and [1, H, W, C] -> [1, C].
//
// Quantized forms: int8 (TFLite-Micro's MEAN, whose output has its own parameters, as the model
// chose them). No weights, so float16 weights and dynamic int8 run it in float. No int16 Mean
// kernel: int16 activations are not supported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/mean.hpp"
#include "tsq/kernels/reference/mean.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

class GlobalAveragePool final : public Layer {
 public:
  explicit GlobalAveragePool(std::string name) : Layer(std::move(name)) {}

  const char* kind() const override { return "GlobalAveragePool"; }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<GlobalAveragePool>(*this);
  }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (input.rank() != 3 && input.rank() != 4) {
      return layer_error(ErrorCode::shape_mismatch,
                         "input must be [1, T, C] or [1, H, W, C], got rank ")
          .append(input.rank());
    }
    const Result<Shape> output = mean_output_shape(input, /*keep_dims=*/false);
    if (!output.is_ok()) return with_layer(output.status());
    return output;
  }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::mean(inputs[0], output));
  }

  bool supports(Precision precision) const override {
    return precision == Precision::float32 || precision == Precision::float16_weights ||
           precision == Precision::dynamic_int8 || precision == Precision::int8;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;
};

namespace detail {

// int8 Mean with the output parameters the model chose.
class QuantizedMean final : public QuantizedLayer {
 public:
  QuantizedMean(const MeanParams& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedMean>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return reference::mean(params_, inputs[0].view<const std::int8_t>(),
                           output.view<std::int8_t>());
  }
  TensorQuantization output_quantization() const override { return output_; }
  bool multipliers_flush_to_zero() const override { return params_.multiplier.multiplier == 0; }

 private:
  MeanParams params_;  // no pointers: a plain copy is safe
  TensorQuantization output_;
};

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> GlobalAveragePool::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  switch (request.precision) {
    case Precision::float32:
    case Precision::float16_weights:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<FloatFallback<GlobalAveragePool>>(*this));
    case Precision::int8: {
      const MeanQuantization q{input_shapes()[0], request.inputs[0].params, request.output.params,
                               /*keep_dims=*/false, request.rounding};
      const Result<MeanParams> params = prepare_mean(q);
      if (!params.is_ok()) return with_layer(params.status());
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedMean>(params.value(), request.output));
    }
    case Precision::int16_activations:
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "has no int16 kernel");
}

}  // namespace nn
}  // namespace tsq
