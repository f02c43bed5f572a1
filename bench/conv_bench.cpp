// SPDX-License-Identifier: Apache-2.0
// Conv2D (int8, int16, float, hybrid) and DepthwiseConv2D (int8, float).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/depthwise_conv2d.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"

namespace tsq_bench {
namespace {

// ---------------------------------------------------------------------------------------------
// Conv2D. All VALID, stride 1, no fused activation (the DESIGN table gives VALID for conv_deep;
// conv_first is the same model's first layer; conv_ecg's padding is not given, VALID assumed).

struct ConvShape {
  std::string name;
  tsq::Shape input;   // [N, H, W, C_in]
  tsq::Shape filter;  // [C_out, KH, KW, C_in]
};

const ConvShape kConvShapes[] = {
    {"conv_deep", {1, 128, 6, 64}, {64, 5, 1, 64}},
    {"conv_first", {1, 128, 6, 1}, {64, 5, 1, 1}},
    {"conv_ecg", {1, 12, 996, 32}, {32, 1, 5, 32}},
};

struct ConvCase {
  explicit ConvCase(const ConvShape& shape);

  tsq::Conv2DOptions options;
  tsq::Shape output_shape;
  double macs = 0;
  // The float model; its output range sets the integer output parameters.
  std::vector<float> input, filter, bias, output;
  QuantizedWeights weights;  // int8 per output channel, shared by int8, int16 and hybrid
  std::vector<std::int8_t> input8, output8;
  std::vector<std::int32_t> bias32;
  std::vector<tsq::QuantizedMultiplier> multipliers8;
  tsq::Conv2DParams params8;
  std::vector<std::int16_t> input16, output16;
  std::vector<std::int64_t> bias64;
  std::vector<tsq::QuantizedMultiplier> multipliers16;
  tsq::Conv2DParams params16;
  tsq::hybrid::Conv2DParams hybrid_params;
  std::vector<std::int8_t> hybrid_scratch;
  std::vector<float> hybrid_output;

