// SPDX-License-Identifier: Apache-2.0
// Quantize, dequantize and clamp (spec 1.3), symmetric per-channel weights (1.4) and int32
// biases (1.5). These run on the host (prepare) or at a model's float edges; the integer path
// itself never calls them.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/quant_params.hpp"

namespace tsq {

// q = clamp(round(r / S) + Z, quant_min, quant_max): the division in float32 and rounding half
// away from zero, as TFLite's QUANTIZE does. Infinities saturate; NaN maps to the zero point
// (use the Span overload to have NaN reported as an error instead).
inline std::int32_t quantize_value(float real, const QuantParams& params) {
  const float scaled = std::round(real / params.scale);
  if (std::isnan(scaled)) return clamp(params.zero_point, params.quant_min, params.quant_max);
  // Clamp while still in float so that the conversion to int32 cannot overflow.
  const float lo = static_cast<float>(params.quant_min) - static_cast<float>(params.zero_point);
  const float hi = static_cast<float>(params.quant_max) - static_cast<float>(params.zero_point);
  if (scaled <= lo) return params.quant_min;
  if (scaled >= hi) return params.quant_max;
  return clamp(static_cast<std::int32_t>(scaled) + params.zero_point, params.quant_min,
               params.quant_max);
}

template <typename T>
T quantize(float real, const QuantParams& params) {
  return static_cast<T>(quantize_value(real, params));
}

// r = S * (q - Z) in float32, as TFLite's DEQUANTIZE.
template <typename T>
float dequantize(T quantized, const QuantParams& params) {
  return params.scale *
         static_cast<float>(static_cast<std::int32_t>(quantized) - params.zero_point);
}

// Quantizes a whole buffer. Errors: invalid params, size mismatch, a storage type that does not
// match T, or a NaN in the input (non_finite_value, with its index); output is untouched then.
template <typename T>
Status quantize(Span<const float> real, Span<T> quantized, const QuantParams& params) {
  TSQ_RETURN_IF_ERROR(detail::check_spans_usable("quantize", real, quantized));
  TSQ_RETURN_IF_ERROR(validate(params));
  if (data_type_of_v<T> != params.type) {
    return Status::error(ErrorCode::unsupported_type, "output element type is not ")
        .append(data_type_name(params.type));
  }
  if (real.size() != quantized.size()) {
    return Status::error(ErrorCode::shape_mismatch, "quantize: input has ")
        .append(real.size())
        .append(" elements, output ")
        .append(quantized.size());
  }
  for (std::size_t i = 0; i < real.size(); ++i) {
    if (std::isnan(real[i])) {
      return Status::error(ErrorCode::non_finite_value, "quantize: NaN at index ").append(i);
    }
  }
  for (std::size_t i = 0; i < real.size(); ++i) quantized[i] = quantize<T>(real[i], params);
  return Status::ok();
}

template <typename T>
Status dequantize(Span<const T> quantized, Span<float> real, const QuantParams& params) {
  TSQ_RETURN_IF_ERROR(detail::check_spans_usable("dequantize", quantized, real));
  TSQ_RETURN_IF_ERROR(validate(params));
  if (data_type_of_v<T> != params.type) {
    return Status::error(ErrorCode::unsupported_type, "input element type is not ")
        .append(data_type_name(params.type));
  }
  if (real.size() != quantized.size()) {
    return Status::error(ErrorCode::shape_mismatch, "dequantize: input has ")
        .append(quantized.size())
        .append(" elements, output ")
        .append(real.size());
  }
  for (std::size_t i = 0; i < real.size(); ++i) real[i] = dequantize(quantized[i], params);
  return Status::ok();
}

// Symmetric per-channel quantization of a weight tensor (spec 1.4), channel = index along
// `axis` of the row-major tensor with dimensions `dims`:
//   m_c = max |w| over the channel; S_c = m_c / quant_max (float32);
//   q = clamp(round(w * (quant_max / m_c)), -quant_max, quant_max), products in float32.
// An all-zero channel gets the converter's minimal magnitude 5e-7 (scale > 0, all q = 0).
// Writes `quantized` (same size as `weights`) and `scales` (one per channel).
template <typename T>
Status quantize_per_channel(Span<const float> weights, Span<const std::int32_t> dims, int axis,
                            Span<T> quantized, Span<float> scales,
                            BitWidth width = BitWidth{8, true, true}) {
  TSQ_RETURN_IF_ERROR(
      detail::check_spans_usable("quantize_per_channel", weights, dims, quantized, scales));
  if (axis < 0 || static_cast<std::size_t>(axis) >= dims.size()) {
    return Status::error(ErrorCode::invalid_argument, "quantized axis ")
        .append(axis)
        .append(" outside a tensor of rank ")
        .append(dims.size());
  }
  std::size_t count = 1;
  std::size_t inner = 1;  // elements between two consecutive indices of `axis`
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] < 0) return Status::error(ErrorCode::shape_mismatch, "negative dimension");
    count *= static_cast<std::size_t>(dims[d]);
    if (d > static_cast<std::size_t>(axis)) inner *= static_cast<std::size_t>(dims[d]);
  }
  const auto channels = static_cast<std::size_t>(dims[static_cast<std::size_t>(axis)]);
  if (weights.size() != count || quantized.size() != count) {
    return Status::error(ErrorCode::shape_mismatch, "weights/output size != product of dims (")
        .append(count)
        .append(")");
  }
  if (scales.size() != channels) {
    return Status::error(ErrorCode::shape_mismatch, "scale count ")
        .append(scales.size())
        .append(" != channel count ")
        .append(channels);
  }
  width.narrow_range = true;
  const Result<IntegerRange> range = integer_range(width);
  if (!range.is_ok()) return range.status();
  if (!width.is_signed || data_type_of_v<T> != storage_type_for(width).value()) {
    return Status::error(ErrorCode::unsupported_type, "output type does not match the bit width");
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(weights[i])) {
      return Status::error(ErrorCode::non_finite_value, "weight at index ")
          .append(i)
          .append(" is not finite");
    }
  }
  const auto quant_max = static_cast<float>(range->max);
  for (std::size_t c = 0; c < channels; ++c) {
    float magnitude = 0.0f;
    for (std::size_t i = 0; i < count; ++i) {
      if ((i / inner) % channels == c) magnitude = std::fmax(magnitude, std::fabs(weights[i]));
    }
    magnitude = std::fmax(magnitude, 5e-7f);
    scales[c] = magnitude / quant_max;
    const float inverse = quant_max / magnitude;
    for (std::size_t i = 0; i < count; ++i) {
      if ((i / inner) % channels != c) continue;
      const float q = std::fmin(std::fmax(std::round(weights[i] * inverse), -quant_max), quant_max);
      quantized[i] = static_cast<T>(q);
    }
  }
  return Status::ok();
}

