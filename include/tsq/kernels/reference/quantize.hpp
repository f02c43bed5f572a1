// SPDX-License-Identifier: Apache-2.0
// QUANTIZE float32 -> int8 / uint8 / int16: the model's float input edge (spec 1.3).
//
//   q = clamp(round(r / S) + Z, q_min, q_max)
//   (division in float32, rounding half away from zero)
//
// This is the one reference kernel that computes in float at eval: it sits where a model with
// float32 inputs enters the integer path (FIQ with float I/O), so the caller has float data
// anyway. Everything after it is integer-only. The arithmetic is tsq::quantize_value
// (quant/quantize.hpp), i.e. TFLite's AffineQuantize; a float-free target would instead feed
// int8/uint8 data (see requantize.hpp). NaN inputs are reported (non_finite_value) before
// anything is written; infinities saturate.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/quant/quantize.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

struct QuantizeQuantization {
  Shape shape;  // input and output
  QuantParams output;
};

// The output's quantization, validated. The one params struct that holds a float (the scale):
// QUANTIZE is a float-edge kernel.
struct QuantizeParams {
  Shape shape;
  QuantParams output;
  PreparedMark prepared;  // set by its prepare
};

inline Result<QuantizeParams> prepare_quantize(const QuantizeQuantization& q) {
  TSQ_RETURN_IF_ERROR(detail::check_no_negative_dimension("Quantize", q.shape));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  if (q.output.type != DataType::int8 && q.output.type != DataType::uint8 &&
      q.output.type != DataType::int16) {
    return Status::error(ErrorCode::unsupported_type, "Quantize writes int8, uint8 or int16, not ")
        .append(data_type_name(q.output.type));
  }
  QuantizeParams params;
  params.shape = q.shape;
  params.output = q.output;
  detail::mark_prepared(params);
  return params;
}

namespace detail {

template <typename T>
Status quantize_kernel(const QuantizeParams& params, const TensorView<const float>& input,
                       const TensorView<T>& output) {
  TSQ_RETURN_IF_ERROR(check_prepared("Quantize", params));
  TSQ_RETURN_IF_ERROR(check_prepared_type("Quantize", params.output.type, data_type_of_v<T>));
  TSQ_RETURN_IF_ERROR(check_elementwise_views("Quantize", params.shape, input, output));
  const std::size_t count = input.element_count();
  for (std::size_t i = 0; i < count; ++i) {
    if (std::isnan(input.data()[i])) {
      return Status::error(ErrorCode::non_finite_value, "Quantize: NaN at index ").append(i);
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    output.data()[i] = tsq::quantize<T>(input.data()[i], params.output);
  }
  return Status::ok();
}

}  // namespace detail

namespace reference {

inline Status quantize(const QuantizeParams& params, TensorView<const float> input,
                       TensorView<std::int8_t> output) {
  return tsq::detail::quantize_kernel(params, input, output);
}

inline Status quantize(const QuantizeParams& params, TensorView<const float> input,
                       TensorView<std::uint8_t> output) {
  return tsq::detail::quantize_kernel(params, input, output);
}

inline Status quantize(const QuantizeParams& params, TensorView<const float> input,
                       TensorView<std::int16_t> output) {
  return tsq::detail::quantize_kernel(params, input, output);
}

}  // namespace reference
}  // namespace tsq
