// SPDX-License-Identifier: Apache-2.0
// What the elementwise layers (Logistic, Tanh, Softmax, ReLU, ReLU6, Add) share: they have no
// weights, their output has their input's shape, the float precisions (float32, float16 weights,
// DRQ) all run the float layer (there is nothing to store in half or int8), int16 weights do not
// apply, and the integer forms are one reference kernel on parameters prepared once.
// Each op's header keeps what is its own: the float kernel, the output parameters, the prepare
// call and which reference kernel runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {
namespace detail {

// The output of an op whose integer form fixes it (Logistic, Tanh, Softmax): int16 is always
// (2^-15, 0), the int8 parameters are the op's.
inline TensorQuantization fixed_quantization(DataType type, float int8_scale,
                                             std::int32_t int8_zero_point) {
  return type == DataType::int16
             ? TensorQuantization{type, make_quant_params(1.0f / 32768, 0, DataType::int16)}
             : TensorQuantization{type,
                                  make_quant_params(int8_scale, int8_zero_point, DataType::int8)};
}

// A kernel without a requantizing multiplier: its output is never constant by rounding.
struct NoOutputMultiplier {
  template <typename Params>
  static bool flushes_to_zero(const Params& /*params*/) {
    return false;
  }
};

// Kernels with a firmware export define emit<T>(params, code).
template <typename Kernel, typename = void>
struct HasEmit : std::false_type {};
template <typename Kernel>
struct HasEmit<Kernel, std::void_t<decltype(&Kernel::template emit<std::int8_t>)>>
    : std::true_type {};

// The integer form of an elementwise op: its prepared parameters, the kernel that runs them on
// element type T, and the output parameters it produces. `Kernel` names the parameter type
// (Params), runs them (run<T>) and says whether its multipliers flushed (flushes_to_zero).
template <typename Kernel, typename T>
class QuantizedElementwise final : public QuantizedLayer {
 public:
  using Params = typename Kernel::Params;

  QuantizedElementwise(const Params& params, TensorQuantization output)
      : params_(params), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedElementwise>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    return Kernel::template run<T>(params_, inputs, output.view<T>());
  }
  TensorQuantization output_quantization() const override { return output_; }
  bool multipliers_flush_to_zero() const override { return Kernel::flushes_to_zero(params_); }
  Status emit(codegen::LayerCode& code) const override {
    if constexpr (HasEmit<Kernel>::value) {
      return Kernel::template emit<T>(params_, code);
    } else {
      return QuantizedLayer::emit(code);
    }
  }

 private:
  Params params_;
  TensorQuantization output_;
};

// The base of an elementwise layer `Derived` (CRTP: its clone and float fallback are of the
// derived type). Derived gives kind(), run_float() and quantize_integer(); configure() keeps the
// input's shape unless Derived says otherwise.
template <typename Derived>
class ElementwiseLayer : public Layer {
 public:
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }

  Result<Shape> configure(Span<const Shape> inputs) override { return inputs[0]; }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }

  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override {
    TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
    if (request.inputs.size() != static_cast<std::size_t>(input_count())) {
      return layer_error(ErrorCode::invalid_argument, input_count() == 2
                                                          ? "request needs two inputs"
                                                          : "request needs one input");
    }
    switch (request.precision) {
      case Precision::float32:
      case Precision::float16_weights:
      case Precision::dynamic_int8:
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<FloatFallback<Derived>>(static_cast<const Derived&>(*this)));
      case Precision::int8:
      case Precision::int16_activations: return quantize_integer(request);
      case Precision::int16_weights: break;
    }
    return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by ")
        .append(kind());
  }

 protected:
  explicit ElementwiseLayer(std::string name) : Layer(std::move(name)) {}

  // The int8 or int16-activation form (request.precision is one of them, its types checked).
  virtual Result<std::unique_ptr<QuantizedLayer>> quantize_integer(
      const LayerQuantizationRequest& request) const = 0;

  // The integer form from the op's prepared parameters, in the precision's activation type.
  template <typename Kernel>
  Result<std::unique_ptr<QuantizedLayer>> quantized(Precision precision,
                                                    const Result<typename Kernel::Params>& params,
                                                    const TensorQuantization& output) const {
    if (!params.is_ok()) return with_layer(params.status());
    if (precision == Precision::int16_activations) {
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<QuantizedElementwise<Kernel, std::int16_t>>(params.value(), output));
    }
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<QuantizedElementwise<Kernel, std::int8_t>>(params.value(), output));
  }
};

}  // namespace detail
}  // namespace nn
}  // namespace tsq
