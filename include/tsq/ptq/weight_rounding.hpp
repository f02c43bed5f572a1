// SPDX-License-Identifier: Apache-2.0
// Data-aware weight rounding (host): GPTQ (Frantar et al. 2022, "GPTQ: accurate post-training
// quantization for generative pre-trained transformers", after OBQ) keeps round-to-nearest's
// integer grid and per-row scales but chooses each weight's rounding so that the layer's output
// on calibration inputs moves least:
//
//   minimise  sum_r || (S_r Q_r - W_r) X^T ||^2     (r: output channel, X: n inputs x depth)
//
// The columns (input features) are quantized in order; each one's rounding error is pushed onto
// the columns not yet quantized along the row of the inverse Hessian H^-1 (H = 2 X^T X / n) of
// that least-squares problem, so later weights compensate it where the inputs are correlated.
// Only the integer values change: scales, kernels and the bit-exact contract stay as they are.
//
// As in GPTQ: damping * mean(diag H) is added to the diagonal (the inverse stays well
// conditioned), and an input that is 0 on every calibration row (H_jj = 0, "dead") takes no part.
// GPTQ zeroes such a weight; here it keeps round-to-nearest, which costs nothing on the
// calibration data and keeps the float layer's behaviour on inputs calibration never saw.
// Uncorrelated inputs of equal variance give a diagonal H: nothing moves and the result is
// round-to-nearest.
//
// Everything is double precision and deterministic. H takes depth^2 doubles however many rows
// are seen (LayerHessian accumulates it), and the algorithm O(depth^3 + rows * depth^2) time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"

namespace tsq {

struct WeightRoundingOptions {
  // Added to H's diagonal as a fraction of its mean (GPTQ's percdamp).
  double damping = 0.01;
  // Minimise the error around the inputs' mean (H from their covariance): for use with bias
  // correction, which removes the mean part (W_q - W) E[x] through the bias.
  bool centered = false;
  // GPTQ's "act-order": quantize the columns by decreasing H_jj (the inputs with the most energy
  // first, while the most columns remain to absorb their error) instead of in index order.
  bool activation_order = false;
};

// What GPTQ needs from the calibration inputs of one layer, accumulated row by row: the sums of
// x x^T (upper triangle) and of x, in double. Memory is depth^2 doubles however many rows.
class LayerHessian {
 public:
  LayerHessian() = default;
  explicit LayerHessian(std::int32_t depth)
      : depth_(depth > 0 ? depth : 0),
        sums_(static_cast<std::size_t>(depth_), 0.0),
        products_(static_cast<std::size_t>(depth_) * static_cast<std::size_t>(depth_), 0.0) {}

  std::int32_t depth() const { return depth_; }
  std::size_t row_count() const { return rows_; }

  // Adds whole rows of depth() values (one input vector each). Nothing is added on error.
  Status add(Span<const float> rows) {
    if (depth_ < 1) {
      return Status::error(ErrorCode::invalid_argument, "layer Hessian has depth 0");
    }
    const auto depth = static_cast<std::size_t>(depth_);
    if (rows.size() % depth != 0) {
      return Status::error(ErrorCode::shape_mismatch, "calibration inputs: ")
          .append(rows.size())
          .append(" values are not whole rows of ")
          .append(depth);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!std::isfinite(rows[i])) {
        return Status::error(ErrorCode::non_finite_value, "calibration input at index ")
            .append(i)
            .append(" is not finite");
      }
    }
    std::vector<double> x(depth);
    for (std::size_t at = 0; at < rows.size(); at += depth) {
      for (std::size_t i = 0; i < depth; ++i) x[i] = rows[at + i];
      for (std::size_t i = 0; i < depth; ++i) {
        if (x[i] == 0.0) continue;  // ReLU features are mostly 0: skip their products
        sums_[i] += x[i];
        double* row = products_.data() + i * depth;
        for (std::size_t j = i; j < depth; ++j) row[j] += x[i] * x[j];
      }
    }
    rows_ += rows.size() / depth;
    return Status::ok();
  }

  // E[x_i x_j] and E[x_i] over the rows seen (0 before any row).
  double second_moment(std::int32_t i, std::int32_t j) const {
    if (rows_ == 0) return 0.0;
    const std::size_t lo = static_cast<std::size_t>(i < j ? i : j);
    const std::size_t hi = static_cast<std::size_t>(i < j ? j : i);
    return products_[lo * static_cast<std::size_t>(depth_) + hi] / static_cast<double>(rows_);
  }
  double mean(std::int32_t i) const {
    return rows_ == 0 ? 0.0 : sums_[static_cast<std::size_t>(i)] / static_cast<double>(rows_);
  }
  std::vector<double> means() const {
    std::vector<double> m(static_cast<std::size_t>(depth_));
    for (std::int32_t i = 0; i < depth_; ++i) m[static_cast<std::size_t>(i)] = mean(i);
    return m;
  }

