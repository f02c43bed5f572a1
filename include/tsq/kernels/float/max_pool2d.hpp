// SPDX-License-Identifier: Apache-2.0
// MaxPool2D in float32: the ground truth the integer kernel is measured against.
//   y[b, oy, ox, c] = activation(max over the window's taps inside the image of x[b, y, x, c])
// Same window placement as the integer kernel (spec 3.3, dilation 1; padding taps skipped).
#pragma once

#include <cstdint>
#include <limits>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace floating {

namespace detail {
// One window's maximum.
struct MaxPool2DFloatAccumulator {
  float max = std::numeric_limits<float>::lowest();
  void add(float value) {
    if (value > max) max = value;
  }
  float result(std::int32_t /*count*/) const { return max; }
};
}  // namespace detail

inline Status max_pool2d(const Pool2DWindow& window, FusedActivation activation,
                         TensorView<const float> input, TensorView<float> output) {
  return tsq::detail::float_pool2d<detail::MaxPool2DFloatAccumulator>("MaxPool2D", window,
                                                                      activation, input, output);
}

}  // namespace floating
}  // namespace tsq
