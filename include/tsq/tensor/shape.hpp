// SPDX-License-Identifier: Apache-2.0
// A tensor shape of fixed maximum rank, stored inline (no heap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"

namespace tsq {

// NHWC activations are rank 4; rank 5 leaves room for a time axis in front of them.
constexpr int kMaxRank = 5;

class Shape {
 public:
  constexpr Shape() = default;
  // Dimensions beyond kMaxRank are ignored; use Shape::make to get an error instead.
  constexpr Shape(std::initializer_list<std::int32_t> dims) {
    for (std::int32_t d : dims) {
      if (rank_ == kMaxRank) break;
      dims_[rank_++] = d;
    }
  }

  // Validating constructor: rank <= kMaxRank and every dimension >= 0.
  static Result<Shape> make(Span<const std::int32_t> dims) {
    if (dims.size() > static_cast<std::size_t>(kMaxRank)) {
      return Status::error(ErrorCode::shape_mismatch, "rank ")
          .append(dims.size())
          .append(" exceeds the maximum rank ")
          .append(kMaxRank);
    }
    Shape shape;
    for (std::int32_t d : dims) {
      if (d < 0) return Status::error(ErrorCode::shape_mismatch, "negative dimension ").append(d);
      shape.dims_[shape.rank_++] = d;
    }
    return shape;
  }

  constexpr int rank() const { return rank_; }
  constexpr std::int32_t operator[](int axis) const { return dims_[axis]; }
  constexpr std::int32_t& operator[](int axis) { return dims_[axis]; }
  constexpr Span<const std::int32_t> dims() const {
    return Span<const std::int32_t>(dims_, static_cast<std::size_t>(rank_));
  }

  // Product of all dimensions (1 for rank 0).
  constexpr std::size_t element_count() const {
    std::size_t count = 1;
    for (int i = 0; i < rank_; ++i) count *= static_cast<std::size_t>(dims_[i]);
    return count;
  }
  // Product of the dimensions before / after `axis`.
  constexpr std::size_t outer_count(int axis) const {
    std::size_t count = 1;
    for (int i = 0; i < axis; ++i) count *= static_cast<std::size_t>(dims_[i]);
    return count;
  }
  constexpr std::size_t inner_count(int axis) const {
    std::size_t count = 1;
    for (int i = axis + 1; i < rank_; ++i) count *= static_cast<std::size_t>(dims_[i]);
    return count;
  }

  // The shape without axis 0 (rank - 1).
  constexpr Shape without_outer() const {
    Shape rest;
    for (int i = 1; i < rank_; ++i) rest.dims_[rest.rank_++] = dims_[i];
    return rest;
  }

  friend constexpr bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i) {
      if (a.dims_[i] != b.dims_[i]) return false;
    }
    return true;
  }
  friend constexpr bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::int32_t dims_[kMaxRank] = {};
  int rank_ = 0;
};

// Appends "[d0, d1, ...]" to a status message.
inline Status& append_shape(Status& status, const Shape& shape) {
  status.append("[");
  for (int i = 0; i < shape.rank(); ++i) {
    if (i > 0) status.append(", ");
    status.append(shape[i]);
  }
  return status.append("]");
}

// An error saying that `what` has shape `got` where `expected` was needed.
inline Status shape_mismatch_error(const char* what, const Shape& got, const Shape& expected) {
  Status status = Status::error(ErrorCode::shape_mismatch, what);
  status.append(" has shape ");
  append_shape(status, got).append(", expected ");
  append_shape(status, expected);
  return status;
}

}  // namespace tsq
