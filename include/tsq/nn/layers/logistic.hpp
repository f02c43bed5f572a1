// SPDX-License-Identifier: Apache-2.0
// Logistic (sigmoid), y = 1 / (1 + exp(-x)), elementwise. The integer forms have a fixed output,
// whatever the request says (output_quantization() reports it):
//   int8               int8 -> int8, output (1/256, -128)
//   int16_activations  int16 -> int16 (input zero point 0), output (2^-15, 0)
// The float precisions run the float layer.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "tsq/kernels/float/logistic.hpp"
#include "tsq/kernels/reference/logistic.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/elementwise.hpp"

namespace tsq {
namespace nn {

namespace detail {

// reference::logistic: a table lookup, no requantizing multiplier.
struct LogisticKernel : NoOutputMultiplier {
  using Params = LogisticParams;
  template <typename T>
  static Status run(const Params& params, Span<const AnyTensor> inputs,
                    const TensorView<T>& output) {
    return reference::logistic(params, inputs[0].view<const T>(), output);
  }
};

}  // namespace detail

class Logistic final : public detail::ElementwiseLayer<Logistic> {
 public:
  explicit Logistic(std::string name) : ElementwiseLayer(std::move(name)) {}

  // The output every integer Logistic of this element type produces: [0, 1) over the full range.
  static TensorQuantization fixed_output(DataType type) {
    return detail::fixed_quantization(type, 1.0f / 256, -128);
  }

  const char* kind() const override { return "Logistic"; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::logistic(inputs[0], output));
  }

 private:
  Result<std::unique_ptr<QuantizedLayer>> quantize_integer(
      const LayerQuantizationRequest& request) const override {
    const TensorQuantization output = fixed_output(activation_type(request.precision));
    return quantized<detail::LogisticKernel>(
        request.precision,
        prepare_logistic(LogisticQuantization{input_shapes()[0], request.inputs[0].params,
                                              output.params, request.rounding}),
        output);
  }
};

}  // namespace nn
}  // namespace tsq
