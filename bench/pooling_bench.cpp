// SPDX-License-Identifier: Apache-2.0
// MaxPool2D and AvgPool2D 2x1 (stride 2x1, VALID) on (1,124,6,64), and 1x2 on the ECG model's
// first pool (1,1,258,5): int8, int8_simd, int16, float.
// Mean (global average pooling) over (1,112,6,64) -> (1,64): int8, float.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tsq/kernels/float/avg_pool2d.hpp"
#include "tsq/kernels/float/max_pool2d.hpp"
#include "tsq/kernels/float/mean.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/mean.hpp"
#include "tsq/kernels/simd/avg_pool2d.hpp"
#include "tsq/kernels/simd/max_pool2d.hpp"

namespace tsq_bench {
namespace {

struct PoolShape {
  std::string name;
  tsq::Shape input;
  tsq::Pool2DWindow window;
};

// Keras MaxPooling2D((2, 1)): strides default to the pool size.
const PoolShape kPool{"pool", {1, 124, 6, 64}, {2, 1, 2, 1, tsq::Padding::valid}};
// The ECG model's first max pool: 5 channels, pairs along time (the width axis in TFLite).
const PoolShape kPoolEcg{"pool_ecg", {1, 1, 258, 5}, {1, 2, 1, 2, tsq::Padding::valid}};

// Pooling keeps the input's quantization: int8 asymmetric, int16 symmetric.
struct PoolCase {
  explicit PoolCase(const PoolShape& shape) {
    Rng rng = make_rng("pool/" + shape.name);
    output_shape = take(tsq::pool2d_output_shape(shape.input, shape.window), "output shape");
    input = uniform_floats(rng, shape.input.element_count(), -2.0f, 2.0f);
    output.resize(output_shape.element_count());
    params8 = int8_params(input);
    params16 = int16_params(input);
    input8 = quantize_all<std::int8_t>(input, params8);
    input16 = quantize_all<std::int16_t>(input, params16);
    output8.resize(output.size());
    output16.resize(output.size());
  }

  // Windows read every input once: work counts input + output elements.
  Work work(double element_bytes) const {
    return Work{0, static_cast<double>(output.size()),
                element_bytes * static_cast<double>(input.size() + output.size())};
  }

  tsq::Shape output_shape;
  std::vector<float> input, output;
  tsq::QuantParams params8, params16;
  std::vector<std::int8_t> input8, output8;
  std::vector<std::int16_t> input16, output16;
};

template <typename Quantization>
Quantization pool_quantization(const PoolShape& shape, const tsq::QuantParams& params) {
  Quantization q;
  q.input_shape = shape.input;
  q.input = params;
  q.output = params;
  q.window = shape.window;
  return q;
}

void add_max_pool2d(const PoolShape& shape) {
  add("max_pool2d", "int8", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const tsq::MaxPool2DParams params = take(
        tsq::prepare_max_pool2d(pool_quantization<tsq::MaxPool2DQuantization>(shape, c.params8)),
        "prepare_max_pool2d int8");
    const auto input = in(c.input8, shape.input);
    const auto output = out(c.output8, c.output_shape);
    time_eval(state, c.work(1), [&] { return tsq::reference::max_pool2d(params, input, output); });
  });
  add("max_pool2d", "int8_simd", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const auto params = take(
        tsq::prepare_max_pool2d(pool_quantization<tsq::MaxPool2DQuantization>(shape, c.params8)),
        "prepare_max_pool2d int8");
    const auto input = in(c.input8, shape.input);
    const auto output = out(c.output8, c.output_shape);
    time_eval(state, c.work(1), [&] { return tsq::simd::max_pool2d(params, input, output); });
  });
  add("max_pool2d", "int16", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const tsq::MaxPool2DParams params = take(
        tsq::prepare_max_pool2d(pool_quantization<tsq::MaxPool2DQuantization>(shape, c.params16)),
        "prepare_max_pool2d int16");
    const auto input = in(c.input16, shape.input);
    const auto output = out(c.output16, c.output_shape);
    time_eval(state, c.work(2), [&] { return tsq::reference::max_pool2d(params, input, output); });
  });
  add("max_pool2d", "float", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto output = out(c.output, c.output_shape);
    time_eval(state, c.work(4), [&] {
      return tsq::floating::max_pool2d(shape.window, tsq::FusedActivation::none, input, output);
    });
  });
}

