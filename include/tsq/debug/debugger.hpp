// SPDX-License-Identifier: Apache-2.0
// The quantization debugger (host): runs a quantized model and its float twin side by side over a
// data set and reports, for every layer,
//   - end-to-end error: the quantized model's tensor (dequantized) against the float model's;
//   - the layer's own error: the quantized layer's output against its float twin fed the same
//     dequantized quantized input (what TFLite's debugger reports per layer), so errors of earlier
//     layers are not charged to it;
//   - the split of that own error into its causes, which the mixed-precision search uses:
//       weight rounding      the float layer with its weights rounded as stored, same input;
//       activation rounding  the exact float output rounded to the output grid (inside the range);
//       saturation           the exact float output clipped to the output's representable range;
//   - mean error, standard deviation, max |error|, MSE, rmse/scale, SQNR (dB), scale, zero point,
//     range = (2^b - 1) * scale, and the share of outputs at the type limits.
//   - inside layers that report intermediates (the LSTM's gate pre-activations and cell state,
//     nn::Intermediate): each one of the quantized form against its float twin's on the same
//     dequantized input the quantized layer read (an own comparison): rmse, max |error|,
//     rmse/scale (scale: the intermediate's integer step, 2^-12 for the Q3.12 gate
//     pre-activations, S_c for the cell) and the share at the limits of its int16 storage (gate
//     pre-activations: the quantized value at -8 or 32767/4096, or the float twin's |z| >= 8;
//     this Q3.12 limit is counted for the float forms too). Layers kept in float32 are skipped.
// Flags: rmse/scale > 0.7 (the study's rule; 0.29 = 1/sqrt(12) is pure rounding noise), with the
// dominant cause and, for layers with intermediates, the worst of them; and layers whose
// multipliers all flushed to zero (a constant output).
//
// write_debug_csv: one row per layer, then one row per intermediate of that layer, told apart by
// the last column, "intermediate" (empty on layer rows). An intermediate row repeats the layer's
// index, name, kind and precision; its type is int16 (integer forms) or float32, scale its step,
// mean_error .. mse and sqnr_db its own comparison, own_rmse_over_scale its rmse/scale (integer
// forms) and saturated_share its share at the limits; the other cells are empty.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/debug/csv.hpp"
#include "tsq/debug/svg_plot.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/quantize_model.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {
namespace debug {

// The study's threshold on rmse/scale above which a layer is flagged.
constexpr double kRmseOverScaleFlag = 0.7;

// Running sums of an error signal (quantized - reference).
struct ErrorAccumulator {
  double sum = 0.0;
  double sum_squares = 0.0;
  double max_abs = 0.0;
  double signal_squares = 0.0;  // sum of reference^2, for the SQNR
  std::size_t count = 0;
  void add(double error, double reference) {
    sum += error;
    sum_squares += error * error;
    max_abs = std::max(max_abs, std::fabs(error));
    signal_squares += reference * reference;
    ++count;
  }
  double mean() const { return count == 0 ? 0.0 : sum / static_cast<double>(count); }
  double mse() const { return count == 0 ? 0.0 : sum_squares / static_cast<double>(count); }
  double std_dev() const {
    const double m = mean();
    return std::sqrt(std::max(0.0, mse() - m * m));
  }
  double rmse() const { return std::sqrt(mse()); }
  double sqnr_db() const {
    if (sum_squares == 0.0) return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal_squares / sum_squares);
  }
};

// One intermediate of a layer: the quantized form's values against its float twin's.
struct IntermediateReport {
  std::string name;
  float scale = 0.0f;  // step of its integer storage; 0 in float forms
  ErrorAccumulator error;
  double saturated_share = 0.0;  // values at the limits of the storage (see the top)

  double rmse() const { return error.rmse(); }
  double max_abs() const { return error.max_abs; }
  double rmse_over_scale() const {
    return scale > 0.0f ? error.rmse() / static_cast<double>(scale) : 0.0;
  }
};

struct LayerReport {
  std::string name;
  std::string kind;
  nn::Precision precision = nn::Precision::float32;
  DataType type = DataType::float32;
  float scale = 0.0f;  // output scale (integer outputs)
  std::int32_t zero_point = 0;
  double range = 0.0;  // (2^b - 1) * scale
  ErrorAccumulator end_to_end;
  ErrorAccumulator own;
  double weight_rounding = 0.0;  // rmse / scale of each cause (integer outputs)
  double activation_rounding = 0.0;
  double saturation = 0.0;
  double saturated_share = 0.0;  // outputs at the type limits
  bool constant_output = false;  // every multiplier flushed to zero
  bool flagged = false;
  std::string flag_reason;
  std::vector<IntermediateReport> intermediates;  // LSTM gates and cell; empty for other layers

