// SPDX-License-Identifier: Apache-2.0
// tsq's main job on a real model: tsq quantizes a float CNN itself (full-integer post-training
// quantization) and reports what a user needs to trust the result.
//
// The model is the MIT-BIH heartbeat classifier of shared/data/ecg-mitbih (its float32 TFLite
// file, dumped to JSON and converted to tests/data/ecg_classifier_float.npz by
// tools/tflite_json_to_npz.py). The program
//   1. loads the float weights and the operator table with tsq's npz reader, and the 18,282
//      labelled beats;
//   2. calibrates: runs the float kernels over 300 beats (fixed seed) and records min/max of every
//      activation tensor;
//   3. quantizes: int8 asymmetric activations (choose_quant_params), int8 symmetric per-channel
//      weights (quantize_per_channel), int32 biases (quantize_bias), then prepares every integer
//      layer (multipliers, clamps) in both rounding modes;
//   4. runs the integer chain (integer reference kernels only) on every beat and compares it with
//      the float model: layer by layer (the quantization debugger's metrics) and as a classifier
//      (accuracy, macro F1, confusion matrix).
//
// Usage: tsq_ecg_demo [--data DIR] [--model FILE]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tsq/io/npy.hpp"
#include "tsq/io/npz.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/depthwise_conv2d.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/float/max_pool2d.hpp"
#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

#ifndef TSQ_SOURCE_DIR
#error "build with -DTSQ_SOURCE_DIR=<the tsq checkout> (examples/CMakeLists.txt does)"
#endif

namespace {

using tsq::DataType;
using tsq::FusedActivation;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::Span;
using tsq::Status;
using tsq::TensorView;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kCalibrationBeats = 300;  // the study's "100-300 representative samples"
constexpr std::uint32_t kCalibrationSeed = 2024;
constexpr double kFlagRmsePerScale = 0.7;  // the study's "badly quantized layer" threshold
constexpr std::size_t kClasses = 5;
constexpr const char* kClassNames[kClasses] = {"N", "S", "V", "F", "Q"};  // AAMI classes

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// 18282 -> "18,282".
std::string grouped(std::size_t value) {
  std::string digits = std::to_string(value);
  for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return digits;
}

std::string shape_text(const Shape& shape) {
  std::string text = "[";
  for (int d = 0; d < shape.rank(); ++d) {
    text += (d > 0 ? "," : "") + std::to_string(shape[d]);
  }
  return text + "]";
}

double percent(std::size_t part, std::size_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

int fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "error: %s: %s (%s)\n", what.c_str(), status.message(),
               tsq::error_code_name(status.code()));
  return 1;
}

// ---------------------------------------------------------------------------------------------
// Command line and where the files are.

struct Options {
  std::string data_dir;  // holds ecg-mitbih/
  std::string model_path;
};

constexpr const char* kUsage =
    "usage: tsq_ecg_demo [--data DIR] [--model FILE]\n"
    "  --data DIR    the shared data folder that holds ecg-mitbih/ (default: $TSQ_DATA_DIR,\n"
    "                else <source>/../shared/data, else /work/shared/data)\n"
    "  --model FILE  the float model .npz (default: "
    "<source>/tests/data/ecg_classifier_float.npz)\n";

// Returns false (after printing why) when the program should stop; `exit_code` says how.
bool parse_options(int argc, char** argv, Options& options, int& exit_code) {
  options.model_path = std::string(TSQ_SOURCE_DIR) + "/tests/data/ecg_classifier_float.npz";
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--help" || argument == "-h") {
      std::fputs(kUsage, stdout);
      exit_code = 0;
      return false;
    }
    if (argument == "--data" || argument == "--model") {
      if (i + 1 == argc) {
        std::fprintf(stderr, "error: %s needs a value\n%s", argument.c_str(), kUsage);
        exit_code = 2;
        return false;
      }
      (argument == "--data" ? options.data_dir : options.model_path) = argv[++i];
      continue;
    }
    std::fprintf(stderr, "error: unexpected argument '%s'\n%s", argument.c_str(), kUsage);
    exit_code = 2;
    return false;
  }
  return true;
}

bool is_file(const std::string& path) {
  std::error_code error;  // a folder we may not read counts as "not there", not as a crash
  return std::filesystem::is_regular_file(path, error);
}

// The tests' rule: a folder given explicitly (--data, else $TSQ_DATA_DIR) is the only one
// tried; otherwise the shared folder beside the checkout, then the workplace's.
bool locate_data(Options& options) {
  std::vector<std::string> candidates;
  const char* environment = std::getenv("TSQ_DATA_DIR");
  if (!options.data_dir.empty()) {
    candidates = {options.data_dir};
  } else if (environment != nullptr && *environment != '\0') {
    candidates = {environment};
  } else {
    candidates = {std::string(TSQ_SOURCE_DIR) + "/../shared/data", "/work/shared/data"};
  }
  for (const std::string& folder : candidates) {
    if (is_file(folder + "/ecg-mitbih/beats.npy")) {
      options.data_dir = std::filesystem::path(folder).lexically_normal().string();
      return true;
    }
  }
  std::fprintf(stderr,
               "error: the ECG data (ecg-mitbih/beats.npy, labels.npy, records.npy) is not in");
  for (const std::string& folder : candidates) std::fprintf(stderr, " %s", folder.c_str());
  std::fprintf(stderr,
               ".\nPass --data DIR or set TSQ_DATA_DIR to the folder that holds ecg-mitbih/ "
               "(the workplace's shared/data).\n");
  return false;
}

// ---------------------------------------------------------------------------------------------
// The float model: the computing ops of the npz operator table, in execution order.

// TFLite BuiltinOperator codes of the ops in this model.
constexpr std::int32_t kConv2D = 3;
constexpr std::int32_t kDepthwiseConv2D = 4;
constexpr std::int32_t kFullyConnected = 9;
constexpr std::int32_t kMaxPool2D = 17;
constexpr std::int32_t kReshape = 22;
constexpr std::int32_t kSoftmax = 25;

enum class LayerKind { depthwise_conv, conv, max_pool, dense, softmax };

const char* op_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::depthwise_conv: return "DEPTHWISE_CONV_2D";
    case LayerKind::conv: return "CONV_2D";
    case LayerKind::max_pool: return "MAX_POOL_2D";
    case LayerKind::dense: return "FULLY_CONNECTED";
    case LayerKind::softmax: return "SOFTMAX";
  }
  return "?";
}

