// SPDX-License-Identifier: Apache-2.0
// Models imported from .tflite files (tsq/import/tflite_model.hpp), run on real data:
//  - the float ECG CNN: the same layers as the model composed by hand below (with
//    weights from the JSON-converted .npz), and the same outputs, bit for bit, on every beat;
//  - the int8 ECG CNN: every layer's int8 output equal, byte for byte, to the .npz path (the
//    int8 weights, biases, scales and zero points of ecg_classifier_int8.npz run through the
//    reference kernels as tests/kernels/ecg_model_test.cpp does), on every beat, in both
//    rounding modes;
//  - the int8 mnist LSTM: LSTM outputs, logits and probabilities equal to the .npz path
//    (prepare_lstm with the file's per-gate scales, as tests/lstm/lstm_real_models_test.cpp);
//  - small models written by the tests (2-D convolution, pooling, Add, Mean, a time-on-height
//    depthwise convolution, keep_num_dims) against the same models wired by hand; an int8 one
//    against its float twin; and the errors of what the importer does not take.
// The figures are printed; run `tsq_nn_tflite_import_test` to see them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../io/tflite_writer.hpp"
#include "tsq/import/tflite_model.hpp"
#include "tsq/io/npy.hpp"
#include "tsq/io/npz.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

namespace nn = tsq::nn;
using tsq::DataType;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::Span;
using tsq::Status;
using tsq::TensorView;

namespace {

using Bytes = std::vector<std::uint8_t>;

std::string test_data(const char* name) {
  return std::string(TSQ_TEST_SOURCE_DIR) + "/../data/" + name;
}
std::string real_data(const char* name) { return std::string(TSQ_DATA_DIR) + "/" + name; }

tsq::io::TfliteModel load_file(const char* name) {
  auto file = tsq::io::load_tflite(test_data(name));
  INFO(file.status().message());
  REQUIRE(file.is_ok());
  return std::move(file).value();
}

tsq::io::NpzFile load_npz(const char* name) {
  auto file = tsq::io::load_npz(test_data(name));
  INFO(file.status().message());
  REQUIRE(file.is_ok());
  return std::move(file).value();
}

// Cheap when it passes: it runs for every layer of every beat.
void require_ok(const Status& status) {
  if (!status.is_ok()) FAIL(status.message());
}

template <typename T>
std::vector<T> member(const tsq::io::NpzFile& file, const std::string& name) {
  const tsq::io::NpyArray* array = file.find(name);
  INFO("npz member " << name);
  REQUIRE(array != nullptr);
  REQUIRE(array->data<T>() != nullptr);
  return std::vector<T>(array->data<T>(), array->data<T>() + array->element_count());
}

QuantParams npz_params(const tsq::io::NpzFile& file, std::int32_t tensor,
                       DataType type = DataType::int8) {
  const std::string t = "t" + std::to_string(tensor);
  return tsq::make_quant_params(member<float>(file, t + ".scale").at(0),
                                member<std::int32_t>(file, t + ".zero_point").at(0), type);
}

Shape npz_shape(const tsq::io::NpzFile& file, std::int32_t tensor) {
  const std::vector<std::int32_t> dims =
      member<std::int32_t>(file, "t" + std::to_string(tensor) + ".shape");
  return Shape::make(Span<const std::int32_t>(dims.data(), dims.size())).value();
}

template <typename T>
std::size_t argmax(const T* values, std::size_t count) {
  return static_cast<std::size_t>(std::max_element(values, values + count) - values);
}

// Copies every tensor a run shows it, by model tensor.
class Recorder final : public nn::TensorObserver {
 public:
  Status observe(nn::TensorId tensor, const nn::AnyTensor& value) override {
    const auto* bytes = static_cast<const std::uint8_t*>(value.data);
    tensors[tensor].assign(bytes, bytes + value.bytes());
    return Status::ok();
  }
  std::map<nn::TensorId, Bytes> tensors;
};

struct Beats {
  std::vector<float> samples;  // [count, 260]
  std::vector<std::uint8_t> labels;
  std::size_t count = 0;
};

Beats load_beats() {
  Beats beats;
  auto samples = tsq::io::load_npy(real_data("ecg-mitbih/beats.npy"));
  INFO(samples.status().message());
  REQUIRE(samples.is_ok());
  REQUIRE(samples->rank() == 2);
  REQUIRE(samples->shape()[1] == 260);
  auto values = tsq::io::to_float32(samples.value());
  REQUIRE(values.is_ok());
  beats.samples = std::move(values).value();
  beats.count = samples->shape()[0];
  auto labels = tsq::io::load_npy(real_data("ecg-mitbih/labels.npy"));
  INFO(labels.status().message());
  REQUIRE(labels.is_ok());
  REQUIRE(labels->data<std::uint8_t>() != nullptr);
  REQUIRE(labels->element_count() == beats.count);
  beats.labels.assign(labels->data<std::uint8_t>(), labels->data<std::uint8_t>() + beats.count);
  return beats;
}

// --- The float ECG model composed by hand with the model API (its TFLite tensors
// renamed to layers).

nn::Model hand_wired_ecg() {
  nn::Model model;
  model.input("beat", Shape{260, 1});
  model.add(
      nn::DepthwiseConv1D("conv1d", 3).depth_multiplier(5).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::MaxPool1D("max_pooling1d", 2));
  model.add(nn::Conv1D("conv1d_1", 10, 4).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::MaxPool1D("max_pooling1d_1", 2));
  model.add(nn::Conv1D("conv1d_2", 20, 4).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::MaxPool1D("max_pooling1d_2", 2));
  model.add(nn::Flatten("flatten"));
  model.add(nn::Dense("dense", 30).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::Dense("dense_1", 20).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::Dense("dense_2", 5).layout(nn::WeightLayout::tflite));
  model.add(nn::Softmax("softmax"));
  require_ok(model.build());
  nn::WeightNaming naming;
  const char* pairs[][2] = {
      {"conv1d.kernel", "t4"},  {"conv1d.bias", "t5"},      {"conv1d_1.kernel", "t8"},
      {"conv1d_1.bias", "t10"}, {"conv1d_2.kernel", "t13"}, {"conv1d_2.bias", "t15"},
      {"dense.kernel", "t16"},  {"dense.bias", "t17"},      {"dense_1.kernel", "t18"},
      {"dense_1.bias", "t19"},  {"dense_2.kernel", "t21"},  {"dense_2.bias", "t22"}};
  for (const auto& pair : pairs) naming.members[pair[0]] = pair[1];
  require_ok(model.load_weights(test_data("ecg_classifier_float.npz"), naming));
  return model;
}

// --- The int8 ECG model on the .npz path: the file's operator table (op<k> records) run through
// the reference kernels with the .npz parameters and the builtin options of the JSON dump, as
// tests/kernels/ecg_model_test.cpp does.

class NpzEcgModel {
 public:
  NpzEcgModel(const tsq::io::NpzFile& file, RoundingMode rounding) : file_(file) {
    for (std::size_t k = 0; file.find("op" + std::to_string(k)) != nullptr; ++k) {
      const std::vector<std::int32_t> r = member<std::int32_t>(file, "op" + std::to_string(k));
      Op op;
      op.code = r[0];
      const auto ins = static_cast<std::size_t>(r[1]);
      op.inputs.assign(r.begin() + 2, r.begin() + 2 + static_cast<std::ptrdiff_t>(ins));
      op.output = r.at(3 + ins);
      op.input_shape = npz_shape(file, op.inputs[0]);
      op.output_shape = npz_shape(file, op.output);
      if (op.code == 114) op.output_params = npz_params(file, op.output);
      prepare(op, rounding);
      ops_.push_back(std::move(op));
    }
  }

