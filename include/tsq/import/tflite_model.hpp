// SPDX-License-Identifier: Apache-2.0
// tsq models from TFLite files (host): the step above io/tflite.hpp, which only reads the file,
// and nn/ + ptq/, which know nothing of TFLite.
//
//   auto file = tsq::io::load_tflite("model.tflite");
//   auto model = tsq::import_tflite_float(*file);    // FLOAT32 file -> built nn::Model, weights
//   set auto q = tsq::import_tflite_int8(*file);         // full-integer file -> QuantizedModel
//
// import_tflite_float gives an nn::Model of tsq layers with the file's weights (WeightLayout::
// tflite), ready to run, calibrate and quantize. import_tflite_int8 gives a QuantizedModel that
// runs the file's own int8 weights, int32 biases and per-tensor / per-channel scales and zero
// points through tsq's integer kernels (QuantizedModelBuilder); its float_model() is the same
// graph with the weights dequantized, the float twin the debugger compares against.
//
// The graph follows tsq's axis convention rather than TFLite's. TFLite has no 1-D layers: a
// Keras Conv1D becomes RESHAPE -> CONV_2D over [1, 1, W, C] (time on the width axis) and a
// MaxPooling1D RESHAPE -> MAX_POOL_2D over [1, H, 1, C] (time on the height axis). Each tensor
// of shape [1, 1, W, C] or [1, H, 1, C] is taken as the window [1, T, C]; a convolution or pool
// whose window lies along that axis becomes Conv1D, DepthwiseConv1D, MaxPool1D or AvgPool1D, any
// other one Conv2D, DepthwiseConv2D, MaxPool2D or AvgPool2D. RESHAPE, SQUEEZE and EXPAND_DIMS
// move no data: they make no layer. Where a layer needs its input in another shape than the one
// its producer wrote, a Flatten or Reshape layer is inserted (e.g. before FULLY_CONNECTED, which
// flattens its input). A RESHAPE right after the model input sets the input's shape instead.
//
// Operators: CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, FULLY_CONNECTED, SOFTMAX,
// ADD, LOGISTIC, TANH, RELU, RELU6, MEAN (over the spatial axes: GlobalAveragePool),
// UNIDIRECTIONAL_SEQUENCE_LSTM (batch-major, no peephole, projection, layer norm or CIFG),
// RESHAPE, SQUEEZE, EXPAND_DIMS; in int8 files QUANTIZE at the input and DEQUANTIZE at the output
// (the I/O conversions of the QuantizedModel). One input, one output, batch 1, at most 10,000
// operators. Fused activations NONE, RELU and RELU6 on convolutions and FULLY_CONNECTED, NONE
// elsewhere. The int8 LSTM runs TFLite's scheme (per-gate weight scales, int8 hidden state) with
// reference::lstm, bit for bit as TFLite-Micro; the float LSTM runs Keras semantics (the cell
// clip applies to integer forms only).
// Anything else is unsupported_format naming the operator and what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tsq/io/tflite.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/layers/add.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/depthwise_conv.hpp"
#include "tsq/nn/layers/global_average_pool.hpp"
#include "tsq/nn/layers/logistic.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/layers/pooling.hpp"
#include "tsq/nn/layers/relu.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"
#include "tsq/nn/layers/tanh.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/model_builder.hpp"
#include "tsq/ptq/quantize_model.hpp"

namespace tsq {

struct TfliteImportOptions {
  // The integer kernels' rounding (TFLite-Micro's default: double rounding).
  RoundingMode rounding = RoundingMode::double_rounding;
  // The caller's input and output: unset follows the file (float32 when it quantizes a float
  // input, int8 otherwise).
  std::optional<IoType> io;
};

namespace detail {

// An int8 UNIDIRECTIONAL_SEQUENCE_LSTM as TFLite quantizes it: per-gate weight scales, int8
// hidden state that is also the output, int16 cell at a power-of-two scale. Each window starts
// from the zero state (state at the hidden zero point, cell 0), as the model's variables are reset.
class TfliteLstmLayer final : public nn::QuantizedLayer {
 public:
  TfliteLstmLayer(std::vector<std::int8_t> input_weights, std::vector<std::int8_t> recurrent,
                  std::vector<std::int32_t> bias, Prepared<LstmParams> prepared, std::int32_t batch,
                  std::int32_t steps, nn::TensorQuantization output)
      : input_weights_(std::move(input_weights)),
        recurrent_weights_(std::move(recurrent)),
        bias_(std::move(bias)),
        prepared_(std::move(prepared)),
        batch_(batch),
        steps_(steps),
        output_(output) {}
  std::unique_ptr<nn::QuantizedLayer> clone() const override {
    return std::make_unique<TfliteLstmLayer>(*this);
  }
  std::size_t scratch_bytes() const override {
    const std::size_t state = state_size();
    return nn::detail::scratch_bytes_for<std::int8_t>(state) +
           nn::detail::scratch_bytes_for<std::int16_t>(state) +
           nn::detail::scratch_bytes_for<std::int32_t>(
               lstm_scratch_size(steps_, prepared_->hidden_size));
  }
  Status run(Span<const nn::AnyTensor> inputs, const nn::AnyTensor& output,
             Span<std::byte> scratch) const override {
    const std::size_t state_count = state_size();
    Span<std::int8_t> state = nn::detail::take_scratch<std::int8_t>(scratch, state_count);
    Span<std::int16_t> cell = nn::detail::take_scratch<std::int16_t>(scratch, state_count);
    Span<std::int32_t> gates = nn::detail::take_scratch<std::int32_t>(
        scratch, lstm_scratch_size(steps_, prepared_->hidden_size));
    if (state.data() == nullptr || cell.data() == nullptr || gates.data() == nullptr) {
      return Status::error(ErrorCode::buffer_too_small, "LSTM scratch");
    }
    for (std::int8_t& h : state) h = static_cast<std::int8_t>(prepared_->hidden_zero_point);
    for (std::int16_t& c : cell) c = 0;
    return reference::lstm<std::int8_t>(prepared_, weights(), inputs[0].view<const std::int8_t>(),
                                        output.view<std::int8_t>(), state, cell, gates);
  }
  nn::ParameterBytes parameter_bytes() const override {
    nn::ParameterBytes bytes;
    bytes.int8 = input_weights_.size() + recurrent_weights_.size();
    bytes.int32 = bias_.size() * sizeof(std::int32_t);
    return bytes;
  }
  nn::TensorQuantization output_quantization() const override { return output_; }

 private:
  std::size_t state_size() const {
    return static_cast<std::size_t>(batch_) * static_cast<std::size_t>(prepared_->hidden_size);
  }
  LstmWeightsInt8 weights() const {
    const std::int32_t rows = kLstmGateCount * prepared_->hidden_size;
    return LstmWeightsInt8{
        TensorView<const std::int8_t>(input_weights_.data(), Shape{rows, prepared_->input_size}),
        TensorView<const std::int8_t>(recurrent_weights_.data(),
                                      Shape{rows, prepared_->hidden_size}),
        Span<const std::int32_t>(bias_.data(), bias_.size())};
  }

  std::vector<std::int8_t> input_weights_;      // [4H, I], gates i, f, c, o
  std::vector<std::int8_t> recurrent_weights_;  // [4H, H]
  std::vector<std::int32_t> bias_;              // [4H]
  Prepared<LstmParams> prepared_;
  std::int32_t batch_;
  std::int32_t steps_;
  nn::TensorQuantization output_;
};

// Walks the TFLite graph once and builds the nn::Model (and, for int8 files, every tensor's
// quantization and every node's quantized layer for QuantizedModelBuilder).
class TfliteImporter {
 public:
  TfliteImporter(const io::TfliteModel& file, bool integer, RoundingMode rounding)
      : file_(file), integer_(integer), rounding_(rounding), bound_(file.tensors.size()) {}

