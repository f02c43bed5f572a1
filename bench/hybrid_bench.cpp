// SPDX-License-Identifier: Apache-2.0
// Hybrid (DRQ) FullyConnected and Conv2D on the SIMD paths: fully_connected/hybrid_simd/<shape>
// and conv2d/hybrid_simd/<shape>, simd::hybrid_fully_connected and simd::hybrid_conv2d on the
// detected path, for the shapes whose `hybrid` rows (the reference, in fully_connected_bench.cpp
// and conv_bench.cpp) they compare with. The layers are built from the same seeded data as
// those rows, and setup checks that the output floats equal the reference's bit for bit.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "shapes.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/simd/hybrid_conv2d.hpp"
#include "tsq/kernels/simd/hybrid_fully_connected.hpp"

namespace tsq_bench {
namespace {

// Throws unless the floats are identical bit for bit.
void check_identical(const std::vector<float>& got, const std::vector<float>& expected,
                     const std::string& what) {
  if (got.size() != expected.size() ||
      std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) != 0) {
    throw SetupError(what + ": hybrid_simd differs from the hybrid reference");
  }
}

struct HybridFullyConnectedCase {
  explicit HybridFullyConnectedCase(const FullyConnectedShape& shape);

  tsq::Shape input_shape, weights_shape, output_shape;
  double macs = 0;
  std::vector<float> input, weights, bias, output;
  QuantizedWeights quantized;
  std::vector<std::int32_t> row_sums;
  tsq::hybrid::FullyConnectedParams params;
  tsq::simd::OwnedPackedWeights packed;
  std::vector<std::int8_t> scratch;

  Work work() const {
    return layer_work({macs, input.size(), output.size(), weights.size(), bias.size()}, 4, 1, 4);
  }
};

HybridFullyConnectedCase::HybridFullyConnectedCase(const FullyConnectedShape& shape) {
  // The data of fully_connected_bench.cpp's case of this shape: same seed, same draws.
  Rng rng = make_rng("fully_connected/" + shape.name);
  input_shape = tsq::Shape{shape.batches, shape.input_depth};
  weights_shape = tsq::Shape{shape.units, shape.input_depth};
  output_shape = tsq::Shape{shape.batches, shape.units};
  macs = static_cast<double>(shape.batches) * shape.input_depth * shape.units;
  input = uniform_floats(rng, input_shape.element_count(), -1.0f, 1.0f);
  weights = random_weights(rng, weights_shape.element_count(), shape.input_depth);
  bias = uniform_floats(rng, static_cast<std::size_t>(shape.units), -0.1f, 0.1f);
  output.resize(output_shape.element_count());
  quantized = quantize_weights(weights, static_cast<std::size_t>(shape.units), false);
  row_sums.resize(static_cast<std::size_t>(shape.units));
  params = take(
      tsq::hybrid::prepare_fully_connected(in(quantized.values, weights_shape), quantized.scales,
                                           tsq::FusedActivation::none, row_sums),
      "hybrid prepare_fully_connected");
  packed.allocate(tsq::simd::hybrid_fully_connected_packed_size(params));
  packed.adopt(
      take(tsq::simd::pack_hybrid_fully_connected(params, in(quantized.values, weights_shape),
                                                  packed.value_storage(), packed.tile_storage()),
           "simd pack_hybrid_fully_connected"));
  scratch.resize(tsq::simd::hybrid_fully_connected_scratch_size(params, shape.batches));

  std::vector<float> expected(output.size());
  std::vector<std::int8_t> reference_scratch(
      tsq::hybrid::fully_connected_scratch_size(shape.input_depth));
  check(tsq::hybrid::fully_connected(params, in(input, input_shape),
                                     in(quantized.values, weights_shape), bias,
                                     out(expected, output_shape), reference_scratch),
        "hybrid fully_connected");
  check(tsq::simd::hybrid_fully_connected(params, in(input, input_shape), packed.view(), bias,
                                          out(output, output_shape), scratch),
        "simd hybrid_fully_connected");
  check_identical(output, expected, "fully_connected/" + shape.name);
}

struct HybridConvCase {
  explicit HybridConvCase(const ConvShape& shape);

