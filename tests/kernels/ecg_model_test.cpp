// SPDX-License-Identifier: Apache-2.0
// A real model wired by hand: the MIT-BIH heartbeat CNN (its TFLite JSON dumps converted by
// tools/tflite_json_to_npz.py into tests/data/ecg_classifier_int8.npz and
// ecg_classifier_float.npz) on the beats of data/ecg-mitbih (stored as float16, read as float32).
// Every one of the 18,282 beats goes through
//  - the integer reference kernels with the int8 model's own weights, biases, scales and zero
//    points (QUANTIZE, DepthwiseConv2D, MaxPool2D, Conv2D, FullyConnected, Softmax), in both
//    rounding modes, and
//  - the float kernels with the float model's weights,
// and the predicted classes must agree on >= 99 % of the beats. Also checked: what prepare
// computes from the model's parameters (multipliers against TFLite's QuantizeMultiplier, worked
// out independently) and an all-zero beat, layer by layer. The figures are printed; run
// `tsq_kernels_test "[ecg_model]"` to see them.
//
// Graph (int8 file; the float file is the same without QUANTIZE and DEQUANTIZE):
//   QUANTIZE [1,260] -> RESHAPE [1,1,260,1] -> DEPTHWISE_CONV_2D [1,1,258,5] -> RESHAPE
//   [1,258,1,5] -> MAX_POOL_2D [1,129,1,5] -> RESHAPE [1,1,129,5] -> CONV_2D [1,1,126,10] ->
//   RESHAPE -> MAX_POOL_2D [1,63,1,10] -> RESHAPE -> CONV_2D [1,1,60,20] -> RESHAPE -> MAX_POOL_2D
//   [1,30,1,20] -> FULLY_CONNECTED 600->30 -> FULLY_CONNECTED 30->20 -> FULLY_CONNECTED 20->5 ->
//   SOFTMAX -> DEQUANTIZE.
// The model alternates between [1,1,W,C] (convolution along W) and [1,W,1,C] (pooling along H);
// every RESHAPE is a view of the producer's buffer (TensorView::reshaped), never a copy.
// The layers' tensors are taken from the operator table (op<k>: inputs, outputs), so the wiring
// below is checked against the model's graph; the builtin options (padding, strides, depth
// multiplier, fused activation, beta) are not in the npz and are hard-coded, citing the op.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

// First: float/max_pool2d.hpp names `detail::Pool2DWindowBounds` unqualified inside
// tsq::floating, which resolves to tsq::floating::detail (and fails) once float/conv2d.hpp or
// float/fully_connected.hpp has opened that namespace. Included first, it finds tsq::detail.
#include "tsq/kernels/float/max_pool2d.hpp"

#include "tsq/io/npy.hpp"
#include "tsq/io/npz.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/depthwise_conv2d.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::DataType;
using tsq::FusedActivation;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::Span;
using tsq::Status;
using tsq::TensorView;
using tsq::io::NpzFile;

