// SPDX-License-Identifier: Apache-2.0
// Non-owning views of typed tensor data with a shape and strides. Views never allocate: the
// data lives in the caller's buffers, a model's arena or constexpr arrays in flash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/tensor/shape.hpp"

namespace tsq {

template <typename T>
class TensorView {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;

  constexpr TensorView() = default;

  // A dense row-major (C order) view; the caller guarantees `data` holds shape.element_count().
  constexpr TensorView(T* data, const Shape& shape) : data_(data), shape_(shape) {
    std::ptrdiff_t stride = 1;
    for (int axis = shape.rank() - 1; axis >= 0; --axis) {
      strides_[axis] = stride;
      stride *= shape[axis];
    }
  }

  // Checked construction over a buffer of known size.
  static Result<TensorView> make(Span<T> buffer, const Shape& shape) {
    if (buffer.data() == nullptr && shape.element_count() != 0) {
      return Status::error(ErrorCode::invalid_argument, "tensor data is null");
    }
    if (buffer.size() < shape.element_count()) {
      Status status = Status::error(ErrorCode::buffer_too_small, "buffer of ");
      status.append(buffer.size()).append(" elements too small for shape ");
      append_shape(status, shape);
      return status;
    }
    return TensorView(buffer.data(), shape);
  }

  // A view with explicit strides (in elements), e.g. a slice or a transposed reading.
  static constexpr TensorView strided(T* data, const Shape& shape,
                                      Span<const std::ptrdiff_t> strides) {
    TensorView view(data, shape);
    for (int axis = 0; axis < shape.rank() && static_cast<std::size_t>(axis) < strides.size();
         ++axis) {
      view.strides_[axis] = strides[static_cast<std::size_t>(axis)];
    }
    return view;
  }

  // A read-only view of the same data.
  constexpr operator TensorView<const T>() const {  // NOLINT(google-explicit-constructor)
    return TensorView<const T>::strided(data_, shape_, strides());
  }

  constexpr T* data() const { return data_; }
  constexpr const Shape& shape() const { return shape_; }
  constexpr int rank() const { return shape_.rank(); }
  constexpr std::int32_t dim(int axis) const { return shape_[axis]; }
  constexpr std::ptrdiff_t stride(int axis) const { return strides_[axis]; }
  constexpr Span<const std::ptrdiff_t> strides() const {
    return Span<const std::ptrdiff_t>(strides_, static_cast<std::size_t>(shape_.rank()));
  }
  constexpr std::size_t element_count() const { return shape_.element_count(); }
  static constexpr DataType type() { return data_type_of_v<value_type>; }

  constexpr bool is_contiguous() const {
    std::ptrdiff_t expected = 1;
    for (int axis = shape_.rank() - 1; axis >= 0; --axis) {
      if (shape_[axis] != 1 && strides_[axis] != expected) return false;
      expected *= shape_[axis];
    }
    return true;
  }

  // Element access by index per axis (unchecked: kernels validate shapes in prepare).
  template <typename... Index>
  constexpr T& operator()(Index... index) const {
    static_assert(sizeof...(Index) <= kMaxRank, "too many indices");
    const std::ptrdiff_t indices[] = {static_cast<std::ptrdiff_t>(index)...};
    std::ptrdiff_t offset = 0;
    for (std::size_t axis = 0; axis < sizeof...(Index); ++axis)
      offset += indices[axis] * strides_[axis];
    return data_[offset];
  }

  // The elements as a flat span; only for contiguous views.
  constexpr Span<T> flat() const { return Span<T>(data_, element_count()); }

  // The same data under another shape with the same element count (Reshape, Flatten): no copy.
  Result<TensorView> reshaped(const Shape& shape) const {
    if (!is_contiguous()) {
      return Status::error(ErrorCode::invalid_argument, "only a contiguous view can be reshaped");
    }
    if (shape.element_count() != element_count()) {
      return shape_mismatch_error("reshape target", shape, shape_);
    }
    return TensorView(data_, shape);
  }

  // Index `index` of axis 0, as a view of rank - 1 (one batch row, one time step).
  constexpr TensorView slice_outer(std::int32_t index) const {
    return strided(data_ + index * strides_[0], shape_.without_outer(),
                   Span<const std::ptrdiff_t>(strides_ + 1, static_cast<std::size_t>(rank() - 1)));
  }

 private:
  T* data_ = nullptr;
  Shape shape_{};
  std::ptrdiff_t strides_[kMaxRank] = {};
};

// The four axes of an NHWC activation tensor.
struct NhwcDims {
  std::int32_t batch = 0;
  std::int32_t height = 0;
  std::int32_t width = 0;
  std::int32_t channels = 0;
};

constexpr Shape nhwc_shape(const NhwcDims& d) {
  return Shape{d.batch, d.height, d.width, d.channels};
}

// Reads the NHWC dimensions of a rank-4 view (error for another rank).
template <typename T>
Result<NhwcDims> nhwc_dims(const TensorView<T>& view) {
  if (view.rank() != 4) {
    return Status::error(ErrorCode::shape_mismatch, "NHWC tensor must have rank 4, got ")
        .append(view.rank());
  }
  return NhwcDims{view.dim(0), view.dim(1), view.dim(2), view.dim(3)};
}

// Offset of element (n, h, w, c) in a dense NHWC buffer.
constexpr std::size_t nhwc_offset(const NhwcDims& d, std::int32_t n, std::int32_t h, std::int32_t w,
                                  std::int32_t c) {
  return ((static_cast<std::size_t>(n) * static_cast<std::size_t>(d.height) +
           static_cast<std::size_t>(h)) *
              static_cast<std::size_t>(d.width) +
          static_cast<std::size_t>(w)) *
             static_cast<std::size_t>(d.channels) +
         static_cast<std::size_t>(c);
}

}  // namespace tsq