  Status run() {
    if (file_.inputs.size() != 1 || file_.outputs.size() != 1) {
      return Status::error(ErrorCode::unsupported_format, "tflite import: the model has ")
          .append(file_.inputs.size())
          .append(" inputs and ")
          .append(file_.outputs.size())
          .append(" outputs; tsq models take one of each");
    }
    // Building checks every layer against every other (names, readers): bounded here so that a
    // hostile file cannot make that quadratic work take hours. Models for tsq have far fewer.
    if (file_.operators.size() > kMaxOperators) {
      return Status::error(ErrorCode::unsupported_format, "tflite import: more than ")
          .append(kMaxOperators)
          .append(" operators");
    }
    TSQ_RETURN_IF_ERROR(check_indices());
    skipped_.assign(file_.operators.size(), false);
    TSQ_RETURN_IF_ERROR(find_edges());
    TSQ_RETURN_IF_ERROR(add_input());
    for (std::size_t k = 0; k < file_.operators.size(); ++k) {
      if (skipped_[k]) continue;
      op_ = k;
      TSQ_RETURN_IF_ERROR(add_operator(file_.operators[k]));
    }
    if (bound_[static_cast<std::size_t>(inside_output_)].id < 0) {
      return Status::error(ErrorCode::unsupported_format,
                           "tflite import: no operator writes the model output");
    }
    const Result<Shape> output_shape = activation_shape(inside_output_);
    if (!output_shape.is_ok()) return output_shape.status();
    const Result<nn::TensorId> output = view_as(inside_output_, output_shape.value());
    if (!output.is_ok()) return output.status();
    model_.set_output(output.value());
    return model_.build();
  }

  static constexpr std::size_t kMaxOperators = 10000;

  nn::Model model_;
  std::vector<nn::TensorQuantization> tensor_quantization_;     // per nn tensor (int8 files)
  std::vector<std::unique_ptr<nn::QuantizedLayer>> quantized_;  // per node (int8 files)
  bool float_input_ = false;  // the file quantizes a float input (QUANTIZE at the edge)

 private:
  struct Binding {
    nn::TensorId id = -1;  // the nn tensor holding this TFLite tensor's elements
    Shape shape;           // its shape in the nn model
  };

  // parse_tflite checks every index; a model assembled in memory gets the same checks here.
  Status check_indices() const {
    const auto valid = [this](std::int32_t index, bool optional) {
      return (optional && index == -1) ||
             (index >= 0 && static_cast<std::size_t>(index) < file_.tensors.size());
    };
    bool ok = valid(file_.inputs[0], false) && valid(file_.outputs[0], false);
    for (const io::TfliteOperator& op : file_.operators) {
      for (const std::int32_t i : op.inputs) ok = ok && valid(i, true);
      for (const std::int32_t i : op.outputs) ok = ok && valid(i, false);
    }
    for (const io::TfliteTensor& t : file_.tensors) {
      ok = ok && t.quantization.scale.size() == t.quantization.zero_point.size();
    }
    if (ok) return Status::ok();
    return Status::error(ErrorCode::invalid_argument,
                         "tflite import: a tensor index is out of range, or scales and zero "
                         "points differ in count (models from parse_tflite have neither)");
  }

  // --- errors ---

  Status op_error(ErrorCode code, const char* what) const {
    Status status = Status::error(code, "tflite import: operator ");
    if (op_ >= file_.operators.size()) return status.append("?: ").append(what);
    status.append(op_).append(" (");
    io::append_tflite_builtin(status, static_cast<std::int32_t>(file_.operators[op_].opcode));
    return status.append("): ").append(what);
  }
  // The operator's options struct; a model assembled by hand may lack it.
  template <typename Options>
  Result<const Options*> options_of(const io::TfliteOperator& op) const {
    const Options* options = op.options_as<Options>();
    if (options == nullptr) return op_error(ErrorCode::invalid_argument, "has no options struct");
    return options;
  }
  Status unsupported(const char* what) const {
    return op_error(ErrorCode::unsupported_format, what);
  }
  Status tensor_error(ErrorCode code, std::int32_t tensor, const char* what) const {
    return Status::error(code, "tflite import: tensor ")
        .append(tensor)
        .append(" '")
        .append(file_.tensors[static_cast<std::size_t>(tensor)].name.c_str())
        .append("': ")
        .append(what);
  }
  // Prefixes a layer's own error with the operator it came from.
  Status with_op(const Status& status) const {
    if (status.is_ok()) return status;
    return op_error(status.code(), status.message());
  }

  const io::TfliteTensor& tensor(std::int32_t index) const {
    return file_.tensors[static_cast<std::size_t>(index)];
  }

  // --- shapes ---

  // An activation's shape: batch 1 leading, rank 2 to 5.
  Result<Shape> activation_shape(std::int32_t index) const {
    const std::vector<std::int32_t>& dims = tensor(index).shape;
    if (dims.size() < 2 || dims[0] != 1) {
      return tensor_error(ErrorCode::unsupported_format, index,
                          "activations must be [1, ...] of rank >= 2 (batch 1)");
    }
    const Result<Shape> shape = Shape::make(Span<const std::int32_t>(dims.data(), dims.size()));
    if (!shape.is_ok()) return tensor_error(shape.status().code(), index, shape.status().message());
    for (const std::int32_t d : dims) {
      if (d < 1) return tensor_error(ErrorCode::unsupported_format, index, "has a dimension 0");
    }
    return shape;
  }

  // tsq's form of a TFLite shape: [1, 1, W, C] and [1, H, 1, C] are the window [1, T, C].
  static Shape window_form(const Shape& shape) {
    if (shape.rank() == 4 && shape[1] == 1) return Shape{1, shape[2], shape[3]};
    if (shape.rank() == 4 && shape[2] == 1) return Shape{1, shape[1], shape[3]};
    return shape;
  }

  Result<Shape> window_shape(std::int32_t index) const {
    const Result<Shape> shape = activation_shape(index);
    if (!shape.is_ok()) return shape;
    return window_form(shape.value());
  }

  // --- quantization ---

  Result<nn::TensorQuantization> activation_quantization(std::int32_t index) const {
    const io::TfliteTensor& t = tensor(index);
    if (!integer_) {
      if (t.type != io::TfliteTensorType::float32) {
        return tensor_error(ErrorCode::unsupported_type, index,
                            "is not FLOAT32 (for int8 models: import_tflite_int8)");
      }
      return nn::TensorQuantization{DataType::float32, QuantParams{}};
    }
    if (t.type != io::TfliteTensorType::int8) {
      return tensor_error(ErrorCode::unsupported_type, index,
                          "activations of int8 models must be INT8");
    }
    if (t.quantization.scale.size() != 1) {
      return tensor_error(ErrorCode::unsupported_format, index,
                          "activations need one scale and zero point");
    }
    const std::int64_t zero_point = t.quantization.zero_point[0];
    if (zero_point < -128 || zero_point > 127) {
      return tensor_error(ErrorCode::invalid_argument, index, "zero point outside int8");
    }
    const QuantParams params = make_quant_params(
        t.quantization.scale[0], static_cast<std::int32_t>(zero_point), DataType::int8);
    const Status valid = validate(params);
    if (!valid.is_ok()) return tensor_error(valid.code(), index, valid.message());
    return nn::TensorQuantization{DataType::int8, params};
  }

  static bool same_quantization(const nn::TensorQuantization& a, const nn::TensorQuantization& b) {
    return a.type == b.type &&
           (a.type == DataType::float32 ||
            (a.params.scale == b.params.scale && a.params.zero_point == b.params.zero_point));
  }

  // --- constants ---

  Result<std::vector<float>> float_constant(std::int32_t index, std::size_t count) const {
    if (tensor(index).type != io::TfliteTensorType::float32) {
      return tensor_error(ErrorCode::unsupported_type, index, "weights must be FLOAT32");
    }
    return constant<float>(index, count);
  }

  template <typename T>
  Result<std::vector<T>> constant(std::int32_t index, std::size_t count) const {
    if (!file_.has_data(static_cast<std::size_t>(index))) {
      return tensor_error(ErrorCode::unsupported_format, index, "must be a constant");
    }
    Result<std::vector<T>> values = file_.tensor_values<T>(static_cast<std::size_t>(index));
    if (!values.is_ok())
      return tensor_error(values.status().code(), index, values.status().message());
    if (values->size() != count) {
      return tensor_error(ErrorCode::shape_mismatch, index, "has the wrong number of values");
    }
    return values;
  }