namespace {

// TFLite BuiltinOperator codes of the ops in this model.
constexpr std::int32_t kConv2D = 3;
constexpr std::int32_t kDepthwiseConv2D = 4;
constexpr std::int32_t kDequantize = 6;
constexpr std::int32_t kFullyConnected = 9;
constexpr std::int32_t kMaxPool2D = 17;
constexpr std::int32_t kReshape = 22;
constexpr std::int32_t kSoftmax = 25;
constexpr std::int32_t kQuantize = 114;

constexpr std::int32_t kBeatLength = 260;
constexpr std::size_t kClasses = 5;
constexpr const char* kClassNames[kClasses] = {"N", "S", "V", "F", "Q"};

std::string model_path(const char* name) {
  return std::string(TSQ_TEST_SOURCE_DIR) + "/../data/" + name;
}
std::string ecg_data(const char* name) { return std::string(TSQ_DATA_DIR) + "/ecg-mitbih/" + name; }

NpzFile load_model(const char* name) {
  auto file = tsq::io::load_npz(model_path(name));
  INFO(file.status().message());
  REQUIRE(file.is_ok());
  return std::move(file).value();
}

template <typename T>
std::vector<T> member(const NpzFile& file, const std::string& name) {
  const tsq::io::NpyArray* array = file.find(name);
  INFO("npz member " << name);
  REQUIRE(array != nullptr);
  REQUIRE(array->data<T>() != nullptr);
  return std::vector<T>(array->data<T>(), array->data<T>() + array->element_count());
}

std::string tensor_name(std::int32_t tensor) { return "t" + std::to_string(tensor); }

Shape tensor_shape(const NpzFile& file, std::int32_t tensor) {
  const std::vector<std::int32_t> dims = member<std::int32_t>(file, tensor_name(tensor) + ".shape");
  const tsq::Result<Shape> shape = Shape::make(dims);
  REQUIRE(shape.is_ok());
  return shape.value();
}

template <typename T>
std::vector<T> tensor_data(const NpzFile& file, std::int32_t tensor) {
  return member<T>(file, tensor_name(tensor));
}

std::vector<float> tensor_scales(const NpzFile& file, std::int32_t tensor) {
  return member<float>(file, tensor_name(tensor) + ".scale");
}

// Per-tensor int8 activation parameters over the full range.
QuantParams activation_params(const NpzFile& file, std::int32_t tensor) {
  const std::vector<float> scale = tensor_scales(file, tensor);
  const std::vector<std::int32_t> zero_point =
      member<std::int32_t>(file, tensor_name(tensor) + ".zero_point");
  REQUIRE(scale.size() == 1);
  REQUIRE(zero_point.size() == 1);
  return tsq::make_quant_params(scale[0], zero_point[0], DataType::int8);
}

// One operator record: [builtin code, n_in, inputs..., n_out, outputs...].
struct Op {
  std::int32_t code = 0;
  std::vector<std::int32_t> inputs;
  std::vector<std::int32_t> outputs;
};

std::vector<Op> read_ops(const NpzFile& file) {
  std::vector<Op> ops;
  for (std::size_t k = 0; file.find("op" + std::to_string(k)) != nullptr; ++k) {
    const std::vector<std::int32_t> record = member<std::int32_t>(file, "op" + std::to_string(k));
    REQUIRE(record.size() >= 3);
    const auto input_count = static_cast<std::size_t>(record[1]);
    REQUIRE(record.size() >= 3 + input_count);
    const auto output_count = static_cast<std::size_t>(record[2 + input_count]);
    REQUIRE(record.size() == 3 + input_count + output_count);
    Op op;
    op.code = record[0];
    op.inputs.assign(record.begin() + 2,
                     record.begin() + 2 + static_cast<std::ptrdiff_t>(input_count));
    op.outputs.assign(record.begin() + 3 + static_cast<std::ptrdiff_t>(input_count), record.end());
    ops.push_back(op);
  }
  return ops;
}

// The ops that compute, in execution order. The operator table must be exactly the chain of the
// header comment: every op reads (input 0) what the previous one wrote.
struct EcgGraph {
  std::int32_t input = 0;  // the [1, 260] tensor the first RESHAPE reads
  Op depthwise;
  Op pool[3];
  Op conv[2];
  Op dense[3];
  Op softmax;
};

EcgGraph read_graph(const NpzFile& file, bool integer) {
  const std::vector<Op> ops = read_ops(file);
  std::vector<std::int32_t> expected = {
      kReshape,        kDepthwiseConv2D, kReshape,        kMaxPool2D, kReshape, kConv2D,
      kReshape,        kMaxPool2D,       kReshape,        kConv2D,    kReshape, kMaxPool2D,
      kFullyConnected, kFullyConnected,  kFullyConnected, kSoftmax};
  if (integer) {
    expected.insert(expected.begin(), kQuantize);
    expected.push_back(kDequantize);
  }
  std::vector<std::int32_t> codes;
  for (const Op& op : ops) codes.push_back(op.code);
  REQUIRE(codes == expected);
  for (std::size_t k = 1; k < ops.size(); ++k) {
    INFO("op" << k);
    REQUIRE(!ops[k].inputs.empty());
    REQUIRE(ops[k].inputs[0] == ops[k - 1].outputs.at(0));
  }
  const std::size_t first = integer ? 1 : 0;  // the first RESHAPE
  EcgGraph graph;
  graph.input = ops[first].inputs[0];
  graph.depthwise = ops[first + 1];
  graph.pool[0] = ops[first + 3];
  graph.conv[0] = ops[first + 5];
  graph.pool[1] = ops[first + 7];
  graph.conv[1] = ops[first + 9];
  graph.pool[2] = ops[first + 11];
  for (std::size_t i = 0; i < 3; ++i) graph.dense[i] = ops[first + 12 + i];
  graph.softmax = ops[first + 15];
  return graph;
}

// --- The builtin options, as printed by tools/tflite_json_to_npz.py (int8 op / float op). ---

// DEPTHWISE_CONV_2D (int8 op2, float op1): padding VALID, stride_w 1, stride_h 1,
// depth_multiplier 5, fused_activation_function RELU (no dilation given: 1).
tsq::DepthwiseConv2DOptions depthwise_options() {
  tsq::DepthwiseConv2DOptions options;
  options.padding = tsq::Padding::valid;
  options.depth_multiplier = 5;
  options.activation = FusedActivation::relu;
  return options;
}

// CONV_2D (int8 op6 and op10, float op5 and op9): padding VALID, stride_w 1, stride_h 1,
// fused_activation_function RELU.
tsq::Conv2DOptions conv_options() {
  tsq::Conv2DOptions options;
  options.padding = tsq::Padding::valid;
  options.activation = FusedActivation::relu;
  return options;
}

// MAX_POOL_2D (int8 op4, op8, op12; float op3, op7, op11): padding VALID, filter_height 2,
// filter_width 1, stride_h 2, stride_w 1, no fused activation.
tsq::Pool2DWindow pool_window() {
  tsq::Pool2DWindow window;
  window.filter_height = 2;
  window.filter_width = 1;
  window.stride_height = 2;
  window.stride_width = 1;
  window.padding = tsq::Padding::valid;
  return window;
}

// FULLY_CONNECTED (int8 op13, op14, op15; float op12, op13, op14): RELU, RELU, none.
constexpr FusedActivation kDenseActivation[3] = {FusedActivation::relu, FusedActivation::relu,
                                                 FusedActivation::none};

// SOFTMAX (int8 op16, float op15): beta 1.0.
constexpr float kSoftmaxBeta = 1.0f;

// FULLY_CONNECTED flattens its input to [rows, input_depth] (keep_num_dims false): the last pool's
// [1, 30, 1, 20] is read as [1, 600].
Shape dense_input_shape(const Shape& input, std::int32_t depth) {
  return Shape{static_cast<std::int32_t>(input.element_count() / static_cast<std::size_t>(depth)),
               depth};
}

// The producer's output seen under the consumer's input shape (RESHAPE: a view, no copy).
template <typename T>
Status reshape(TensorView<T> produced, const Shape& shape, TensorView<const T>& consumed) {
  const tsq::Result<TensorView<T>> view = produced.reshaped(shape);
  if (!view.is_ok()) return view.status();
  consumed = view.value();
  return Status::ok();
}

// --- The int8 model. ---

struct IntegerConvLayer {
  Shape input_shape, output_shape, filter_shape;
  QuantParams input, output;
  std::vector<std::int8_t> filter;
  std::vector<std::int32_t> bias;
  std::vector<float> filter_scales;
  std::vector<QuantizedMultiplier> multipliers;
  std::vector<std::int8_t> activations;  // the layer's output
};

struct IntegerPoolLayer {
  Shape input_shape, output_shape;
  tsq::MaxPool2DParams params;
  std::vector<std::int8_t> activations;
};

struct IntegerDenseLayer {
  Shape input_shape, output_shape, weights_shape;
  QuantParams input, output;
  std::vector<std::int8_t> weights;
  std::vector<std::int32_t> bias;
  std::vector<float> weight_scales;
  std::vector<QuantizedMultiplier> multipliers;
  tsq::FullyConnectedParams params;
  std::vector<std::int8_t> activations;
};

// The constants of a (depthwise) convolution op: inputs [activation, filter, bias].
void load_conv(const NpzFile& file, const Op& op, int quantized_axis, IntegerConvLayer& layer) {
  REQUIRE(op.inputs.size() == 3);
  const std::int32_t filter = op.inputs[1];
  const std::int32_t bias = op.inputs[2];
  layer.input_shape = tensor_shape(file, op.inputs[0]);
  layer.output_shape = tensor_shape(file, op.outputs[0]);
  layer.filter_shape = tensor_shape(file, filter);
  layer.input = activation_params(file, op.inputs[0]);
  layer.output = activation_params(file, op.outputs[0]);
  layer.filter = tensor_data<std::int8_t>(file, filter);
  layer.bias = tensor_data<std::int32_t>(file, bias);
  layer.filter_scales = tensor_scales(file, filter);
  // Symmetric per-channel filter along the output channel axis (the kernels assume Z_w = 0).
  const std::vector<std::int32_t> zero_points =
      member<std::int32_t>(file, tensor_name(filter) + ".zero_point");
  REQUIRE(
      std::all_of(zero_points.begin(), zero_points.end(), [](std::int32_t z) { return z == 0; }));
  REQUIRE(member<std::int32_t>(file, tensor_name(filter) + ".axis").at(0) == quantized_axis);
  layer.multipliers.resize(layer.filter_scales.size());
  layer.activations.resize(layer.output_shape.element_count());
}

class IntegerEcgModel {
 public:
  IntegerEcgModel(const NpzFile& file, RoundingMode rounding) {
    const EcgGraph graph = read_graph(file, true);
    input_params = activation_params(file, graph.input);
    input_shape = tensor_shape(file, graph.input);
    depthwise_input_shape = tensor_shape(file, graph.depthwise.inputs[0]);
    input.resize(input_shape.element_count());

    load_conv(file, graph.depthwise, 3, depthwise);
    tsq::DepthwiseConv2DQuantization dq;
    dq.input_shape = depthwise.input_shape;
    dq.input = depthwise.input;
    dq.filter_shape = depthwise.filter_shape;
    dq.filter_scales = depthwise.filter_scales;
    dq.output = depthwise.output;
    dq.options = depthwise_options();
    dq.rounding = rounding;
    const auto prepared_depthwise = tsq::prepare_depthwise_conv2d(dq, depthwise.multipliers);
    INFO(prepared_depthwise.status().message());
    REQUIRE(prepared_depthwise.is_ok());
    depthwise_params = prepared_depthwise.value();

    for (std::size_t i = 0; i < 2; ++i) {
      load_conv(file, graph.conv[i], 0, conv[i]);
      tsq::Conv2DQuantization cq;
      cq.input_shape = conv[i].input_shape;
      cq.input = conv[i].input;
      cq.filter_shape = conv[i].filter_shape;
      cq.filter_scales = conv[i].filter_scales;
      cq.output = conv[i].output;
      cq.options = conv_options();
      cq.rounding = rounding;
      const auto prepared = tsq::prepare_conv2d(cq, conv[i].multipliers);
      INFO("conv " << i << ": " << prepared.status().message());
      REQUIRE(prepared.is_ok());
      conv_params[i] = prepared.value();
    }

    for (std::size_t i = 0; i < 3; ++i) {
      const Op& op = graph.pool[i];
      IntegerPoolLayer& layer = pool[i];
      layer.input_shape = tensor_shape(file, op.inputs[0]);
      layer.output_shape = tensor_shape(file, op.outputs[0]);
      tsq::MaxPool2DQuantization pq;
      pq.input_shape = layer.input_shape;
      pq.input = activation_params(file, op.inputs[0]);
      pq.output = activation_params(file, op.outputs[0]);
      pq.window = pool_window();
      const auto prepared = tsq::prepare_max_pool2d(pq);
      INFO("pool " << i << ": " << prepared.status().message());
      REQUIRE(prepared.is_ok());
      layer.params = prepared.value();
      layer.activations.resize(layer.output_shape.element_count());
    }

    for (std::size_t i = 0; i < 3; ++i) {
      const Op& op = graph.dense[i];
      IntegerDenseLayer& layer = dense[i];
      REQUIRE(op.inputs.size() == 3);
      layer.weights_shape = tensor_shape(file, op.inputs[1]);
      REQUIRE(layer.weights_shape.rank() == 2);
      layer.input_shape =
          dense_input_shape(tensor_shape(file, op.inputs[0]), layer.weights_shape[1]);
      layer.output_shape = tensor_shape(file, op.outputs[0]);
      layer.input = activation_params(file, op.inputs[0]);
      layer.output = activation_params(file, op.outputs[0]);
      layer.weights = tensor_data<std::int8_t>(file, op.inputs[1]);
      layer.bias = tensor_data<std::int32_t>(file, op.inputs[2]);
      layer.weight_scales = tensor_scales(file, op.inputs[1]);
      layer.multipliers.resize(layer.weight_scales.size());
      tsq::FullyConnectedQuantization fq;
      fq.input_shape = layer.input_shape;
      fq.input = layer.input;
      fq.weights_shape = layer.weights_shape;
      fq.weight_scales = layer.weight_scales;
      fq.output = layer.output;
      fq.activation = kDenseActivation[i];
      fq.rounding = rounding;
      const auto prepared = tsq::prepare_fully_connected(fq, layer.multipliers);
      INFO("dense " << i << ": " << prepared.status().message());
      REQUIRE(prepared.is_ok());
      layer.params = prepared.value();
      layer.activations.resize(layer.output_shape.element_count());
    }

    logits_params = activation_params(file, graph.softmax.inputs[0]);
    probabilities_params = activation_params(file, graph.softmax.outputs[0]);
    probabilities_shape = tensor_shape(file, graph.softmax.outputs[0]);
    tsq::SoftmaxQuantization sq;
    sq.shape = tensor_shape(file, graph.softmax.inputs[0]);
    sq.input = logits_params;
    sq.output = probabilities_params;
    sq.beta = kSoftmaxBeta;
    sq.rounding = rounding;
    const auto prepared_softmax = tsq::prepare_softmax(sq);
    INFO(prepared_softmax.status().message());
    REQUIRE(prepared_softmax.is_ok());
    softmax_params = prepared_softmax.value();
    probabilities.resize(probabilities_shape.element_count());
  }
  // The params point into the layers' multiplier vectors.
  IntegerEcgModel(const IntegerEcgModel&) = delete;
  IntegerEcgModel& operator=(const IntegerEcgModel&) = delete;

