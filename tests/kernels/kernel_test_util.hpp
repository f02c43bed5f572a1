// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the kernel tests: seeded random tensors and quantization parameters, the
// exhaustive-input and elementwise-run scaffolding, random convolution and pooling geometries,
// and the int8-vs-float comparison of convolution layers.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/pool2d_common.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quantize.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq_test {

using Rng = std::mt19937;

inline constexpr tsq::RoundingMode kBothModes[] = {tsq::RoundingMode::double_rounding,
                                                   tsq::RoundingMode::single_rounding};
inline constexpr double kFloatEpsilon = 1.0 / 16777216.0;  // 2^-24, float32 unit roundoff

// Every value of an integer type, in increasing order (the exhaustive elementwise tests).
template <typename T>
std::vector<T> every_value() {
  std::vector<T> values;
  for (std::int32_t v = std::numeric_limits<T>::min(); v <= std::numeric_limits<T>::max(); ++v) {
    values.push_back(static_cast<T>(v));
  }
  return values;
}

// Runs an elementwise kernel, kernel(input view, output view), on `input` as a rank-1 tensor and
// requires it to succeed.
template <typename T, typename Kernel>
std::vector<T> run_elementwise(const std::vector<T>& input, Kernel kernel) {
  std::vector<T> output(input.size());
  const tsq::Shape shape{static_cast<std::int32_t>(input.size())};
  REQUIRE(kernel(tsq::TensorView<const T>(input.data(), shape),
                 tsq::TensorView<T>(output.data(), shape))
              .is_ok());
  return output;
}

// An integer in [lo, hi] (rng() modulo the count: the draws the geometry generators make).
inline std::int32_t pick(Rng& rng, std::int32_t lo, std::int32_t hi) {
  return lo + static_cast<std::int32_t>(rng() % static_cast<std::uint32_t>(hi - lo + 1));
}

inline std::vector<float> absolute(std::vector<float> values) {
  for (float& v : values) v = std::fabs(v);
  return values;
}

template <typename T>
std::vector<T> random_integers(Rng& rng, std::size_t count, std::int32_t lo, std::int32_t hi) {
  std::uniform_int_distribution<std::int32_t> dist(lo, hi);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(dist(rng));
  return values;
}