  double rmse_over_scale() const {
    return scale > 0.0f ? end_to_end.rmse() / static_cast<double>(scale) : 0.0;
  }
  double own_rmse_over_scale() const {
    return scale > 0.0f ? own.rmse() / static_cast<double>(scale) : 0.0;
  }
};

struct DebugReport {
  std::vector<LayerReport> layers;  // in execution order
  std::size_t window_count = 0;
  ErrorAccumulator output;  // the model output, end to end
};

struct DebugOptions {
  bool split_causes = true;
  bool intermediates = true;  // compare the intermediates of layers that report them
};

namespace detail {

// Every tensor of a run, as floats (integer tensors dequantized with their parameters).
class TensorRecorder final : public nn::TensorObserver {
 public:
  TensorRecorder(std::size_t tensor_count, const QuantizedModel* quantized)
      : values_(tensor_count), raw_(tensor_count), quantized_(quantized) {}
  Status observe(nn::TensorId tensor, const nn::AnyTensor& value) override {
    std::vector<float>& out = values_[static_cast<std::size_t>(tensor)];
    std::vector<std::int32_t>& raw = raw_[static_cast<std::size_t>(tensor)];
    const std::size_t count = value.shape.element_count();
    out.resize(count);
    raw.clear();
    if (value.type == DataType::float32) {
      const float* data = static_cast<const float*>(value.data);
      std::copy(data, data + count, out.begin());
      return Status::ok();
    }
    const QuantParams& params = quantized_->tensor_quantization(tensor).params;
    raw.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      std::int32_t q = 0;
      switch (value.type) {
        case DataType::int8: q = static_cast<const std::int8_t*>(value.data)[i]; break;
        case DataType::uint8: q = static_cast<const std::uint8_t*>(value.data)[i]; break;
        case DataType::int16: q = static_cast<const std::int16_t*>(value.data)[i]; break;
        default: return Status::error(ErrorCode::unsupported_type, "debugger: tensor type");
      }
      raw[i] = q;
      out[i] = params.scale * static_cast<float>(q - params.zero_point);
    }
    return Status::ok();
  }
  const std::vector<float>& values(nn::TensorId tensor) const {
    return values_[static_cast<std::size_t>(tensor)];
  }
  const std::vector<std::int32_t>& raw(nn::TensorId tensor) const {
    return raw_[static_cast<std::size_t>(tensor)];
  }

 private:
  std::vector<std::vector<float>> values_;
  std::vector<std::vector<std::int32_t>> raw_;
  const QuantizedModel* quantized_;
};

// A 16-byte aligned byte buffer.
struct AlignedBuffer {
  std::vector<std::byte> storage;
  Span<std::byte> span;
  void resize(std::size_t bytes) {
    storage.assign(bytes + nn::kArenaAlignment, std::byte{0});
    std::size_t offset = 0;
    while (reinterpret_cast<std::uintptr_t>(storage.data() + offset) % nn::kArenaAlignment != 0)
      ++offset;
    span = Span<std::byte>(storage.data() + offset, bytes);
  }
};

// Runs one float layer on float inputs.
inline Status run_layer(const nn::Layer& layer,
                        const std::vector<const std::vector<float>*>& inputs,
                        std::vector<float>& output, AlignedBuffer& scratch) {
  TensorView<const float> views[4];
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    views[i] = TensorView<const float>(Span<const float>(*inputs[i]), layer.input_shapes()[i]);
  }
  output.assign(layer.output_shape().element_count(), 0.0f);
  scratch.resize(layer.configured_float_scratch_bytes());
  return layer.run_float(Span<const TensorView<const float>>(views, inputs.size()),
                         TensorView<float>(Span<float>(output), layer.output_shape()), scratch.span,
                         nullptr);
}

inline bool same_quantization(const nn::TensorQuantization& a, const nn::TensorQuantization& b) {
  return a.type == b.type &&
         (a.type == DataType::float32 ||
          (a.params.scale == b.params.scale && a.params.zero_point == b.params.zero_point));
}

