// SPDX-License-Identifier: Apache-2.0
// Post-training quantization of a whole model (host): one call turns a float model and a few
// hundred representative windows into a quantized model with the chosen scheme.
//
//   auto quantized = tsq::quantize(model, windows, tsq::Scheme::fiq_int8());
//   std::vector<std::byte> arena(quantized->arena_bytes());
//   quantized->run(window_int8, scores_int8, arena);          // integers only
//
// Schemes (the study's, plus tsq's mixed precision):
//   Scheme::drq()          int8 per-channel weights, float activations (hybrid kernels)
//   Scheme::float16()      weights stored as IEEE half, float compute
//   Scheme::fiq_float32()  full integer inside, float input and output (quantize/dequantize at
//                          the edges)
//   Scheme::fiq_int8()     full integer, int8 input and output
//   Scheme::fiq_uint8()    full integer, uint8 input and output (zero point + 128)
// and per-layer overrides: keep_float(layer) (the study's selective quantization),
// int16_activations(layer) (TFLite's 16x8), int16_weights(layer) (LSTM). Layers that take no
// part in a scheme run in float (pooling under DRQ). Where two neighbours run on different
// element types, conversion steps (quantize, dequantize, requantize) are inserted.
// Options: with_bias_correction() (Dense biases absorb the mean shift of weight rounding) and
// with_data_aware_rounding() (Dense int8 weights rounded by GPTQ on the calibration inputs).
//
// Every tensor's parameters come from its calibrated range: int8 asymmetric with real 0 exact
// (choose_quant_params), int16 symmetric with zero point 0. Ops with fixed output parameters
// (Softmax, Logistic, Tanh) and ops that keep their input's (pooling, reshapes) override that.
// The quantized model keeps a copy of its float twin, so the same object runs both forms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/export/kernel_params.hpp"
#include "tsq/kernels/reference/dequantize.hpp"
#include "tsq/kernels/reference/quantize.hpp"
#include "tsq/kernels/reference/requantize.hpp"
#include "tsq/nn/arena_plan.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/calibrate.hpp"
#include "tsq/quant/choose_params.hpp"

namespace tsq {

enum class IoType : std::uint8_t { float32, int8, uint8 };

constexpr const char* io_type_name(IoType io) {
  switch (io) {
    case IoType::float32: return "float32";
    case IoType::int8: return "int8";
    case IoType::uint8: return "uint8";
  }
  return "unknown";
}

struct LayerOverride {
  std::string layer;
  nn::Precision precision = nn::Precision::float32;
};

struct Scheme {
  std::string name = "fiq_float32";
  nn::Precision precision = nn::Precision::int8;  // for every layer without an override
  IoType io = IoType::float32;
  RoundingMode rounding = RoundingMode::double_rounding;
  CalibrationOptions calibration;
  std::vector<LayerOverride> overrides;
  bool bias_correction =
      false;  // shift int8 biases by the mean output error on the calibration data
  // Round int8 weights to minimise each layer's output error on the calibration data (GPTQ;
  // Dense) instead of to nearest: same grid and scales, so the integer kernels are unchanged.
  bool data_aware_rounding = false;

  static Scheme make(const char* name, nn::Precision precision, IoType io) {
    Scheme scheme;
    scheme.name = name;
    scheme.precision = precision;
    scheme.io = io;
    return scheme;
  }
  static Scheme drq() { return make("drq", nn::Precision::dynamic_int8, IoType::float32); }
  static Scheme float16() {
    return make("float16", nn::Precision::float16_weights, IoType::float32);
  }
  static Scheme float32() { return make("float", nn::Precision::float32, IoType::float32); }
  static Scheme fiq_float32() { return make("fiq_float32", nn::Precision::int8, IoType::float32); }
  static Scheme fiq_int8() { return make("fiq_int8", nn::Precision::int8, IoType::int8); }
  static Scheme fiq_uint8() { return make("fiq_uint8", nn::Precision::int8, IoType::uint8); }

