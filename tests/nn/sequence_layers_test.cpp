// SPDX-License-Identifier: Apache-2.0
// The sequence layers of the model API (LSTM, Bidirectional, Add, Softmax, Logistic, Tanh, ReLU,
// ReLU6, Reshape, Flatten, LastStep, Embedding): each, placed in a one-layer model, equals its
// kernel called by hand (float exactly, integer bit for bit), reads its weights in every layout
// it claims and refuses what does not fit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "npz_builder.hpp"
#include "tsq/kernels/float/add.hpp"
#include "tsq/kernels/float/bidirectional_lstm.hpp"
#include "tsq/kernels/float/logistic.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/float/tanh.hpp"
#include "tsq/kernels/hybrid/lstm.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/kernels/reference/bidirectional_lstm.hpp"
#include "tsq/kernels/reference/logistic.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/reference/relu.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/kernels/reference/tanh.hpp"
#include "tsq/nn/layers/add.hpp"
#include "tsq/nn/layers/bidirectional.hpp"
#include "tsq/nn/layers/embedding.hpp"
#include "tsq/nn/layers/logistic.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/layers/relu.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"
#include "tsq/nn/layers/tanh.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/lstm_quantizer.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::QuantParams;
using tsq::Shape;
using tsq::Span;
using tsq::TensorView;
using tsq::nn::AnyTensor;
using tsq::nn::LayerCalibration;
using tsq::nn::LayerQuantizationRequest;
using tsq::nn::Model;
using tsq::nn::Precision;
using tsq::nn::QuantizedLayer;
using tsq::nn::TensorQuantization;
using tsq::nn::WeightLayout;

namespace {

// A deterministic generator (the same numbers with every standard library).
struct Random {
  std::uint64_t state;
  explicit Random(std::uint64_t seed) : state(seed * 2862933555777941757ull + 3037000493ull) {}
  float uniform(float low, float high) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const auto bits = static_cast<std::uint32_t>(state >> 40);  // 24 bits
    return low + (high - low) * (static_cast<float>(bits) / 16777216.0f);
  }
  std::vector<float> fill(std::size_t count, float low, float high) {
    std::vector<float> values(count);
    for (float& v : values) v = uniform(low, high);
    return values;
  }
};

// A 16-byte aligned byte buffer (arenas and scratch).
struct Arena {
  std::vector<std::byte> storage;
  Span<std::byte> span;
  explicit Arena(std::size_t bytes) : storage(bytes + 16) {
    std::size_t offset = 0;
    while (reinterpret_cast<std::uintptr_t>(storage.data() + offset) % 16 != 0) ++offset;
    span = Span<std::byte>(storage.data() + offset, bytes);
  }
};

std::vector<float> run_model(const Model& model, const std::vector<float>& input,
                             const std::vector<LayerCalibration*>& calibrations = {}) {
  std::vector<float> output(model.output_size());
  Arena arena(model.arena_bytes());
  const tsq::Status status = model.run(
      Span<const float>(input.data(), input.size()), Span<float>(output.data(), output.size()),
      arena.span, nullptr, Span<LayerCalibration* const>(calibrations.data(), calibrations.size()));
  INFO(status.message());
  REQUIRE(status.is_ok());
  return output;
}

// Runs a quantized layer on the given inputs; returns the output elements.
template <typename Out>
std::vector<Out> run_layer(const QuantizedLayer& layer, std::vector<AnyTensor> inputs,
                           const Shape& output_shape, DataType type = tsq::data_type_of_v<Out>) {
  std::vector<Out> output(output_shape.element_count());
  Arena scratch(layer.scratch_bytes());
  const AnyTensor out{output.data(), output_shape, type};
  const tsq::Status status =
      layer.run(Span<const AnyTensor>(inputs.data(), inputs.size()), out, scratch.span);
  INFO(status.message());
  REQUIRE(status.is_ok());
  return output;
}

template <typename T>
AnyTensor tensor(std::vector<T>& values, const Shape& shape) {
  return AnyTensor{values.data(), shape, tsq::data_type_of_v<T>};
}

template <typename T>
std::vector<T> quantized(const std::vector<float>& values, const QuantParams& params) {
  std::vector<T> out(values.size());
  REQUIRE(tsq::quantize<T>(Span<const float>(values.data(), values.size()),
                           Span<T>(out.data(), out.size()), params)
              .is_ok());
  return out;
}

template <typename T>
std::vector<float> dequantized(const std::vector<T>& values, const QuantParams& params) {
  std::vector<float> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = tsq::dequantize(values[i], params);
  return out;
}

struct Error {
  double max_abs = 0.0;
  double rmse = 0.0;
};
Error error_of(const std::vector<float>& got, const std::vector<float>& expected) {
  Error e;
  double sum = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(expected[i]));
    e.max_abs = std::max(e.max_abs, d);
    sum += d * d;
  }
  e.rmse = std::sqrt(sum / static_cast<double>(got.size()));
  return e;
}

LayerQuantizationRequest request_for(Precision precision, std::vector<TensorQuantization> inputs,
                                     const LayerCalibration* calibration = nullptr) {
  LayerQuantizationRequest request;
  request.precision = precision;
  request.inputs = std::move(inputs);
  // A deliberately odd output: layers with a fixed or carried-through output must ignore it.
  request.output = TensorQuantization{tsq::nn::activation_type(precision),
                                      tsq::make_quant_params(0.37f, 3, DataType::int8)};
  if (request.output.type == DataType::int16) {
    request.output.params = tsq::make_quant_params(0.37f, 0, DataType::int16);
  }
  request.calibration = calibration;
  return request;
}

std::unique_ptr<QuantizedLayer> quantize_layer(const tsq::nn::Layer& layer,
                                               const LayerQuantizationRequest& request) {
  auto result = layer.quantize(request);
  INFO(result.status().message());
  REQUIRE(result.is_ok());
  return std::move(result).value();
}

bool same_params(const QuantParams& a, const QuantParams& b) {
  return a.scale == b.scale && a.zero_point == b.zero_point && a.type == b.type &&
         a.quant_min == b.quant_min && a.quant_max == b.quant_max;
}

// ---------------------------------------------------------------------------------------------
// LSTM

struct LstmWeights {
  std::vector<float> kernel, recurrent, bias;  // Keras layout
};

LstmWeights random_lstm_weights(std::int32_t inputs, std::int32_t units, std::uint64_t seed,
                                float input_scale = 0.6f) {
  Random random(seed);
  const auto rows = static_cast<std::size_t>(4 * units);
  LstmWeights w;
  w.kernel = random.fill(static_cast<std::size_t>(inputs) * rows, -input_scale, input_scale);
  w.recurrent = random.fill(static_cast<std::size_t>(units) * rows, -0.5f, 0.5f);
  w.bias = random.fill(rows, -0.3f, 0.3f);
  return w;
}

tsq::floating::LstmWeights float_view(const LstmWeights& w, std::int32_t inputs,
                                      std::int32_t units) {
  return tsq::floating::LstmWeights{
      TensorView<const float>(w.kernel.data(), Shape{inputs, 4 * units}),
      TensorView<const float>(w.recurrent.data(), Shape{units, 4 * units}),
      Span<const float>(w.bias.data(), w.bias.size())};
}

// floating::lstm over one window from a zero state, by hand.
std::vector<float> float_lstm(const tsq::floating::LstmWeights& weights, const float* window,
                              std::int32_t steps, std::int32_t inputs, std::int32_t units,
                              bool sequences, bool reverse = false,
                              tsq::LstmRangeObserver* observer = nullptr) {
  std::vector<float> out(static_cast<std::size_t>((sequences ? steps : 1) * units));
  std::vector<float> h(static_cast<std::size_t>(units), 0.0f), c(h), scratch(4 * h.size());
  const Shape out_shape = sequences ? Shape{1, steps, units} : Shape{1, units};
  REQUIRE(tsq::floating::lstm(weights, TensorView<const float>(window, Shape{1, steps, inputs}),
                              TensorView<float>(out.data(), out_shape), h, c, scratch, reverse,
                              observer)
              .is_ok());
  return out;
}

tsq::nn::LSTM& lstm_of(Model& model, std::size_t node = 0) {
  return static_cast<tsq::nn::LSTM&>(model.layer(node));  // no RTTI: the test knows the type
}

constexpr std::int32_t kSteps = 12;
constexpr std::int32_t kInputs = 3;
constexpr std::int32_t kUnits = 5;

Model lstm_model(const LstmWeights& w, bool sequences, std::int32_t steps = kSteps,
                 std::int32_t inputs = kInputs, std::int32_t units = kUnits) {
  Model model;
  model.input("window", Shape{steps, inputs});
  model.add(tsq::nn::LSTM("lstm", units).return_sequences(sequences));
  REQUIRE(model.build().is_ok());
  REQUIRE(lstm_of(model).set_weights(w.kernel, w.recurrent, w.bias).is_ok());
  return model;
}