 private:
  std::int32_t depth_ = 0;
  std::size_t rows_ = 0;
  std::vector<double> sums_;
  std::vector<double> products_;  // upper triangle used
};

namespace detail {

template <typename T>
constexpr bool is_rounding_weight_type_v =
    std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::int16_t>;

// The checks shared by every weight rounding function: [rows, depth] float weights, a scale
// count that divides rows (consecutive rows share a scale: per row, per gate or per tensor).
inline Status check_weight_rounding(Span<const float> weights, std::int32_t rows,
                                    std::int32_t depth, Span<const float> scales) {
  if (rows < 1 || depth < 1) {
    return Status::error(ErrorCode::shape_mismatch, "weight rounding: rows ")
        .append(rows)
        .append(" and depth ")
        .append(depth)
        .append(" must be >= 1");
  }
  const std::size_t count = static_cast<std::size_t>(rows) * static_cast<std::size_t>(depth);
  if (weights.size() != count) {
    return Status::error(ErrorCode::shape_mismatch, "weight rounding: ")
        .append(weights.size())
        .append(" weights, expected rows * depth = ")
        .append(count);
  }
  if (scales.empty() || static_cast<std::size_t>(rows) % scales.size() != 0) {
    return Status::error(ErrorCode::shape_mismatch, "weight rounding: scale count ")
        .append(scales.size())
        .append(" does not divide the row count ")
        .append(rows);
  }
  for (std::size_t c = 0; c < scales.size(); ++c) {
    if (!std::isfinite(scales[c]) || !(scales[c] > 0.0f)) {
      return Status::error(ErrorCode::invalid_scale, "weight rounding: scale ")
          .append(c)
          .append(" is not finite and > 0");
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(weights[i])) {
      return Status::error(ErrorCode::non_finite_value, "weight rounding: weight at index ")
          .append(i)
          .append(" is not finite");
    }
  }
  return Status::ok();
}

inline Status check_hessian(const LayerHessian& hessian, std::int32_t depth) {
  if (hessian.depth() != depth) {
    return Status::error(ErrorCode::shape_mismatch, "weight rounding: calibration inputs of depth ")
        .append(hessian.depth())
        .append(", weights of depth ")
        .append(depth);
  }
  if (hessian.row_count() == 0) {
    return Status::error(ErrorCode::invalid_argument,
                         "weight rounding: no calibration inputs were seen");
  }
  return Status::ok();
}

inline double row_scale_of(Span<const float> scales, std::int32_t rows, std::int32_t row) {
  const std::int32_t per_scale = rows / static_cast<std::int32_t>(scales.size());
  return static_cast<double>(scales[static_cast<std::size_t>(row / per_scale)]);
}

// Round half away from zero (as quantize_per_channel), clamped to the narrow range.
inline double round_to_grid(double value, double quant_max) {
  const double q = std::round(value);
  return q > quant_max ? quant_max : (q < -quant_max ? -quant_max : q);
}

// E[x x^T], or the covariance when centered, as a full symmetric depth x depth matrix.
inline std::vector<double> input_moment(const LayerHessian& hessian, bool centered) {
  const auto depth = static_cast<std::size_t>(hessian.depth());
  std::vector<double> m(depth * depth);
  for (std::size_t i = 0; i < depth; ++i) {
    for (std::size_t j = i; j < depth; ++j) {
      const auto ii = static_cast<std::int32_t>(i);
      const auto jj = static_cast<std::int32_t>(j);
      double v = hessian.second_moment(ii, jj);
      if (centered) v -= hessian.mean(ii) * hessian.mean(jj);
      m[i * depth + j] = m[j * depth + i] = v;
    }
  }
  return m;
}

// In place: the lower Cholesky factor L of the symmetric matrix `a` (a = L L^T). False when `a`
// is not positive definite.
inline bool cholesky_lower(std::vector<double>& a, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    double diagonal = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) diagonal -= a[j * n + k] * a[j * n + k];
    if (!(diagonal > 0.0) || !std::isfinite(diagonal)) return false;
    const double pivot = std::sqrt(diagonal);
    a[j * n + j] = pivot;
    for (std::size_t i = j + 1; i < n; ++i) {
      double v = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) v -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = v / pivot;
    }
    for (std::size_t k = j + 1; k < n; ++k) a[j * n + k] = 0.0;
  }
  return true;
}

