// SPDX-License-Identifier: Apache-2.0
// Dense (FullyConnected) over the last axis: [1, ..., D] -> [1, ..., units]; applied to a window
// [1, T, D] it acts on every time step (Keras' Dense on a 3-D input).
//
// Weights: kernel (keras (D, units); pytorch and tflite (units, D)), bias (units) unless
// use_bias(false). Kept as [units, D] float32. Quantized forms: int8 (per-channel int8 weights,
// int32 bias), int16 activations (int64 bias), dynamic int8 (DRQ), float16 weights, float32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tsq/export/kernel_params.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/simd/hybrid_fully_connected.hpp"
#include "tsq/kernels/simd/prepared.hpp"
#include "tsq/nn/float_backend.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"
#include "tsq/ptq/weight_rounding.hpp"

namespace tsq {
namespace nn {

class Dense final : public Layer {
 public:
  Dense(std::string name, std::int32_t units) : Layer(std::move(name)), units_(units) {}

  Dense& relu() { return activation(FusedActivation::relu); }
  Dense& relu6() { return activation(FusedActivation::relu6); }
  Dense& activation(FusedActivation activation) {
    activation_ = activation;
    return *this;
  }
  Dense& use_bias(bool use) {
    use_bias_ = use;
    return *this;
  }
  Dense& layout(WeightLayout layout) {
    layout_ = layout;
    return *this;
  }
  // Weights given directly: kernel in the declared layout, bias (units) or empty.
  Status set_weights(const std::vector<float>& kernel, const std::vector<float>& bias) {
    if (depth_ < 1)
      return layer_error(ErrorCode::invalid_argument, "add the layer to a model first");
    if (kernel.size() != static_cast<std::size_t>(units_) * static_cast<std::size_t>(depth_)) {
      return layer_error(ErrorCode::shape_mismatch, "kernel has the wrong number of values");
    }
    if (use_bias_ != !bias.empty() ||
        (!bias.empty() && bias.size() != static_cast<std::size_t>(units_))) {
      return layer_error(ErrorCode::shape_mismatch, "bias must have `units` values (or none)");
    }
    set_kernel(kernel.data());
    bias_ = bias;
    loaded_ = true;
    return Status::ok();
  }

  const char* kind() const override { return "Dense"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dense>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (units_ < 1) return layer_error(ErrorCode::invalid_argument, "units must be >= 1");
    if (input.rank() < 2) return layer_error(ErrorCode::shape_mismatch, "input needs rank >= 2");
    depth_ = input[input.rank() - 1];
    Shape output = input;
    output[input.rank() - 1] = units_;
    return output;
  }

  Status load_weights(const io::NpzFile& archive, const WeightNaming& naming) override {
    const std::vector<std::size_t> kernel_shape =
        layout_ == WeightLayout::keras ? std::vector<std::size_t>{static_cast<std::size_t>(depth_),
                                                                  static_cast<std::size_t>(units_)}
                                       : std::vector<std::size_t>{static_cast<std::size_t>(units_),
                                                                  static_cast<std::size_t>(depth_)};
    const Result<const io::NpyArray*> kernel =
        find_weight(archive, naming.member(name(), "kernel"), kernel_shape, layout_);
    if (!kernel.is_ok()) return with_layer(kernel.status());
    std::vector<float> bias;
    if (use_bias_) {
      const Result<const io::NpyArray*> b = find_weight(
          archive, naming.member(name(), "bias"), {static_cast<std::size_t>(units_)}, layout_);
      if (!b.is_ok()) return with_layer(b.status());
      bias.assign((*b)->data<float>(), (*b)->data<float>() + units_);
    }
    set_kernel((*kernel)->data<float>());
    bias_ = std::move(bias);
    loaded_ = true;
    return Status::ok();
  }
  bool weights_loaded() const override { return loaded_; }
  std::size_t parameter_count() const override {
    return static_cast<std::size_t>(units_) * static_cast<std::size_t>(depth_) + bias_.size();
  }
  ParameterBytes stored_parameter_bytes() const override {
    ParameterBytes bytes;
    bytes.float32 = (half_ ? 0 : kernel_.size() + bias_.size()) * sizeof(float);
    if (half_) {
      bytes.float16 = kernel_half_.values.size() * sizeof(std::uint16_t);
      bytes.float32 = bias_.size() * sizeof(float);
    }
    return bytes;
  }