// Calibrates the model's LSTM (node 0) over `windows`; returns its record.
std::unique_ptr<LayerCalibration> calibrate(const Model& model,
                                            const std::vector<std::vector<float>>& windows) {
  std::vector<std::unique_ptr<LayerCalibration>> records = model.make_calibrations();
  std::vector<LayerCalibration*> pointers;
  for (auto& record : records) pointers.push_back(record.get());
  REQUIRE(pointers[0] != nullptr);
  for (const auto& window : windows) run_model(model, window, pointers);
  return std::move(records[0]);
}

std::vector<std::vector<float>> random_windows(std::size_t count, std::size_t size,
                                               std::uint64_t seed, float low, float high) {
  Random random(seed);
  std::vector<std::vector<float>> windows;
  for (std::size_t i = 0; i < count; ++i) windows.push_back(random.fill(size, low, high));
  return windows;
}

TEST_CASE("LSTM float run equals floating::lstm called by hand", "[nn][lstm]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 1);
  const auto windows = random_windows(3, kSteps * kInputs, 2, -2.0f, 2.0f);
  for (const bool sequences : {false, true}) {
    const Model model = lstm_model(w, sequences);
    CHECK(model.output_shape() == (sequences ? Shape{1, kSteps, kUnits} : Shape{1, kUnits}));
    CHECK(model.parameter_count() == static_cast<std::size_t>(4 * kUnits * (kInputs + kUnits + 1)));
    for (const auto& window : windows) {
      const std::vector<float> expected = float_lstm(float_view(w, kInputs, kUnits), window.data(),
                                                     kSteps, kInputs, kUnits, sequences);
      CHECK(run_model(model, window) == expected);
      // The state starts at zero at every window: a second run gives the same bits.
      CHECK(run_model(model, window) == expected);
    }
  }
}

// The weights of `w` as PyTorch stores them: weight_ih (4H, I), weight_hh (4H, H), two biases.
std::vector<tsq_test::NpzMember> pytorch_members(const std::string& layer, const LstmWeights& w,
                                                 std::size_t inputs, std::size_t units) {
  const std::size_t rows = 4 * units;
  std::vector<float> weight_ih(rows * inputs), weight_hh(rows * units), bias_ih(rows),
      bias_hh(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t k = 0; k < inputs; ++k) weight_ih[r * inputs + k] = w.kernel[k * rows + r];
    for (std::size_t k = 0; k < units; ++k) weight_hh[r * units + k] = w.recurrent[k * rows + r];
    bias_ih[r] = 0.5f * w.bias[r];  // halves add back to the bias exactly
    bias_hh[r] = 0.5f * w.bias[r];
  }
  return {{layer + ".weight_ih", {rows, inputs}, weight_ih},
          {layer + ".weight_hh", {rows, units}, weight_hh},
          {layer + ".bias_ih", {rows}, bias_ih},
          {layer + ".bias_hh", {rows}, bias_hh}};
}

std::vector<tsq_test::NpzMember> keras_members(const std::string& layer, const LstmWeights& w,
                                               std::size_t inputs, std::size_t units) {
  const std::size_t rows = 4 * units;
  return {{layer + ".kernel", {inputs, rows}, w.kernel},
          {layer + ".recurrent_kernel", {units, rows}, w.recurrent},
          {layer + ".bias", {rows}, w.bias}};
}

Model loaded_lstm_model(WeightLayout layout, const std::vector<tsq_test::NpzMember>& members,
                        tsq::Status& status) {
  Model model;
  model.input("window", Shape{kSteps, kInputs});
  model.add(tsq::nn::LSTM("lstm", kUnits).layout(layout).return_sequences(true));
  REQUIRE(model.build().is_ok());
  const auto npz = tsq_test::make_npz(members);
  REQUIRE(npz.is_ok());
  status = model.load_weights(npz.value());
  return model;
}

TEST_CASE("LSTM keras and pytorch layouts give the same output", "[nn][lstm]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 3);
  tsq::Status status;
  const Model keras =
      loaded_lstm_model(WeightLayout::keras, keras_members("lstm", w, kInputs, kUnits), status);
  REQUIRE(status.is_ok());
  const Model pytorch =
      loaded_lstm_model(WeightLayout::pytorch, pytorch_members("lstm", w, kInputs, kUnits), status);
  INFO(status.message());
  REQUIRE(status.is_ok());
  CHECK(lstm_of(const_cast<Model&>(pytorch)).bias() == w.bias);
  const auto windows = random_windows(4, kSteps * kInputs, 4, -2.0f, 2.0f);
  for (const auto& window : windows) CHECK(run_model(keras, window) == run_model(pytorch, window));

  SECTION("PyTorch's gate order i, f, g, o: one step by PyTorch's own equations") {
    // h1 = o * tanh(i * g) from a zero state, rows [W_ii; W_if; W_ig; W_io] of weight_ih.
    const auto members = pytorch_members("lstm", w, kInputs, kUnits);
    const std::vector<float>& weight_ih = members[0].values;
    const std::vector<float>& window = windows[0];
    const std::vector<float> h = run_model(pytorch, window);
    const auto gate = [&](int g, int j) {
      double z = members[2].values[static_cast<std::size_t>(g * kUnits + j)] +
                 members[3].values[static_cast<std::size_t>(g * kUnits + j)];
      for (int k = 0; k < kInputs; ++k) {
        z += static_cast<double>(
                 weight_ih[static_cast<std::size_t>((g * kUnits + j) * kInputs + k)]) *
             window[static_cast<std::size_t>(k)];
      }
      return z;
    };
    const auto sigmoid = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
    for (int j = 0; j < kUnits; ++j) {
      const double c = sigmoid(gate(0, j)) * std::tanh(gate(2, j));
      CHECK(h[static_cast<std::size_t>(j)] ==
            Approx(sigmoid(gate(3, j)) * std::tanh(c)).margin(1e-6));
    }
  }
}

TEST_CASE("A transposed LSTM kernel with the same element count is rejected", "[nn][lstm]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 5);
  const std::size_t rows = 4 * kUnits;
  tsq::Status status;
  auto members = keras_members("lstm", w, kInputs, kUnits);
  members[0].shape = {rows, kInputs};  // (4H, I) where Keras has (I, 4H)
  loaded_lstm_model(WeightLayout::keras, members, status);
  CHECK(status.code() == ErrorCode::shape_mismatch);
  CHECK_THAT(status.message(), Catch::Contains("'lstm.kernel'") && Catch::Contains("(3, 20)"));

  members = keras_members("lstm", w, kInputs, kUnits);
  members[1].shape = {rows, kUnits};
  loaded_lstm_model(WeightLayout::keras, members, status);
  CHECK(status.code() == ErrorCode::shape_mismatch);
  CHECK_THAT(status.message(), Catch::Contains("'lstm.recurrent_kernel'"));

  members = pytorch_members("lstm", w, kInputs, kUnits);
  members[0].shape = {kInputs, rows};  // Keras' shape under the PyTorch name
  loaded_lstm_model(WeightLayout::pytorch, members, status);
  CHECK(status.code() == ErrorCode::shape_mismatch);
  CHECK_THAT(status.message(), Catch::Contains("'lstm.weight_ih'") && Catch::Contains("pytorch"));

  members = pytorch_members("lstm", w, kInputs, kUnits);
  members.pop_back();  // no bias_hh
  loaded_lstm_model(WeightLayout::pytorch, members, status);
  CHECK(status.code() == ErrorCode::not_found);
  CHECK_THAT(status.message(), Catch::Contains("'lstm.bias_hh'"));

  loaded_lstm_model(WeightLayout::tflite, keras_members("lstm", w, kInputs, kUnits), status);
  CHECK(status.code() == ErrorCode::unsupported_format);
}

TEST_CASE("Zero time steps are refused", "[nn][lstm]") {
  Model model;
  model.input("window", Shape{0, kInputs});
  model.add(tsq::nn::LSTM("lstm", kUnits));
  CHECK(model.build().code() == ErrorCode::shape_mismatch);
  // The layer itself refuses a window without steps, whoever attaches it.
  tsq::nn::LSTM lstm("lstm", kUnits);
  const Shape empty{1, 0, kInputs};
  const auto shape = lstm.attach(Span<const Shape>(&empty, 1));
  CHECK(shape.status().code() == ErrorCode::shape_mismatch);
  CHECK_THAT(shape.status().message(),
             Catch::Contains("LSTM 'lstm'") && Catch::Contains("0 time steps"));
  tsq::nn::Bidirectional bidirectional("bi", tsq::nn::LSTM("template", kUnits));
  CHECK(bidirectional.attach(Span<const Shape>(&empty, 1)).status().code() ==
        ErrorCode::shape_mismatch);
}

