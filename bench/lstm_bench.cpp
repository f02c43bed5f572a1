// SPDX-License-Identifier: Apache-2.0
// LSTM over a whole window, batch 1, every step's output returned:
//   int8    reference::lstm<int8_t, int16_t>: int8 input/output with tsq's int16 recurrent state
//           (LstmQuantizerOptions defaults: per-row weight scales, one saturation per gate sum)
//   int8_simd       simd::lstm on the detected path, bit-identical to int8 (the model API's
//                   int8 LSTM); int8_simd_avx2 the same forced to AVX2 where that is not the
//                   detected path
//   int16   reference::lstm<int16_t> ("16x8": int16 activations, int8 weights)
//   float   floating::lstm (Keras semantics)
//   hybrid  hybrid::lstm (int8 weights with per-row scales, float state)
// The integer layers come from ptq::quantize_lstm with the ranges of a float calibration run on
// the benchmark's own window. Each timed call starts from the zero state, as a new window does.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "shapes.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/hybrid/lstm.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/prepared.hpp"
#include "tsq/ptq/lstm_quantizer.hpp"

namespace tsq_bench {
namespace {

constexpr std::int32_t kGates = tsq::kLstmGateCount;

// Integer state and scratch of one integer flavour.
template <typename Activation>
struct IntegerLstm {
  tsq::QuantizedLstm<std::int8_t> layer;
  tsq::LstmIntegerWeights<std::int8_t> weights;
  std::vector<Activation> input, output;
  std::vector<std::int16_t> state,
      cell;  // int16 state: tsq's extension (int8) or the output (int16)
  std::vector<std::int32_t> scratch;
};

struct LstmCase {
  explicit LstmCase(const LstmShape& shape);

  tsq::Shape input_shape, output_shape;
  double macs = 0;
  // Keras layout: kernel [I, 4H], recurrent_kernel [H, 4H], bias [4H] (gate order i, f, c, o).
  std::vector<float> kernel, recurrent_kernel, bias;
  tsq::floating::LstmWeights float_weights;
  std::vector<float> input, output, hidden, cell, float_scratch;
  IntegerLstm<std::int8_t> int8;
  IntegerLstm<std::int16_t> int16;
  tsq::simd::PreparedLstm simd;
  std::vector<std::int32_t> simd_scratch;  // int32 words: 4-byte aligned bytes
  tsq::hybrid::LstmWeights hybrid_weights;
  tsq::hybrid::LstmParams hybrid_params;
  std::vector<std::int32_t> hybrid_row_sums;
  std::vector<float> hybrid_output, hybrid_hidden, hybrid_cell, hybrid_gates;
  std::vector<std::int8_t> hybrid_quantized;