// What a quantized model's slot held during the last recorded run, rebuilt on the host: a
// tensor's primary slot from the recorder, a conversion's slot by running that conversion again
// (the quantized layer may read its input through one: int8 -> int16, int8 -> float).
inline Status rebuild_slot(const QuantizedModel& quantized, int slot,
                           const TensorRecorder& recorded, AlignedBuffer& out, int depth = 0) {
  const QuantizedSlot& s = quantized.slots()[static_cast<std::size_t>(slot)];
  const std::size_t count = s.shape.element_count();
  const DataType type = s.quantization.type;
  out.resize(count * data_type_size(type));
  if (same_quantization(s.quantization, quantized.tensor_quantization(s.tensor))) {
    const std::vector<float>& values = recorded.values(s.tensor);
    const std::vector<std::int32_t>& raw = recorded.raw(s.tensor);
    if (values.size() != count || (type != DataType::float32 && raw.size() != count)) {
      return Status::error(ErrorCode::invalid_argument, "debugger: tensor was not recorded");
    }
    for (std::size_t i = 0; i < count; ++i) {
      switch (type) {
        case DataType::float32: reinterpret_cast<float*>(out.span.data())[i] = values[i]; break;
        case DataType::int8:
          reinterpret_cast<std::int8_t*>(out.span.data())[i] = static_cast<std::int8_t>(raw[i]);
          break;
        case DataType::uint8:
          reinterpret_cast<std::uint8_t*>(out.span.data())[i] = static_cast<std::uint8_t>(raw[i]);
          break;
        case DataType::int16:
          reinterpret_cast<std::int16_t*>(out.span.data())[i] = static_cast<std::int16_t>(raw[i]);
          break;
        default: return Status::error(ErrorCode::unsupported_type, "debugger: tensor type");
      }
    }
    return Status::ok();
  }
  for (const QuantizedStep& step : quantized.steps()) {
    if (step.output != slot || step.node >= 0 || step.inputs.size() != 1 || depth > 3) continue;
    AlignedBuffer input, scratch;
    TSQ_RETURN_IF_ERROR(rebuild_slot(quantized, step.inputs[0], recorded, input, depth + 1));
    const QuantizedSlot& from = quantized.slots()[static_cast<std::size_t>(step.inputs[0])];
    const nn::AnyTensor in{input.span.data(), from.shape, from.quantization.type};
    scratch.resize(step.layer->scratch_bytes());
    return step.layer->run(Span<const nn::AnyTensor>(&in, 1),
                           nn::AnyTensor{out.span.data(), s.shape, type}, scratch.span);
  }
  return Status::error(ErrorCode::invalid_argument, "debugger: cannot rebuild a layer input");
}

// A rebuilt slot in real units, dequantized as the recorder does.
inline void dequantize_slot(const QuantizedSlot& slot, const AlignedBuffer& buffer,
                            std::vector<float>& out) {
  const std::size_t count = slot.shape.element_count();
  const QuantParams& p = slot.quantization.params;
  out.resize(count);
  const std::byte* data = buffer.span.data();
  for (std::size_t i = 0; i < count; ++i) {
    std::int32_t q = 0;
    switch (slot.quantization.type) {
      case DataType::float32: out[i] = reinterpret_cast<const float*>(data)[i]; continue;
      case DataType::int8: q = reinterpret_cast<const std::int8_t*>(data)[i]; break;
      case DataType::uint8: q = reinterpret_cast<const std::uint8_t*>(data)[i]; break;
      case DataType::int16: q = reinterpret_cast<const std::int16_t*>(data)[i]; break;
      default: break;
    }
    out[i] = p.scale * static_cast<float>(q - p.zero_point);
  }
}

// The |value| from which an intermediate counts as saturated: the quantized form at the int16
// limits of its storage, the float twin beyond them (0: no limit).
struct IntermediateLimits {
  double quantized = 0.0;
  double reference = 0.0;
};
inline IntermediateLimits intermediate_limits(const std::string& name, float scale) {
  const std::string gate = "gate pre-activation";
  const bool is_gate =
      name.size() >= gate.size() && name.compare(name.size() - gate.size(), gate.size(), gate) == 0;
  // Gate pre-activations are Q3.12 in every integer LSTM: counted for the float forms too.
  const double step = scale > 0.0f ? static_cast<double>(scale) : (is_gate ? 1.0 / 4096.0 : 0.0);
  return IntermediateLimits{32767.0 * step, 32768.0 * step};
}