TEST_CASE("LSTM int8 equals quantize_lstm and reference::lstm called by hand", "[nn][lstm]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 6);
  const auto weights = float_view(w, kInputs, kUnits);
  const auto calibration_windows = random_windows(16, kSteps * kInputs, 7, -2.0f, 2.0f);
  const auto eval_windows = random_windows(8, kSteps * kInputs, 8, -2.0f, 2.0f);
  for (const bool sequences : {false, true}) {
    const Model model = lstm_model(w, sequences);
    const auto record = calibrate(model, calibration_windows);

    tsq::LstmRangeObserver ranges;
    for (const auto& window : calibration_windows) {
      float_lstm(weights, window.data(), kSteps, kInputs, kUnits, sequences, false, &ranges);
    }
    const auto& recorded = static_cast<const tsq::nn::LstmCalibration&>(*record).ranges;
    CHECK(recorded.input.count == ranges.input.count);
    CHECK(recorded.hidden.min == ranges.hidden.min);
    CHECK(recorded.hidden.max == ranges.hidden.max);
    CHECK(recorded.gate_pre_activation[1].max == ranges.gate_pre_activation[1].max);

    auto q = tsq::quantize_lstm(weights, ranges);
    REQUIRE(q.is_ok());
    // The model gives the layer the parameters quantize_lstm would choose itself.
    const auto input = tsq::choose_quant_params(ranges.input.min, ranges.input.max);
    REQUIRE(input.is_ok());
    REQUIRE(same_params(input.value(), q->input));
    const auto layer = quantize_layer(
        model.layer(0),
        request_for(Precision::int8, {{DataType::int8, input.value()}}, record.get()));
    CHECK(same_params(layer->output_quantization().params, q->hidden));
    CHECK(layer->output_quantization().type == DataType::int8);
    CHECK(layer->parameter_bytes().int8 ==
          static_cast<std::size_t>(4 * kUnits * (kInputs + kUnits)));
    CHECK(layer->parameter_bytes().int32 == static_cast<std::size_t>(4 * kUnits * 4));
    CHECK_FALSE(layer->multipliers_flush_to_zero());

    const Shape out_shape = model.output_shape();
    Error total;
    for (const auto& window : eval_windows) {
      std::vector<std::int8_t> x = quantized<std::int8_t>(window, q->input);
      std::vector<std::int8_t> expected(out_shape.element_count());
      std::vector<std::int16_t> state(kUnits, 0), cell(kUnits, 0);
      std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(kSteps, kUnits));
      REQUIRE((tsq::reference::lstm<std::int8_t, std::int16_t>(
                   q->params, q->weights(),
                   TensorView<const std::int8_t>(x.data(), Shape{1, kSteps, kInputs}),
                   TensorView<std::int8_t>(expected.data(), out_shape), state, cell, scratch))
                  .is_ok());
      const auto got =
          run_layer<std::int8_t>(*layer, {tensor(x, Shape{1, kSteps, kInputs})}, out_shape);
      CHECK(got == expected);
      const Error e = error_of(dequantized(got, q->hidden), run_model(model, window));
      total.max_abs = std::max(total.max_abs, e.max_abs);
    }
    // Measured 0.0041 = 1.14 output steps (S_h = 0.00362), last step and sequences alike, on
    // windows the calibration did not see.
    CHECK(total.max_abs < 2 * q->hidden.scale);
    // A copy runs on its own storage.
    const auto copy = layer->clone();
    std::vector<std::int8_t> x = quantized<std::int8_t>(eval_windows[0], q->input);
    CHECK(run_layer<std::int8_t>(*copy, {tensor(x, Shape{1, kSteps, kInputs})}, out_shape) ==
          run_layer<std::int8_t>(*layer, {tensor(x, Shape{1, kSteps, kInputs})}, out_shape));
  }
}

TEST_CASE("LSTM int8 reads the input parameters the model gives it", "[nn][lstm]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 9);
  const auto weights = float_view(w, kInputs, kUnits);
  const auto calibration_windows = random_windows(16, kSteps * kInputs, 10, -2.0f, 2.0f);
  const Model model = lstm_model(w, true);
  const auto record = calibrate(model, calibration_windows);
  const auto& ranges = static_cast<const tsq::nn::LstmCalibration&>(*record).ranges;
  // Not quantize_lstm's choice: a wider, shifted range (e.g. a tensor shared with another reader).
  const QuantParams input = tsq::choose_quant_params(-3.0, 5.0).value();
  const auto layer = quantize_layer(
      model.layer(0), request_for(Precision::int8, {{DataType::int8, input}}, record.get()));

  // By hand: quantize_lstm, then the input params replaced, the bias requantized at the new
  // S_x * S_W[row] and the layer prepared again.
  auto q = tsq::quantize_lstm(weights, ranges);
  REQUIRE(q.is_ok());
  REQUIRE_FALSE(same_params(q->input, input));
  q.value().input = input;
  std::vector<float> row_scales(q->bias.size());
  for (std::size_t r = 0; r < row_scales.size(); ++r) row_scales[r] = q->input_weight_scales[r];
  REQUIRE(tsq::quantize_bias(Span<const float>(w.bias.data(), w.bias.size()), input.scale,
                             Span<const float>(row_scales.data(), row_scales.size()),
                             Span<std::int32_t>(q.value().bias.data(), q->bias.size()))
              .is_ok());
  std::vector<tsq::QuantizedMultiplier> multipliers(tsq::lstm_prepare_storage_size(kUnits));
  std::vector<std::int32_t> biases(tsq::lstm_prepare_storage_size(kUnits));
  const auto params = tsq::prepare_lstm(q->quantization(tsq::RoundingMode::double_rounding, 0.0f),
                                        q->weights(), multipliers, biases);
  REQUIRE(params.is_ok());

  const Shape out_shape{1, kSteps, kUnits};
  // Evaluated on calibration windows: no value outside the calibrated ranges, so the error is
  // rounding only.
  for (std::size_t i = 0; i < 6; ++i) {
    const std::vector<float>& window = calibration_windows[i];
    std::vector<std::int8_t> x = quantized<std::int8_t>(window, input);
    std::vector<std::int8_t> expected(out_shape.element_count());
    std::vector<std::int16_t> state(kUnits, 0), cell(kUnits, 0);
    std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(kSteps, kUnits));
    REQUIRE((tsq::reference::lstm<std::int8_t, std::int16_t>(
                 params.value(), q->weights(),
                 TensorView<const std::int8_t>(x.data(), Shape{1, kSteps, kInputs}),
                 TensorView<std::int8_t>(expected.data(), out_shape), state, cell, scratch))
                .is_ok());
    const auto got =
        run_layer<std::int8_t>(*layer, {tensor(x, Shape{1, kSteps, kInputs})}, out_shape);
    CHECK(got == expected);
    // Measured at most 0.0121 = 3.6 output steps (S_h = 0.00339): the coarser input step
    // (8/255 instead of 4/255) costs accuracy, but the layer reads the tensor correctly.
    CHECK(error_of(dequantized(got, q->hidden), run_model(model, window)).max_abs <
          5 * q->hidden.scale);
  }
}

TEST_CASE("LSTM cell_clip reaches the integer kernel", "[nn][lstm]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 30);
  const auto windows = random_windows(8, kSteps * kInputs, 31, -2.0f, 2.0f);
  Model model = lstm_model(w, true);
  lstm_of(model).cell_clip(0.25f);
  const auto record = calibrate(model, windows);
  const auto& ranges = static_cast<const tsq::nn::LstmCalibration&>(*record).ranges;
  REQUIRE(ranges.cell.max_abs() > 0.5f);  // the clip bites
  tsq::LstmQuantizerOptions options;
  options.cell_clip = 0.25f;
  auto q = tsq::quantize_lstm(float_view(w, kInputs, kUnits), ranges, options);
  REQUIRE(q.is_ok());
  REQUIRE(q->params.clip_cell);
  const auto layer = quantize_layer(
      model.layer(0), request_for(Precision::int8, {{DataType::int8, q->input}}, record.get()));
  const Shape in_shape{1, kSteps, kInputs}, out_shape{1, kSteps, kUnits};
  std::vector<std::int8_t> x = quantized<std::int8_t>(windows[0], q->input);
  std::vector<std::int8_t> expected(out_shape.element_count());
  std::vector<std::int16_t> state(kUnits, 0), cell(kUnits, 0);
  std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(kSteps, kUnits));
  REQUIRE((tsq::reference::lstm<std::int8_t, std::int16_t>(
               q->params, q->weights(), TensorView<const std::int8_t>(x.data(), in_shape),
               TensorView<std::int8_t>(expected.data(), out_shape), state, cell, scratch))
              .is_ok());
  CHECK(run_layer<std::int8_t>(*layer, {tensor(x, in_shape)}, out_shape) == expected);
  for (const std::int16_t c : cell) CHECK(std::abs(c * q->cell_scale) <= 0.25f);
}

TEST_CASE("LSTM int8 refuses to quantize without calibration", "[nn][lstm]") {
  const Model model = lstm_model(random_lstm_weights(kInputs, kUnits, 12), false);
  const TensorQuantization input{DataType::int8, tsq::make_quant_params(0.02f, 0, DataType::int8)};
  for (const Precision precision :
       {Precision::int8, Precision::int16_weights, Precision::int16_activations}) {
    TensorQuantization in = input;
    if (precision == Precision::int16_activations) {
      in = TensorQuantization{DataType::int16, tsq::make_quant_params(1e-4f, 0, DataType::int16)};
    }
    auto none = model.layer(0).quantize(request_for(precision, {in}, nullptr));
    CHECK(none.status().code() == ErrorCode::invalid_argument);
    CHECK_THAT(none.status().message(), Catch::Contains("LSTM needs calibration"));
    const auto empty = model.layer(0).make_calibration();
    auto unfilled = model.layer(0).quantize(request_for(precision, {in}, empty.get()));
    CHECK_THAT(unfilled.status().message(), Catch::Contains("LSTM needs calibration"));
  }
  // The float forms need none.
  CHECK(model.layer(0)
            .quantize(request_for(Precision::dynamic_int8, {{DataType::float32, QuantParams{}}}))
            .is_ok());
}

