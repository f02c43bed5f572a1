// SPDX-License-Identifier: Apache-2.0
// What MaxPool2D and AvgPool2D share (spec 3.5, 3.6): the window options, the output geometry
// (spec 3.3 with dilation 1), the checks both ops make in prepare and eval, and the window loops
// of their integer and float kernels (the ops differ only in how a window is reduced).
//
// A window is placed at (oy * stride_height - pad_top, ox * stride_width - pad_left) and clipped
// to the image: taps in the padding are skipped, never read as zeros.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// The window of a 2-D pooling layer over NHWC data (Keras pool_size, strides, padding).
struct Pool2DWindow {
  std::int32_t filter_height = 1;
  std::int32_t filter_width = 1;
  std::int32_t stride_height = 1;
  std::int32_t stride_width = 1;
  Padding padding = Padding::valid;
};

// Where the windows sit: what eval reads.
struct Pool2DGeometry {
  NhwcDims input;
  NhwcDims output;
  std::int32_t filter_height = 0;
  std::int32_t filter_width = 0;
  std::int32_t stride_height = 0;
  std::int32_t stride_width = 0;
  std::int32_t pad_top = 0;
  std::int32_t pad_left = 0;
};

namespace detail {

// True when each of the `output_size` windows along one axis holds at least one input position.
// Window o covers [o * stride - pad_before, o * stride - pad_before + filter - 1]; the windows
// move monotonically, so the first one must end inside the input and the last one start inside
// it. With TFLite's geometry (spec 3.3) this always holds: total padding < filter, and
// (output_size - 1) * stride < input_size. Prepare still checks it, since an empty window would
// divide by zero in AvgPool2D.
constexpr bool every_window_overlaps_input(std::int32_t input_size, std::int32_t filter,
                                           std::int32_t stride, std::int32_t pad_before,
                                           std::int32_t output_size) {
  if (output_size < 1) return false;
  const std::int64_t first_end = static_cast<std::int64_t>(filter) - 1 - pad_before;
  const std::int64_t last_start = static_cast<std::int64_t>(output_size - 1) * stride - pad_before;
  return first_end >= 0 && last_start <= static_cast<std::int64_t>(input_size) - 1;
}

inline Result<AxisGeometry> pool2d_axis(const char* op, const char* axis, std::int32_t input_size,
                                        std::int32_t filter, std::int32_t stride, Padding padding) {
  const Result<AxisGeometry> geometry =
      compute_named_axis_geometry(op, axis, input_size, filter, stride, /*dilation=*/1, padding);
  if (!geometry.is_ok()) return geometry.status();
  if (!every_window_overlaps_input(input_size, filter, stride, geometry->pad_before,
                                   geometry->output_size)) {
    return axis_error(ErrorCode::invalid_argument, op, axis)
        .append("a window lies entirely in the padding");
  }
  return geometry;
}

}  // namespace detail

// Output size and padding of a pooling layer on an NHWC input (spec 3.3, dilation 1).
// Errors: rank != 4 or a dimension < 1 (shape_mismatch), filter or stride < 1 (invalid_argument),
// VALID with a filter larger than the input (shape_mismatch).
inline Result<Pool2DGeometry> compute_pool2d_geometry(const Shape& input_shape,
                                                      const Pool2DWindow& window,
                                                      const char* op = "Pool2D") {
  if (input_shape.rank() != 4) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(": input must be NHWC (rank 4), got ");
    return append_shape(status, input_shape);
  }
  for (int axis = 0; axis < 4; ++axis) {
    if (input_shape[axis] < 1) {
      Status status = Status::error(ErrorCode::shape_mismatch, op);
      status.append(": every input dimension must be >= 1, got ");
      return append_shape(status, input_shape);
    }
  }
  if (window.filter_height < 1 || window.filter_width < 1) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(": filter size ")
        .append(window.filter_height)
        .append("x")
        .append(window.filter_width)
        .append(" must be >= 1 on both axes");
  }
  if (window.stride_height < 1 || window.stride_width < 1) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(": stride ")
        .append(window.stride_height)
        .append("x")
        .append(window.stride_width)
        .append(" must be >= 1 on both axes");
  }
  const Result<AxisGeometry> rows = detail::pool2d_axis(
      op, "height", input_shape[1], window.filter_height, window.stride_height, window.padding);
  if (!rows.is_ok()) return rows.status();
  const Result<AxisGeometry> columns = detail::pool2d_axis(
      op, "width", input_shape[2], window.filter_width, window.stride_width, window.padding);
  if (!columns.is_ok()) return columns.status();
  Pool2DGeometry geometry;
  geometry.input = NhwcDims{input_shape[0], input_shape[1], input_shape[2], input_shape[3]};
  geometry.output =
      NhwcDims{input_shape[0], rows->output_size, columns->output_size, input_shape[3]};
  geometry.filter_height = window.filter_height;
  geometry.filter_width = window.filter_width;
  geometry.stride_height = window.stride_height;
  geometry.stride_width = window.stride_width;
  geometry.pad_top = rows->pad_before;
  geometry.pad_left = columns->pad_before;
  return geometry;
}

