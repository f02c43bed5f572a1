// SPDX-License-Identifier: Apache-2.0
// Conv1D and Conv2D (Keras Conv1D / Conv2D, PyTorch Conv1d / Conv2d, TFLite CONV_2D).
//
//   Conv1D: [1, T, C_in] -> [1, T', filters], run as the 2-D kernels on [1, T, 1, C_in] with a
//           K x 1 filter (time is the height axis, see layer.hpp)
//   Conv2D: [1, H, W, C_in] -> [1, H', W', filters]
//
// Weights: kernel (keras (K.., C_in / G, C_out); pytorch (C_out, C_in / G, K..); tflite OHWI,
// a TFLite Conv1D being (C_out, 1, K, C_in / G)), bias (C_out) unless use_bias(false). Kept as
// OHWI float32 [C_out, KH, KW, C_in / G]. G = groups. Quantized forms: int8 (per-channel int8
// weights, int32 bias), int16 activations (int64 bias), dynamic int8 (hybrid kernel), float16
// weights, float32.
//
// This header also holds what the other windowed layers (depthwise convolution, pooling) share:
// Size2D and the per-axis checks that name the axis the user knows (time, height, width).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tsq/export/kernel_params.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/simd/hybrid_conv2d.hpp"
#include "tsq/kernels/simd/prepared.hpp"
#include "tsq/nn/float_backend.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

// Height and width of a 2-D window, stride or dilation: Conv2D("c", 8, {3, 3}).
struct Size2D {
  std::int32_t height = 1;
  std::int32_t width = 1;
};

namespace detail {

// One spatial axis of a windowed layer: sizes >= 1 and, for VALID, a (dilated) window that fits.
// The error names the axis ("time", "height", "width") rather than the kernel's NHWC axis.
inline Status check_window_axis(const char* axis, std::int32_t input_size, std::int32_t window,
                                std::int32_t stride, std::int32_t dilation, Padding padding) {
  const Result<AxisGeometry> geometry =
      compute_axis_geometry(input_size, window, stride, dilation, padding);
  if (geometry.is_ok()) return Status::ok();
  return Status::error(geometry.status().code(), axis)
      .append(" axis: ")
      .append(geometry.status().message());
}

// Checks every spatial axis of a [1, T, C] (rank 1) or [1, H, W, C] (rank 2) input.
template <int SpatialRank>
Status check_window_axes(const Shape& input, Size2D window, Size2D stride, Size2D dilation,
                         Padding padding) {
  if (SpatialRank == 1) {
    return check_window_axis("time", input[1], window.height, stride.height, dilation.height,
                             padding);
  }
  TSQ_RETURN_IF_ERROR(check_window_axis("height", input[1], window.height, stride.height,
                                        dilation.height, padding));
  return check_window_axis("width", input[2], window.width, stride.width, dilation.width, padding);
}

// The rank a windowed layer's input must have, and the message when it has another.
template <int SpatialRank>
Status check_window_input_rank(const Shape& input) {
  if (input.rank() == SpatialRank + 2) return Status::ok();
  return Status::error(ErrorCode::shape_mismatch,
                       SpatialRank == 1 ? "input must be [1, T, C] (rank 3), got rank "
                                        : "input must be [1, H, W, C] (rank 4), got rank ")
      .append(input.rank());
}

// The NHWC shape the kernels see: [1, T, C] is read as [1, T, 1, C]; [1, H, W, C] as is.
inline Shape nhwc_of(const Shape& shape) {
  return shape.rank() == 3 ? Shape{shape[0], shape[1], 1, shape[2]} : shape;
}
// The layer's output shape from the kernel's NHWC one.
inline Shape window_output_of(const Shape& nhwc, int spatial_rank) {
  return spatial_rank == 1 ? Shape{nhwc[0], nhwc[1], nhwc[3]} : nhwc;
}

inline std::size_t dim_size(std::int32_t value) { return static_cast<std::size_t>(value); }

// What Conv1D and Conv2D share. SpatialRank 1 reads [1, T, C] as [1, T, 1, C]; the setters
// return the concrete layer (Derived) so that a model is written as a chain of calls.
template <typename Derived, int SpatialRank>
class Convolution : public Layer {
 public:
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
  // Grouped convolution: C_in and filters split into `groups` independent halves, thirds, ...
  Derived& groups(std::int32_t groups) {
    groups_ = groups;
    return derived();
  }