// What the operator table must hold, RESHAPEs aside (they are views here). The npz keeps no
// builtin options, so they are written down from tools/tflite_json_to_npz.py's listing of the
// float model (op1, op3, ..., op15); names are the Keras layers'.
struct LayerSpec {
  LayerKind kind;
  std::int32_t builtin_code;
  const char* name;
  FusedActivation activation;
};
constexpr LayerSpec kEcgLayers[] = {
    {LayerKind::depthwise_conv, kDepthwiseConv2D, "conv1d", FusedActivation::relu},
    {LayerKind::max_pool, kMaxPool2D, "max_pooling1d", FusedActivation::none},
    {LayerKind::conv, kConv2D, "conv1d_1", FusedActivation::relu},
    {LayerKind::max_pool, kMaxPool2D, "max_pooling1d_1", FusedActivation::none},
    {LayerKind::conv, kConv2D, "conv1d_2", FusedActivation::relu},
    {LayerKind::max_pool, kMaxPool2D, "max_pooling1d_2", FusedActivation::none},
    {LayerKind::dense, kFullyConnected, "dense", FusedActivation::relu},
    {LayerKind::dense, kFullyConnected, "dense_1", FusedActivation::relu},
    {LayerKind::dense, kFullyConnected, "dense_2", FusedActivation::none},
    {LayerKind::softmax, kSoftmax, "softmax", FusedActivation::none},
};

// DEPTHWISE_CONV_2D op1: VALID, strides 1, depth_multiplier 5 (the Conv1D with one input channel).
tsq::DepthwiseConv2DOptions depthwise_options(FusedActivation activation) {
  tsq::DepthwiseConv2DOptions options;
  options.padding = tsq::Padding::valid;
  options.depth_multiplier = 5;
  options.activation = activation;
  return options;
}

// CONV_2D op5, op9: VALID, strides 1.
tsq::Conv2DOptions conv_options(FusedActivation activation) {
  tsq::Conv2DOptions options;
  options.padding = tsq::Padding::valid;
  options.activation = activation;
  return options;
}

// MAX_POOL_2D op3, op7, op11: VALID, 2x1 window, stride 2 along H (the Conv1D's time axis after
// the model's RESHAPE to [1, W, 1, C]).
tsq::Pool2DWindow pool_window() {
  tsq::Pool2DWindow window;
  window.filter_height = 2;
  window.stride_height = 2;
  window.padding = tsq::Padding::valid;
  return window;
}

constexpr float kSoftmaxBeta = 1.0f;  // SOFTMAX op15

struct Layer {
  LayerKind kind = LayerKind::softmax;
  const char* name = "";
  FusedActivation activation = FusedActivation::none;
  Shape input_shape;  // as the op reads its input: the RESHAPE before it is a view
  Shape output_shape;
  Shape weights_shape;  // filter or weight matrix; rank 0 for pooling and softmax
  std::vector<float> weights, bias;

  bool has_weights() const { return kind != LayerKind::max_pool && kind != LayerKind::softmax; }
  std::size_t parameter_count() const { return weights.size() + bias.size(); }
  // Output channels are filter dim 3 for a depthwise filter [1, KH, KW, C * m], dim 0 otherwise
  // ([C_out, KH, KW, C_in], [units, depth]): the axis of the per-channel weight scales.
  int channel_axis() const { return kind == LayerKind::depthwise_conv ? 3 : 0; }
};

// Tensors are numbered along the chain: 0 is the model input, i + 1 is layer i's output.
struct FloatModel {
  Shape input_shape;
  std::vector<Layer> layers;
  std::size_t parameter_count() const {
    std::size_t count = 0;
    for (const Layer& layer : layers) count += layer.parameter_count();
    return count;
  }
};

template <typename T>
Status read_member(const tsq::io::NpzFile& file, const std::string& name, std::vector<T>& out) {
  const tsq::Result<const tsq::io::NpyArray*> array = file.get(name);
  if (!array.is_ok()) return array.status();
  const T* data = array.value()->data<T>();
  if (data == nullptr) {
    return Status::error(tsq::ErrorCode::unsupported_type, "npz member ")
        .append(name.c_str())
        .append(" is not ")
        .append(tsq::data_type_name(tsq::data_type_of_v<T>));
  }
  out.assign(data, data + array.value()->element_count());
  return Status::ok();
}

Status read_shape(const tsq::io::NpzFile& file, std::int32_t tensor, Shape& shape) {
  std::vector<std::int32_t> dims;
  TSQ_RETURN_IF_ERROR(read_member(file, "t" + std::to_string(tensor) + ".shape", dims));
  const tsq::Result<Shape> made = Shape::make(dims);
  if (!made.is_ok()) return made.status();
  shape = made.value();
  return Status::ok();
}

struct Op {
  std::int32_t code = 0;
  std::vector<std::int32_t> inputs, outputs;
};

// Operator records op<k>: [builtin code, n_in, inputs..., n_out, outputs...].
Status read_ops(const tsq::io::NpzFile& file, std::vector<Op>& ops) {
  for (std::size_t k = 0; file.find("op" + std::to_string(k)) != nullptr; ++k) {
    std::vector<std::int32_t> record;
    TSQ_RETURN_IF_ERROR(read_member(file, "op" + std::to_string(k), record));
    const Status malformed =
        Status::error(tsq::ErrorCode::malformed_file, "malformed operator record op").append(k);
    if (record.size() < 3 || record[1] < 0 ||
        record.size() < 3 + static_cast<std::size_t>(record[1])) {
      return malformed;
    }
    const auto input_count = static_cast<std::size_t>(record[1]);
    const std::int32_t output_count = record[2 + input_count];
    if (output_count < 0 ||
        record.size() != 3 + input_count + static_cast<std::size_t>(output_count)) {
      return malformed;
    }
    const auto split = record.begin() + 2 + static_cast<std::ptrdiff_t>(input_count);
    Op op;
    op.code = record[0];
    op.inputs.assign(record.begin() + 2, split);
    op.outputs.assign(split + 1, record.end());
    ops.push_back(op);
  }
  return Status::ok();
}