  // Symmetric int8 weights with one scale, or one per step of `axis` (`channels` of them).
  Result<nn::PerChannelWeights<std::int8_t>> int8_weights(std::int32_t index, std::size_t count,
                                                          std::int32_t axis,
                                                          std::size_t channels) const {
    const io::TfliteTensor& t = tensor(index);
    if (t.type != io::TfliteTensorType::int8) {
      return tensor_error(ErrorCode::unsupported_type, index, "weights must be INT8");
    }
    const io::TfliteQuantization& q = t.quantization;
    if (q.scale.size() != 1 && (q.scale.size() != channels || q.quantized_dimension != axis)) {
      return tensor_error(ErrorCode::unsupported_format, index,
                          "weights need one scale or one per output channel");
    }
    for (const std::int64_t z : q.zero_point) {
      if (z != 0)
        return tensor_error(ErrorCode::unsupported_format, index, "weights are asymmetric");
    }
    Result<std::vector<std::int8_t>> values = constant<std::int8_t>(index, count);
    if (!values.is_ok()) return values.status();
    nn::PerChannelWeights<std::int8_t> weights;
    weights.values = std::move(values).value();
    weights.scales = q.scale;
    return weights;
  }

  // int32 biases; `scales` receives the real value of one step of each (the file's, else
  // S_in * S_w[c]) for the float twin.
  Result<std::vector<std::int32_t>> int32_bias(std::int32_t index, std::size_t channels,
                                               float input_scale,
                                               const std::vector<float>& weight_scales,
                                               std::vector<float>& scales) const {
    const io::TfliteTensor& t = tensor(index);
    if (t.type != io::TfliteTensorType::int32) {
      return tensor_error(ErrorCode::unsupported_type, index, "bias must be INT32");
    }
    for (const std::int64_t z : t.quantization.zero_point) {
      if (z != 0) return tensor_error(ErrorCode::unsupported_format, index, "bias zero point != 0");
    }
    scales.resize(channels);
    for (std::size_t c = 0; c < channels; ++c) {
      const std::vector<float>& own = t.quantization.scale;
      if (own.size() == channels || own.size() == 1) {
        scales[c] = own[own.size() == 1 ? 0 : c];
      } else {
        scales[c] = input_scale * weight_scales[weight_scales.size() == 1 ? 0 : c];
      }
    }
    return constant<std::int32_t>(index, channels);
  }

  // The float twin's weights: q * scale of the value's channel (`inner` values per channel step,
  // `channels` steps repeating).
  template <typename T>
  static std::vector<float> dequantized(const std::vector<T>& values,
                                        const std::vector<float>& scales, std::size_t inner) {
    std::vector<float> out(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      const float scale = scales[scales.size() == 1 ? 0 : (i / inner) % scales.size()];
      out[i] = static_cast<float>(values[i]) * scale;
    }
    return out;
  }

  // --- the graph ---

  std::string unique_name(const std::string& base) {
    const int count = name_counts_[base]++;
    return count == 0 ? base : base + "_" + std::to_string(count);
  }

  Result<nn::TensorId> add_node(std::unique_ptr<nn::Layer> layer,
                                std::vector<nn::TensorId> inputs) {
    const nn::TensorId id = model_.add_layer(std::move(layer), std::move(inputs));
    if (id < 0) return with_op(model_.build());  // add_layer kept the reason
    quantized_.resize(model_.node_count());
    tensor_quantization_.resize(model_.tensors().size());
    return id;
  }
  std::size_t last_node() const { return model_.node_count() - 1; }

  // The nn tensor of TFLite tensor `index`, in shape `want` (same elements): the producer's
  // tensor itself, or the output of an inserted Flatten / Reshape.
  Result<nn::TensorId> view_as(std::int32_t index, const Shape& want) {
    const Binding& binding = bound_[static_cast<std::size_t>(index)];
    if (binding.id < 0) {
      return tensor_error(ErrorCode::unsupported_format, index,
                          "is read before any operator writes it");
    }
    if (binding.shape == want) return binding.id;
    if (binding.shape.element_count() != want.element_count()) {
      return tensor_error(ErrorCode::malformed_file, index,
                          "its operators disagree on its element count");
    }
    std::vector<std::int32_t> key(want.dims().begin(), want.dims().end());
    key.insert(key.begin(), binding.id);
    const auto cached = views_.find(key);
    if (cached != views_.end()) return cached->second;
    std::unique_ptr<nn::Layer> layer;
    if (want.rank() == 2 && binding.shape.rank() > 2) {
      layer = std::make_unique<nn::Flatten>(unique_name("flatten"));
    } else {
      const std::vector<std::int32_t> target(want.dims().begin() + 1, want.dims().end());
      layer = std::make_unique<nn::Reshape>(unique_name("reshape"), target);
    }
    const nn::TensorId source = binding.id;
    const Result<nn::TensorId> id = add_node(std::move(layer), {source});
    if (!id.is_ok()) return id;
    if (integer_) {
      const nn::TensorQuantization q = tensor_quantization_[static_cast<std::size_t>(source)];
      TSQ_RETURN_IF_ERROR(quantize_plain(q, {q}));
    }
    views_[key] = id.value();
    return id;
  }

  // Records the TFLite output tensor of the current operator as nn tensor `id`; its quantization
  // must be what the layer writes, and its shape the layer's (up to unit axes).
  Status bind_output(std::int32_t index, nn::TensorId id) {
    Binding& binding = bound_[static_cast<std::size_t>(index)];
    if (binding.id >= 0) {
      return tensor_error(ErrorCode::malformed_file, index, "is written by two operators");
    }
    const Shape& produced = model_.tensors()[static_cast<std::size_t>(id)].shape;
    const Result<Shape> declared = window_shape(index);
    if (!declared.is_ok()) return declared.status();
    if (window_form(produced) != declared.value()) {
      Status status = op_error(ErrorCode::malformed_file, "output shape ");
      append_shape(status, declared.value()).append(" differs from the computed ");
      return append_shape(status, window_form(produced));
    }
    binding.id = id;
    binding.shape = produced;
    return Status::ok();
  }

  // Quantized form of the last node when it has no weights: the layer's own quantize() from the
  // file's tensor parameters, which must give the output's parameters the file states.
  Status quantize_plain(const nn::TensorQuantization& output,
                        std::vector<nn::TensorQuantization> inputs) {
    const std::size_t node = last_node();
    nn::LayerQuantizationRequest request;
    request.precision = nn::Precision::int8;
    request.inputs = std::move(inputs);
    request.output = output;
    request.rounding = rounding_;
    Result<std::unique_ptr<nn::QuantizedLayer>> layer = model_.layer(node).quantize(request);
    if (!layer.is_ok()) return with_op(layer.status());
    if (!same_quantization((*layer)->output_quantization(), output)) {
      return unsupported("the output's scale and zero point differ from what the kernel writes");
    }
    return set_quantized(std::move(layer).value(), output);
  }

  Status set_quantized(std::unique_ptr<nn::QuantizedLayer> layer,
                       const nn::TensorQuantization& output) {
    const std::size_t node = last_node();
    quantized_[node] = std::move(layer);
    tensor_quantization_[static_cast<std::size_t>(model_.node_output(node))] = output;
    return Status::ok();
  }

  // The activation input `i` of the current operator (must be an operator's output).
  Result<std::int32_t> activation_input(const io::TfliteOperator& op, std::size_t i) const {
    const std::int32_t index = op.input(i);
    if (index < 0) return unsupported("an activation input is missing");
    if (bound_[static_cast<std::size_t>(index)].id < 0) {
      if (file_.has_data(static_cast<std::size_t>(index))) {
        return unsupported("a constant tensor as an activation input is not supported");
      }
      return tensor_error(ErrorCode::unsupported_format, index,
                          "is read before any operator writes it");
    }
    return index;
  }

