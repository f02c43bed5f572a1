// SPDX-License-Identifier: Apache-2.0
// DEQUANTIZE int8 / uint8 / int16 -> float32: the model's float output edge (spec 1.3).
//
//   r = S * (q - Z)   in float32 (one correctly rounded product, as TFLite's Dequantize)
//
// The integer path ends here for a model with float32 outputs (FIQ with float I/O); the result
// is float by definition. On an FPU-less target this runs in soft float, once per output.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/quant/quantize.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

struct DequantizeQuantization {
  Shape shape;  // input and output
  QuantParams input;
};

// The input's quantization, validated (float scale: DEQUANTIZE is a float-edge kernel).
struct DequantizeParams {
  Shape shape;
  QuantParams input;
  PreparedMark prepared;  // set by its prepare
};

inline Result<DequantizeParams> prepare_dequantize(const DequantizeQuantization& q) {
  TSQ_RETURN_IF_ERROR(detail::check_no_negative_dimension("Dequantize", q.shape));
  TSQ_RETURN_IF_ERROR(validate(q.input));
  if (q.input.type != DataType::int8 && q.input.type != DataType::uint8 &&
      q.input.type != DataType::int16) {
    return Status::error(ErrorCode::unsupported_type, "Dequantize reads int8, uint8 or int16, not ")
        .append(data_type_name(q.input.type));
  }
  DequantizeParams params;
  params.shape = q.shape;
  params.input = q.input;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

template <typename T>
Status dequantize_kernel(const DequantizeParams& params, const TensorView<const T>& input,
                         const TensorView<float>& output) {
  TSQ_RETURN_IF_ERROR(check_prepared("Dequantize", params));
  TSQ_RETURN_IF_ERROR(check_prepared_type("Dequantize", params.input.type, data_type_of_v<T>));
  TSQ_RETURN_IF_ERROR(check_elementwise_views("Dequantize", params.shape, input, output));
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) {
    output.data()[i] = tsq::dequantize(input.data()[i], params.input);
  }
  return Status::ok();
}

}  // namespace detail

namespace reference {

inline Status dequantize(const DequantizeParams& params, TensorView<const std::int8_t> input,
                         TensorView<float> output) {
  return tsq::detail::dequantize_kernel(params, input, output);
}

inline Status dequantize(const DequantizeParams& params, TensorView<const std::uint8_t> input,
                         TensorView<float> output) {
  return tsq::detail::dequantize_kernel(params, input, output);
}

inline Status dequantize(const DequantizeParams& params, TensorView<const std::int16_t> input,
                         TensorView<float> output) {
  return tsq::detail::dequantize_kernel(params, input, output);
}

}  // namespace reference
}  // namespace tsq
