// SPDX-License-Identifier: Apache-2.0
// A model: layers wired by named tensors, a Sequential chain or a small graph (residual Add).
//
//   tsq::nn::Model model;
//   auto x = model.input("window", tsq::Shape{26, 3});         // one window: [T, C]
//   x = model.add(tsq::nn::Conv1D("conv1", 16, 3).relu(), x);  // tensors are [1, T, C]
//   x = model.add(tsq::nn::Flatten("flatten"), x);
//   model.add(tsq::nn::Dense("dense", 3).softmax(), x);        // the last added is the output
//   TSQ_RETURN_IF_ERROR(model.build());
//   TSQ_RETURN_IF_ERROR(model.load_weights("weights.npz"));
//   std::vector<std::byte> arena(model.arena_bytes());
//   model.run(window, probabilities, arena);
//
// build() checks every shape, folds BatchNormalization into the Conv or Dense before it (once
// weights are loaded: fold happens at load), removes identity layers (Dropout) and plans the
// arena of a float run. Runs allocate nothing: tensors and scratch live in the caller's arena.
// Copies are deep (layers are cloned): a copy never points into the original.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/io/npz.hpp"
#include "tsq/nn/arena_plan.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace nn {

using TensorId = int;

// Sees every tensor of a run right after it is written (input first, then each layer's output
// in execution order). Calibration and the debugger are observers.
class TensorObserver {
 public:
  virtual ~TensorObserver() = default;
  virtual Status observe(TensorId tensor, const AnyTensor& value) = 0;
};

struct ModelTensor {
  std::string name;
  Shape shape;
  int producer = -1;  // node index; -1 for the model input
};

struct ModelNode {
  std::unique_ptr<Layer> layer;
  std::vector<TensorId> inputs;
  TensorId output = -1;
};

class Model {
 public:
  Model() = default;
  Model(const Model& other) { *this = other; }
  Model& operator=(const Model& other) {
    if (this == &other) return *this;
    tensors_ = other.tensors_;
    nodes_.clear();
    for (const ModelNode& node : other.nodes_) {
      nodes_.push_back(ModelNode{node.layer->clone(), node.inputs, node.output});
    }
    input_ = other.input_;
    output_ = other.output_;
    status_ = other.status_;
    built_ = other.built_;
    plan_ = other.plan_;
    scratch_bytes_ = other.scratch_bytes_;
    return *this;
  }
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  ~Model() = default;

  // The model input: one window of `window_shape` (without the batch axis).
  TensorId input(std::string name, const Shape& window_shape) {
    if (input_ >= 0) {
      record(Status::error(ErrorCode::invalid_argument, "model already has an input"));
      return input_;
    }
    Shape shape;
    if (window_shape.rank() + 1 > kMaxRank) {
      record(Status::error(ErrorCode::shape_mismatch, "input window rank exceeds ")
                 .append(kMaxRank - 1));
      return -1;
    }
    const std::int32_t batch[] = {1};
    std::vector<std::int32_t> dims(batch, batch + 1);
    for (int i = 0; i < window_shape.rank(); ++i) {
      if (window_shape[i] < 1) {
        record(Status::error(ErrorCode::shape_mismatch, "input '")
                   .append(name.c_str())
                   .append("' has a dimension < 1"));
        return -1;
      }
      dims.push_back(window_shape[i]);
    }
    shape = Shape::make(Span<const std::int32_t>(dims.data(), dims.size())).value();
    tensors_.push_back(ModelTensor{std::move(name), shape, -1});
    input_ = static_cast<TensorId>(tensors_.size() - 1);
    output_ = input_;
    built_ = false;
    return input_;
  }

  // Adds a layer reading `inputs` (default: the last output); returns its output tensor, which
  // becomes the model output until another layer is added. Shape errors are kept and returned by
  // build(), so a model is written as a plain sequence of add() calls.
  template <typename LayerType>
  TensorId add(LayerType layer, std::vector<TensorId> inputs = {}) {
    return add_layer(std::make_unique<LayerType>(std::move(layer)), std::move(inputs));
  }
  template <typename LayerType>
  TensorId add(LayerType layer, TensorId input) {
    return add(std::move(layer), std::vector<TensorId>{input});
  }