// The output shape [batch, out_height, out_width, channels] of a pooling layer.
inline Result<Shape> pool2d_output_shape(const Shape& input_shape, const Pool2DWindow& window) {
  const Result<Pool2DGeometry> geometry = compute_pool2d_geometry(input_shape, window);
  if (!geometry.is_ok()) return geometry.status();
  return nhwc_shape(geometry->output);
}

namespace detail {

// The part of prepare both pooling ops share.
struct PreparedPool2D {
  Pool2DGeometry geometry;
  ActivationRange activation;
  DataType type = DataType::int8;
};

// Input and output must be int8 or int16 of the same type and share the quantization, as
// TFLite-Micro checks it: |S_in - S_out| <= 1e-6 (an absolute tolerance) and Z_in == Z_out.
// The stored integers pass through unchanged, so the output really has the input's parameters.
inline Result<PreparedPool2D> prepare_pool2d(const char* op, const Shape& input_shape,
                                             const QuantParams& input, const QuantParams& output,
                                             const Pool2DWindow& window,
                                             FusedActivation activation) {
  TSQ_RETURN_IF_ERROR(validate(input));
  TSQ_RETURN_IF_ERROR(validate(output));
  if (input.type != output.type ||
      (input.type != DataType::int8 && input.type != DataType::int16)) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" supports int8 -> int8 and int16 -> int16, got ")
        .append(data_type_name(input.type))
        .append(" -> ")
        .append(data_type_name(output.type));
  }
  // The difference of two float32 scales, taken exactly (in double).
  const double scale_difference =
      static_cast<double>(input.scale) - static_cast<double>(output.scale);
  if (scale_difference > 1e-6 || scale_difference < -1e-6) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(": input and output scales must be equal (|S_in - S_out| <= 1e-6)");
  }
  if (input.zero_point != output.zero_point) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(": input zero point ")
        .append(input.zero_point)
        .append(" != output zero point ")
        .append(output.zero_point);
  }
  const Result<Pool2DGeometry> geometry = compute_pool2d_geometry(input_shape, window, op);
  if (!geometry.is_ok()) return geometry.status();
  const Result<ActivationRange> range = quantized_activation_range(activation, output);
  if (!range.is_ok()) return range.status();
  PreparedPool2D prepared;
  prepared.geometry = geometry.value();
  prepared.activation = range.value();
  prepared.type = input.type;
  return prepared;
}

// Eval-time checks: element type as prepared, input and output shapes as prepared. Any strides.
template <typename T>
Status check_pool2d_views(const char* op, const Pool2DGeometry& geometry, DataType prepared_type,
                          const TensorView<const T>& input, const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(check_views_usable(op, input, output));
  if (data_type_of_v<T> != prepared_type) {
    return Status::error(ErrorCode::unsupported_type, op)
        .append(" was prepared for ")
        .append(data_type_name(prepared_type))
        .append(", called with ")
        .append(data_type_name(data_type_of_v<T>));
  }
  const bool input_matches = input.shape() == nhwc_shape(geometry.input);
  if (!input_matches || output.shape() != nhwc_shape(geometry.output)) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(input_matches ? " output has shape " : " input has shape ");
    append_shape(status, input_matches ? output.shape() : input.shape()).append(", expected ");
    return append_shape(status, nhwc_shape(input_matches ? geometry.output : geometry.input));
  }
  return Status::ok();
}

// The taps of one window, clipped to the image: rows [y_begin, y_end), columns [x_begin, x_end).
struct Pool2DWindowBounds {
  std::int32_t y_begin = 0;
  std::int32_t y_end = 0;
  std::int32_t x_begin = 0;
  std::int32_t x_end = 0;
};