  // One beat through every op; `values` receives every int8 tensor by index.
  void run(const float* beat, std::map<std::int32_t, std::vector<std::int8_t>>& values) const {
    for (const Op& op : ops_) {
      const std::int32_t in = op.inputs[0];
      std::vector<std::int8_t>& out = values[op.output];
      out.resize(op.output_shape.element_count());
      const auto view_in = [&](std::int32_t t) {
        return TensorView<const std::int8_t>(values.at(t).data(), op.input_shape);
      };
      const TensorView<std::int8_t> view_out(out.data(), op.output_shape);
      switch (op.code) {
        case 114:  // QUANTIZE
          require_ok(tsq::quantize<std::int8_t>(Span<const float>(beat, 260),
                                                Span<std::int8_t>(out), op.output_params));
          break;
        case 22: out = values.at(in); break;  // RESHAPE: the same bytes
        case 4:
          require_ok(tsq::reference::depthwise_conv2d(op.depthwise.value(), view_in(in), filter(op),
                                                      Span<const std::int32_t>(op.bias), view_out));
          break;
        case 3:
          require_ok(tsq::reference::conv2d(op.conv.value(), view_in(in), filter(op),
                                            Span<const std::int32_t>(op.bias), view_out));
          break;
        case 17: require_ok(tsq::reference::max_pool2d(op.pool, view_in(in), view_out)); break;
        case 9: {
          const Shape flat{1, static_cast<std::int32_t>(values.at(in).size())};
          require_ok(tsq::reference::fully_connected(
              op.dense.value(), TensorView<const std::int8_t>(values.at(in).data(), flat),
              filter(op), Span<const std::int32_t>(op.bias), view_out));
          break;
        }
        case 25: require_ok(tsq::reference::softmax(op.softmax, view_in(in), view_out)); break;
        default: break;  // DEQUANTIZE: the int8 probabilities are compared
      }
    }
  }

 private:
  struct Op {
    std::int32_t code = 0;
    std::vector<std::int32_t> inputs;
    std::int32_t output = 0;
    Shape input_shape, output_shape;
    QuantParams output_params;
    std::vector<std::int8_t> weights;
    std::vector<std::int32_t> bias;
    std::vector<float> scales;
    Shape weights_shape;
    std::optional<tsq::Prepared<tsq::DepthwiseConv2DParams>> depthwise;
    std::optional<tsq::Prepared<tsq::Conv2DParams>> conv;
    std::optional<tsq::Prepared<tsq::FullyConnectedParams>> dense;
    tsq::MaxPool2DParams pool;
    tsq::SoftmaxParams softmax;
  };

  static TensorView<const std::int8_t> filter(const Op& op) {
    return TensorView<const std::int8_t>(op.weights.data(), op.weights_shape);
  }