  tsq::Conv2DOptions options;
  tsq::Shape output_shape;
  double macs = 0;
  std::vector<float> input, filter, bias, output;
  QuantizedWeights weights;
  tsq::hybrid::Conv2DParams reference_params;
  std::vector<std::int32_t> filter_sums;
  tsq::simd::SimdHybridConv2DParams params;
  tsq::simd::OwnedPackedWeights packed;
  std::vector<std::int8_t> scratch;

  Work work() const {
    return layer_work({macs, input.size(), output.size(), filter.size(), bias.size()}, 4, 1, 4);
  }
};

HybridConvCase::HybridConvCase(const ConvShape& shape) {
  // The data of conv_bench.cpp's case of this shape: same seed, same draws.
  Rng rng = make_rng("conv2d/" + shape.name);
  output_shape = take(tsq::conv2d_output_shape(shape.input, shape.filter, options), "output shape");
  const std::int32_t output_channels = shape.filter[0];
  const std::int32_t fan_in = shape.filter[1] * shape.filter[2] * shape.filter[3];
  macs = static_cast<double>(output_shape.element_count()) * fan_in;
  input = uniform_floats(rng, shape.input.element_count(), -1.0f, 1.0f);
  filter = random_weights(rng, shape.filter.element_count(), fan_in);
  bias = uniform_floats(rng, static_cast<std::size_t>(output_channels), -0.1f, 0.1f);
  output.resize(output_shape.element_count());
  weights = quantize_weights(filter, static_cast<std::size_t>(output_channels), false);
  reference_params =
      take(tsq::hybrid::prepare_conv2d(shape.input, shape.filter, weights.scales, options),
           "hybrid prepare_conv2d");
  filter_sums.resize(static_cast<std::size_t>(output_channels));
  params = take(tsq::simd::prepare_hybrid_conv2d(reference_params, in(weights.values, shape.filter),
                                                 filter_sums),
                "simd prepare_hybrid_conv2d");
  packed.allocate(tsq::simd::hybrid_conv2d_packed_size(params));
  packed.adopt(take(tsq::simd::pack_hybrid_conv2d(params, in(weights.values, shape.filter),
                                                  packed.value_storage(), packed.tile_storage()),
                    "simd pack_hybrid_conv2d"));
  scratch.resize(tsq::simd::hybrid_conv2d_scratch_size(params));

  std::vector<float> expected(output.size());
  std::vector<std::int8_t> reference_scratch(tsq::hybrid::conv2d_scratch_size(reference_params));
  check(tsq::hybrid::conv2d(reference_params, in(input, shape.input),
                            in(weights.values, shape.filter), bias, out(expected, output_shape),
                            reference_scratch),
        "hybrid conv2d");
  check(tsq::simd::hybrid_conv2d(params, in(input, shape.input), packed.view(), bias,
                                 out(output, output_shape), scratch),
        "simd hybrid_conv2d");
  check_identical(output, expected, "conv2d/" + shape.name);
}

void add_hybrid_fully_connected(const FullyConnectedShape& shape) {
  add("fully_connected", "hybrid_simd", shape.name, [shape](benchmark::State& state) {
    HybridFullyConnectedCase& c = cached<HybridFullyConnectedCase>(shape);
    const auto input = in(c.input, c.input_shape);
    const auto output = out(c.output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    const tsq::Span<std::int8_t> scratch(c.scratch);
    time_eval(state, c.work(), [&] {
      return tsq::simd::hybrid_fully_connected(c.params, input, c.packed.view(), bias, output,
                                               scratch);
    });
  });
}

void add_hybrid_conv2d(const ConvShape& shape) {
  add("conv2d", "hybrid_simd", shape.name, [shape](benchmark::State& state) {
    HybridConvCase& c = cached<HybridConvCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto output = out(c.output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    const tsq::Span<std::int8_t> scratch(c.scratch);
    time_eval(state, c.work(), [&] {
      return tsq::simd::hybrid_conv2d(c.params, input, c.packed.view(), bias, output, scratch);
    });
  });
}

}  // namespace

void register_hybrid() {
  for (const FullyConnectedShape& shape : kFullyConnectedShapes) add_hybrid_fully_connected(shape);
  for (const ConvShape& shape : kConvShapes) add_hybrid_conv2d(shape);
}

}  // namespace tsq_bench
