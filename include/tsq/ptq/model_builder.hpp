// SPDX-License-Identifier: Apache-2.0
// Assembles a QuantizedModel from quantized layers made elsewhere (host): a model imported from a
// TFLite file, whose weights and tensor parameters are fixed by the converter, or layers written
// by hand. The float model gives the graph (names, shapes, wiring; its weights may be absent);
// every tensor gets its element type and parameters explicitly, and every node its quantized layer.
//
//   tsq::QuantizedModelBuilder builder(graph);
//   builder.set_tensor(tensor, {tsq::DataType::int8, params});      // every tensor
//   builder.set_layer(node, std::move(layer), tsq::nn::Precision::int8);  // every node
//   auto model = builder.build(tsq::IoType::float32);                // conversions at the edges
//
// Layers read their inputs in the form the tensor is given: no conversions are inserted inside
// the model, only at its input and output for the chosen I/O type.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/quantize_model.hpp"

namespace tsq {

class QuantizedModelBuilder {
 public:
  explicit QuantizedModelBuilder(const nn::Model& graph)
      : graph_(graph),
        tensors_(graph.tensors().size()),
        tensor_set_(graph.tensors().size(), false),
        layers_(graph.node_count()),
        precisions_(graph.node_count(), nn::Precision::int8) {}

  Status set_tensor(nn::TensorId tensor, const nn::TensorQuantization& quantization) {
    if (tensor < 0 || static_cast<std::size_t>(tensor) >= tensors_.size()) {
      return Status::error(ErrorCode::invalid_argument, "builder: no tensor ").append(tensor);
    }
    if (quantization.type != DataType::float32) TSQ_RETURN_IF_ERROR(validate(quantization.params));
    tensors_[static_cast<std::size_t>(tensor)] = quantization;
    tensor_set_[static_cast<std::size_t>(tensor)] = true;
    return Status::ok();
  }

  Status set_layer(std::size_t node, std::unique_ptr<nn::QuantizedLayer> layer,
                   nn::Precision precision) {
    if (node >= layers_.size() || layer == nullptr) {
      return Status::error(ErrorCode::invalid_argument, "builder: no node ").append(node);
    }
    layers_[node] = std::move(layer);
    precisions_[node] = precision;
    return Status::ok();
  }