  void prepare(Op& op, RoundingMode rounding) {
    const auto t = [](std::int32_t i) { return "t" + std::to_string(i); };
    if (op.code == 3 || op.code == 4 || op.code == 9) {
      op.weights = member<std::int8_t>(file_, t(op.inputs[1]));
      op.bias = member<std::int32_t>(file_, t(op.inputs[2]));
      op.scales = member<float>(file_, t(op.inputs[1]) + ".scale");
      op.weights_shape = npz_shape(file_, op.inputs[1]);
    }
    const QuantParams in = op.code == 114 ? QuantParams{} : npz_params(file_, op.inputs[0]);
    const QuantParams out = op.code == 6 ? QuantParams{} : npz_params(file_, op.output);
    const Span<const float> scales(op.scales.data(), op.scales.size());
    if (op.code == 4) {  // VALID, stride 1, depth multiplier 5, RELU
      tsq::DepthwiseConv2DOptions options;
      options.padding = tsq::Padding::valid;
      options.depth_multiplier = 5;
      options.activation = tsq::FusedActivation::relu;
      auto p = tsq::prepare_owned_depthwise_conv2d(
          {npz_shape(file_, op.inputs[0]), in, op.weights_shape, scales, out, options, rounding});
      require_ok(p.status());
      op.depthwise = std::move(p).value();
    } else if (op.code == 3) {  // VALID, stride 1, RELU
      tsq::Conv2DOptions options;
      options.padding = tsq::Padding::valid;
      options.activation = tsq::FusedActivation::relu;
      auto p = tsq::prepare_owned_conv2d(
          {npz_shape(file_, op.inputs[0]), in, op.weights_shape, scales, out, options, rounding});
      require_ok(p.status());
      op.conv = std::move(p).value();
    } else if (op.code == 17) {  // VALID, filter 2 x 1, stride 2 x 1
      tsq::Pool2DWindow window;
      window.filter_height = 2;
      window.filter_width = 1;
      window.stride_height = 2;
      window.stride_width = 1;
      window.padding = tsq::Padding::valid;
      auto p = tsq::prepare_max_pool2d({npz_shape(file_, op.inputs[0]), in, out, window});
      require_ok(p.status());
      op.pool = p.value();
    } else if (op.code == 9) {  // RELU, RELU, none
      const tsq::FusedActivation activation =
          dense_count_++ < 2 ? tsq::FusedActivation::relu : tsq::FusedActivation::none;
      const Shape flat{1, op.weights_shape[1]};
      auto p = tsq::prepare_owned_fully_connected(
          {flat, in, op.weights_shape, scales, out, activation, rounding});
      require_ok(p.status());
      op.dense = std::move(p).value();
    } else if (op.code == 25) {  // beta 1
      auto p = tsq::prepare_softmax({npz_shape(file_, op.inputs[0]), in, out, 1.0f, rounding});
      require_ok(p.status());
      op.softmax = p.value();
    }
  }

  const tsq::io::NpzFile& file_;
  std::vector<Op> ops_;
  int dense_count_ = 0;
};

// The imported layers and the TFLite tensors they write (the int8 file's indices).
const std::pair<const char*, std::int32_t> kEcgLayerTensors[] = {
    {"depthwise_conv1d", 32}, {"max_pool1d", 25},   {"conv1d", 9},   {"max_pool1d_1", 28},
    {"conv1d_1", 14},         {"max_pool1d_2", 31}, {"flatten", 31}, {"dense", 33},
    {"dense_1", 34},          {"dense_2", 20},      {"softmax", 0}};

}  // namespace

TEST_CASE("TFLite import: the float ECG model is the hand-wired one", "[model][tflite]") {
  const tsq::Result<nn::Model> imported =
      tsq::import_tflite_float(load_file("ecg_classifier_float.tflite"));
  INFO(imported.status().message());
  REQUIRE(imported.is_ok());
  const nn::Model reference = hand_wired_ecg();
  REQUIRE(imported->node_count() == reference.node_count());
  for (std::size_t n = 0; n < reference.node_count(); ++n) {
    CHECK(std::string(imported->layer(n).kind()) == reference.layer(n).kind());
    CHECK(imported->tensors()[static_cast<std::size_t>(imported->node_output(n))].shape ==
          reference.tensors()[static_cast<std::size_t>(reference.node_output(n))].shape);
  }
  CHECK(imported->input_shape() == Shape{1, 260, 1});
  CHECK(imported->parameter_count() == reference.parameter_count());
  CHECK(imported->parameter_count() == 19805);  // as the data's README states

  const Beats beats = load_beats();
  std::vector<std::byte> arena_a(imported->arena_bytes()), arena_b(reference.arena_bytes());
  std::vector<float> out_a(5), out_b(5);
  std::size_t same_outputs = 0, same_layers = 0, correct = 0;
  for (std::size_t b = 0; b < beats.count; ++b) {
    const Span<const float> beat(beats.samples.data() + 260 * b, 260);
    Recorder a, r;
    require_ok(imported->run(beat, out_a, arena_a, &a));
    require_ok(reference.run(beat, out_b, arena_b, &r));
    same_outputs += std::memcmp(out_a.data(), out_b.data(), 5 * sizeof(float)) == 0 ? 1 : 0;
    bool layers = true;
    for (std::size_t n = 0; n < reference.node_count(); ++n) {
      layers = layers && a.tensors[imported->node_output(n)] == r.tensors[reference.node_output(n)];
    }
    same_layers += layers ? 1 : 0;
    correct += argmax(out_a.data(), 5) == beats.labels[b] ? 1 : 0;
  }
  std::printf(
      "[tflite import] float ECG: %zu beats, outputs bit-identical to the hand-wired model on %zu, "
      "every layer on %zu; accuracy %.2f%%\n",
      beats.count, same_outputs, same_layers,
      100.0 * static_cast<double>(correct) / static_cast<double>(beats.count));
  CHECK(same_outputs == beats.count);
  CHECK(same_layers == beats.count);
}