  // Bytes per activation, filter and bias element of the flavour.
  Work work(double activation_bytes, double filter_bytes, double bias_bytes) const {
    return Work{macs, static_cast<double>(output.size()),
                activation_bytes * static_cast<double>(input.size() + output.size()) +
                    filter_bytes * static_cast<double>(filter.size()) +
                    bias_bytes * static_cast<double>(bias.size())};
  }
};

ConvCase::ConvCase(const ConvShape& shape) {
  Rng rng = make_rng("conv2d/" + shape.name);
  output_shape = take(tsq::conv2d_output_shape(shape.input, shape.filter, options), "output shape");
  const std::int32_t output_channels = shape.filter[0];
  const std::int32_t fan_in = shape.filter[1] * shape.filter[2] * shape.filter[3];
  macs = static_cast<double>(output_shape.element_count()) * fan_in;
  input = uniform_floats(rng, shape.input.element_count(), -1.0f, 1.0f);
  filter = random_weights(rng, shape.filter.element_count(), fan_in);
  bias = uniform_floats(rng, static_cast<std::size_t>(output_channels), -0.1f, 0.1f);
  output.resize(output_shape.element_count());
  check(tsq::floating::conv2d(options, in(input, shape.input), in(filter, shape.filter), bias,
                              out(output, output_shape)),
        "float conv2d");
  weights = quantize_weights(filter, static_cast<std::size_t>(output_channels), false);

  tsq::Conv2DQuantization q;
  q.input_shape = shape.input;
  q.filter_shape = shape.filter;
  q.filter_scales = weights.scales;
  q.options = options;
  q.input = int8_params(input);
  q.output = int8_params(output);
  input8 = quantize_all<std::int8_t>(input, q.input);
  output8.resize(output.size());
  bias32 = bias_int32(bias, q.input.scale, weights.scales);
  multipliers8.resize(weights.scales.size());
  params8 = take(tsq::prepare_conv2d(q, multipliers8), "prepare_conv2d int8");

  q.input = int16_params(input);
  q.output = int16_params(output);
  input16 = quantize_all<std::int16_t>(input, q.input);
  output16.resize(output.size());
  bias64 = bias_int64(bias, q.input.scale, weights.scales);
  multipliers16.resize(weights.scales.size());
  params16 = take(tsq::prepare_conv2d(q, multipliers16), "prepare_conv2d int16");

  hybrid_params =
      take(tsq::hybrid::prepare_conv2d(shape.input, shape.filter, weights.scales, options),
           "hybrid prepare_conv2d");
  hybrid_scratch.resize(tsq::hybrid::conv2d_scratch_size(hybrid_params));
  hybrid_output.resize(output.size());
}

void add_conv2d(const ConvShape& shape) {
  add("conv2d", "int8", shape.name, [shape](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const auto input = in(c.input8, shape.input);
    const auto filter = in(c.weights.values, shape.filter);
    const auto output = out(c.output8, c.output_shape);
    const tsq::Span<const std::int32_t> bias(c.bias32);
    time_eval(state, c.work(1, 1, 4),
              [&] { return tsq::reference::conv2d(c.params8, input, filter, bias, output); });
  });
  add("conv2d", "int16", shape.name, [shape](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const auto input = in(c.input16, shape.input);
    const auto filter = in(c.weights.values, shape.filter);
    const auto output = out(c.output16, c.output_shape);
    const tsq::Span<const std::int64_t> bias(c.bias64);
    time_eval(state, c.work(2, 1, 8),
              [&] { return tsq::reference::conv2d(c.params16, input, filter, bias, output); });
  });
  add("conv2d", "float", shape.name, [shape](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto filter = in(c.filter, shape.filter);
    const auto output = out(c.output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    time_eval(state, c.work(4, 4, 4),
              [&] { return tsq::floating::conv2d(c.options, input, filter, bias, output); });
  });
  add("conv2d", "hybrid", shape.name, [shape](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto filter = in(c.weights.values, shape.filter);
    const auto output = out(c.hybrid_output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    const tsq::Span<std::int8_t> scratch(c.hybrid_scratch);
    time_eval(state, c.work(4, 1, 4), [&] {
      return tsq::hybrid::conv2d(c.hybrid_params, input, filter, bias, output, scratch);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// DepthwiseConv2D (int8 only in the reference). VALID, stride 1.

struct DepthwiseShape {
  std::string name;
  tsq::Shape input;   // [N, H, W, C_in]
  tsq::Shape filter;  // [1, KH, KW, C_in * multiplier]
  std::int32_t depth_multiplier;
};

const DepthwiseShape kDepthwiseShapes[] = {
    // The ECG model's first layer: one lead, 3 taps along time, 5 output channels.
    {"dw_ecg", {1, 1, 260, 1}, {1, 1, 3, 5}, 5},
    // A 64-channel 5x1 depthwise layer on conv_deep's input.
    {"dw_deep", {1, 128, 6, 64}, {1, 5, 1, 64}, 1},
};

struct DepthwiseCase {
  explicit DepthwiseCase(const DepthwiseShape& shape);

  tsq::DepthwiseConv2DOptions options;
  tsq::Shape output_shape;
  double macs = 0;
  std::vector<float> input, filter, bias, output;
  QuantizedWeights weights;
  std::vector<std::int8_t> input8, output8;
  std::vector<std::int32_t> bias32;
  std::vector<tsq::QuantizedMultiplier> multipliers8;
  tsq::DepthwiseConv2DParams params8;

  // Bytes per activation, filter and bias element of the flavour.
  Work work(double activation_bytes, double filter_bytes, double bias_bytes) const {
    return Work{macs, static_cast<double>(output.size()),
                activation_bytes * static_cast<double>(input.size() + output.size()) +
                    filter_bytes * static_cast<double>(filter.size()) +
                    bias_bytes * static_cast<double>(bias.size())};
  }
};

DepthwiseCase::DepthwiseCase(const DepthwiseShape& shape) {
  Rng rng = make_rng("depthwise_conv2d/" + shape.name);
  options.depth_multiplier = shape.depth_multiplier;
  output_shape =
      take(tsq::depthwise_conv2d_output_shape(shape.input, shape.filter, options), "output shape");
  const std::int32_t channels = shape.filter[3];
  const std::int32_t taps = shape.filter[1] * shape.filter[2];
  macs = static_cast<double>(output_shape.element_count()) * taps;
  input = uniform_floats(rng, shape.input.element_count(), -1.0f, 1.0f);
  filter = random_weights(rng, shape.filter.element_count(), taps);
  bias = uniform_floats(rng, static_cast<std::size_t>(channels), -0.1f, 0.1f);
  output.resize(output_shape.element_count());
  check(tsq::floating::depthwise_conv2d(options, in(input, shape.input), in(filter, shape.filter),
                                        bias, out(output, output_shape)),
        "float depthwise_conv2d");
  weights = quantize_weights(filter, static_cast<std::size_t>(channels), true);

  tsq::DepthwiseConv2DQuantization q;
  q.input_shape = shape.input;
  q.filter_shape = shape.filter;
  q.filter_scales = weights.scales;
  q.options = options;
  q.input = int8_params(input);
  q.output = int8_params(output);
  input8 = quantize_all<std::int8_t>(input, q.input);
  output8.resize(output.size());
  bias32 = bias_int32(bias, q.input.scale, weights.scales);
  multipliers8.resize(weights.scales.size());
  params8 = take(tsq::prepare_depthwise_conv2d(q, multipliers8), "prepare_depthwise_conv2d");
}

void add_depthwise_conv2d(const DepthwiseShape& shape) {
  add("depthwise_conv2d", "int8", shape.name, [shape](benchmark::State& state) {
    DepthwiseCase& c = cached<DepthwiseCase>(shape);
    const auto input = in(c.input8, shape.input);
    const auto filter = in(c.weights.values, shape.filter);
    const auto output = out(c.output8, c.output_shape);
    const tsq::Span<const std::int32_t> bias(c.bias32);
    time_eval(state, c.work(1, 1, 4), [&] {
      return tsq::reference::depthwise_conv2d(c.params8, input, filter, bias, output);
    });
  });
  add("depthwise_conv2d", "float", shape.name, [shape](benchmark::State& state) {
    DepthwiseCase& c = cached<DepthwiseCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto filter = in(c.filter, shape.filter);
    const auto output = out(c.output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    time_eval(state, c.work(4, 4, 4), [&] {
      return tsq::floating::depthwise_conv2d(c.options, input, filter, bias, output);
    });
  });
}

}  // namespace

void register_conv2d() {
  for (const ConvShape& shape : kConvShapes) add_conv2d(shape);
}

void register_depthwise_conv2d() {
  for (const DepthwiseShape& shape : kDepthwiseShapes) add_depthwise_conv2d(shape);
}

}  // namespace tsq_bench