// The upper Cholesky factor U of H^-1 (H^-1 = U^T U), GPTQ's `Hinv`: row j of U carries column
// j's rounding error to the columns after it.
inline Result<std::vector<double>> inverse_hessian_upper(std::vector<double> h, std::size_t n) {
  if (!cholesky_lower(h, n)) {
    return Status::error(ErrorCode::invalid_argument,
                         "weight rounding: the inputs' Hessian is not positive definite (raise "
                         "the damping)");
  }
  // L^-1 by forward substitution (lower triangular).
  std::vector<double> inverse(n * n, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    inverse[j * n + j] = 1.0 / h[j * n + j];
    for (std::size_t i = j + 1; i < n; ++i) {
      double v = 0.0;
      for (std::size_t k = j; k < i; ++k) v -= h[i * n + k] * inverse[k * n + j];
      inverse[i * n + j] = v / h[i * n + i];
    }
  }
  // H^-1 = L^-T L^-1.
  std::vector<double> h_inverse(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) {
      double v = 0.0;
      for (std::size_t k = j; k < n; ++k) v += inverse[k * n + i] * inverse[k * n + j];
      h_inverse[i * n + j] = h_inverse[j * n + i] = v;
    }
  }
  if (!cholesky_lower(h_inverse, n)) {
    return Status::error(ErrorCode::invalid_argument,
                         "weight rounding: the inverse Hessian lost positive definiteness (raise "
                         "the damping)");
  }
  std::vector<double> upper(n * n, 0.0);  // U = L2^T
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) upper[i * n + j] = h_inverse[j * n + i];
  }
  return upper;
}

}  // namespace detail

// Round-to-nearest on the given scales (the reference GPTQ is compared with): q = clamp(round(
// w / S_r), -qmax, qmax), narrow range ([-127, 127] for int8, [-32767, 32767] for int16).
template <typename T>
Result<std::vector<T>> round_weights_to_nearest(Span<const float> weights, std::int32_t rows,
                                                std::int32_t depth, Span<const float> scales) {
  static_assert(detail::is_rounding_weight_type_v<T>, "weights are int8 or int16");
  TSQ_RETURN_IF_ERROR(detail::check_weight_rounding(weights, rows, depth, scales));
  const auto quant_max = static_cast<double>(std::numeric_limits<T>::max());
  std::vector<T> q(weights.size());
  for (std::int32_t r = 0; r < rows; ++r) {
    const double scale = detail::row_scale_of(scales, rows, r);
    for (std::int32_t k = 0; k < depth; ++k) {
      const std::size_t at = static_cast<std::size_t>(r) * static_cast<std::size_t>(depth) +
                             static_cast<std::size_t>(k);
      q[at] = static_cast<T>(
          detail::round_to_grid(static_cast<double>(weights[at]) / scale, quant_max));
    }
  }
  return q;
}

// GPTQ: integer weights [rows, depth] on the grid of `scales` that approximately minimise the
// output error on the inputs `hessian` accumulated (see the top of this file).
template <typename T>
Result<std::vector<T>> round_weights_gptq(Span<const float> weights, std::int32_t rows,
                                          std::int32_t depth, Span<const float> scales,
                                          const LayerHessian& hessian,
                                          const WeightRoundingOptions& options = {}) {
  static_assert(detail::is_rounding_weight_type_v<T>, "weights are int8 or int16");
  TSQ_RETURN_IF_ERROR(detail::check_weight_rounding(weights, rows, depth, scales));
  TSQ_RETURN_IF_ERROR(detail::check_hessian(hessian, depth));
  if (!std::isfinite(options.damping) || options.damping < 0.0) {
    return Status::error(ErrorCode::invalid_argument, "weight rounding: damping must be >= 0");
  }
  const auto n = static_cast<std::size_t>(depth);
  const std::vector<double> moment = detail::input_moment(hessian, options.centered);
  // The order the columns are quantized in (ties keep index order: deterministic).
  std::vector<std::size_t> order(n);
  for (std::size_t j = 0; j < n; ++j) order[j] = j;
  if (options.activation_order) {
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return moment[a * n + a] > moment[b * n + b];
    });
  }
  // H = 2 E[x x^T] in that order (the factor 2 of the squared error; it cancels in the update).
  std::vector<double> h(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) h[i * n + j] = 2.0 * moment[order[i] * n + order[j]];
  }
  // Dead inputs: isolated with H_jj = 1, so no error reaches or leaves them (round-to-nearest).
  // A relative threshold, because a centered constant input leaves a rounding residue.
  double diagonal_sum = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    const auto input = static_cast<std::int32_t>(order[j]);
    if (h[j * n + j] <= 1e-12 * 2.0 * hessian.second_moment(input, input)) {
      for (std::size_t k = 0; k < n; ++k) h[j * n + k] = h[k * n + j] = 0.0;
      h[j * n + j] = 1.0;
    }
    diagonal_sum += h[j * n + j];
  }
  const double damp = options.damping * diagonal_sum / static_cast<double>(n);
  for (std::size_t j = 0; j < n; ++j) h[j * n + j] += damp;
  Result<std::vector<double>> upper = detail::inverse_hessian_upper(std::move(h), n);
  if (!upper.is_ok()) return upper.status();
  const std::vector<double>& u = upper.value();

  const auto quant_max = static_cast<double>(std::numeric_limits<T>::max());
  std::vector<T> q(weights.size());
  std::vector<double> w(n);  // the row's remaining weights, in processing order
  for (std::int32_t r = 0; r < rows; ++r) {
    const double scale = detail::row_scale_of(scales, rows, r);
    const std::size_t base = static_cast<std::size_t>(r) * n;
    for (std::size_t k = 0; k < n; ++k) w[k] = static_cast<double>(weights[base + order[k]]);
    for (std::size_t j = 0; j < n; ++j) {
      const double level = detail::round_to_grid(w[j] / scale, quant_max);
      q[base + order[j]] = static_cast<T>(level);
      // The error, weighted by the inverse Hessian, moves onto the columns still to come.
      const double error = (w[j] - level * scale) / u[j * n + j];
      const double* carry = u.data() + j * n;
      for (std::size_t k = j + 1; k < n; ++k) w[k] -= error * carry[k];
    }
  }
  return q;
}

