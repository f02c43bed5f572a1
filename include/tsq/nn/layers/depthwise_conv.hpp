// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv1D and DepthwiseConv2D (Keras DepthwiseConv1D / DepthwiseConv2D, PyTorch Conv1d /
// Conv2d with groups = C_in, TFLite DEPTHWISE_CONV_2D): each input channel i is convolved with
// its own `depth_multiplier` m filters; output channel i * m + j.
//
//   DepthwiseConv1D: [1, T, C] -> [1, T', C * m], run on [1, T, 1, C] (time is the height axis)
//   DepthwiseConv2D: [1, H, W, C] -> [1, H', W', C * m]
//
// Weights: kernel (keras (K.., C, m); pytorch (C * m, 1, K..); tflite (1, KH, KW, C * m), a
// TFLite DepthwiseConv1D being (1, 1, K, C * m)), bias (C * m) unless use_bias(false). Kept as
// float32 [1, KH, KW, C * m]. Quantized forms: int8 (per-channel int8 weights along the last
// axis, int32 bias), float16 weights, float32, and dynamic int8: there is no hybrid depthwise
// kernel, so the int8 per-channel weights are dequantized into scratch at every run and the float
// kernel runs on float activations (the weights are stored as int8; the arithmetic is float's).
// No int16 activations: there is no 16x8 depthwise kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/export/kernel_params.hpp"
#include "tsq/kernels/float/depthwise_conv2d.hpp"
#include "tsq/kernels/mcu/depthwise_conv2d.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/simd/depthwise_conv2d.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/weights.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {
namespace nn {
namespace detail {

// Symmetric per-channel int8 weights of a depthwise filter [1, KH, KW, C * m]: one scale per
// output channel, the last axis.
inline Result<PerChannelWeights<std::int8_t>> quantize_depthwise_weights(
    const std::vector<float>& weights, const Shape& filter_shape) {
  PerChannelWeights<std::int8_t> q;
  q.values.resize(weights.size());
  q.scales.resize(dim_size(filter_shape[3]));
  const std::int32_t dims[] = {filter_shape[0], filter_shape[1], filter_shape[2], filter_shape[3]};
  TSQ_RETURN_IF_ERROR(quantize_per_channel<std::int8_t>(
      Span<const float>(weights.data(), weights.size()), Span<const std::int32_t>(dims, 4), 3,
      Span<std::int8_t>(q.values.data(), q.values.size()),
      Span<float>(q.scales.data(), q.scales.size())));
  return q;
}

// What DepthwiseConv1D and DepthwiseConv2D share (as Convolution in conv.hpp).
template <typename Derived, int SpatialRank>
class DepthwiseConvolution : public Layer {
 public:
  Derived& depth_multiplier(std::int32_t multiplier) {
    depth_multiplier_ = multiplier;
    return derived();
  }
  Derived& padding(Padding padding) {
    padding_ = padding;
    return derived();
  }
  Derived& relu() { return activation(FusedActivation::relu); }
  Derived& relu6() { return activation(FusedActivation::relu6); }
  Derived& activation(FusedActivation activation) {
    activation_ = activation;
    return derived();
  }
  Derived& use_bias(bool use) {
    use_bias_ = use;
    return derived();
  }
  Derived& layout(WeightLayout layout) {
    layout_ = layout;
    return derived();
  }

  // Weights given directly: kernel in the declared layout, bias (C * m) or empty.
  Status set_weights(const std::vector<float>& kernel, const std::vector<float>& bias) {
    if (output_channels() < 1) {
      return layer_error(ErrorCode::invalid_argument, "add the layer to a model first");
    }
    if (kernel.size() != filter_shape().element_count()) {
      return layer_error(ErrorCode::shape_mismatch, "kernel has the wrong number of values");
    }
    if (use_bias_ != !bias.empty() ||
        (!bias.empty() && bias.size() != dim_size(output_channels()))) {
      return layer_error(ErrorCode::shape_mismatch, "bias must have C * m values (or none)");
    }
    set_kernel(kernel.data());
    bias_ = bias;
    loaded_ = true;
    return Status::ok();
  }