// A layer like DeepConvLSTM's first LSTM: many wide-range input channels (conv features in
// 0..2000, 60% zeros) read by small weights. Both the int8 input step (2000/255) and the int8
// weight rounding (amplified by inputs in the thousands) add error, on top of the int8 output
// step; int16 activations remove the first and the third, int16 weights the second.
struct WideCase {
  static constexpr std::int32_t kSteps = 10;
  static constexpr std::int32_t kInputs = 32;
  static constexpr std::int32_t kUnits = 8;
  LstmWeights w;
  std::vector<std::vector<float>> calibration, evaluation;
  WideCase() {
    Random random(21);
    w = random_lstm_weights(kInputs, kUnits, 22);
    for (float& v : w.kernel) v = random.uniform(-0.0015f, 0.0015f);
    const auto windows = [&](std::size_t count) {
      std::vector<std::vector<float>> out;
      for (std::size_t i = 0; i < count; ++i) {
        std::vector<float> x(static_cast<std::size_t>(kSteps * kInputs));
        for (float& v : x)
          v = random.uniform(0.0f, 1.0f) < 0.6f ? 0.0f : random.uniform(0.0f, 2000.0f);
        out.push_back(x);
      }
      return out;
    };
    calibration = windows(24);
    evaluation = windows(12);
  }
};

TEST_CASE("int16 activations and int16 weights reduce the LSTM error on a wide input range",
          "[nn][lstm]") {
  const WideCase wide;
  constexpr std::int32_t T = WideCase::kSteps, I = WideCase::kInputs, H = WideCase::kUnits;
  const auto weights = float_view(wide.w, I, H);
  const Model model = lstm_model(wide.w, true, T, I, H);
  const auto record = calibrate(model, wide.calibration);
  const auto& ranges = static_cast<const tsq::nn::LstmCalibration&>(*record).ranges;
  const Shape in_shape{1, T, I}, out_shape{1, T, H};
  std::vector<std::vector<float>> expected;
  for (const auto& window : wide.evaluation) expected.push_back(run_model(model, window));
  const auto rmse_over = [&](auto run) {
    double sum = 0.0;
    std::size_t count = 0;
    for (std::size_t i = 0; i < wide.evaluation.size(); ++i) {
      const std::vector<float> got = run(wide.evaluation[i]);
      for (std::size_t j = 0; j < got.size(); ++j) {
        sum += (got[j] - expected[i][j]) * (got[j] - expected[i][j]);
      }
      count += got.size();
    }
    return std::sqrt(sum / static_cast<double>(count));
  };

  // int8 (and int16 weights): the model's int8 input params as quantize_lstm chooses them.
  const QuantParams input8 = tsq::choose_quant_params(ranges.input.min, ranges.input.max).value();
  const auto int8 = quantize_layer(
      model.layer(0), request_for(Precision::int8, {{DataType::int8, input8}}, record.get()));
  const auto int16_weights = quantize_layer(
      model.layer(0),
      request_for(Precision::int16_weights, {{DataType::int8, input8}}, record.get()));
  QuantParams input16 = tsq::choose_symmetric_quant_params(ranges.input.min, ranges.input.max,
                                                           tsq::BitWidth{16, true, true})
                            .value();
  input16.quant_min = -32768;
  const auto int16_activations = quantize_layer(
      model.layer(0),
      request_for(Precision::int16_activations, {{DataType::int16, input16}}, record.get()));
  CHECK(int16_activations->output_quantization().type == DataType::int16);
  CHECK(int16_activations->output_quantization().params.zero_point == 0);
  CHECK(int16_weights->parameter_bytes().int16 == static_cast<std::size_t>(2 * 4 * H * (I + H)));
  CHECK(int16_weights->parameter_bytes().int8 == 0);

  // Each equals its quantize_lstm path by hand, bit for bit.
  tsq::LstmQuantizerOptions options16;
  options16.activation_type = DataType::int16;
  auto q8 = tsq::quantize_lstm(weights, ranges);
  auto q16w = tsq::quantize_lstm<std::int16_t>(weights, ranges);
  auto q16a = tsq::quantize_lstm(weights, ranges, options16);
  REQUIRE((q8.is_ok() && q16w.is_ok() && q16a.is_ok()));
  REQUIRE(same_params(q16a->input, input16));
  for (const auto& window : wide.evaluation) {
    std::vector<std::int8_t> x8 = quantized<std::int8_t>(window, input8);
    std::vector<std::int16_t> x16 = quantized<std::int16_t>(window, input16);
    std::vector<std::int8_t> y8(out_shape.element_count()), y16w(y8.size());
    std::vector<std::int16_t> y16a(y8.size());
    std::vector<std::int16_t> state(H, 0), cell(H, 0);
    std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(T, H));
    REQUIRE((tsq::reference::lstm<std::int8_t, std::int16_t>(
                 q8->params, q8->weights(), TensorView<const std::int8_t>(x8.data(), in_shape),
                 TensorView<std::int8_t>(y8.data(), out_shape), state, cell, scratch))
                .is_ok());
    std::fill(state.begin(), state.end(), 0);
    std::fill(cell.begin(), cell.end(), 0);
    REQUIRE((tsq::reference::lstm<std::int8_t, std::int16_t>(
                 q16w->params, q16w->weights(), TensorView<const std::int8_t>(x8.data(), in_shape),
                 TensorView<std::int8_t>(y16w.data(), out_shape), state, cell, scratch))
                .is_ok());
    std::fill(state.begin(), state.end(), 0);
    std::fill(cell.begin(), cell.end(), 0);
    REQUIRE(
        (tsq::reference::lstm<std::int16_t, std::int16_t>(
             q16a->params, q16a->weights(), TensorView<const std::int16_t>(x16.data(), in_shape),
             TensorView<std::int16_t>(y16a.data(), out_shape), state, cell, scratch))
            .is_ok());
    CHECK(run_layer<std::int8_t>(*int8, {tensor(x8, in_shape)}, out_shape) == y8);
    CHECK(run_layer<std::int8_t>(*int16_weights, {tensor(x8, in_shape)}, out_shape) == y16w);
    CHECK(run_layer<std::int16_t>(*int16_activations, {tensor(x16, in_shape)}, out_shape) == y16a);
  }

  const double rmse8 = rmse_over([&](const std::vector<float>& window) {
    std::vector<std::int8_t> x = quantized<std::int8_t>(window, input8);
    return dequantized(run_layer<std::int8_t>(*int8, {tensor(x, in_shape)}, out_shape),
                       int8->output_quantization().params);
  });
  const double rmse16w = rmse_over([&](const std::vector<float>& window) {
    std::vector<std::int8_t> x = quantized<std::int8_t>(window, input8);
    return dequantized(run_layer<std::int8_t>(*int16_weights, {tensor(x, in_shape)}, out_shape),
                       int16_weights->output_quantization().params);
  });
  const double rmse16a = rmse_over([&](const std::vector<float>& window) {
    std::vector<std::int16_t> x = quantized<std::int16_t>(window, input16);
    return dequantized(
        run_layer<std::int16_t>(*int16_activations, {tensor(x, in_shape)}, out_shape),
        int16_activations->output_quantization().params);
  });
  const double step8 = int8->output_quantization().params.scale;
  INFO("rmse / output step: int8 " << rmse8 / step8 << ", int16 weights " << rmse16w / step8
                                   << ", int16 activations " << rmse16a / step8);
  // Measured rmse / int8 output step: int8 0.418, int16 weights 0.317, int16 activations 0.256.
  CHECK(rmse16w < 0.85 * rmse8);
  CHECK(rmse16a < 0.75 * rmse8);
}