// The same from calibration inputs given directly: `inputs` holds whole rows of depth values.
template <typename T>
Result<std::vector<T>> round_weights_gptq(Span<const float> weights, std::int32_t rows,
                                          std::int32_t depth, Span<const float> scales,
                                          Span<const float> inputs,
                                          const WeightRoundingOptions& options = {}) {
  LayerHessian hessian(depth);
  if (depth >= 1) TSQ_RETURN_IF_ERROR(hessian.add(inputs));
  return round_weights_gptq<T>(weights, rows, depth, scales, hessian, options);
}

// The objective: the output mean squared error of quantized weights, averaged over rows and
// calibration inputs: (1 / (rows n)) sum_r sum_x ((S_r Q_r - W_r) . x)^2 (the bias unchanged).
// `centered` measures it around the inputs' mean (what is left after bias correction).
template <typename T>
Result<double> weight_rounding_mse(Span<const float> weights, std::int32_t rows, std::int32_t depth,
                                   Span<const float> scales, Span<const T> quantized,
                                   const LayerHessian& hessian, bool centered = false) {
  static_assert(detail::is_rounding_weight_type_v<T>, "weights are int8 or int16");
  TSQ_RETURN_IF_ERROR(detail::check_weight_rounding(weights, rows, depth, scales));
  TSQ_RETURN_IF_ERROR(detail::check_hessian(hessian, depth));
  if (quantized.size() != weights.size()) {
    return Status::error(ErrorCode::shape_mismatch, "weight rounding: ")
        .append(quantized.size())
        .append(" quantized weights, expected ")
        .append(weights.size());
  }
  const auto n = static_cast<std::size_t>(depth);
  const std::vector<double> m = detail::input_moment(hessian, centered);
  std::vector<double> d(n);
  double total = 0.0;
  for (std::int32_t r = 0; r < rows; ++r) {
    const double scale = detail::row_scale_of(scales, rows, r);
    const std::size_t base = static_cast<std::size_t>(r) * n;
    for (std::size_t k = 0; k < n; ++k)
      d[k] = static_cast<double>(quantized[base + k]) * scale - weights[base + k];
    for (std::size_t i = 0; i < n; ++i) {
      if (d[i] == 0.0) continue;
      double row = 0.0;
      for (std::size_t j = 0; j < n; ++j) row += m[i * n + j] * d[j];
      total += d[i] * row;
    }
  }
  return total / static_cast<double>(rows);
}

template <typename T>
Result<double> weight_rounding_mse(Span<const float> weights, std::int32_t rows, std::int32_t depth,
                                   Span<const float> scales, Span<const T> quantized,
                                   Span<const float> inputs, bool centered = false) {
  LayerHessian hessian(depth);
  if (depth >= 1) TSQ_RETURN_IF_ERROR(hessian.add(inputs));
  return weight_rounding_mse<T>(weights, rows, depth, scales, quantized, hessian, centered);
}

}  // namespace tsq