  // Weights given directly: kernel in the declared layout, bias (filters) or empty.
  Status set_weights(const std::vector<float>& kernel, const std::vector<float>& bias) {
    if (input_channels_ < 1) {
      return layer_error(ErrorCode::invalid_argument, "add the layer to a model first");
    }
    if (kernel.size() != filter_shape().element_count()) {
      return layer_error(ErrorCode::shape_mismatch, "kernel has the wrong number of values");
    }
    if (use_bias_ != !bias.empty() || (!bias.empty() && bias.size() != dim_size(filters_))) {
      return layer_error(ErrorCode::shape_mismatch, "bias must have `filters` values (or none)");
    }
    set_kernel(kernel.data());
    bias_ = bias;
    loaded_ = true;
    return Status::ok();
  }

  std::unique_ptr<Layer> clone() const override { return std::make_unique<Derived>(derived()); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (filters_ < 1) return layer_error(ErrorCode::invalid_argument, "filters must be >= 1");
    if (groups_ < 1) return layer_error(ErrorCode::invalid_argument, "groups must be >= 1");
    TSQ_RETURN_IF_ERROR(with_layer(check_window_input_rank<SpatialRank>(input)));
    const std::int32_t channels = input[input.rank() - 1];
    if (channels % groups_ != 0 || filters_ % groups_ != 0) {
      return layer_error(ErrorCode::shape_mismatch, "input channels ")
          .append(channels)
          .append(" and filters ")
          .append(filters_)
          .append(" must both be multiples of groups ")
          .append(groups_);
    }
    TSQ_RETURN_IF_ERROR(with_layer(
        check_window_axes<SpatialRank>(input, kernel_size_, stride_, dilation_, padding_)));
    input_channels_ = channels;
    input_nhwc_ = nhwc_of(input);
    const Result<Shape> output = conv2d_output_shape(input_nhwc_, filter_shape(), options());
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
      const Result<const io::NpyArray*> b =
          find_weight(archive, naming.member(name(), "bias"), {dim_size(filters_)}, layout_);
      if (!b.is_ok()) return with_layer(b.status());
      bias.assign((*b)->data<float>(), (*b)->data<float>() + filters_);
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
          round_weights_per_channel(kernel_, {filter[0], filter[1], filter[2], filter[3]}, 0);
    }
    return twin;
  }

  const std::vector<float>& kernel() const { return kernel_; }  // OHWI [C_out, KH, KW, C_in / G]
  const std::vector<float>& bias() const { return bias_; }
  std::int32_t filters() const { return filters_; }
  std::int32_t group_count() const { return groups_; }
  FusedActivation fused_activation() const { return activation_; }
  // [C_out, KH, KW, C_in / G] (KW = 1 for Conv1D); valid once the layer is in a model.
  Shape filter_shape() const {
    return Shape{filters_, kernel_size_.height, kernel_size_.width,
                 groups_ > 0 ? input_channels_ / groups_ : 0};
  }
  // The options the 2-D kernels take (stride and dilation 1 on the width axis of a Conv1D).
  Conv2DOptions options() const {
    Conv2DOptions options;
    options.padding = padding_;
    options.stride_height = stride_.height;
    options.stride_width = stride_.width;
    options.dilation_height = dilation_.height;
    options.dilation_width = dilation_.width;
    options.activation = activation_;
    return options;
  }
  // The shapes the kernels see ([1, T, 1, C] for a window).
  const Shape& input_nhwc() const { return input_nhwc_; }
  const Shape& output_nhwc() const { return output_nhwc_; }

  std::size_t float_scratch_bytes(Span<const Shape> /*inputs*/) const override {
    return (half_ ? scratch_bytes_for<float>(kernel_half_.values.size()) : 0) +
           scratch_bytes_for<float>(
               float_conv2d_scratch_floats(input_nhwc_, filter_shape(), options()));
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
    const Result<TensorView<const float>> input = inputs[0].reshaped(input_nhwc_);
    if (!input.is_ok()) return with_layer(input.status());
    const Result<TensorView<float>> out = output.reshaped(output_nhwc_);
    if (!out.is_ok()) return with_layer(out.status());
    const Span<float> patches = take_scratch<float>(
        scratch, float_conv2d_scratch_floats(input_nhwc_, filter_shape(), options()));
    return with_layer(
        float_conv2d(options(), input.value(), TensorView<const float>(weights, filter_shape()),
                     Span<const float>(bias_.data(), bias_.size()), out.value(), patches));
  }

  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;