// Workspace of the intermediate comparison, reused across windows.
struct IntermediateWork {
  std::vector<AlignedBuffer> slots;
  std::vector<std::vector<float>> real;
  std::vector<nn::Intermediate> got, reference;
  std::vector<std::vector<std::size_t>> saturated;  // per node, per intermediate
  std::vector<std::vector<float>> probe;
};

// Whether a float layer reports intermediates (`out` non-empty), asked on zero windows.
inline Status probe_intermediates(const nn::Layer& layer, std::vector<std::vector<float>>& zeros,
                                  std::vector<nn::Intermediate>& out) {
  const std::vector<Shape>& shapes = layer.input_shapes();
  if (shapes.size() > 4) return Status::error(ErrorCode::invalid_argument, "debugger: inputs");
  zeros.resize(shapes.size());
  TensorView<const float> views[4];
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    zeros[i].assign(shapes[i].element_count(), 0.0f);
    views[i] = TensorView<const float>(Span<const float>(zeros[i]), shapes[i]);
  }
  return layer.float_intermediates(Span<const TensorView<const float>>(views, shapes.size()), out);
}

// The layer's intermediates (quantized form vs float twin, on the input the quantized layer read),
// added to `layer`.
inline Status compare_intermediates(const QuantizedModel& quantized, std::size_t node,
                                    const TensorRecorder& recorded, LayerReport& layer,
                                    std::vector<std::size_t>& saturated, IntermediateWork& work) {
  const QuantizedStep& step = quantized.node_step(node);
  const nn::Layer& twin = quantized.float_model().layer(node);
  const std::size_t count = step.inputs.size();
  if (count > 4) return Status::error(ErrorCode::invalid_argument, "debugger: too many inputs");
  work.slots.resize(count);
  work.real.resize(count);
  nn::AnyTensor inputs[4];
  TensorView<const float> views[4];
  for (std::size_t i = 0; i < count; ++i) {
    const QuantizedSlot& slot = quantized.slots()[static_cast<std::size_t>(step.inputs[i])];
    TSQ_RETURN_IF_ERROR(rebuild_slot(quantized, step.inputs[i], recorded, work.slots[i]));
    inputs[i] = nn::AnyTensor{work.slots[i].span.data(), slot.shape, slot.quantization.type};
    dequantize_slot(slot, work.slots[i], work.real[i]);
    views[i] = TensorView<const float>(Span<const float>(work.real[i]), twin.input_shapes()[i]);
  }
  TSQ_RETURN_IF_ERROR(
      step.layer->intermediates(Span<const nn::AnyTensor>(inputs, count), work.got));
  if (work.got.empty()) return Status::ok();
  TSQ_RETURN_IF_ERROR(
      twin.float_intermediates(Span<const TensorView<const float>>(views, count), work.reference));
  bool match = work.got.size() == work.reference.size();
  for (std::size_t k = 0; match && k < work.got.size(); ++k) {
    match = work.got[k].name == work.reference[k].name &&
            work.got[k].values.size() == work.reference[k].values.size();
  }
  if (!match) {
    return Status::error(ErrorCode::invalid_argument, "debugger: layer '")
        .append(twin.name().c_str())
        .append("' reports other intermediates than its float twin");
  }
  if (layer.intermediates.empty()) {
    for (const nn::Intermediate& i : work.got) {
      IntermediateReport r;
      r.name = i.name;
      r.scale = i.scale;
      layer.intermediates.push_back(r);
    }
    saturated.assign(work.got.size(), 0);
  }
  for (std::size_t k = 0; k < work.got.size(); ++k) {
    IntermediateReport& r = layer.intermediates[k];
    const IntermediateLimits limits = intermediate_limits(r.name, r.scale);
    const std::vector<float>& got = work.got[k].values;
    const std::vector<float>& reference = work.reference[k].values;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double g = got[i], f = reference[i];
      r.error.add(g - f, f);
      if (limits.quantized > 0.0 &&
          (std::fabs(g) >= limits.quantized || std::fabs(f) >= limits.reference)) {
        ++saturated[k];
      }
    }
  }
  return Status::ok();
}

