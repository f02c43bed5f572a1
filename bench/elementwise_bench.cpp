// SPDX-License-Identifier: Apache-2.0
// Elementwise ops over 64k values (logistic, tanh, relu: int8, int16, float; quantize,
// dequantize, requantize: int8, int16, no float twin) and Softmax over 6 classes and over
// 1x1000 (int8, int16, float).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tsq/kernels/float/logistic.hpp"
#include "tsq/kernels/float/relu.hpp"
#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/float/tanh.hpp"
#include "tsq/kernels/reference/dequantize.hpp"
#include "tsq/kernels/reference/logistic.hpp"
#include "tsq/kernels/reference/quantize.hpp"
#include "tsq/kernels/reference/relu.hpp"
#include "tsq/kernels/reference/requantize.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/kernels/reference/tanh.hpp"
#include "tsq/kernels/simd/softmax.hpp"

namespace tsq_bench {
namespace {

struct ElementwiseShape {
  std::string name;
  tsq::Shape shape;
};

const ElementwiseShape kElements{"elems_64k", {1, 65536}};
const ElementwiseShape kSoftmaxShapes[] = {
    {"softmax_6", {1, 6}},
    {"softmax_1000", {1, 1000}},
};

// Values in [-8, 8] (the span of the int16 sigmoid/tanh tables), quantized asymmetric int8 and
// symmetric int16 as a converter would from that range. Shared by every op of one shape.
struct ElementwiseCase {
  explicit ElementwiseCase(const ElementwiseShape& shape) {
    Rng rng = make_rng("elementwise/" + shape.name);
    input = uniform_floats(rng, shape.shape.element_count(), -8.0f, 8.0f);
    output.resize(input.size());
    params8 = int8_params(input);
    params16 = int16_params(input);
    input8 = quantize_all<std::int8_t>(input, params8);
    input16 = quantize_all<std::int16_t>(input, params16);
    output8.resize(input.size());
    output16.resize(input.size());
  }

  // Bytes per input and output element of the flavour.
  Work work(double input_bytes, double output_bytes) const {
    return Work{0, static_cast<double>(input.size()),
                (input_bytes + output_bytes) * static_cast<double>(input.size())};
  }