  Scheme& set(const std::string& layer, nn::Precision precision) {
    for (LayerOverride& o : overrides) {
      if (o.layer == layer) {
        o.precision = precision;
        return *this;
      }
    }
    overrides.push_back(LayerOverride{layer, precision});
    return *this;
  }
  Scheme& keep_float(const std::string& layer) { return set(layer, nn::Precision::float32); }
  Scheme& int16_activations(const std::string& layer) {
    return set(layer, nn::Precision::int16_activations);
  }
  Scheme& int16_weights(const std::string& layer) {
    return set(layer, nn::Precision::int16_weights);
  }
  Scheme& with_bias_correction(bool on = true) {
    bias_correction = on;
    return *this;
  }
  Scheme& with_data_aware_rounding(bool on = true) {
    data_aware_rounding = on;
    return *this;
  }
  Scheme& with_rounding(RoundingMode mode) {
    rounding = mode;
    return *this;
  }
};

namespace detail {

// A conversion step between element types: quantize, dequantize or requantize.
class ConversionLayer final : public nn::QuantizedLayer {
 public:
  static Result<std::unique_ptr<nn::QuantizedLayer>> make(const Shape& shape,
                                                          const nn::TensorQuantization& from,
                                                          const nn::TensorQuantization& to,
                                                          RoundingMode rounding) {
    auto layer = std::make_unique<ConversionLayer>();
    layer->from_ = from;
    layer->to_ = to;
    if (from.type == DataType::float32) {
      auto params = prepare_quantize(QuantizeQuantization{shape, to.params});
      if (!params.is_ok()) return params.status();
      layer->quantize_ = params.value();
    } else if (to.type == DataType::float32) {
      auto params = prepare_dequantize(DequantizeQuantization{shape, from.params});
      if (!params.is_ok()) return params.status();
      layer->dequantize_ = params.value();
    } else {
      auto params =
          prepare_requantize(RequantizeQuantization{shape, from.params, to.params, rounding});
      if (!params.is_ok()) return params.status();
      layer->requantize_ = params.value();
    }
    return std::unique_ptr<nn::QuantizedLayer>(std::move(layer));
  }
  std::unique_ptr<nn::QuantizedLayer> clone() const override {
    return std::make_unique<ConversionLayer>(*this);
  }
  Status run(Span<const nn::AnyTensor> inputs, const nn::AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    const nn::AnyTensor& in = inputs[0];
    if (from_.type == DataType::float32) {
      switch (to_.type) {
        case DataType::int8:
          return reference::quantize(quantize_, in.view<const float>(), output.view<std::int8_t>());
        case DataType::uint8:
          return reference::quantize(quantize_, in.view<const float>(),
                                     output.view<std::uint8_t>());
        case DataType::int16:
          return reference::quantize(quantize_, in.view<const float>(),
                                     output.view<std::int16_t>());
        default: break;
      }
    } else if (to_.type == DataType::float32) {
      switch (from_.type) {
        case DataType::int8:
          return reference::dequantize(dequantize_, in.view<const std::int8_t>(),
                                       output.view<float>());
        case DataType::uint8:
          return reference::dequantize(dequantize_, in.view<const std::uint8_t>(),
                                       output.view<float>());
        case DataType::int16:
          return reference::dequantize(dequantize_, in.view<const std::int16_t>(),
                                       output.view<float>());
        default: break;
      }
    } else {
      return requantize_any(in, output);
    }
    return Status::error(ErrorCode::unsupported_type, "conversion between these types");
  }
  nn::TensorQuantization output_quantization() const override { return to_; }
  // Integer to integer only: a firmware model takes and gives integers.
  Status emit(codegen::LayerCode& code) const override {
    if (from_.type == DataType::float32 || to_.type == DataType::float32) {
      return Status::error(ErrorCode::unsupported_format,
                           "a float conversion inside the model has no firmware export");
    }
    const std::string params =
        codegen::write_params(code.constants, code.id + "_params", requantize_);
    code.include("tsq/kernels/reference/requantize.hpp");
    code.call("tsq::reference::requantize(" + params + ", " +
              code.input_view(0, code.input_shapes[0]) + ", " +
              code.output_view(code.output_shape) + ")");
    return Status::ok();
  }

 private:
  template <typename From>
  Status requantize_to(const nn::AnyTensor& in, const nn::AnyTensor& out) const {
    switch (to_.type) {
      case DataType::int8:
        return reference::requantize(requantize_, in.view<const From>(), out.view<std::int8_t>());
      case DataType::uint8:
        return reference::requantize(requantize_, in.view<const From>(), out.view<std::uint8_t>());
      case DataType::int16:
        return reference::requantize(requantize_, in.view<const From>(), out.view<std::int16_t>());
      default: return Status::error(ErrorCode::unsupported_type, "requantize output type");
    }
  }
  Status requantize_any(const nn::AnyTensor& in, const nn::AnyTensor& out) const {
    switch (from_.type) {
      case DataType::int8: return requantize_to<std::int8_t>(in, out);
      case DataType::uint8: return requantize_to<std::uint8_t>(in, out);
      case DataType::int16: return requantize_to<std::int16_t>(in, out);
      default: return Status::error(ErrorCode::unsupported_type, "requantize input type");
    }
  }

