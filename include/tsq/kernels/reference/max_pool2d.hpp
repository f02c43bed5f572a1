// SPDX-License-Identifier: Apache-2.0
// MaxPool2D, integer reference (spec 3.5): the specification every optimized version must
// reproduce bit for bit.
//
//   input   [batch, height, width, channels]          int8 or int16, (S, Z)
//   output  [batch, out_height, out_width, channels]  same type, same (S, Z)
//
//   y = clamp(max over the window's taps inside the image of x, activation range)
//
// The maximum of stored integers is the stored integer of the real maximum (S > 0), so no
// requantization happens and the result is exact. Windows are placed as in spec 3.3 with
// dilation 1 (see pool2d_common.hpp); taps in the padding are skipped.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// Everything prepare needs to know about a quantized MaxPool2D layer.
struct MaxPool2DQuantization {
  Shape input_shape;  // [batch, height, width, channels]
  QuantParams input;
  QuantParams output;  // must equal `input` (|S_in - S_out| <= 1e-6, same zero point)
  Pool2DWindow window;
  FusedActivation activation = FusedActivation::none;
};

// Integers only: what eval reads.
struct MaxPool2DParams {
  Pool2DGeometry geometry;
  ActivationRange activation;
  DataType type = DataType::int8;
};

// Validates types, quantization (input and output shared, as TFLite-Micro checks), the window
// and the shape, and computes the output geometry and the activation clamp.
inline Result<MaxPool2DParams> prepare_max_pool2d(const MaxPool2DQuantization& q) {
  const Result<detail::PreparedPool2D> prepared =
      detail::prepare_pool2d("MaxPool2D", q.input_shape, q.input, q.output, q.window, q.activation);
  if (!prepared.is_ok()) return prepared.status();
  MaxPool2DParams params;
  params.geometry = prepared->geometry;
  params.activation = prepared->activation;
  params.type = prepared->type;
  return params;
}

namespace detail {

template <typename T>
void max_pool2d(const MaxPool2DParams& params, const TensorView<const T>& input,
                const TensorView<T>& output) {
  const Pool2DGeometry& g = params.geometry;
  const T* in = input.data();
  T* out = output.data();
  for (std::int32_t b = 0; b < g.output.batch; ++b) {
    for (std::int32_t out_y = 0; out_y < g.output.height; ++out_y) {
      for (std::int32_t out_x = 0; out_x < g.output.width; ++out_x) {
        const Pool2DWindowBounds w = pool2d_window_bounds(g, out_y, out_x);
        for (std::int32_t c = 0; c < g.output.channels; ++c) {
          // Start at the type's lowest value, as the reference does; windows are never empty.
          std::int32_t max = type_range(data_type_of_v<T>).min;
          for (std::int32_t y = w.y_begin; y < w.y_end; ++y) {
            for (std::int32_t x = w.x_begin; x < w.x_end; ++x) {
              const std::int32_t value = in[b * input.stride(0) + y * input.stride(1) +
                                            x * input.stride(2) + c * input.stride(3)];
              if (value > max) max = value;
            }
          }
          out[b * output.stride(0) + out_y * output.stride(1) + out_x * output.stride(2) +
              c * output.stride(3)] =
              static_cast<T>(clamp(max, params.activation.min, params.activation.max));
        }
      }
    }
  }
}

}  // namespace detail

namespace reference {

// int8 -> int8. Views may have any strides; shapes must be the prepared ones.
inline Status max_pool2d(const MaxPool2DParams& params, TensorView<const std::int8_t> input,
                         TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(
      detail::check_pool2d_views("MaxPool2D", params.geometry, params.type, input, output));
  detail::max_pool2d(params, input, output);
  return Status::ok();
}

// int16 -> int16 (any zero point; the kernel never looks at it).
inline Status max_pool2d(const MaxPool2DParams& params, TensorView<const std::int16_t> input,
                         TensorView<std::int16_t> output) {
  TSQ_RETURN_IF_ERROR(
      detail::check_pool2d_views("MaxPool2D", params.geometry, params.type, input, output));
  detail::max_pool2d(params, input, output);
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
