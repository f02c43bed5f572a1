// SPDX-License-Identifier: Apache-2.0
// FullyConnected, dynamic-range ("DRQ", hybrid): int8 per-channel weights, float input and output.
// Each input row is quantized on the fly to asymmetric int8 from its own range, the dot products
// run in int32, and the accumulators are scaled back to float:
//   q = round(x / S_row) + Z_row   (S_row, Z_row from min/max of the row, 0 included)
//   y[u] = S_row * S_w[u] * (sum_d W[u, d] q[d] - Z_row * sum_d W[u, d]) + bias[u]
// Needs an FPU at run time; the weights stay 4x smaller than float.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace hybrid {

// Asymmetric int8 parameters of one row, chosen as TFLite's hybrid kernels do (range widened to
// 0, zero point nudged so that 0.0 is exact). An all-zero row gets scale 0: its products vanish.
struct RowQuantization {
  float scale = 0.0f;
  std::int32_t zero_point = 0;
};

inline RowQuantization quantize_row(const float* row, std::int32_t length, std::int8_t* quantized) {
  float lo = 0.0f, hi = 0.0f;
  for (std::int32_t d = 0; d < length; ++d) {
    lo = std::min(lo, row[d]);
    hi = std::max(hi, row[d]);
  }
  RowQuantization q;
  if (lo == hi) {  // all zero
    std::fill(quantized, quantized + length, std::int8_t{0});
    return q;
  }
  const double scale = (static_cast<double>(hi) - lo) / 255.0;
  const double zero_point_from_min = -128.0 - lo / scale;
  const double zero_point_from_max = 127.0 - hi / scale;
  const double zero_point = (128.0 + std::fabs(lo / scale)) < (127.0 + std::fabs(hi / scale))
                                ? zero_point_from_min
                                : zero_point_from_max;
  q.zero_point =
      static_cast<std::int32_t>(std::round(std::min(std::max(zero_point, -128.0), 127.0)));
  q.scale = static_cast<float>(scale);
  const float inverse = 1.0f / q.scale;
  for (std::int32_t d = 0; d < length; ++d) {
    const float value = std::round(row[d] * inverse) + static_cast<float>(q.zero_point);
    quantized[d] = static_cast<std::int8_t>(std::min(std::max(value, -128.0f), 127.0f));
  }
  return q;
}

struct FullyConnectedParams {
  std::int32_t units = 0;
  std::int32_t input_depth = 0;
  Span<const float> weight_scales;           // one per unit, or one
  Span<const std::int32_t> weight_row_sums;  // sum_d W[u, d], to fold the row zero point
  FusedActivation activation = FusedActivation::none;
  PreparedMark prepared;  // set by prepare_fully_connected
};

// Scratch (bytes) that eval needs: one quantized input row.
constexpr std::size_t fully_connected_scratch_size(std::int32_t input_depth) {
  return input_depth > 0 ? static_cast<std::size_t>(input_depth) : 0;
}

// Validates the weights and their scales and precomputes the row sums into `row_sum_storage`
// (one per unit), which must outlive the params.
inline Result<FullyConnectedParams> prepare_fully_connected(TensorView<const std::int8_t> weights,
                                                            Span<const float> weight_scales,
                                                            FusedActivation activation,
                                                            Span<std::int32_t> row_sum_storage) {
  TSQ_RETURN_IF_ERROR(detail::check_views_usable("hybrid FullyConnected", weights));
  TSQ_RETURN_IF_ERROR(detail::check_spans_usable("hybrid FullyConnected", weight_scales));
  if (weights.rank() != 2 || !weights.is_contiguous()) {
    return Status::error(ErrorCode::shape_mismatch,
                         "hybrid FullyConnected weights must be a dense [units, input_depth]");
  }
  const std::int32_t units = weights.dim(0);
  const std::int32_t depth = weights.dim(1);
  if (depth > kMaxAccumulationDepth) {
    return Status::error(ErrorCode::invalid_argument,
                         "input_depth exceeds the int32 accumulator limit");
  }
  if (weight_scales.size() != 1 && weight_scales.size() != static_cast<std::size_t>(units)) {
    return Status::error(ErrorCode::shape_mismatch, "hybrid FullyConnected needs 1 or ")
        .append(units)
        .append(" weight scales, got ")
        .append(weight_scales.size());
  }
  for (std::size_t c = 0; c < weight_scales.size(); ++c) {
    if (!validate_scale(weight_scales[c]).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, "weight scale ")
          .append(c)
          .append(" is not finite and > 0");
    }
  }
  if (row_sum_storage.size() < static_cast<std::size_t>(units)) {
    return Status::error(ErrorCode::buffer_too_small, "row-sum storage holds ")
        .append(row_sum_storage.size())
        .append(", needs ")
        .append(units);
  }
  for (std::int32_t u = 0; u < units; ++u) {
    std::int32_t sum = 0;
    for (std::int32_t d = 0; d < depth; ++d) sum += weights(u, d);
    row_sum_storage[static_cast<std::size_t>(u)] = sum;
  }
  FullyConnectedParams params;
  params.units = units;
  params.input_depth = depth;
  params.weight_scales = weight_scales;
  params.weight_row_sums =
      Span<const std::int32_t>(row_sum_storage.data(), static_cast<std::size_t>(units));
  params.activation = activation;
  detail::mark_prepared(params);
  return params;
}

