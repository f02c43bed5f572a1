// SPDX-License-Identifier: Apache-2.0
// FullyConnected in float32 through Eigen, host only: the fast float baseline that the integer
// kernels' speed is measured against (the scalar floating:: kernel stays the ground truth; this
// one has its contract, accumulates in float and so differs by float32 rounding only).
//
// This header also holds the matrix product the Eigen kernels share. Eigen's GEMM packs its
// operands into blocks that it takes from the stack only up to EIGEN_STACK_ALLOCATION_LIMIT and
// from the heap beyond; the product is therefore split into tiles whose packed blocks stay under
// that limit, so that an eval call never allocates (tested under EIGEN_RUNTIME_NO_MALLOC); the
// price is up to twice that limit of stack (256 KB by default) and 1-6% of speed against one
// unsplit GEMM on the benchmark shapes. (Eigen built with OpenMP would allocate per thread.)
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace eigen {

namespace detail {

using Index = Eigen::Index;
using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using MatrixMap = Eigen::Map<RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

// A row-major matrix in a caller's buffer: rows `stride` floats apart.
struct MatrixRef {
  const float* data = nullptr;
  Index stride = 0;
};

// How the right-hand side of a product is stored: [depth, n], or [n, depth] and read transposed
// (weights [units, depth], filters [C_out, taps]).
enum class RhsLayout : std::uint8_t { depth_by_n, n_by_depth };

// Floats that one packed block may hold for Eigen to take it from the stack.
constexpr Index kStackBlockFloats =
    static_cast<Index>(EIGEN_STACK_ALLOCATION_LIMIT / sizeof(float));

// ceil(total / ceil(total / limit)): the largest tile <= limit that splits `total` evenly.
constexpr Index balanced_tile(Index total, Index limit) {
  const Index parts = (total + limit - 1) / limit;
  return (total + parts - 1) / parts;
}

// dst [m, n] += lhs [m, depth] * rhs. A single row (m == 1) is a matrix-vector product, which
// packs nothing; otherwise tiles of at most 256 deep and kStackBlockFloats / depth wide keep each
// of Eigen's packed blocks (depth x rows of one side) within the stack limit.
inline void accumulate_product(MatrixRef lhs, MatrixRef rhs, RhsLayout layout, float* dst,
                               Index dst_stride, Index m, Index depth, Index n) {
  if (m == 0 || n == 0 || depth == 0) return;
  const auto tile = [&](Index row, Index k, Index column, Index rows, Index ks, Index columns) {
    const ConstMatrixMap a(lhs.data + row * lhs.stride + k, rows, ks,
                           Eigen::OuterStride<>(lhs.stride));
    MatrixMap c(dst + row * dst_stride + column, rows, columns, Eigen::OuterStride<>(dst_stride));
    if (layout == RhsLayout::n_by_depth) {
      const ConstMatrixMap b(rhs.data + column * rhs.stride + k, columns, ks,
                             Eigen::OuterStride<>(rhs.stride));
      c.noalias() += a * b.transpose();
    } else {
      const ConstMatrixMap b(rhs.data + k * rhs.stride + column, ks, columns,
                             Eigen::OuterStride<>(rhs.stride));
      c.noalias() += a * b;
    }
  };
  if (m == 1) {
    tile(0, 0, 0, 1, depth, n);
    return;
  }
  const Index depth_limit = std::max<Index>(1, std::min<Index>(256, kStackBlockFloats / 16));
  const Index tile_depth = balanced_tile(depth, depth_limit);
  const Index side_limit = std::max<Index>(1, kStackBlockFloats / tile_depth);
  const Index tile_rows = balanced_tile(m, side_limit);
  const Index tile_columns = balanced_tile(n, side_limit);
  for (Index k = 0; k < depth; k += tile_depth) {
    const Index ks = std::min(tile_depth, depth - k);
    for (Index row = 0; row < m; row += tile_rows) {
      const Index rows = std::min(tile_rows, m - row);
      for (Index column = 0; column < n; column += tile_columns) {
        tile(row, k, column, rows, ks, std::min(tile_columns, n - column));
      }
    }
  }
}

// dst [rows, n] (rows `stride` apart) = bias broadcast to every row, or 0 without a bias. Row
// by row: one vector copy each, several times faster than Eigen's rowwise() broadcast.
inline void fill_with_bias(float* dst, Index rows, Index n, Index stride, Span<const float> bias) {
  for (Index row = 0; row < rows; ++row) {
    Eigen::Map<Eigen::RowVectorXf> y(dst + row * stride, n);
    if (bias.empty()) {
      y.setZero();
    } else {
      y = Eigen::Map<const Eigen::RowVectorXf>(bias.data(), n);
    }
  }
}

// The fused activation over `count` contiguous floats, exactly as the scalar kernels clamp.
inline void apply_fused_activation(float* values, std::size_t count, FusedActivation activation) {
  if (activation == FusedActivation::none) return;
  const FloatActivationRange range = float_activation_range(activation);
  for (std::size_t i = 0; i < count; ++i) values[i] = apply_activation(values[i], range);
}

}  // namespace detail

// y[b, u] = activation(bias[u] + sum_d W[u, d] * x[b, d]), W [units, depth]; every leading axis
// of the input is a batch. The same checks and errors as floating::fully_connected; `bias` may
// be empty (no bias). Nothing is allocated.
inline Status fully_connected(FusedActivation activation, TensorView<const float> input,
                              TensorView<const float> weights, Span<const float> bias,
                              TensorView<float> output) {
  constexpr const char* kOp = "Eigen FullyConnected";
  TSQ_RETURN_IF_ERROR(tsq::detail::check_views_usable(kOp, input, weights, output));
  TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable(kOp, bias));
  TSQ_RETURN_IF_ERROR(floating::detail::check_dense_shapes(kOp, input.shape(), weights.shape(),
                                                           bias.size(), output.shape()));
  if (!input.is_contiguous() || !weights.is_contiguous() || !output.is_contiguous()) {
    return Status::error(ErrorCode::invalid_argument, kOp).append(" needs contiguous tensors");
  }
  using detail::Index;
  const Index units = weights.dim(0);
  const Index depth = weights.dim(1);
  // As the scalar kernel counts them: a depth of 0 leaves no batch (and the output untouched).
  const auto batches =
      static_cast<Index>(input.element_count() / static_cast<std::size_t>(depth > 0 ? depth : 1));
  if (batches == 0 || units == 0) return Status::ok();
  detail::fill_with_bias(output.data(), batches, units, units, bias);
  detail::accumulate_product(
      detail::MatrixRef{input.data(), depth}, detail::MatrixRef{weights.data(), depth},
      detail::RhsLayout::n_by_depth, output.data(), units, batches, depth, units);
  detail::apply_fused_activation(output.data(), static_cast<std::size_t>(batches * units),
                                 activation);
  return Status::ok();
}

}  // namespace eigen
}  // namespace tsq