  // Checks that every tensor and node is set and that each layer writes its tensor's form.
  Result<QuantizedModel> build(IoType io, const std::string& name = "imported") {
    if (!graph_.is_built()) return Status::error(ErrorCode::invalid_argument, "graph is not built");
    for (std::size_t t = 0; t < tensors_.size(); ++t) {
      if (!tensor_set_[t]) {
        return Status::error(ErrorCode::invalid_argument, "builder: tensor '")
            .append(graph_.tensors()[t].name.c_str())
            .append("' has no quantization");
      }
    }
    QuantizedModel q;
    q.float_model_ = graph_;
    q.scheme_ = Scheme::make(name.c_str(), nn::Precision::int8, io);
    q.primary_.assign(tensors_.size(), -1);
    for (std::size_t t = 0; t < tensors_.size(); ++t) {
      const nn::TensorQuantization& tq = tensors_[t];
      q.primary_[t] = q.add_slot(static_cast<nn::TensorId>(t), graph_.tensors()[t].shape, tq);
      Range range;
      if (tq.type != DataType::float32) {
        range.min =
            tq.params.scale * static_cast<float>(tq.params.quant_min - tq.params.zero_point);
        range.max =
            tq.params.scale * static_cast<float>(tq.params.quant_max - tq.params.zero_point);
      }
      q.ranges_.push_back(range);
    }
    // The caller's input, converted into the input tensor's form if needed.
    const nn::TensorId input = graph_.input_tensor();
    const nn::TensorQuantization& input_q = tensors_[static_cast<std::size_t>(input)];
    const Result<nn::TensorQuantization> io_in = io_form(io, input_q);
    if (!io_in.is_ok()) return io_in.status();
    if (io_in->type == input_q.type) {
      q.io_input_ = q.primary_[static_cast<std::size_t>(input)];
    } else {
      q.io_input_ =
          q.add_slot(input, graph_.tensors()[static_cast<std::size_t>(input)].shape, io_in.value());
      TSQ_RETURN_IF_ERROR(
          add_conversion(q, q.io_input_, q.primary_[static_cast<std::size_t>(input)]));
    }
    for (std::size_t n = 0; n < layers_.size(); ++n) {
      if (layers_[n] == nullptr) {
        return Status::error(ErrorCode::invalid_argument, "builder: layer '")
            .append(graph_.layer(n).name().c_str())
            .append("' has no quantized form");
      }
      const nn::TensorId output = graph_.node_output(n);
      const nn::TensorQuantization expected = tensors_[static_cast<std::size_t>(output)];
      const nn::TensorQuantization got = layers_[n]->output_quantization();
      if (got.type != expected.type || (got.type != DataType::float32 &&
                                        (got.params.scale != expected.params.scale ||
                                         got.params.zero_point != expected.params.zero_point))) {
        return Status::error(ErrorCode::invalid_argument, "builder: layer '")
            .append(graph_.layer(n).name().c_str())
            .append("' writes another quantization than its output tensor's");
      }
      std::vector<int> inputs;
      for (const nn::TensorId id : graph_.node_inputs(n)) {
        inputs.push_back(q.primary_[static_cast<std::size_t>(id)]);
      }
      q.steps_.push_back(QuantizedStep{static_cast<int>(n), std::move(layers_[n]), inputs,
                                       q.primary_[static_cast<std::size_t>(output)],
                                       precisions_[n]});
    }
    const nn::TensorId output = graph_.output_tensor();
    const nn::TensorQuantization& output_q = tensors_[static_cast<std::size_t>(output)];
    const Result<nn::TensorQuantization> io_out = io_form(io, output_q);
    if (!io_out.is_ok()) return io_out.status();
    if (io_out->type == output_q.type) {
      q.io_output_ = q.primary_[static_cast<std::size_t>(output)];
    } else {
      q.io_output_ = q.add_slot(output, graph_.tensors()[static_cast<std::size_t>(output)].shape,
                                io_out.value());
      TSQ_RETURN_IF_ERROR(
          add_conversion(q, q.primary_[static_cast<std::size_t>(output)], q.io_output_));
    }
    q.plan();
    for (auto& layer : layers_) layer.reset();  // moved into the model
    return q;
  }

 private:
  // The caller-side form of a tensor for an I/O type: float32, or int8 / uint8 with the
  // tensor's own scale (uint8: zero point + 128, so the conversion only flips the sign bit).
  static Result<nn::TensorQuantization> io_form(IoType io, const nn::TensorQuantization& inside) {
    if (io == IoType::float32) return nn::TensorQuantization{DataType::float32, QuantParams{}};
    if (inside.type != DataType::int8) {
      return Status::error(ErrorCode::unsupported_type,
                           "integer I/O needs an int8 model input and output");
    }
    if (io == IoType::int8) return inside;
    return nn::TensorQuantization{
        DataType::uint8,
        make_quant_params(inside.params.scale, inside.params.zero_point + 128, DataType::uint8)};
  }

  static Status add_conversion(QuantizedModel& q, int from, int to) {
    const QuantizedSlot& source = q.slots_[static_cast<std::size_t>(from)];
    auto conversion = detail::ConversionLayer::make(
        source.shape, source.quantization, q.slots_[static_cast<std::size_t>(to)].quantization,
        RoundingMode::double_rounding);
    if (!conversion.is_ok()) return conversion.status();
    q.steps_.push_back(
        QuantizedStep{-1, std::move(conversion).value(), {from}, to, nn::Precision::float32});
    return Status::ok();
  }

  nn::Model graph_;
  std::vector<nn::TensorQuantization> tensors_;
  std::vector<bool> tensor_set_;
  std::vector<std::unique_ptr<nn::QuantizedLayer>> layers_;
  std::vector<nn::Precision> precisions_;
};

}  // namespace tsq