  Result<FusedActivation> fused(io::TfliteActivation activation) const {
    switch (activation) {
      case io::TfliteActivation::none: return FusedActivation::none;
      case io::TfliteActivation::relu: return FusedActivation::relu;
      case io::TfliteActivation::relu6: return FusedActivation::relu6;
      default: break;
    }
    return unsupported("fused activation other than NONE, RELU or RELU6");
  }

  static Padding padding_of(io::TflitePadding padding) {
    return padding == io::TflitePadding::valid ? Padding::valid : Padding::same;
  }

  // --- model edges ---

  // int8 files with float I/O quantize the input and dequantize the output: those two operators
  // are the QuantizedModel's I/O conversions, not layers.
  Status find_edges() {
    inside_input_ = file_.inputs[0];
    inside_output_ = file_.outputs[0];
    if (!integer_) return Status::ok();
    if (tensor(inside_input_).type == io::TfliteTensorType::float32) {
      const std::vector<std::size_t> readers = readers_of(inside_input_);
      const io::TfliteOperator* quantize =
          readers.size() == 1 ? &file_.operators[readers[0]] : nullptr;
      if (quantize == nullptr || quantize->opcode != io::TfliteBuiltin::quantize ||
          quantize->outputs.size() != 1) {
        return tensor_error(ErrorCode::unsupported_format, inside_input_,
                            "a float input must feed one QUANTIZE");
      }
      skipped_[readers[0]] = true;
      inside_input_ = quantize->outputs[0];
      float_input_ = true;
    }
    if (tensor(inside_output_).type == io::TfliteTensorType::float32) {
      for (std::size_t k = 0; k < file_.operators.size(); ++k) {
        const io::TfliteOperator& op = file_.operators[k];
        if (op.outputs.size() == 1 && op.outputs[0] == inside_output_ &&
            op.opcode == io::TfliteBuiltin::dequantize && op.input(0) >= 0) {
          skipped_[k] = true;
          inside_output_ = op.input(0);
          return Status::ok();
        }
      }
      return tensor_error(ErrorCode::unsupported_format, inside_output_,
                          "a float output must come from DEQUANTIZE");
    }
    return Status::ok();
  }

  std::vector<std::size_t> readers_of(std::int32_t index) const {
    std::vector<std::size_t> readers;
    for (std::size_t k = 0; k < file_.operators.size(); ++k) {
      for (const std::int32_t input : file_.operators[k].inputs) {
        if (input == index) {
          readers.push_back(k);
          break;
        }
      }
    }
    return readers;
  }

  static bool moves_no_data(io::TfliteBuiltin op) {
    return op == io::TfliteBuiltin::reshape || op == io::TfliteBuiltin::squeeze ||
           op == io::TfliteBuiltin::expand_dims;
  }

  Status add_input() {
    Result<Shape> shape = window_shape(inside_input_);
    if (!shape.is_ok()) return shape.status();
    const Result<nn::TensorQuantization> q = activation_quantization(inside_input_);
    if (!q.is_ok()) return q.status();
    // A RESHAPE right after the input (Keras' ExpandDims of a Conv1D) gives the input its shape:
    // the elements are the same, in the same order.
    const std::vector<std::size_t> readers = readers_of(inside_input_);
    if (!readers.empty()) {
      bool same = true;
      Shape common;
      for (std::size_t n = 0; n < readers.size() && same; ++n) {
        const io::TfliteOperator& op = file_.operators[readers[n]];
        same = !skipped_[readers[n]] && moves_no_data(op.opcode) && op.input(0) == inside_input_ &&
               op.outputs.size() == 1;
        if (!same) break;
        const Result<Shape> reshaped = window_shape(op.outputs[0]);
        same = reshaped.is_ok() && (n == 0 || reshaped.value() == common) &&
               reshaped->element_count() == shape->element_count();
        if (same) common = reshaped.value();
        if (same && integer_) {
          const Result<nn::TensorQuantization> out = activation_quantization(op.outputs[0]);
          same = out.is_ok() && same_quantization(out.value(), q.value());
        }
      }
      if (same) shape = common;
    }
    const std::string& name = tensor(inside_input_).name;
    const nn::TensorId id = model_.input(name.empty() ? "input" : name, shape->without_outer());
    if (id < 0) return model_.build();
    bound_[static_cast<std::size_t>(inside_input_)] = Binding{id, shape.value()};
    tensor_quantization_.resize(model_.tensors().size());
    tensor_quantization_[static_cast<std::size_t>(id)] = q.value();
    return Status::ok();
  }

  // --- operators ---

  Status add_operator(const io::TfliteOperator& op) {
    if (op.outputs.size() != 1) return unsupported("operators with more than one output");
    switch (op.opcode) {
      case io::TfliteBuiltin::conv_2d:
      case io::TfliteBuiltin::depthwise_conv_2d: return add_convolution(op);
      case io::TfliteBuiltin::max_pool_2d:
      case io::TfliteBuiltin::average_pool_2d: return add_pooling(op);
      case io::TfliteBuiltin::fully_connected: return add_dense(op);
      case io::TfliteBuiltin::softmax: {
        const io::TfliteSoftmaxOptions* options = op.options_as<io::TfliteSoftmaxOptions>();
        nn::Softmax layer(unique_name("softmax"));
        layer.beta(options != nullptr ? options->beta : 0.0f);
        return add_elementwise(op, std::make_unique<nn::Softmax>(layer));
      }
      case io::TfliteBuiltin::logistic:
        return add_elementwise(op, std::make_unique<nn::Logistic>(unique_name("logistic")));
      case io::TfliteBuiltin::tanh:
        return add_elementwise(op, std::make_unique<nn::Tanh>(unique_name("tanh")));
      case io::TfliteBuiltin::relu:
        return add_elementwise(op, std::make_unique<nn::ReLU>(unique_name("relu")));
      case io::TfliteBuiltin::relu6:
        return add_elementwise(op, std::make_unique<nn::ReLU6>(unique_name("relu6")));
      case io::TfliteBuiltin::add: return add_add(op);
      case io::TfliteBuiltin::mean: return add_mean(op);
      case io::TfliteBuiltin::reshape:
      case io::TfliteBuiltin::squeeze:
      case io::TfliteBuiltin::expand_dims: return add_alias(op);
      case io::TfliteBuiltin::unidirectional_sequence_lstm: return add_lstm(op);
      case io::TfliteBuiltin::quantize:
        return unsupported(integer_ ? "QUANTIZE is only read at the input"
                                    : "the model is quantized (import_tflite_int8 reads it)");
      case io::TfliteBuiltin::dequantize:
        return unsupported("DEQUANTIZE is only read at the output");
      default: break;
    }
    return unsupported("is not supported");
  }

  // RESHAPE, SQUEEZE, EXPAND_DIMS: the output is the input's elements; no layer.
  Status add_alias(const io::TfliteOperator& op) {
    const Result<std::int32_t> input = activation_input(op, 0);
    if (!input.is_ok()) return input.status();
    const std::int32_t output = op.outputs[0];
    const Result<Shape> out_shape = activation_shape(output);
    if (!out_shape.is_ok()) return out_shape.status();
    const Binding source = bound_[static_cast<std::size_t>(input.value())];
    if (out_shape->element_count() != source.shape.element_count()) {
      return op_error(ErrorCode::malformed_file, "changes the element count");
    }
    if (integer_) {
      const Result<nn::TensorQuantization> q = activation_quantization(output);
      if (!q.is_ok()) return q.status();
      if (!same_quantization(q.value(),
                             tensor_quantization_[static_cast<std::size_t>(source.id)])) {
        return unsupported("changes the scale or zero point");
      }
    }
    Binding& binding = bound_[static_cast<std::size_t>(output)];
    if (binding.id >= 0) {
      return tensor_error(ErrorCode::malformed_file, output, "is written by two operators");
    }
    binding = source;
    return Status::ok();
  }

  // Which axis of an NHWC input a window slides along: time on width, on height, or both (2-D).
  enum class WindowAxis { width, height, both };
  static WindowAxis window_axis(const Shape& input, std::int32_t window_h, std::int32_t window_w) {
    if (input[1] == 1 && window_h == 1) return WindowAxis::width;
    if (input[2] == 1 && window_w == 1) return WindowAxis::height;
    return WindowAxis::both;
  }

