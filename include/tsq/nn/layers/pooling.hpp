// SPDX-License-Identifier: Apache-2.0
// MaxPool1D, AvgPool1D, MaxPool2D and AvgPool2D (Keras MaxPooling1D / AveragePooling1D / ...2D,
// TFLite MAX_POOL_2D / AVERAGE_POOL_2D).
//
//   *Pool1D: [1, T, C] -> [1, T', C], run on [1, T, 1, C] with a pool_size x 1 window
//   *Pool2D: [1, H, W, C] -> [1, H', W', C]
//
// The stride defaults to the pool size, as in Keras; the padding to valid. Windows are clipped
// to the input: an average at a SAME border divides by the taps inside the input only.
// Quantized forms: int8 and int16 activations, whose output keeps the input's parameters (the
// kernels pass stored integers through: passes_quantization_through()). A pooling layer has no
// weights, so float16 weights and dynamic int8 run it in float.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "tsq/export/kernel_params.hpp"
#include "tsq/kernels/float/avg_pool2d.hpp"
#include "tsq/kernels/float/max_pool2d.hpp"
#include "tsq/kernels/mcu/max_pool2d.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/kernels/simd/avg_pool2d.hpp"
#include "tsq/kernels/simd/max_pool2d.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

enum class PoolReduction : std::uint8_t { max, average };

namespace detail {

// An integer pooling layer: the params of MaxPool2D or AvgPool2D and the NHWC shapes.
template <PoolReduction Reduction, typename Activation>
class QuantizedPooling final : public QuantizedLayer {
 public:
  using Params =
      std::conditional_t<Reduction == PoolReduction::max, MaxPool2DParams, AvgPool2DParams>;
  QuantizedPooling(const Params& params, const Shape& input_nhwc, const Shape& output_nhwc,
                   TensorQuantization output)
      : params_(params), input_nhwc_(input_nhwc), output_nhwc_(output_nhwc), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedPooling>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    const Result<TensorView<const Activation>> input =
        inputs[0].view<const Activation>().reshaped(input_nhwc_);
    if (!input.is_ok()) return input.status();
    const Result<TensorView<Activation>> out = output.view<Activation>().reshaped(output_nhwc_);
    if (!out.is_ok()) return out.status();
    // int8: the SIMD kernels (kernels/simd/, bit-identical to the reference).
    if constexpr (Reduction == PoolReduction::max && std::is_same_v<Activation, std::int8_t>) {
      return simd::max_pool2d(params_, input.value(), out.value());
    } else if constexpr (std::is_same_v<Activation, std::int8_t>) {
      return simd::avg_pool2d(params_, input.value(), out.value());
    } else if constexpr (Reduction == PoolReduction::max) {
      return reference::max_pool2d(params_, input.value(), out.value());
    } else {
      return reference::avg_pool2d(params_, input.value(), out.value());
    }
  }
  TensorQuantization output_quantization() const override { return output_; }
  Status emit(codegen::LayerCode& code) const override {
    const std::string params = codegen::write_params(code.constants, code.id + "_params", params_);
    constexpr bool max = Reduction == PoolReduction::max;
    if constexpr (max && std::is_same_v<Activation, std::int8_t>) {
      code.include("tsq/kernels/mcu/max_pool2d.hpp");
      code.statement("tsq::mcu::max_pool2d_int8(" + params + ", " + code.inputs[0] + ", " +
                     code.output + ")");
      return Status::ok();
    }
    code.include(max ? "tsq/kernels/reference/max_pool2d.hpp"
                     : "tsq/kernels/reference/avg_pool2d.hpp");
    code.call(std::string(max ? "tsq::reference::max_pool2d(" : "tsq::reference::avg_pool2d(") +
              params + ", " + code.input_view(0, input_nhwc_) + ", " +
              code.output_view(output_nhwc_) + ")");
    return Status::ok();
  }

 private:
  Params params_;  // no pointers: a plain copy is safe
  Shape input_nhwc_;
  Shape output_nhwc_;
  TensorQuantization output_;
};

// What the four pooling layers share (setters return the concrete layer, as in conv.hpp).
template <typename Derived, int SpatialRank, PoolReduction Reduction>
class Pooling : public Layer {
 public:
  Derived& padding(Padding padding) {
    padding_ = padding;
    return derived();
  }

  std::unique_ptr<Layer> clone() const override { return std::make_unique<Derived>(derived()); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    TSQ_RETURN_IF_ERROR(with_layer(check_window_input_rank<SpatialRank>(input)));
    if (pool_size_.height < 1 || pool_size_.width < 1) {
      return layer_error(ErrorCode::invalid_argument, "pool size must be >= 1");
    }
    TSQ_RETURN_IF_ERROR(with_layer(check_window_axes<SpatialRank>(
        input, pool_size_, effective_stride(), Size2D{1, 1}, padding_)));
    input_nhwc_ = nhwc_of(input);
    const Result<Pool2DGeometry> geometry = compute_pool2d_geometry(input_nhwc_, window(), kind());
    if (!geometry.is_ok()) return with_layer(geometry.status());
    output_nhwc_ = nhwc_shape(geometry->output);
    return window_output_of(output_nhwc_, SpatialRank);
  }

