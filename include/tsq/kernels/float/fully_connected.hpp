// SPDX-License-Identifier: Apache-2.0
// FullyConnected in float32: the ground truth the integer and hybrid kernels are measured against.
//   y[b, u] = activation(bias[u] + sum_d W[u, d] * x[b, d]),  W is [units, input_depth].
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

namespace detail {
inline Status check_dense_shapes(const char* op, const Shape& input, const Shape& weights,
                                 std::size_t bias_size, const Shape& output) {
  if (weights.rank() != 2) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(": weights must be [units, input_depth]");
  }
  const std::int32_t units = weights[0];
  const std::int32_t depth = weights[1];
  if (input.rank() < 1 || input[input.rank() - 1] != depth) {
    Status status = Status::error(ErrorCode::shape_mismatch, op);
    status.append(": input ");
    append_shape(status, input).append(" does not end in input_depth ").append(depth);
    return status;
  }
  Shape expected = input;
  expected[input.rank() - 1] = units;
  if (output != expected) return shape_mismatch_error("FullyConnected output", output, expected);
  if (bias_size != 0 && bias_size != static_cast<std::size_t>(units)) {
    return Status::error(ErrorCode::shape_mismatch, op)
        .append(": bias has ")
        .append(bias_size)
        .append(" values, expected ")
        .append(units);
  }
  return Status::ok();
}
}  // namespace detail

inline Status fully_connected(FusedActivation activation, TensorView<const float> input,
                              TensorView<const float> weights, Span<const float> bias,
                              TensorView<float> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable("FullyConnected", input, weights, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("FullyConnected", bias));
  TSQ_RETURN_IF_ERROR(detail::check_dense_shapes("FullyConnected", input.shape(), weights.shape(),
                                                 bias.size(), output.shape()));
  if (!input.is_contiguous() || !weights.is_contiguous() || !output.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, "FullyConnected needs contiguous tensors");
  }
  const std::int32_t units = weights.dim(0);
  const std::int32_t depth = weights.dim(1);
  const auto batches = static_cast<std::int32_t>(input.element_count() /
                                                 static_cast<std::size_t>(depth > 0 ? depth : 1));
  const FloatActivationRange range = float_activation_range(activation);
  for (std::int32_t b = 0; b < batches; ++b) {
    const float* row = input.data() + static_cast<std::ptrdiff_t>(b) * depth;
    for (std::int32_t u = 0; u < units; ++u) {
      const float* filter = weights.data() + static_cast<std::ptrdiff_t>(u) * depth;
      // A double accumulator keeps long dot products (depth 8192 and more) at float32's
      // own precision: this kernel is the ground truth the integer kernels are measured against.
      double sum = bias.empty() ? 0.0 : static_cast<double>(bias[static_cast<std::size_t>(u)]);
      for (std::int32_t d = 0; d < depth; ++d)
        sum += static_cast<double>(filter[d]) * static_cast<double>(row[d]);
      output.data()[static_cast<std::ptrdiff_t>(b) * units + u] =
          apply_activation(static_cast<float>(sum), range);
    }
  }
  return Status::ok();
}

}  // namespace floating
}  // namespace tsq