  Status add_convolution(const io::TfliteOperator& op) {
    const bool depthwise = op.opcode == io::TfliteBuiltin::depthwise_conv_2d;
    const Result<std::int32_t> input = activation_input(op, 0);
    if (!input.is_ok()) return input.status();
    const std::int32_t filter = op.input(1);
    const std::int32_t bias = op.input(2);
    if (filter < 0) return unsupported("has no filter");
    const Result<Shape> in_shape = activation_shape(input.value());
    if (!in_shape.is_ok()) return in_shape.status();
    const std::vector<std::int32_t>& f = tensor(filter).shape;
    if (in_shape->rank() != 4 || f.size() != 4) {
      return op_error(ErrorCode::malformed_file, "input and filter must have rank 4");
    }
    for (const std::int32_t d : f) {
      if (d < 1) return op_error(ErrorCode::malformed_file, "filter has a dimension 0");
    }
    const std::int32_t channels = (*in_shape)[3];
    const std::int32_t out_channels = depthwise ? f[3] : f[0];
    const std::int32_t kh = f[1];
    const std::int32_t kw = f[2];
    if (depthwise ? (f[0] != 1 || f[3] % channels != 0) : (channels % f[3] != 0)) {
      return op_error(ErrorCode::malformed_file, "filter does not fit the input channels");
    }
    if (bias >= 0 && (tensor(bias).shape.size() != 1 || tensor(bias).shape[0] != out_channels)) {
      return op_error(ErrorCode::malformed_file, "bias must have one value per output channel");
    }
    Padding padding = Padding::valid;
    nn::Size2D stride, dilation;
    io::TfliteActivation activation = io::TfliteActivation::none;
    if (depthwise) {
      const Result<const io::TfliteDepthwiseConv2DOptions*> options =
          options_of<io::TfliteDepthwiseConv2DOptions>(op);
      if (!options.is_ok()) return options.status();
      const io::TfliteDepthwiseConv2DOptions* o = options.value();
      padding = padding_of(o->padding);
      stride = nn::Size2D{o->stride_h, o->stride_w};
      dilation = nn::Size2D{o->dilation_h, o->dilation_w};
      activation = o->activation;
    } else {
      const Result<const io::TfliteConv2DOptions*> options =
          options_of<io::TfliteConv2DOptions>(op);
      if (!options.is_ok()) return options.status();
      const io::TfliteConv2DOptions* o = options.value();
      padding = padding_of(o->padding);
      stride = nn::Size2D{o->stride_h, o->stride_w};
      dilation = nn::Size2D{o->dilation_h, o->dilation_w};
      activation = o->activation;
    }
    const Result<FusedActivation> act = fused(activation);
    if (!act.is_ok()) return act.status();

    const WindowAxis axis = window_axis(in_shape.value(), kh, kw);
    const bool one_d = axis != WindowAxis::both;
    const std::int32_t k = axis == WindowAxis::width ? kw : kh;
    const std::int32_t s = axis == WindowAxis::width ? stride.width : stride.height;
    const std::int32_t d = axis == WindowAxis::width ? dilation.width : dilation.height;
    std::unique_ptr<nn::Layer> layer;
    if (depthwise) {
      const std::int32_t multiplier = out_channels / channels;
      if (one_d) {
        nn::DepthwiseConv1D l(unique_name("depthwise_conv1d"), k);
        l.stride(s).dilation(d).depth_multiplier(multiplier).padding(padding).activation(*act);
        layer = std::make_unique<nn::DepthwiseConv1D>(
            l.layout(nn::WeightLayout::tflite).use_bias(bias >= 0));
      } else {
        nn::DepthwiseConv2D l(unique_name("depthwise_conv2d"), nn::Size2D{kh, kw});
        l.stride(stride).dilation(dilation).depth_multiplier(multiplier).padding(padding);
        l.activation(*act).layout(nn::WeightLayout::tflite).use_bias(bias >= 0);
        layer = std::make_unique<nn::DepthwiseConv2D>(l);
      }
    } else {
      const std::int32_t groups = channels / f[3];
      if (one_d) {
        nn::Conv1D l(unique_name("conv1d"), out_channels, k);
        l.stride(s).dilation(d).padding(padding).activation(*act).groups(groups);
        layer =
            std::make_unique<nn::Conv1D>(l.layout(nn::WeightLayout::tflite).use_bias(bias >= 0));
      } else {
        nn::Conv2D l(unique_name("conv2d"), out_channels, nn::Size2D{kh, kw});
        l.stride(stride).dilation(dilation).padding(padding).activation(*act).groups(groups);
        layer =
            std::make_unique<nn::Conv2D>(l.layout(nn::WeightLayout::tflite).use_bias(bias >= 0));
      }
    }
    const Shape want = one_d ? window_form(in_shape.value()) : in_shape.value();
    const Result<nn::TensorId> x = view_as(input.value(), want);
    if (!x.is_ok()) return x.status();
    const Result<nn::TensorId> y = add_node(std::move(layer), {x.value()});
    if (!y.is_ok()) return y.status();
    TSQ_RETURN_IF_ERROR(bind_output(op.outputs[0], y.value()));

    const ConvTensors tensors{filter,
                              bias,
                              static_cast<std::size_t>(f[0]) * static_cast<std::size_t>(kh) *
                                  static_cast<std::size_t>(kw) * static_cast<std::size_t>(f[3]),
                              static_cast<std::size_t>(out_channels),
                              depthwise ? 3 : 0,
                              x.value(),
                              op.outputs[0]};
    if (depthwise) {
      return one_d ? set_conv_weights<nn::DepthwiseConv1D>(tensors)
                   : set_conv_weights<nn::DepthwiseConv2D>(tensors);
    }
    return one_d ? set_conv_weights<nn::Conv1D>(tensors) : set_conv_weights<nn::Conv2D>(tensors);
  }

  // What the weights of a (depthwise) convolution are made from.
  struct ConvTensors {
    std::int32_t filter;
    std::int32_t bias;          // -1: none
    std::size_t count;          // filter values
    std::size_t channels;       // output channels
    std::int32_t channel_axis;  // of the filter: 0 (OHWI), 3 (depthwise [1, KH, KW, C * m])
    nn::TensorId input;
    std::int32_t output;
  };

  // The last node's weights from the file: float as they are; int8 dequantized for the float
  // twin, and as they are for the quantized layer. TFLite's filter layouts are the tflite
  // WeightLayout of the 1-D and 2-D layers alike.
  template <typename ConvLayer>
  Status set_conv_weights(const ConvTensors& t) {
    auto& layer = static_cast<ConvLayer&>(model_.layer(last_node()));
    if (!integer_) {
      Result<std::vector<float>> kernel = float_constant(t.filter, t.count);
      if (!kernel.is_ok()) return kernel.status();
      std::vector<float> bias_values;
      if (t.bias >= 0) {
        Result<std::vector<float>> b = float_constant(t.bias, t.channels);
        if (!b.is_ok()) return b.status();
        bias_values = std::move(b).value();
      }
      return with_op(layer.set_weights(kernel.value(), bias_values));
    }
    Result<nn::PerChannelWeights<std::int8_t>> weights =
        int8_weights(t.filter, t.count, t.channel_axis, t.channels);
    if (!weights.is_ok()) return weights.status();
    const nn::TensorQuantization in_q = tensor_quantization_[static_cast<std::size_t>(t.input)];
    std::vector<std::int32_t> bias_q;
    std::vector<float> bias_scales;
    if (t.bias >= 0) {
      Result<std::vector<std::int32_t>> b =
          int32_bias(t.bias, t.channels, in_q.params.scale, weights->scales, bias_scales);
      if (!b.is_ok()) return b.status();
      bias_q = std::move(b).value();
    }
    // One step of the channel axis spans count / channels values (OHWI) or one (depthwise).
    const std::size_t inner = t.channel_axis == 0 ? t.count / t.channels : 1;
    TSQ_RETURN_IF_ERROR(
        with_op(layer.set_weights(dequantized(weights->values, weights->scales, inner),
                                  dequantized(bias_q, bias_scales, 1))));
    const Result<nn::TensorQuantization> out_q = activation_quantization(t.output);
    if (!out_q.is_ok()) return out_q.status();
    Result<std::unique_ptr<nn::QuantizedLayer>> quantized = layer.quantized_from(
        std::move(weights).value(), std::move(bias_q), in_q.params, out_q.value(), rounding_);
    if (!quantized.is_ok()) return with_op(quantized.status());
    return set_quantized(std::move(quantized).value(), out_q.value());
  }

