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
class TensorView;

namespace detail {
// Why a view cannot be used; kernels refuse such a view before touching any buffer.
enum class ViewDefect : std::uint8_t { none, negative_dimension, null_data, buffer_too_small };
}  // namespace detail

// A view is built either over a buffer of known size (any container, a Span or an array: the
// way to build one), or over a raw pointer whose size the caller vouches for. Either way a
// view with a negative dimension, null data with elements, or a buffer smaller than its shape
// is marked defective; status() says why, and every kernel returns that status instead of
// reading or writing through it.
template <typename T>
class TensorView {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;

  constexpr TensorView() = default;

  // A dense row-major (C order) view over `buffer`, which must hold shape.element_count().
  constexpr TensorView(Span<T> buffer, const Shape& shape) : TensorView(buffer.data(), shape) {
    if (defect_ == detail::ViewDefect::none && buffer.size() < shape.element_count()) {
      defect_ = detail::ViewDefect::buffer_too_small;
      buffer_size_ = buffer.size();
    }
  }

  // A dense row-major view over a raw pointer; the caller guarantees `data` holds
  // shape.element_count() (only null data and negative dimensions can be checked).
  constexpr TensorView(T* data, const Shape& shape) : data_(data), shape_(shape) {
    std::ptrdiff_t stride = 1;
    for (int axis = shape.rank() - 1; axis >= 0; --axis) {
      strides_[axis] = stride;
      stride *= shape[axis];
    }
    defect_ = shape_defect(data, shape);
  }

  // Checked construction over a buffer of known size, as a Result.
  static Result<TensorView> make(Span<T> buffer, const Shape& shape) {
    const TensorView view(buffer, shape);
    TSQ_RETURN_IF_ERROR(view.status());
    return view;
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

  // A read-only view of the same data (and the same defect, if any).
  constexpr operator TensorView<const T>() const {  // NOLINT(google-explicit-constructor)
    TensorView<const T> view = TensorView<const T>::strided(data_, shape_, strides());
    view.defect_ = defect_;
    view.buffer_size_ = buffer_size_;
    return view;
  }

  // ok, or why the view cannot be used (invalid_argument for null data, shape_mismatch for a
  // negative dimension, buffer_too_small).
  Status status() const {
    Status status = Status::ok();
    switch (defect_) {
      case detail::ViewDefect::none: return status;
      case detail::ViewDefect::negative_dimension:
        status = Status::error(ErrorCode::shape_mismatch, "tensor view has a negative dimension: ");
        break;
      case detail::ViewDefect::null_data:
        status = Status::error(ErrorCode::invalid_argument, "tensor view has null data for shape ");
        break;
      case detail::ViewDefect::buffer_too_small:
        status = Status::error(ErrorCode::buffer_too_small, "tensor view buffer of ");
        status.append(buffer_size_).append(" elements is too small for shape ");
        break;
    }
    append_shape(status, shape_);
    return status;
  }
  constexpr bool is_valid() const { return defect_ == detail::ViewDefect::none; }

  constexpr T* data() const { return data_; }
  constexpr const Shape& shape() const { return shape_; }
  constexpr int rank() const { return shape_.rank(); }
  constexpr std::int32_t dim(int axis) const { return shape_[axis]; }
  constexpr std::ptrdiff_t stride(int axis) const { return strides_[axis]; }
  constexpr Span<const std::ptrdiff_t> strides() const {
    return Span<const std::ptrdiff_t>(strides_, static_cast<std::size_t>(shape_.rank()));
  }
  // 0 for a defective view, so that no loop runs over one.
  constexpr std::size_t element_count() const { return is_valid() ? shape_.element_count() : 0; }
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
    TSQ_RETURN_IF_ERROR(status());
    if (!is_contiguous()) {
      return Status::error(ErrorCode::invalid_argument, "only a contiguous view can be reshaped");
    }
    const TensorView view(data_, shape);
    TSQ_RETURN_IF_ERROR(view.status());
    if (shape.element_count() != element_count()) {
      return shape_mismatch_error("reshape target", shape, shape_);
    }
    return view;
  }

  // Index `index` of axis 0, as a view of rank - 1 (one batch row, one time step).
  constexpr TensorView slice_outer(std::int32_t index) const {
    TensorView view =
        strided(data_ + index * strides_[0], shape_.without_outer(),
                Span<const std::ptrdiff_t>(strides_ + 1, static_cast<std::size_t>(rank() - 1)));
    if (!is_valid()) view.defect_ = defect_;
    return view;
  }

 private:
  template <typename U>
  friend class TensorView;

  static constexpr detail::ViewDefect shape_defect(const T* data, const Shape& shape) {
    for (int axis = 0; axis < shape.rank(); ++axis) {
      if (shape[axis] < 0) return detail::ViewDefect::negative_dimension;
    }
    if (data == nullptr && shape.element_count() != 0) return detail::ViewDefect::null_data;
    return detail::ViewDefect::none;
  }

  T* data_ = nullptr;
  Shape shape_{};
  std::ptrdiff_t strides_[kMaxRank] = {};
  detail::ViewDefect defect_ = detail::ViewDefect::none;
  std::size_t buffer_size_ = 0;
};

namespace detail {

// The first defective view's status, prefixed with the op's name; ok when all are usable.
template <typename... Views>
Status check_views_usable(const char* op, const Views&... views) {
  Status result = Status::ok();
  const auto check = [&](const Status& status) {
    if (result.is_ok() && !status.is_ok()) {
      result = Status::error(status.code(), op);
      result.append(": ").append(status.message());
    }
  };
  (check(views.status()), ...);
  return result;
}

}  // namespace detail

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