TEST_CASE("TFLite import: the int8 ECG model runs bit-exactly as the .npz path",
          "[model][tflite]") {
  const tsq::io::TfliteModel file = load_file("ecg_classifier_int8.tflite");
  const tsq::io::NpzFile npz = load_npz("ecg_classifier_int8.npz");
  const Beats beats = load_beats();
  for (const RoundingMode rounding :
       {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
    tsq::TfliteImportOptions options;
    options.rounding = rounding;
    options.io = tsq::IoType::int8;
    const tsq::Result<tsq::QuantizedModel> model = tsq::import_tflite_int8(file, options);
    INFO(model.status().message());
    REQUIRE(model.is_ok());
    const nn::Model& graph = model->float_model();
    REQUIRE(graph.node_count() == 11);
    CHECK(model->input_quantization().params.scale == npz_params(npz, 1).scale);
    CHECK(model->input_quantization().params.zero_point == -12);
    CHECK(model->conversion_count() == 0);
    const NpzEcgModel reference(npz, rounding);

    std::vector<std::byte> arena(model->arena_bytes());
    std::vector<std::int8_t> input(260), output(5);
    std::size_t same_outputs = 0, same_layers = 0, correct = 0;
    std::map<std::int32_t, std::vector<std::int8_t>> values;
    for (std::size_t b = 0; b < beats.count; ++b) {
      const float* beat = beats.samples.data() + 260 * b;
      reference.run(beat, values);
      require_ok(tsq::quantize<std::int8_t>(Span<const float>(beat, 260), Span<std::int8_t>(input),
                                            model->input_quantization().params));
      CHECK(input == values.at(1));
      Recorder recorder;
      require_ok(
          model->run(Span<const std::int8_t>(input), Span<std::int8_t>(output), arena, &recorder));
      same_outputs += output == values.at(0) ? 1 : 0;
      bool layers = true;
      for (const auto& [layer, tensor] : kEcgLayerTensors) {
        const Bytes& got =
            recorder.tensors[graph.node_output(static_cast<std::size_t>(graph.find_node(layer)))];
        const std::vector<std::int8_t>& want = values.at(tensor);
        layers = layers && got.size() == want.size() &&
                 std::memcmp(got.data(), want.data(), got.size()) == 0;
      }
      same_layers += layers ? 1 : 0;
      correct += argmax(output.data(), 5) == beats.labels[b] ? 1 : 0;
    }
    std::printf(
        "[tflite import] int8 ECG, %s: %zu beats, int8 probabilities equal to the .npz path on "
        "%zu, "
        "all 11 layer outputs on %zu; accuracy %.2f%%\n",
        tsq::rounding_mode_name(rounding), beats.count, same_outputs, same_layers,
        100.0 * static_cast<double>(correct) / static_cast<double>(beats.count));
    CHECK(same_outputs == beats.count);
    CHECK(same_layers == beats.count);

    // Float I/O (the file's own: QUANTIZE and DEQUANTIZE become the model's conversions).
    tsq::TfliteImportOptions float_io;
    float_io.rounding = rounding;
    const tsq::Result<tsq::QuantizedModel> with_float = tsq::import_tflite_int8(file, float_io);
    REQUIRE(with_float.is_ok());
    CHECK(with_float->input_quantization().type == DataType::float32);
    CHECK(with_float->conversion_count() == 2);
    std::vector<std::byte> float_arena(with_float->arena_bytes());
    std::vector<float> probabilities(5);
    std::size_t same_float = 0;
    const std::size_t checked = std::min<std::size_t>(beats.count, 2000);
    for (std::size_t b = 0; b < checked; ++b) {
      const float* beat = beats.samples.data() + 260 * b;
      reference.run(beat, values);
      require_ok(
          with_float->run(Span<const float>(beat, 260), Span<float>(probabilities), float_arena));
      bool same = true;
      for (std::size_t c = 0; c < 5; ++c) {
        same = same && probabilities[c] == tsq::dequantize(values.at(0)[c], npz_params(npz, 0));
      }
      same_float += same ? 1 : 0;
    }
    CHECK(same_float == checked);
  }
}

TEST_CASE("TFLite import: the int8 mnist LSTM runs bit-exactly as the .npz path",
          "[model][tflite]") {
  const tsq::io::TfliteModel file = load_file("mnist_lstm_int8.tflite");
  const tsq::io::NpzFile q = load_npz("mnist_lstm_int8.npz");
  auto samples = tsq::io::load_npy(real_data("mnist-lstm/samples.npy"));
  INFO(samples.status().message());
  REQUIRE(samples.is_ok());
  REQUIRE(samples->data<std::uint8_t>() != nullptr);
  REQUIRE(samples->element_count() == 7840);
  auto labels = tsq::io::load_npy(real_data("mnist-lstm/sample_labels.npy"));
  REQUIRE(labels.is_ok());
  std::vector<float> digits(7840);
  for (std::size_t i = 0; i < 7840; ++i) digits[i] = samples->data<std::uint8_t>()[i] / 255.0f;

  // The .npz path: W i, f, c, o = t15..t12, R = t11..t8, biases t7..t4; hidden t16, cell t17;
  // dense t3 with bias t2; logits t25; probabilities t26.
  const auto cat8 = [&](std::initializer_list<const char*> names) {
    std::vector<std::int8_t> all;
    for (const char* n : names) {
      const std::vector<std::int8_t> part = member<std::int8_t>(q, n);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  };
  const std::vector<std::int8_t> w = cat8({"t15", "t14", "t13", "t12"});
  const std::vector<std::int8_t> r = cat8({"t11", "t10", "t9", "t8"});
  std::vector<std::int32_t> bias;
  for (const char* n : {"t7", "t6", "t5", "t4"}) {
    const std::vector<std::int32_t> part = member<std::int32_t>(q, n);
    bias.insert(bias.end(), part.begin(), part.end());
  }
  std::vector<float> w_scales, r_scales;
  for (const char* n : {"t15", "t14", "t13", "t12"}) {
    w_scales.push_back(member<float>(q, std::string(n) + ".scale").at(0));
  }
  for (const char* n : {"t11", "t10", "t9", "t8"}) {
    r_scales.push_back(member<float>(q, std::string(n) + ".scale").at(0));
  }
  const QuantParams input = npz_params(q, 0), hidden = npz_params(q, 16),
                    logits = npz_params(q, 25), probabilities = npz_params(q, 26);
  const std::vector<std::int8_t> dense_w = member<std::int8_t>(q, "t3");
  const std::vector<std::int32_t> dense_b = member<std::int32_t>(q, "t2");
  const std::vector<float> dense_scale = {member<float>(q, "t3.scale").at(0)};
  const tsq::LstmWeightsInt8 weights{TensorView<const std::int8_t>(w.data(), Shape{80, 28}),
                                     TensorView<const std::int8_t>(r.data(), Shape{80, 20}), bias};

  for (const RoundingMode rounding :
       {RoundingMode::double_rounding, RoundingMode::single_rounding}) {
    tsq::LstmQuantization lq;
    lq.input = input;
    lq.hidden = hidden;
    lq.cell_scale = member<float>(q, "t17.scale").at(0);
    lq.input_weight_scales = w_scales;
    lq.recurrent_weight_scales = r_scales;
    lq.cell_clip = 10.0f;
    lq.rounding = rounding;
    auto lstm = tsq::prepare_owned_lstm(lq, weights);
    require_ok(lstm.status());
    auto dense =
        tsq::prepare_owned_fully_connected({Shape{1, 560}, hidden, Shape{10, 560}, dense_scale,
                                            logits, tsq::FusedActivation::none, rounding});
    require_ok(dense.status());
    auto softmax = tsq::prepare_softmax({Shape{1, 10}, logits, probabilities, 1.0f, rounding});
    require_ok(softmax.status());

    tsq::TfliteImportOptions options;
    options.rounding = rounding;
    const tsq::Result<tsq::QuantizedModel> model = tsq::import_tflite_int8(file, options);
    INFO(model.status().message());
    REQUIRE(model.is_ok());
    CHECK(model->input_quantization().type == DataType::int8);  // the file's own int8 input
    const nn::Model& graph = model->float_model();
    REQUIRE(graph.node_count() == 4);
    const nn::TensorId lstm_tensor =
        graph.node_output(static_cast<std::size_t>(graph.find_node("lstm")));
    const nn::TensorId logits_tensor =
        graph.node_output(static_cast<std::size_t>(graph.find_node("dense")));

    std::vector<std::byte> arena(model->arena_bytes());
    std::size_t same = 0, compared = 0, correct = 0;
    for (std::size_t s = 0; s < 10; ++s) {
      std::vector<std::int8_t> x(784), sequence(560),
          state(20, static_cast<std::int8_t>(hidden.zero_point));
      std::vector<std::int16_t> cell(20, 0);
      std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(28, 20));
      require_ok(tsq::quantize<std::int8_t>(Span<const float>(digits.data() + 784 * s, 784),
                                            Span<std::int8_t>(x), input));
      require_ok(tsq::reference::lstm<std::int8_t>(
          lstm.value(), weights, TensorView<const std::int8_t>(x.data(), Shape{1, 28, 28}),
          TensorView<std::int8_t>(sequence.data(), Shape{1, 28, 20}), state, cell, scratch));
      std::vector<std::int8_t> ref_logits(10), ref_probabilities(10), out(10);
      require_ok(tsq::reference::fully_connected(
          dense.value(), TensorView<const std::int8_t>(sequence.data(), Shape{1, 560}),
          TensorView<const std::int8_t>(dense_w.data(), Shape{10, 560}), dense_b,
          TensorView<std::int8_t>(ref_logits.data(), Shape{1, 10})));
      require_ok(tsq::reference::softmax(
          softmax.value(), TensorView<const std::int8_t>(ref_logits.data(), Shape{1, 10}),
          TensorView<std::int8_t>(ref_probabilities.data(), Shape{1, 10})));

      Recorder recorder;
      require_ok(model->run(Span<const std::int8_t>(x), Span<std::int8_t>(out), arena, &recorder));
      const Bytes& got_sequence = recorder.tensors[lstm_tensor];
      const Bytes& got_logits = recorder.tensors[logits_tensor];
      REQUIRE(got_sequence.size() == 560);
      REQUIRE(got_logits.size() == 10);
      for (std::size_t i = 0; i < 560; ++i) {
        same += static_cast<std::int8_t>(got_sequence[i]) == sequence[i] ? 1 : 0;
      }
      for (std::size_t i = 0; i < 10; ++i) {
        same += static_cast<std::int8_t>(got_logits[i]) == ref_logits[i] ? 1 : 0;
        same += out[i] == ref_probabilities[i] ? 1 : 0;
      }
      compared += 580;
      correct += argmax(out.data(), 10) == labels->data<std::uint8_t>()[s] ? 1 : 0;
    }
    std::printf(
        "[tflite import] int8 mnist LSTM, %s: %zu of %zu int8 values (LSTM outputs, logits, "
        "probabilities of 10 digits) equal to the .npz path; %zu of 10 digits right\n",
        tsq::rounding_mode_name(rounding), same, compared, correct);
    CHECK(same == compared);
    CHECK(correct == 10);

    // The float twin (dequantized weights) classifies the digits as the int8 model does.
    std::vector<std::byte> float_arena(graph.arena_bytes());
    std::size_t twin_correct = 0;
    for (std::size_t s = 0; s < 10; ++s) {
      std::vector<float> out(10);
      require_ok(graph.run(Span<const float>(digits.data() + 784 * s, 784), Span<float>(out),
                           float_arena));
      twin_correct += argmax(out.data(), 10) == labels->data<std::uint8_t>()[s] ? 1 : 0;
    }
    CHECK(twin_correct == 10);
  }
}

namespace {

// --- Small models written by the test.

tsq::io::TfliteTensor make_tensor(
    const char* name, std::vector<std::int32_t> shape, std::uint32_t buffer = 0,
    tsq::io::TfliteTensorType type = tsq::io::TfliteTensorType::float32) {
  tsq::io::TfliteTensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.buffer = buffer;
  t.type = type;
  return t;
}

template <typename T>
Bytes raw(const std::vector<T>& values) {
  Bytes bytes(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<float> random_values(std::mt19937& rng, std::size_t count, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// Operator `code` (its operator code entry is added when new) reading `inputs`, writing `output`.
void add_op(tsq::io::TfliteModel& m, std::int32_t code, std::vector<std::int32_t> inputs,
            std::int32_t output, tsq::io::TfliteOptions options = {}) {
  std::uint32_t index = 0;
  while (index < m.operator_codes.size() && m.operator_codes[index].builtin_code != code) ++index;
  if (index == m.operator_codes.size()) {
    tsq::io::TfliteOperatorCode c;
    c.builtin_code = code;
    m.operator_codes.push_back(c);
  }
  tsq::io::TfliteOperator op;
  op.opcode = static_cast<tsq::io::TfliteBuiltin>(code);
  op.opcode_index = index;
  op.inputs = std::move(inputs);
  op.outputs = {output};
  op.options = std::move(options);
  m.operators.push_back(std::move(op));
}

std::uint32_t add_buffer(tsq::io::TfliteModel& m, Bytes data) {
  m.buffers.push_back(std::move(data));
  return static_cast<std::uint32_t>(m.buffers.size() - 1);
}

struct ImageWeights {
  std::vector<float> conv, conv_bias, dense, dense_bias;
};

// [1, 6, 5, 2] -> CONV_2D 4 x 3x3 SAME RELU -> AVERAGE_POOL_2D 2x2 -> ADD (with itself) -> MEAN
// over H, W -> FULLY_CONNECTED 3 -> LOGISTIC.
tsq::io::TfliteModel image_model(const ImageWeights& w) {
  using namespace tsq::io;
  TfliteModel m;
  m.version = 3;
  m.buffers.push_back({});
  m.tensors = {make_tensor("image", {1, 6, 5, 2}),
               make_tensor("conv/filter", {4, 3, 3, 2}, add_buffer(m, raw(w.conv))),
               make_tensor("conv/bias", {4}, add_buffer(m, raw(w.conv_bias))),
               make_tensor("conv", {1, 6, 5, 4}),
               make_tensor("pool", {1, 3, 2, 4}),
               make_tensor("add", {1, 3, 2, 4}),
               make_tensor("mean/axes", {2}, add_buffer(m, raw(std::vector<std::int32_t>{1, 2})),
                           TfliteTensorType::int32),
               make_tensor("mean", {1, 4}),
               make_tensor("dense/weights", {3, 4}, add_buffer(m, raw(w.dense))),
               make_tensor("dense/bias", {3}, add_buffer(m, raw(w.dense_bias))),
               make_tensor("dense", {1, 3}),
               make_tensor("logistic", {1, 3})};
  TfliteConv2DOptions conv;
  conv.padding = TflitePadding::same;
  conv.stride_w = conv.stride_h = 1;
  conv.activation = TfliteActivation::relu;
  add_op(m, 3, {0, 1, 2}, 3, conv);
  TflitePool2DOptions pool;
  pool.padding = TflitePadding::valid;
  pool.stride_w = pool.stride_h = pool.filter_width = pool.filter_height = 2;
  add_op(m, 1, {3}, 4, pool);
  add_op(m, 0, {4, 4}, 5, TfliteAddOptions{});
  add_op(m, 40, {5, 6}, 7, TfliteReducerOptions{});
  add_op(m, 9, {7, 8, 9}, 10, TfliteFullyConnectedOptions{});
  add_op(m, 14, {10}, 11);
  m.inputs = {0};
  m.outputs = {11};
  return m;
}

nn::Model hand_wired_image(const ImageWeights& w) {
  nn::Model model;
  const auto x = model.input("image", Shape{6, 5, 2});
  const auto c = model.add(nn::Conv2D("c", 4, {3, 3})
                               .padding(tsq::Padding::same)
                               .relu()
                               .layout(nn::WeightLayout::tflite),
                           x);
  const auto p = model.add(nn::AvgPool2D("p", {2, 2}), c);
  const auto a = model.add(nn::Add("a"), {p, p});
  model.add(nn::GlobalAveragePool("g"), a);
  model.add(nn::Dense("d", 3).layout(nn::WeightLayout::tflite));
  model.add(nn::Logistic("l"));
  require_ok(model.build());
  require_ok(model.find<nn::Conv2D>("c")->set_weights(w.conv, w.conv_bias));
  require_ok(model.find<nn::Dense>("d")->set_weights(w.dense, w.dense_bias));
  return model;
}

}  // namespace

TEST_CASE("TFLite import: small float models equal the same models wired by hand",
          "[model][tflite]") {
  std::mt19937 rng(7);
  SECTION("2-D convolution, average pooling, Add, Mean, Dense, Logistic") {
    ImageWeights w{random_values(rng, 72, 0.5f), random_values(rng, 4, 0.2f),
                   random_values(rng, 12, 1.0f), random_values(rng, 3, 0.1f)};
    const Bytes bytes = tsq_test::write_tflite(image_model(w));
    const tsq::Result<nn::Model> imported =
        tsq::import_tflite_float(tsq::io::parse_tflite(bytes.data(), bytes.size()).value());
    INFO(imported.status().message());
    REQUIRE(imported.is_ok());
    const nn::Model reference = hand_wired_image(w);
    REQUIRE(imported->node_count() == 6);
    CHECK(std::string(imported->layer(0).kind()) == "Conv2D");
    CHECK(std::string(imported->layer(1).kind()) == "AvgPool2D");
    CHECK(std::string(imported->layer(3).kind()) == "GlobalAveragePool");
    std::vector<std::byte> arena_a(imported->arena_bytes()), arena_b(reference.arena_bytes());
    for (int trial = 0; trial < 20; ++trial) {
      const std::vector<float> x = random_values(rng, 60, 2.0f);
      std::vector<float> a(3), b(3);
      require_ok(imported->run(x, a, arena_a));
      require_ok(reference.run(x, b, arena_b));
      CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * 3) == 0);
    }
  }
  SECTION("EXPAND_DIMS, a time-on-height depthwise convolution, SQUEEZE, Dense per step") {
    using namespace tsq::io;
    const std::vector<float> kernel = random_values(rng, 18, 0.5f),
                             bias = random_values(rng, 6, 0.1f),
                             dense = random_values(rng, 24, 0.5f),
                             dense_bias = random_values(rng, 4, 0.1f);
    TfliteModel m;
    m.version = 3;
    m.buffers.push_back({});
    m.tensors = {make_tensor("window", {1, 20, 3}),
                 make_tensor("axis", {1}, add_buffer(m, raw(std::vector<std::int32_t>{2})),
                             TfliteTensorType::int32),
                 make_tensor("expanded", {1, 20, 1, 3}),
                 make_tensor("dw/filter", {1, 3, 1, 6}, add_buffer(m, raw(kernel))),
                 make_tensor("dw/bias", {6}, add_buffer(m, raw(bias))),
                 make_tensor("dw", {1, 10, 1, 6}),
                 make_tensor("squeezed", {1, 10, 6}),
                 make_tensor("dense/weights", {4, 6}, add_buffer(m, raw(dense))),
                 make_tensor("dense/bias", {4}, add_buffer(m, raw(dense_bias))),
                 make_tensor("dense", {1, 10, 4}),
                 make_tensor("tanh", {1, 10, 4}),
                 make_tensor("flat", {1, 40}),
                 make_tensor("softmax", {1, 40})};
    add_op(m, 70, {0, 1}, 2);
    TfliteDepthwiseConv2DOptions dw;
    dw.padding = TflitePadding::same;
    dw.stride_h = 2;
    dw.stride_w = 1;
    dw.depth_multiplier = 2;
    dw.activation = TfliteActivation::relu6;
    add_op(m, 4, {2, 3, 4}, 5, dw);
    add_op(m, 43, {5}, 6, TfliteSqueezeOptions{{2}});
    TfliteFullyConnectedOptions fc;
    fc.keep_num_dims = true;
    add_op(m, 9, {6, 7, 8}, 9, fc);
    add_op(m, 28, {9}, 10);
    add_op(m, 22, {10}, 11, TfliteReshapeOptions{{1, 40}});
    TfliteSoftmaxOptions softmax;
    softmax.beta = 1.0f;
    add_op(m, 25, {11}, 12, softmax);
    m.inputs = {0};
    m.outputs = {12};
    const Bytes bytes = tsq_test::write_tflite(m);
    const tsq::Result<nn::Model> imported =
        tsq::import_tflite_float(tsq::io::parse_tflite(bytes.data(), bytes.size()).value());
    INFO(imported.status().message());
    REQUIRE(imported.is_ok());

    nn::Model reference;
    reference.input("window", Shape{20, 3});
    reference.add(nn::DepthwiseConv1D("dw", 3)
                      .depth_multiplier(2)
                      .stride(2)
                      .padding(tsq::Padding::same)
                      .relu6()
                      .layout(nn::WeightLayout::tflite));
    reference.add(nn::Dense("d", 4).layout(nn::WeightLayout::tflite));
    reference.add(nn::Tanh("t"));
    reference.add(nn::Flatten("f"));
    reference.add(nn::Softmax("s"));
    require_ok(reference.build());
    require_ok(reference.find<nn::DepthwiseConv1D>("dw")->set_weights(kernel, bias));
    require_ok(reference.find<nn::Dense>("d")->set_weights(dense, dense_bias));
    REQUIRE(imported->node_count() == reference.node_count());
    for (std::size_t n = 0; n < reference.node_count(); ++n) {
      CHECK(std::string(imported->layer(n).kind()) == reference.layer(n).kind());
    }
    std::vector<std::byte> arena_a(imported->arena_bytes()), arena_b(reference.arena_bytes());
    for (int trial = 0; trial < 20; ++trial) {
      const std::vector<float> x = random_values(rng, 60, 2.0f);
      std::vector<float> a(40), b(40);
      require_ok(imported->run(x, a, arena_a));
      require_ok(reference.run(x, b, arena_b));
      CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * 40) == 0);
    }
  }
}