  // One beat of kBeatLength floats -> `probabilities` (and every layer's activations).
  Status run(const float* beat) {
    // QUANTIZE (op0) with the input tensor's scale and zero point.
    TSQ_RETURN_IF_ERROR(
        tsq::quantize<std::int8_t>(Span<const float>(beat, static_cast<std::size_t>(kBeatLength)),
                                   Span<std::int8_t>(input), input_params));
    TensorView<const std::int8_t> x;
    TSQ_RETURN_IF_ERROR(reshape(view(input, input_shape), depthwise_input_shape, x));
    TSQ_RETURN_IF_ERROR(tsq::reference::depthwise_conv2d(
        depthwise_params, x, filter_view(depthwise), depthwise.bias, output_view(depthwise)));
    TSQ_RETURN_IF_ERROR(reshape(output_view(depthwise), pool[0].input_shape, x));
    TSQ_RETURN_IF_ERROR(tsq::reference::max_pool2d(pool[0].params, x, output_view(pool[0])));
    for (std::size_t i = 0; i < 2; ++i) {
      TSQ_RETURN_IF_ERROR(reshape(output_view(pool[i]), conv[i].input_shape, x));
      TSQ_RETURN_IF_ERROR(tsq::reference::conv2d(conv_params[i], x, filter_view(conv[i]),
                                                 conv[i].bias, output_view(conv[i])));
      TSQ_RETURN_IF_ERROR(reshape(output_view(conv[i]), pool[i + 1].input_shape, x));
      TSQ_RETURN_IF_ERROR(
          tsq::reference::max_pool2d(pool[i + 1].params, x, output_view(pool[i + 1])));
    }
    TSQ_RETURN_IF_ERROR(reshape(output_view(pool[2]), dense[0].input_shape, x));
    for (std::size_t i = 0; i < 3; ++i) {
      if (i > 0) TSQ_RETURN_IF_ERROR(reshape(output_view(dense[i - 1]), dense[i].input_shape, x));
      TSQ_RETURN_IF_ERROR(tsq::reference::fully_connected(
          dense[i].params, x,
          TensorView<const std::int8_t>(dense[i].weights.data(), dense[i].weights_shape),
          dense[i].bias, output_view(dense[i])));
    }
    return tsq::reference::softmax(softmax_params, logits(),
                                   view(probabilities, probabilities_shape));
  }