  // The int8 form from weights quantized elsewhere (a model imported from TFLite): `weights` OHWI
  // [C_out, KH, KW, C_in / G] int8 with one symmetric scale per filter or one for all, `bias`
  // int32 at S_in * S_w[c] (one per filter, or empty), and the given input and output parameters.
  // The layer must be in a model (its geometry set); its float weights are not used.
  Result<std::unique_ptr<QuantizedLayer>> quantized_from(PerChannelWeights<std::int8_t> weights,
                                                         std::vector<std::int32_t> bias,
                                                         const QuantParams& input,
                                                         const TensorQuantization& output,
                                                         RoundingMode rounding) const;

  bool can_fold_batch_norm() const override { return activation_ == FusedActivation::none; }
  Status fold_batch_norm(Span<const float> scale, Span<const float> shift) override {
    if (!loaded_ || half_) return layer_error(ErrorCode::invalid_argument, "has no float weights");
    if (scale.size() != dim_size(filters_) || shift.size() != dim_size(filters_)) {
      return layer_error(ErrorCode::shape_mismatch, "BatchNormalization channels != filters");
    }
    if (bias_.empty()) bias_.assign(dim_size(filters_), 0.0f);
    const std::size_t volume = kernel_.size() / dim_size(filters_);
    for (std::size_t f = 0; f < dim_size(filters_); ++f) {
      for (std::size_t j = 0; j < volume; ++j) kernel_[f * volume + j] *= scale[f];
      bias_[f] = bias_[f] * scale[f] + shift[f];
    }
    use_bias_ = true;
    return Status::ok();
  }

  // The float16-weight twin: weights rounded to half and decoded at each run.
  Derived with_half_weights() const {
    Derived twin(derived());
    Convolution& base = twin;
    base.kernel_half_ = HalfWeights::from(kernel_);
    base.half_ = true;
    base.kernel_.clear();
    return twin;
  }

 protected:
  Convolution(std::string name, std::int32_t filters, Size2D kernel_size)
      : Layer(std::move(name)), filters_(filters), kernel_size_(kernel_size) {}

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

  // The kernel's shape in the file, every dimension as the declared layout orders it.
  std::vector<std::size_t> file_kernel_shape() const {
    const std::size_t out = dim_size(filters_);
    const std::size_t depth = dim_size(filter_shape()[3]);
    const std::size_t kh = dim_size(kernel_size_.height);
    const std::size_t kw = dim_size(kernel_size_.width);
    switch (layout_) {
      case WeightLayout::keras:
        return SpatialRank == 1 ? std::vector<std::size_t>{kh, depth, out}
                                : std::vector<std::size_t>{kh, kw, depth, out};
      case WeightLayout::pytorch:
        return SpatialRank == 1 ? std::vector<std::size_t>{out, depth, kh}
                                : std::vector<std::size_t>{out, depth, kh, kw};
      case WeightLayout::tflite: break;
    }
    // A TFLite Conv1D is a Conv2D over [1, 1, T, C]: time on the width axis.
    return SpatialRank == 1 ? std::vector<std::size_t>{out, 1, kh, depth}
                            : std::vector<std::size_t>{out, kh, kw, depth};
  }

  // Reads a kernel in the declared layout into OHWI. A Conv1D is the 2-D case with KW = 1, and
  // TFLite's (C_out, 1, K, C_in) holds its values in the order of (C_out, K, 1, C_in).
  void set_kernel(const float* data) {
    const Shape shape = filter_shape();
    const std::size_t out = dim_size(shape[0]);
    const std::size_t kh = dim_size(shape[1]);
    const std::size_t kw = dim_size(shape[2]);
    const std::size_t depth = dim_size(shape[3]);
    kernel_.assign(shape.element_count(), 0.0f);
    std::size_t at = 0;
    for (std::size_t o = 0; o < out; ++o) {
      for (std::size_t y = 0; y < kh; ++y) {
        for (std::size_t x = 0; x < kw; ++x) {
          for (std::size_t i = 0; i < depth; ++i, ++at) {
            switch (layout_) {
              case WeightLayout::keras:
                kernel_[at] = data[((y * kw + x) * depth + i) * out + o];
                break;
              case WeightLayout::pytorch:
                kernel_[at] = data[((o * depth + i) * kh + y) * kw + x];
                break;
              case WeightLayout::tflite: kernel_[at] = data[at]; break;
            }
          }
        }
      }
    }
  }

