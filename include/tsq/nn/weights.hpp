// SPDX-License-Identifier: Apache-2.0
// What the weighted layers (Dense, Conv, DepthwiseConv) share when they are quantized: symmetric
// per-channel weights, int32 / int64 biases at S_in * S_w[c], float16 storage, and the float
// twins used by a float32 or float16 layer inside a quantized model.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/quant/float16.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {
namespace nn {

// Weights quantized symmetric per output channel (axis 0 of `dims`).
template <typename T>
struct PerChannelWeights {
  std::vector<T> values;
  std::vector<float> scales;  // one per output channel
};

template <typename T>
Result<PerChannelWeights<T>> quantize_weights_per_channel(const std::vector<float>& weights,
                                                          const std::vector<std::int32_t>& dims) {
  PerChannelWeights<T> q;
  q.values.resize(weights.size());
  q.scales.resize(static_cast<std::size_t>(dims[0]));
  const BitWidth width{static_cast<int>(8 * sizeof(T)), true, true};
  TSQ_RETURN_IF_ERROR(quantize_per_channel<T>(Span<const float>(weights.data(), weights.size()),
                                              Span<const std::int32_t>(dims.data(), dims.size()), 0,
                                              Span<T>(q.values.data(), q.values.size()),
                                              Span<float>(q.scales.data(), q.scales.size()),
                                              width));
  return q;
}

// int32 biases for int8 activations (empty bias -> zeros).
inline Result<std::vector<std::int32_t>> quantize_bias_int32(const std::vector<float>& bias,
                                                             std::size_t channels,
                                                             float input_scale,
                                                             const std::vector<float>& scales) {
  std::vector<float> values = bias.empty() ? std::vector<float>(channels, 0.0f) : bias;
  std::vector<std::int32_t> quantized(channels);
  TSQ_RETURN_IF_ERROR(quantize_bias(Span<const float>(values.data(), values.size()), input_scale,
                                    Span<const float>(scales.data(), scales.size()),
                                    Span<std::int32_t>(quantized.data(), quantized.size())));
  return quantized;
}

// int64 biases for int16 activations (TFLite's 16x8), |q| kept below the kernels' 2^47 limit.
inline Result<std::vector<std::int64_t>> quantize_bias_int64(const std::vector<float>& bias,
                                                             std::size_t channels,
                                                             float input_scale,
                                                             const std::vector<float>& scales) {
  std::vector<std::int64_t> quantized(channels, 0);
  if (bias.empty()) return quantized;
  constexpr double kLimit = 140737488355327.0 - 274877906944.0;  // 2^47 - 1 - 2^38
  for (std::size_t c = 0; c < channels; ++c) {
    if (!std::isfinite(bias[c])) {
      return Status::error(ErrorCode::non_finite_value, "bias ").append(c).append(" is not finite");
    }
    const double bias_scale =
        static_cast<double>(input_scale) * static_cast<double>(scales[scales.size() == 1 ? 0 : c]);
    double q = std::round(static_cast<double>(bias[c]) / bias_scale);
    q = q > kLimit ? kLimit : (q < -kLimit ? -kLimit : q);
    quantized[c] = static_cast<std::int64_t>(q);
  }
  return quantized;
}

// Bias correction (Nagel et al. 2019, "Data-free quantization"): weight rounding shifts a
// channel's mean output by (W_q - W) E[x]; subtracting that shift, measured on the calibration
// inputs, removes the bias it adds. `mean_input` has one value per input feature (depth);
// `dequantized` and `weights` are [channels, depth]. Returns the corrected float biases.
inline std::vector<float> correct_bias(const std::vector<float>& bias, std::size_t channels,
                                       const std::vector<float>& weights,
                                       const std::vector<float>& dequantized,
                                       const std::vector<double>& mean_input) {
  std::vector<float> corrected = bias.empty() ? std::vector<float>(channels, 0.0f) : bias;
  const std::size_t depth = mean_input.size();
  for (std::size_t c = 0; c < channels; ++c) {
    double shift = 0.0;
    for (std::size_t d = 0; d < depth; ++d) {
      shift += (static_cast<double>(dequantized[c * depth + d]) - weights[c * depth + d]) *
               mean_input[d];
    }
    corrected[c] = static_cast<float>(static_cast<double>(corrected[c]) - shift);
  }
  return corrected;
}

// The mean of every input feature over all calibration rows (each window holds whole rows of
// `depth` values: one per time step for a Dense on a sequence).
inline std::vector<double> mean_input_features(const std::vector<std::vector<float>>& windows,
                                               std::size_t depth) {
  std::vector<double> mean(depth, 0.0);
  std::size_t rows = 0;
  for (const std::vector<float>& window : windows) {
    for (std::size_t at = 0; at + depth <= window.size(); at += depth, ++rows) {
      for (std::size_t d = 0; d < depth; ++d) mean[d] += window[at + d];
    }
  }
  if (rows > 0) {
    for (double& m : mean) m /= static_cast<double>(rows);
  }
  return mean;
}

// `weights` rounded as int8 (or int16) symmetric per channel along `axis` and dequantized: what
// the debugger runs to measure the cost of weight rounding alone. Unchanged on error.
template <typename T = std::int8_t>
std::vector<float> round_weights_per_channel(const std::vector<float>& weights,
                                             const std::vector<std::int32_t>& dims, int axis) {
  const auto channels = static_cast<std::size_t>(dims[static_cast<std::size_t>(axis)]);
  std::vector<T> values(weights.size());
  std::vector<float> scales(channels);
  const BitWidth width{static_cast<int>(8 * sizeof(T)), true, true};
  if (!quantize_per_channel<T>(Span<const float>(weights.data(), weights.size()),
                               Span<const std::int32_t>(dims.data(), dims.size()), axis,
                               Span<T>(values.data(), values.size()),
                               Span<float>(scales.data(), scales.size()), width)
           .is_ok()) {
    return weights;
  }
  std::size_t inner = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < dims.size(); ++d) {
    inner *= static_cast<std::size_t>(dims[d]);
  }
  std::vector<float> rounded(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    rounded[i] = static_cast<float>(values[i]) * scales[(i / inner) % channels];
  }
  return rounded;
}