  TensorView<const std::int8_t> logits() const {
    return TensorView<const std::int8_t>(dense[2].activations.data(), dense[2].output_shape);
  }

  QuantParams input_params, logits_params, probabilities_params;
  Shape input_shape, depthwise_input_shape, probabilities_shape;
  std::vector<std::int8_t> input;
  IntegerConvLayer depthwise;
  tsq::DepthwiseConv2DParams depthwise_params;
  IntegerConvLayer conv[2];
  tsq::Conv2DParams conv_params[2];
  IntegerPoolLayer pool[3];
  IntegerDenseLayer dense[3];
  tsq::SoftmaxParams softmax_params;
  std::vector<std::int8_t> probabilities;

 private:
  static TensorView<std::int8_t> view(std::vector<std::int8_t>& buffer, const Shape& shape) {
    return TensorView<std::int8_t>(buffer.data(), shape);
  }
  static TensorView<std::int8_t> output_view(IntegerConvLayer& layer) {
    return view(layer.activations, layer.output_shape);
  }
  static TensorView<std::int8_t> output_view(IntegerPoolLayer& layer) {
    return view(layer.activations, layer.output_shape);
  }
  static TensorView<std::int8_t> output_view(IntegerDenseLayer& layer) {
    return view(layer.activations, layer.output_shape);
  }
  static TensorView<const std::int8_t> filter_view(const IntegerConvLayer& layer) {
    return TensorView<const std::int8_t>(layer.filter.data(), layer.filter_shape);
  }
};

// --- The float model: the same chain with float32 weights and the float kernels. ---

struct FloatLayer {
  Shape input_shape, output_shape, weights_shape;
  std::vector<float> weights, bias;
  std::vector<float> activations;
};

void load_float_layer(const NpzFile& file, const Op& op, FloatLayer& layer) {
  layer.input_shape = tensor_shape(file, op.inputs[0]);
  layer.output_shape = tensor_shape(file, op.outputs[0]);
  if (op.inputs.size() == 3) {
    layer.weights_shape = tensor_shape(file, op.inputs[1]);
    layer.weights = tensor_data<float>(file, op.inputs[1]);
    layer.bias = tensor_data<float>(file, op.inputs[2]);
  }
  layer.activations.resize(layer.output_shape.element_count());
}

class FloatEcgModel {
 public:
  explicit FloatEcgModel(const NpzFile& file) {
    const EcgGraph graph = read_graph(file, false);
    input_shape = tensor_shape(file, graph.input);
    REQUIRE(input_shape.element_count() == static_cast<std::size_t>(kBeatLength));
    load_float_layer(file, graph.depthwise, depthwise);
    for (std::size_t i = 0; i < 2; ++i) load_float_layer(file, graph.conv[i], conv[i]);
    for (std::size_t i = 0; i < 3; ++i) load_float_layer(file, graph.pool[i], pool[i]);
    for (std::size_t i = 0; i < 3; ++i) {
      load_float_layer(file, graph.dense[i], dense[i]);
      REQUIRE(dense[i].weights_shape.rank() == 2);
      dense[i].input_shape = dense_input_shape(dense[i].input_shape, dense[i].weights_shape[1]);
    }
    load_float_layer(file, graph.softmax, softmax);
  }