  nn::TensorQuantization from_;
  nn::TensorQuantization to_;
  QuantizeParams quantize_;
  DequantizeParams dequantize_;
  RequantizeParams requantize_;
};

// Parameters of a tensor of `type` from its calibrated range.
inline Result<QuantParams> params_from_range(const Range& range, DataType type) {
  switch (type) {
    case DataType::int8: return choose_quant_params(range.min, range.max);
    case DataType::uint8:
      return choose_quant_params(range.min, range.max, BitWidth{8, false, false});
    case DataType::int16: {
      auto params = choose_symmetric_quant_params(range.min, range.max, BitWidth{16, true, false});
      if (params.is_ok()) params.value().quant_min = -32768;
      return params;
    }
    default: return Status::error(ErrorCode::unsupported_type, "tensor type is not an integer");
  }
}

}  // namespace detail

// One quantized tensor buffer: a model tensor in one element type.
struct QuantizedSlot {
  nn::TensorId tensor = -1;  // -1: none (not used)
  Shape shape;
  nn::TensorQuantization quantization;
};

struct QuantizedStep {
  int node = -1;  // the model node this step runs; -1 for a conversion
  std::unique_ptr<nn::QuantizedLayer> layer;
  std::vector<int> inputs;  // slots
  int output = -1;          // slot
  nn::Precision precision = nn::Precision::float32;
};

class QuantizedModel {
 public:
  QuantizedModel() = default;
  QuantizedModel(const QuantizedModel& other) { *this = other; }
  QuantizedModel& operator=(const QuantizedModel& other) {
    if (this == &other) return *this;
    float_model_ = other.float_model_;
    scheme_ = other.scheme_;
    slots_ = other.slots_;
    steps_.clear();
    for (const QuantizedStep& step : other.steps_) {
      steps_.push_back(
          QuantizedStep{step.node, step.layer->clone(), step.inputs, step.output, step.precision});
    }
    primary_ = other.primary_;
    io_input_ = other.io_input_;
    io_output_ = other.io_output_;
    plan_ = other.plan_;
    scratch_ = other.scratch_;
    ranges_ = other.ranges_;
    return *this;
  }
  QuantizedModel(QuantizedModel&&) noexcept = default;
  QuantizedModel& operator=(QuantizedModel&&) noexcept = default;
  ~QuantizedModel() = default;

  const nn::Model& float_model() const { return float_model_; }
  const Scheme& scheme() const { return scheme_; }
  std::size_t arena_bytes() const { return plan_.total_bytes; }
  std::size_t input_size() const { return float_model_.input_size(); }
  std::size_t output_size() const { return float_model_.output_size(); }

  // How the caller's input and output are stored (type and, for integer I/O, parameters).
  const nn::TensorQuantization& input_quantization() const {
    return slots_[static_cast<std::size_t>(io_input_)].quantization;
  }
  const nn::TensorQuantization& output_quantization() const {
    return slots_[static_cast<std::size_t>(io_output_)].quantization;
  }
  // How a model tensor is stored inside (its producer's form).
  const nn::TensorQuantization& tensor_quantization(nn::TensorId tensor) const {
    return slots_[static_cast<std::size_t>(primary_[static_cast<std::size_t>(tensor)])]
        .quantization;
  }
  // The calibrated float range of a model tensor.
  const Range& tensor_range(nn::TensorId tensor) const {
    return ranges_[static_cast<std::size_t>(tensor)];
  }
  // The step that runs model node `node` (its precision and quantized layer).
  const QuantizedStep& node_step(std::size_t node) const {
    for (const QuantizedStep& step : steps_) {
      if (step.node == static_cast<int>(node)) return step;
    }
    return steps_.front();
  }
  const std::vector<QuantizedStep>& steps() const { return steps_; }
  const std::vector<QuantizedSlot>& slots() const { return slots_; }
  // The slots the caller's input is copied into and the output is read from.
  int input_slot() const { return io_input_; }
  int output_slot() const { return io_output_; }
  std::size_t conversion_count() const {
    std::size_t count = 0;
    for (const QuantizedStep& step : steps_) count += step.node < 0 ? 1 : 0;
    return count;
  }
  nn::ParameterBytes parameter_bytes() const {
    nn::ParameterBytes bytes;
    for (const QuantizedStep& step : steps_) bytes += step.layer->parameter_bytes();
    return bytes;
  }