  Status add_pooling(const io::TfliteOperator& op) {
    const bool max = op.opcode == io::TfliteBuiltin::max_pool_2d;
    const Result<std::int32_t> input = activation_input(op, 0);
    if (!input.is_ok()) return input.status();
    const Result<Shape> in_shape = activation_shape(input.value());
    if (!in_shape.is_ok()) return in_shape.status();
    if (in_shape->rank() != 4) return op_error(ErrorCode::malformed_file, "input must have rank 4");
    const Result<const io::TflitePool2DOptions*> options = options_of<io::TflitePool2DOptions>(op);
    if (!options.is_ok()) return options.status();
    const io::TflitePool2DOptions* o = options.value();
    if (o->activation != io::TfliteActivation::none) {
      return unsupported("a fused activation on pooling is not supported");
    }
    const WindowAxis axis = window_axis(in_shape.value(), o->filter_height, o->filter_width);
    const bool one_d = axis != WindowAxis::both;
    const std::int32_t size = axis == WindowAxis::width ? o->filter_width : o->filter_height;
    const std::int32_t step = axis == WindowAxis::width ? o->stride_w : o->stride_h;
    const Padding padding = padding_of(o->padding);
    std::unique_ptr<nn::Layer> layer;
    if (one_d && max) {
      nn::MaxPool1D l(unique_name("max_pool1d"), size);
      layer = std::make_unique<nn::MaxPool1D>(l.stride(step).padding(padding));
    } else if (one_d) {
      nn::AvgPool1D l(unique_name("average_pool1d"), size);
      layer = std::make_unique<nn::AvgPool1D>(l.stride(step).padding(padding));
    } else if (max) {
      nn::MaxPool2D l(unique_name("max_pool2d"), nn::Size2D{o->filter_height, o->filter_width});
      layer = std::make_unique<nn::MaxPool2D>(
          l.stride(nn::Size2D{o->stride_h, o->stride_w}).padding(padding));
    } else {
      nn::AvgPool2D l(unique_name("average_pool2d"), nn::Size2D{o->filter_height, o->filter_width});
      layer = std::make_unique<nn::AvgPool2D>(
          l.stride(nn::Size2D{o->stride_h, o->stride_w}).padding(padding));
    }
    const Shape want = one_d ? window_form(in_shape.value()) : in_shape.value();
    const Result<nn::TensorId> x = view_as(input.value(), want);
    if (!x.is_ok()) return x.status();
    const Result<nn::TensorId> y = add_node(std::move(layer), {x.value()});
    if (!y.is_ok()) return y.status();
    TSQ_RETURN_IF_ERROR(bind_output(op.outputs[0], y.value()));
    if (!integer_) return Status::ok();
    const Result<nn::TensorQuantization> out_q = activation_quantization(op.outputs[0]);
    if (!out_q.is_ok()) return out_q.status();
    const nn::TensorQuantization in_q = tensor_quantization_[static_cast<std::size_t>(x.value())];
    return quantize_plain(out_q.value(), {in_q});
  }

  Status add_dense(const io::TfliteOperator& op) {
    const Result<std::int32_t> input = activation_input(op, 0);
    if (!input.is_ok()) return input.status();
    const std::int32_t weights_index = op.input(1);
    const std::int32_t bias = op.input(2);
    if (weights_index < 0) return unsupported("has no weights");
    const Result<const io::TfliteFullyConnectedOptions*> options =
        options_of<io::TfliteFullyConnectedOptions>(op);
    if (!options.is_ok()) return options.status();
    const io::TfliteFullyConnectedOptions* o = options.value();
    if (o->weights_format != 0) return unsupported("shuffled weights are not supported");
    const std::vector<std::int32_t>& w = tensor(weights_index).shape;
    if (w.size() != 2 || w[0] < 1 || w[1] < 1) {
      return op_error(ErrorCode::malformed_file, "weights must be [units, depth]");
    }
    const std::int32_t units = w[0];
    const std::int32_t depth = w[1];
    if (bias >= 0 && (tensor(bias).shape.size() != 1 || tensor(bias).shape[0] != units)) {
      return op_error(ErrorCode::malformed_file, "bias must have one value per unit");
    }
    const Result<FusedActivation> act = fused(o->activation);
    if (!act.is_ok()) return act.status();
    const Result<Shape> in_shape = activation_shape(input.value());
    if (!in_shape.is_ok()) return in_shape.status();
    Shape want;
    if (o->keep_num_dims) {
      // Dense on the last axis of the input as it is.
      want = window_form(in_shape.value());
      if (want[want.rank() - 1] != depth) {
        return op_error(ErrorCode::malformed_file, "input's last axis differs from the depth");
      }
    } else {
      // FULLY_CONNECTED flattens its input to [rows, depth]; tsq runs one row (batch 1).
      if (in_shape->element_count() != static_cast<std::size_t>(depth)) {
        return unsupported("more than one input row (batch 1 only)");
      }
      want = Shape{1, depth};
    }
    const Result<nn::TensorId> x = view_as(input.value(), want);
    if (!x.is_ok()) return x.status();
    nn::Dense dense(unique_name("dense"), units);
    dense.activation(*act).layout(nn::WeightLayout::tflite).use_bias(bias >= 0);
    const Result<nn::TensorId> y = add_node(std::make_unique<nn::Dense>(dense), {x.value()});
    if (!y.is_ok()) return y.status();
    TSQ_RETURN_IF_ERROR(bind_output(op.outputs[0], y.value()));
    auto& added = static_cast<nn::Dense&>(model_.layer(last_node()));
    const std::size_t count = static_cast<std::size_t>(units) * static_cast<std::size_t>(depth);
    if (!integer_) {
      Result<std::vector<float>> kernel = float_constant(weights_index, count);
      if (!kernel.is_ok()) return kernel.status();
      std::vector<float> bias_values;
      if (bias >= 0) {
        Result<std::vector<float>> b = float_constant(bias, static_cast<std::size_t>(units));
        if (!b.is_ok()) return b.status();
        bias_values = std::move(b).value();
      }
      return with_op(added.set_weights(kernel.value(), bias_values));
    }
    Result<nn::PerChannelWeights<std::int8_t>> weights =
        int8_weights(weights_index, count, 0, static_cast<std::size_t>(units));
    if (!weights.is_ok()) return weights.status();
    const nn::TensorQuantization in_q = tensor_quantization_[static_cast<std::size_t>(x.value())];
    std::vector<std::int32_t> bias_q;
    std::vector<float> bias_scales;
    if (bias >= 0) {
      Result<std::vector<std::int32_t>> b = int32_bias(
          bias, static_cast<std::size_t>(units), in_q.params.scale, weights->scales, bias_scales);
      if (!b.is_ok()) return b.status();
      bias_q = std::move(b).value();
    }
    TSQ_RETURN_IF_ERROR(with_op(added.set_weights(
        dequantized(weights->values, weights->scales, static_cast<std::size_t>(depth)),
        dequantized(bias_q, bias_scales, 1))));
    const Result<nn::TensorQuantization> out_q = activation_quantization(op.outputs[0]);
    if (!out_q.is_ok()) return out_q.status();
    const FullyConnectedQuantization q{
        added.input_shapes()[0],
        in_q.params,
        Shape{units, depth},
        Span<const float>(weights->scales.data(), weights->scales.size()),
        out_q->params,
        *act,
        rounding_};
    auto prepared = prepare_owned_fully_connected(q);
    if (!prepared.is_ok()) return with_op(prepared.status());
    // dense.hpp has no factory from given int8 weights: the quantized class is built directly.
    return set_quantized(std::make_unique<nn::detail::QuantizedDense<std::int8_t>>(
                             std::move(weights).value(), std::move(bias_q),
                             std::move(prepared).value(), units, depth, out_q.value()),
                         out_q.value());
  }

