// SPDX-License-Identifier: Apache-2.0
// Softmax over the last axis, y = exp(beta x) / sum exp(beta x). The integer forms have a fixed
// output, whatever the request says (output_quantization() reports it):
//   int8               int8 -> int8, output (1/256, -128)
//   int16_activations  int16 -> int16 (input zero point 0), output (1/32768, 0)
// The float precisions run the float layer.
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "tsq/export/kernel_params.hpp"
#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/kernels/simd/softmax.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/elementwise.hpp"

namespace tsq {
namespace nn {

namespace detail {

// The reference's params (safe to copy into each quantized layer: the int16 tables they point
// at are the constexpr ones) and, for int8, the exponential table of simd::softmax, shared by
// copies of the layer.
struct SoftmaxLayerParams {
  SoftmaxParams reference;
  std::shared_ptr<const simd::SoftmaxExpTable> table;
};

inline Result<SoftmaxLayerParams> prepare_softmax_layer(const SoftmaxQuantization& q) {
  const Result<SoftmaxParams> params = prepare_softmax(q);
  if (!params.is_ok()) return params.status();
  SoftmaxLayerParams layer;
  layer.reference = *params;
  if (params->input_type == DataType::int8) {
    auto table = std::make_shared<simd::SoftmaxExpTable>();
    TSQ_RETURN_IF_ERROR(simd::make_softmax_exp_table(*params, *table));
    layer.table = std::move(table);
  }
  return layer;
}

// int8: simd::softmax (bit-identical to the reference); int16: reference::softmax.
struct SoftmaxKernel : NoOutputMultiplier {
  using Params = SoftmaxLayerParams;
  template <typename T>
  static Status run(const Params& params, Span<const AnyTensor> inputs,
                    const TensorView<T>& output) {
    if constexpr (std::is_same_v<T, std::int8_t>) {
      if (params.table) {
        return simd::softmax(params.reference, *params.table, inputs[0].view<const T>(), output);
      }
    }
    return reference::softmax(params.reference, inputs[0].view<const T>(), output);
  }
  template <typename T>
  static Status emit(const Params& layer_params, codegen::LayerCode& code) {
    const SoftmaxParams& params = layer_params.reference;
    const std::string name = codegen::write_params(code.constants, code.id + "_params", params);
    code.include("tsq/kernels/reference/softmax.hpp");
    if constexpr (std::is_same_v<T, std::int8_t>) {
      code.statement("tsq::detail::softmax_int8(" + name + ", " + code.inputs[0] + ", " +
                     code.output + ")");
      return Status::ok();
    }
    code.call("tsq::reference::softmax(" + name + ", " + code.input_view(0, code.input_shapes[0]) +
              ", " + code.output_view(code.output_shape) + ")");
    return Status::ok();
  }
};

}  // namespace detail

class Softmax final : public detail::ElementwiseLayer<Softmax> {
 public:
  explicit Softmax(std::string name) : ElementwiseLayer(std::move(name)) {}

  Softmax& beta(float beta) {
    beta_ = beta;
    return *this;
  }
  float beta() const { return beta_; }

  // The output every integer Softmax of this element type produces: probabilities in [0, 1).
  static TensorQuantization fixed_output(DataType type) {
    return detail::fixed_quantization(type, 1.0f / 256, -128);
  }

  const char* kind() const override { return "Softmax"; }

  // The sum runs over the last axis, so a lone vector (rank 1) would have no batch axis.
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

 private:
  Result<std::unique_ptr<QuantizedLayer>> quantize_integer(
      const LayerQuantizationRequest& request) const override {
    const TensorQuantization output = fixed_output(activation_type(request.precision));
    return quantized<detail::SoftmaxKernel>(
        request.precision,
        detail::prepare_softmax_layer(SoftmaxQuantization{
            input_shapes()[0], request.inputs[0].params, output.params, beta_, request.rounding}),
        output);
  }

  float beta_ = 1.0f;
};

}  // namespace nn
}  // namespace tsq