  // Float input and output (schemes with float32 I/O).
  Status run(Span<const float> input, Span<float> output, Span<std::byte> arena,
             nn::TensorObserver* observer = nullptr) const {
    return run_io(input.data(), input.size(), DataType::float32, output.data(), output.size(),
                  DataType::float32, arena, observer);
  }
  // int8 input and output (fiq_int8).
  Status run(Span<const std::int8_t> input, Span<std::int8_t> output, Span<std::byte> arena,
             nn::TensorObserver* observer = nullptr) const {
    return run_io(input.data(), input.size(), DataType::int8, output.data(), output.size(),
                  DataType::int8, arena, observer);
  }
  // uint8 input and output (fiq_uint8).
  Status run(Span<const std::uint8_t> input, Span<std::uint8_t> output, Span<std::byte> arena,
             nn::TensorObserver* observer = nullptr) const {
    return run_io(input.data(), input.size(), DataType::uint8, output.data(), output.size(),
                  DataType::uint8, arena, observer);
  }

 private:
  friend Result<QuantizedModel> quantize(const nn::Model&, Span<const float>, const Scheme&);
  friend Result<QuantizedModel> quantize(const nn::Model&, const Calibration&, const Scheme&);
  friend class QuantizedModelBuilder;

  Status run_io(const void* input, std::size_t input_count, DataType input_type, void* output,
                std::size_t output_count, DataType output_type, Span<std::byte> arena,
                nn::TensorObserver* observer) const {
    if (steps_.empty()) return Status::error(ErrorCode::invalid_argument, "model is not quantized");
    const nn::TensorQuantization& in_q = input_quantization();
    const nn::TensorQuantization& out_q = output_quantization();
    if (in_q.type != input_type || out_q.type != output_type) {
      return Status::error(ErrorCode::unsupported_type, "this model takes ")
          .append(data_type_name(in_q.type))
          .append(" input and gives ")
          .append(data_type_name(out_q.type))
          .append(" output (scheme ")
          .append(scheme_.name.c_str())
          .append(")");
    }
    if ((input == nullptr && input_count != 0) || (output == nullptr && output_count != 0)) {
      return Status::error(ErrorCode::invalid_argument, "model run: null input or output");
    }
    TSQ_RETURN_IF_ERROR(float_model_.check_io_sizes(input_count, output_count));
    TSQ_RETURN_IF_ERROR(nn::Model::check_arena(arena, plan_.total_bytes));
    std::byte* base = arena.data();
    const auto slot_tensor = [&](int slot) {
      const QuantizedSlot& s = slots_[static_cast<std::size_t>(slot)];
      return nn::AnyTensor{base + plan_.offsets[static_cast<std::size_t>(slot)], s.shape,
                           s.quantization.type};
    };
    const nn::AnyTensor in = slot_tensor(io_input_);
    std::memcpy(in.data, input, in.bytes());
    const nn::TensorId input_tensor = float_model_.input_tensor();
    if (observer != nullptr && primary_[static_cast<std::size_t>(input_tensor)] == io_input_) {
      TSQ_RETURN_IF_ERROR(observer->observe(input_tensor, in));
    }
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      const QuantizedStep& step = steps_[s];
      nn::AnyTensor inputs[4];
      for (std::size_t i = 0; i < step.inputs.size(); ++i) inputs[i] = slot_tensor(step.inputs[i]);
      const nn::AnyTensor out = slot_tensor(step.output);
      Span<std::byte> scratch(base + plan_.offsets[slots_.size() + s], scratch_[s]);
      const Status status =
          step.layer->run(Span<const nn::AnyTensor>(inputs, step.inputs.size()), out, scratch);
      if (!status.is_ok()) {
        if (step.node < 0) return status;
        return Status::error(status.code(), "layer '")
            .append(float_model_.layer(static_cast<std::size_t>(step.node)).name().c_str())
            .append("': ")
            .append(status.message());
      }
      if (observer != nullptr) {
        const nn::TensorId tensor = slots_[static_cast<std::size_t>(step.output)].tensor;
        if (primary_[static_cast<std::size_t>(tensor)] == step.output) {
          TSQ_RETURN_IF_ERROR(observer->observe(tensor, out));
        }
      }
    }
    const nn::AnyTensor result = slot_tensor(io_output_);
    std::memcpy(output, result.data, result.bytes());
    return Status::ok();
  }