  // SOFTMAX, LOGISTIC, TANH, RELU, RELU6: the layer runs on the input as the file shapes it.
  Status add_elementwise(const io::TfliteOperator& op, std::unique_ptr<nn::Layer> layer) {
    const Result<std::int32_t> input = activation_input(op, 0);
    if (!input.is_ok()) return input.status();
    const Result<Shape> want = window_shape(input.value());
    if (!want.is_ok()) return want.status();
    const Result<nn::TensorId> x = view_as(input.value(), want.value());
    if (!x.is_ok()) return x.status();
    const Result<nn::TensorId> y = add_node(std::move(layer), {x.value()});
    if (!y.is_ok()) return y.status();
    TSQ_RETURN_IF_ERROR(bind_output(op.outputs[0], y.value()));
    if (!integer_) return Status::ok();
    const Result<nn::TensorQuantization> out_q = activation_quantization(op.outputs[0]);
    if (!out_q.is_ok()) return out_q.status();
    return quantize_plain(out_q.value(),
                          {tensor_quantization_[static_cast<std::size_t>(x.value())]});
  }

  Status add_add(const io::TfliteOperator& op) {
    const Result<const io::TfliteAddOptions*> options = options_of<io::TfliteAddOptions>(op);
    if (!options.is_ok()) return options.status();
    const io::TfliteAddOptions* o = options.value();
    if (o->activation != io::TfliteActivation::none) {
      return unsupported("a fused activation on ADD is not supported");
    }
    nn::TensorId inputs[2] = {-1, -1};
    for (std::size_t i = 0; i < 2; ++i) {
      const Result<std::int32_t> input = activation_input(op, i);
      if (!input.is_ok()) return input.status();
      const Result<Shape> want = window_shape(input.value());
      if (!want.is_ok()) return want.status();
      const Result<nn::TensorId> x = view_as(input.value(), want.value());
      if (!x.is_ok()) return x.status();
      inputs[i] = x.value();
    }
    const Result<nn::TensorId> y =
        add_node(std::make_unique<nn::Add>(unique_name("add")), {inputs[0], inputs[1]});
    if (!y.is_ok()) return y.status();
    TSQ_RETURN_IF_ERROR(bind_output(op.outputs[0], y.value()));
    if (!integer_) return Status::ok();
    const Result<nn::TensorQuantization> out_q = activation_quantization(op.outputs[0]);
    if (!out_q.is_ok()) return out_q.status();
    return quantize_plain(out_q.value(),
                          {tensor_quantization_[static_cast<std::size_t>(inputs[0])],
                           tensor_quantization_[static_cast<std::size_t>(inputs[1])]});
  }

  // MEAN over every axis between the batch and the channels: GlobalAveragePool.
  Status add_mean(const io::TfliteOperator& op) {
    const Result<std::int32_t> input = activation_input(op, 0);
    if (!input.is_ok()) return input.status();
    const std::int32_t axes_index = op.input(1);
    if (axes_index < 0) return unsupported("has no axes");
    const Result<Shape> in_shape = activation_shape(input.value());
    if (!in_shape.is_ok()) return in_shape.status();
    const int rank = in_shape->rank();
    if (rank != 3 && rank != 4) return unsupported("input must have rank 3 or 4");
    const io::TfliteTensor& axes_tensor = tensor(axes_index);
    const Result<std::vector<std::int32_t>> axes =
        constant<std::int32_t>(axes_index, axes_tensor.element_count());
    if (!axes.is_ok()) return axes.status();
    bool reduced[kMaxRank] = {};
    for (std::int32_t a : axes.value()) {
      if (a < 0) a += rank;
      if (a < 0 || a >= rank) return op_error(ErrorCode::malformed_file, "axis out of range");
      reduced[a] = true;
    }
    for (int a = 0; a < rank; ++a) {
      if (reduced[a] != (a > 0 && a < rank - 1)) {
        return unsupported("only the mean over every spatial axis is supported");
      }
    }
    const Result<nn::TensorId> x = view_as(input.value(), window_form(in_shape.value()));
    if (!x.is_ok()) return x.status();
    const Result<nn::TensorId> y = add_node(
        std::make_unique<nn::GlobalAveragePool>(unique_name("global_average_pool")), {x.value()});
    if (!y.is_ok()) return y.status();
    // keep_dims gives [1, 1, 1, C]: the same elements as the layer's [1, C].
    const Result<Shape> out_shape = activation_shape(op.outputs[0]);
    if (!out_shape.is_ok()) return out_shape.status();
    const Shape& produced = model_.tensors()[static_cast<std::size_t>(y.value())].shape;
    if (out_shape->element_count() != produced.element_count()) {
      return op_error(ErrorCode::malformed_file, "output size differs from the channel count");
    }
    Binding& binding = bound_[static_cast<std::size_t>(op.outputs[0])];
    if (binding.id >= 0) {
      return tensor_error(ErrorCode::malformed_file, op.outputs[0], "is written by two operators");
    }
    binding = Binding{y.value(), produced};
    if (!integer_) return Status::ok();
    const Result<nn::TensorQuantization> out_q = activation_quantization(op.outputs[0]);
    if (!out_q.is_ok()) return out_q.status();
    return quantize_plain(out_q.value(),
                          {tensor_quantization_[static_cast<std::size_t>(x.value())]});
  }

