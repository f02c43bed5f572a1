// SPDX-License-Identifier: Apache-2.0
// FullyConnected (int8, int16, float, hybrid): a GEMV, an LSTM's input projection over 112 steps
// and the memory-bound 62336 -> 128 layer (8 MB of int8 weights, 32 MB in float).
// int8_simd is simd::fully_connected on the detected path (bit-identical to int8), and
// int8_simd_avx2 the same forced to AVX2 where AVX2 is not already the detected path. The
// machine's peaks (peak_bench.cpp) are registered after these rows, to compare them with.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "shapes.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/fully_connected.hpp"
#include "tsq/kernels/simd/prepared.hpp"

namespace tsq_bench {

namespace {

struct FullyConnectedCase {
  explicit FullyConnectedCase(const FullyConnectedShape& shape);

  tsq::Shape input_shape, weights_shape, output_shape;
  double macs = 0;
  std::vector<float> input, weights, bias, output;
  QuantizedWeights quantized;  // int8 per unit, shared by int8, int16 and hybrid
  QuantizedActivations<std::int8_t> int8;
  tsq::FullyConnectedParams params8;
  QuantizedActivations<std::int16_t> int16;
  tsq::FullyConnectedParams params16;
  std::vector<std::int32_t> row_sums;
  tsq::hybrid::FullyConnectedParams hybrid_params;
  std::vector<std::int8_t> hybrid_scratch;
  std::vector<float> hybrid_output;
  tsq::simd::SimdFullyConnectedParams simd_params;  // int8_simd: params8's layer, packed
  tsq::simd::OwnedPackedWeights simd_weights;
  std::vector<std::int8_t> simd_scratch;