  std::int32_t filters_ = 0;
  Size2D kernel_size_;
  Size2D stride_;
  Size2D dilation_;
  Padding padding_ = Padding::valid;  // Keras' default
  std::int32_t groups_ = 1;
  FusedActivation activation_ = FusedActivation::none;
  bool use_bias_ = true;
  bool loaded_ = false;
  WeightLayout layout_ = WeightLayout::keras;
  std::int32_t input_channels_ = 0;
  Shape input_nhwc_;
  Shape output_nhwc_;
  std::vector<float> kernel_;  // OHWI
  std::vector<float> bias_;
  bool half_ = false;
  HalfWeights kernel_half_;
};

// int8 or int16 activations, int8 per-channel weights.
template <typename Activation>
class QuantizedConvolution final : public QuantizedLayer {
 public:
  using Bias = std::conditional_t<sizeof(Activation) == 1, std::int32_t, std::int64_t>;
  QuantizedConvolution(PerChannelWeights<std::int8_t> weights, std::vector<Bias> bias,
                       Prepared<Conv2DParams> prepared, const Shape& input_nhwc,
                       const Shape& filter_shape, const Shape& output_nhwc,
                       TensorQuantization output)
      : weights_(std::move(weights)),
        bias_(std::move(bias)),
        prepared_(std::move(prepared)),
        input_nhwc_(input_nhwc),
        filter_shape_(filter_shape),
        output_nhwc_(output_nhwc),
        output_(output) {
    // int8 layers run the SIMD kernel (kernels/simd/, the fastest path this CPU has, bit-identical
    // to the reference); its packed weights are shared by copies, being never written.
    if constexpr (std::is_same_v<Activation, std::int8_t>) {
      auto fast = simd::PreparedConv2D::from_reference(
          *prepared_, TensorView<const std::int8_t>(weights_.values.data(), filter_shape_),
          Span<const std::int32_t>(bias_.data(), bias_.size()));
      if (fast.is_ok()) {
        fast_ = std::make_shared<const simd::PreparedConv2D>(std::move(fast).value());
      }
    }
  }
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedConvolution>(*this);
  }
  std::size_t scratch_bytes() const override {
    return fast_ ? scratch_bytes_for<std::int8_t>(fast_->scratch_size()) : 0;
  }
  std::size_t exported_scratch_bytes() const override { return 0; }  // kernels/mcu loops
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    const Result<TensorView<const Activation>> input =
        inputs[0].view<const Activation>().reshaped(input_nhwc_);
    if (!input.is_ok()) return input.status();
    const Result<TensorView<Activation>> out = output.view<Activation>().reshaped(output_nhwc_);
    if (!out.is_ok()) return out.status();
    if constexpr (std::is_same_v<Activation, std::int8_t>) {
      if (fast_) {
        const Span<std::int8_t> rows = take_scratch<std::int8_t>(scratch, fast_->scratch_size());
        if (rows.data() == nullptr) {
          return Status::error(ErrorCode::buffer_too_small, "Conv scratch");
        }
        return fast_->run(input.value(), out.value(), rows);
      }
    }
    return reference::conv2d(prepared_, input.value(),
                             TensorView<const std::int8_t>(weights_.values.data(), filter_shape_),
                             Span<const Bias>(bias_.data(), bias_.size()), out.value());
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
    if constexpr (std::is_same_v<Activation, std::int8_t>) {
      // The loops for microcontrollers, bit-identical to the reference (kernels/mcu/).
      code.include("tsq/kernels/mcu/conv2d.hpp");
      code.statement("tsq::mcu::conv2d_int8<" + code.rounding_argument(prepared_->rounding) + ">(" +
                     params + ", " + code.inputs[0] + ", " + weights + ", " +
                     (bias_.empty() ? std::string("nullptr") : bias) + ", " + code.output + ")");
      return Status::ok();
    }
    code.include("tsq/kernels/reference/conv2d.hpp");
    code.call("tsq::reference::conv2d(" + params + ", " + code.input_view(0, input_nhwc_) +
              ", tsq::TensorView<const std::int8_t>(" + weights + ", " +
              codegen::shape_literal(filter_shape_) + "), tsq::Span<const " +
              codegen::cpp_type_of<Bias>() + ">(" + bias + ", " + std::to_string(bias_.size()) +
              "), " + code.output_view(output_nhwc_) + ")");
    return Status::ok();
  }
  const PerChannelWeights<std::int8_t>& weights() const { return weights_; }
  const std::vector<Bias>& bias() const { return bias_; }

 private:
  PerChannelWeights<std::int8_t> weights_;
  std::vector<Bias> bias_;
  Prepared<Conv2DParams> prepared_;
  Shape input_nhwc_;
  Shape filter_shape_;
  Shape output_nhwc_;
  TensorQuantization output_;
  std::shared_ptr<const simd::PreparedConv2D> fast_;
};

