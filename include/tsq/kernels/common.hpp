// SPDX-License-Identifier: Apache-2.0
// Vocabulary shared by the kernels: fused activations and their integer clamps (spec 3.1),
// padding and output sizes of windowed ops (spec 3.3); in `detail`, what several kernels share:
// the views' checks and their messages, the int8 requantization tail, and the output half of
// one Bidirectional LSTM direction.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

namespace detail {
struct PreparedMarkAccess;
}  // namespace detail

// Carried by every kernel's params and set only by that kernel's prepare: eval refuses params
// that were default-constructed or filled in by hand (their multipliers, clamps and folded
// sums would be unchecked), with ErrorCode::not_prepared.
class PreparedMark {
 public:
  constexpr bool is_set() const { return set_; }

 private:
  friend struct detail::PreparedMarkAccess;
  bool set_ = false;
};

namespace detail {

struct PreparedMarkAccess {
  static constexpr void set(PreparedMark& mark) { mark.set_ = true; }
};

// For prepare functions (and generated firmware code that holds precomputed params).
template <typename Params>
constexpr void mark_prepared(Params& params) {
  PreparedMarkAccess::set(params.prepared);
}

// Eval: "<op> params were not prepared" unless `params` came from the op's prepare.
template <typename Params>
Status check_prepared(const char* op, const Params& params) {
  if (!params.prepared.is_set()) {
    return Status::error(ErrorCode::not_prepared, op)
        .append(" params were not produced by its prepare function");
  }
  return Status::ok();
}

}  // namespace detail

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

// "<op> <what> has shape [..], expected [..]" (shape_mismatch), for the views a kernel checks.
inline Status view_shape_error(const char* op, const char* what, const Shape& got,
                               const Shape& expected) {
  Status status = Status::error(ErrorCode::shape_mismatch, op);
  status.append(" ").append(what).append(" has shape ");
  append_shape(status, got).append(", expected ");
  append_shape(status, expected);
  return status;
}

// The checks the elementwise kernels (Logistic, Tanh, ReLU, Softmax, Quantize, ...) share; the
// messages name the op.

// Prepare: "<op> shape has a negative dimension" (shape_mismatch).
inline Status check_no_negative_dimension(const char* op, const Shape& shape) {
  for (int axis = 0; axis < shape.rank(); ++axis) {
    if (shape[axis] < 0) {
      return Status::error(ErrorCode::shape_mismatch, op).append(" shape has a negative dimension");
    }
  }
  return Status::ok();
}

// Eval: the views' element type must be the prepared one (unsupported_type).
inline Status check_prepared_type(const char* op, DataType prepared, DataType called) {
  if (prepared != called) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" was prepared for ")
        .append(data_type_name(prepared));
  }
  return Status::ok();
}

// The same for an op whose input and output types may differ.
inline Status check_prepared_types(const char* op, DataType prepared_input,
                                   DataType prepared_output, DataType called_input,
                                   DataType called_output) {
  if (prepared_input != called_input || prepared_output != called_output) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" was prepared for ")
        .append(data_type_name(prepared_input))
        .append(" -> ")
        .append(data_type_name(prepared_output));
  }
  return Status::ok();
}

// Eval: "<op> needs contiguous tensors" (invalid_argument) unless every view is contiguous.
template <typename... Views>
Status check_contiguous(const char* op, const Views&... views) {
  if (!(views.is_contiguous() && ...)) {
    return Status::error(ErrorCode::invalid_argument, op).append(" needs contiguous tensors");
  }
  return Status::ok();
}

// Eval of an elementwise integer kernel: input and output both have the prepared shape
// (shape_mismatch) and are contiguous.
template <typename Input, typename Output>
Status check_elementwise_views(const char* op, const Shape& shape,
                               const TensorView<const Input>& input,
                               const TensorView<Output>& output) {
  TSQ_RETURN_IF_ERROR(check_views_usable(op, input, output));
  if (input.shape() != shape || output.shape() != shape) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(": input ");
    append_shape(status, input.shape()).append(" and output ");
    append_shape(status, output.shape()).append(" must have the prepared shape ");
    append_shape(status, shape);
    return status;
  }
  return check_contiguous(op, input, output);
}

