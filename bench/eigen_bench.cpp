// SPDX-License-Identifier: Apache-2.0
// The Eigen float kernels (kernels/eigen/) as flavour `eigen`: a fast float baseline beside the
// scalar `float` rows, so that integer speed-ups can also be read against optimized float code.
// Same shapes, data (the same seeds) and counters as the float rows of fully_connected_bench.cpp,
// conv_bench.cpp and lstm_bench.cpp; compiled like the rest of tsq_bench (-O2, no -march), so
// Eigen runs on the baseline vector instructions (SSE2 on x86-64).
//
// This file is built only where Eigen 3 was found, so it registers its rows itself (a static
// initializer) instead of through bench_main.cpp: they come before the other files' rows. Each
// case checks once, at setup, that the Eigen kernel agrees with the scalar float kernel.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "shapes.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/eigen/conv2d.hpp"
#include "tsq/kernels/eigen/fully_connected.hpp"
#include "tsq/kernels/eigen/lstm.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/reference/conv2d.hpp"

namespace tsq_bench {
namespace {

// Throws unless `got` is within 1e-4 of `expected`, relative to the largest |expected|.
void check_agreement(const std::vector<float>& got, const std::vector<float>& expected,
                     const std::string& what) {
  float largest = 0.0f;
  float difference = 0.0f;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    largest = std::max(largest, std::fabs(expected[i]));
    difference = std::max(difference, std::fabs(got[i] - expected[i]));
  }
  if (got.size() != expected.size() || !(difference <= 1e-4f * std::max(largest, 1e-30f))) {
    throw SetupError(what + ": the Eigen kernel differs from the scalar float kernel");
  }
}

// ---------------------------------------------------------------------------------------------
// FullyConnected on kFullyConnectedShapes (shapes.hpp).

struct FullyConnectedCase {
  explicit FullyConnectedCase(const FullyConnectedShape& shape) {
    Rng rng = make_rng("fully_connected/" + shape.name);
    input_shape = tsq::Shape{shape.batches, shape.input_depth};
    weights_shape = tsq::Shape{shape.units, shape.input_depth};
    output_shape = tsq::Shape{shape.batches, shape.units};
    macs = static_cast<double>(shape.batches) * shape.input_depth * shape.units;
    input = uniform_floats(rng, input_shape.element_count(), -1.0f, 1.0f);
    weights = random_weights(rng, weights_shape.element_count(), shape.input_depth);
    bias = uniform_floats(rng, static_cast<std::size_t>(shape.units), -0.1f, 0.1f);
    output.resize(output_shape.element_count());
    std::vector<float> scalar(output.size());
    check(
        tsq::floating::fully_connected(tsq::FusedActivation::none, in(input, input_shape),
                                       in(weights, weights_shape), bias, out(scalar, output_shape)),
        "float fully_connected");
    check(tsq::eigen::fully_connected(tsq::FusedActivation::none, in(input, input_shape),
                                      in(weights, weights_shape), bias, out(output, output_shape)),
          "eigen fully_connected");
    check_agreement(output, scalar, "fully_connected/" + shape.name);
  }