  std::unique_ptr<Layer> clone() const override { return std::make_unique<Derived>(derived()); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (depth_multiplier_ < 1) {
      return layer_error(ErrorCode::invalid_argument, "depth multiplier must be >= 1");
    }
    TSQ_RETURN_IF_ERROR(with_layer(check_window_input_rank<SpatialRank>(input)));
    TSQ_RETURN_IF_ERROR(with_layer(
        check_window_axes<SpatialRank>(input, kernel_size_, stride_, dilation_, padding_)));
    input_channels_ = input[input.rank() - 1];
    input_nhwc_ = nhwc_of(input);
    const Result<Shape> output =
        depthwise_conv2d_output_shape(input_nhwc_, filter_shape(), options());
    if (!output.is_ok()) return with_layer(output.status());
    output_nhwc_ = output.value();
    return window_output_of(output_nhwc_, SpatialRank);
  }

  Status load_weights(const io::NpzFile& archive, const WeightNaming& naming) override {
    const Result<const io::NpyArray*> kernel =
        find_weight(archive, naming.member(name(), "kernel"), file_kernel_shape(), layout_);
    if (!kernel.is_ok()) return with_layer(kernel.status());
    std::vector<float> bias;
    if (use_bias_) {
      const Result<const io::NpyArray*> b = find_weight(archive, naming.member(name(), "bias"),
                                                        {dim_size(output_channels())}, layout_);
      if (!b.is_ok()) return with_layer(b.status());
      bias.assign((*b)->data<float>(), (*b)->data<float>() + output_channels());
    }
    set_kernel((*kernel)->data<float>());
    bias_ = std::move(bias);
    loaded_ = true;
    return Status::ok();
  }
  bool weights_loaded() const override { return loaded_; }
  std::size_t parameter_count() const override {
    return (half_ ? kernel_half_.values.size() : kernel_.size()) + bias_.size();
  }
  ParameterBytes stored_parameter_bytes() const override {
    ParameterBytes bytes;
    bytes.float32 = ((half_ ? 0 : kernel_.size()) + bias_.size()) * sizeof(float);
    bytes.float16 = half_ ? kernel_half_.values.size() * sizeof(std::uint16_t) : 0;
    return bytes;
  }
  std::unique_ptr<Layer> with_rounded_weights(Precision precision) const override {
    if (half_ || !loaded_) return nullptr;
    auto twin = std::make_unique<Derived>(derived());
    if (precision == Precision::float16_weights) {
      for (float& w : twin->kernel_) w = half_to_float(float_to_half(w));
    } else if (precision != Precision::float32) {
      const Shape filter = filter_shape();
      twin->kernel_ =
          round_weights_per_channel(kernel_, {filter[0], filter[1], filter[2], filter[3]}, 3);
    }
    return twin;
  }

  const std::vector<float>& kernel() const { return kernel_; }  // [1, KH, KW, C * m]
  const std::vector<float>& bias() const { return bias_; }
  std::int32_t multiplier() const { return depth_multiplier_; }
  std::int32_t output_channels() const { return input_channels_ * depth_multiplier_; }
  FusedActivation fused_activation() const { return activation_; }
  Shape filter_shape() const {
    return Shape{1, kernel_size_.height, kernel_size_.width, output_channels()};
  }
  DepthwiseConv2DOptions options() const {
    DepthwiseConv2DOptions options;
    options.padding = padding_;
    options.stride_height = stride_.height;
    options.stride_width = stride_.width;
    options.dilation_height = dilation_.height;
    options.dilation_width = dilation_.width;
    options.depth_multiplier = depth_multiplier_;
    options.activation = activation_;
    return options;
  }
  const Shape& input_nhwc() const { return input_nhwc_; }
  const Shape& output_nhwc() const { return output_nhwc_; }