  TensorId add_layer(std::unique_ptr<Layer> layer, std::vector<TensorId> inputs) {
    built_ = false;
    if (inputs.empty()) inputs.push_back(output_);
    for (const TensorId id : inputs) {
      if (id < 0 || id >= static_cast<TensorId>(tensors_.size())) {
        record(Status::error(ErrorCode::invalid_argument, "layer '")
                   .append(layer->name().c_str())
                   .append("' reads a tensor that does not exist (is there an input?)"));
        return -1;
      }
    }
    if (static_cast<int>(inputs.size()) != layer->input_count()) {
      record(Status::error(ErrorCode::invalid_argument, "layer '")
                 .append(layer->name().c_str())
                 .append("' takes ")
                 .append(layer->input_count())
                 .append(" inputs, got ")
                 .append(inputs.size()));
      return -1;
    }
    for (const ModelNode& node : nodes_) {
      if (node.layer->name() == layer->name()) {
        record(Status::error(ErrorCode::invalid_argument, "two layers are named '")
                   .append(layer->name().c_str())
                   .append("'"));
        return -1;
      }
    }
    std::vector<Shape> shapes;
    for (const TensorId id : inputs) shapes.push_back(tensors_[static_cast<std::size_t>(id)].shape);
    const Result<Shape> shape = layer->attach(Span<const Shape>(shapes.data(), shapes.size()));
    if (!shape.is_ok()) {
      record(shape.status());
      return -1;
    }
    tensors_.push_back(ModelTensor{layer->name(), shape.value(), static_cast<int>(nodes_.size())});
    const auto output = static_cast<TensorId>(tensors_.size() - 1);
    nodes_.push_back(ModelNode{std::move(layer), std::move(inputs), output});
    output_ = output;
    return output;
  }

  // Makes `tensor` the model output (default: the last layer's).
  void set_output(TensorId tensor) {
    built_ = false;
    if (tensor < 0 || tensor >= static_cast<TensorId>(tensors_.size())) {
      record(Status::error(ErrorCode::invalid_argument, "output tensor does not exist"));
      return;
    }
    output_ = tensor;
  }

  // Checks the graph and plans the float arena. Idempotent.
  Status build() {
    TSQ_RETURN_IF_ERROR(status_);
    if (input_ < 0) return Status::error(ErrorCode::invalid_argument, "model has no input");
    if (nodes_.empty()) return Status::error(ErrorCode::invalid_argument, "model has no layers");
    remove_identities();
    // Every tensor but the output must be read by someone: an unused branch is a wiring error.
    for (TensorId id = 0; id < static_cast<TensorId>(tensors_.size()); ++id) {
      if (id == output_) continue;
      if (!is_read(id)) {
        return Status::error(ErrorCode::invalid_argument, "tensor '")
            .append(tensors_[static_cast<std::size_t>(id)].name.c_str())
            .append("' is computed but never used");
      }
    }
    plan_float_arena();
    built_ = true;
    return Status::ok();
  }
  bool is_built() const { return built_; }

  // Reads every layer's weights from an .npz file (member names: WeightNaming). BatchNorm layers
  // are folded into the layer before them here.
  Status load_weights(const io::NpzFile& archive, const WeightNaming& naming = {}) {
    for (ModelNode& node : nodes_) {
      TSQ_RETURN_IF_ERROR(node.layer->load_weights(archive, naming));
    }
    return fold_batch_norms();
  }
  Status load_weights(const std::string& path, const WeightNaming& naming = {}) {
    const Result<io::NpzFile> archive = io::load_npz(path);
    if (!archive.is_ok()) return archive.status();
    return load_weights(archive.value(), naming);
  }