// Weights kept as IEEE half; decoded into scratch for each run.
struct HalfWeights {
  std::vector<std::uint16_t> values;
  static HalfWeights from(const std::vector<float>& weights) {
    HalfWeights half;
    half.values.reserve(weights.size());
    for (const float w : weights) half.values.push_back(float_to_half(w));
    return half;
  }
  // Decodes into `out` (values.size() floats).
  void decode(float* out) const {
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = half_to_float(values[i]);
  }
};

// The checks every quantized layer makes on its request: the precision is one the layer takes,
// and its inputs arrive in the element type that precision runs on.
inline Status check_request_types(const Layer& layer, const LayerQuantizationRequest& request) {
  if (!layer.supports(request.precision)) {
    return Status::error(ErrorCode::unsupported_type, layer.kind())
        .append(" '")
        .append(layer.name().c_str())
        .append("' cannot run as ")
        .append(precision_name(request.precision));
  }
  for (std::size_t i = 0; i < request.inputs.size(); ++i) {
    const TensorQuantization& input = request.inputs[i];
    const DataType expected = layer.input_type(i, request.precision);
    if (input.type != expected) {
      return Status::error(ErrorCode::unsupported_type, layer.kind())
          .append(" '")
          .append(layer.name().c_str())
          .append("' as ")
          .append(precision_name(request.precision))
          .append(" needs ")
          .append(data_type_name(expected))
          .append(" inputs, got ")
          .append(data_type_name(input.type));
    }
  }
  if (is_integer_precision(request.precision)) {
    for (const TensorQuantization& input : request.inputs)
      TSQ_RETURN_IF_ERROR(validate(input.params));
    TSQ_RETURN_IF_ERROR(validate(request.output.params));
  }
  return Status::ok();
}

// A layer of a quantized model that runs its float twin (float32 fallback, or float16 weights
// decoded into scratch by the layer before the call).
template <typename FloatLayer>
class FloatFallback final : public QuantizedLayer {
 public:
  explicit FloatFallback(const FloatLayer& layer) : layer_(layer) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<FloatFallback>(*this);
  }
  std::size_t scratch_bytes() const override { return layer_.configured_float_scratch_bytes(); }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    TensorView<const float> views[4];
    for (std::size_t i = 0; i < inputs.size() && i < 4; ++i)
      views[i] = inputs[i].view<const float>();
    return layer_.run_float(Span<const TensorView<const float>>(views, inputs.size()),
                            output.view<float>(), scratch, nullptr);
  }
  ParameterBytes parameter_bytes() const override { return layer_.stored_parameter_bytes(); }
  TensorQuantization output_quantization() const override {
    return TensorQuantization{DataType::float32, QuantParams{}};
  }
  // A float form's intermediates are its float layer's.
  Status intermediates(Span<const AnyTensor> inputs,
                       std::vector<Intermediate>& out) const override {
    TensorView<const float> views[4];
    const std::size_t count = inputs.size() < 4 ? inputs.size() : 4;
    for (std::size_t i = 0; i < count; ++i) views[i] = inputs[i].view<const float>();
    return layer_.float_intermediates(Span<const TensorView<const float>>(views, count), out);
  }

 private:
  FloatLayer layer_;
};

}  // namespace nn
}  // namespace tsq