  Status run(const float* beat) {
    // The beat itself is the [1, 260] input tensor: a read-only view, reshaped.
    const TensorView<const float> beat_view(beat, input_shape);
    const tsq::Result<TensorView<const float>> input = beat_view.reshaped(depthwise.input_shape);
    if (!input.is_ok()) return input.status();
    TSQ_RETURN_IF_ERROR(tsq::floating::depthwise_conv2d(depthwise_options(), input.value(),
                                                        weights_view(depthwise), depthwise.bias,
                                                        output_view(depthwise)));
    TensorView<const float> x;
    TSQ_RETURN_IF_ERROR(reshape(output_view(depthwise), pool[0].input_shape, x));
    TSQ_RETURN_IF_ERROR(
        tsq::floating::max_pool2d(pool_window(), FusedActivation::none, x, output_view(pool[0])));
    for (std::size_t i = 0; i < 2; ++i) {
      TSQ_RETURN_IF_ERROR(reshape(output_view(pool[i]), conv[i].input_shape, x));
      TSQ_RETURN_IF_ERROR(tsq::floating::conv2d(conv_options(), x, weights_view(conv[i]),
                                                conv[i].bias, output_view(conv[i])));
      TSQ_RETURN_IF_ERROR(reshape(output_view(conv[i]), pool[i + 1].input_shape, x));
      TSQ_RETURN_IF_ERROR(tsq::floating::max_pool2d(pool_window(), FusedActivation::none, x,
                                                    output_view(pool[i + 1])));
    }
    TSQ_RETURN_IF_ERROR(reshape(output_view(pool[2]), dense[0].input_shape, x));
    for (std::size_t i = 0; i < 3; ++i) {
      if (i > 0) TSQ_RETURN_IF_ERROR(reshape(output_view(dense[i - 1]), dense[i].input_shape, x));
      TSQ_RETURN_IF_ERROR(tsq::floating::fully_connected(
          kDenseActivation[i], x, weights_view(dense[i]), dense[i].bias, output_view(dense[i])));
    }
    return tsq::floating::softmax(kSoftmaxBeta, logits(), output_view(softmax));
  }

  TensorView<const float> logits() const {
    return TensorView<const float>(dense[2].activations.data(), dense[2].output_shape);
  }
  const std::vector<float>& probabilities() const { return softmax.activations; }

  Shape input_shape;
  FloatLayer depthwise, conv[2], pool[3], dense[3], softmax;

