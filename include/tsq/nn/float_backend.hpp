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
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/tensor/tensor_view.hpp"

#if !defined(TSQ_NO_EIGEN) && defined(__has_include)
#if __has_include(<Eigen/Core>)
#define TSQ_FLOAT_BACKEND_EIGEN 1
#include "tsq/kernels/eigen/conv2d.hpp"
#include "tsq/kernels/eigen/fully_connected.hpp"
#include "tsq/kernels/eigen/lstm.hpp"
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

// Floats of gate scratch float_lstm needs for a window of `steps` (Eigen: every step's gate
// pre-activations; the scalar kernel: one step's).
inline std::size_t float_lstm_scratch_floats(std::int32_t steps, std::int32_t hidden_size) {
  const std::size_t scalar = floating::lstm_scratch_size(hidden_size);
#ifdef TSQ_FLOAT_BACKEND_EIGEN
  const std::size_t fast = eigen::lstm_scratch_size(steps, hidden_size);
  return fast > scalar ? fast : scalar;
#else
  (void)steps;
  return scalar;
#endif
}

// A window of floating::lstm. Calibration (an observer of the gate ranges) runs the scalar
// kernel, which reports every step; a plain run takes Eigen's.
inline Status float_lstm(const floating::LstmWeights& weights, TensorView<const float> input,
                         TensorView<float> output, Span<float> hidden_state, Span<float> cell_state,
                         Span<float> scratch, bool reverse, LstmRangeObserver* observer) {
#ifdef TSQ_FLOAT_BACKEND_EIGEN
  if (observer == nullptr) {
    return eigen::lstm(weights, input, output, hidden_state, cell_state, scratch, reverse);
  }
#endif
  return floating::lstm(weights, input, output, hidden_state, cell_state, scratch, reverse,
                        observer);
}

}  // namespace detail
}  // namespace nn
}  // namespace tsq