  // The window the 2-D kernels take (stride = pool size unless set).
  Pool2DWindow window() const {
    const Size2D step = effective_stride();
    Pool2DWindow window;
    window.filter_height = pool_size_.height;
    window.filter_width = pool_size_.width;
    window.stride_height = step.height;
    window.stride_width = step.width;
    window.padding = padding_;
    return window;
  }
  Size2D effective_stride() const { return stride_set_ ? stride_ : pool_size_; }
  const Shape& input_nhwc() const { return input_nhwc_; }
  const Shape& output_nhwc() const { return output_nhwc_; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    const Result<TensorView<const float>> input = inputs[0].reshaped(input_nhwc_);
    if (!input.is_ok()) return with_layer(input.status());
    const Result<TensorView<float>> out = output.reshaped(output_nhwc_);
    if (!out.is_ok()) return with_layer(out.status());
    if constexpr (Reduction == PoolReduction::max) {
      return with_layer(
          floating::max_pool2d(window(), FusedActivation::none, input.value(), out.value()));
    } else {
      return with_layer(
          floating::avg_pool2d(window(), FusedActivation::none, input.value(), out.value()));
    }
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  bool passes_quantization_through() const override { return true; }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override {
    TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
    switch (request.precision) {
      case Precision::float32:
      case Precision::float16_weights:
      case Precision::dynamic_int8:
        return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Derived>>(derived()));
      case Precision::int8: return quantize_integer<std::int8_t>(request.inputs[0]);
      case Precision::int16_activations: return quantize_integer<std::int16_t>(request.inputs[0]);
      case Precision::int16_weights: break;
    }
    return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported");
  }

 protected:
  Pooling(std::string name, Size2D pool_size) : Layer(std::move(name)), pool_size_(pool_size) {}

  Derived& set_stride(Size2D stride) {
    stride_ = stride;
    stride_set_ = true;
    return derived();
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  // The output keeps the input's quantization: that is what the kernels compute.
  template <typename Activation>
  Result<std::unique_ptr<QuantizedLayer>> quantize_integer(const TensorQuantization& input) const {
    using Quantized = QuantizedPooling<Reduction, Activation>;
    typename Quantized::Params params;
    if constexpr (Reduction == PoolReduction::max) {
      const Result<MaxPool2DParams> prepared = prepare_max_pool2d(MaxPool2DQuantization{
          input_nhwc_, input.params, input.params, window(), FusedActivation::none});
      if (!prepared.is_ok()) return with_layer(prepared.status());
      params = prepared.value();
    } else {
      const Result<AvgPool2DParams> prepared = prepare_avg_pool2d(AvgPool2DQuantization{
          input_nhwc_, input.params, input.params, window(), FusedActivation::none});
      if (!prepared.is_ok()) return with_layer(prepared.status());
      params = prepared.value();
    }
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<Quantized>(params, input_nhwc_, output_nhwc_, input));
  }

  Size2D pool_size_;
  Size2D stride_;
  bool stride_set_ = false;
  Padding padding_ = Padding::valid;  // Keras' default
  Shape input_nhwc_;
  Shape output_nhwc_;
};

}  // namespace detail

// MaxPool1D("pool", 2): [1, T, C] -> [1, T / 2, C].
class MaxPool1D final : public detail::Pooling<MaxPool1D, 1, PoolReduction::max> {
 public:
  MaxPool1D(std::string name, std::int32_t pool_size)
      : Pooling(std::move(name), Size2D{pool_size, 1}) {}
  MaxPool1D& stride(std::int32_t stride) { return set_stride(Size2D{stride, 1}); }
  const char* kind() const override { return "MaxPool1D"; }
};

// AvgPool1D("pool", 2): [1, T, C] -> [1, T / 2, C].
class AvgPool1D final : public detail::Pooling<AvgPool1D, 1, PoolReduction::average> {
 public:
  AvgPool1D(std::string name, std::int32_t pool_size)
      : Pooling(std::move(name), Size2D{pool_size, 1}) {}
  AvgPool1D& stride(std::int32_t stride) { return set_stride(Size2D{stride, 1}); }
  const char* kind() const override { return "AvgPool1D"; }
};

// MaxPool2D("pool", {2, 2}): [1, H, W, C] -> [1, H / 2, W / 2, C].
class MaxPool2D final : public detail::Pooling<MaxPool2D, 2, PoolReduction::max> {
 public:
  MaxPool2D(std::string name, Size2D pool_size) : Pooling(std::move(name), pool_size) {}
  MaxPool2D& stride(std::int32_t stride) { return set_stride(Size2D{stride, stride}); }
  MaxPool2D& stride(Size2D stride) { return set_stride(stride); }
  const char* kind() const override { return "MaxPool2D"; }
};

// AvgPool2D("pool", {2, 2}): [1, H, W, C] -> [1, H / 2, W / 2, C].
class AvgPool2D final : public detail::Pooling<AvgPool2D, 2, PoolReduction::average> {
 public:
  AvgPool2D(std::string name, Size2D pool_size) : Pooling(std::move(name), pool_size) {}
  AvgPool2D& stride(std::int32_t stride) { return set_stride(Size2D{stride, stride}); }
  AvgPool2D& stride(Size2D stride) { return set_stride(stride); }
  const char* kind() const override { return "AvgPool2D"; }
};

}  // namespace nn
}  // namespace tsq