  std::vector<float> input, output;
  tsq::QuantParams params8, params16;
  std::vector<std::int8_t> input8, output8;
  std::vector<std::int16_t> input16, output16;
};

const tsq::QuantParams kQ0_15 = tsq::make_quant_params(1.0f / 32768, 0, tsq::DataType::int16);

// Registers the int8, int16 and float flavours of a logistic-like op: `Quantization` names its
// fixed int8 output (scale, zero point); `prepare`, `reference_eval` and `float_eval` are the op.
template <typename Quantization, typename Prepare, typename ReferenceEval, typename FloatEval>
void add_logistic_like(const char* op, const ElementwiseShape& shape, tsq::QuantParams int8_output,
                       Prepare prepare, ReferenceEval reference_eval, FloatEval float_eval) {
  add(op, "int8", shape.name, [=](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    Quantization q;
    q.shape = shape.shape;
    q.input = c.params8;
    q.output = int8_output;
    const auto params = take(prepare(q), std::string(op) + " prepare int8");
    const auto input = in(c.input8, shape.shape);
    const auto output = out(c.output8, shape.shape);
    time_eval(state, c.work(1, 1), [&] { return reference_eval(params, input, output); });
  });
  add(op, "int16", shape.name, [=](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    Quantization q;
    q.shape = shape.shape;
    q.input = c.params16;
    q.output = kQ0_15;
    const auto params = take(prepare(q), std::string(op) + " prepare int16");
    const auto input = in(c.input16, shape.shape);
    const auto output = out(c.output16, shape.shape);
    time_eval(state, c.work(2, 2), [&] { return reference_eval(params, input, output); });
  });
  add(op, "float", shape.name, [=](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    const auto input = in(c.input, shape.shape);
    const auto output = out(c.output, shape.shape);
    time_eval(state, c.work(4, 4), [&] { return float_eval(input, output); });
  });
}

// Generic lambdas pick the int8 or int16 overload of the kernel.
void add_logistic(const ElementwiseShape& shape) {
  add_logistic_like<tsq::LogisticQuantization>(
      "logistic", shape, tsq::make_quant_params(1.0f / 256, -128, tsq::DataType::int8),
      [](const tsq::LogisticQuantization& q) { return tsq::prepare_logistic(q); },
      [](const tsq::LogisticParams& p, auto input, auto output) {
        return tsq::reference::logistic(p, input, output);
      },
      [](tsq::TensorView<const float> input, tsq::TensorView<float> output) {
        return tsq::floating::logistic(input, output);
      });
}

void add_tanh(const ElementwiseShape& shape) {
  add_logistic_like<tsq::TanhQuantization>(
      "tanh", shape, tsq::make_quant_params(1.0f / 128, 0, tsq::DataType::int8),
      [](const tsq::TanhQuantization& q) { return tsq::prepare_tanh(q); },
      [](const tsq::TanhParams& p, auto input, auto output) {
        return tsq::reference::tanh(p, input, output);
      },
      [](tsq::TensorView<const float> input, tsq::TensorView<float> output) {
        return tsq::floating::tanh(input, output);
      });
}

// ReLU with requantization: the output parameters cover [0, 8] (int8 zero point -128).
void add_relu(const ElementwiseShape& shape) {
  add("relu", "int8", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    tsq::ReluQuantization q;
    q.shape = shape.shape;
    q.input = c.params8;
    q.output = take(tsq::choose_quant_params(0.0, 8.0), "relu output params");
    const tsq::ReluParams params = take(tsq::prepare_relu(q), "prepare_relu int8");
    const auto input = in(c.input8, shape.shape);
    const auto output = out(c.output8, shape.shape);
    time_eval(state, c.work(1, 1), [&] { return tsq::reference::relu(params, input, output); });
  });
  add("relu", "int16", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    tsq::ReluQuantization q;
    q.shape = shape.shape;
    q.input = c.params16;
    q.output = c.params16;
    const tsq::ReluParams params = take(tsq::prepare_relu(q), "prepare_relu int16");
    const auto input = in(c.input16, shape.shape);
    const auto output = out(c.output16, shape.shape);
    time_eval(state, c.work(2, 2), [&] { return tsq::reference::relu(params, input, output); });
  });
  add("relu", "float", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    const auto input = in(c.input, shape.shape);
    const auto output = out(c.output, shape.shape);
    time_eval(state, c.work(4, 4), [&] { return tsq::floating::relu(input, output); });
  });
}

// Softmax over the last axis; int8 -> int8 (1/256, -128), int16 -> int16 (1/32768, 0).
void add_softmax(const ElementwiseShape& shape) {
  add("softmax", "int8", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    tsq::SoftmaxQuantization q;
    q.shape = shape.shape;
    q.input = c.params8;
    q.output = tsq::make_quant_params(1.0f / 256, -128, tsq::DataType::int8);
    const tsq::SoftmaxParams params = take(tsq::prepare_softmax(q), "prepare_softmax int8");
    const auto input = in(c.input8, shape.shape);
    const auto output = out(c.output8, shape.shape);
    time_eval(state, c.work(1, 1), [&] { return tsq::reference::softmax(params, input, output); });
  });
  // The same layer with its exponentials tabled once (simd::softmax, bit-identical).
  add("softmax", "int8_simd", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    tsq::SoftmaxQuantization q;
    q.shape = shape.shape;
    q.input = c.params8;
    q.output = tsq::make_quant_params(1.0f / 256, -128, tsq::DataType::int8);
    const tsq::SoftmaxParams params = take(tsq::prepare_softmax(q), "prepare_softmax int8");
    tsq::simd::SoftmaxExpTable table;
    check(tsq::simd::make_softmax_exp_table(params, table), "make_softmax_exp_table");
    const auto input = in(c.input8, shape.shape);
    const auto output = out(c.output8, shape.shape);
    time_eval(state, c.work(1, 1),
              [&] { return tsq::simd::softmax(params, table, input, output); });
  });
  add("softmax", "int16", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    tsq::SoftmaxQuantization q;
    q.shape = shape.shape;
    q.input = c.params16;
    q.output = kQ0_15;
    const tsq::SoftmaxParams params = take(tsq::prepare_softmax(q), "prepare_softmax int16");
    const auto input = in(c.input16, shape.shape);
    const auto output = out(c.output16, shape.shape);
    time_eval(state, c.work(2, 2), [&] { return tsq::reference::softmax(params, input, output); });
  });
  add("softmax", "float", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    const auto input = in(c.input, shape.shape);
    const auto output = out(c.output, shape.shape);
    time_eval(state, c.work(4, 4), [&] { return tsq::floating::softmax(1.0f, input, output); });
  });
}