TEST_CASE("TFLite import: a small int8 model follows its float twin", "[model][tflite]") {
  // The image model quantized the way a converter does it: int8 per-channel weights, int32
  // biases, activation parameters from the float ranges over a few inputs.
  std::mt19937 rng(11);
  ImageWeights w{random_values(rng, 72, 0.5f), random_values(rng, 4, 0.2f),
                 random_values(rng, 12, 1.0f), random_values(rng, 3, 0.1f)};
  const nn::Model reference = hand_wired_image(w);
  std::vector<std::vector<float>> inputs;
  std::map<nn::TensorId, std::pair<float, float>> ranges;
  std::vector<std::byte> arena(reference.arena_bytes());
  for (int i = 0; i < 50; ++i) {
    inputs.push_back(random_values(rng, 60, 2.0f));
    std::vector<float> out(3);
    Recorder recorder;
    require_ok(reference.run(inputs.back(), out, arena, &recorder));
    for (const auto& [id, bytes] : recorder.tensors) {
      const auto* v = reinterpret_cast<const float*>(bytes.data());
      auto& range = ranges.try_emplace(id, 0.0f, 0.0f).first->second;
      for (std::size_t k = 0; k < bytes.size() / 4; ++k) {
        range.first = std::min(range.first, v[k]);
        range.second = std::max(range.second, v[k]);
      }
    }
  }
  const auto params = [&](nn::TensorId id) {
    return tsq::choose_quant_params(ranges[id].first, ranges[id].second).value();
  };
  // nn tensors: 0 input, 1 conv, 2 pool, 3 add, 4 mean, 5 dense, 6 logistic.
  tsq::io::TfliteModel m = image_model(w);
  const auto set_activation = [&](std::int32_t t, const QuantParams& p) {
    m.tensors[static_cast<std::size_t>(t)].type = tsq::io::TfliteTensorType::int8;
    m.tensors[static_cast<std::size_t>(t)].quantization.scale = {p.scale};
    m.tensors[static_cast<std::size_t>(t)].quantization.zero_point = {p.zero_point};
  };
  set_activation(0, params(0));
  set_activation(3, params(1));
  set_activation(4, params(1));  // average pooling keeps its input's parameters
  set_activation(5, params(3));
  set_activation(7, params(4));
  set_activation(10, params(5));
  set_activation(11, tsq::make_quant_params(1.0f / 256, -128, DataType::int8));
  const auto set_weights = [&](std::int32_t t, const std::vector<float>& values, int axis,
                               std::vector<std::int32_t> dims) {
    std::vector<std::int8_t> q(values.size());
    std::vector<float> scales(static_cast<std::size_t>(dims[static_cast<std::size_t>(axis)]));
    require_ok(tsq::quantize_per_channel<std::int8_t>(values, dims, axis, q, scales));
    auto& tensor = m.tensors[static_cast<std::size_t>(t)];
    tensor.type = tsq::io::TfliteTensorType::int8;
    tensor.quantization.scale = scales;
    tensor.quantization.zero_point.assign(scales.size(), 0);
    tensor.quantization.quantized_dimension = axis;
    m.buffers[tensor.buffer] = raw(q);
    return scales;
  };
  const auto set_bias = [&](std::int32_t t, const std::vector<float>& values, float input_scale,
                            const std::vector<float>& scales) {
    std::vector<std::int32_t> q(values.size());
    require_ok(tsq::quantize_bias(values, input_scale, scales, q));
    auto& tensor = m.tensors[static_cast<std::size_t>(t)];
    tensor.type = tsq::io::TfliteTensorType::int32;
    m.buffers[tensor.buffer] = raw(q);
  };
  const std::vector<float> conv_scales = set_weights(1, w.conv, 0, {4, 3, 3, 2});
  set_bias(2, w.conv_bias, params(0).scale, conv_scales);
  const std::vector<float> dense_scales = set_weights(8, w.dense, 0, {3, 4});
  set_bias(9, w.dense_bias, params(4).scale, dense_scales);

  const Bytes bytes = tsq_test::write_tflite(m);
  tsq::TfliteImportOptions options;
  options.io = tsq::IoType::float32;
  const tsq::Result<tsq::QuantizedModel> model =
      tsq::import_tflite_int8(tsq::io::parse_tflite(bytes.data(), bytes.size()).value(), options);
  INFO(model.status().message());
  REQUIRE(model.is_ok());
  std::vector<std::byte> q_arena(model->arena_bytes());
  float worst = 0.0f;
  for (const std::vector<float>& x : inputs) {
    std::vector<float> a(3), b(3);
    require_ok(model->run(x, a, q_arena));
    require_ok(reference.run(x, b, arena));
    for (std::size_t c = 0; c < 3; ++c) worst = std::max(worst, std::fabs(a[c] - b[c]));
  }
  std::printf(
      "[tflite import] small int8 model (Conv2D, AvgPool2D, Add, Mean, Dense, Logistic): "
      "max |int8 - float| %.4f\n",
      static_cast<double>(worst));
  CHECK(worst <= 6.0f / 256);
}