// Reads the operator table, checks it is exactly the chain of kEcgLayers (each op reads what the
// one before wrote; RESHAPE only renames), and loads shapes, weights and biases.
Status load_float_model(const std::string& path, FloatModel& model) {
  const tsq::Result<tsq::io::NpzFile> file_or = tsq::io::load_npz(path);
  if (!file_or.is_ok()) return file_or.status();
  const tsq::io::NpzFile& file = file_or.value();
  std::vector<Op> ops;
  TSQ_RETURN_IF_ERROR(read_ops(file, ops));
  if (ops.empty()) return Status::error(tsq::ErrorCode::malformed_file, "no operators in the npz");
  TSQ_RETURN_IF_ERROR(read_shape(file, ops[0].inputs.at(0), model.input_shape));

  constexpr std::size_t kLayerCount = sizeof(kEcgLayers) / sizeof(kEcgLayers[0]);
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const Op& op = ops[k];
    if (op.inputs.empty() || op.outputs.size() != 1 ||
        (k > 0 && op.inputs[0] != ops[k - 1].outputs[0])) {
      return Status::error(tsq::ErrorCode::malformed_file, "op")
          .append(k)
          .append(" does not read the previous op's output: not the expected chain");
    }
    if (op.code == kReshape) continue;
    const std::size_t index = model.layers.size();
    if (index == kLayerCount || op.code != kEcgLayers[index].builtin_code) {
      return Status::error(tsq::ErrorCode::malformed_file, "op")
          .append(k)
          .append(": unexpected builtin code ")
          .append(op.code);
    }
    Layer layer;
    layer.kind = kEcgLayers[index].kind;
    layer.name = kEcgLayers[index].name;
    layer.activation = kEcgLayers[index].activation;
    TSQ_RETURN_IF_ERROR(read_shape(file, op.inputs[0], layer.input_shape));
    TSQ_RETURN_IF_ERROR(read_shape(file, op.outputs[0], layer.output_shape));
    if (layer.has_weights()) {
      if (op.inputs.size() != 3) {
        return Status::error(tsq::ErrorCode::malformed_file, "op")
            .append(k)
            .append(" needs 3 inputs (activation, weights, bias)");
      }
      const std::string weights = "t" + std::to_string(op.inputs[1]);
      TSQ_RETURN_IF_ERROR(read_shape(file, op.inputs[1], layer.weights_shape));
      TSQ_RETURN_IF_ERROR(read_member(file, weights, layer.weights));
      TSQ_RETURN_IF_ERROR(read_member(file, "t" + std::to_string(op.inputs[2]), layer.bias));
    }
    if (layer.kind == LayerKind::dense) {
      // FULLY_CONNECTED flattens its input to [rows, depth]: the last pool's [1, 30, 1, 20] is
      // read as [1, 600].
      const std::int32_t depth = layer.weights_shape.rank() == 2 ? layer.weights_shape[1] : 0;
      const std::size_t count = layer.input_shape.element_count();
      if (depth <= 0 || count % static_cast<std::size_t>(depth) != 0) {
        return Status::error(tsq::ErrorCode::shape_mismatch, "op")
            .append(k)
            .append(": weights do not match the input");
      }
      layer.input_shape =
          Shape{static_cast<std::int32_t>(count / static_cast<std::size_t>(depth)), depth};
    }
    model.layers.push_back(std::move(layer));
  }
  if (model.layers.size() != kLayerCount) {
    return Status::error(tsq::ErrorCode::malformed_file, "the npz has ")
        .append(model.layers.size())
        .append(" computing ops, expected ")
        .append(kLayerCount);
  }
  // Each layer reads its producer's buffer under its own shape: the element counts must agree.
  std::size_t produced = model.input_shape.element_count();
  for (const Layer& layer : model.layers) {
    if (layer.input_shape.element_count() != produced) {
      return Status::error(tsq::ErrorCode::shape_mismatch, layer.name)
          .append(" reads ")
          .append(layer.input_shape.element_count())
          .append(" values, its producer writes ")
          .append(produced);
    }
    produced = layer.output_shape.element_count();
  }
  return Status::ok();
}

// One buffer per tensor of the chain (see FloatModel).
template <typename T>
std::vector<std::vector<T>> allocate_tensors(const FloatModel& model) {
  std::vector<std::vector<T>> tensors;
  tensors.emplace_back(model.input_shape.element_count());
  for (const Layer& layer : model.layers) tensors.emplace_back(layer.output_shape.element_count());
  return tensors;
}

// Layer i's input and output, seen with the shapes the op expects.
template <typename T>
TensorView<const T> input_view(const FloatModel& model, const std::vector<std::vector<T>>& tensors,
                               std::size_t i) {
  return TensorView<const T>(tensors[i].data(), model.layers[i].input_shape);
}
template <typename T>
TensorView<T> output_view(const FloatModel& model, std::vector<std::vector<T>>& tensors,
                          std::size_t i) {
  return TensorView<T>(tensors[i + 1].data(), model.layers[i].output_shape);
}

Status run_float_layer(const Layer& layer, TensorView<const float> input,
                       TensorView<float> output) {
  const TensorView<const float> weights(layer.weights.data(), layer.weights_shape);
  switch (layer.kind) {
    case LayerKind::depthwise_conv:
      return tsq::floating::depthwise_conv2d(depthwise_options(layer.activation), input, weights,
                                             layer.bias, output);
    case LayerKind::conv:
      return tsq::floating::conv2d(conv_options(layer.activation), input, weights, layer.bias,
                                   output);
    case LayerKind::max_pool:
      return tsq::floating::max_pool2d(pool_window(), layer.activation, input, output);
    case LayerKind::dense:
      return tsq::floating::fully_connected(layer.activation, input, weights, layer.bias, output);
    case LayerKind::softmax: return tsq::floating::softmax(kSoftmaxBeta, input, output);
  }
  return Status::error(tsq::ErrorCode::invalid_argument, "unknown layer kind");
}