TEST_CASE("LSTM dynamic int8 and float16 equal their kernels called by hand", "[nn][lstm]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 13);
  const Model model = lstm_model(w, true);
  const tsq::nn::LSTM& lstm = lstm_of(const_cast<Model&>(model));
  const Shape in_shape{1, kSteps, kInputs}, out_shape{1, kSteps, kUnits};
  const std::size_t weight_count = 4 * kUnits * (kInputs + kUnits);
  const auto windows = random_windows(3, kSteps * kInputs, 14, -2.0f, 2.0f);
  const TensorQuantization float_input{DataType::float32, QuantParams{}};

  const auto float32 = quantize_layer(lstm, request_for(Precision::float32, {float_input}));
  CHECK(float32->parameter_bytes().float32 == (weight_count + 4 * kUnits) * 4);
  const auto half = quantize_layer(lstm, request_for(Precision::float16_weights, {float_input}));
  CHECK(half->parameter_bytes().float16 == weight_count * 2);
  CHECK(half->parameter_bytes().float32 == 4 * kUnits * 4);
  const auto hybrid = quantize_layer(lstm, request_for(Precision::dynamic_int8, {float_input}));
  CHECK(hybrid->parameter_bytes().int8 == weight_count);
  CHECK(hybrid->parameter_bytes().float32 == 3 * 4 * kUnits * 4);  // bias and two row scales
  CHECK(hybrid->output_quantization().type == DataType::float32);

  // By hand: weights rounded through half; int8 rows with per-row scales.
  LstmWeights rounded = w;
  for (float& v : rounded.kernel) v = tsq::half_to_float(tsq::float_to_half(v));
  for (float& v : rounded.recurrent) v = tsq::half_to_float(tsq::float_to_half(v));
  const std::int32_t rows = 4 * kUnits;
  const auto per_row = [&](const std::vector<float>& keras, std::int32_t depth) {
    std::vector<float> transposed(keras.size());
    for (std::int32_t r = 0; r < rows; ++r) {
      for (std::int32_t k = 0; k < depth; ++k)
        transposed[static_cast<std::size_t>(r * depth + k)] =
            keras[static_cast<std::size_t>(k * rows + r)];
    }
    return tsq::nn::quantize_weights_per_channel<std::int8_t>(transposed, {rows, depth}).value();
  };
  const auto wx = per_row(w.kernel, kInputs);
  const auto wh = per_row(w.recurrent, kUnits);
  const tsq::hybrid::LstmWeights hybrid_weights{
      TensorView<const std::int8_t>(wx.values.data(), Shape{rows, kInputs}),
      TensorView<const std::int8_t>(wh.values.data(), Shape{rows, kUnits}),
      Span<const float>(wx.scales.data(), wx.scales.size()),
      Span<const float>(wh.scales.data(), wh.scales.size()),
      Span<const float>(w.bias.data(), w.bias.size())};
  std::vector<std::int32_t> row_sums(8 * kUnits);
  const auto prepared = tsq::hybrid::prepare_lstm(hybrid_weights, row_sums);
  REQUIRE(prepared.is_ok());

  for (auto window : windows) {
    const auto in = tensor(window, in_shape);
    CHECK(run_layer<float>(*float32, {in}, out_shape) == run_model(model, window));
    CHECK(run_layer<float>(*half, {in}, out_shape) ==
          float_lstm(float_view(rounded, kInputs, kUnits), window.data(), kSteps, kInputs, kUnits,
                     true));
    std::vector<float> expected(out_shape.element_count()), h(kUnits, 0.0f), c(h),
        gates(4 * kUnits);
    std::vector<std::int8_t> quantized_steps(kInputs + kUnits);
    REQUIRE(tsq::hybrid::lstm(prepared.value(), hybrid_weights,
                              TensorView<const float>(window.data(), in_shape),
                              TensorView<float>(expected.data(), out_shape), h, c,
                              tsq::hybrid::LstmScratch{gates, quantized_steps})
                .is_ok());
    CHECK(run_layer<float>(*hybrid, {in}, out_shape) == expected);
  }
}

// ---------------------------------------------------------------------------------------------
// Bidirectional

tsq::nn::Bidirectional& bidirectional_of(Model& model) {
  return static_cast<tsq::nn::Bidirectional&>(model.layer(0));
}

TEST_CASE("Bidirectional float run equals floating::bidirectional_lstm", "[nn][bidirectional]") {
  const LstmWeights forward = random_lstm_weights(kInputs, kUnits, 15);
  const LstmWeights backward = random_lstm_weights(kInputs, kUnits, 16);
  for (const bool sequences : {false, true}) {
    // Weights from a file: members "<name>/forward.kernel" and "<name>/backward.kernel".
    auto members = keras_members("bi/forward", forward, kInputs, kUnits);
    for (auto& m : keras_members("bi/backward", backward, kInputs, kUnits)) members.push_back(m);
    Model model;
    model.input("window", Shape{kSteps, kInputs});
    model.add(
        tsq::nn::Bidirectional("bi", tsq::nn::LSTM("cell", kUnits).return_sequences(sequences)));
    REQUIRE(model.build().is_ok());
    const Shape out_shape = sequences ? Shape{1, kSteps, 2 * kUnits} : Shape{1, 2 * kUnits};
    CHECK(model.output_shape() == out_shape);
    const auto npz = tsq_test::make_npz(members);
    REQUIRE(npz.is_ok());
    const tsq::Status loaded = model.load_weights(npz.value());
    INFO(loaded.message());
    REQUIRE(loaded.is_ok());
    CHECK(bidirectional_of(model).forward().name() == "bi/forward");
    CHECK(model.parameter_count() ==
          static_cast<std::size_t>(2 * 4 * kUnits * (kInputs + kUnits + 1)));

    std::vector<std::unique_ptr<LayerCalibration>> records = model.make_calibrations();
    std::vector<LayerCalibration*> pointers = {records[0].get()};
    for (const auto& window : random_windows(3, kSteps * kInputs, 17, -2.0f, 2.0f)) {
      std::vector<float> expected(out_shape.element_count());
      std::vector<float> h(2 * kUnits, 0.0f), c(h), scratch(4 * kUnits);
      REQUIRE(tsq::floating::bidirectional_lstm(
                  float_view(forward, kInputs, kUnits), float_view(backward, kInputs, kUnits),
                  TensorView<const float>(window.data(), Shape{1, kSteps, kInputs}),
                  TensorView<float>(expected.data(), out_shape), h, c, scratch)
                  .is_ok());
      CHECK(run_model(model, window) == expected);
      // Calibrating runs the directions one by one with observers: the same bits.
      CHECK(run_model(model, window, pointers) == expected);
    }
    const auto& record = static_cast<const tsq::nn::BidirectionalCalibration&>(*records[0]);
    CHECK(record.forward.input.count == static_cast<std::size_t>(3 * kSteps * kInputs));
    CHECK(record.backward.hidden.count == static_cast<std::size_t>(3 * kSteps * kUnits));

    // A missing backward weight is named.
    members.pop_back();
    const auto partial = tsq_test::make_npz(members);
    REQUIRE(partial.is_ok());
    const tsq::Status missing = model.load_weights(partial.value());
    CHECK(missing.code() == ErrorCode::not_found);
    CHECK_THAT(missing.message(), Catch::Contains("'bi/backward.bias'"));
  }
}