  std::size_t float_scratch_bytes(Span<const Shape> /*inputs*/) const override {
    return half_ ? scratch_bytes_for<float>(kernel_half_.values.size()) : 0;
  }
  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> scratch, LayerCalibration* /*calibration*/) const override {
    const float* weights = kernel_.data();
    if (half_) {
      Span<float> decoded = take_scratch<float>(scratch, kernel_half_.values.size());
      if (decoded.data() == nullptr) return layer_error(ErrorCode::buffer_too_small, "scratch");
      kernel_half_.decode(decoded.data());
      weights = decoded.data();
    }
    return with_layer(run_with(weights, inputs[0], output));
  }
  // The float kernel with `weights` ([1, KH, KW, C * m]) in place of the layer's own.
  Status run_with(const float* weights, const TensorView<const float>& input,
                  const TensorView<float>& output) const {
    const Result<TensorView<const float>> in = input.reshaped(input_nhwc_);
    if (!in.is_ok()) return in.status();
    const Result<TensorView<float>> out = output.reshaped(output_nhwc_);
    if (!out.is_ok()) return out.status();
    return floating::depthwise_conv2d(options(), in.value(),
                                      TensorView<const float>(weights, filter_shape()),
                                      Span<const float>(bias_.data(), bias_.size()), out.value());
  }

  bool supports(Precision precision) const override {
    return precision == Precision::float32 || precision == Precision::float16_weights ||
           precision == Precision::dynamic_int8 || precision == Precision::int8;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;

  // The int8 form from weights quantized elsewhere (a model imported from TFLite): `weights`
  // [1, KH, KW, C * m] int8 with one symmetric scale per output channel or one for all, `bias`
  // int32 at S_in * S_w[c] (C * m values, or empty), and the given input and output parameters.
  // The layer must be in a model (its geometry set); its float weights are not used.
  Result<std::unique_ptr<QuantizedLayer>> quantized_from(PerChannelWeights<std::int8_t> weights,
                                                         std::vector<std::int32_t> bias,
                                                         const QuantParams& input,
                                                         const TensorQuantization& output,
                                                         RoundingMode rounding) const;

  bool can_fold_batch_norm() const override { return activation_ == FusedActivation::none; }
  Status fold_batch_norm(Span<const float> scale, Span<const float> shift) override {
    if (!loaded_ || half_) return layer_error(ErrorCode::invalid_argument, "has no float weights");
    const std::size_t channels = dim_size(output_channels());
    if (scale.size() != channels || shift.size() != channels) {
      return layer_error(ErrorCode::shape_mismatch, "BatchNormalization channels != C * m");
    }
    if (bias_.empty()) bias_.assign(channels, 0.0f);
    for (std::size_t at = 0; at < kernel_.size(); ++at) kernel_[at] *= scale[at % channels];
    for (std::size_t c = 0; c < channels; ++c) bias_[c] = bias_[c] * scale[c] + shift[c];
    use_bias_ = true;
    return Status::ok();
  }

  // The float16-weight twin: weights rounded to half and decoded at each run.
  Derived with_half_weights() const {
    Derived twin(derived());
    DepthwiseConvolution& base = twin;
    base.kernel_half_ = HalfWeights::from(kernel_);
    base.half_ = true;
    base.kernel_.clear();
    return twin;
  }

 protected:
  DepthwiseConvolution(std::string name, Size2D kernel_size)
      : Layer(std::move(name)), kernel_size_(kernel_size) {}

  Derived& set_stride(Size2D stride) {
    stride_ = stride;
    return derived();
  }
  Derived& set_dilation(Size2D dilation) {
    dilation_ = dilation;
    return derived();
  }

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }
  const Derived& derived() const { return static_cast<const Derived&>(*this); }

  std::vector<std::size_t> file_kernel_shape() const {
    const std::size_t channels = dim_size(input_channels_);
    const std::size_t m = dim_size(depth_multiplier_);
    const std::size_t kh = dim_size(kernel_size_.height);
    const std::size_t kw = dim_size(kernel_size_.width);
    switch (layout_) {
      case WeightLayout::keras:
        return SpatialRank == 1 ? std::vector<std::size_t>{kh, channels, m}
                                : std::vector<std::size_t>{kh, kw, channels, m};
      case WeightLayout::pytorch:
        return SpatialRank == 1 ? std::vector<std::size_t>{channels * m, 1, kh}
                                : std::vector<std::size_t>{channels * m, 1, kh, kw};
      case WeightLayout::tflite: break;
    }
    // A TFLite DepthwiseConv1D runs on [1, 1, T, C]: time on the width axis.
    return SpatialRank == 1 ? std::vector<std::size_t>{1, 1, kh, channels * m}
                            : std::vector<std::size_t>{1, kh, kw, channels * m};
  }