// The float model on one beat: every tensor of the chain ends up in `tensors`.
Status run_float_model(const FloatModel& model, const float* beat,
                       std::vector<std::vector<float>>& tensors) {
  std::copy(beat, beat + tensors[0].size(), tensors[0].begin());
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    TSQ_RETURN_IF_ERROR(run_float_layer(model.layers[i], input_view(model, tensors, i),
                                        output_view(model, tensors, i)));
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// The data: z-scored beats of 260 samples, AAMI labels and MIT-BIH record numbers.

struct Beats {
  std::size_t count = 0;
  std::size_t length = 0;
  std::vector<float> samples;  // [count, length]
  std::vector<std::uint8_t> labels;
  std::vector<std::int16_t> records;
  const float* beat(std::size_t b) const { return samples.data() + b * length; }
};

template <typename T>
Status load_column(const std::string& path, std::size_t count, std::vector<T>& out) {
  const tsq::Result<tsq::io::NpyArray> array = tsq::io::load_npy(path);
  if (!array.is_ok()) return array.status();
  if (array->data<T>() == nullptr || array->element_count() != count) {
    return Status::error(tsq::ErrorCode::shape_mismatch, "expected ")
        .append(count)
        .append(" values of type ")
        .append(tsq::data_type_name(tsq::data_type_of_v<T>));
  }
  out.assign(array->data<T>(), array->data<T>() + count);
  return Status::ok();
}

Status load_beats(const std::string& folder, std::size_t beat_length, Beats& beats) {
  const tsq::Result<tsq::io::NpyArray> samples = tsq::io::load_npy(folder + "/beats.npy");
  if (!samples.is_ok()) return samples.status();
  if (samples->rank() != 2 || samples->shape()[1] != beat_length ||
      samples->data<float>() == nullptr) {
    return Status::error(tsq::ErrorCode::shape_mismatch, "beats.npy must be float32 [n, ")
        .append(beat_length)
        .append("], the model's input");
  }
  beats.count = samples->shape()[0];
  beats.length = beat_length;
  beats.samples.assign(samples->data<float>(), samples->data<float>() + samples->element_count());
  TSQ_RETURN_IF_ERROR(load_column(folder + "/labels.npy", beats.count, beats.labels));
  TSQ_RETURN_IF_ERROR(load_column(folder + "/records.npy", beats.count, beats.records));
  for (std::uint8_t label : beats.labels) {
    if (label >= kClasses) return Status::error(tsq::ErrorCode::invalid_argument, "label > 4");
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Calibration: min/max of every tensor of the float model over representative beats.

struct Range {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  void observe(const std::vector<float>& values) {
    for (float v : values) min = std::min(min, v), max = std::max(max, v);
  }
};

// `count` distinct beats drawn with a fixed seed (partial Fisher-Yates). mt19937 and the modulo
// are specified exactly, unlike std::uniform_int_distribution, so every standard library picks
// the same beats; the modulo bias over 18,282 of 2^32 is immaterial.
std::vector<std::size_t> pick_beats(std::size_t total, std::size_t count, std::uint32_t seed) {
  std::vector<std::size_t> order(total);
  for (std::size_t i = 0; i < total; ++i) order[i] = i;
  std::mt19937 generator(seed);
  count = std::min(count, total);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(generator()) % (total - i);
    std::swap(order[i], order[j]);
  }
  order.resize(count);
  std::sort(order.begin(), order.end());
  return order;
}

Status calibrate(const FloatModel& model, const Beats& beats,
                 const std::vector<std::size_t>& calibration, std::vector<Range>& ranges) {
  std::vector<std::vector<float>> tensors = allocate_tensors<float>(model);
  ranges.assign(tensors.size(), Range{});
  for (std::size_t b : calibration) {
    TSQ_RETURN_IF_ERROR(run_float_model(model, beats.beat(b), tensors));
    for (std::size_t t = 0; t < tensors.size(); ++t) ranges[t].observe(tensors[t]);
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Quantization: the parameters of every tensor and the integer weights and biases.

struct QuantizedLayer {
  std::vector<std::int8_t> weights;
  std::vector<float> weight_scales;  // one per output channel
  std::vector<std::int32_t> bias;    // scale S_in * S_w[c], zero point 0
};

struct QuantizedModel {
  std::vector<QuantParams> tensors;  // numbered as FloatModel's tensors
  std::vector<QuantizedLayer> layers;
};

Status quantize_model(const FloatModel& model, const std::vector<Range>& ranges,
                      QuantizedModel& quantized) {
  // The input and every computed tensor: asymmetric int8 over the calibrated range, which
  // choose_quant_params widens to contain 0 so that ReLU's zero (and padding) is exact.
  quantized.tensors.resize(ranges.size());
  const auto input = tsq::choose_quant_params(ranges[0].min, ranges[0].max);
  if (!input.is_ok()) return input.status();
  quantized.tensors[0] = input.value();
  quantized.layers.resize(model.layers.size());
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    QuantParams& output = quantized.tensors[i + 1];
    if (layer.kind == LayerKind::max_pool) {
      // The max of int8 values is one of them: the output keeps the input's parameters (the
      // integer kernel requires it, as TFLite-Micro's does).
      output = quantized.tensors[i];
    } else if (layer.kind == LayerKind::softmax) {
      // Probabilities in [0, 1): the fixed int8 softmax output (1/256, -128) of TFLite.
      output = tsq::make_quant_params(1.0f / 256, -128, DataType::int8);
    } else {
      const auto chosen = tsq::choose_quant_params(ranges[i + 1].min, ranges[i + 1].max);
      if (!chosen.is_ok()) return chosen.status();
      output = chosen.value();
    }
    if (!layer.has_weights()) continue;
    // Weights: symmetric int8 in [-127, 127], one scale per output channel; biases: int32 in
    // units of S_in * S_w[c], so that they add straight into the accumulator.
    QuantizedLayer& q = quantized.layers[i];
    q.weights.resize(layer.weights.size());
    q.weight_scales.resize(static_cast<std::size_t>(layer.weights_shape[layer.channel_axis()]));
    q.bias.resize(layer.bias.size());
    TSQ_RETURN_IF_ERROR(
        tsq::quantize_per_channel<std::int8_t>(layer.weights, layer.weights_shape.dims(),
                                               layer.channel_axis(), q.weights, q.weight_scales));
    TSQ_RETURN_IF_ERROR(
        tsq::quantize_bias(layer.bias, quantized.tensors[i].scale, q.weight_scales, q.bias));
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// The integer model: prepared layers (integers only) and the int8 chain.

// What eval reads for one layer; only the member of the layer's kind is used. The params' spans
// point into `multipliers`, so a PreparedLayer is filled in place and never copied.
struct PreparedLayer {
  std::vector<QuantizedMultiplier> multipliers;  // one per output channel
  tsq::DepthwiseConv2DParams depthwise;
  tsq::Conv2DParams conv;
  tsq::MaxPool2DParams pool;
  tsq::FullyConnectedParams dense;
  tsq::SoftmaxParams softmax;
};

// Host side, float math: scales -> multipliers, clamps; every shape, scale and type validated.
Status prepare_layer(const Layer& layer, const QuantizedLayer& q, const QuantParams& input,
                     const QuantParams& output, RoundingMode rounding, PreparedLayer& prepared) {
  prepared.multipliers.resize(q.weight_scales.size());
  switch (layer.kind) {
    case LayerKind::depthwise_conv: {
      tsq::DepthwiseConv2DQuantization description;
      description.input_shape = layer.input_shape;
      description.input = input;
      description.filter_shape = layer.weights_shape;
      description.filter_scales = q.weight_scales;
      description.output = output;
      description.options = depthwise_options(layer.activation);
      description.rounding = rounding;
      const auto params = tsq::prepare_depthwise_conv2d(description, prepared.multipliers);
      if (!params.is_ok()) return params.status();
      prepared.depthwise = params.value();
      return Status::ok();
    }
    case LayerKind::conv: {
      tsq::Conv2DQuantization description;
      description.input_shape = layer.input_shape;
      description.input = input;
      description.filter_shape = layer.weights_shape;
      description.filter_scales = q.weight_scales;
      description.output = output;
      description.options = conv_options(layer.activation);
      description.rounding = rounding;
      const auto params = tsq::prepare_conv2d(description, prepared.multipliers);
      if (!params.is_ok()) return params.status();
      prepared.conv = params.value();
      return Status::ok();
    }
    case LayerKind::max_pool: {
      tsq::MaxPool2DQuantization description;
      description.input_shape = layer.input_shape;
      description.input = input;
      description.output = output;
      description.window = pool_window();
      description.activation = layer.activation;
      const auto params = tsq::prepare_max_pool2d(description);
      if (!params.is_ok()) return params.status();
      prepared.pool = params.value();
      return Status::ok();
    }
    case LayerKind::dense: {
      tsq::FullyConnectedQuantization description;
      description.input_shape = layer.input_shape;
      description.input = input;
      description.weights_shape = layer.weights_shape;
      description.weight_scales = q.weight_scales;
      description.output = output;
      description.activation = layer.activation;
      description.rounding = rounding;
      const auto params = tsq::prepare_fully_connected(description, prepared.multipliers);
      if (!params.is_ok()) return params.status();
      prepared.dense = params.value();
      return Status::ok();
    }
    case LayerKind::softmax: {
      tsq::SoftmaxQuantization description;
      description.shape = layer.input_shape;
      description.input = input;
      description.output = output;
      description.beta = kSoftmaxBeta;
      description.rounding = rounding;
      const auto params = tsq::prepare_softmax(description);
      if (!params.is_ok()) return params.status();
      prepared.softmax = params.value();
      return Status::ok();
    }
  }
  return Status::error(tsq::ErrorCode::invalid_argument, "unknown layer kind");
}

// Integers only from here: what firmware would run.
Status run_integer_layer(const Layer& layer, const QuantizedLayer& q, const PreparedLayer& prepared,
                         TensorView<const std::int8_t> input, TensorView<std::int8_t> output) {
  const TensorView<const std::int8_t> weights(q.weights.data(), layer.weights_shape);
  switch (layer.kind) {
    case LayerKind::depthwise_conv:
      return tsq::reference::depthwise_conv2d(prepared.depthwise, input, weights, q.bias, output);
    case LayerKind::conv:
      return tsq::reference::conv2d(prepared.conv, input, weights, q.bias, output);
    case LayerKind::max_pool: return tsq::reference::max_pool2d(prepared.pool, input, output);
    case LayerKind::dense:
      return tsq::reference::fully_connected(prepared.dense, input, weights, q.bias, output);
    case LayerKind::softmax: return tsq::reference::softmax(prepared.softmax, input, output);
  }
  return Status::error(tsq::ErrorCode::invalid_argument, "unknown layer kind");
}

class IntegerModel {
 public:
  IntegerModel(const FloatModel& model, const QuantizedModel& quantized)
      : model_(model),
        quantized_(quantized),
        prepared_(model.layers.size()),
        tensors_(allocate_tensors<std::int8_t>(model)) {}
  IntegerModel(const IntegerModel&) = delete;  // the params point into prepared_
  IntegerModel& operator=(const IntegerModel&) = delete;

  Status prepare(RoundingMode rounding) {
    for (std::size_t i = 0; i < model_.layers.size(); ++i) {
      const Status status =
          prepare_layer(model_.layers[i], quantized_.layers[i], quantized_.tensors[i],
                        quantized_.tensors[i + 1], rounding, prepared_[i]);
      if (!status.is_ok()) {
        return Status::error(status.code(), model_.layers[i].name)
            .append(": ")
            .append(status.message());
      }
    }
    return Status::ok();
  }

  // QUANTIZE at the float edge, then the int8 chain; every tensor stays readable afterwards.
  Status run(const float* beat) {
    TSQ_RETURN_IF_ERROR(tsq::quantize<std::int8_t>(Span<const float>(beat, tensors_[0].size()),
                                                   Span<std::int8_t>(tensors_[0]),
                                                   quantized_.tensors[0]));
    for (std::size_t i = 0; i < model_.layers.size(); ++i) {
      TSQ_RETURN_IF_ERROR(run_integer_layer(model_.layers[i], quantized_.layers[i], prepared_[i],
                                            input_view(model_, tensors_, i),
                                            output_view(model_, tensors_, i)));
    }
    return Status::ok();
  }

  const std::vector<std::vector<std::int8_t>>& tensors() const { return tensors_; }
  const std::vector<std::int8_t>& probabilities() const { return tensors_.back(); }

 private:
  const FloatModel& model_;
  const QuantizedModel& quantized_;
  std::vector<PreparedLayer> prepared_;  // sized once: never reallocated
  std::vector<std::vector<std::int8_t>> tensors_;
};

// ---------------------------------------------------------------------------------------------
// The debugger's statistics and the classification metrics.

// d = dequantized int8 output - float output, over every element of every evaluated beat.
struct ErrorStats {
  std::size_t count = 0;
  std::size_t clipped = 0;  // float values outside the int8 tensor's representable range
  double sum = 0.0, sum_squares = 0.0, max_abs = 0.0;

  void add(float quantized, float real, float low, float high) {
    const double d = static_cast<double>(quantized) - static_cast<double>(real);
    ++count;
    sum += d;
    sum_squares += d * d;
    max_abs = std::max(max_abs, std::fabs(d));
    clipped += real < low || real > high;
  }
  double mean() const { return count == 0 ? 0.0 : sum / static_cast<double>(count); }
  double mse() const { return count == 0 ? 0.0 : sum_squares / static_cast<double>(count); }
  double std_dev() const { return std::sqrt(std::max(0.0, mse() - mean() * mean())); }
  double rmse() const { return std::sqrt(mse()); }
};

void compare(const std::vector<std::int8_t>& quantized, const QuantParams& params,
             const std::vector<float>& real, ErrorStats& stats) {
  const float low = tsq::dequantize(static_cast<std::int8_t>(params.quant_min), params);
  const float high = tsq::dequantize(static_cast<std::int8_t>(params.quant_max), params);
  for (std::size_t i = 0; i < real.size(); ++i) {
    stats.add(tsq::dequantize(quantized[i], params), real[i], low, high);
  }
}

template <typename T>
std::size_t argmax(const std::vector<T>& values) {  // the first largest, as numpy's
  return static_cast<std::size_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

struct ConfusionMatrix {
  std::array<std::array<std::size_t, kClasses>, kClasses> counts{};  // [label][predicted]

  void add(std::size_t label, std::size_t predicted) { ++counts[label][predicted]; }
  std::size_t correct() const {
    std::size_t n = 0;
    for (std::size_t c = 0; c < kClasses; ++c) n += counts[c][c];
    return n;
  }
  std::size_t labelled(std::size_t c) const {
    std::size_t n = 0;
    for (std::size_t p = 0; p < kClasses; ++p) n += counts[c][p];
    return n;
  }
  std::size_t predicted(std::size_t c) const {
    std::size_t n = 0;
    for (std::size_t l = 0; l < kClasses; ++l) n += counts[l][c];
    return n;
  }
  static double ratio(std::size_t part, std::size_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
  }
  double precision(std::size_t c) const { return ratio(counts[c][c], predicted(c)); }
  double recall(std::size_t c) const { return ratio(counts[c][c], labelled(c)); }
  double f1(std::size_t c) const {  // 2 TP / (2 TP + FP + FN); 0 for a class never seen
    return ratio(2 * counts[c][c], labelled(c) + predicted(c));
  }
  double macro_f1() const {
    double sum = 0.0;
    for (std::size_t c = 0; c < kClasses; ++c) sum += f1(c);
    return sum / static_cast<double>(kClasses);
  }
};

// ---------------------------------------------------------------------------------------------
// Evaluation on every beat.

struct Evaluation {
  // Per tensor (0: the QUANTIZE of the input, i + 1: layer i). `isolated`: each float layer fed
  // the dequantized int8 input of its integer twin; `end_to_end`: against the float model's chain.
  std::vector<ErrorStats> isolated, end_to_end;
  std::vector<std::uint8_t> float_classes, int8_classes;
  ConfusionMatrix float_confusion, int8_confusion;
  double float_seconds = 0.0, int8_seconds = 0.0, debugger_seconds = 0.0;
};

// The float model, the int8 chain and the debugger's isolated float layers on every beat. The
// isolated comparison is TFLite's QuantizationDebugger's: the quantized model runs end to end,
// and each layer's float op reads the dequantized int8 tensor its integer op read, so that the
// error is that layer's own (weights, bias, requantization, clipping at its calibrated range).
Status evaluate(const FloatModel& model, const QuantizedModel& quantized, IntegerModel& integer,
                const Beats& beats, Evaluation& result) {
  std::vector<std::vector<float>> reference = allocate_tensors<float>(model);
  std::vector<std::vector<float>> dequantized = allocate_tensors<float>(model);
  std::vector<std::vector<float>> isolated = allocate_tensors<float>(model);
  result.isolated.assign(reference.size(), ErrorStats{});
  result.end_to_end.assign(reference.size(), ErrorStats{});
  result.float_classes.resize(beats.count);
  result.int8_classes.resize(beats.count);
  for (std::size_t b = 0; b < beats.count; ++b) {
    Clock::time_point start = Clock::now();
    TSQ_RETURN_IF_ERROR(run_float_model(model, beats.beat(b), reference));
    result.float_seconds += seconds_since(start);
    start = Clock::now();
    TSQ_RETURN_IF_ERROR(integer.run(beats.beat(b)));
    result.int8_seconds += seconds_since(start);

    start = Clock::now();
    const std::vector<std::vector<std::int8_t>>& q = integer.tensors();
    for (std::size_t t = 0; t < q.size(); ++t) {
      TSQ_RETURN_IF_ERROR(tsq::dequantize<std::int8_t>(q[t], dequantized[t], quantized.tensors[t]));
    }
    // The input has no producer: its isolated error is the QUANTIZE's own.
    compare(q[0], quantized.tensors[0], reference[0], result.isolated[0]);
    compare(q[0], quantized.tensors[0], reference[0], result.end_to_end[0]);
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      TSQ_RETURN_IF_ERROR(run_float_layer(model.layers[i], input_view(model, dequantized, i),
                                          output_view(model, isolated, i)));
      compare(q[i + 1], quantized.tensors[i + 1], isolated[i + 1], result.isolated[i + 1]);
      compare(q[i + 1], quantized.tensors[i + 1], reference[i + 1], result.end_to_end[i + 1]);
    }
    result.debugger_seconds += seconds_since(start);

    result.float_classes[b] = static_cast<std::uint8_t>(argmax(reference.back()));
    result.int8_classes[b] = static_cast<std::uint8_t>(argmax(integer.probabilities()));
    result.float_confusion.add(beats.labels[b], result.float_classes[b]);
    result.int8_confusion.add(beats.labels[b], result.int8_classes[b]);
  }
  return Status::ok();
}

// The int8 chain alone (another rounding mode): classes and confusion matrix.
Status classify(IntegerModel& integer, const Beats& beats, std::vector<std::uint8_t>& classes,
                ConfusionMatrix& confusion, double& seconds) {
  classes.resize(beats.count);
  const Clock::time_point start = Clock::now();
  for (std::size_t b = 0; b < beats.count; ++b) {
    TSQ_RETURN_IF_ERROR(integer.run(beats.beat(b)));
    classes[b] = static_cast<std::uint8_t>(argmax(integer.probabilities()));
    confusion.add(beats.labels[b], classes[b]);
  }
  seconds = seconds_since(start);
  return Status::ok();
}

std::size_t count_equal(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  std::size_t equal = 0;
  for (std::size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i];
  return equal;
}

// ---------------------------------------------------------------------------------------------
// The report.

void print_rule(const char* title) { std::printf("\n== %s\n", title); }

void print_data(const Options& options, const Beats& beats,
                const std::vector<std::size_t>& calibration) {
  print_rule("Data");
  const std::set<std::int16_t> records(beats.records.begin(), beats.records.end());
  std::printf("model  %s\n", options.model_path.c_str());
  std::printf("beats  %s/ecg-mitbih: %s beats of %zu samples from %zu MIT-BIH records\n",
              options.data_dir.c_str(), grouped(beats.count).c_str(), beats.length, records.size());
  std::array<std::size_t, kClasses> all{}, picked{};
  std::set<std::int16_t> picked_records;
  for (std::uint8_t label : beats.labels) ++all[label];
  for (std::size_t b : calibration) {
    ++picked[beats.labels[b]];
    picked_records.insert(beats.records[b]);
  }
  std::printf("%-20s", "AAMI class");
  for (std::size_t c = 0; c < kClasses; ++c) std::printf("%7s", kClassNames[c]);
  std::printf("\n%-20s", "all beats");
  for (std::size_t c = 0; c < kClasses; ++c) std::printf("%7zu", all[c]);
  std::printf("\n%-20s", "calibration beats");
  for (std::size_t c = 0; c < kClasses; ++c) std::printf("%7zu", picked[c]);
  std::printf(
      "\ncalibration: %zu beats from %zu records, drawn with the fixed seed %u from all beats\n"
      "(so they are among the evaluated beats too)\n",
      calibration.size(), picked_records.size(), static_cast<unsigned>(kCalibrationSeed));
}

void print_model_summary(const FloatModel& model, const QuantizedModel& quantized) {
  print_rule("Model: the float CNN, quantized by tsq (int8 weights per channel, int32 biases)");
  std::printf("%-16s %-22s %-13s %-13s %7s %9s %9s\n", "layer", "op", "input", "output", "params",
              "float32 B", "int8 B");
  std::size_t float_bytes = 0, int8_bytes = 0, channels = 0;
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    const std::size_t layer_float = 4 * layer.parameter_count();
    const std::size_t layer_int8 = layer.weights.size() + 4 * layer.bias.size();
    float_bytes += layer_float;
    int8_bytes += layer_int8;
    channels += quantized.layers[i].weight_scales.size();
    std::string op = op_name(layer.kind);
    if (layer.activation != FusedActivation::none) op += "+RELU";
    std::printf("%-16s %-22s %-13s %-13s %7zu %9zu %9zu\n", layer.name, op.c_str(),
                shape_text(layer.input_shape).c_str(), shape_text(layer.output_shape).c_str(),
                layer.parameter_count(), layer_float, layer_int8);
  }
  std::printf("%-67s %7s %9s %9s\n", "total (weights + biases)",
              grouped(model.parameter_count()).c_str(), grouped(float_bytes).c_str(),
              grouped(int8_bytes).c_str());
  // Firmware also keeps one (int32 multiplier, shift) per output channel instead of the scales.
  const std::size_t multiplier_bytes = channels * 8;
  std::printf(
      "compression float32 -> int8: x%.2f (weights + biases); x%.2f with the %zu per-channel\n"
      "requantization multipliers (int32 multiplier + shift, %zu B) the integer layers keep\n",
      static_cast<double>(float_bytes) / static_cast<double>(int8_bytes),
      static_cast<double>(float_bytes) / static_cast<double>(int8_bytes + multiplier_bytes),
      channels, multiplier_bytes);
}

void print_quantization(const FloatModel& model, const std::vector<Range>& ranges,
                        const QuantizedModel& quantized) {
  print_rule("Activation quantization (int8, asymmetric; per output tensor)");
  std::printf("%-16s %-20s %-12s %5s  %-20s %s\n", "tensor", "calibrated range", "S", "Z",
              "int8 range (real)", "how");
  for (std::size_t t = 0; t < quantized.tensors.size(); ++t) {
    const QuantParams& p = quantized.tensors[t];
    const char* how = "min/max";
    if (t > 0 && model.layers[t - 1].kind == LayerKind::max_pool) how = "= its input's";
    if (t > 0 && model.layers[t - 1].kind == LayerKind::softmax) how = "fixed (1/256, -128)";
    char range[32], representable[32];
    std::snprintf(range, sizeof range, "[%.3f, %.3f]", static_cast<double>(ranges[t].min),
                  static_cast<double>(ranges[t].max));
    std::snprintf(representable, sizeof representable, "[%.3f, %.3f]",
                  static_cast<double>(tsq::dequantize(std::int8_t{-128}, p)),
                  static_cast<double>(tsq::dequantize(std::int8_t{127}, p)));
    std::printf("%-16s %-20s %-12.8f %5d  %-20s %s\n", t == 0 ? "input" : model.layers[t - 1].name,
                range, static_cast<double>(p.scale), static_cast<int>(p.zero_point), representable,
                how);
  }
  std::printf("weights: symmetric int8 [-127, 127], one scale per output channel:\n");
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const std::vector<float>& scales = quantized.layers[i].weight_scales;
    if (scales.empty()) continue;
    const auto [low, high] = std::minmax_element(scales.begin(), scales.end());
    std::printf("  %-16s %3zu scales in [%.6f, %.6f] (axis %d)\n", model.layers[i].name,
                scales.size(), static_cast<double>(*low), static_cast<double>(*high),
                model.layers[i].channel_axis());
  }
}

void print_layer_errors(const FloatModel& model, const QuantizedModel& quantized,
                        const Evaluation& result, std::size_t beat_count) {
  print_rule("Per-layer error (the quantization debugger), double rounding, every beat");
  std::printf(
      "d = dequantized int8 output - float output over %s beats. Isolated (the debugger's view,\n"
      "as TFLite's QuantizationDebugger): each float layer is fed the dequantized int8 input of\n"
      "its integer twin, so d is that layer's own error. End to end: against the float model's\n"
      "chain, errors of earlier layers included. Pure rounding gives rmse/S = 1/sqrt(12) = 0.289;\n"
      "'!' flags isolated rmse/S > %.1f. clip %%: float values outside the tensor's int8 range "
      "(softmax:\n"
      "the fixed output (1/256, -128) tops out at 255/256, so every p > 0.996 counts here).\n",
      grouped(beat_count).c_str(), kFlagRmsePerScale);
  std::printf("%-16s %-12s %10s %10s %10s %10s %8s %7s %11s\n", "layer", "S", "mean d", "std d",
              "max |d|", "mse", "rmse/S", "clip %", "e2e rmse/S");
  std::size_t flagged = 0;
  for (std::size_t t = 0; t < result.isolated.size(); ++t) {
    const ErrorStats& s = result.isolated[t];
    const double scale = static_cast<double>(quantized.tensors[t].scale);
    const double per_scale = s.rmse() / scale;
    const bool flag = per_scale > kFlagRmsePerScale;
    flagged += flag;
    std::printf("%-16s %-12.8f %10.6f %10.6f %10.6f %10.3e %8.3f %7.3f %11.3f%s\n",
                t == 0 ? "input (QUANTIZE)" : model.layers[t - 1].name, scale, s.mean(),
                s.std_dev(), s.max_abs, s.mse(), per_scale, percent(s.clipped, s.count),
                result.end_to_end[t].rmse() / scale, flag ? "  !" : "");
  }
  if (flagged == 0) {
    std::printf("no layer above rmse/S %.1f\n", kFlagRmsePerScale);
  } else {
    std::printf("%zu layer(s) above rmse/S %.1f\n", flagged, kFlagRmsePerScale);
  }
}

void print_classification(const Evaluation& result, const std::vector<std::uint8_t>& single_classes,
                          const ConfusionMatrix& single_confusion) {
  print_rule("Classification (labels.npy; argmax of the softmax output)");
  const std::size_t n = result.float_classes.size();
  std::printf("%-26s %9s %9s %22s\n", "model", "accuracy", "macro F1", "agreement with float");
  std::printf("%-26s %8.3f%% %9.4f %22s\n", "float32", percent(result.float_confusion.correct(), n),
              result.float_confusion.macro_f1(), "-");
  const auto print_int8 = [&](const char* name, const ConfusionMatrix& confusion,
                              const std::vector<std::uint8_t>& classes) {
    const std::size_t agree = count_equal(classes, result.float_classes);
    std::printf("%-26s %8.3f%% %9.4f %12.3f%% (%zu off)\n", name, percent(confusion.correct(), n),
                confusion.macro_f1(), percent(agree, n), n - agree);
  };
  print_int8("int8, double rounding", result.int8_confusion, result.int8_classes);
  print_int8("int8, single rounding", single_confusion, single_classes);
  const std::size_t same = count_equal(result.int8_classes, single_classes);
  std::printf("double vs single rounding: the same class on %s of %s beats (%.3f%%)\n",
              grouped(same).c_str(), grouped(n).c_str(), percent(same, n));

  std::printf(
      "macro F1 averages the five classes' F1 with equal weight: class F (%zu beats) counts as\n"
      "much as N, and one F beat more or less moves it visibly (see the per-class F1 below).\n",
      result.int8_confusion.labelled(3));

  const ConfusionMatrix& m = result.int8_confusion;
  std::printf("\nconfusion matrix, int8 double rounding (rows: label, columns: predicted)\n");
  std::printf("%8s", "");
  for (std::size_t c = 0; c < kClasses; ++c) std::printf("%8s", kClassNames[c]);
  std::printf("%9s %9s %9s\n", "recall", "precision", "F1");
  for (std::size_t l = 0; l < kClasses; ++l) {
    std::printf("%8s", kClassNames[l]);
    for (std::size_t p = 0; p < kClasses; ++p) std::printf("%8zu", m.counts[l][p]);
    std::printf("%9.4f %9.4f %9.4f\n", m.recall(l), m.precision(l), m.f1(l));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Clock::time_point program_start = Clock::now();
  Options options;
  int exit_code = 0;
  if (!parse_options(argc, argv, options, exit_code)) return exit_code;
  if (!locate_data(options)) return 1;

  FloatModel model;
  if (Status s = load_float_model(options.model_path, model); !s) {
    return fail("loading the float model " + options.model_path, s);
  }
  Beats beats;
  const std::string ecg_folder = options.data_dir + "/ecg-mitbih";
  if (Status s = load_beats(ecg_folder, model.input_shape.element_count(), beats); !s) {
    return fail("loading the beats from " + ecg_folder, s);
  }
  const double load_seconds = seconds_since(program_start);

  // Calibrate on the float model, quantize, prepare both rounding modes.
  Clock::time_point start = Clock::now();
  const std::vector<std::size_t> calibration =
      pick_beats(beats.count, kCalibrationBeats, kCalibrationSeed);
  std::vector<Range> ranges;
  if (Status s = calibrate(model, beats, calibration, ranges); !s) return fail("calibration", s);
  QuantizedModel quantized;
  if (Status s = quantize_model(model, ranges, quantized); !s) return fail("quantization", s);
  IntegerModel double_rounding(model, quantized), single_rounding(model, quantized);
  if (Status s = double_rounding.prepare(RoundingMode::double_rounding); !s) {
    return fail("prepare (double rounding)", s);
  }
  if (Status s = single_rounding.prepare(RoundingMode::single_rounding); !s) {
    return fail("prepare (single rounding)", s);
  }
  const double quantize_seconds = seconds_since(start);

  Evaluation result;
  if (Status s = evaluate(model, quantized, double_rounding, beats, result); !s) {
    return fail("evaluation", s);
  }
  std::vector<std::uint8_t> single_classes;
  ConfusionMatrix single_confusion;
  double single_seconds = 0.0;
  if (Status s = classify(single_rounding, beats, single_classes, single_confusion, single_seconds);
      !s) {
    return fail("evaluation (single rounding)", s);
  }

  std::printf("tsq: post-training int8 quantization of the MIT-BIH heartbeat CNN, done by tsq\n");
  print_data(options, beats, calibration);
  print_model_summary(model, quantized);
  print_quantization(model, ranges, quantized);
  print_layer_errors(model, quantized, result, beats.count);
  print_classification(result, single_classes, single_confusion);

  print_rule("Time");
  const double per_beat = 1e6 / static_cast<double>(beats.count);
  std::printf(
      "load %.2f s; calibrate (%zu beats) + quantize + prepare %.3f s\n"
      "float32 model %.2f s (%.1f us/beat); int8 double rounding %.2f s (%.1f us/beat);\n"
      "int8 single rounding %.2f s (%.1f us/beat); debugger %.2f s; total %.2f s\n",
      load_seconds, calibration.size(), quantize_seconds, result.float_seconds,
      result.float_seconds * per_beat, result.int8_seconds, result.int8_seconds * per_beat,
      single_seconds, single_seconds * per_beat, result.debugger_seconds,
      seconds_since(program_start));
  return 0;
}