 private:
  static TensorView<float> output_view(FloatLayer& layer) {
    return TensorView<float>(layer.activations.data(), layer.output_shape);
  }
  static TensorView<const float> weights_view(const FloatLayer& layer) {
    return TensorView<const float>(layer.weights.data(), layer.weights_shape);
  }
};

// The first largest element, as numpy's argmax.
template <typename T>
std::size_t argmax(const T* values, std::size_t count) {
  return static_cast<std::size_t>(std::max_element(values, values + count) - values);
}

void require_ok(const Status& status, std::size_t beat) {
  if (!status.is_ok()) {
    INFO("beat " << beat << ": " << status.message());
    REQUIRE(status.is_ok());
  }
}

struct Beats {
  std::vector<float> samples;  // [count, kBeatLength]
  std::vector<std::uint8_t> labels;
  std::size_t count = 0;
};

Beats load_beats() {
  Beats beats;
  auto samples = tsq::io::load_npy(ecg_data("beats.npy"));
  INFO(samples.status().message());
  REQUIRE(samples.is_ok());
  REQUIRE(samples->rank() == 2);
  REQUIRE(samples->shape()[1] == static_cast<std::size_t>(kBeatLength));
  REQUIRE(samples->data<float>() != nullptr);
  beats.count = samples->shape()[0];
  beats.samples.assign(samples->data<float>(), samples->data<float>() + samples->element_count());
  auto labels = tsq::io::load_npy(ecg_data("labels.npy"));
  INFO(labels.status().message());
  REQUIRE(labels.is_ok());
  REQUIRE(labels->data<std::uint8_t>() != nullptr);
  REQUIRE(labels->element_count() == beats.count);
  beats.labels.assign(labels->data<std::uint8_t>(),
                      labels->data<std::uint8_t>() + labels->element_count());
  return beats;
}

double percent(std::size_t part, std::size_t whole) {
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

TEST_CASE("ECG model: prepare on the int8 model's own parameters", "[kernels][ecg_model]") {
  const NpzFile file = load_model("ecg_classifier_int8.npz");
  IntegerEcgModel model(file, RoundingMode::double_rounding);

  SECTION("no zero or odd scale in any layer") {
    // Every filter and weight scale is finite and > 0 (prepare rejects anything else), and every
    // bias is in units of float32(S_in * S_w[c]) exactly, the scale the kernels assume.
    const auto check_bias_scales = [&](const Op& op) {
      const float input_scale = activation_params(file, op.inputs[0]).scale;
      const std::vector<float> weight_scales = tensor_scales(file, op.inputs[1]);
      const std::vector<float> bias_scales = tensor_scales(file, op.inputs[2]);
      REQUIRE(bias_scales.size() == weight_scales.size());
      for (std::size_t c = 0; c < weight_scales.size(); ++c) {
        CHECK(std::isfinite(weight_scales[c]));
        CHECK(weight_scales[c] > 0.0f);
        CHECK(bias_scales[c] == input_scale * weight_scales[c]);
      }
    };
    const EcgGraph graph = read_graph(file, true);
    check_bias_scales(graph.depthwise);
    for (const Op& op : graph.conv) check_bias_scales(op);
    for (const Op& op : graph.dense) check_bias_scales(op);
  }

  SECTION("the first convolution's multipliers are TFLite's") {
    // M_c = double(S_in) * double(S_w[c]) / double(S_out) with S_in = 0.04909582 (t2),
    // S_out = 0.03990266 (t32), S_w = t4.scale; TFLite's QuantizeMultiplier (frexp, mantissa *
    // 2^31 rounded half away from zero), worked out in Python:
    //   c  S_w           M_c                    multiplier  shift
    //   0  0.0060381661  0.0074292970254775     2042149616  -7
    //   1  0.0039466154  0.0048558746742102     1334772667  -7
    //   2  0.0052819722  0.0064988839062959     1786399606  -7
    //   3  0.0057715345  0.0071012362681512     1951972962  -7
    //   4  0.0034938774  0.0042988305024797     1181653531  -7
    const QuantizedMultiplier expected[5] = {
        {2042149616, -7}, {1334772667, -7}, {1786399606, -7}, {1951972962, -7}, {1181653531, -7}};
    REQUIRE(model.depthwise_params.multipliers.size() == 5);
    for (std::size_t c = 0; c < 5; ++c) {
      CHECK(model.depthwise_params.multipliers[c] == expected[c]);
    }
    // Single rounding quantizes the multiplier the same way (only shifts > 30 differ).
    const IntegerEcgModel single(file, RoundingMode::single_rounding);
    for (std::size_t c = 0; c < 5; ++c) {
      CHECK(single.depthwise_params.multipliers[c] == expected[c]);
    }
    // Geometry: VALID, 3 taps along W: 260 -> 258 columns, 1 input channel -> 5 (multiplier 5).
    CHECK(model.depthwise_params.geometry.output.width == 258);
    CHECK(model.depthwise_params.geometry.output.channels == 5);
    CHECK(model.depthwise_params.depth_multiplier == 5);
    // Fused RELU: the clamp starts at Z_out = -128, i.e. the whole int8 range.
    CHECK(model.depthwise_params.activation.min == -128);
    CHECK(model.depthwise_params.activation.max == 127);
  }

  SECTION("the dense layers' per-tensor multipliers use the float32 product") {
    // FullyConnected with one weight scale: M = double(float32(S_in * S_w)) / double(S_out),
    // which differs from the all-double product in the low bits (Python):
    //   dense 0: float32 product 1697559093 (all double would give 1697559052), shift -7
    //   dense 1: 1261254208 (1261254148), shift -6
    //   dense 2: 1904242950 (1904242983), shift -8
    const QuantizedMultiplier expected[3] = {{1697559093, -7}, {1261254208, -6}, {1904242950, -8}};
    for (std::size_t i = 0; i < 3; ++i) {
      REQUIRE(model.dense[i].params.multipliers.size() == 1);
      CHECK(model.dense[i].params.multipliers[0] == expected[i]);
    }
  }

  SECTION("softmax: beta * S_in * 2^26 and the cut-off difference") {
    // S_in = 0.14918214 (t20): 0.14918214 * 2^26 = 10011444 exactly = 1281464832 * 2^(24 - 31);
    // diff_min = -floor(31 * 2^26 / 2^24) = -124 (TFLite's CalculateInputRadius(5, 24)).
    CHECK(model.softmax_params.input_multiplier == QuantizedMultiplier{1281464832, 24});
    CHECK(model.softmax_params.diff_min == -124);
  }

  SECTION("the float model is the int8 model's twin, with the same filter layouts") {
    // Tensor indices of the two files come from their own operator tables. Each int8 weight
    // (bias) dequantized with its channel's scale is the float one within half a step: the
    // float filters use the int8 layouts ([1, KH, KW, C*m], [C_out, KH, KW, C_in], [units, in]).
    const NpzFile float_file = load_model("ecg_classifier_float.npz");
    const EcgGraph int8_graph = read_graph(file, true);
    const EcgGraph float_graph = read_graph(float_file, false);
    const auto check_twin = [&](const Op& int8_op, const Op& float_op, int quantized_axis) {
      for (std::size_t input = 1; input < 3; ++input) {
        const std::int32_t q_tensor = int8_op.inputs[input];
        const std::int32_t f_tensor = float_op.inputs[input];
        const Shape shape = tensor_shape(file, q_tensor);
        REQUIRE(tensor_shape(float_file, f_tensor) == shape);
        const std::vector<float> real = tensor_data<float>(float_file, f_tensor);
        const std::vector<float> scales = tensor_scales(file, q_tensor);
        // Elements per step of the quantized axis (bias: axis 0 of a rank-1 tensor).
        const int axis = input == 1 ? quantized_axis : 0;
        std::size_t inner = 1;
        for (int d = axis + 1; d < shape.rank(); ++d) inner *= static_cast<std::size_t>(shape[d]);
        const auto channels = static_cast<std::size_t>(shape[axis]);
        std::vector<float> dequantized(real.size());
        if (input == 1) {
          const std::vector<std::int8_t> q = tensor_data<std::int8_t>(file, q_tensor);
          for (std::size_t i = 0; i < q.size(); ++i) dequantized[i] = static_cast<float>(q[i]);
        } else {
          const std::vector<std::int32_t> q = tensor_data<std::int32_t>(file, q_tensor);
          for (std::size_t i = 0; i < q.size(); ++i) dequantized[i] = static_cast<float>(q[i]);
        }
        std::size_t outside = 0;
        for (std::size_t i = 0; i < real.size(); ++i) {
          const float scale = scales[scales.size() == 1 ? 0 : (i / inner) % channels];
          if (std::fabs(dequantized[i] * scale - real[i]) > 0.5f * scale * (1.0f + 1e-5f)) {
            ++outside;
          }
        }
        INFO("int8 t" << q_tensor << " vs float t" << f_tensor);
        CHECK(outside == 0);
      }
    };
    check_twin(int8_graph.depthwise, float_graph.depthwise, 3);
    for (std::size_t i = 0; i < 2; ++i) check_twin(int8_graph.conv[i], float_graph.conv[i], 0);
    for (std::size_t i = 0; i < 3; ++i) check_twin(int8_graph.dense[i], float_graph.dense[i], 0);
  }

  SECTION("reshapes are views of the producer's buffer") {
    const TensorView<std::int8_t> produced(model.depthwise.activations.data(),
                                           model.depthwise.output_shape);
    TensorView<const std::int8_t> consumed;
    REQUIRE(reshape(produced, model.pool[0].input_shape, consumed).is_ok());
    CHECK(consumed.data() == model.depthwise.activations.data());
    CHECK(consumed.shape() == Shape{1, 258, 1, 5});
  }
}

TEST_CASE("ECG model: an all-zero beat, layer by layer", "[kernels][ecg_model]") {
  const NpzFile int8_file = load_model("ecg_classifier_int8.npz");
  const NpzFile float_file = load_model("ecg_classifier_float.npz");
  IntegerEcgModel model(int8_file, RoundingMode::double_rounding);
  FloatEcgModel reference(float_file);
  const std::vector<float> zeros(static_cast<std::size_t>(kBeatLength), 0.0f);
  require_ok(model.run(zeros.data()), 0);
  require_ok(reference.run(zeros.data()), 0);

  // 0.0 quantizes to the input zero point -12.
  CHECK(
      std::all_of(model.input.begin(), model.input.end(), [](std::int8_t q) { return q == -12; }));

  // Every tap reads x - Z_in = 0, so each output channel is its bias alone, requantized:
  //   c  bias  bias * M_c (multipliers above)   + Z_out -128, RELU clamp at -128
  //   0   226  1.679 -> 2                        -126
  //   1  1478  7.177 -> 7                        -121
  //   2   -42 -0.273 -> 0                        -128
  //   3   426  3.025 -> 3                        -125
  //   4   714  3.069 -> 3                        -125
  const std::int8_t expected_channel[5] = {-126, -121, -128, -125, -125};
  REQUIRE(model.depthwise.bias == std::vector<std::int32_t>{226, 1478, -42, 426, 714});
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < model.depthwise.activations.size(); ++i) {
    if (model.depthwise.activations[i] != expected_channel[i % 5]) ++mismatches;
  }
  CHECK(mismatches == 0);
  // The max of a constant row is the constant: the first pool passes the same values on.
  mismatches = 0;
  for (std::size_t i = 0; i < model.pool[0].activations.size(); ++i) {
    if (model.pool[0].activations[i] != expected_channel[i % 5]) ++mismatches;
  }
  CHECK(mismatches == 0);
  // The float model's first layer is relu(bias) there: the same values within the requantization
  // rounding (S_out / 2) plus the bias quantization (S_b / 2).
  for (std::size_t c = 0; c < 5; ++c) {
    const float dequantized = tsq::dequantize(expected_channel[c], model.depthwise.output);
    const float bias_scale = model.input_params.scale * model.depthwise.filter_scales[c];
    CHECK(std::fabs(dequantized - reference.depthwise.activations[c]) <=
          0.5f * model.depthwise.output.scale + 0.5f * bias_scale + 1e-6f);
  }

  // The end: a probability distribution that names the float model's class.
  float sum = 0.0f;
  std::printf("ECG model, all-zero beat: class (float p / int8 p)");
  for (std::size_t c = 0; c < kClasses; ++c) {
    const float p = tsq::dequantize(model.probabilities[c], model.probabilities_params);
    sum += p;
    std::printf("  %s %.4f / %.4f", kClassNames[c],
                static_cast<double>(reference.probabilities()[c]), static_cast<double>(p));
  }
  std::printf("\n");
  // Each of the 5 outputs is off by at most one step of 1/256 (rounding plus the fixed-point
  // exp and reciprocal), so the sum is within 5/256 of 1.
  CHECK(std::fabs(sum - 1.0f) <= 5.0f / 256);
  CHECK(argmax(model.probabilities.data(), kClasses) ==
        argmax(reference.probabilities().data(), kClasses));
}

TEST_CASE("ECG model: int8 reference kernels against the float model on every beat",
          "[kernels][ecg_model][real]") {
  const NpzFile int8_file = load_model("ecg_classifier_int8.npz");
  const NpzFile float_file = load_model("ecg_classifier_float.npz");
  IntegerEcgModel model(int8_file, RoundingMode::double_rounding);
  IntegerEcgModel single(int8_file, RoundingMode::single_rounding);
  FloatEcgModel reference(float_file);
  const Beats beats = load_beats();
  REQUIRE(beats.count == 18282);

  using Clock = std::chrono::steady_clock;
  double seconds_int8 = 0.0, seconds_single = 0.0, seconds_float = 0.0;
  const auto elapsed = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };

