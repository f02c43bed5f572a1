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
  PreparedMark prepared;  // set by its prepare
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
  detail::mark_prepared(params);
  return params;
}

namespace detail {

// One window's maximum. It starts at the type's lowest value, as the reference does; windows are
// never empty.
template <typename T>
struct MaxPool2DAccumulator {
  std::int32_t max = type_range(data_type_of_v<T>).min;
  void add(std::int32_t value) {
    if (value > max) max = value;
  }
  std::int32_t result(std::int32_t /*count*/) const { return max; }
};

}  // namespace detail

namespace reference {

// int8 -> int8. Views may have any strides; shapes must be the prepared ones.
inline Status max_pool2d(const MaxPool2DParams& params, TensorView<const std::int8_t> input,
                         TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(detail::check_prepared("MaxPool2D", params));
  return detail::integer_pool2d<detail::MaxPool2DAccumulator<std::int8_t>>(
      "MaxPool2D", params.geometry, params.type, params.activation, input, output);
}

// int16 -> int16 (any zero point; the kernel never looks at it).
inline Status max_pool2d(const MaxPool2DParams& params, TensorView<const std::int16_t> input,
                         TensorView<std::int16_t> output) {
  TSQ_RETURN_IF_ERROR(detail::check_prepared("MaxPool2D", params));
  return detail::integer_pool2d<detail::MaxPool2DAccumulator<std::int16_t>>(
      "MaxPool2D", params.geometry, params.type, params.activation, input, output);
}

}  // namespace reference
}  // namespace tsq
