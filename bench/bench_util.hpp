// SPDX-License-Identifier: Apache-2.0
// Shared helpers of tsq_bench: seeded data, the quantization a converter would choose for it,
// the `<op>/<flavour>/<shape>` registration and the timed loop.
//
// Every case (the float model, its quantized twins, params, scratch and output buffers) is built
// once, on first use, outside the timed loop, and shared by the flavours of that shape; the loop
// times only the kernel's eval call. Setup errors throw (this is host code) and become a skipped
// benchmark with the message, and a non-zero exit status of tsq_bench.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/quant/quantize.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq_bench {

// ---------------------------------------------------------------------------------------------
// Registration (one function per source file, called from main in a fixed order).

void register_conv2d();
void register_depthwise_conv2d();
void register_fully_connected();
void register_hybrid();  // hybrid_simd: DRQ FullyConnected and Conv2D on kernels/simd
void register_lstm();
void register_pooling();  // max_pool2d, avg_pool2d, mean
void register_add();
void register_elementwise();  // logistic, tanh, relu, softmax, quantize, dequantize, requantize
void register_io();           // load_npz
void register_peak();         // this CPU's limits: peak/vnni, peak/fma, peak/stream_8mb
void register_models();       // whole models: model/float/<model>, model/int8/<model>

class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline int& failure_count() {
  static int count = 0;
  return count;
}

// Registers `<op>/<flavour>/<shape>`, reported in microseconds. `body(state)` fetches its case
// and calls time_eval.
template <typename Body>
void add(const std::string& op, const char* flavour, const std::string& shape, Body body) {
  const std::string name = op + "/" + flavour + "/" + shape;
  benchmark::RegisterBenchmark(name.c_str(), [body](benchmark::State& state) {
    try {
      body(state);
    } catch (const std::exception& error) {
      ++failure_count();
      state.SkipWithError(error.what());
    }
  })->Unit(benchmark::kMicrosecond);
}

// Builds the case of `shape` on first use and keeps it for the other flavours and for the
// benchmark library's repeated calls. A constructor that throws leaves no entry.
template <typename Case, typename ShapeSpec>
Case& cached(const ShapeSpec& shape) {
  static std::map<std::string, std::unique_ptr<Case>> cases;
  std::unique_ptr<Case>& slot = cases[shape.name];
  if (!slot) slot = std::make_unique<Case>(shape);
  return *slot;
}

// ---------------------------------------------------------------------------------------------
// Counters.

// What one eval call does: multiply-accumulates (0 for ops without), output elements, and the
// bytes of every operand (inputs, weights, bias, output) read or written once.
struct Work {
  double macs = 0;
  double elements = 0;
  double bytes = 0;
};

// items_per_second counts MACs where the op has them, output elements otherwise; the MACs
// counter is the same for every flavour of a shape, so that rows compare.
inline void set_counters(benchmark::State& state, const Work& work) {
  const auto iterations = static_cast<double>(state.iterations());
  if (work.macs > 0) {
    state.counters["MACs"] = work.macs;
    state.SetItemsProcessed(static_cast<std::int64_t>(work.macs * iterations));
  } else {
    state.SetItemsProcessed(static_cast<std::int64_t>(work.elements * iterations));
  }
  state.counters["elements"] = work.elements;
  state.SetBytesProcessed(static_cast<std::int64_t>(work.bytes * iterations));
}

// The Work of a layer with weights: its MACs and output elements, and the bytes of its input,
// output, weights and bias at the flavour's element sizes.
struct LayerSizes {
  double macs = 0;
  std::size_t input = 0;
  std::size_t output = 0;
  std::size_t weights = 0;
  std::size_t bias = 0;
};

inline Work layer_work(const LayerSizes& sizes, double activation_bytes, double weight_bytes,
                       double bias_bytes) {
  return Work{sizes.macs, static_cast<double>(sizes.output),
              activation_bytes * static_cast<double>(sizes.input + sizes.output) +
                  weight_bytes * static_cast<double>(sizes.weights) +
                  bias_bytes * static_cast<double>(sizes.bias)};
}

// Runs `eval` (returning tsq::Status) once untimed, to check it succeeds, then in the timed loop.
template <typename Eval>
void time_eval(benchmark::State& state, const Work& work, Eval eval) {
  const tsq::Status first = eval();
  if (!first.is_ok()) throw SetupError(std::string("eval failed: ") + first.message());
  for (auto _ : state) {
    bool ok = eval().is_ok();
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  set_counters(state, work);
}

// ---------------------------------------------------------------------------------------------
// Setup helpers.

inline void check(const tsq::Status& status, const std::string& what) {
  if (!status.is_ok()) throw SetupError(what + ": " + status.message());
}

template <typename T>
T take(tsq::Result<T> result, const std::string& what) {
  check(result.status(), what);
  return std::move(result).value();
}

template <typename T>
tsq::TensorView<const T> in(const std::vector<T>& values, const tsq::Shape& shape) {
  return tsq::TensorView<const T>(values.data(), shape);
}

template <typename T>
tsq::TensorView<T> out(std::vector<T>& values, const tsq::Shape& shape) {
  return tsq::TensorView<T>(values.data(), shape);
}

using Rng = std::mt19937;

// A generator seeded from the data set's name: the same data in every run, and a shape's data
// do not change when other benchmarks are added.
inline Rng make_rng(const std::string& name) {
  std::seed_seq seed(name.begin(), name.end());
  return Rng(seed);
}

inline std::vector<float> uniform_floats(Rng& rng, std::size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> distribution(lo, hi);
  std::vector<float> values(count);
  for (float& v : values) v = distribution(rng);
  return values;
}

// Trained-looking weights: uniform with the variance 2 / fan_in of He initialization.
inline std::vector<float> random_weights(Rng& rng, std::size_t count, std::int32_t fan_in) {
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in));
  return uniform_floats(rng, count, -limit, limit);
}

