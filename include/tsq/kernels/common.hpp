// SPDX-License-Identifier: Apache-2.0
// Vocabulary shared by the kernels: fused activations and their integer clamps (spec 3.1),
// padding and output sizes of windowed ops (spec 3.3).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "tsq/core/status.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/quant_params.hpp"

namespace tsq {

// A ReLU or ReLU6 folded into the producer's output clamp.
enum class FusedActivation : std::uint8_t { none, relu, relu6 };

constexpr const char* fused_activation_name(FusedActivation activation) {
  switch (activation) {
    case FusedActivation::none: return "none";
    case FusedActivation::relu: return "relu";
    case FusedActivation::relu6: return "relu6";
  }
  return "unknown";
}

// The clamp of an integer output: the storage range narrowed by the fused activation.
struct ActivationRange {
  std::int32_t min = 0;
  std::int32_t max = 0;
};

// Spec 3.1: RELU clamps below at Z_out, RELU6 also above at Z_out + round(6 / S_out) (float32
// division, rounding half away from zero), both within the output's integer range.
inline Result<ActivationRange> quantized_activation_range(FusedActivation activation,
                                                          const QuantParams& output) {
  TSQ_RETURN_IF_ERROR(validate(output));
  ActivationRange range{output.quant_min, output.quant_max};
  if (activation == FusedActivation::relu || activation == FusedActivation::relu6) {
    range.min = std::max(range.min, output.zero_point);
  }
  if (activation == FusedActivation::relu6) {
    const float six = std::round(6.0f / output.scale);
    if (!(six < 2147483647.0f - static_cast<float>(output.zero_point))) {
      range.max = output.quant_max;  // 6 is beyond any representable value
    } else {
      range.max = std::min(range.max, output.zero_point + static_cast<std::int32_t>(six));
    }
  }
  return range;
}

namespace detail {
// The requantized value plus the output zero point. The multiply saturates at the int32 limits
// for multipliers > 1; adding in 64 bits keeps that case free of overflow (the clamp follows).
constexpr std::int32_t add_zero_point(std::int32_t value, std::int32_t zero_point) {
  return saturate_to_int32(static_cast<std::int64_t>(value) + zero_point);
}
}  // namespace detail

// The float kernels' clamp for the same activation.
struct FloatActivationRange {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
};

constexpr FloatActivationRange float_activation_range(FusedActivation activation) {
  switch (activation) {
    case FusedActivation::none: return {};
    case FusedActivation::relu: return {0.0f, std::numeric_limits<float>::infinity()};
    case FusedActivation::relu6: return {0.0f, 6.0f};
  }
  return {};
}

constexpr float apply_activation(float value, const FloatActivationRange& range) {
  return value < range.min ? range.min : (value > range.max ? range.max : value);
}

// The longest int8 dot product (FullyConnected depth, conv filter volume) an int32 accumulator
// holds at worst-case values: 65536 * 128 * 255 = 2139095040 < 2^31 - 1, which leaves
// |bias| < 8388607 for the bias. Prepare rejects longer ones.
constexpr std::int32_t kMaxAccumulationDepth = 65536;

// LSTM gates, in the order of every tsq LSTM layout (Keras' order): i, f, c (g), o.
constexpr int kLstmGateCount = 4;
enum class LstmGate : int { input = 0, forget = 1, cell = 2, output = 3 };

enum class Padding : std::uint8_t { valid, same };

// Output size and leading padding along one spatial axis.
struct AxisGeometry {
  std::int32_t output_size = 0;
  std::int32_t pad_before = 0;  // the extra padding of an odd total goes after (bottom/right)
};

// Spec 3.3 (TFLite's ComputePaddingHeightWidth): effective kernel (k - 1) * d + 1;
// SAME: out = ceil(n / s); VALID: out = (n - k_eff) / s + 1; pad_before = floor(total / 2).
// Errors when the stride or dilation is < 1, or VALID leaves no output.
inline Result<AxisGeometry> compute_axis_geometry(std::int32_t input_size, std::int32_t kernel_size,
                                                  std::int32_t stride, std::int32_t dilation,
                                                  Padding padding) {
  if (input_size < 1 || kernel_size < 1) {
    return Status::error(ErrorCode::shape_mismatch, "input and kernel sizes must be >= 1");
  }
  if (stride < 1 || dilation < 1) {
    return Status::error(ErrorCode::invalid_argument, "stride and dilation must be >= 1");
  }
  const std::int64_t effective_kernel = static_cast<std::int64_t>(kernel_size - 1) * dilation + 1;
  std::int64_t output_size = 0;
  if (padding == Padding::same) {
    output_size = (static_cast<std::int64_t>(input_size) + stride - 1) / stride;
  } else {
    if (effective_kernel > input_size) {
      return Status::error(ErrorCode::shape_mismatch, "VALID padding: kernel extent ")
          .append(effective_kernel)
          .append(" larger than input ")
          .append(input_size);
    }
    output_size = (input_size - effective_kernel) / stride + 1;
  }
  const std::int64_t total = (output_size - 1) * stride + effective_kernel - input_size;
  AxisGeometry geometry;
  geometry.output_size = static_cast<std::int32_t>(output_size);
  geometry.pad_before = static_cast<std::int32_t>(total > 0 ? total / 2 : 0);
  return geometry;
}

}  // namespace tsq