TEST_CASE("TFLite import: what the importer does not take is named", "[model][tflite]") {
  const auto check_error = [](const Status& status, tsq::ErrorCode code, const char* fragment) {
    INFO("message: " << status.message());
    REQUIRE_FALSE(status.is_ok());
    CHECK(std::string(tsq::error_code_name(status.code())) == tsq::error_code_name(code));
    CHECK_THAT(status.message(), Catch::Contains(fragment));
  };
  check_error(tsq::load_tflite_float(test_data("no_such_model.tflite")).status(),
              tsq::ErrorCode::io_error, "no_such_model.tflite");
  const tsq::io::TfliteModel int8_ecg = load_file("ecg_classifier_int8.tflite");
  const tsq::io::TfliteModel float_ecg = load_file("ecg_classifier_float.tflite");
  check_error(tsq::import_tflite_float(int8_ecg).status(), tsq::ErrorCode::unsupported_format,
              "operator 0 (QUANTIZE): the model is quantized (import_tflite_int8 reads it)");
  check_error(tsq::import_tflite_int8(float_ecg).status(), tsq::ErrorCode::unsupported_format,
              "a float input must feed one QUANTIZE");

  tsq::io::TfliteModel edited = float_ecg;
  std::get<tsq::io::TflitePool2DOptions>(edited.operators[3].options).activation =
      tsq::io::TfliteActivation::relu;
  check_error(tsq::import_tflite_float(edited).status(), tsq::ErrorCode::unsupported_format,
              "operator 3 (MAX_POOL_2D): a fused activation on pooling is not supported");

  edited = float_ecg;
  std::get<tsq::io::TfliteConv2DOptions>(edited.operators[5].options).activation =
      tsq::io::TfliteActivation::tanh;
  check_error(tsq::import_tflite_float(edited).status(), tsq::ErrorCode::unsupported_format,
              "operator 5 (CONV_2D): fused activation other than NONE, RELU or RELU6");

  edited = float_ecg;
  edited.inputs = {1, 2};
  check_error(tsq::import_tflite_float(edited).status(), tsq::ErrorCode::unsupported_format,
              "the model has 2 inputs and 1 outputs");

  edited = float_ecg;
  edited.tensors[16].shape = {60, 300};  // 2 rows of 300 from [1, 30, 1, 20]
  edited.tensors[17].shape = {60};
  check_error(tsq::import_tflite_float(edited).status(), tsq::ErrorCode::unsupported_format,
              "operator 12 (FULLY_CONNECTED): more than one input row (batch 1 only)");

  edited = float_ecg;
  edited.tensors[25].shape = {1, 128, 1, 5};
  check_error(tsq::import_tflite_float(edited).status(), tsq::ErrorCode::malformed_file,
              "output shape [1, 128, 5] differs from the computed [1, 129, 5]");

  edited = int8_ecg;
  edited.tensors[4].quantization.zero_point[2] = 3;
  check_error(tsq::import_tflite_int8(edited).status(), tsq::ErrorCode::unsupported_format,
              "tensor 4 'model/conv1d/conv1d/ExpandDims_1': weights are asymmetric");

  edited = int8_ecg;
  edited.tensors[0].quantization.zero_point[0] = 0;  // softmax output must be (1/256, -128)
  check_error(tsq::import_tflite_int8(edited).status(), tsq::ErrorCode::unsupported_format,
              "operator 16 (SOFTMAX): the output's scale and zero point differ");

  edited = int8_ecg;
  edited.tensors[23].quantization.scale[0] *= 2;  // a RESHAPE may not change the scale
  check_error(tsq::import_tflite_int8(edited).status(), tsq::ErrorCode::unsupported_format,
              "operator 3 (RESHAPE): changes the scale or zero point");
}