// "; worst intermediate: <name> (rmse/S 18.2, 3.1% at the limits)" (rmse for float forms).
inline std::string worst_intermediate(const LayerReport& layer) {
  const IntermediateReport* worst = nullptr;
  const auto measure = [](const IntermediateReport& r) {
    return r.scale > 0.0f ? r.rmse_over_scale() : r.rmse();
  };
  for (const IntermediateReport& r : layer.intermediates) {
    if (worst == nullptr || measure(r) > measure(*worst)) worst = &r;
  }
  if (worst == nullptr) return std::string();
  char text[96];
  std::snprintf(text, sizeof text, " (%s %.3g, %.1f%% at the limits)",
                worst->scale > 0.0f ? "rmse/S" : "rmse", measure(*worst),
                100.0 * worst->saturated_share);
  return "; worst intermediate: " + worst->name + text;
}

}  // namespace detail

// Compares `quantized` with its float twin over `windows` (window_count * input_size floats).
inline Result<DebugReport> debug_model(const QuantizedModel& quantized, Span<const float> windows,
                                       const DebugOptions& options = {}) {
  const nn::Model& model = quantized.float_model();
  const std::size_t input_size = model.input_size();
  if (windows.empty() || windows.size() % input_size != 0) {
    return Status::error(ErrorCode::shape_mismatch, "debugger: data is not whole windows of ")
        .append(input_size);
  }
  const std::size_t count = windows.size() / input_size;
  DebugReport report;
  report.window_count = count;
  std::vector<std::unique_ptr<nn::Layer>> rounded(model.node_count());
  // Only layers that report intermediates have their inputs rebuilt and compared inside.
  std::vector<bool> compare_inside(model.node_count(), false);
  detail::IntermediateWork intermediate_work;
  intermediate_work.saturated.resize(model.node_count());
  for (std::size_t n = 0; n < model.node_count(); ++n) {
    const QuantizedStep& step = quantized.node_step(n);
    LayerReport layer;
    layer.name = model.layer(n).name();
    layer.kind = model.layer(n).kind();
    layer.precision = step.precision;
    const nn::TensorQuantization& q = quantized.tensor_quantization(model.node_output(n));
    layer.type = q.type;
    if (q.type != DataType::float32) {
      layer.scale = q.params.scale;
      layer.zero_point = q.params.zero_point;
      layer.range = static_cast<double>(q.params.quant_max - q.params.quant_min) * q.params.scale;
    }
    layer.constant_output = step.layer->multipliers_flush_to_zero();
    report.layers.push_back(layer);
    if (options.split_causes && step.precision != nn::Precision::float32) {
      rounded[n] = model.layer(n).with_rounded_weights(step.precision);
    }
    if (options.intermediates && step.precision != nn::Precision::float32) {
      TSQ_RETURN_IF_ERROR(detail::probe_intermediates(model.layer(n), intermediate_work.probe,
                                                      intermediate_work.got));
      compare_inside[n] = !intermediate_work.got.empty();
    }
  }
  detail::AlignedBuffer float_arena, quantized_arena, scratch;
  float_arena.resize(model.arena_bytes());
  quantized_arena.resize(quantized.arena_bytes());
  detail::TensorRecorder float_tensors(model.tensors().size(), &quantized);
  detail::TensorRecorder quantized_tensors(model.tensors().size(), &quantized);
  std::vector<float> float_output(model.output_size());
  std::vector<float> own_reference, weight_rounded;
  std::vector<std::int8_t> input8(input_size), output8(model.output_size());
  std::vector<std::uint8_t> inputu8(input_size), outputu8(model.output_size());
  std::vector<float> output_f(model.output_size());
  for (std::size_t w = 0; w < count; ++w) {
    const Span<const float> window = windows.subspan(w * input_size, input_size);
    TSQ_RETURN_IF_ERROR(model.run(window, float_output, float_arena.span, &float_tensors));
    // The quantized model takes the window in its own input form.
    const nn::TensorQuantization& in_q = quantized.input_quantization();
    if (in_q.type == DataType::float32) {
      TSQ_RETURN_IF_ERROR(
          quantized.run(window, output_f, quantized_arena.span, &quantized_tensors));
    } else if (in_q.type == DataType::int8) {
      TSQ_RETURN_IF_ERROR(tsq::quantize<std::int8_t>(window, input8, in_q.params));
      TSQ_RETURN_IF_ERROR(quantized.run(Span<const std::int8_t>(input8), Span<std::int8_t>(output8),
                                        quantized_arena.span, &quantized_tensors));
    } else {
      TSQ_RETURN_IF_ERROR(tsq::quantize<std::uint8_t>(window, inputu8, in_q.params));
      TSQ_RETURN_IF_ERROR(quantized.run(Span<const std::uint8_t>(inputu8),
                                        Span<std::uint8_t>(outputu8), quantized_arena.span,
                                        &quantized_tensors));
    }
    for (std::size_t n = 0; n < model.node_count(); ++n) {
      LayerReport& layer = report.layers[n];
      const nn::TensorId out = model.node_output(n);
      const std::vector<float>& reference = float_tensors.values(out);
      const std::vector<float>& got = quantized_tensors.values(out);
      for (std::size_t i = 0; i < reference.size(); ++i) {
        layer.end_to_end.add(static_cast<double>(got[i]) - reference[i], reference[i]);
      }
      // The layer alone: its float twin on the quantized model's (dequantized) inputs.
      std::vector<const std::vector<float>*> inputs;
      for (const nn::TensorId id : model.node_inputs(n))
        inputs.push_back(&quantized_tensors.values(id));
      TSQ_RETURN_IF_ERROR(detail::run_layer(model.layer(n), inputs, own_reference, scratch));
      for (std::size_t i = 0; i < own_reference.size(); ++i) {
        layer.own.add(static_cast<double>(got[i]) - own_reference[i], own_reference[i]);
      }
      if (compare_inside[n]) {
        TSQ_RETURN_IF_ERROR(detail::compare_intermediates(quantized, n, quantized_tensors, layer,
                                                          intermediate_work.saturated[n],
                                                          intermediate_work));
      }
      if (layer.type == DataType::float32) continue;
      // Saturation share and the causes of the layer's own error.
      const std::vector<std::int32_t>& raw = quantized_tensors.raw(out);
      const nn::TensorQuantization& q = quantized.tensor_quantization(out);
      std::size_t saturated = 0;
      for (const std::int32_t v : raw)
        saturated += (v == q.params.quant_min || v == q.params.quant_max) ? 1 : 0;
      layer.saturated_share += static_cast<double>(saturated);
      if (!options.split_causes) continue;
      const double low =
          static_cast<double>(q.params.scale) * (q.params.quant_min - q.params.zero_point);
      const double high =
          static_cast<double>(q.params.scale) * (q.params.quant_max - q.params.zero_point);
      double weight_sq = 0.0, activation_sq = 0.0, saturation_sq = 0.0;
      if (rounded[n] != nullptr) {
        TSQ_RETURN_IF_ERROR(detail::run_layer(*rounded[n], inputs, weight_rounded, scratch));
        for (std::size_t i = 0; i < own_reference.size(); ++i) {
          const double d = static_cast<double>(weight_rounded[i]) - own_reference[i];
          weight_sq += d * d;
        }
      }
      for (std::size_t i = 0; i < own_reference.size(); ++i) {
        const double exact = own_reference[i];
        const double clipped = std::min(std::max(exact, low), high);
        saturation_sq += (clipped - exact) * (clipped - exact);
        const double step = static_cast<double>(q.params.scale);
        const double rounded_value = std::round(clipped / step) * step;
        activation_sq += (rounded_value - clipped) * (rounded_value - clipped);
      }
      layer.weight_rounding += weight_sq;
      layer.activation_rounding += activation_sq;
      layer.saturation += saturation_sq;
    }
    const std::vector<float>& final_float = float_tensors.values(model.output_tensor());
    const std::vector<float>& final_quantized = quantized_tensors.values(model.output_tensor());
    for (std::size_t i = 0; i < final_float.size(); ++i) {
      report.output.add(static_cast<double>(final_quantized[i]) - final_float[i], final_float[i]);
    }
  }
  for (std::size_t node = 0; node < report.layers.size(); ++node) {
    LayerReport& layer = report.layers[node];
    for (std::size_t k = 0; k < layer.intermediates.size(); ++k) {
      IntermediateReport& r = layer.intermediates[k];
      r.saturated_share = static_cast<double>(intermediate_work.saturated[node][k]) /
                          static_cast<double>(std::max<std::size_t>(r.error.count, 1));
    }
    const double n = static_cast<double>(std::max<std::size_t>(layer.own.count, 1));
    if (layer.type != DataType::float32) {
      const double scale = static_cast<double>(layer.scale);
      layer.weight_rounding = std::sqrt(layer.weight_rounding / n) / scale;
      layer.activation_rounding = std::sqrt(layer.activation_rounding / n) / scale;
      layer.saturation = std::sqrt(layer.saturation / n) / scale;
      layer.saturated_share /=
          static_cast<double>(std::max<std::size_t>(layer.end_to_end.count, 1));
    }
    if (layer.constant_output) {
      layer.flagged = true;
      layer.flag_reason = "every multiplier flushed to zero: constant output";
    } else if (layer.type != DataType::float32 && layer.rmse_over_scale() > kRmseOverScaleFlag) {
      layer.flagged = true;
      const double causes[] = {layer.weight_rounding, layer.activation_rounding, layer.saturation};
      const char* names[] = {"weight rounding", "activation rounding", "saturation"};
      const std::size_t worst =
          static_cast<std::size_t>(std::max_element(causes, causes + 3) - causes);
      // The layer's own error under the threshold: the excess comes from earlier layers.
      const bool inherited = layer.own_rmse_over_scale() <= kRmseOverScaleFlag;
      layer.flag_reason = std::string("rmse/scale > 0.7: ") +
                          (inherited ? "inherited from earlier layers"
                                     : std::string("own error, ") + names[worst] + " dominates");
    }
    if (layer.flagged) layer.flag_reason += detail::worst_intermediate(layer);
  }
  return report;
}