  const std::vector<float>& kernel() const { return kernel_; }  // [units, depth]
  const std::vector<float>& bias() const { return bias_; }
  std::int32_t units() const { return units_; }
  std::int32_t depth() const { return depth_; }
  FusedActivation fused_activation() const { return activation_; }

  std::size_t float_scratch_bytes(Span<const Shape> /*inputs*/) const override {
    return half_ ? detail::scratch_bytes_for<float>(kernel_half_.values.size()) : 0;
  }
  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> scratch, LayerCalibration* /*calibration*/) const override {
    const float* weights = kernel_.data();
    if (half_) {
      Span<float> decoded = detail::take_scratch<float>(scratch, kernel_half_.values.size());
      if (decoded.data() == nullptr) return layer_error(ErrorCode::buffer_too_small, "scratch");
      kernel_half_.decode(decoded.data());
      weights = decoded.data();
    }
    return with_layer(detail::float_fully_connected(
        activation_, inputs[0], TensorView<const float>(weights, Shape{units_, depth_}),
        Span<const float>(bias_.data(), bias_.size()), output));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;

  bool can_fold_batch_norm() const override { return activation_ == FusedActivation::none; }
  Status fold_batch_norm(Span<const float> scale, Span<const float> shift) override {
    if (scale.size() != static_cast<std::size_t>(units_)) {
      return layer_error(ErrorCode::shape_mismatch, "BatchNormalization channels != units");
    }
    if (bias_.empty()) bias_.assign(static_cast<std::size_t>(units_), 0.0f);
    for (std::int32_t u = 0; u < units_; ++u) {
      const auto uu = static_cast<std::size_t>(u);
      for (std::int32_t d = 0; d < depth_; ++d)
        kernel_[uu * static_cast<std::size_t>(depth_) + static_cast<std::size_t>(d)] *= scale[uu];
      bias_[uu] = bias_[uu] * scale[uu] + shift[uu];
    }
    use_bias_ = true;
    return Status::ok();
  }

  std::unique_ptr<Layer> with_rounded_weights(Precision precision) const override {
    auto twin = std::make_unique<Dense>(*this);
    if (precision == Precision::float16_weights) {
      for (float& w : twin->kernel_) w = half_to_float(float_to_half(w));
      return twin;
    }
    if (precision == Precision::float32) return twin;
    auto weights = quantize_weights_per_channel<std::int8_t>(kernel_, {units_, depth_});
    if (!weights.is_ok()) return nullptr;
    for (std::size_t i = 0; i < twin->kernel_.size(); ++i) {
      twin->kernel_[i] = static_cast<float>(weights->values[i]) *
                         weights->scales[i / static_cast<std::size_t>(depth_)];
    }
    return twin;
  }

  // The float16-weight twin: weights rounded to half and decoded at each run.
  Dense with_half_weights() const {
    Dense twin(*this);
    twin.kernel_half_ = HalfWeights::from(kernel_);
    twin.half_ = true;
    twin.kernel_.clear();
    return twin;
  }

 private:
  // GPTQ on the calibration inputs (rows of depth values: one per time step), same scales;
  // around the inputs' mean when bias correction takes the mean part.
  Status round_data_aware(const LayerQuantizationRequest& request, bool centered,
                          PerChannelWeights<std::int8_t>& weights) const {
    if (request.calibration_inputs == nullptr || request.calibration_inputs->empty()) {
      return layer_error(ErrorCode::invalid_argument,
                         "data-aware rounding needs calibration inputs (keep_inputs)");
    }
    LayerHessian hessian(depth_);
    for (const std::vector<float>& window : *request.calibration_inputs)
      TSQ_RETURN_IF_ERROR(with_layer(hessian.add(window)));
    WeightRoundingOptions options;
    options.centered = centered;
    auto values =
        round_weights_gptq<std::int8_t>(kernel_, units_, depth_, weights.scales, hessian, options);
    if (!values.is_ok()) return with_layer(values.status());
    weights.values = std::move(values).value();
    return Status::ok();
  }
  void set_kernel(const float* data) {
    kernel_.assign(static_cast<std::size_t>(units_) * static_cast<std::size_t>(depth_), 0.0f);
    for (std::int32_t u = 0; u < units_; ++u) {
      for (std::int32_t d = 0; d < depth_; ++d) {
        const std::size_t at = static_cast<std::size_t>(u) * static_cast<std::size_t>(depth_) +
                               static_cast<std::size_t>(d);
        kernel_[at] = layout_ == WeightLayout::keras
                          ? data[static_cast<std::size_t>(d) * static_cast<std::size_t>(units_) +
                                 static_cast<std::size_t>(u)]
                          : data[at];
      }
    }
  }

  std::int32_t units_ = 0;
  std::int32_t depth_ = 0;
  FusedActivation activation_ = FusedActivation::none;
  bool use_bias_ = true;
  bool loaded_ = false;
  WeightLayout layout_ = WeightLayout::keras;
  std::vector<float> kernel_;  // [units, depth]
  std::vector<float> bias_;
  bool half_ = false;
  HalfWeights kernel_half_;
};

namespace detail {

// int8 or int16 activations, int8 per-channel weights.
template <typename Activation>
class QuantizedDense final : public QuantizedLayer {
 public:
  using Bias = std::conditional_t<sizeof(Activation) == 1, std::int32_t, std::int64_t>;
  QuantizedDense(PerChannelWeights<std::int8_t> weights, std::vector<Bias> bias,
                 Prepared<FullyConnectedParams> prepared, std::int32_t units, std::int32_t depth,
                 TensorQuantization output)
      : weights_(std::move(weights)),
        bias_(std::move(bias)),
        prepared_(std::move(prepared)),
        units_(units),
        depth_(depth),
        output_(output) {
    // int8 layers run the SIMD kernel (kernels/simd/, the fastest path this CPU has, bit-identical
    // to the reference); its packed weights are shared by copies, being never written.
    if constexpr (std::is_same_v<Activation, std::int8_t>) {
      auto fast = simd::PreparedFullyConnected::from_reference(
          *prepared_, TensorView<const std::int8_t>(weights_.values.data(), Shape{units_, depth_}),
          Span<const std::int32_t>(bias_.data(), bias_.size()));
      if (fast.is_ok()) {
        fast_ = std::make_shared<const simd::PreparedFullyConnected>(std::move(fast).value());
      }
    }
  }
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedDense>(*this);
  }
  std::size_t scratch_bytes() const override {
    return fast_ ? scratch_bytes_for<std::int8_t>(fast_->scratch_size(kSimdRows)) : 0;
  }
  std::size_t exported_scratch_bytes() const override { return 0; }  // the reference loops
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    if (fast_) {
      const Span<std::int8_t> rows =
          take_scratch<std::int8_t>(scratch, fast_->scratch_size(kSimdRows));
      if (rows.data() == nullptr)
        return Status::error(ErrorCode::buffer_too_small, "Dense scratch");
      return fast_->run(inputs[0].view<const std::int8_t>(), output.view<std::int8_t>(), rows);
    }
    return reference::fully_connected(
        prepared_, inputs[0].view<const Activation>(),
        TensorView<const std::int8_t>(weights_.values.data(), Shape{units_, depth_}),
        Span<const Bias>(bias_.data(), bias_.size()), output.view<Activation>());
  }
  ParameterBytes parameter_bytes() const override {
    ParameterBytes bytes;
    bytes.int8 = weights_.values.size();
    (sizeof(Bias) == 4 ? bytes.int32 : bytes.int64) = bias_.size() * sizeof(Bias);
    return bytes;
  }
  TensorQuantization output_quantization() const override { return output_; }
  bool multipliers_flush_to_zero() const override {
    for (const QuantizedMultiplier& m : prepared_->multipliers) {
      if (m.multiplier != 0) return false;
    }
    return true;
  }
  Status emit(codegen::LayerCode& code) const override {
    const std::string weights = code.constants.array(
        code.id + "_weights",
        Span<const std::int8_t>(weights_.values.data(), weights_.values.size()));
    const std::string bias =
        code.constants.array(code.id + "_bias", Span<const Bias>(bias_.data(), bias_.size()));
    const std::string params =
        codegen::write_params(code.constants, code.id + "_params", *prepared_);
    code.include("tsq/kernels/reference/fully_connected.hpp");
    if constexpr (std::is_same_v<Activation, std::int8_t>) {
      const std::size_t batches =
          code.input_shapes[0].element_count() / static_cast<std::size_t>(depth_);
      code.statement("tsq::detail::fully_connected_int8<" +
                     code.rounding_argument(prepared_->rounding) + ">(" + params + ", " +
                     std::to_string(batches) + ", " + code.inputs[0] + ", " + weights + ", " +
                     (bias_.empty() ? std::string("nullptr") : bias) + ", " + code.output + ")");
      return Status::ok();
    }
    code.call("tsq::reference::fully_connected(" + params + ", " +
              code.input_view(0, code.input_shapes[0]) + ", tsq::TensorView<const std::int8_t>(" +
              weights + ", " + codegen::shape_literal(Shape{units_, depth_}) +
              "), tsq::Span<const " + codegen::cpp_type_of<Bias>() + ">(" + bias + ", " +
              std::to_string(bias_.size()) + "), " + code.output_view(code.output_shape) + ")");
    return Status::ok();
  }
  const PerChannelWeights<std::int8_t>& weights() const { return weights_; }