  // Keras' (K.., C, m) and TFLite's (1, K.., C * m) hold their values in the order of
  // [1, KH, KW, C * m] (output channel i * m + j); PyTorch's (C * m, 1, K..) is transposed.
  void set_kernel(const float* data) {
    const Shape shape = filter_shape();
    const std::size_t kh = dim_size(shape[1]);
    const std::size_t kw = dim_size(shape[2]);
    const std::size_t channels = dim_size(shape[3]);
    kernel_.assign(shape.element_count(), 0.0f);
    std::size_t at = 0;
    for (std::size_t y = 0; y < kh; ++y) {
      for (std::size_t x = 0; x < kw; ++x) {
        for (std::size_t c = 0; c < channels; ++c, ++at) {
          kernel_[at] = layout_ == WeightLayout::pytorch ? data[(c * kh + y) * kw + x] : data[at];
        }
      }
    }
  }

  std::int32_t depth_multiplier_ = 1;
  Size2D kernel_size_;
  Size2D stride_;
  Size2D dilation_;
  Padding padding_ = Padding::valid;  // Keras' default
  FusedActivation activation_ = FusedActivation::none;
  bool use_bias_ = true;
  bool loaded_ = false;
  WeightLayout layout_ = WeightLayout::keras;
  std::int32_t input_channels_ = 0;
  Shape input_nhwc_;
  Shape output_nhwc_;
  std::vector<float> kernel_;  // [1, KH, KW, C * m]
  std::vector<float> bias_;
  bool half_ = false;
  HalfWeights kernel_half_;
};

// int8 activations, int8 per-channel weights, int32 bias.
class QuantizedDepthwiseConvolution final : public QuantizedLayer {
 public:
  QuantizedDepthwiseConvolution(PerChannelWeights<std::int8_t> weights,
                                std::vector<std::int32_t> bias,
                                Prepared<DepthwiseConv2DParams> prepared, const Shape& input_nhwc,
                                const Shape& filter_shape, const Shape& output_nhwc,
                                TensorQuantization output)
      : weights_(std::move(weights)),
        bias_(std::move(bias)),
        prepared_(std::move(prepared)),
        input_nhwc_(input_nhwc),
        filter_shape_(filter_shape),
        output_nhwc_(output_nhwc),
        output_(output) {
    // The SIMD kernel (kernels/simd/, the fastest path this CPU has, bit-identical to the
    // reference); its packed filter is shared by copies, being never written.
    auto fast = simd::PreparedDepthwiseConv2D::from_reference(
        *prepared_, TensorView<const std::int8_t>(weights_.values.data(), filter_shape_),
        Span<const std::int32_t>(bias_.data(), bias_.size()));
    if (fast.is_ok()) {
      fast_ = std::make_shared<const simd::PreparedDepthwiseConv2D>(std::move(fast).value());
    }
  }
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedDepthwiseConvolution>(*this);
  }
  std::size_t scratch_bytes() const override {
    return fast_ ? scratch_bytes_for<std::int8_t>(fast_->scratch_size()) : 0;
  }
  std::size_t exported_scratch_bytes() const override { return 0; }  // kernels/mcu loops
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    const Result<TensorView<const std::int8_t>> input =
        inputs[0].view<const std::int8_t>().reshaped(input_nhwc_);
    if (!input.is_ok()) return input.status();
    const Result<TensorView<std::int8_t>> out = output.view<std::int8_t>().reshaped(output_nhwc_);
    if (!out.is_ok()) return out.status();
    if (fast_) {
      const Span<std::int8_t> rows = take_scratch<std::int8_t>(scratch, fast_->scratch_size());
      if (rows.data() == nullptr) {
        return Status::error(ErrorCode::buffer_too_small, "DepthwiseConv scratch");
      }
      return fast_->run(input.value(), out.value(), rows);
    }
    // The reference's arithmetic in tighter loops (kernels/mcu/, bit-identical).
    return mcu::depthwise_conv2d(
        prepared_, input.value(),
        TensorView<const std::int8_t>(weights_.values.data(), filter_shape_),
        Span<const std::int32_t>(bias_.data(), bias_.size()), out.value());
  }
  ParameterBytes parameter_bytes() const override {
    ParameterBytes bytes;
    bytes.int8 = weights_.values.size();
    bytes.int32 = bias_.size() * sizeof(std::int32_t);
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
    const std::string bias = code.constants.array(
        code.id + "_bias", Span<const std::int32_t>(bias_.data(), bias_.size()));
    const std::string params =
        codegen::write_params(code.constants, code.id + "_params", *prepared_);
    code.include("tsq/kernels/mcu/depthwise_conv2d.hpp");
    code.statement("tsq::mcu::depthwise_conv2d_int8<" +
                   code.rounding_argument(prepared_->rounding) + ">(" + params + ", " +
                   code.inputs[0] + ", " + weights + ", " +
                   (bias_.empty() ? std::string("nullptr") : bias) + ", " + code.output + ")");
    return Status::ok();
  }
  const PerChannelWeights<std::int8_t>& weights() const { return weights_; }
  const std::vector<std::int32_t>& bias() const { return bias_; }

 private:
  PerChannelWeights<std::int8_t> weights_;
  std::vector<std::int32_t> bias_;
  Prepared<DepthwiseConv2DParams> prepared_;
  Shape input_nhwc_;
  Shape filter_shape_;
  Shape output_nhwc_;
  TensorQuantization output_;
  std::shared_ptr<const simd::PreparedDepthwiseConv2D> fast_;
};