inline Status fully_connected(const FullyConnectedParams& params, TensorView<const float> input,
                              TensorView<const std::int8_t> weights, Span<const float> bias,
                              TensorView<float> output, Span<std::int8_t> scratch) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("hybrid FullyConnected", params));
  TSQ_RETURN_IF_ERROR(
      tsq::detail::check_views_usable("hybrid FullyConnected", input, weights, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("hybrid FullyConnected", bias, scratch));
  TSQ_RETURN_IF_ERROR(floating::detail::check_dense_shapes(
      "hybrid FullyConnected", input.shape(), weights.shape(), bias.size(), output.shape()));
  if (weights.dim(0) != params.units || weights.dim(1) != params.input_depth) {
    return shape_mismatch_error("hybrid FullyConnected weights", weights.shape(),
                                Shape{params.units, params.input_depth});
  }
  if (scratch.size() < fully_connected_scratch_size(params.input_depth)) {
    return Status::error(ErrorCode::buffer_too_small, "hybrid FullyConnected scratch holds ")
        .append(scratch.size())
        .append(" bytes, needs ")
        .append(fully_connected_scratch_size(params.input_depth));
  }
  if (!input.is_contiguous() || !weights.is_contiguous() || !output.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument,
                         "hybrid FullyConnected needs contiguous tensors");
  }
  const std::int32_t depth = params.input_depth;
  const auto batches = static_cast<std::int32_t>(input.element_count() /
                                                 static_cast<std::size_t>(depth > 0 ? depth : 1));
  const bool per_channel = params.weight_scales.size() > 1;
  const FloatActivationRange range = float_activation_range(params.activation);
  std::int8_t* quantized = scratch.data();
  for (std::int32_t b = 0; b < batches; ++b) {
    const RowQuantization row =
        quantize_row(input.data() + static_cast<std::ptrdiff_t>(b) * depth, depth, quantized);
    for (std::int32_t u = 0; u < params.units; ++u) {
      const std::int8_t* filter = weights.data() + static_cast<std::ptrdiff_t>(u) * depth;
      std::int32_t accumulator = 0;
      for (std::int32_t d = 0; d < depth; ++d)
        accumulator += static_cast<std::int32_t>(filter[d]) * quantized[d];
      // Folding the zero point can leave int32 for long rows: do it in 64 bits.
      const std::int64_t folded =
          accumulator - static_cast<std::int64_t>(row.zero_point) *
                            params.weight_row_sums[static_cast<std::size_t>(u)];
      const float weight_scale =
          params.weight_scales[per_channel ? static_cast<std::size_t>(u) : 0];
      float value = static_cast<float>(folded) * (row.scale * weight_scale);
      if (!bias.empty()) value += bias[static_cast<std::size_t>(u)];
      output.data()[static_cast<std::ptrdiff_t>(b) * params.units + u] =
          apply_activation(value, range);
    }
  }
  return Status::ok();
}

}  // namespace hybrid
}  // namespace tsq
