// SPDX-License-Identifier: Apache-2.0
// The float kernels the model API's float forms run (host): Eigen's (kernels/eigen/) when Eigen
// is on the include path, i.e. the target links Eigen3::Eigen, and TSQ_NO_EIGEN is not defined;
// otherwise the scalar float twins (kernels/float/), which stay the ground truth. The two agree
// within 1e-5 of the sum of |products| (tests/eigen); the float32 schemes, the debugger's float
// twin and the mixed-precision search all run through here.
#pragma once

#include <cstddef>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/tensor/tensor_view.hpp"

#if !defined(TSQ_NO_EIGEN) && defined(__has_include)
#if __has_include(<Eigen/Core>)
#define TSQ_FLOAT_BACKEND_EIGEN 1
#include "tsq/kernels/eigen/conv2d.hpp"
#include "tsq/kernels/eigen/fully_connected.hpp"
#endif
#endif

namespace tsq {
namespace nn {

// "eigen" or "scalar": which kernels this translation unit's float forms run.
constexpr const char* float_backend_name() {
#ifdef TSQ_FLOAT_BACKEND_EIGEN
  return "eigen";
#else
  return "scalar";
#endif
}

namespace detail {

inline Status float_fully_connected(FusedActivation activation, TensorView<const float> input,
                                    TensorView<const float> weights, Span<const float> bias,
                                    TensorView<float> output) {
#ifdef TSQ_FLOAT_BACKEND_EIGEN
  return eigen::fully_connected(activation, input, weights, bias, output);
#else
  return floating::fully_connected(activation, input, weights, bias, output);
#endif
}

// Floats of scratch float_conv2d needs (im2col patches under Eigen; none for the scalar kernel).
inline std::size_t float_conv2d_scratch_floats(const Shape& input, const Shape& filter,
                                               const Conv2DOptions& options) {
#ifdef TSQ_FLOAT_BACKEND_EIGEN
  const Result<std::size_t> floats = eigen::conv2d_scratch_size(input, filter, options);
  return floats.is_ok() ? floats.value() : 0;
#else
  (void)input;
  (void)filter;
  (void)options;
  return 0;
#endif
}

inline Status float_conv2d(const Conv2DOptions& options, TensorView<const float> input,
                           TensorView<const float> filter, Span<const float> bias,
                           TensorView<float> output, Span<float> scratch) {
#ifdef TSQ_FLOAT_BACKEND_EIGEN
  return eigen::conv2d(options, input, filter, bias, output, scratch);
#else
  (void)scratch;
  return floating::conv2d(options, input, filter, bias, output);
#endif
}

}  // namespace detail
}  // namespace nn
}  // namespace tsq