TEST_CASE("Bidirectional int8 shares the hidden quantization and equals the kernel by hand",
          "[nn][bidirectional]") {
  const LstmWeights forward = random_lstm_weights(kInputs, kUnits, 18);
  LstmWeights backward = random_lstm_weights(kInputs, kUnits, 19);
  for (float& v : backward.bias) v += 0.6f;  // a different hidden range from the forward's
  const auto fw = float_view(forward, kInputs, kUnits);
  const auto bw = float_view(backward, kInputs, kUnits);
  const auto calibration_windows = random_windows(16, kSteps * kInputs, 20, -2.0f, 2.0f);
  Model model;
  model.input("window", Shape{kSteps, kInputs});
  model.add(tsq::nn::Bidirectional("bi", tsq::nn::LSTM("cell", kUnits).return_sequences(true)));
  REQUIRE(model.build().is_ok());
  REQUIRE(bidirectional_of(model)
              .forward()
              .set_weights(forward.kernel, forward.recurrent, forward.bias)
              .is_ok());
  REQUIRE(bidirectional_of(model)
              .backward()
              .set_weights(backward.kernel, backward.recurrent, backward.bias)
              .is_ok());
  const auto record = calibrate(model, calibration_windows);

  // By hand: each direction's ranges, the hidden range united, quantize_lstm per direction.
  tsq::LstmRangeObserver forward_ranges, backward_ranges;
  for (const auto& window : calibration_windows) {
    float_lstm(fw, window.data(), kSteps, kInputs, kUnits, true, false, &forward_ranges);
    float_lstm(bw, window.data(), kSteps, kInputs, kUnits, true, true, &backward_ranges);
  }
  REQUIRE(forward_ranges.hidden.max != backward_ranges.hidden.max);
  tsq::RangeObserver hidden = forward_ranges.hidden;
  hidden.min = std::min(hidden.min, backward_ranges.hidden.min);
  hidden.max = std::max(hidden.max, backward_ranges.hidden.max);
  forward_ranges.hidden = hidden;
  backward_ranges.hidden = hidden;
  auto qf = tsq::quantize_lstm(fw, forward_ranges);
  auto qb = tsq::quantize_lstm(bw, backward_ranges);
  REQUIRE((qf.is_ok() && qb.is_ok()));
  REQUIRE(same_params(qf->hidden, qb->hidden));
  REQUIRE(same_params(qf->input, qb->input));

  const auto layer = quantize_layer(
      model.layer(0), request_for(Precision::int8, {{DataType::int8, qf->input}}, record.get()));
  CHECK(same_params(layer->output_quantization().params, qf->hidden));
  CHECK(layer->parameter_bytes().int8 ==
        static_cast<std::size_t>(2 * 4 * kUnits * (kInputs + kUnits)));

  const Shape in_shape{1, kSteps, kInputs}, out_shape{1, kSteps, 2 * kUnits};
  Error total;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::vector<float>& window = calibration_windows[i];
    std::vector<std::int8_t> x = quantized<std::int8_t>(window, qf->input);
    std::vector<std::int8_t> expected(out_shape.element_count());
    std::vector<std::int16_t> state(2 * kUnits, 0), cell(2 * kUnits, 0);
    std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(kSteps, kUnits));
    REQUIRE((tsq::reference::bidirectional_lstm<std::int8_t, std::int16_t>(
                 qf->params, qf->weights(), qb->params, qb->weights(),
                 TensorView<const std::int8_t>(x.data(), in_shape),
                 TensorView<std::int8_t>(expected.data(), out_shape), state, cell, scratch))
                .is_ok());
    const auto got = run_layer<std::int8_t>(*layer, {tensor(x, in_shape)}, out_shape);
    CHECK(got == expected);
    // Each half is that direction's own int8 LSTM (no requantization at the concatenation).
    for (int direction = 0; direction < 2; ++direction) {
      const auto& q = direction == 0 ? qf : qb;
      std::vector<std::int8_t> half(static_cast<std::size_t>(kSteps * kUnits));
      std::vector<std::int16_t> s(kUnits, 0), c(kUnits, 0);
      REQUIRE((tsq::reference::lstm<std::int8_t, std::int16_t>(
                   q->params, q->weights(), TensorView<const std::int8_t>(x.data(), in_shape),
                   TensorView<std::int8_t>(half.data(), Shape{1, kSteps, kUnits}), s, c, scratch,
                   direction == 1))
                  .is_ok());
      for (std::int32_t t = 0; t < kSteps; ++t) {
        for (std::int32_t j = 0; j < kUnits; ++j) {
          CHECK(got[static_cast<std::size_t>(t * 2 * kUnits + direction * kUnits + j)] ==
                half[static_cast<std::size_t>(t * kUnits + j)]);
        }
      }
    }
    const Error e = error_of(dequantized(got, qf->hidden), run_model(model, window));
    total.max_abs = std::max(total.max_abs, e.max_abs);
  }
  // Measured 0.0079 = 1.34 output steps (the shared S_h = 0.00587, coarser than the forward
  // direction's own).
  CHECK(total.max_abs < 2 * qf->hidden.scale);

  // int16 weights and int16 activations: both directions still share one hidden quantization.
  const auto wide_weights = quantize_layer(
      model.layer(0),
      request_for(Precision::int16_weights, {{DataType::int8, qf->input}}, record.get()));
  CHECK(wide_weights->parameter_bytes().int16 ==
        static_cast<std::size_t>(2 * 2 * 4 * kUnits * (kInputs + kUnits)));
  CHECK(same_params(wide_weights->output_quantization().params, qf->hidden));
  QuantParams input16 = tsq::make_quant_params(2.0f / 32767, 0, DataType::int16);
  const auto wide_activations = quantize_layer(
      model.layer(0),
      request_for(Precision::int16_activations, {{DataType::int16, input16}}, record.get()));
  CHECK(wide_activations->output_quantization().type == DataType::int16);
  {
    std::vector<float> window = calibration_windows[0];
    const std::vector<float> expected = run_model(model, window);
    std::vector<std::int8_t> x8 = quantized<std::int8_t>(window, qf->input);
    std::vector<std::int16_t> x16 = quantized<std::int16_t>(window, input16);
    const auto y8 = run_layer<std::int8_t>(*wide_weights, {tensor(x8, in_shape)}, out_shape);
    const auto y16 = run_layer<std::int16_t>(*wide_activations, {tensor(x16, in_shape)}, out_shape);
    // Measured 0.0067 (int16 weights, int8 output step 0.0059) and 0.0046 (int16 activations:
    // the int8 weight rounding remains).
    CHECK(error_of(dequantized(y8, qf->hidden), expected).max_abs < 2 * qf->hidden.scale);
    CHECK(error_of(dequantized(y16, wide_activations->output_quantization().params), expected)
              .max_abs < 0.007);
  }

  // The float forms: dynamic int8 is two hybrid LSTMs into the two halves.
  const TensorQuantization float_input{DataType::float32, QuantParams{}};
  const auto hybrid =
      quantize_layer(model.layer(0), request_for(Precision::dynamic_int8, {float_input}));
  const auto half =
      quantize_layer(model.layer(0), request_for(Precision::float16_weights, {float_input}));
  CHECK(half->parameter_bytes().float16 ==
        static_cast<std::size_t>(2 * 2 * 4 * kUnits * (kInputs + kUnits)));
  std::vector<float> window = random_windows(1, kSteps * kInputs, 22, -2.0f, 2.0f)[0];
  const std::vector<float> expected = run_model(model, window);
  // Measured 0.0040 (hybrid) and 0.00011 (half weights).
  CHECK(
      error_of(run_layer<float>(*hybrid, {tensor(window, in_shape)}, out_shape), expected).max_abs <
      0.01);
  CHECK(error_of(run_layer<float>(*half, {tensor(window, in_shape)}, out_shape), expected).max_abs <
        5e-4);
}

// ---------------------------------------------------------------------------------------------
// Add

TEST_CASE("Add broadcasts and equals reference::add by hand", "[nn][add]") {
  Model model;
  const auto x = model.input("window", Shape{4, 3});
  // [1, 4, 3] + [1, 1, 3]: the window plus its own last step, broadcast over time.
  const auto last = model.add(tsq::nn::LastStep("last"), x);
  const auto term = model.add(tsq::nn::Reshape("term", {1, 3}), last);
  model.add(tsq::nn::Add("add"), {x, term});
  const tsq::Status built = model.build();
  INFO(built.message());
  REQUIRE(built.is_ok());
  CHECK(model.output_shape() == Shape{1, 4, 3});
  const std::vector<float> window = {0.5f, -1.0f, 2.0f,  0.25f, 0.0f, -0.5f,
                                     1.5f, 1.0f,  -2.0f, 0.75f, 0.5f, 0.125f};
  const std::vector<float> got = run_model(model, window);
  for (std::size_t i = 0; i < window.size(); ++i) CHECK(got[i] == window[i] + window[9 + i % 3]);

  tsq::nn::Add add("add");
  const Shape shapes[] = {Shape{1, 4, 3}, Shape{1, 1, 3}};
  REQUIRE(add.attach(Span<const Shape>(shapes, 2)).is_ok());
  CHECK(add.input_count() == 2);
  const Shape incompatible[] = {Shape{1, 4, 3}, Shape{1, 2, 3}};
  tsq::nn::Add other("other");
  CHECK(other.attach(Span<const Shape>(incompatible, 2)).status().code() ==
        ErrorCode::shape_mismatch);

  std::vector<float> a = Random(23).fill(12, -2.0f, 2.0f), b = Random(24).fill(3, -1.0f, 1.0f);
  std::vector<float> sum(12);
  REQUIRE(tsq::floating::add(tsq::FusedActivation::none,
                             TensorView<const float>(a.data(), shapes[0]),
                             TensorView<const float>(b.data(), shapes[1]),
                             TensorView<float>(sum.data(), Shape{1, 4, 3}))
              .is_ok());
  for (const DataType type : {DataType::int8, DataType::int16}) {
    const bool int16 = type == DataType::int16;
    const QuantParams pa = int16 ? tsq::make_quant_params(2.0f / 32767, 0, type)
                                 : tsq::choose_quant_params(-2.0, 2.0).value();
    const QuantParams pb = int16 ? tsq::make_quant_params(1.0f / 32767, 0, type)
                                 : tsq::choose_quant_params(-1.0, 1.0).value();
    const QuantParams po = int16 ? tsq::make_quant_params(3.0f / 32767, 0, type)
                                 : tsq::choose_quant_params(-3.0, 3.0).value();
    LayerQuantizationRequest request = request_for(
        int16 ? Precision::int16_activations : Precision::int8, {{type, pa}, {type, pb}});
    request.output = TensorQuantization{type, po};
    const auto layer = quantize_layer(add, request);
    CHECK(same_params(layer->output_quantization().params, po));
    tsq::AddQuantization q;
    q.input1_shape = shapes[0];
    q.input1 = pa;
    q.input2_shape = shapes[1];
    q.input2 = pb;
    q.output = po;
    const auto params = tsq::prepare_add(q);
    REQUIRE(params.is_ok());
    const auto check = [&](auto zero) {
      using T = decltype(zero);
      std::vector<T> qa = quantized<T>(a, pa), qb = quantized<T>(b, pb), expected(12);
      REQUIRE(tsq::reference::add(params.value(), TensorView<const T>(qa.data(), shapes[0]),
                                  TensorView<const T>(qb.data(), shapes[1]),
                                  TensorView<T>(expected.data(), Shape{1, 4, 3}))
                  .is_ok());
      const auto got =
          run_layer<T>(*layer, {tensor(qa, shapes[0]), tensor(qb, shapes[1])}, Shape{1, 4, 3});
      CHECK(got == expected);
      CHECK(error_of(dequantized(got, po), sum).max_abs <= 1.5 * po.scale);
    };
    if (int16) {
      check(std::int16_t{});
    } else {
      check(std::int8_t{});
    }
  }
  CHECK(add.quantize(request_for(Precision::int16_weights, {{DataType::int8, QuantParams{}},
                                                            {DataType::int8, QuantParams{}}}))
            .status()
            .code() == ErrorCode::unsupported_type);
}