  std::size_t agree = 0, agree_single = 0, double_vs_single = 0;
  std::size_t correct_float = 0, correct_int8 = 0, correct_single = 0;
  std::size_t probability_ties = 0;                    // int8 softmax argmax != int8 logits argmax
  std::size_t disagreements[kClasses][kClasses] = {};  // [float class][int8 class]
  double probability_error = 0.0, logit_error = 0.0;
  float worst_probability_error = 0.0f, worst_logit_error = 0.0f, worst_sum_error = 0.0f;
  // Logits at the int8 limits stand for any value beyond them (the calibrated range of t20).
  std::size_t saturated_logits = 0;
  float worst_unsaturated_logit_error = 0.0f;
  for (std::size_t b = 0; b < beats.count; ++b) {
    const float* beat = beats.samples.data() + b * static_cast<std::size_t>(kBeatLength);
    auto start = Clock::now();
    require_ok(model.run(beat), b);
    seconds_int8 += elapsed(start);
    start = Clock::now();
    require_ok(single.run(beat), b);
    seconds_single += elapsed(start);
    start = Clock::now();
    require_ok(reference.run(beat), b);
    seconds_float += elapsed(start);

    const std::size_t float_class = argmax(reference.probabilities().data(), kClasses);
    const std::size_t int8_class = argmax(model.probabilities.data(), kClasses);
    const std::size_t single_class = argmax(single.probabilities.data(), kClasses);
    const std::size_t label = beats.labels[b];
    agree += int8_class == float_class;
    agree_single += single_class == float_class;
    double_vs_single += int8_class == single_class;
    correct_float += float_class == label;
    correct_int8 += int8_class == label;
    correct_single += single_class == label;
    if (int8_class != float_class) ++disagreements[float_class][int8_class];
    if (int8_class != argmax(model.logits().data(), kClasses)) ++probability_ties;

    float sum = 0.0f;
    for (std::size_t c = 0; c < kClasses; ++c) {
      const float p = tsq::dequantize(model.probabilities[c], model.probabilities_params);
      const float logit = tsq::dequantize(model.logits().data()[c], model.logits_params);
      const float p_error = std::fabs(p - reference.probabilities()[c]);
      const float logit_difference = std::fabs(logit - reference.logits().data()[c]);
      sum += p;
      probability_error += static_cast<double>(p_error);
      logit_error += static_cast<double>(logit_difference);
      worst_probability_error = std::max(worst_probability_error, p_error);
      worst_logit_error = std::max(worst_logit_error, logit_difference);
      const std::int8_t stored_logit = model.logits().data()[c];
      if (stored_logit == -128 || stored_logit == 127) {
        ++saturated_logits;
      } else {
        worst_unsaturated_logit_error = std::max(worst_unsaturated_logit_error, logit_difference);
      }
    }
    worst_sum_error = std::max(worst_sum_error, std::fabs(sum - 1.0f));
  }

