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
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/relu.hpp"
#include "tsq/kernels/reference/relu.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/elementwise.hpp"

namespace tsq {
namespace nn {

namespace detail {

// reference::relu: requantizes with one multiplier, which can flush to zero.
struct ReluKernel {
  using Params = ReluParams;
  template <typename T>
  static Status run(const Params& params, Span<const AnyTensor> inputs,
                    const TensorView<T>& output) {
    return reference::relu(params, inputs[0].view<const T>(), output);
  }
  static bool flushes_to_zero(const Params& params) { return params.multiplier.multiplier == 0; }
};

// reference::relu6: a clamp in the input's parameters, no multiplier.
struct Relu6Kernel : NoOutputMultiplier {
  using Params = Relu6Params;
  template <typename T>
  static Status run(const Params& params, Span<const AnyTensor> inputs,
                    const TensorView<T>& output) {
    return reference::relu6(params, inputs[0].view<const T>(), output);
  }
};

}  // namespace detail

class ReLU final : public detail::ElementwiseLayer<ReLU> {
 public:
  explicit ReLU(std::string name) : ElementwiseLayer(std::move(name)) {}

  const char* kind() const override { return "ReLU"; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::relu(inputs[0], output));
  }

 private:
  // The output parameters are the request's.
  Result<std::unique_ptr<QuantizedLayer>> quantize_integer(
      const LayerQuantizationRequest& request) const override {
    return quantized<detail::ReluKernel>(
        request.precision,
        prepare_relu(ReluQuantization{input_shapes()[0], request.inputs[0].params,
                                      request.output.params, request.rounding}),
        request.output);
  }
};

class ReLU6 final : public detail::ElementwiseLayer<ReLU6> {
 public:
  explicit ReLU6(std::string name) : ElementwiseLayer(std::move(name)) {}

  const char* kind() const override { return "ReLU6"; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::relu6(inputs[0], output));
  }

  bool passes_quantization_through() const override { return true; }

 private:
  // The input's parameters carry through (the kernel clamps, it does not requantize).
  Result<std::unique_ptr<QuantizedLayer>> quantize_integer(
      const LayerQuantizationRequest& request) const override {
    const TensorQuantization output = request.inputs[0];
    return quantized<detail::Relu6Kernel>(
        request.precision,
        prepare_relu6(Relu6Quantization{input_shapes()[0], output.params, output.params}), output);
  }
};

}  // namespace nn
}  // namespace tsq