// An elementwise float kernel: the output has the input's shape (shape_mismatch), both are
// contiguous.
inline Status check_float_elementwise_views(const char* op, const TensorView<const float>& input,
                                            const TensorView<float>& output) {
  TSQ_RETURN_IF_ERROR(check_views_usable(op, input, output));
  if (output.shape() != input.shape()) {
    return view_shape_error(op, "output", output.shape(), input.shape());
  }
  return check_contiguous(op, input, output);
}

// The requantized value plus the output zero point. The multiply saturates at the int32 limits
// for multipliers > 1; adding in 64 bits keeps that case free of overflow (the clamp follows).
constexpr std::int32_t add_zero_point(std::int32_t value, std::int32_t zero_point) {
  return saturate_to_int32(static_cast<std::int64_t>(value) + zero_point);
}

// The requantization of an int8 kernel's accumulator for output channel `channel` (spec 3.1),
// before the activation clamp: + bias (may be null), * the channel's multiplier (or the only
// one), + Z_out. The products alone cannot overflow (kMaxAccumulationDepth); a bias that pushes
// the sum past int32 wraps as on TFLite-Micro's targets, without C++ undefined behaviour.
template <RoundingMode Mode>
std::int32_t requantize_int8_accumulator(std::int32_t accumulator, const std::int32_t* bias,
                                         Span<const QuantizedMultiplier> multipliers,
                                         std::int32_t channel, std::int32_t output_zero_point) {
  if (bias != nullptr) accumulator = wrapping_add(accumulator, bias[channel]);
  const QuantizedMultiplier m =
      multipliers[multipliers.size() > 1 ? static_cast<std::size_t>(channel) : 0];
  return add_zero_point(multiply_by_quantized_multiplier<Mode>(accumulator, m), output_zero_point);
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

namespace detail {

// Every LSTM form refuses a window without time steps: there is no last step to output, and a
// model that feeds one has lost its input upstream.
inline Status check_lstm_steps(std::int32_t steps) {
  if (steps < 1) {
    return Status::error(ErrorCode::shape_mismatch, "LSTM input has ")
        .append(steps)
        .append(" time steps; a window needs at least 1");
  }
  return Status::ok();
}

// A Bidirectional LSTM (float and integer) writes [forward H | backward H] on the last axis of a
// contiguous output ending in 2 * hidden_size; its states hold both directions, forward first.
template <typename T>
Status check_bidirectional_buffers(const TensorView<T>& output, std::int32_t hidden_size,
                                   std::size_t hidden_state_size, std::size_t cell_state_size) {
  TSQ_RETURN_IF_ERROR(check_views_usable("Bidirectional LSTM", output));
  if (output.rank() < 2 || output.dim(output.rank() - 1) != 2 * hidden_size ||
      !output.is_contiguous()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "Bidirectional LSTM output must end in 2 * hidden");
  }
  if (hidden_state_size % 2 != 0 || cell_state_size != hidden_state_size) {
    return Status::error(ErrorCode::shape_mismatch,
                         "Bidirectional LSTM state must hold both directions");
  }
  return Status::ok();
}

// The half of a [.., 2H] output that one direction (0 forward, 1 backward) writes, as a strided
// view.
template <typename T>
TensorView<T> direction_half(const TensorView<T>& output, std::int32_t hidden_size, int direction) {
  Shape shape = output.shape();
  shape[output.rank() - 1] = hidden_size;
  return TensorView<T>::strided(output.data() + direction * hidden_size, shape, output.strides());
}

}  // namespace detail

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

namespace detail {

// An error about one spatial axis of a windowed op, "<op> <axis>: ", for the caller to complete.
inline Status axis_error(ErrorCode code, const char* op, const char* axis) {
  Status status = Status::error(code, op);
  status.append(" ").append(axis).append(": ");
  return status;
}

// compute_axis_geometry with the op and the axis in front of its error message.
inline Result<AxisGeometry> compute_named_axis_geometry(const char* op, const char* axis,
                                                        std::int32_t input_size,
                                                        std::int32_t kernel_size,
                                                        std::int32_t stride, std::int32_t dilation,
                                                        Padding padding) {
  const Result<AxisGeometry> geometry =
      compute_axis_geometry(input_size, kernel_size, stride, dilation, padding);
  if (!geometry.is_ok()) {
    return axis_error(geometry.status().code(), op, axis).append(geometry.status().message());
  }
  return geometry;
}

}  // namespace detail

}  // namespace tsq