// An aligned text table of the report.
inline void print_debug_report(std::FILE* out, const DebugReport& report) {
  std::fprintf(out, "%-3s %-20s %-15s %-7s %10s %5s %9s %9s %9s %9s %7s %7s %7s %7s %7s %6s  %s\n",
               "#", "layer", "precision", "type", "scale", "zp", "mean err", "std", "max|err|",
               "MSE", "rmse/S", "own", "weight", "act", "sat", "SQNR", "flag");
  for (std::size_t i = 0; i < report.layers.size(); ++i) {
    const LayerReport& l = report.layers[i];
    std::fprintf(out,
                 "%-3zu %-20.20s %-15s %-7s %10.3g %5d %9.2e %9.2e %9.2e %9.2e %7.3f %7.3f %7.3f "
                 "%7.3f %7.3f %6.1f  %s\n",
                 i, l.name.c_str(), nn::precision_name(l.precision), data_type_name(l.type),
                 static_cast<double>(l.scale), l.zero_point, l.end_to_end.mean(),
                 l.end_to_end.std_dev(), l.end_to_end.max_abs, l.end_to_end.mse(),
                 l.rmse_over_scale(), l.own_rmse_over_scale(), l.weight_rounding,
                 l.activation_rounding, l.saturation, l.end_to_end.sqnr_db(),
                 l.flagged ? l.flag_reason.c_str() : "");
    if (l.intermediates.empty()) continue;
    // The layer's insides, each against its float twin on the same input.
    std::fprintf(out, "    %-36s %10s %9s %9s %8s %10s\n", "intermediate (own error)", "scale",
                 "rmse", "max|err|", "rmse/S", "at limits");
    for (const IntermediateReport& r : l.intermediates) {
      char over_scale[16] = "-";
      if (r.scale > 0.0f) std::snprintf(over_scale, sizeof over_scale, "%.3f", r.rmse_over_scale());
      std::fprintf(out, "    %-36.36s %10.3g %9.2e %9.2e %8s %9.2f%%\n", r.name.c_str(),
                   static_cast<double>(r.scale), r.rmse(), r.max_abs(), over_scale,
                   100.0 * r.saturated_share);
    }
  }
}