// Symmetric int8 weights with one scale per channel, as the converter makes them:
// S_c = max|w_c| / 127, q = clamp(round(w / S_c), -127, 127).
struct QuantizedWeights {
  std::vector<std::int8_t> values;
  std::vector<float> scales;
};

// Channels are the leading axis (`channel_last` false: Conv2D [C_out, KH, KW, C_in],
// FullyConnected [units, depth]) or the last axis (DepthwiseConv2D [1, KH, KW, C]).
inline QuantizedWeights quantize_weights(const std::vector<float>& weights, std::size_t channels,
                                         bool channel_last) {
  const std::size_t per_channel = weights.size() / channels;
  const auto channel_of = [&](std::size_t i) {
    return channel_last ? i % channels : i / per_channel;
  };
  std::vector<float> magnitude(channels, 5e-7f);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    float& m = magnitude[channel_of(i)];
    m = std::max(m, std::fabs(weights[i]));
  }
  QuantizedWeights q;
  q.scales.resize(channels);
  for (std::size_t c = 0; c < channels; ++c) q.scales[c] = magnitude[c] / 127.0f;
  q.values.resize(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const float value = std::round(weights[i] / q.scales[channel_of(i)]);
    q.values[i] = static_cast<std::int8_t>(std::min(std::max(value, -127.0f), 127.0f));
  }
  return q;
}

// Asymmetric int8 activation parameters from the observed range (the converter's recipe).
inline tsq::QuantParams int8_params(const std::vector<float>& values) {
  const auto range = std::minmax_element(values.begin(), values.end());
  return take(tsq::choose_quant_params(*range.first, *range.second), "int8 activation params");
}

// Symmetric int16 activation parameters (zero point 0), clamping to the full int16 range.
inline tsq::QuantParams int16_params(const std::vector<float>& values) {
  float max_abs = 0.0f;
  for (float v : values) max_abs = std::max(max_abs, std::fabs(v));
  tsq::QuantParams params = take(
      tsq::choose_symmetric_quant_params(max_abs, tsq::BitWidth{16, true, true}), "int16 params");
  params.quant_min = -32768;
  return params;
}

template <typename T>
std::vector<T> quantize_all(const std::vector<float>& values, const tsq::QuantParams& params) {
  std::vector<T> quantized(values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    quantized[i] = tsq::quantize<T>(values[i], params);
  return quantized;
}

// int32 bias (int8 layers), scale S_in * S_w[c].
inline std::vector<std::int32_t> bias_int32(const std::vector<float>& bias, float input_scale,
                                            const std::vector<float>& weight_scales) {
  std::vector<std::int32_t> quantized(bias.size());
  check(tsq::quantize_bias(bias, input_scale, weight_scales, quantized), "int32 bias");
  return quantized;
}

// int64 bias (int16 layers), scale S_in * S_w[c].
inline std::vector<std::int64_t> bias_int64(const std::vector<float>& bias, float input_scale,
                                            const std::vector<float>& weight_scales) {
  std::vector<std::int64_t> quantized(bias.size());
  for (std::size_t c = 0; c < bias.size(); ++c) {
    const double scale = static_cast<double>(input_scale) *
                         static_cast<double>(weight_scales[weight_scales.size() == 1 ? 0 : c]);
    quantized[c] = std::llround(static_cast<double>(bias[c]) / scale);
  }
  return quantized;
}

// The integer activations of a layer with weights, as the converter makes them from the float
// model's input, output and bias: int8 (asymmetric, int32 bias) or int16 (symmetric, int64
// bias) parameters from the observed ranges, the quantized input, an output buffer, the bias at
// S_in * S_w[c], and the multiplier storage that prepare fills.
template <typename Activation>
struct QuantizedActivations {
  static_assert(sizeof(Activation) == 1 || sizeof(Activation) == 2, "int8 or int16");
  using Bias = std::conditional_t<sizeof(Activation) == 1, std::int32_t, std::int64_t>;

  tsq::QuantParams input_params, output_params;
  std::vector<Activation> input, output;
  std::vector<Bias> bias;
  std::vector<tsq::QuantizedMultiplier> multipliers;

  QuantizedActivations() = default;
  QuantizedActivations(const std::vector<float>& float_input,
                       const std::vector<float>& float_output, const std::vector<float>& float_bias,
                       const std::vector<float>& weight_scales) {
    if constexpr (sizeof(Activation) == 1) {
      input_params = int8_params(float_input);
      output_params = int8_params(float_output);
      bias = bias_int32(float_bias, input_params.scale, weight_scales);
    } else {
      input_params = int16_params(float_input);
      output_params = int16_params(float_output);
      bias = bias_int64(float_bias, input_params.scale, weight_scales);
    }
    input = quantize_all<Activation>(float_input, input_params);
    output.resize(float_output.size());
    multipliers.resize(weight_scales.size());
  }
};

}  // namespace tsq_bench