// DRQ: int8 weights, each float input window quantized on the fly (hybrid::conv2d).
class HybridConvolution final : public QuantizedLayer {
 public:
  HybridConvolution(PerChannelWeights<std::int8_t> weights, std::vector<float> bias,
                    Prepared<hybrid::Conv2DParams> prepared, const Shape& input_nhwc,
                    const Shape& filter_shape, const Shape& output_nhwc)
      : weights_(std::move(weights)),
        bias_(std::move(bias)),
        prepared_(std::move(prepared)),
        input_nhwc_(input_nhwc),
        filter_shape_(filter_shape),
        output_nhwc_(output_nhwc) {
    // The SIMD kernel (kernels/simd/, the fastest path this CPU has, the reference's floats bit
    // for bit); its packed filter is shared by copies, being never written.
    auto fast = simd::PreparedHybridConv2D::from_reference(
        prepared_, TensorView<const std::int8_t>(weights_.values.data(), filter_shape_),
        Span<const float>(bias_.data(), bias_.size()));
    if (fast.is_ok()) {
      fast_ = std::make_shared<const simd::PreparedHybridConv2D>(std::move(fast).value());
    }
  }
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<HybridConvolution>(*this);
  }
  std::size_t scratch_bytes() const override {
    return fast_ ? scratch_bytes_for<std::int8_t>(fast_->scratch_size())
                 : hybrid::conv2d_scratch_size(prepared_.params());
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    const Result<TensorView<const float>> input =
        inputs[0].view<const float>().reshaped(input_nhwc_);
    if (!input.is_ok()) return input.status();
    const Result<TensorView<float>> out = output.view<float>().reshaped(output_nhwc_);
    if (!out.is_ok()) return out.status();
    if (fast_) {
      const Span<std::int8_t> rows = take_scratch<std::int8_t>(scratch, fast_->scratch_size());
      if (rows.data() == nullptr) return Status::error(ErrorCode::buffer_too_small, "Conv scratch");
      return fast_->run(input.value(), out.value(), rows);
    }
    return hybrid::conv2d(
        prepared_, input.value(),
        TensorView<const std::int8_t>(weights_.values.data(), filter_shape_),
        Span<const float>(bias_.data(), bias_.size()), out.value(),
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
  const PerChannelWeights<std::int8_t>& weights() const { return weights_; }

 private:
  PerChannelWeights<std::int8_t> weights_;
  std::vector<float> bias_;
  Prepared<hybrid::Conv2DParams> prepared_;
  Shape input_nhwc_;
  Shape filter_shape_;
  Shape output_nhwc_;
  std::shared_ptr<const simd::PreparedHybridConv2D> fast_;
};

template <typename Derived, int SpatialRank>
Result<std::unique_ptr<QuantizedLayer>> Convolution<Derived, SpatialRank>::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (!loaded_ || half_) return layer_error(ErrorCode::invalid_argument, "has no weights");
  const Shape filter = filter_shape();
  const std::vector<std::int32_t> dims = {filter[0], filter[1], filter[2], filter[3]};
  switch (request.precision) {
    case Precision::float32:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Derived>>(derived()));
    case Precision::float16_weights:
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<FloatFallback<Derived>>(with_half_weights()));
    case Precision::dynamic_int8: {
      auto weights = quantize_weights_per_channel<std::int8_t>(kernel_, dims);
      if (!weights.is_ok()) return with_layer(weights.status());
      auto prepared = hybrid::prepare_owned_conv2d(
          input_nhwc_, filter, Span<const float>(weights->scales.data(), weights->scales.size()),
          options());
      if (!prepared.is_ok()) return with_layer(prepared.status());
      return std::unique_ptr<QuantizedLayer>(std::make_unique<HybridConvolution>(
          std::move(weights).value(), bias_, std::move(prepared).value(), input_nhwc_, filter,
          output_nhwc_));
    }
    case Precision::int8:
    case Precision::int16_activations: {
      auto weights = quantize_weights_per_channel<std::int8_t>(kernel_, dims);
      if (!weights.is_ok()) return with_layer(weights.status());
      const QuantParams& input = request.inputs[0].params;
      const Conv2DQuantization q{input_nhwc_,
                                 input,
                                 filter,
                                 Span<const float>(weights->scales.data(), weights->scales.size()),
                                 request.output.params,
                                 options(),
                                 request.rounding};
      auto prepared = prepare_owned_conv2d(q);
      if (!prepared.is_ok()) return with_layer(prepared.status());
      if (request.precision == Precision::int16_activations) {
        auto bias = quantize_bias_int64(bias_, dim_size(filters_), input.scale, weights->scales);
        if (!bias.is_ok()) return with_layer(bias.status());
        return std::unique_ptr<QuantizedLayer>(std::make_unique<QuantizedConvolution<std::int16_t>>(
            std::move(weights).value(), std::move(bias).value(), std::move(prepared).value(),
            input_nhwc_, filter, output_nhwc_, request.output));
      }
      auto bias = quantize_bias_int32(bias_, dim_size(filters_), input.scale, weights->scales);
      if (!bias.is_ok()) return with_layer(bias.status());
      return std::unique_ptr<QuantizedLayer>(std::make_unique<QuantizedConvolution<std::int8_t>>(
          std::move(weights).value(), std::move(bias).value(), std::move(prepared).value(),
          input_nhwc_, filter, output_nhwc_, request.output));
    }
    case Precision::int16_weights: break;
  }
  return layer_error(ErrorCode::unsupported_type, "int16 weights are not supported");
}

