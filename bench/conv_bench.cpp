// SPDX-License-Identifier: Apache-2.0
// Conv2D (int8, int16, float, hybrid) and DepthwiseConv2D (int8, int8_simd, float). Conv2D's
// int8_simd is simd::conv2d on the detected path (bit-identical to int8), int8_simd_avx2 the same
// forced to AVX2 where AVX2 is not already the detected path.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "shapes.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/depthwise_conv2d.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/simd/conv2d.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/depthwise_conv2d.hpp"
#include "tsq/kernels/simd/prepared.hpp"

namespace tsq_bench {
namespace {

// ---------------------------------------------------------------------------------------------
// Conv2D on kConvShapes (shapes.hpp).

struct ConvCase {
  explicit ConvCase(const ConvShape& shape);

  tsq::Conv2DOptions options;
  tsq::Shape output_shape;
  double macs = 0;
  // The float model; its output range sets the integer output parameters.
  std::vector<float> input, filter, bias, output;
  QuantizedWeights weights;  // int8 per output channel, shared by int8, int16 and hybrid
  QuantizedActivations<std::int8_t> int8;
  tsq::Conv2DParams params8;
  QuantizedActivations<std::int16_t> int16;
  tsq::Conv2DParams params16;
  tsq::hybrid::Conv2DParams hybrid_params;
  std::vector<std::int8_t> hybrid_scratch;
  std::vector<float> hybrid_output;
  tsq::simd::SimdConv2DParams simd_params;  // int8_simd: params8's layer, packed
  tsq::simd::OwnedPackedWeights simd_filter;
  std::vector<std::int8_t> simd_scratch;

  // Bytes per activation, filter and bias element of the flavour.
  Work work(double activation_bytes, double filter_bytes, double bias_bytes) const {
    return layer_work({macs, input.size(), output.size(), filter.size(), bias.size()},
                      activation_bytes, filter_bytes, bias_bytes);
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
  int8 = QuantizedActivations<std::int8_t>(input, output, bias, weights.scales);
  q.input = int8.input_params;
  q.output = int8.output_params;
  params8 = take(tsq::prepare_conv2d(q, int8.multipliers), "prepare_conv2d int8");

  int16 = QuantizedActivations<std::int16_t>(input, output, bias, weights.scales);
  q.input = int16.input_params;
  q.output = int16.output_params;
  params16 = take(tsq::prepare_conv2d(q, int16.multipliers), "prepare_conv2d int16");

  hybrid_params =
      take(tsq::hybrid::prepare_conv2d(shape.input, shape.filter, weights.scales, options),
           "hybrid prepare_conv2d");
  hybrid_scratch.resize(tsq::hybrid::conv2d_scratch_size(hybrid_params));
  hybrid_output.resize(output.size());

  simd_params = take(tsq::simd::prepare_conv2d(params8), "simd prepare_conv2d");
  simd_filter.allocate(tsq::simd::conv2d_packed_size(simd_params));
  simd_filter.adopt(
      take(tsq::simd::pack_conv2d(params8, in(weights.values, shape.filter), int8.bias,
                                  simd_filter.value_storage(), simd_filter.tile_storage()),
           "simd pack_conv2d"));
  simd_scratch.resize(tsq::simd::conv2d_scratch_size(simd_params));
}

// simd::conv2d on `path` (the detected one for int8_simd).
void add_simd_conv2d(const ConvShape& shape, const char* flavour, tsq::simd::Path path) {
  add("conv2d", flavour, shape.name, [shape, path](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const tsq::simd::ScopedPath forced(path);
    check(forced.status(), "simd path");
    const auto input = in(c.int8.input, shape.input);
    const auto output = out(c.int8.output, c.output_shape);
    const tsq::Span<std::int8_t> scratch(c.simd_scratch);
    time_eval(state, c.work(1, 1, 4), [&] {
      return tsq::simd::conv2d(c.simd_params, input, c.simd_filter.view(), output, scratch);
    });
  });
}

void add_conv2d(const ConvShape& shape) {
  add("conv2d", "int8", shape.name, [shape](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const auto input = in(c.int8.input, shape.input);
    const auto filter = in(c.weights.values, shape.filter);
    const auto output = out(c.int8.output, c.output_shape);
    const tsq::Span<const std::int32_t> bias(c.int8.bias);
    time_eval(state, c.work(1, 1, 4),
              [&] { return tsq::reference::conv2d(c.params8, input, filter, bias, output); });
  });
  add_simd_conv2d(shape, "int8_simd", tsq::simd::detected_path());
  if (tsq::simd::path_supported(tsq::simd::Path::avx2) &&
      tsq::simd::detected_path() != tsq::simd::Path::avx2) {
    add_simd_conv2d(shape, "int8_simd_avx2", tsq::simd::Path::avx2);
  }
  add("conv2d", "int16", shape.name, [shape](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const auto input = in(c.int16.input, shape.input);
    const auto filter = in(c.weights.values, shape.filter);
    const auto output = out(c.int16.output, c.output_shape);
    const tsq::Span<const std::int64_t> bias(c.int16.bias);
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
  QuantizedActivations<std::int8_t> int8;
  tsq::DepthwiseConv2DParams params8;
  tsq::simd::PreparedDepthwiseConv2D simd;  // int8_simd: params8's layer, packed
  std::vector<std::int8_t> simd_scratch;

  // Bytes per activation, filter and bias element of the flavour.
  Work work(double activation_bytes, double filter_bytes, double bias_bytes) const {
    return layer_work({macs, input.size(), output.size(), filter.size(), bias.size()},
                      activation_bytes, filter_bytes, bias_bytes);
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
  int8 = QuantizedActivations<std::int8_t>(input, output, bias, weights.scales);
  q.input = int8.input_params;
  q.output = int8.output_params;
  params8 = take(tsq::prepare_depthwise_conv2d(q, int8.multipliers), "prepare_depthwise_conv2d");
  simd = take(tsq::simd::PreparedDepthwiseConv2D::from_reference(
                  params8, in(weights.values, shape.filter), int8.bias),
              "simd depthwise_conv2d");
  simd_scratch.resize(simd.scratch_size());
}

void add_depthwise_conv2d(const DepthwiseShape& shape) {
  add("depthwise_conv2d", "int8", shape.name, [shape](benchmark::State& state) {
    DepthwiseCase& c = cached<DepthwiseCase>(shape);
    const auto input = in(c.int8.input, shape.input);
    const auto filter = in(c.weights.values, shape.filter);
    const auto output = out(c.int8.output, c.output_shape);
    const tsq::Span<const std::int32_t> bias(c.int8.bias);
    time_eval(state, c.work(1, 1, 4), [&] {
      return tsq::reference::depthwise_conv2d(c.params8, input, filter, bias, output);
    });
  });
  // simd::depthwise_conv2d on the detected path (bit-identical to int8).
  add("depthwise_conv2d", "int8_simd", shape.name, [shape](benchmark::State& state) {
    DepthwiseCase& c = cached<DepthwiseCase>(shape);
    const auto input = in(c.int8.input, shape.input);
    const auto output = out(c.int8.output, c.output_shape);
    const tsq::Span<std::int8_t> scratch(c.simd_scratch);
    time_eval(state, c.work(1, 1, 4), [&] { return c.simd.run(input, output, scratch); });
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
