// SPDX-License-Identifier: Apache-2.0
// Add of two tensors (residual connections), with NumPy broadcasting as the kernels do it:
// shapes aligned at the last axis, along each axis equal sizes or one of them 1 (e.g.
// [1, T, C] + [1, 1, C]). Quantized forms: int8 and int16 activations (reference::add, each
// input with its own parameters, the output's from the request); the float precisions run the
// float layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/add.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

class Add final : public Layer {
 public:
  explicit Add(std::string name) : Layer(std::move(name)) {}

  const char* kind() const override { return "Add"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Add>(*this); }
  int input_count() const override { return 2; }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Result<Shape> shape = add_output_shape(inputs[0], inputs[1]);
    if (!shape.is_ok()) return with_layer(shape.status());
    return shape;
  }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::add(FusedActivation::none, inputs[0], inputs[1], output));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;
};

namespace detail {

template <typename T>
class QuantizedAdd final : public QuantizedLayer {
 public:
  QuantizedAdd(const AddParams& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedAdd>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return reference::add(params_, inputs[0].view<const T>(), inputs[1].view<const T>(),
                          output.view<T>());
  }
  TensorQuantization output_quantization() const override { return output_; }
  bool multipliers_flush_to_zero() const override {
    return params_.output_multiplier.multiplier == 0;
  }

 private:
  AddParams params_;
  TensorQuantization output_;
};

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> Add::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 2) {
    return layer_error(ErrorCode::invalid_argument, "request needs two inputs");
  }
  switch (request.precision) {
    case Precision::float32:
    case Precision::float16_weights:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Add>>(*this));
    case Precision::int8:
    case Precision::int16_activations: {
      AddQuantization q;
      q.input1_shape = input_shapes()[0];
      q.input1 = request.inputs[0].params;
      q.input2_shape = input_shapes()[1];
      q.input2 = request.inputs[1].params;
      q.output = request.output.params;
      q.rounding = request.rounding;
      const Result<AddParams> params = prepare_add(q);
      if (!params.is_ok()) return with_layer(params.status());
      if (request.precision == Precision::int16_activations) {
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<detail::QuantizedAdd<std::int16_t>>(params.value(), request.output));
      }
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::QuantizedAdd<std::int8_t>>(params.value(), request.output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by Add");
}

}  // namespace nn
}  // namespace tsq