constexpr Pool2DWindowBounds pool2d_window_bounds(const Pool2DGeometry& g, std::int32_t out_y,
                                                  std::int32_t out_x) {
  // (out - 1) * stride < input size, so the origins fit int32; origin + filter may not (a SAME
  // filter far larger than the input), hence the 64-bit ends.
  const std::int32_t y_origin = out_y * g.stride_height - g.pad_top;
  const std::int32_t x_origin = out_x * g.stride_width - g.pad_left;
  const std::int64_t y_end = static_cast<std::int64_t>(y_origin) + g.filter_height;
  const std::int64_t x_end = static_cast<std::int64_t>(x_origin) + g.filter_width;
  Pool2DWindowBounds bounds;
  bounds.y_begin = y_origin < 0 ? 0 : y_origin;
  bounds.y_end = y_end < g.input.height ? static_cast<std::int32_t>(y_end) : g.input.height;
  bounds.x_begin = x_origin < 0 ? 0 : x_origin;
  bounds.x_end = x_end < g.input.width ? static_cast<std::int32_t>(x_end) : g.input.width;
  return bounds;
}

// The loops of every pooling kernel, integer and float: each output element is
// finish(reducer.result(tap_count)) of a fresh `Reducer` fed, row by row, the taps of its window
// inside the image. Views may have any strides.
template <typename Reducer, typename Input, typename Output, typename Finish>
void pool2d_reduce_windows(const Pool2DGeometry& g, const TensorView<const Input>& input,
                           const TensorView<Output>& output, Finish finish) {
  const Input* in = input.data();
  Output* out = output.data();
  for (std::int32_t b = 0; b < g.output.batch; ++b) {
    for (std::int32_t out_y = 0; out_y < g.output.height; ++out_y) {
      for (std::int32_t out_x = 0; out_x < g.output.width; ++out_x) {
        const Pool2DWindowBounds w = pool2d_window_bounds(g, out_y, out_x);
        // >= 1: prepare rejects geometries with a window entirely in the padding.
        const std::int32_t tap_count = (w.y_end - w.y_begin) * (w.x_end - w.x_begin);
        for (std::int32_t c = 0; c < g.output.channels; ++c) {
          Reducer reducer;
          for (std::int32_t y = w.y_begin; y < w.y_end; ++y) {
            for (std::int32_t x = w.x_begin; x < w.x_end; ++x) {
              reducer.add(in[b * input.stride(0) + y * input.stride(1) + x * input.stride(2) +
                             c * input.stride(3)]);
            }
          }
          out[b * output.stride(0) + out_y * output.stride(1) + out_x * output.stride(2) +
              c * output.stride(3)] = finish(reducer.result(tap_count));
        }
      }
    }
  }
}

// An integer pooling eval: checks the views against the prepared geometry and type, then
// reduces every window with `Reducer` and clamps to the activation range.
template <typename Reducer, typename T>
Status integer_pool2d(const char* op, const Pool2DGeometry& geometry, DataType prepared_type,
                      const ActivationRange& activation, const TensorView<const T>& input,
                      const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(check_pool2d_views(op, geometry, prepared_type, input, output));
  pool2d_reduce_windows<Reducer>(geometry, input, output, [&](std::int32_t value) {
    return static_cast<T>(clamp(value, activation.min, activation.max));
  });
  return Status::ok();
}

// A float pooling kernel: computes the geometry from the window and the input shape, checks the
// output shape, then reduces every window with `Reducer` and applies the activation.
template <typename Reducer>
Status float_pool2d(const char* op, const Pool2DWindow& window, FusedActivation activation,
                    const TensorView<const float>& input, const TensorView<float>& output) {
  TSQ_RETURN_IF_ERROR(check_views_usable(op, input, output));
  const Result<Pool2DGeometry> geometry = compute_pool2d_geometry(input.shape(), window, op);
  if (!geometry.is_ok()) return geometry.status();
  const Shape expected_output = nhwc_shape(geometry->output);
  if (output.shape() != expected_output) {
    return view_shape_error(op, "output", output.shape(), expected_output);
  }
  const FloatActivationRange range = float_activation_range(activation);
  pool2d_reduce_windows<Reducer>(geometry.value(), input, output,
                                 [&](float value) { return apply_activation(value, range); });
  return Status::ok();
}

}  // namespace detail
}  // namespace tsq