  // Shapes and wiring.
  TensorId input_tensor() const { return input_; }
  TensorId output_tensor() const { return output_; }
  const Shape& input_shape() const { return tensors_[static_cast<std::size_t>(input_)].shape; }
  const Shape& output_shape() const { return tensors_[static_cast<std::size_t>(output_)].shape; }
  std::size_t input_size() const { return input_shape().element_count(); }
  std::size_t output_size() const { return output_shape().element_count(); }
  const std::vector<ModelTensor>& tensors() const { return tensors_; }
  std::size_t node_count() const { return nodes_.size(); }
  const Layer& layer(std::size_t node) const { return *nodes_[node].layer; }
  Layer& layer(std::size_t node) { return *nodes_[node].layer; }
  const std::vector<TensorId>& node_inputs(std::size_t node) const { return nodes_[node].inputs; }
  TensorId node_output(std::size_t node) const { return nodes_[node].output; }
  // The node whose layer has this name, or -1.
  int find_node(const std::string& name) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].layer->name() == name) return static_cast<int>(i);
    }
    return -1;
  }
  // The layer named `name` as its concrete type (the caller names the type it added), or null.
  template <typename LayerType>
  LayerType* find(const std::string& name) {
    const int node = find_node(name);
    return node < 0 ? nullptr
                    : static_cast<LayerType*>(nodes_[static_cast<std::size_t>(node)].layer.get());
  }
  std::size_t parameter_count() const {
    std::size_t count = 0;
    for (const ModelNode& node : nodes_) count += node.layer->parameter_count();
    return count;
  }

  // Bytes of arena a float run needs (after build()).
  std::size_t arena_bytes() const { return plan_.total_bytes; }

  // One window through the float model. `calibrations` (one per node, entries may be null) receive
  // what layers record beyond their outputs; `observer` sees every tensor.
  Status run(Span<const float> input, Span<float> output, Span<std::byte> arena,
             TensorObserver* observer = nullptr,
             Span<LayerCalibration* const> calibrations = {}) const {
    if (!built_) return Status::error(ErrorCode::invalid_argument, "model is not built");
    TSQ_RETURN_IF_ERROR(tsq::detail::check_spans_usable("model run", input, output, arena));
    TSQ_RETURN_IF_ERROR(check_io_sizes(input.size(), output.size()));
    TSQ_RETURN_IF_ERROR(check_arena(arena, plan_.total_bytes));
    for (const ModelNode& node : nodes_) {
      if (!node.layer->weights_loaded()) {
        return Status::error(ErrorCode::invalid_argument, "layer '")
            .append(node.layer->name().c_str())
            .append("' has no weights (load_weights)");
      }
    }
    std::byte* base = arena.data();
    const auto tensor_view = [&](TensorId id) {
      const ModelTensor& t = tensors_[static_cast<std::size_t>(id)];
      return TensorView<float>(
          reinterpret_cast<float*>(base + plan_.offsets[static_cast<std::size_t>(id)]), t.shape);
    };
    const TensorView<float> input_view = tensor_view(input_);
    std::copy(input.begin(), input.end(), input_view.data());
    if (observer != nullptr) {
      TSQ_RETURN_IF_ERROR(observer->observe(input_, as_any(input_view)));
    }
    const std::size_t tensor_count = tensors_.size();
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const ModelNode& node = nodes_[n];
      TensorView<const float> inputs[4];
      for (std::size_t i = 0; i < node.inputs.size(); ++i) inputs[i] = tensor_view(node.inputs[i]);
      Span<std::byte> scratch(base + plan_.offsets[tensor_count + n], scratch_bytes_[n]);
      LayerCalibration* calibration = n < calibrations.size() ? calibrations[n] : nullptr;
      const TensorView<float> out = tensor_view(node.output);
      TSQ_RETURN_IF_ERROR(
          node.layer->run_float(Span<const TensorView<const float>>(inputs, node.inputs.size()),
                                out, scratch, calibration));
      if (observer != nullptr) TSQ_RETURN_IF_ERROR(observer->observe(node.output, as_any(out)));
    }
    const TensorView<float> result = tensor_view(output_);
    std::copy(result.data(), result.data() + output.size(), output.data());
    return Status::ok();
  }

  Status check_io_sizes(std::size_t input_size, std::size_t output_size) const {
    if (input_size != this->input_size()) {
      return Status::error(ErrorCode::shape_mismatch, "model input has ")
          .append(input_size)
          .append(" values, expected ")
          .append(this->input_size());
    }
    if (output_size != this->output_size()) {
      return Status::error(ErrorCode::shape_mismatch, "model output has room for ")
          .append(output_size)
          .append(" values, expected ")
          .append(this->output_size());
    }
    return Status::ok();
  }

  static Status check_arena(Span<std::byte> arena, std::size_t needed) {
    if (arena.size() < needed) {
      return Status::error(ErrorCode::buffer_too_small, "arena of ")
          .append(arena.size())
          .append(" bytes is too small: the model needs ")
          .append(needed);
    }
    if (reinterpret_cast<std::uintptr_t>(arena.data()) % kArenaAlignment != 0) {
      return Status::error(ErrorCode::invalid_argument, "arena must be ")
          .append(kArenaAlignment)
          .append("-byte aligned");
    }
    return Status::ok();
  }

  // Calibration records for every node (null where a layer records nothing).
  std::vector<std::unique_ptr<LayerCalibration>> make_calibrations() const {
    std::vector<std::unique_ptr<LayerCalibration>> calibrations;
    for (const ModelNode& node : nodes_) calibrations.push_back(node.layer->make_calibration());
    return calibrations;
  }

  // The last step that reads each tensor (the output is read at the end).
  std::vector<int> last_reads() const {
    std::vector<int> last(tensors_.size(), -1);
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      for (const TensorId id : nodes_[n].inputs)
        last[static_cast<std::size_t>(id)] = static_cast<int>(n);
    }
    last[static_cast<std::size_t>(output_)] = static_cast<int>(nodes_.size());
    return last;
  }

 private:
  static AnyTensor as_any(const TensorView<float>& view) {
    return AnyTensor{view.data(), view.shape(), DataType::float32};
  }

  void record(const Status& status) {
    if (status_.is_ok()) status_ = status;
  }

  bool is_read(TensorId id) const {
    for (const ModelNode& node : nodes_) {
      for (const TensorId input : node.inputs) {
        if (input == id) return true;
      }
    }
    return false;
  }

  // Identity layers (Dropout) are bypassed: their readers read their input.
  void remove_identities() {
    for (std::size_t n = 0; n < nodes_.size();) {
      if (!nodes_[n].layer->is_identity()) {
        ++n;
        continue;
      }
      const TensorId from = nodes_[n].output;
      const TensorId to = nodes_[n].inputs[0];
      for (ModelNode& node : nodes_) {
        for (TensorId& input : node.inputs) {
          if (input == from) input = to;
        }
      }
      if (output_ == from) output_ = to;
      erase_node(n);
    }
  }

  // Removes node n and its output tensor, renumbering the tensors after it.
  void erase_node(std::size_t n) {
    const TensorId removed = nodes_[n].output;
    nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(n));
    tensors_.erase(tensors_.begin() + removed);
    const auto renumber = [removed](TensorId& id) {
      if (id > removed) --id;
    };
    for (ModelNode& node : nodes_) {
      for (TensorId& input : node.inputs) renumber(input);
      renumber(node.output);
    }
    for (ModelTensor& tensor : tensors_) {
      if (tensor.producer > static_cast<int>(n)) --tensor.producer;
    }
    renumber(output_);
    renumber(input_);
  }

  // A BatchNormalization node right after a Conv or Dense whose output nobody else reads is
  // folded into it and removed; any other BatchNormalization is an error (integer kernels have
  // no per-channel affine op).
  Status fold_batch_norms() {
    bool folded = false;
    for (std::size_t n = 0; n < nodes_.size();) {
      std::vector<float> scale, shift;
      if (!nodes_[n].layer->batch_norm_affine(scale, shift)) {
        ++n;
        continue;
      }
      const TensorId input = nodes_[n].inputs[0];
      const int producer = tensors_[static_cast<std::size_t>(input)].producer;
      int readers = 0;
      for (const ModelNode& node : nodes_) {
        for (const TensorId id : node.inputs) readers += id == input ? 1 : 0;
      }
      if (producer < 0 || readers != 1 || input == output_ ||
          !nodes_[static_cast<std::size_t>(producer)].layer->can_fold_batch_norm()) {
        return Status::error(ErrorCode::invalid_argument, "BatchNormalization '")
            .append(nodes_[n].layer->name().c_str())
            .append("' must follow a Conv or Dense layer (without activation) that feeds only it");
      }
      TSQ_RETURN_IF_ERROR(nodes_[static_cast<std::size_t>(producer)].layer->fold_batch_norm(
          Span<const float>(scale.data(), scale.size()),
          Span<const float>(shift.data(), shift.size())));
      // Readers of the BatchNorm's output now read the Conv/Dense output.
      const TensorId from = nodes_[n].output;
      for (ModelNode& node : nodes_) {
        for (TensorId& id : node.inputs) {
          if (id == from) id = input;
        }
      }
      if (output_ == from) output_ = input;
      erase_node(n);
      folded = true;
    }
    if (folded && built_) return build();
    return Status::ok();
  }

  void plan_float_arena() {
    std::vector<ArenaItem> items;
    const std::vector<int> last = last_reads();
    for (std::size_t t = 0; t < tensors_.size(); ++t) {
      const int first = tensors_[t].producer;  // -1 for the input: written before step 0
      items.push_back(ArenaItem{tensors_[t].shape.element_count() * sizeof(float), first,
                                last[t] < 0 ? first : last[t]});
    }
    scratch_bytes_.clear();
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      std::vector<Shape> shapes;
      for (const TensorId id : nodes_[n].inputs)
        shapes.push_back(tensors_[static_cast<std::size_t>(id)].shape);
      const std::size_t bytes =
          nodes_[n].layer->float_scratch_bytes(Span<const Shape>(shapes.data(), shapes.size()));
      scratch_bytes_.push_back(bytes);
      items.push_back(ArenaItem{bytes, static_cast<int>(n), static_cast<int>(n)});
    }
    plan_ = plan_arena(items);
  }

  std::vector<ModelTensor> tensors_;
  std::vector<ModelNode> nodes_;
  TensorId input_ = -1;
  TensorId output_ = -1;
  Status status_;
  bool built_ = false;
  ArenaPlan plan_;  // tensors first, then one scratch item per node
  std::vector<std::size_t> scratch_bytes_;
};

}  // namespace nn
}  // namespace tsq