  tsq::Shape input_shape, weights_shape, output_shape;
  double macs = 0;
  std::vector<float> input, weights, bias, output;
};

void add_fully_connected(const FullyConnectedShape& shape) {
  add("fully_connected", "eigen", shape.name, [shape](benchmark::State& state) {
    FullyConnectedCase& c = cached<FullyConnectedCase>(shape);
    const auto input = in(c.input, c.input_shape);
    const auto weights = in(c.weights, c.weights_shape);
    const auto output = out(c.output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    const Work work = layer_work(
        {c.macs, c.input.size(), c.output.size(), c.weights.size(), c.bias.size()}, 4, 4, 4);
    time_eval(state, work, [&] {
      return tsq::eigen::fully_connected(tsq::FusedActivation::none, input, weights, bias, output);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Conv2D on kConvShapes (shapes.hpp).

struct ConvCase {
  explicit ConvCase(const ConvShape& shape) {
    Rng rng = make_rng("conv2d/" + shape.name);
    output_shape =
        take(tsq::conv2d_output_shape(shape.input, shape.filter, options), "output shape");
    const std::int32_t output_channels = shape.filter[0];
    const std::int32_t fan_in = shape.filter[1] * shape.filter[2] * shape.filter[3];
    macs = static_cast<double>(output_shape.element_count()) * fan_in;
    input = uniform_floats(rng, shape.input.element_count(), -1.0f, 1.0f);
    filter = random_weights(rng, shape.filter.element_count(), fan_in);
    bias = uniform_floats(rng, static_cast<std::size_t>(output_channels), -0.1f, 0.1f);
    output.resize(output_shape.element_count());
    scratch.resize(take(tsq::eigen::conv2d_scratch_size(shape.input, shape.filter, options),
                        "eigen conv2d_scratch_size"));
    std::vector<float> scalar(output.size());
    check(tsq::floating::conv2d(options, in(input, shape.input), in(filter, shape.filter), bias,
                                out(scalar, output_shape)),
          "float conv2d");
    check(tsq::eigen::conv2d(options, in(input, shape.input), in(filter, shape.filter), bias,
                             out(output, output_shape), scratch),
          "eigen conv2d");
    check_agreement(output, scalar, "conv2d/" + shape.name);
  }

  tsq::Conv2DOptions options;
  tsq::Shape output_shape;
  double macs = 0;
  std::vector<float> input, filter, bias, output, scratch;
};

void add_conv2d(const ConvShape& shape) {
  add("conv2d", "eigen", shape.name, [shape](benchmark::State& state) {
    ConvCase& c = cached<ConvCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto filter = in(c.filter, shape.filter);
    const auto output = out(c.output, c.output_shape);
    const tsq::Span<const float> bias(c.bias);
    const tsq::Span<float> scratch(c.scratch);
    const Work work = layer_work(
        {c.macs, c.input.size(), c.output.size(), c.filter.size(), c.bias.size()}, 4, 4, 4);
    time_eval(state, work,
              [&] { return tsq::eigen::conv2d(c.options, input, filter, bias, output, scratch); });
  });
}

// ---------------------------------------------------------------------------------------------
// LSTM on kLstmShapes (shapes.hpp), batch 1, every step's output, from the zero state.

struct LstmCase {
  explicit LstmCase(const LstmShape& shape) {
    Rng rng = make_rng("lstm/" + shape.name);
    const std::int32_t h = shape.hidden_size;
    const std::int32_t rows = tsq::kLstmGateCount * h;
    input_shape = tsq::Shape{1, shape.steps, shape.input_size};
    output_shape = tsq::Shape{1, shape.steps, h};
    macs = static_cast<double>(shape.steps) * rows * (shape.input_size + h);
    // Glorot-uniform kernels and Keras' unit forget bias, drawn as lstm_bench.cpp draws them.
    const float kernel_limit = std::sqrt(6.0f / static_cast<float>(shape.input_size + rows));
    const float recurrent_limit = std::sqrt(6.0f / static_cast<float>(h + rows));
    kernel = uniform_floats(rng, static_cast<std::size_t>(shape.input_size) * rows, -kernel_limit,
                            kernel_limit);
    recurrent_kernel =
        uniform_floats(rng, static_cast<std::size_t>(h) * rows, -recurrent_limit, recurrent_limit);
    bias.assign(static_cast<std::size_t>(rows), 0.0f);
    std::fill(bias.begin() + h, bias.begin() + 2 * h, 1.0f);
    weights = tsq::floating::LstmWeights{in(kernel, tsq::Shape{shape.input_size, rows}),
                                         in(recurrent_kernel, tsq::Shape{h, rows}), bias};
    input = uniform_floats(rng, input_shape.element_count(), -1.0f, 1.0f);
    output.resize(output_shape.element_count());
    hidden.assign(static_cast<std::size_t>(h), 0.0f);
    cell.assign(static_cast<std::size_t>(h), 0.0f);
    scratch.resize(tsq::eigen::lstm_scratch_size(shape.steps, h));
    std::vector<float> scalar(output.size()), step_scratch(tsq::floating::lstm_scratch_size(h));
    std::vector<float> scalar_hidden(hidden), scalar_cell(cell);
    check(tsq::floating::lstm(weights, in(input, input_shape), out(scalar, output_shape),
                              scalar_hidden, scalar_cell, step_scratch),
          "float lstm");
    check(tsq::eigen::lstm(weights, in(input, input_shape), out(output, output_shape), hidden, cell,
                           scratch),
          "eigen lstm");
    check_agreement(output, scalar, "lstm/" + shape.name);
  }

  tsq::Shape input_shape, output_shape;
  double macs = 0;
  std::vector<float> kernel, recurrent_kernel, bias;
  tsq::floating::LstmWeights weights;
  std::vector<float> input, output, hidden, cell, scratch;
};

void add_lstm(const LstmShape& shape) {
  add("lstm", "eigen", shape.name, [shape](benchmark::State& state) {
    LstmCase& c = cached<LstmCase>(shape);
    const auto input = in(c.input, c.input_shape);
    const auto output = out(c.output, c.output_shape);
    const Work work = layer_work({c.macs, c.input.size(), c.output.size(),
                                  c.kernel.size() + c.recurrent_kernel.size(), c.bias.size()},
                                 4, 4, 4);
    time_eval(state, work, [&] {
      std::fill(c.hidden.begin(), c.hidden.end(), 0.0f);
      std::fill(c.cell.begin(), c.cell.end(), 0.0f);
      return tsq::eigen::lstm(c.weights, input, output, c.hidden, c.cell, c.scratch);
    });
  });
}

bool register_eigen() {
  for (const FullyConnectedShape& shape : kFullyConnectedShapes) add_fully_connected(shape);
  for (const ConvShape& shape : kConvShapes) add_conv2d(shape);
  for (const LstmShape& shape : kLstmShapes) add_lstm(shape);
  return true;
}

[[maybe_unused]] const bool registered = register_eigen();

}  // namespace
}  // namespace tsq_bench
