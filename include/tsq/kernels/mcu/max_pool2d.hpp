// SPDX-License-Identifier: Apache-2.0
// MaxPool2D int8 with the reference's result (kernels/reference/max_pool2d.hpp) in loops that
// run over the channels innermost: each output pixel starts from its window's first tap and
// takes the elementwise maximum of the others, contiguous channel rows that a compiler turns
// into vector code on a host and into short loops on a microcontroller. A maximum does not
// depend on the order of its operands, so the outputs are the reference's
// (tests/kernels/mcu_kernels_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/kernels/reference/max_pool2d.hpp"

namespace tsq {
namespace mcu {

// Unchecked, as the exported models and the model API call it: contiguous NHWC input and
// output as `params` (from prepare_max_pool2d, int8) say.
inline void max_pool2d_int8(const MaxPool2DParams& params, const std::int8_t* input,
                            std::int8_t* output) {
  const Pool2DGeometry& g = params.geometry;
  const std::int32_t channels = g.output.channels;
  const auto low = static_cast<std::int8_t>(params.activation.min);
  const auto high = static_cast<std::int8_t>(params.activation.max);
  for (std::int32_t n = 0; n < g.output.batch; ++n) {
    for (std::int32_t oy = 0; oy < g.output.height; ++oy) {
      for (std::int32_t ox = 0; ox < g.output.width; ++ox) {
        // >= 1 tap: prepare rejects windows that lie entirely in the padding.
        const tsq::detail::Pool2DWindowBounds w = tsq::detail::pool2d_window_bounds(g, oy, ox);
        const std::int8_t* first = input + tsq::nhwc_offset(g.input, n, w.y_begin, w.x_begin, 0);
        for (std::int32_t c = 0; c < channels; ++c) output[c] = first[c];
        for (std::int32_t y = w.y_begin; y < w.y_end; ++y) {
          for (std::int32_t x = w.x_begin; x < w.x_end; ++x) {
            const std::int8_t* tap = input + tsq::nhwc_offset(g.input, n, y, x, 0);
            for (std::int32_t c = 0; c < channels; ++c) {
              output[c] = tap[c] > output[c] ? tap[c] : output[c];
            }
          }
        }
        for (std::int32_t c = 0; c < channels; ++c) {
          output[c] = output[c] < low ? low : (output[c] > high ? high : output[c]);
        }
        output += channels;
      }
    }
  }
}

// Checked: the same views and errors as reference::max_pool2d; views with gaps take the
// reference's loops.
inline Status max_pool2d(const MaxPool2DParams& params, TensorView<const std::int8_t> input,
                         TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("MaxPool2D", params));
  TSQ_RETURN_IF_ERROR(
      tsq::detail::check_pool2d_views("MaxPool2D", params.geometry, params.type, input, output));
  if (!input.is_contiguous() || !output.is_contiguous()) {
    return reference::max_pool2d(params, input, output);
  }
  max_pool2d_int8(params, input.data(), output.data());
  return Status::ok();
}

}  // namespace mcu
}  // namespace tsq
