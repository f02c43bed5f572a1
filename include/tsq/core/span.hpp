// SPDX-License-Identifier: Apache-2.0
// A minimal non-owning view of contiguous elements (C++17 has no std::span).
#pragma once

#include <cstddef>

#include "tsq/core/status.hpp"

namespace tsq {

template <typename T>
class Span {
 public:
  constexpr Span() = default;
  constexpr Span(T* data, std::size_t size) : data_(data), size_(size) {}
  template <std::size_t N>
  constexpr Span(T (&array)[N]) : data_(array), size_(N) {}  // NOLINT(google-explicit-constructor)
  // Any contiguous container with data() and size() (std::vector, std::array, Span<U>).
  template <typename Container,
            typename = decltype(static_cast<T*>(static_cast<Container*>(nullptr)->data())),
            typename = decltype(static_cast<Container*>(nullptr)->size())>
  constexpr Span(Container& container)  // NOLINT(google-explicit-constructor)
      : data_(container.data()), size_(container.size()) {}
  template <typename Container,
            typename = decltype(static_cast<T*>(static_cast<const Container*>(nullptr)->data())),
            typename = decltype(static_cast<const Container*>(nullptr)->size())>
  constexpr Span(const Container& container)  // NOLINT(google-explicit-constructor)
      : data_(container.data()), size_(container.size()) {}

  constexpr T* data() const { return data_; }
  constexpr std::size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr T& operator[](std::size_t i) const { return data_[i]; }
  constexpr T* begin() const { return data_; }
  constexpr T* end() const { return data_ + size_; }
  constexpr Span subspan(std::size_t offset, std::size_t count) const {
    return Span(data_ + offset, count);
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace detail {

// A span with elements must point somewhere (a Span built from a container always does).
template <typename... Spans>
Status check_spans_usable(const char* op, const Spans&... spans) {
  if (((spans.data() == nullptr && spans.size() != 0) || ...)) {
    return Status::error(ErrorCode::invalid_argument, op)
        .append(": a buffer has null data and a nonzero size");
  }
  return Status::ok();
}

}  // namespace detail

}  // namespace tsq
