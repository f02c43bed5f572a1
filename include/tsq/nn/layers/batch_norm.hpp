// SPDX-License-Identifier: Apache-2.0
// BatchNormalization (inference form) over the last axis: y = x * scale + shift per channel, with
// scale = gamma / sqrt(moving_variance + epsilon) and shift = beta - moving_mean * scale.
//
// Weights (C each): keras and tflite gamma, beta, moving_mean, moving_variance; pytorch weight,
// bias, running_mean, running_var. Epsilon is Keras' 1e-3 unless set (PyTorch uses 1e-5).
//
// A model folds the layer into the Conv or Dense before it when the weights are loaded
// (Model::fold_batch_norms): the integer kernels have no per-channel affine op, so it exists as
// a layer of its own only in float; quantize() refuses every other precision.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

class BatchNormalization final : public Layer {
 public:
  explicit BatchNormalization(std::string name) : Layer(std::move(name)) {}

  BatchNormalization& epsilon(float epsilon) {
    epsilon_ = epsilon;
    return *this;
  }
  BatchNormalization& layout(WeightLayout layout) {
    layout_ = layout;
    return *this;
  }
  // Statistics given directly (C values each).
  Status set_weights(const std::vector<float>& gamma, const std::vector<float>& beta,
                     const std::vector<float>& moving_mean,
                     const std::vector<float>& moving_variance) {
    if (channels_ < 1)
      return layer_error(ErrorCode::invalid_argument, "add the layer to a model first");
    const auto channels = static_cast<std::size_t>(channels_);
    if (gamma.size() != channels || beta.size() != channels || moving_mean.size() != channels ||
        moving_variance.size() != channels) {
      return layer_error(ErrorCode::shape_mismatch, "every statistic needs one value per channel");
    }
    return set_affine(gamma.data(), beta.data(), moving_mean.data(), moving_variance.data());
  }

  const char* kind() const override { return "BatchNormalization"; }
  std::unique_ptr<Layer> clone() const override {
    return std::make_unique<BatchNormalization>(*this);
  }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (input.rank() < 2) return layer_error(ErrorCode::shape_mismatch, "input needs rank >= 2");
    if (!(epsilon_ >= 0.0f) || !std::isfinite(epsilon_)) {
      return layer_error(ErrorCode::invalid_argument, "epsilon must be finite and >= 0");
    }
    channels_ = input[input.rank() - 1];
    return input;
  }

  Status load_weights(const io::NpzFile& archive, const WeightNaming& naming) override {
    const bool pytorch = layout_ == WeightLayout::pytorch;
    const char* names[4] = {pytorch ? "weight" : "gamma", pytorch ? "bias" : "beta",
                            pytorch ? "running_mean" : "moving_mean",
                            pytorch ? "running_var" : "moving_variance"};
    const float* values[4] = {};
    for (int i = 0; i < 4; ++i) {
      const Result<const io::NpyArray*> array = find_weight(
          archive, naming.member(name(), names[i]), {static_cast<std::size_t>(channels_)}, layout_);
      if (!array.is_ok()) return with_layer(array.status());
      values[i] = (*array)->data<float>();
    }
    return set_affine(values[0], values[1], values[2], values[3]);
  }
  bool weights_loaded() const override { return loaded_; }
  std::size_t parameter_count() const override { return 4 * static_cast<std::size_t>(channels_); }

  bool batch_norm_affine(std::vector<float>& scale, std::vector<float>& shift) const override {
    if (!loaded_) return false;
    scale = scale_;
    shift = shift_;
    return true;
  }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    TSQ_RETURN_IF_ERROR(
        with_layer(tsq::detail::check_float_elementwise_views(kind(), inputs[0], output)));
    const auto channels = static_cast<std::size_t>(channels_);
    const float* in = inputs[0].data();
    float* out = output.data();
    const std::size_t count = output.element_count();
    for (std::size_t at = 0; at < count; ++at) {
      out[at] = in[at] * scale_[at % channels] + shift_[at % channels];
    }
    return Status::ok();
  }

  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override {
    if (request.precision != Precision::float32) {
      return layer_error(ErrorCode::unsupported_type,
                         "must be folded into the Conv or Dense before it to run as ")
          .append(precision_name(request.precision));
    }
    TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
    if (!loaded_) return layer_error(ErrorCode::invalid_argument, "has no weights");
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<FloatFallback<BatchNormalization>>(*this));
  }

 private:
  // The affine form, in float as Keras and TFLite's converter fold it.
  Status set_affine(const float* gamma, const float* beta, const float* mean,
                    const float* variance) {
    const auto channels = static_cast<std::size_t>(channels_);
    std::vector<float> scale(channels), shift(channels);
    for (std::size_t c = 0; c < channels; ++c) {
      const float denominator = variance[c] + epsilon_;
      if (!(denominator > 0.0f) || !std::isfinite(gamma[c]) || !std::isfinite(beta[c]) ||
          !std::isfinite(mean[c]) || !std::isfinite(denominator)) {
        return layer_error(ErrorCode::non_finite_value, "channel ")
            .append(c)
            .append(": statistics must be finite with variance + epsilon > 0");
      }
      scale[c] = gamma[c] / std::sqrt(denominator);
      shift[c] = beta[c] - mean[c] * scale[c];
    }
    scale_ = std::move(scale);
    shift_ = std::move(shift);
    loaded_ = true;
    return Status::ok();
  }

  float epsilon_ = 1e-3f;  // Keras' default
  WeightLayout layout_ = WeightLayout::keras;
  std::int32_t channels_ = 0;
  bool loaded_ = false;
  std::vector<float> scale_;
  std::vector<float> shift_;
};

}  // namespace nn
}  // namespace tsq