// The float edges of a fully integer model (no float twin: they convert to and from float).
void add_quantize_dequantize(const ElementwiseShape& shape) {
  add("quantize", "int8", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    const tsq::QuantizeParams params =
        take(tsq::prepare_quantize({shape.shape, c.params8}), "prepare_quantize int8");
    const auto input = in(c.input, shape.shape);
    const auto output = out(c.output8, shape.shape);
    time_eval(state, c.work(4, 1), [&] { return tsq::reference::quantize(params, input, output); });
  });
  add("quantize", "int16", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    const tsq::QuantizeParams params =
        take(tsq::prepare_quantize({shape.shape, c.params16}), "prepare_quantize int16");
    const auto input = in(c.input, shape.shape);
    const auto output = out(c.output16, shape.shape);
    time_eval(state, c.work(4, 2), [&] { return tsq::reference::quantize(params, input, output); });
  });
  add("dequantize", "int8", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    const tsq::DequantizeParams params =
        take(tsq::prepare_dequantize({shape.shape, c.params8}), "prepare_dequantize int8");
    const auto input = in(c.input8, shape.shape);
    const auto output = out(c.output, shape.shape);
    time_eval(state, c.work(1, 4),
              [&] { return tsq::reference::dequantize(params, input, output); });
  });
  add("dequantize", "int16", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    const tsq::DequantizeParams params =
        take(tsq::prepare_dequantize({shape.shape, c.params16}), "prepare_dequantize int16");
    const auto input = in(c.input16, shape.shape);
    const auto output = out(c.output, shape.shape);
    time_eval(state, c.work(2, 4),
              [&] { return tsq::reference::dequantize(params, input, output); });
  });
}

// Requantize to a coarser scale and another zero point (int8) / a coarser scale (int16).
void add_requantize(const ElementwiseShape& shape) {
  add("requantize", "int8", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    tsq::RequantizeQuantization q;
    q.shape = shape.shape;
    q.input = c.params8;
    q.output = take(tsq::choose_quant_params(-10.0, 14.0), "requantize output params");
    const tsq::RequantizeParams params = take(tsq::prepare_requantize(q), "prepare_requantize");
    const auto input = in(c.input8, shape.shape);
    const auto output = out(c.output8, shape.shape);
    time_eval(state, c.work(1, 1), [&] {
      return tsq::reference::requantize<std::int8_t, std::int8_t>(params, input, output);
    });
  });
  add("requantize", "int16", shape.name, [shape](benchmark::State& state) {
    ElementwiseCase& c = cached<ElementwiseCase>(shape);
    tsq::RequantizeQuantization q;
    q.shape = shape.shape;
    q.input = c.params16;
    q.output = c.params16;
    q.output.scale *= 1.5f;
    const tsq::RequantizeParams params = take(tsq::prepare_requantize(q), "prepare_requantize");
    const auto input = in(c.input16, shape.shape);
    const auto output = out(c.output16, shape.shape);
    time_eval(state, c.work(2, 2), [&] {
      return tsq::reference::requantize<std::int16_t, std::int16_t>(params, input, output);
    });
  });
}

}  // namespace

void register_elementwise() {
  add_logistic(kElements);
  add_tanh(kElements);
  add_relu(kElements);
  for (const ElementwiseShape& shape : kSoftmaxShapes) add_softmax(shape);
  add_quantize_dequantize(kElements);
  add_requantize(kElements);
}

}  // namespace tsq_bench