// ---------------------------------------------------------------------------------------------
// Activations

template <typename LayerType>
void check_fixed_output(const LayerType& layer, DataType type, float scale, std::int32_t zero) {
  const bool int16 = type == DataType::int16;
  const QuantParams input = int16 ? tsq::make_quant_params(8.0f / 32768, 0, type)
                                  : tsq::choose_quant_params(-4.0, 6.0).value();
  // request_for sets an output of (0.37, 3): the layer keeps its fixed one.
  const auto q = quantize_layer(
      layer, request_for(int16 ? Precision::int16_activations : Precision::int8, {{type, input}}));
  const TensorQuantization out = q->output_quantization();
  CHECK(out.type == type);
  CHECK(out.params.scale == scale);
  CHECK(out.params.zero_point == zero);
  CHECK(out.params.quant_min == tsq::type_range(type).min);
  CHECK(out.params.quant_max == tsq::type_range(type).max);
}

TEST_CASE("Softmax, Logistic and Tanh have fixed integer outputs and equal their kernels",
          "[nn][activations]") {
  const Shape shape{1, 2, 6};
  Random random(25);
  std::vector<float> x = random.fill(12, -4.0f, 6.0f);
  const QuantParams input = tsq::choose_quant_params(-4.0, 6.0).value();
  std::vector<std::int8_t> qx = quantized<std::int8_t>(x, input);

  tsq::nn::Softmax softmax("softmax");
  softmax.beta(0.5f);
  tsq::nn::Logistic logistic("logistic");
  tsq::nn::Tanh tanh_layer("tanh");
  for (tsq::nn::Layer* layer : std::vector<tsq::nn::Layer*>{&softmax, &logistic, &tanh_layer}) {
    REQUIRE(layer->attach(Span<const Shape>(&shape, 1)).is_ok());
  }
  check_fixed_output(softmax, DataType::int8, 1.0f / 256, -128);
  check_fixed_output(softmax, DataType::int16, 1.0f / 32768, 0);
  check_fixed_output(logistic, DataType::int8, 1.0f / 256, -128);
  check_fixed_output(logistic, DataType::int16, 1.0f / 32768, 0);
  check_fixed_output(tanh_layer, DataType::int8, 1.0f / 128, 0);
  check_fixed_output(tanh_layer, DataType::int16, 1.0f / 32768, 0);

  // Float runs equal the float kernels; int8 runs the reference kernels with the fixed output.
  std::vector<float> expected(12), got(12);
  const TensorView<const float> in(x.data(), shape);
  const auto run_float = [&](const tsq::nn::Layer& layer) {
    REQUIRE(layer
                .run_float(Span<const TensorView<const float>>(&in, 1),
                           TensorView<float>(got.data(), shape), {}, nullptr)
                .is_ok());
    return got;
  };
  REQUIRE(tsq::floating::softmax(0.5f, in, TensorView<float>(expected.data(), shape)).is_ok());
  CHECK(run_float(softmax) == expected);
  REQUIRE(tsq::floating::logistic(in, TensorView<float>(expected.data(), shape)).is_ok());
  CHECK(run_float(logistic) == expected);
  REQUIRE(tsq::floating::tanh(in, TensorView<float>(expected.data(), shape)).is_ok());
  CHECK(run_float(tanh_layer) == expected);

  const auto int8 = [&](const tsq::nn::Layer& layer) {
    return run_layer<std::int8_t>(
        *quantize_layer(layer, request_for(Precision::int8, {{DataType::int8, input}})),
        {tensor(qx, shape)}, shape);
  };
  std::vector<std::int8_t> reference(12);
  tsq::SoftmaxQuantization sq{shape, input, tsq::nn::Softmax::fixed_output(DataType::int8).params,
                              0.5f, tsq::RoundingMode::double_rounding};
  REQUIRE(tsq::reference::softmax(tsq::prepare_softmax(sq).value(),
                                  TensorView<const std::int8_t>(qx.data(), shape),
                                  TensorView<std::int8_t>(reference.data(), shape))
              .is_ok());
  CHECK(int8(softmax) == reference);
  tsq::LogisticQuantization lq{shape, input, tsq::nn::Logistic::fixed_output(DataType::int8).params,
                               tsq::RoundingMode::double_rounding};
  REQUIRE(tsq::reference::logistic(tsq::prepare_logistic(lq).value(),
                                   TensorView<const std::int8_t>(qx.data(), shape),
                                   TensorView<std::int8_t>(reference.data(), shape))
              .is_ok());
  CHECK(int8(logistic) == reference);
  tsq::TanhQuantization tq{shape, input, tsq::nn::Tanh::fixed_output(DataType::int8).params,
                           tsq::RoundingMode::double_rounding};
  REQUIRE(tsq::reference::tanh(tsq::prepare_tanh(tq).value(),
                               TensorView<const std::int8_t>(qx.data(), shape),
                               TensorView<std::int8_t>(reference.data(), shape))
              .is_ok());
  CHECK(int8(tanh_layer) == reference);

  // The float precisions run the float layer.
  const auto fallback = quantize_layer(
      softmax, request_for(Precision::dynamic_int8, {{DataType::float32, QuantParams{}}}));
  CHECK(fallback->output_quantization().type == DataType::float32);
  CHECK(run_layer<float>(*fallback, {tensor(x, shape)}, shape) == run_float(softmax));
  CHECK(softmax.quantize(request_for(Precision::int8, {{DataType::float32, QuantParams{}}}))
            .status()
            .code() == ErrorCode::unsupported_type);
}

TEST_CASE("ReLU requantizes to the request's output, ReLU6 keeps its input's",
          "[nn][activations]") {
  const Shape shape{1, 8};
  std::vector<float> x = {-3.0f, -0.5f, 0.0f, 0.4f, 1.9f, 5.5f, 6.2f, 7.9f};
  const QuantParams input = tsq::choose_quant_params(-4.0, 8.0).value();
  std::vector<std::int8_t> qx = quantized<std::int8_t>(x, input);
  tsq::nn::ReLU relu("relu");
  tsq::nn::ReLU6 relu6("relu6");
  REQUIRE(relu.attach(Span<const Shape>(&shape, 1)).is_ok());
  REQUIRE(relu6.attach(Span<const Shape>(&shape, 1)).is_ok());
  CHECK_FALSE(relu.passes_quantization_through());
  CHECK(relu6.passes_quantization_through());

  LayerQuantizationRequest request = request_for(Precision::int8, {{DataType::int8, input}});
  const QuantParams output = tsq::choose_quant_params(0.0, 8.0).value();
  request.output = TensorQuantization{DataType::int8, output};
  const auto q = quantize_layer(relu, request);
  CHECK(same_params(q->output_quantization().params, output));
  tsq::ReluQuantization rq;
  rq.shape = shape;
  rq.input = input;
  rq.output = output;
  std::vector<std::int8_t> expected(8);
  REQUIRE(tsq::reference::relu(tsq::prepare_relu(rq).value(),
                               TensorView<const std::int8_t>(qx.data(), shape),
                               TensorView<std::int8_t>(expected.data(), shape))
              .is_ok());
  CHECK(run_layer<std::int8_t>(*q, {tensor(qx, shape)}, shape) == expected);

  // ReLU6 ignores the request's output (here the odd (0.37, 3) of request_for).
  const auto q6 = quantize_layer(relu6, request_for(Precision::int8, {{DataType::int8, input}}));
  CHECK(same_params(q6->output_quantization().params, input));
  const auto got = dequantized(run_layer<std::int8_t>(*q6, {tensor(qx, shape)}, shape), input);
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(got[i] == Approx(std::min(std::max(x[i], 0.0f), 6.0f)).margin(input.scale));
  }
  // int16 with zero points 0.
  const QuantParams input16 = tsq::make_quant_params(8.0f / 32768, 0, DataType::int16);
  std::vector<std::int16_t> qx16 = quantized<std::int16_t>(x, input16);
  const auto q16 = quantize_layer(
      relu6, request_for(Precision::int16_activations, {{DataType::int16, input16}}));
  const auto got16 =
      dequantized(run_layer<std::int16_t>(*q16, {tensor(qx16, shape)}, shape), input16);
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(got16[i] == Approx(std::min(std::max(x[i], 0.0f), 6.0f)).margin(input16.scale));
  }
}

// ---------------------------------------------------------------------------------------------
// Reshape, Flatten, LastStep