void add_avg_pool2d(const PoolShape& shape) {
  add("avg_pool2d", "int8", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const tsq::AvgPool2DParams params = take(
        tsq::prepare_avg_pool2d(pool_quantization<tsq::AvgPool2DQuantization>(shape, c.params8)),
        "prepare_avg_pool2d int8");
    const auto input = in(c.input8, shape.input);
    const auto output = out(c.output8, c.output_shape);
    time_eval(state, c.work(1), [&] { return tsq::reference::avg_pool2d(params, input, output); });
  });
  add("avg_pool2d", "int8_simd", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const auto params = take(
        tsq::prepare_avg_pool2d(pool_quantization<tsq::AvgPool2DQuantization>(shape, c.params8)),
        "prepare_avg_pool2d int8");
    const auto input = in(c.input8, shape.input);
    const auto output = out(c.output8, c.output_shape);
    time_eval(state, c.work(1), [&] { return tsq::simd::avg_pool2d(params, input, output); });
  });
  add("avg_pool2d", "int16", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const tsq::AvgPool2DParams params = take(
        tsq::prepare_avg_pool2d(pool_quantization<tsq::AvgPool2DQuantization>(shape, c.params16)),
        "prepare_avg_pool2d int16");
    const auto input = in(c.input16, shape.input);
    const auto output = out(c.output16, c.output_shape);
    time_eval(state, c.work(2), [&] { return tsq::reference::avg_pool2d(params, input, output); });
  });
  add("avg_pool2d", "float", shape.name, [shape](benchmark::State& state) {
    PoolCase& c = cached<PoolCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto output = out(c.output, c.output_shape);
    time_eval(state, c.work(4), [&] {
      return tsq::floating::avg_pool2d(shape.window, tsq::FusedActivation::none, input, output);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Mean over the spatial axes (int8 only in the reference).

struct MeanShape {
  std::string name;
  tsq::Shape input;
};

const MeanShape kMean{"gap", {1, 112, 6, 64}};

struct MeanCase {
  explicit MeanCase(const MeanShape& shape) {
    Rng rng = make_rng("mean/" + shape.name);
    output_shape = take(tsq::mean_output_shape(shape.input, false), "output shape");
    input = uniform_floats(rng, shape.input.element_count(), -2.0f, 2.0f);
    output.resize(output_shape.element_count());
    check(tsq::floating::mean(in(input, shape.input), out(output, output_shape)), "float mean");
    tsq::MeanQuantization q;
    q.input_shape = shape.input;
    q.input = int8_params(input);
    q.output = int8_params(output);
    input8 = quantize_all<std::int8_t>(input, q.input);
    output8.resize(output.size());
    params8 = take(tsq::prepare_mean(q), "prepare_mean");
  }

  Work work(double element_bytes) const {
    return Work{0, static_cast<double>(output.size()),
                element_bytes * static_cast<double>(input.size() + output.size())};
  }

  tsq::Shape output_shape;
  std::vector<float> input, output;
  std::vector<std::int8_t> input8, output8;
  tsq::MeanParams params8;
};

void add_mean(const MeanShape& shape) {
  add("mean", "int8", shape.name, [shape](benchmark::State& state) {
    MeanCase& c = cached<MeanCase>(shape);
    const auto input = in(c.input8, shape.input);
    const auto output = out(c.output8, c.output_shape);
    time_eval(state, c.work(1), [&] { return tsq::reference::mean(c.params8, input, output); });
  });
  add("mean", "float", shape.name, [shape](benchmark::State& state) {
    MeanCase& c = cached<MeanCase>(shape);
    const auto input = in(c.input, shape.input);
    const auto output = out(c.output, c.output_shape);
    time_eval(state, c.work(4), [&] { return tsq::floating::mean(input, output); });
  });
}

}  // namespace

void register_pooling() {
  for (const PoolShape& shape : {kPool, kPoolEcg}) {
    add_max_pool2d(shape);
    add_avg_pool2d(shape);
  }
  add_mean(kMean);
}

}  // namespace tsq_bench