inline std::vector<float> random_floats(Rng& rng, std::size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// A random int8 activation quantization: scale log-uniform in [1e-3, 1], any zero point.
inline tsq::QuantParams random_int8_params(Rng& rng) {
  std::uniform_real_distribution<float> log_scale(-3.0f, 0.0f);
  std::uniform_int_distribution<std::int32_t> zero_point(-128, 127);
  return tsq::make_quant_params(std::pow(10.0f, log_scale(rng)), zero_point(rng),
                                tsq::DataType::int8);
}

// A random int16 activation quantization: symmetric (zero point 0).
inline tsq::QuantParams random_int16_params(Rng& rng) {
  std::uniform_real_distribution<float> log_scale(-6.0f, -3.0f);
  return tsq::make_quant_params(std::pow(10.0f, log_scale(rng)), 0, tsq::DataType::int16);
}

template <typename T>
std::vector<float> dequantize_all(const std::vector<T>& q, const tsq::QuantParams& p) {
  std::vector<float> out(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) out[i] = tsq::dequantize(q[i], p);
  return out;
}

// Dequantizes per-channel weights whose channel is the index along axis 0 (rows).
inline std::vector<float> dequantize_rows(const std::vector<std::int8_t>& q,
                                          const std::vector<float>& scales,
                                          std::size_t row_length) {
  std::vector<float> out(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    out[i] = static_cast<float>(q[i]) * scales[scales.size() == 1 ? 0 : i / row_length];
  }
  return out;
}

// The window and input size of a random convolution (Conv2D and DepthwiseConv2D tests): by
// trial % 4 a k x 1, 1 x k, square or any kernel; strides 1-3, dilations 1-2, VALID or SAME, an
// activation; VALID inputs are the dilated kernel extent plus 0..8, SAME ones 1..same_max_*.
struct RandomConvWindow {
  std::int32_t kernel_height = 1;
  std::int32_t kernel_width = 1;
  tsq::Padding padding = tsq::Padding::valid;
  std::int32_t stride_height = 1;
  std::int32_t stride_width = 1;
  std::int32_t dilation_height = 1;
  std::int32_t dilation_width = 1;
  tsq::FusedActivation activation = tsq::FusedActivation::none;
  std::int32_t height = 1;
  std::int32_t width = 1;
};

inline RandomConvWindow random_conv_window(Rng& rng, int trial, std::int32_t same_max_height,
                                           std::int32_t same_max_width) {
  RandomConvWindow w;
  switch (trial % 4) {
    case 0: w.kernel_height = pick(rng, 1, 5); break;
    case 1: w.kernel_width = pick(rng, 1, 5); break;
    case 2: w.kernel_height = w.kernel_width = pick(rng, 1, 4); break;
    default: w.kernel_height = pick(rng, 1, 4); w.kernel_width = pick(rng, 1, 4);
  }
  w.padding = pick(rng, 0, 1) == 0 ? tsq::Padding::valid : tsq::Padding::same;
  w.stride_height = pick(rng, 1, 3);
  w.stride_width = pick(rng, 1, 3);
  w.dilation_height = pick(rng, 1, 2);
  w.dilation_width = pick(rng, 1, 2);
  w.activation = static_cast<tsq::FusedActivation>(pick(rng, 0, 2));
  const std::int32_t extent_height = (w.kernel_height - 1) * w.dilation_height + 1;
  const std::int32_t extent_width = (w.kernel_width - 1) * w.dilation_width + 1;
  w.height = w.padding == tsq::Padding::valid ? extent_height + pick(rng, 0, 8)
                                              : pick(rng, 1, same_max_height);
  w.width = w.padding == tsq::Padding::valid ? extent_width + pick(rng, 0, 8)
                                             : pick(rng, 1, same_max_width);
  return w;
}

// The options of a random window (Conv2DOptions or DepthwiseConv2DOptions).
template <typename Options>
void apply_window(const RandomConvWindow& w, Options& options) {
  options.padding = w.padding;
  options.stride_height = w.stride_height;
  options.stride_width = w.stride_width;
  options.dilation_height = w.dilation_height;
  options.dilation_width = w.dilation_width;
  options.activation = w.activation;
}

// An int8 convolution layer under test (Conv2D or DepthwiseConv2D): its integer data and
// quantization. The op's test derives prepare() and run() from it.
template <typename Options, typename Quantization>
struct Int8ConvLayer {
  tsq::Shape input_shape, filter_shape;
  std::vector<std::int8_t> input, filter, output;
  std::vector<std::int32_t> bias;
  std::vector<float> filter_scales;
  std::vector<tsq::QuantizedMultiplier> multipliers;
  tsq::QuantParams input_params = tsq::make_quant_params(1.0f, 0, tsq::DataType::int8);
  tsq::QuantParams output_params = tsq::make_quant_params(1.0f, 0, tsq::DataType::int8);
  Options options;

  // What prepare reads. Also sizes `multipliers`, the multiplier storage: call it before taking
  // a Span of them.
  Quantization quantization(tsq::RoundingMode rounding) {
    multipliers.assign(filter_scales.size(), tsq::QuantizedMultiplier{});
    Quantization q;
    q.input_shape = input_shape;
    q.input = input_params;
    q.filter_shape = filter_shape;
    q.filter_scales = filter_scales;
    q.output = output_params;
    q.options = options;
    q.rounding = rounding;
    return q;
  }
};

// Random int8 input and filter, a random input quantization, filter scales (one per output
// channel or one) and an output scale that keeps most outputs inside the int8 range. Returns the
// real bias; its quantization is in layer.bias.
template <typename Layer>
std::vector<float> randomize_int8_conv(Rng& rng, Layer& layer, std::int32_t output_channels,
                                       std::size_t taps, bool per_channel) {
  layer.input = random_integers<std::int8_t>(rng, layer.input_shape.element_count(), -128, 127);
  layer.filter = random_integers<std::int8_t>(rng, layer.filter_shape.element_count(), -127, 127);
  layer.input_params = random_int8_params(rng);
  layer.filter_scales =
      random_floats(rng, per_channel ? static_cast<std::size_t>(output_channels) : 1, 1e-3f, 2e-2f);
  // The accumulator's spread: sqrt(taps) * rms(W) * rms(x - Z_in) ~ sqrt(taps) * 73 * 120.
  // An output scale of 1/40 of it keeps most outputs inside the int8 range.
  const float typical = layer.input_params.scale * layer.filter_scales[0] * 73.0f * 120.0f *
                        std::sqrt(static_cast<float>(taps));
  layer.output_params = tsq::make_quant_params(
      typical / 40.0f, static_cast<std::int32_t>(rng() % 100) - 50, tsq::DataType::int8);
  const std::vector<float> real_bias =
      random_floats(rng, static_cast<std::size_t>(output_channels), -typical, typical);
  layer.bias.resize(real_bias.size());
  REQUIRE(tsq::quantize_bias(real_bias, layer.input_params.scale, layer.filter_scales, layer.bias)
              .is_ok());
  return real_bias;
}

// How many outputs a comparison checked, and how many of them lay strictly inside the
// activation range.
struct Compared {
  int outputs = 0;
  int unsaturated = 0;
  Compared& operator+=(const Compared& other) {
    outputs += other.outputs;
    unsaturated += other.unsaturated;
    return *this;
  }
};

// Runs an int8 convolution layer in both rounding modes and compares each output (channel =
// index % output_channels) with the float kernel's `y` on the dequantized input, filter and
// real bias. `magnitude` is the float kernel on the absolute values (sum |W X| + |bias|).
// Bound per output: the bias rounding S_in * S_w[c] / 2; the requantization S_out / 2 (single
// rounding) or S_out * (1/2 + 2^-(r+1)) (double rounding at right shift r); float32 rounding
// (taps + 4) * 2^-24 * magnitude + 2 * 2^-24 * |y|; the clamp applied to both. The two modes
// differ by at most one step (spec 2.4).
template <typename Layer>
Compared compare_int8_conv_with_float(Layer& layer, const std::vector<float>& y,
                                      const std::vector<float>& magnitude,
                                      std::int32_t output_channels, std::size_t taps,
                                      bool per_channel, int trial) {
  std::vector<std::int8_t> double_output;
  Compared compared;
  for (const tsq::RoundingMode rounding : kBothModes) {
    layer.run(rounding);
    const auto params = layer.prepare(rounding);
    const float lo = tsq::dequantize(params->activation.min, layer.output_params);
    const float hi = tsq::dequantize(params->activation.max, layer.output_params);
    for (std::size_t i = 0; i < y.size(); ++i) {
      const std::size_t c = i % static_cast<std::size_t>(output_channels);
      const double filter_scale = layer.filter_scales[per_channel ? c : 0];
      // Single rounding: half a step. Double rounding (spec 2.3): half a step at the right
      // shift r plus half of 2^-r steps at bit 31 (e.g. 1.25 -> 2 when r = 1).
      const int shift = params->multipliers[per_channel ? c : 0].shift;
      const double requantization = rounding == tsq::RoundingMode::double_rounding && shift < 0
                                        ? 0.5 + std::ldexp(0.5, shift)
                                        : 0.5;
      const double bound = requantization * layer.output_params.scale +
                           layer.input_params.scale * filter_scale / 2 +
                           (static_cast<double>(taps) + 4) * kFloatEpsilon * magnitude[i] +
                           2 * kFloatEpsilon * std::fabs(y[i]);
      const float expected = std::min(std::max(y[i], lo), hi);
      const float got = tsq::dequantize(layer.output[i], layer.output_params);
      INFO("trial " << trial << " output " << i << " mode " << tsq::rounding_mode_name(rounding)
                    << " got " << got << " expected " << expected << " bound " << bound);
      REQUIRE(std::fabs(static_cast<double>(got) - expected) <= bound);
      ++compared.outputs;
      if (layer.output[i] > params->activation.min && layer.output[i] < params->activation.max) {
        ++compared.unsaturated;
      }
    }
    if (rounding == tsq::RoundingMode::double_rounding) {
      double_output = layer.output;
    } else {
      for (std::size_t i = 0; i < y.size(); ++i) {
        REQUIRE(std::abs(double_output[i] - layer.output[i]) <= 1);
      }
    }
  }
  return compared;
}

// A random pooling layer (AvgPool2D and MaxPool2D vs float): batch 1-2, 1..12 x 1..12, 1..5
// channels, filter 1..5, stride 1..4; SAME on even trials; the activation by trial % 3.
struct RandomPoolLayer {
  tsq::Shape input_shape;
  tsq::Pool2DWindow window;
  tsq::FusedActivation activation = tsq::FusedActivation::none;

  // VALID with a filter larger than the input: prepare must refuse the layer.
  bool window_exceeds_input() const {
    return window.padding == tsq::Padding::valid &&
           (window.filter_height > input_shape[1] || window.filter_width > input_shape[2]);
  }
};

inline RandomPoolLayer random_pool_layer(Rng& rng, int trial) {
  const std::int32_t batch = 1 + static_cast<std::int32_t>(rng() % 2);
  const std::int32_t height = 1 + static_cast<std::int32_t>(rng() % 12);
  const std::int32_t width = 1 + static_cast<std::int32_t>(rng() % 12);
  const std::int32_t channels = 1 + static_cast<std::int32_t>(rng() % 5);
  RandomPoolLayer layer;
  layer.window.filter_height = 1 + static_cast<std::int32_t>(rng() % 5);
  layer.window.filter_width = 1 + static_cast<std::int32_t>(rng() % 5);
  layer.window.stride_height = 1 + static_cast<std::int32_t>(rng() % 4);
  layer.window.stride_width = 1 + static_cast<std::int32_t>(rng() % 4);
  layer.window.padding = trial % 2 == 0 ? tsq::Padding::same : tsq::Padding::valid;
  layer.activation = static_cast<tsq::FusedActivation>(trial % 3);
  layer.input_shape = tsq::Shape{batch, height, width, channels};
  return layer;
}

}  // namespace tsq_test