  const std::size_t n = beats.count;
  const double values = static_cast<double>(n * kClasses);
  std::printf("ECG model on %zu beats (MIT-BIH, labels.npy):\n", n);
  std::printf(
      "  int8 vs float class agreement: %.3f %% (%zu disagree), single rounding %.3f %%,"
      " double vs single rounding %.3f %%\n",
      percent(agree, n), n - agree, percent(agree_single, n), percent(double_vs_single, n));
  std::printf("  accuracy: float %.3f %%, int8 %.3f %%, int8 single rounding %.3f %%\n",
              percent(correct_float, n), percent(correct_int8, n), percent(correct_single, n));
  std::printf(
      "  mean |p_int8 - p_float| %.5f (max %.4f, int8 step 1/256 = %.5f);"
      " mean |logit_int8 - logit_float| %.4f (max %.3f, step %.4f)\n",
      probability_error / values, static_cast<double>(worst_probability_error), 1.0 / 256,
      logit_error / values, static_cast<double>(worst_logit_error),
      static_cast<double>(model.logits_params.scale));
  std::printf(
      "  int8 logits at -128 or 127 (range [%.2f, %.2f]): %zu of %.0f; worst |logit"
      " difference| elsewhere %.3f\n",
      static_cast<double>(tsq::dequantize(std::int8_t{-128}, model.logits_params)),
      static_cast<double>(tsq::dequantize(std::int8_t{127}, model.logits_params)), saturated_logits,
      values, static_cast<double>(worst_unsaturated_logit_error));
  std::printf(
      "  worst |sum of int8 probabilities - 1| %.4f; softmax argmax != logits argmax on"
      " %zu beats (ties in the int8 probabilities)\n",
      static_cast<double>(worst_sum_error), probability_ties);
  std::printf("  disagreements, rows float class, columns int8 class:\n       ");
  for (std::size_t c = 0; c < kClasses; ++c) std::printf("%6s", kClassNames[c]);
  std::printf("\n");
  for (std::size_t f = 0; f < kClasses; ++f) {
    std::printf("    %s  ", kClassNames[f]);
    for (std::size_t c = 0; c < kClasses; ++c) std::printf("%6zu", disagreements[f][c]);
    std::printf("\n");
  }
  std::printf(
      "  time: int8 %.2f s, int8 single rounding %.2f s, float %.2f s (%.1f us/beat int8)\n",
      seconds_int8, seconds_single, seconds_float, 1e6 * seconds_int8 / static_cast<double>(n));

  CHECK(percent(agree, n) >= 99.0);
  CHECK(percent(agree_single, n) >= 99.0);
  // A wiring mistake (wrong reshape, transposed filter) would drop the float model to near
  // chance; the source reports 99.12 % on all 64,404 beats.
  CHECK(percent(correct_float, n) >= 95.0);
  // 5 outputs, each within one step of 1/256 (see the all-zero beat).
  CHECK(worst_sum_error <= 5.0f / 256);
}