// int32 bias quantization (spec 1.5): S_b[c] = S_in * S_w[c] (float32 product), zero point 0,
// q = clamp(round(b * float32(1 / S_b)), -(2^31 - 1), 2^31 - 1). One weight scale means a
// per-tensor bias. Writes `bias_scales` too when it is not empty (same size as `bias`).
inline Status quantize_bias(Span<const float> bias, float input_scale,
                            Span<const float> weight_scales, Span<std::int32_t> quantized,
                            Span<float> bias_scales = {}) {
  TSQ_RETURN_IF_ERROR(
      detail::check_spans_usable("quantize_bias", bias, weight_scales, quantized, bias_scales));
  TSQ_RETURN_IF_ERROR(validate_scale(input_scale));
  if (weight_scales.size() != 1 && weight_scales.size() != bias.size()) {
    return Status::error(ErrorCode::shape_mismatch, "bias: need 1 or ")
        .append(bias.size())
        .append(" weight scales, got ")
        .append(weight_scales.size());
  }
  if (quantized.size() != bias.size() ||
      (!bias_scales.empty() && bias_scales.size() != bias.size())) {
    return Status::error(ErrorCode::shape_mismatch, "bias output size != bias size");
  }
  for (std::size_t c = 0; c < bias.size(); ++c) {
    const float weight_scale = weight_scales[weight_scales.size() == 1 ? 0 : c];
    if (!validate_scale(weight_scale).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, "weight scale of channel ")
          .append(c)
          .append(" is not finite and > 0");
    }
    if (!std::isfinite(bias[c])) {
      return Status::error(ErrorCode::non_finite_value, "bias ").append(c).append(" is not finite");
    }
    const float bias_scale = input_scale * weight_scale;
    if (!(bias_scale > 0.0f)) {
      return Status::error(ErrorCode::invalid_scale, "bias scale of channel ")
          .append(c)
          .append(" underflows float32");
    }
  }
  constexpr double kLimit = 2147483647.0;
  for (std::size_t c = 0; c < bias.size(); ++c) {
    const float bias_scale = input_scale * weight_scales[weight_scales.size() == 1 ? 0 : c];
    const auto inverse = static_cast<float>(1.0 / static_cast<double>(bias_scale));
    double q = std::round(static_cast<double>(bias[c] * inverse));
    if (std::isnan(q)) q = 0.0;     // 0 * inf when the bias scale is subnormal
    if (!(q < kLimit)) q = kLimit;  // also catches an infinite inverse times bias
    if (q < -kLimit) q = -kLimit;
    quantized[c] = static_cast<std::int32_t>(q);
    if (!bias_scales.empty()) bias_scales[c] = bias_scale;
  }
  return Status::ok();
}

}  // namespace tsq