template <typename Derived, int SpatialRank>
Result<std::unique_ptr<QuantizedLayer>> Convolution<Derived, SpatialRank>::quantized_from(
    PerChannelWeights<std::int8_t> weights, std::vector<std::int32_t> bias,
    const QuantParams& input, const TensorQuantization& output, RoundingMode rounding) const {
  if (input_channels_ < 1) {
    return layer_error(ErrorCode::invalid_argument, "add the layer to a model first");
  }
  const Shape filter = filter_shape();
  if (weights.values.size() != filter.element_count()) {
    return layer_error(ErrorCode::shape_mismatch, "int8 kernel has the wrong number of values");
  }
  if (weights.scales.size() != 1 && weights.scales.size() != dim_size(filters_)) {
    return layer_error(ErrorCode::shape_mismatch, "kernel needs one scale or one per filter");
  }
  if (!bias.empty() && bias.size() != dim_size(filters_)) {
    return layer_error(ErrorCode::shape_mismatch, "bias must have `filters` values (or none)");
  }
  if (input.type != DataType::int8 || output.type != DataType::int8) {
    return layer_error(ErrorCode::unsupported_type, "int8 input and output needed");
  }
  const Conv2DQuantization q{
      input_nhwc_,   input,
      filter,        Span<const float>(weights.scales.data(), weights.scales.size()),
      output.params, options(),
      rounding};
  auto prepared = prepare_owned_conv2d(q);
  if (!prepared.is_ok()) return with_layer(prepared.status());
  return std::unique_ptr<QuantizedLayer>(std::make_unique<QuantizedConvolution<std::int8_t>>(
      std::move(weights), std::move(bias), std::move(prepared).value(), input_nhwc_, filter,
      output_nhwc_, output));
}

}  // namespace detail

// Conv1D("conv1", 16, 5): [1, T, C] -> [1, T', 16], a 5-step kernel sliding over time.
class Conv1D final : public detail::Convolution<Conv1D, 1> {
 public:
  Conv1D(std::string name, std::int32_t filters, std::int32_t kernel_size)
      : Convolution(std::move(name), filters, Size2D{kernel_size, 1}) {}
  Conv1D& stride(std::int32_t stride) { return set_stride(Size2D{stride, 1}); }
  Conv1D& dilation(std::int32_t rate) { return set_dilation(Size2D{rate, 1}); }
  const char* kind() const override { return "Conv1D"; }
};

// Conv2D("conv1", 16, {3, 3}): [1, H, W, C] -> [1, H', W', 16].
class Conv2D final : public detail::Convolution<Conv2D, 2> {
 public:
  Conv2D(std::string name, std::int32_t filters, Size2D kernel_size)
      : Convolution(std::move(name), filters, kernel_size) {}
  Conv2D& stride(std::int32_t stride) { return set_stride(Size2D{stride, stride}); }
  Conv2D& stride(Size2D stride) { return set_stride(stride); }
  Conv2D& dilation(std::int32_t rate) { return set_dilation(Size2D{rate, rate}); }
  Conv2D& dilation(Size2D rate) { return set_dilation(rate); }
  const char* kind() const override { return "Conv2D"; }
};

}  // namespace nn
}  // namespace tsq