// DRQ without a hybrid kernel: int8 per-channel weights at rest, dequantized (q * S_c) into
// scratch at each run, then the float kernel with the layer's float bias and activations.
template <typename FloatLayer>
class DequantizingDepthwiseConvolution final : public QuantizedLayer {
 public:
  DequantizingDepthwiseConvolution(const FloatLayer& layer, PerChannelWeights<std::int8_t> weights)
      : layer_(layer), weights_(std::move(weights)) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<DequantizingDepthwiseConvolution>(*this);
  }
  std::size_t scratch_bytes() const override {
    return scratch_bytes_for<float>(weights_.values.size());
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    Span<float> dequantized = take_scratch<float>(scratch, weights_.values.size());
    if (dequantized.data() == nullptr && !weights_.values.empty()) {
      return Status::error(ErrorCode::buffer_too_small, "DepthwiseConv scratch");
    }
    const std::size_t channels = weights_.scales.size();
    for (std::size_t at = 0; at < weights_.values.size(); ++at) {
      dequantized[at] = static_cast<float>(weights_.values[at]) * weights_.scales[at % channels];
    }
    return layer_.run_with(dequantized.data(), inputs[0].view<const float>(), output.view<float>());
  }
  ParameterBytes parameter_bytes() const override {
    ParameterBytes bytes;
    bytes.int8 = weights_.values.size();
    bytes.float32 = (layer_.bias().size() + weights_.scales.size()) * sizeof(float);
    return bytes;
  }
  TensorQuantization output_quantization() const override {
    return TensorQuantization{DataType::float32, QuantParams{}};
  }
  const PerChannelWeights<std::int8_t>& weights() const { return weights_; }

 private:
  FloatLayer layer_;  // for its geometry and bias; its float kernel is not used
  PerChannelWeights<std::int8_t> weights_;
};

template <typename Derived, int SpatialRank>
Result<std::unique_ptr<QuantizedLayer>> DepthwiseConvolution<Derived, SpatialRank>::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (!loaded_ || half_) return layer_error(ErrorCode::invalid_argument, "has no weights");
  switch (request.precision) {
    case Precision::float32:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Derived>>(derived()));
    case Precision::float16_weights:
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<FloatFallback<Derived>>(with_half_weights()));
    case Precision::dynamic_int8: {
      auto weights = quantize_depthwise_weights(kernel_, filter_shape());
      if (!weights.is_ok()) return with_layer(weights.status());
      // The twin keeps geometry and bias only: its float kernel would be dead weight.
      Derived twin(derived());
      static_cast<DepthwiseConvolution&>(twin).kernel_.clear();
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<DequantizingDepthwiseConvolution<Derived>>(twin,
                                                                      std::move(weights).value()));
    }
    case Precision::int8: {
      auto weights = quantize_depthwise_weights(kernel_, filter_shape());
      if (!weights.is_ok()) return with_layer(weights.status());
      const QuantParams& input = request.inputs[0].params;
      const DepthwiseConv2DQuantization q{
          input_nhwc_,           input,
          filter_shape(),        Span<const float>(weights->scales.data(), weights->scales.size()),
          request.output.params, options(),
          request.rounding};
      auto prepared = prepare_owned_depthwise_conv2d(q);
      if (!prepared.is_ok()) return with_layer(prepared.status());
      auto bias =
          quantize_bias_int32(bias_, dim_size(output_channels()), input.scale, weights->scales);
      if (!bias.is_ok()) return with_layer(bias.status());
      return std::unique_ptr<QuantizedLayer>(std::make_unique<QuantizedDepthwiseConvolution>(
          std::move(weights).value(), std::move(bias).value(), std::move(prepared).value(),
          input_nhwc_, filter_shape(), output_nhwc_, request.output));
    }
    case Precision::int16_activations:
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "has no int16 kernel");
}