  // Bytes per activation, weight and bias element of the flavour.
  Work work(double activation_bytes, double weight_bytes, double bias_bytes) const {
    return layer_work({macs, input.size(), output.size(), weights.size(), bias.size()},
                      activation_bytes, weight_bytes, bias_bytes);
  }
};

FullyConnectedCase::FullyConnectedCase(const FullyConnectedShape& shape) {
  Rng rng = make_rng("fully_connected/" + shape.name);
  input_shape = tsq::Shape{shape.batches, shape.input_depth};
  weights_shape = tsq::Shape{shape.units, shape.input_depth};
  output_shape = tsq::Shape{shape.batches, shape.units};
  macs = static_cast<double>(shape.batches) * shape.input_depth * shape.units;
  input = uniform_floats(rng, input_shape.element_count(), -1.0f, 1.0f);
  weights = random_weights(rng, weights_shape.element_count(), shape.input_depth);
  bias = uniform_floats(rng, static_cast<std::size_t>(shape.units), -0.1f, 0.1f);
  output.resize(output_shape.element_count());
  check(tsq::floating::fully_connected(tsq::FusedActivation::none, in(input, input_shape),
                                       in(weights, weights_shape), bias, out(output, output_shape)),
        "float fully_connected");
  quantized = quantize_weights(weights, static_cast<std::size_t>(shape.units), false);

  tsq::FullyConnectedQuantization q;
  q.input_shape = input_shape;
  q.weights_shape = weights_shape;
  q.weight_scales = quantized.scales;
  int8 = QuantizedActivations<std::int8_t>(input, output, bias, quantized.scales);
  q.input = int8.input_params;
  q.output = int8.output_params;
  params8 = take(tsq::prepare_fully_connected(q, int8.multipliers), "prepare_fully_connected int8");

  int16 = QuantizedActivations<std::int16_t>(input, output, bias, quantized.scales);
  q.input = int16.input_params;
  q.output = int16.output_params;
  params16 =
      take(tsq::prepare_fully_connected(q, int16.multipliers), "prepare_fully_connected int16");

  row_sums.resize(static_cast<std::size_t>(shape.units));
  hybrid_params = take(
      tsq::hybrid::prepare_fully_connected(in(quantized.values, weights_shape), quantized.scales,
                                           tsq::FusedActivation::none, row_sums),
      "hybrid prepare_fully_connected");
  hybrid_scratch.resize(tsq::hybrid::fully_connected_scratch_size(shape.input_depth));
  hybrid_output.resize(output.size());

  simd_params = take(tsq::simd::prepare_fully_connected(params8), "simd prepare_fully_connected");
  simd_weights.allocate(tsq::simd::fully_connected_packed_size(simd_params));
  simd_weights.adopt(take(
      tsq::simd::pack_fully_connected(params8, in(quantized.values, weights_shape), int8.bias,
                                      simd_weights.value_storage(), simd_weights.tile_storage()),
      "simd pack_fully_connected"));
  simd_scratch.resize(tsq::simd::fully_connected_scratch_size(simd_params, shape.batches));
}

// simd::fully_connected on `path` (the detected one for int8_simd).
void add_simd_fully_connected(const FullyConnectedShape& shape, const char* flavour,
                              tsq::simd::Path path) {
  add("fully_connected", flavour, shape.name, [shape, path](benchmark::State& state) {
    FullyConnectedCase& c = cached<FullyConnectedCase>(shape);
    const tsq::simd::ScopedPath forced(path);
    check(forced.status(), "simd path");
    const auto input = in(c.int8.input, c.input_shape);
    const auto output = out(c.int8.output, c.output_shape);
    const tsq::Span<std::int8_t> scratch(c.simd_scratch);
    time_eval(state, c.work(1, 1, 4), [&] {
      return tsq::simd::fully_connected(c.simd_params, input, c.simd_weights.view(), output,
                                        scratch);
    });
  });
}

void add_fully_connected(const FullyConnectedShape& shape) {
  add("fully_connected", "int8", shape.name, [shape](benchmark::State& state) {
    FullyConnectedCase& c = cached<FullyConnectedCase>(shape);
    const auto input = in(c.int8.input, c.input_shape);
    const auto weights = in(c.quantized.values, c.weights_shape);
    const auto output = out(c.int8.output, c.output_shape);
    const tsq::Span<const std::int32_t> bias(c.int8.bias);
    time_eval(state, c.work(1, 1, 4), [&] {
      return tsq::reference::fully_connected(c.params8, input, weights, bias, output);
    });
  });
  add_simd_fully_connected(shape, "int8_simd", tsq::simd::detected_path());
  if (tsq::simd::path_supported(tsq::simd::Path::avx2) &&
      tsq::simd::detected_path() != tsq::simd::Path::avx2) {
    add_simd_fully_connected(shape, "int8_simd_avx2", tsq::simd::Path::avx2);
  }
  add("fully_connected", "int16", shape.name, [shape](benchmark::State& state) {
    FullyConnectedCase& c = cached<FullyConnectedCase>(shape);
    const auto input = in(c.int16.input, c.input_shape);
    const auto weights = in(c.quantized.values, c.weights_shape);
    const auto output = out(c.int16.output, c.output_shape);
    const tsq::Span<const std::int64_t> bias(c.int16.bias);
    time_eval(state, c.work(2, 1, 8), [&] {
      return tsq::reference::fully_connected(c.params16, input, weights, bias, output);
    });
  });
  add("fully_connected", "float", shape.name, [shape](benchmark::State& state) {
    FullyConnectedCase& c = cached<FullyConnectedCase>(shape);
    const auto input = in(c.input, c.input_shape);
    const auto weights = in(c.weights, c.weights_shape);
    const auto output = out(c.output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    time_eval(state, c.work(4, 4, 4), [&] {
      return tsq::floating::fully_connected(tsq::FusedActivation::none, input, weights, bias,
                                            output);
    });
  });
  add("fully_connected", "hybrid", shape.name, [shape](benchmark::State& state) {
    FullyConnectedCase& c = cached<FullyConnectedCase>(shape);
    const auto input = in(c.input, c.input_shape);
    const auto weights = in(c.quantized.values, c.weights_shape);
    const auto output = out(c.hybrid_output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    const tsq::Span<std::int8_t> scratch(c.hybrid_scratch);
    time_eval(state, c.work(4, 1, 4), [&] {
      return tsq::hybrid::fully_connected(c.hybrid_params, input, weights, bias, output, scratch);
    });
  });
}

}  // namespace

void register_fully_connected() {
  for (const FullyConnectedShape& shape : kFullyConnectedShapes) add_fully_connected(shape);
}

}  // namespace tsq_bench
