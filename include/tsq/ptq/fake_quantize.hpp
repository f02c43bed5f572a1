// SPDX-License-Identifier: Apache-2.0
// Fake quantization for quantization-aware training: a float value replaced by the float the
// integer model will actually see, dequantize(quantize(x)). It calls tsq's own quantize_value /
// dequantize / quantize_per_channel, so the rounding (float32 division, half away from zero,
// saturation) is the integer path's to the bit, not a re-implementation of it. Host only.
//
//  fake_quantize(x, params)             one value: NaN gives 0 (the zero point), infinities
//                                       saturate, as quantize_value does
//  fake_quantize(in, out, params)       a tensor with per-tensor parameters
//  fake_quantize_per_channel(...)       per-axis parameters (scales given, zero point 0)
//  fake_quantize_weights(...)           weights as quantize_per_channel quantizes them (it
//                                       chooses the symmetric scales) and the scales it chose
//  fake_quantize_passes_gradient(x, p)  the straight-through estimator's mask: the gradient flows
//                                       where x is not clipped (PyTorch's FakeQuantize backward)
//
// The span versions report a NaN as non_finite_value with its index (as tsq::quantize does) and
// write nothing then; input and output may be the same buffer.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {

inline float fake_quantize(float real, const QuantParams& params) {
  return dequantize(quantize_value(real, params), params);
}

// True where round(x / S) + Z lies inside [quant_min, quant_max]: there the fake-quantized value
// follows x and the straight-through estimator passes the gradient; outside it is clipped.
inline bool fake_quantize_passes_gradient(float real, const QuantParams& params) {
  const float scaled = std::round(real / params.scale) + static_cast<float>(params.zero_point);
  return scaled >= static_cast<float>(params.quant_min) &&
         scaled <= static_cast<float>(params.quant_max);
}

namespace detail {

inline Status check_fake_quantize_buffers(const char* op, Span<const float> input,
                                          Span<float> output) {
  if ((input.data() == nullptr && !input.empty()) ||
      (output.data() == nullptr && !output.empty())) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(": a buffer has null data and a nonzero size");
  }
  if (input.size() != output.size()) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(": input has ")
        .append(input.size())
        .append(" elements, output ")
        .append(output.size());
  }
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (std::isnan(input[i])) {
      return Status::error(ErrorCode::non_finite_value, op).append(": NaN at index ").append(i);
    }
  }
  return Status::ok();
}

}  // namespace detail

// Per-tensor. Errors: invalid params, size mismatch, a NaN (output untouched then).
inline Status fake_quantize(Span<const float> input, Span<float> output,
                            const QuantParams& params) {
  TSQ_RETURN_IF_ERROR(validate(params));
  TSQ_RETURN_IF_ERROR(detail::check_fake_quantize_buffers("fake_quantize", input, output));
  for (std::size_t i = 0; i < input.size(); ++i) output[i] = fake_quantize(input[i], params);
  return Status::ok();
}

// Per-axis: element i of the row-major tensor `dims` uses scales[c], c its index along
// params.axis, zero point 0 and [params.quant_min, params.quant_max]. The values are divided by
// their scale as tsq::quantize does (fake_quantize_weights reproduces quantize_per_channel, which
// multiplies by quant_max / max|w| instead).
inline Status fake_quantize_per_channel(Span<const float> input, Span<float> output,
                                        Span<const std::int32_t> dims,
                                        const PerAxisQuantParams& params) {
  TSQ_RETURN_IF_ERROR(validate(params, dims));
  std::size_t count = 1;
  std::size_t inner = 1;  // elements between two consecutive indices of the axis
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] < 0) return Status::error(ErrorCode::shape_mismatch, "negative dimension");
    count *= static_cast<std::size_t>(dims[d]);
    if (d > static_cast<std::size_t>(params.axis)) inner *= static_cast<std::size_t>(dims[d]);
  }
  if (input.size() != count) {
    return Status::error(ErrorCode::shape_mismatch, "fake_quantize_per_channel: ")
        .append(input.size())
        .append(" elements, dims hold ")
        .append(count);
  }
  TSQ_RETURN_IF_ERROR(
      detail::check_fake_quantize_buffers("fake_quantize_per_channel", input, output));
  const std::size_t channels = params.scales.size();
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t c = (i / inner) % channels;
    const QuantParams channel{params.scales[c], 0, params.type, params.quant_min, params.quant_max};
    output[i] = fake_quantize(input[i], channel);
  }
  return Status::ok();
}

// Fake-quantizes weights exactly as quantize_per_channel(weights, dims, axis, ..., width)
// quantizes them: symmetric, one scale per channel along `axis`, chosen from max|w| of the
// channel. Writes the dequantized weights to `output` (may be `weights` itself) and returns the
// scales. Errors: those of quantize_per_channel (non-finite weights included), or a size
// mismatch of `output`.
inline Result<std::vector<float>> fake_quantize_weights(Span<const float> weights,
                                                        Span<const std::int32_t> dims, int axis,
                                                        Span<float> output,
                                                        BitWidth width = BitWidth{8, true, true}) {
  if (weights.size() != output.size()) {
    return Status::error(ErrorCode::shape_mismatch, "fake_quantize_weights: ")
        .append(weights.size())
        .append(" weights, output ")
        .append(output.size());
  }
  if (axis < 0 || static_cast<std::size_t>(axis) >= dims.size()) {
    return Status::error(ErrorCode::invalid_argument, "quantized axis ")
        .append(axis)
        .append(" outside a tensor of rank ")
        .append(dims.size());
  }
  if (dims[static_cast<std::size_t>(axis)] < 0) {
    return Status::error(ErrorCode::shape_mismatch, "negative dimension");
  }
  const Result<DataType> storage = storage_type_for(width);
  if (!storage.is_ok()) return storage.status();
  std::vector<float> scales(static_cast<std::size_t>(dims[static_cast<std::size_t>(axis)]));
  // The integers go through the storage type quantize_per_channel writes for this width.
  std::vector<std::int32_t> q(weights.size());
  Status status;
  switch (storage.value()) {
    case DataType::int8: {
      std::vector<std::int8_t> stored(weights.size());
      status = quantize_per_channel<std::int8_t>(weights, dims, axis, stored, scales, width);
      for (std::size_t i = 0; i < stored.size(); ++i) q[i] = stored[i];
      break;
    }
    case DataType::int16: {
      std::vector<std::int16_t> stored(weights.size());
      status = quantize_per_channel<std::int16_t>(weights, dims, axis, stored, scales, width);
      for (std::size_t i = 0; i < stored.size(); ++i) q[i] = stored[i];
      break;
    }
    case DataType::int32:
      status = quantize_per_channel<std::int32_t>(weights, dims, axis, q, scales, width);
      break;
    default:
      status = Status::error(ErrorCode::unsupported_type, "weights need a signed bit width");
      break;
  }
  TSQ_RETURN_IF_ERROR(status);
  // Same channel layout as quantize_per_channel: index along `axis` of the row-major tensor.
  std::size_t inner = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < dims.size(); ++d) {
    inner *= static_cast<std::size_t>(dims[d]);
  }
  const std::size_t channels = scales.size();
  for (std::size_t i = 0; i < q.size(); ++i) {
    QuantParams channel;  // dequantize reads only the scale and the zero point (0)
    channel.scale = scales[(i / inner) % channels];
    channel.zero_point = 0;
    output[i] = dequantize(q[i], channel);
  }
  return scales;
}

}  // namespace tsq