  int add_slot(nn::TensorId tensor, const Shape& shape, const nn::TensorQuantization& q) {
    slots_.push_back(QuantizedSlot{tensor, shape, q});
    return static_cast<int>(slots_.size() - 1);
  }

  void plan() {
    std::vector<nn::ArenaItem> items(slots_.size());
    for (std::size_t s = 0; s < slots_.size(); ++s) {
      items[s].bytes =
          slots_[s].shape.element_count() * data_type_size(slots_[s].quantization.type);
      items[s].first_step = -1;
      items[s].last_step = -1;
    }
    std::vector<bool> written(slots_.size(), false);
    written[static_cast<std::size_t>(io_input_)] = true;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      const auto step = static_cast<int>(s);
      for (const int input : steps_[s].inputs)
        items[static_cast<std::size_t>(input)].last_step = step;
      items[static_cast<std::size_t>(steps_[s].output)].first_step = step;
      items[static_cast<std::size_t>(steps_[s].output)].last_step =
          std::max(items[static_cast<std::size_t>(steps_[s].output)].last_step, step);
    }
    items[static_cast<std::size_t>(io_output_)].last_step = static_cast<int>(steps_.size());
    scratch_.clear();
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      scratch_.push_back(steps_[s].layer->scratch_bytes());
      items.push_back(nn::ArenaItem{scratch_.back(), static_cast<int>(s), static_cast<int>(s)});
    }
    plan_ = nn::plan_arena(items);
  }

  nn::Model float_model_;
  Scheme scheme_;
  std::vector<QuantizedSlot> slots_;
  std::vector<QuantizedStep> steps_;
  std::vector<int> primary_;  // per model tensor: the slot its producer writes
  int io_input_ = -1;
  int io_output_ = -1;
  nn::ArenaPlan plan_;  // slots first, then one scratch item per step
  std::vector<std::size_t> scratch_;
  std::vector<Range> ranges_;
};