  // UNIDIRECTIONAL_SEQUENCE_LSTM inputs: 0 x, 1-4 input weights (i, f, c, o), 5-8 recurrent
  // weights, 9-11 peephole, 12-15 gate biases, 16-17 projection, 18 output state, 19 cell state,
  // 20-23 layer norm coefficients.
  Status add_lstm(const io::TfliteOperator& op) {
    const Result<std::int32_t> input = activation_input(op, 0);
    if (!input.is_ok()) return input.status();
    const Result<const io::TfliteSequenceLstmOptions*> options =
        options_of<io::TfliteSequenceLstmOptions>(op);
    if (!options.is_ok()) return options.status();
    const io::TfliteSequenceLstmOptions* o = options.value();
    if (o->time_major) return unsupported("time-major input is not supported");
    if (o->activation != io::TfliteActivation::tanh) return unsupported("activation must be TANH");
    if (o->diagonal_recurrent_tensors) return unsupported("diagonal recurrent weights");
    if (op.inputs.size() < 20) return op_error(ErrorCode::malformed_file, "fewer than 20 inputs");
    for (const std::size_t absent : {9, 10, 11, 16, 17, 20, 21, 22, 23}) {
      if (op.input(absent) >= 0) {
        return unsupported("peephole, projection or layer norm weights are not supported");
      }
    }
    for (std::size_t i = 1; i <= 8; ++i) {
      if (op.input(i) < 0) return unsupported("coupled input and forget gates (CIFG)");
    }
    for (std::size_t i = 12; i <= 15; ++i) {
      if (op.input(i) < 0) return unsupported("every gate needs a bias");
    }
    const Result<Shape> in_shape = activation_shape(input.value());
    if (!in_shape.is_ok()) return in_shape.status();
    if (in_shape->rank() != 3)
      return op_error(ErrorCode::malformed_file, "input must be [1, T, I]");
    const std::int32_t steps = (*in_shape)[1];
    const std::int32_t depth = (*in_shape)[2];
    const std::vector<std::int32_t>& w0 = tensor(op.input(1)).shape;
    if (w0.size() != 2 || w0[0] < 1 || w0[1] != depth) {
      return op_error(ErrorCode::malformed_file, "input weights must be [H, I]");
    }
    const std::int32_t hidden = w0[0];
    const auto h = static_cast<std::size_t>(hidden);
    const auto in = static_cast<std::size_t>(depth);
    const Result<nn::TensorId> x = view_as(input.value(), in_shape.value());
    if (!x.is_ok()) return x.status();
    nn::LSTM lstm(unique_name("lstm"), hidden);
    lstm.return_sequences(true).cell_clip(o->cell_clip);
    const Result<nn::TensorId> y = add_node(std::make_unique<nn::LSTM>(lstm), {x.value()});
    if (!y.is_ok()) return y.status();
    TSQ_RETURN_IF_ERROR(bind_output(op.outputs[0], y.value()));
    auto& added = static_cast<nn::LSTM&>(model_.layer(last_node()));

    // Per gate (i, f, c, o): input weights [H, I], recurrent [H, H], bias [H], in file order.
    std::vector<float> gate_w[4], gate_r[4], gate_b[4];
    std::vector<std::int8_t> q_w, q_r;
    std::vector<std::int32_t> q_b;
    std::vector<float> w_scales, r_scales;
    const nn::TensorQuantization in_q = tensor_quantization_[static_cast<std::size_t>(x.value())];
    for (std::size_t g = 0; g < 4; ++g) {
      const std::int32_t wi = op.input(1 + g), ri = op.input(5 + g), bi = op.input(12 + g);
      if (!integer_) {
        Result<std::vector<float>> wv = float_constant(wi, h * in);
        Result<std::vector<float>> rv = float_constant(ri, h * h);
        Result<std::vector<float>> bv = float_constant(bi, h);
        if (!wv.is_ok()) return wv.status();
        if (!rv.is_ok()) return rv.status();
        if (!bv.is_ok()) return bv.status();
        gate_w[g] = std::move(wv).value();
        gate_r[g] = std::move(rv).value();
        gate_b[g] = std::move(bv).value();
        continue;
      }
      Result<nn::PerChannelWeights<std::int8_t>> wv = int8_weights(wi, h * in, 0, 1);
      Result<nn::PerChannelWeights<std::int8_t>> rv = int8_weights(ri, h * h, 0, 1);
      if (!wv.is_ok()) return wv.status();
      if (!rv.is_ok()) return rv.status();
      if (wv->scales.size() != 1 || rv->scales.size() != 1) {
        return unsupported("LSTM weights need one scale per gate");
      }
      std::vector<float> bias_scales;
      Result<std::vector<std::int32_t>> bv =
          int32_bias(bi, h, in_q.params.scale, wv->scales, bias_scales);
      if (!bv.is_ok()) return bv.status();
      gate_w[g] = dequantized(wv->values, wv->scales, 1);
      gate_r[g] = dequantized(rv->values, rv->scales, 1);
      gate_b[g] = dequantized(bv.value(), bias_scales, 1);
      q_w.insert(q_w.end(), wv->values.begin(), wv->values.end());
      q_r.insert(q_r.end(), rv->values.begin(), rv->values.end());
      q_b.insert(q_b.end(), bv->begin(), bv->end());
      w_scales.push_back(wv->scales[0]);
      r_scales.push_back(rv->scales[0]);
    }
    // Keras layout for the float twin: kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H).
    std::vector<float> kernel(in * 4 * h), recurrent(h * 4 * h), bias_values;
    for (std::size_t g = 0; g < 4; ++g) {
      for (std::size_t j = 0; j < h; ++j) {
        for (std::size_t k = 0; k < in; ++k) kernel[k * 4 * h + g * h + j] = gate_w[g][j * in + k];
        for (std::size_t k = 0; k < h; ++k) {
          recurrent[k * 4 * h + g * h + j] = gate_r[g][j * h + k];
        }
      }
      bias_values.insert(bias_values.end(), gate_b[g].begin(), gate_b[g].end());
    }
    TSQ_RETURN_IF_ERROR(with_op(added.set_weights(kernel, recurrent, bias_values)));
    if (!integer_) return Status::ok();

    // The hidden state's parameters are the output state variable's; the cell's scale is the
    // cell state variable's (a power of two).
    const std::int32_t state = op.input(18), cell = op.input(19);
    if (state < 0 || cell < 0) return unsupported("needs its state and cell variables");
    const Result<nn::TensorQuantization> hidden_q = activation_quantization(state);
    if (!hidden_q.is_ok()) return hidden_q.status();
    const Result<nn::TensorQuantization> out_q = activation_quantization(op.outputs[0]);
    if (!out_q.is_ok()) return out_q.status();
    if (!same_quantization(hidden_q.value(), out_q.value())) {
      return unsupported("output and hidden state differ in scale or zero point");
    }
    const io::TfliteTensor& cell_tensor = tensor(cell);
    if (cell_tensor.type != io::TfliteTensorType::int16 ||
        cell_tensor.quantization.scale.size() != 1 || cell_tensor.quantization.zero_point[0] != 0) {
      return tensor_error(ErrorCode::unsupported_format, cell,
                          "the cell state must be INT16 with one scale and zero point 0");
    }
    LstmQuantization q;
    q.input = in_q.params;
    q.hidden = hidden_q->params;
    q.cell_scale = cell_tensor.quantization.scale[0];
    q.input_weight_scales = Span<const float>(w_scales.data(), w_scales.size());
    q.recurrent_weight_scales = Span<const float>(r_scales.data(), r_scales.size());
    q.cell_clip = o->cell_clip;
    q.rounding = rounding_;
    const std::int32_t rows = 4 * hidden;
    const LstmWeightsInt8 weights{TensorView<const std::int8_t>(q_w.data(), Shape{rows, depth}),
                                  TensorView<const std::int8_t>(q_r.data(), Shape{rows, hidden}),
                                  Span<const std::int32_t>(q_b.data(), q_b.size())};
    auto prepared = prepare_owned_lstm(q, weights);
    if (!prepared.is_ok()) return with_op(prepared.status());
    return set_quantized(
        std::make_unique<TfliteLstmLayer>(std::move(q_w), std::move(q_r), std::move(q_b),
                                          std::move(prepared).value(), 1, steps, out_q.value()),
        out_q.value());
  }

  const io::TfliteModel& file_;
  bool integer_;
  RoundingMode rounding_;
  std::vector<Binding> bound_;  // per TFLite tensor
  std::vector<bool> skipped_;   // per operator: an I/O conversion, not a layer
  std::int32_t inside_input_ = -1;
  std::int32_t inside_output_ = -1;
  std::size_t op_ = 0;  // the operator being imported (for messages)
  std::map<std::string, int> name_counts_;
  std::map<std::vector<std::int32_t>, nn::TensorId> views_;  // (tensor, shape) -> reshaped
};

}  // namespace detail

// A FLOAT32 TFLite model as a built nn::Model with the file's weights.
inline Result<nn::Model> import_tflite_float(const io::TfliteModel& file) {
  detail::TfliteImporter importer(file, false, RoundingMode::double_rounding);
  TSQ_RETURN_IF_ERROR(importer.run());
  return std::move(importer.model_);
}

// A full-integer (int8) TFLite model as a QuantizedModel running the file's own integers.
inline Result<QuantizedModel> import_tflite_int8(const io::TfliteModel& file,
                                                 const TfliteImportOptions& options = {}) {
  detail::TfliteImporter importer(file, true, options.rounding);
  TSQ_RETURN_IF_ERROR(importer.run());
  QuantizedModelBuilder builder(importer.model_);
  for (std::size_t t = 0; t < importer.tensor_quantization_.size(); ++t) {
    TSQ_RETURN_IF_ERROR(
        builder.set_tensor(static_cast<nn::TensorId>(t), importer.tensor_quantization_[t]));
  }
  for (std::size_t n = 0; n < importer.quantized_.size(); ++n) {
    TSQ_RETURN_IF_ERROR(
        builder.set_layer(n, std::move(importer.quantized_[n]), nn::Precision::int8));
  }
  const IoType io =
      options.io ? *options.io : (importer.float_input_ ? IoType::float32 : IoType::int8);
  return builder.build(io, "tflite int8");
}

inline Result<nn::Model> load_tflite_float(const std::string& path) {
  const Result<io::TfliteModel> file = io::load_tflite(path);
  if (!file.is_ok()) return file.status();
  return import_tflite_float(file.value());
}

inline Result<QuantizedModel> load_tflite_int8(const std::string& path,
                                               const TfliteImportOptions& options = {}) {
  const Result<io::TfliteModel> file = io::load_tflite(path);
  if (!file.is_ok()) return file.status();
  return import_tflite_int8(file.value(), options);
}

}  // namespace tsq