  // Bytes per activation, weight and bias element of the flavour.
  Work work(double activation_bytes, double weight_bytes, double bias_bytes) const {
    return layer_work(
        {macs, input.size(), output.size(), kernel.size() + recurrent_kernel.size(), bias.size()},
        activation_bytes, weight_bytes, bias_bytes);
  }
};

template <typename Activation>
void prepare_integer(IntegerLstm<Activation>& flavour, const LstmCase& c,
                     const tsq::LstmRangeObserver& ranges, tsq::DataType type,
                     const LstmShape& shape) {
  tsq::LstmQuantizerOptions options;
  options.activation_type = type;
  flavour.layer = take(tsq::quantize_lstm<std::int8_t>(c.float_weights, ranges, options),
                       std::string("quantize_lstm ") + tsq::data_type_name(type));
  flavour.weights = flavour.layer.weights();
  flavour.input = quantize_all<Activation>(c.input, flavour.layer.input);
  flavour.output.resize(c.output.size());
  flavour.state.assign(static_cast<std::size_t>(shape.hidden_size), 0);
  flavour.cell.assign(static_cast<std::size_t>(shape.hidden_size), 0);
  flavour.scratch.resize(tsq::lstm_scratch_size(shape.steps, shape.hidden_size));
}

LstmCase::LstmCase(const LstmShape& shape) {
  Rng rng = make_rng("lstm/" + shape.name);
  const std::int32_t h = shape.hidden_size;
  const std::int32_t rows = kGates * h;
  input_shape = tsq::Shape{1, shape.steps, shape.input_size};
  output_shape = tsq::Shape{1, shape.steps, h};
  macs = static_cast<double>(shape.steps) * rows * (shape.input_size + h);
  // Glorot-uniform kernels and Keras' unit forget bias.
  const float kernel_limit = std::sqrt(6.0f / static_cast<float>(shape.input_size + rows));
  const float recurrent_limit = std::sqrt(6.0f / static_cast<float>(h + rows));
  kernel = uniform_floats(rng, static_cast<std::size_t>(shape.input_size) * rows, -kernel_limit,
                          kernel_limit);
  recurrent_kernel =
      uniform_floats(rng, static_cast<std::size_t>(h) * rows, -recurrent_limit, recurrent_limit);
  bias.assign(static_cast<std::size_t>(rows), 0.0f);
  std::fill(bias.begin() + h, bias.begin() + 2 * h, 1.0f);
  float_weights = tsq::floating::LstmWeights{in(kernel, tsq::Shape{shape.input_size, rows}),
                                             in(recurrent_kernel, tsq::Shape{h, rows}), bias};
  input = uniform_floats(rng, input_shape.element_count(), -1.0f, 1.0f);
  output.resize(output_shape.element_count());
  hidden.assign(static_cast<std::size_t>(h), 0.0f);
  cell.assign(static_cast<std::size_t>(h), 0.0f);
  float_scratch.resize(tsq::floating::lstm_scratch_size(h));

  // Calibration: one float run over the window records the ranges.
  tsq::LstmRangeObserver ranges;
  check(tsq::floating::lstm(float_weights, in(input, input_shape), out(output, output_shape),
                            hidden, cell, float_scratch, false, &ranges),
        "float lstm calibration");
  prepare_integer(int8, *this, ranges, tsq::DataType::int8, shape);
  prepare_integer(int16, *this, ranges, tsq::DataType::int16, shape);
  simd = take(tsq::simd::PreparedLstm::from_reference(int8.layer.params, int8.weights),
              "simd PreparedLstm");
  simd_scratch.resize((simd.scratch_bytes(shape.steps) + 3) / 4);

  // Hybrid: the int8 layer's weights and per-row scales, the float bias.
  const tsq::QuantizedLstm<std::int8_t>& layer = int8.layer;
  hybrid_weights =
      tsq::hybrid::LstmWeights{in(layer.input_weights, tsq::Shape{rows, shape.input_size}),
                               in(layer.recurrent_weights, tsq::Shape{rows, h}),
                               layer.input_weight_scales, layer.recurrent_weight_scales, bias};
  hybrid_row_sums.resize(2 * static_cast<std::size_t>(rows));
  hybrid_params =
      take(tsq::hybrid::prepare_lstm(hybrid_weights, hybrid_row_sums), "hybrid prepare_lstm");
  hybrid_output.resize(output.size());
  hybrid_hidden.assign(static_cast<std::size_t>(h), 0.0f);
  hybrid_cell.assign(static_cast<std::size_t>(h), 0.0f);
  hybrid_gates.resize(tsq::hybrid::lstm_gate_scratch_size(h));
  hybrid_quantized.resize(tsq::hybrid::lstm_quantized_scratch_size(shape.input_size, h));
}

void add_simd_lstm(const LstmShape& shape, const char* flavour, tsq::simd::Path path) {
  add("lstm", flavour, shape.name, [shape, path](benchmark::State& state) {
    LstmCase& c = cached<LstmCase>(shape);
    const tsq::simd::ScopedPath forced(path);
    check(forced.status(), "simd path");
    IntegerLstm<std::int8_t>& f = c.int8;
    const auto input = in(f.input, c.input_shape);
    const auto output = out(f.output, c.output_shape);
    const tsq::Span<std::int8_t> scratch(reinterpret_cast<std::int8_t*>(c.simd_scratch.data()),
                                         c.simd.scratch_bytes(shape.steps));
    time_eval(state, c.work(1, 1, 4), [&] {
      std::fill(f.state.begin(), f.state.end(), std::int16_t{0});
      std::fill(f.cell.begin(), f.cell.end(), std::int16_t{0});
      return c.simd.run<std::int16_t>(input, output, tsq::Span<std::int16_t>(f.state),
                                      tsq::Span<std::int16_t>(f.cell), scratch);
    });
  });
}

void add_lstm(const LstmShape& shape) {
  add("lstm", "int8", shape.name, [shape](benchmark::State& state) {
    LstmCase& c = cached<LstmCase>(shape);
    IntegerLstm<std::int8_t>& f = c.int8;
    const auto input = in(f.input, c.input_shape);
    const auto output = out(f.output, c.output_shape);
    time_eval(state, c.work(1, 1, 4), [&] {
      std::fill(f.state.begin(), f.state.end(), std::int16_t{0});  // int16 state: zero point 0
      std::fill(f.cell.begin(), f.cell.end(), std::int16_t{0});
      return tsq::reference::lstm<std::int8_t, std::int16_t>(f.layer.params, f.weights, input,
                                                             output, f.state, f.cell, f.scratch);
    });
  });
  add_simd_lstm(shape, "int8_simd", tsq::simd::detected_path());
  if (tsq::simd::path_supported(tsq::simd::Path::avx2) &&
      tsq::simd::detected_path() != tsq::simd::Path::avx2) {
    add_simd_lstm(shape, "int8_simd_avx2", tsq::simd::Path::avx2);
  }
  add("lstm", "int16", shape.name, [shape](benchmark::State& state) {
    LstmCase& c = cached<LstmCase>(shape);
    IntegerLstm<std::int16_t>& f = c.int16;
    const auto input = in(f.input, c.input_shape);
    const auto output = out(f.output, c.output_shape);
    time_eval(state, c.work(2, 1, 4), [&] {
      std::fill(f.state.begin(), f.state.end(), std::int16_t{0});
      std::fill(f.cell.begin(), f.cell.end(), std::int16_t{0});
      return tsq::reference::lstm<std::int16_t>(f.layer.params, f.weights, input, output, f.state,
                                                f.cell, f.scratch);
    });
  });
  add("lstm", "float", shape.name, [shape](benchmark::State& state) {
    LstmCase& c = cached<LstmCase>(shape);
    const auto input = in(c.input, c.input_shape);
    const auto output = out(c.output, c.output_shape);
    time_eval(state, c.work(4, 4, 4), [&] {
      std::fill(c.hidden.begin(), c.hidden.end(), 0.0f);
      std::fill(c.cell.begin(), c.cell.end(), 0.0f);
      return tsq::floating::lstm(c.float_weights, input, output, c.hidden, c.cell, c.float_scratch);
    });
  });
  add("lstm", "hybrid", shape.name, [shape](benchmark::State& state) {
    LstmCase& c = cached<LstmCase>(shape);
    const auto input = in(c.input, c.input_shape);
    const auto output = out(c.hybrid_output, c.output_shape);
    const tsq::hybrid::LstmScratch scratch{c.hybrid_gates, c.hybrid_quantized};
    time_eval(state, c.work(4, 1, 4), [&] {
      std::fill(c.hybrid_hidden.begin(), c.hybrid_hidden.end(), 0.0f);
      std::fill(c.hybrid_cell.begin(), c.hybrid_cell.end(), 0.0f);
      return tsq::hybrid::lstm(c.hybrid_params, c.hybrid_weights, input, output, c.hybrid_hidden,
                               c.hybrid_cell, scratch);
    });
  });
}

}  // namespace

void register_lstm() {
  for (const LstmShape& shape : kLstmShapes) add_lstm(shape);
}

}  // namespace tsq_bench