inline Status write_debug_csv(const DebugReport& report, const std::string& path) {
  CsvWriter csv({"index",
                 "layer",
                 "kind",
                 "precision",
                 "type",
                 "scale",
                 "zero_point",
                 "range",
                 "mean_error",
                 "std_error",
                 "max_abs_error",
                 "mse",
                 "rmse_over_scale",
                 "own_rmse_over_scale",
                 "weight_rounding",
                 "activation_rounding",
                 "saturation",
                 "sqnr_db",
                 "saturated_share",
                 "flag",
                 "intermediate"});
  for (std::size_t i = 0; i < report.layers.size(); ++i) {
    const LayerReport& l = report.layers[i];
    TSQ_RETURN_IF_ERROR(csv.add_row({CsvCell(static_cast<std::int64_t>(i)),
                                     CsvCell(l.name),
                                     CsvCell(l.kind),
                                     CsvCell(nn::precision_name(l.precision)),
                                     CsvCell(data_type_name(l.type)),
                                     CsvCell(static_cast<double>(l.scale)),
                                     CsvCell(static_cast<std::int64_t>(l.zero_point)),
                                     CsvCell(l.range),
                                     CsvCell(l.end_to_end.mean()),
                                     CsvCell(l.end_to_end.std_dev()),
                                     CsvCell(l.end_to_end.max_abs),
                                     CsvCell(l.end_to_end.mse()),
                                     CsvCell(l.rmse_over_scale()),
                                     CsvCell(l.own_rmse_over_scale()),
                                     CsvCell(l.weight_rounding),
                                     CsvCell(l.activation_rounding),
                                     CsvCell(l.saturation),
                                     CsvCell(l.end_to_end.sqnr_db()),
                                     CsvCell(l.saturated_share),
                                     CsvCell(l.flagged ? l.flag_reason : std::string()),
                                     CsvCell("")}));
    // The layer's intermediates, each on a row of its own (see the top of this file).
    for (const IntermediateReport& r : l.intermediates) {
      TSQ_RETURN_IF_ERROR(csv.add_row({CsvCell(static_cast<std::int64_t>(i)),
                                       CsvCell(l.name),
                                       CsvCell(l.kind),
                                       CsvCell(nn::precision_name(l.precision)),
                                       CsvCell(r.scale > 0.0f ? "int16" : "float32"),
                                       CsvCell(static_cast<double>(r.scale)),
                                       CsvCell(""),
                                       CsvCell(""),
                                       CsvCell(r.error.mean()),
                                       CsvCell(r.error.std_dev()),
                                       CsvCell(r.error.max_abs),
                                       CsvCell(r.error.mse()),
                                       CsvCell(""),
                                       r.scale > 0.0f ? CsvCell(r.rmse_over_scale()) : CsvCell(""),
                                       CsvCell(""),
                                       CsvCell(""),
                                       CsvCell(""),
                                       CsvCell(r.error.sqnr_db()),
                                       CsvCell(r.saturated_share),
                                       CsvCell(""),
                                       CsvCell(r.name)}));
    }
  }
  return csv.write_file(path);
}