 private:
  // Rows of input the SIMD kernel's scratch holds at once (more rows run in blocks).
  static constexpr std::int32_t kSimdRows = 16;
  PerChannelWeights<std::int8_t> weights_;
  std::vector<Bias> bias_;
  Prepared<FullyConnectedParams> prepared_;
  std::int32_t units_;
  std::int32_t depth_;
  TensorQuantization output_;
  std::shared_ptr<const simd::PreparedFullyConnected> fast_;
};

// DRQ: int8 weights, float activations quantized per row on the fly.
class HybridDense final : public QuantizedLayer {
 public:
  HybridDense(PerChannelWeights<std::int8_t> weights, std::vector<float> bias,
              Prepared<hybrid::FullyConnectedParams> prepared, std::int32_t units,
              std::int32_t depth)
      : weights_(std::move(weights)),
        bias_(std::move(bias)),
        prepared_(std::move(prepared)),
        units_(units),
        depth_(depth) {
    // The SIMD kernel (kernels/simd/, the fastest path this CPU has, the reference's floats bit
    // for bit); its packed weights are shared by copies, being never written.
    auto fast = simd::PreparedHybridFullyConnected::from_reference(
        prepared_, TensorView<const std::int8_t>(weights_.values.data(), Shape{units_, depth_}),
        Span<const float>(bias_.data(), bias_.size()));
    if (fast.is_ok()) {
      fast_ = std::make_shared<const simd::PreparedHybridFullyConnected>(std::move(fast).value());
    }
  }
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<HybridDense>(*this);
  }
  std::size_t scratch_bytes() const override {
    return fast_ ? scratch_bytes_for<std::int8_t>(fast_->scratch_size(kSimdRows))
                 : hybrid::fully_connected_scratch_size(depth_);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    if (fast_) {
      const Span<std::int8_t> rows =
          take_scratch<std::int8_t>(scratch, fast_->scratch_size(kSimdRows));
      if (rows.data() == nullptr)
        return Status::error(ErrorCode::buffer_too_small, "Dense scratch");
      return fast_->run(inputs[0].view<const float>(), output.view<float>(), rows);
    }
    return hybrid::fully_connected(
        prepared_, inputs[0].view<const float>(),
        TensorView<const std::int8_t>(weights_.values.data(), Shape{units_, depth_}),
        Span<const float>(bias_.data(), bias_.size()), output.view<float>(),
        Span<std::int8_t>(reinterpret_cast<std::int8_t*>(scratch.data()), scratch.size()));
  }
  ParameterBytes parameter_bytes() const override {
    ParameterBytes bytes;
    bytes.int8 = weights_.values.size();
    bytes.float32 = (bias_.size() + weights_.scales.size()) * sizeof(float);
    return bytes;
  }
  TensorQuantization output_quantization() const override {
    return TensorQuantization{DataType::float32, QuantParams{}};
  }

