// SPDX-License-Identifier: Apache-2.0
// AvgPool2D in float32: the ground truth the integer kernel is measured against.
//   y[b, oy, ox, c] = activation(sum of x over the n window taps inside the image / n)
// Same window placement as the integer kernel (spec 3.3, dilation 1): padding taps are skipped,
// not averaged in as zeros (TFLite and Keras behave the same way).
#pragma once

#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

namespace detail {
// One window's average.
struct AvgPool2DFloatAccumulator {
  double sum = 0.0;
  void add(float value) { sum += static_cast<double>(value); }
  float result(std::int32_t count) const {
    return static_cast<float>(sum / static_cast<double>(count));
  }
};
}  // namespace detail

inline Status avg_pool2d(const Pool2DWindow& window, FusedActivation activation,
                         TensorView<const float> input, TensorView<float> output) {
  return tsq::detail::float_pool2d<detail::AvgPool2DFloatAccumulator>("AvgPool2D", window,
                                                                      activation, input, output);
}

}  // namespace floating
}  // namespace tsq