// Quantizes `model` with calibration already done (lets several schemes share one calibration).
inline Result<QuantizedModel> quantize(const nn::Model& model, const Calibration& calibration,
                                       const Scheme& scheme) {
  if (!model.is_built()) return Status::error(ErrorCode::invalid_argument, "model is not built");
  if (calibration.ranges.size() != model.tensors().size()) {
    return Status::error(ErrorCode::invalid_argument, "calibration is of another model");
  }
  for (const LayerOverride& o : scheme.overrides) {
    if (model.find_node(o.layer) < 0) {
      return Status::error(ErrorCode::not_found, "scheme override names no layer '")
          .append(o.layer.c_str())
          .append("'");
    }
  }
  QuantizedModel q;
  q.float_model_ = model;
  q.scheme_ = scheme;
  q.ranges_ = calibration.ranges;
  const auto& tensors = model.tensors();
  q.primary_.assign(tensors.size(), -1);
  // (tensor, type) -> slot, for conversions made once and shared by every reader.
  std::vector<std::vector<std::pair<DataType, int>>> converted(tensors.size());

  const auto integer_params = [&](nn::TensorId tensor,
                                  DataType type) -> Result<nn::TensorQuantization> {
    const Result<QuantParams> params =
        detail::params_from_range(calibration.ranges[static_cast<std::size_t>(tensor)], type);
    if (!params.is_ok()) {
      return Status::error(params.status().code(), "tensor '")
          .append(tensors[static_cast<std::size_t>(tensor)].name.c_str())
          .append("': ")
          .append(params.status().message());
    }
    return nn::TensorQuantization{type, params.value()};
  };
  // The slot holding `tensor` as `type`, adding a conversion step when needed.
  const auto slot_as = [&](nn::TensorId tensor, DataType type) -> Result<int> {
    const int primary = q.primary_[static_cast<std::size_t>(tensor)];
    if (q.slots_[static_cast<std::size_t>(primary)].quantization.type == type) return primary;
    for (const auto& entry : converted[static_cast<std::size_t>(tensor)]) {
      if (entry.first == type) return entry.second;
    }
    nn::TensorQuantization target{DataType::float32, QuantParams{}};
    if (type != DataType::float32) {
      auto chosen = integer_params(tensor, type);
      if (!chosen.is_ok()) return chosen.status();
      target = chosen.value();
    }
    const Shape& shape = tensors[static_cast<std::size_t>(tensor)].shape;
    auto conversion = detail::ConversionLayer::make(
        shape, q.slots_[static_cast<std::size_t>(primary)].quantization, target, scheme.rounding);
    if (!conversion.is_ok()) return conversion.status();
    const int slot = q.add_slot(tensor, shape, target);
    q.steps_.push_back(
        QuantizedStep{-1, std::move(conversion).value(), {primary}, slot, nn::Precision::float32});
    converted[static_cast<std::size_t>(tensor)].push_back({type, slot});
    return slot;
  };
  const auto precision_of = [&](std::size_t node) {
    const nn::Layer& layer = model.layer(node);
    nn::Precision p = scheme.precision;
    for (const LayerOverride& o : scheme.overrides) {
      if (o.layer == layer.name()) p = o.precision;
    }
    return p;
  };

  // The model input: stored as its first reader needs it.
  const nn::TensorId input = model.input_tensor();
  DataType input_type = DataType::float32;
  for (std::size_t n = 0; n < model.node_count(); ++n) {
    if (model.node_inputs(n)[0] == input) {
      const nn::Precision p = precision_of(n);
      if (model.layer(n).supports(p)) input_type = model.layer(n).input_type(0, p);
      break;
    }
  }
  const Shape& input_shape = tensors[static_cast<std::size_t>(input)].shape;
  nn::TensorQuantization input_q{DataType::float32, QuantParams{}};
  if (input_type != DataType::float32) {
    auto chosen = integer_params(input, input_type);
    if (!chosen.is_ok()) return chosen.status();
    input_q = chosen.value();
  }
  // What the caller hands in.
  nn::TensorQuantization io_in{DataType::float32, QuantParams{}};
  if (scheme.io != IoType::float32) {
    const DataType io_type = scheme.io == IoType::int8 ? DataType::int8 : DataType::uint8;
    auto chosen = integer_params(input, io_type);
    if (!chosen.is_ok()) return chosen.status();
    io_in = chosen.value();
    if (input_type == DataType::int8 && io_type == DataType::int8) io_in = input_q;
    if (input_type == DataType::int8 && io_type == DataType::uint8) {
      // The int8 parameters shifted by 128: the conversion only flips the sign bit.
      io_in = input_q;
      io_in.type = DataType::uint8;
      io_in.params =
          make_quant_params(input_q.params.scale, input_q.params.zero_point + 128, DataType::uint8);
    }
  }
  q.io_input_ = q.add_slot(input, input_shape, io_in);
  if (io_in.type == input_q.type) {
    q.primary_[static_cast<std::size_t>(input)] = q.io_input_;
  } else {
    auto conversion = detail::ConversionLayer::make(input_shape, io_in, input_q, scheme.rounding);
    if (!conversion.is_ok()) return conversion.status();
    const int slot = q.add_slot(input, input_shape, input_q);
    q.steps_.push_back(QuantizedStep{
        -1, std::move(conversion).value(), {q.io_input_}, slot, nn::Precision::float32});
    q.primary_[static_cast<std::size_t>(input)] = slot;
  }

  for (std::size_t n = 0; n < model.node_count(); ++n) {
    const nn::Layer& layer = model.layer(n);
    const std::vector<nn::TensorId>& inputs = model.node_inputs(n);
    nn::Precision p = precision_of(n);
    const bool requested = [&] {
      for (const LayerOverride& o : scheme.overrides) {
        if (o.layer == layer.name()) return true;
      }
      return false;
    }();
    if (layer.passes_quantization_through() && !requested) {
      // Keeps its input's form: no conversion around a max pool or a reshape.
      const DataType type =
          q.slots_[static_cast<std::size_t>(q.primary_[static_cast<std::size_t>(inputs[0])])]
              .quantization.type;
      p = type == DataType::int8    ? nn::Precision::int8
          : type == DataType::int16 ? nn::Precision::int16_activations
                                    : nn::Precision::float32;
    }
    if (!layer.supports(p)) {
      if (requested || nn::is_integer_precision(p)) {
        if (!requested && p == nn::Precision::int16_activations) {
          p = nn::Precision::int8;  // a pass-through layer fed int16 that has no int16 kernel
        } else {
          return Status::error(ErrorCode::unsupported_type, layer.kind())
              .append(" '")
              .append(layer.name().c_str())
              .append("' cannot run as ")
              .append(nn::precision_name(p));
        }
      } else {
        p = nn::Precision::float32;  // DRQ and float16 leave layers without weights in float
      }
    }
    const DataType type = nn::activation_type(p);
    nn::LayerQuantizationRequest request;
    request.precision = p;
    request.rounding = scheme.rounding;
    request.calibration = calibration.layers.empty() ? nullptr : calibration.layers[n].get();
    request.calibration_inputs =
        calibration.layer_inputs.empty() ? nullptr : &calibration.layer_inputs[n];
    request.bias_correction = scheme.bias_correction;
    request.data_aware_rounding = scheme.data_aware_rounding;
    std::vector<int> input_slots;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const nn::TensorId tensor = inputs[i];
      const Result<int> slot = slot_as(tensor, layer.input_type(i, p));
      if (!slot.is_ok()) return slot.status();
      input_slots.push_back(slot.value());
      request.inputs.push_back(q.slots_[static_cast<std::size_t>(slot.value())].quantization);
    }
    const nn::TensorId output = model.node_output(n);
    if (layer.passes_quantization_through()) {
      request.output = request.inputs[0];
    } else if (type != DataType::float32) {
      auto chosen = integer_params(output, type);
      if (!chosen.is_ok()) return chosen.status();
      request.output = chosen.value();
    }
    auto quantized = layer.quantize(request);
    if (!quantized.is_ok()) return quantized.status();
    const nn::TensorQuantization actual = quantized.value()->output_quantization();
    const int slot = q.add_slot(output, tensors[static_cast<std::size_t>(output)].shape, actual);
    q.primary_[static_cast<std::size_t>(output)] = slot;
    q.steps_.push_back(
        QuantizedStep{static_cast<int>(n), std::move(quantized).value(), input_slots, slot, p});
  }

  // The model output as the caller receives it.
  const nn::TensorId output = model.output_tensor();
  const DataType io_out = scheme.io == IoType::float32 ? DataType::float32
                          : scheme.io == IoType::int8  ? DataType::int8
                                                       : DataType::uint8;
  if (io_out == DataType::uint8 &&
      q.slots_[static_cast<std::size_t>(q.primary_[static_cast<std::size_t>(output)])]
              .quantization.type == DataType::int8) {
    // Same scale, zero point + 128: the requantize kernel flips the sign bit.
    const int primary = q.primary_[static_cast<std::size_t>(output)];
    nn::TensorQuantization target = q.slots_[static_cast<std::size_t>(primary)].quantization;
    target.type = DataType::uint8;
    target.params =
        make_quant_params(target.params.scale, target.params.zero_point + 128, DataType::uint8);
    const Shape& shape = tensors[static_cast<std::size_t>(output)].shape;
    auto conversion = detail::ConversionLayer::make(
        shape, q.slots_[static_cast<std::size_t>(primary)].quantization, target, scheme.rounding);
    if (!conversion.is_ok()) return conversion.status();
    q.io_output_ = q.add_slot(output, shape, target);
    q.steps_.push_back(QuantizedStep{
        -1, std::move(conversion).value(), {primary}, q.io_output_, nn::Precision::float32});
  } else {
    const Result<int> slot = slot_as(output, io_out);
    if (!slot.is_ok()) return slot.status();
    q.io_output_ = slot.value();
  }
  q.plan();
  return q;
}

// Calibrates on `windows` (window_count * input_size floats) and quantizes.
inline Result<QuantizedModel> quantize(const nn::Model& model, Span<const float> windows,
                                       const Scheme& scheme) {
  CalibrationOptions options = scheme.calibration;
  if ((scheme.bias_correction || scheme.data_aware_rounding) && options.keep_inputs == 0)
    options.keep_inputs = windows.size();
  Result<Calibration> calibration = calibrate(model, windows, options);
  if (!calibration.is_ok()) return calibration.status();
  return quantize(model, calibration.value(), scheme);
}

}  // namespace tsq