// One SVG per metric over the layer index: <prefix>_<metric>.svg. Returns the files written.
inline Result<std::vector<std::string>> write_debug_plots(const DebugReport& report,
                                                          const std::string& prefix) {
  std::vector<std::string> names;
  for (const LayerReport& l : report.layers) names.push_back(l.name);
  struct Metric {
    const char* file;
    const char* title;
    bool log_y;
    double (*value)(const LayerReport&);
  };
  const Metric metrics[] = {
      {"rmse_over_scale", "rmse / scale (end to end and the layer's own)", false,
       [](const LayerReport& l) { return l.rmse_over_scale(); }},
      {"sqnr_db", "SQNR (dB)", false, [](const LayerReport& l) { return l.end_to_end.sqnr_db(); }},
      {"max_abs_error", "max |error|", true,
       [](const LayerReport& l) { return l.end_to_end.max_abs; }},
      {"mean_error", "mean error", false, [](const LayerReport& l) { return l.end_to_end.mean(); }},
      {"mse", "MSE", true, [](const LayerReport& l) { return l.end_to_end.mse(); }},
      {"saturated_share", "share of outputs at the type limits", false,
       [](const LayerReport& l) { return l.saturated_share; }},
  };
  std::vector<std::string> written;
  for (const Metric& metric : metrics) {
    LinePlot plot;
    plot.title = metric.title;
    plot.y_label = metric.file;
    plot.layer_names = names;
    plot.log_y = metric.log_y;
    PlotSeries series{metric.file, {}};
    for (const LayerReport& l : report.layers) series.values.push_back(metric.value(l));
    plot.series.push_back(series);
    if (std::string(metric.file) == "rmse_over_scale") {
      PlotSeries own{"own", {}};
      for (const LayerReport& l : report.layers) own.values.push_back(l.own_rmse_over_scale());
      plot.series.push_back(own);
      plot.threshold = kRmseOverScaleFlag;
      plot.threshold_label = "flag 0.7";
    }
    const std::string path = prefix + "_" + metric.file + ".svg";
    TSQ_RETURN_IF_ERROR(write_svg(plot, path));
    written.push_back(path);
  }
  return written;
}

}  // namespace debug
}  // namespace tsq