 private:
  // Rows of input the SIMD kernel's scratch holds at once (more rows run in blocks).
  static constexpr std::int32_t kSimdRows = 16;
  PerChannelWeights<std::int8_t> weights_;
  std::vector<float> bias_;
  Prepared<hybrid::FullyConnectedParams> prepared_;
  std::int32_t units_;
  std::int32_t depth_;
  std::shared_ptr<const simd::PreparedHybridFullyConnected> fast_;
};

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> Dense::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (!loaded_) return layer_error(ErrorCode::invalid_argument, "has no weights");
  const std::vector<std::int32_t> dims = {units_, depth_};
  switch (request.precision) {
    case Precision::float32:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Dense>>(*this));
    case Precision::float16_weights:
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<FloatFallback<Dense>>(with_half_weights()));
    case Precision::dynamic_int8: {
      auto weights = quantize_weights_per_channel<std::int8_t>(kernel_, dims);
      if (!weights.is_ok()) return with_layer(weights.status());
      if (request.data_aware_rounding)
        TSQ_RETURN_IF_ERROR(round_data_aware(request, false, weights.value()));
      auto prepared = hybrid::prepare_owned_fully_connected(
          TensorView<const std::int8_t>(weights->values.data(), Shape{units_, depth_}),
          Span<const float>(weights->scales.data(), weights->scales.size()), activation_);
      if (!prepared.is_ok()) return with_layer(prepared.status());
      return std::unique_ptr<QuantizedLayer>(std::make_unique<detail::HybridDense>(
          std::move(weights).value(), bias_, std::move(prepared).value(), units_, depth_));
    }
    case Precision::int8:
    case Precision::int16_activations: {
      const bool int16 = request.precision == Precision::int16_activations;
      auto weights = quantize_weights_per_channel<std::int8_t>(kernel_, dims);
      if (!weights.is_ok()) return with_layer(weights.status());
      if (request.data_aware_rounding)
        TSQ_RETURN_IF_ERROR(round_data_aware(request, request.bias_correction, weights.value()));
      const QuantParams& input = request.inputs[0].params;
      const FullyConnectedQuantization q{
          input_shapes()[0],     input,
          Shape{units_, depth_}, Span<const float>(weights->scales.data(), weights->scales.size()),
          request.output.params, activation_,
          request.rounding};
      auto prepared = prepare_owned_fully_connected(q);
      if (!prepared.is_ok()) return with_layer(prepared.status());
      std::vector<float> float_bias = bias_;
      if (request.bias_correction && request.calibration_inputs != nullptr &&
          !request.calibration_inputs->empty()) {
        std::vector<float> dequantized(weights->values.size());
        for (std::size_t i = 0; i < dequantized.size(); ++i) {
          dequantized[i] = static_cast<float>(weights->values[i]) *
                           weights->scales[i / static_cast<std::size_t>(depth_)];
        }
        float_bias = correct_bias(
            bias_, static_cast<std::size_t>(units_), kernel_, dequantized,
            mean_input_features(*request.calibration_inputs, static_cast<std::size_t>(depth_)));
      }
      if (int16) {
        auto bias = quantize_bias_int64(float_bias, static_cast<std::size_t>(units_), input.scale,
                                        weights->scales);
        if (!bias.is_ok()) return with_layer(bias.status());
        return std::unique_ptr<QuantizedLayer>(
            std::make_unique<detail::QuantizedDense<std::int16_t>>(
                std::move(weights).value(), std::move(bias).value(), std::move(prepared).value(),
                units_, depth_, request.output));
      }
      auto bias = quantize_bias_int32(float_bias, static_cast<std::size_t>(units_), input.scale,
                                      weights->scales);
      if (!bias.is_ok()) return with_layer(bias.status());
      return std::unique_ptr<QuantizedLayer>(std::make_unique<detail::QuantizedDense<std::int8_t>>(
          std::move(weights).value(), std::move(bias).value(), std::move(prepared).value(), units_,
          depth_, request.output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported by Dense");
}

}  // namespace nn
}  // namespace tsq