TEST_CASE("Reshape, Flatten and LastStep copy int8, int16 and float exactly", "[nn][reshape]") {
  const Shape in_shape{1, 4, 6};
  tsq::nn::Reshape reshape("reshape", {-1, 3});
  tsq::nn::Flatten flatten("flatten");
  tsq::nn::LastStep last("last");
  CHECK(reshape.attach(Span<const Shape>(&in_shape, 1)).value() == Shape{1, 8, 3});
  CHECK(flatten.attach(Span<const Shape>(&in_shape, 1)).value() == Shape{1, 24});
  CHECK(last.attach(Span<const Shape>(&in_shape, 1)).value() == Shape{1, 6});
  tsq::nn::Reshape bad("bad", {5, -1});
  CHECK(bad.attach(Span<const Shape>(&in_shape, 1)).status().code() == ErrorCode::shape_mismatch);
  tsq::nn::Reshape two("two", {-1, -1});
  CHECK(two.attach(Span<const Shape>(&in_shape, 1)).status().code() == ErrorCode::invalid_argument);

  Random random(26);
  std::vector<float> x = random.fill(24, -3.0f, 3.0f);
  const std::vector<float> last_step(x.begin() + 18, x.end());
  const QuantParams p8 = tsq::choose_quant_params(-3.0, 3.0).value();
  const QuantParams p16 = tsq::make_quant_params(3.0f / 32767, 0, DataType::int16);
  std::vector<std::int8_t> x8 = quantized<std::int8_t>(x, p8);
  std::vector<std::int16_t> x16 = quantized<std::int16_t>(x, p16);
  for (const tsq::nn::Layer* layer :
       std::vector<const tsq::nn::Layer*>{&reshape, &flatten, &last}) {
    INFO(layer->kind());
    CHECK(layer->passes_quantization_through());
    const bool is_last = layer == &last;
    const Shape out_shape = layer->output_shape();
    // Float.
    std::vector<float> out(out_shape.element_count());
    const TensorView<const float> in(x.data(), in_shape);
    REQUIRE(layer
                ->run_float(Span<const TensorView<const float>>(&in, 1),
                            TensorView<float>(out.data(), out_shape), {}, nullptr)
                .is_ok());
    CHECK(out == (is_last ? last_step : x));
    for (const Precision precision :
         {Precision::float32, Precision::float16_weights, Precision::dynamic_int8, Precision::int8,
          Precision::int16_activations, Precision::int16_weights}) {
      CHECK(layer->supports(precision));
    }
    // int8 and int16: the bytes move, the parameters carry through.
    const auto q8 = quantize_layer(*layer, request_for(Precision::int8, {{DataType::int8, p8}}));
    CHECK(same_params(q8->output_quantization().params, p8));
    const auto got8 = run_layer<std::int8_t>(*q8, {tensor(x8, in_shape)}, out_shape);
    CHECK(got8 == (is_last ? std::vector<std::int8_t>(x8.begin() + 18, x8.end()) : x8));
    const auto q16 =
        quantize_layer(*layer, request_for(Precision::int16_activations, {{DataType::int16, p16}}));
    const auto got16 = run_layer<std::int16_t>(*q16, {tensor(x16, in_shape)}, out_shape);
    CHECK(got16 == (is_last ? std::vector<std::int16_t>(x16.begin() + 18, x16.end()) : x16));
    const auto qf = quantize_layer(
        *layer, request_for(Precision::float32, {{DataType::float32, QuantParams{}}}));
    CHECK(run_layer<float>(*qf, {tensor(x, in_shape)}, out_shape) == (is_last ? last_step : x));
    // An int8 tensor handed to the float form is refused, not misread.
    std::vector<float> unused(out_shape.element_count());
    Arena scratch(0);
    const AnyTensor wrong = tensor(x8, in_shape);
    CHECK(
        qf->run(Span<const AnyTensor>(&wrong, 1), tensor(unused, out_shape), scratch.span).code() ==
        ErrorCode::unsupported_type);
  }
}

TEST_CASE("LastStep after a return_sequences LSTM equals the LSTM's last-step output",
          "[nn][reshape]") {
  const LstmWeights w = random_lstm_weights(kInputs, kUnits, 27);
  Model sequences;
  sequences.input("window", Shape{kSteps, kInputs});
  sequences.add(tsq::nn::LSTM("lstm", kUnits).return_sequences(true));
  sequences.add(tsq::nn::LastStep("last"));
  REQUIRE(sequences.build().is_ok());
  REQUIRE(lstm_of(sequences).set_weights(w.kernel, w.recurrent, w.bias).is_ok());
  const Model last = lstm_model(w, false);
  for (const auto& window : random_windows(3, kSteps * kInputs, 28, -2.0f, 2.0f)) {
    CHECK(run_model(sequences, window) == run_model(last, window));
  }
}

// ---------------------------------------------------------------------------------------------
// Embedding

TEST_CASE("Embedding gathers rows, refuses bad ids and quantizes its table", "[nn][embedding]") {
  constexpr std::int32_t kVocabulary = 10, kDimension = 4;
  Random random(29);
  const std::vector<float> table = random.fill(kVocabulary * kDimension, -1.0f, 2.0f);
  Model model;
  model.input("tokens", Shape{5});
  model.add(tsq::nn::Embedding("embedding", kVocabulary, kDimension));
  REQUIRE(model.build().is_ok());
  CHECK(model.output_shape() == Shape{1, 5, kDimension});
  const auto npz = tsq_test::make_npz({{"embedding.embeddings", {10, 4}, table}});
  REQUIRE(npz.is_ok());
  REQUIRE(model.load_weights(npz.value()).is_ok());

  std::vector<float> ids = {3.0f, 0.0f, 9.0f, 3.0f, 7.0f};
  const std::vector<float> got = run_model(model, ids);
  for (std::size_t t = 0; t < ids.size(); ++t) {
    for (std::size_t d = 0; d < kDimension; ++d) {
      CHECK(got[t * kDimension + d] == table[static_cast<std::size_t>(ids[t]) * kDimension + d]);
    }
  }
  for (const float id : {10.0f, -1.0f, 2.5f, std::nanf("")}) {
    std::vector<float> bad = ids;
    bad[2] = id;
    std::vector<float> out(model.output_size());
    Arena arena(model.arena_bytes());
    const tsq::Status status = model.run(bad, out, arena.span);
    CHECK(status.code() == ErrorCode::invalid_argument);
    CHECK_THAT(status.message(),
               Catch::Contains("Embedding 'embedding'") && Catch::Contains("token id at step 2"));
  }
  const auto wrong_shape = tsq_test::make_npz({{"embedding.embeddings", {4, 10}, table}});
  CHECK(model.load_weights(wrong_shape.value()).code() == ErrorCode::shape_mismatch);

  // int8: the table quantized from its own range; the ids stay float32.
  const tsq::nn::Layer& layer = model.layer(0);
  const TensorQuantization float_ids{DataType::float32, QuantParams{}};
  const auto q = quantize_layer(layer, request_for(Precision::int8, {float_ids}));
  const auto [low, high] = std::minmax_element(table.begin(), table.end());
  const QuantParams expected = tsq::choose_quant_params(*low, *high).value();
  CHECK(same_params(q->output_quantization().params, expected));
  CHECK(q->parameter_bytes().int8 == static_cast<std::size_t>(kVocabulary * kDimension));
  const std::vector<std::int8_t> table8 = quantized<std::int8_t>(table, expected);
  const auto got8 = run_layer<std::int8_t>(*q, {tensor(ids, Shape{1, 5})}, Shape{1, 5, kDimension});
  for (std::size_t t = 0; t < ids.size(); ++t) {
    for (std::size_t d = 0; d < kDimension; ++d) {
      CHECK(got8[t * kDimension + d] == table8[static_cast<std::size_t>(ids[t]) * kDimension + d]);
    }
  }
  std::vector<float> bad = ids;
  bad[0] = 12.0f;
  std::vector<std::int8_t> out(20);
  Arena scratch(0);
  const AnyTensor bad_ids = tensor(bad, Shape{1, 5});
  CHECK(
      q->run(Span<const AnyTensor>(&bad_ids, 1), tensor(out, Shape{1, 5, kDimension}), scratch.span)
          .code() == ErrorCode::invalid_argument);
  // An int8 input is refused: check_request_types' rule does not apply to token ids.
  const auto int8_ids = layer.quantize(request_for(
      Precision::int8, {{DataType::int8, tsq::make_quant_params(1.0f, 0, DataType::int8)}}));
  CHECK(int8_ids.status().code() == ErrorCode::unsupported_type);
  // float16: half table, exact rows of it.
  const auto half = quantize_layer(layer, request_for(Precision::float16_weights, {float_ids}));
  CHECK(half->parameter_bytes().float16 == static_cast<std::size_t>(2 * kVocabulary * kDimension));
  const auto got16 = run_layer<float>(*half, {tensor(ids, Shape{1, 5})}, Shape{1, 5, kDimension});
  for (std::size_t t = 0; t < ids.size(); ++t) {
    for (std::size_t d = 0; d < kDimension; ++d) {
      CHECK(got16[t * kDimension + d] ==
            tsq::half_to_float(
                tsq::float_to_half(table[static_cast<std::size_t>(ids[t]) * kDimension + d])));
    }
  }
}

}  // namespace
