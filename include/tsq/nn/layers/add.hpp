// SPDX-License-Identifier: Apache-2.0
// Add of two tensors (residual connections), with NumPy broadcasting as the kernels do it:
// shapes aligned at the last axis, along each axis equal sizes or one of them 1 (e.g.
// [1, T, C] + [1, 1, C]). Quantized forms: int8 (simd::add) and int16 activations
// (reference::add), each input with its own parameters, the output's from the request; the float
// precisions run the float layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "tsq/kernels/float/add.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/kernels/simd/add.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/elementwise.hpp"

namespace tsq {
namespace nn {

namespace detail {

// Add on two inputs (int8: the SIMD kernel, bit-identical to reference::add); its output
// multiplier can flush to zero.
struct AddKernel {
  using Params = AddParams;
  template <typename T>
  static Status run(const Params& params, Span<const AnyTensor> inputs,
                    const TensorView<T>& output) {
    if constexpr (std::is_same_v<T, std::int8_t>) {
      return simd::add(params, inputs[0].view<const T>(), inputs[1].view<const T>(), output);
    } else {
      return reference::add(params, inputs[0].view<const T>(), inputs[1].view<const T>(), output);
    }
  }
  static bool flushes_to_zero(const Params& params) {
    return params.output_multiplier.multiplier == 0;
  }
};

}  // namespace detail

class Add final : public detail::ElementwiseLayer<Add> {
 public:
  explicit Add(std::string name) : ElementwiseLayer(std::move(name)) {}

  const char* kind() const override { return "Add"; }
  int input_count() const override { return 2; }

  // The broadcast shape of the two inputs.
  Result<Shape> configure(Span<const Shape> inputs) override {
    const Result<Shape> shape = add_output_shape(inputs[0], inputs[1]);
    if (!shape.is_ok()) return with_layer(shape.status());
    return shape;
  }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    return with_layer(floating::add(FusedActivation::none, inputs[0], inputs[1], output));
  }

 private:
  // Each input keeps its own parameters; the output's are the request's.
  Result<std::unique_ptr<QuantizedLayer>> quantize_integer(
      const LayerQuantizationRequest& request) const override {
    AddQuantization q;
    q.input1_shape = input_shapes()[0];
    q.input1 = request.inputs[0].params;
    q.input2_shape = input_shapes()[1];
    q.input2 = request.inputs[1].params;
    q.output = request.output.params;
    q.rounding = request.rounding;
    return quantized<detail::AddKernel>(request.precision, prepare_add(q), request.output);
  }
};

}  // namespace nn
}  // namespace tsq