template <typename Derived, int SpatialRank>
Result<std::unique_ptr<QuantizedLayer>> DepthwiseConvolution<Derived, SpatialRank>::quantized_from(
    PerChannelWeights<std::int8_t> weights, std::vector<std::int32_t> bias,
    const QuantParams& input, const TensorQuantization& output, RoundingMode rounding) const {
  if (output_channels() < 1) {
    return layer_error(ErrorCode::invalid_argument, "add the layer to a model first");
  }
  const Shape filter = filter_shape();
  const std::size_t channels = dim_size(output_channels());
  if (weights.values.size() != filter.element_count()) {
    return layer_error(ErrorCode::shape_mismatch, "int8 kernel has the wrong number of values");
  }
  if (weights.scales.size() != 1 && weights.scales.size() != channels) {
    return layer_error(ErrorCode::shape_mismatch, "kernel needs one scale or one per channel");
  }
  if (!bias.empty() && bias.size() != channels) {
    return layer_error(ErrorCode::shape_mismatch, "bias must have C * m values (or none)");
  }
  if (input.type != DataType::int8 || output.type != DataType::int8) {
    return layer_error(ErrorCode::unsupported_type, "int8 input and output needed");
  }
  const DepthwiseConv2DQuantization q{
      input_nhwc_,   input,
      filter,        Span<const float>(weights.scales.data(), weights.scales.size()),
      output.params, options(),
      rounding};
  auto prepared = prepare_owned_depthwise_conv2d(q);
  if (!prepared.is_ok()) return with_layer(prepared.status());
  return std::unique_ptr<QuantizedLayer>(std::make_unique<QuantizedDepthwiseConvolution>(
      std::move(weights), std::move(bias), std::move(prepared).value(), input_nhwc_, filter,
      output_nhwc_, output));
}

}  // namespace detail

// DepthwiseConv1D("dw", 5).depth_multiplier(2): [1, T, C] -> [1, T', 2C].
class DepthwiseConv1D final : public detail::DepthwiseConvolution<DepthwiseConv1D, 1> {
 public:
  DepthwiseConv1D(std::string name, std::int32_t kernel_size)
      : DepthwiseConvolution(std::move(name), Size2D{kernel_size, 1}) {}
  DepthwiseConv1D& stride(std::int32_t stride) { return set_stride(Size2D{stride, 1}); }
  DepthwiseConv1D& dilation(std::int32_t rate) { return set_dilation(Size2D{rate, 1}); }
  const char* kind() const override { return "DepthwiseConv1D"; }
};

// DepthwiseConv2D("dw", {3, 3}): [1, H, W, C] -> [1, H', W', C * m].
class DepthwiseConv2D final : public detail::DepthwiseConvolution<DepthwiseConv2D, 2> {
 public:
  DepthwiseConv2D(std::string name, Size2D kernel_size)
      : DepthwiseConvolution(std::move(name), kernel_size) {}
  DepthwiseConv2D& stride(std::int32_t stride) { return set_stride(Size2D{stride, stride}); }
  DepthwiseConv2D& stride(Size2D stride) { return set_stride(stride); }
  DepthwiseConv2D& dilation(std::int32_t rate) { return set_dilation(Size2D{rate, rate}); }
  DepthwiseConv2D& dilation(Size2D rate) { return set_dilation(rate); }
  const char* kind() const override { return "DepthwiseConv2D"; }
};

}  // namespace nn
}  // namespace tsq
