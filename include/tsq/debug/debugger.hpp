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
// Flags: rmse/scale > 0.7 (the study's rule; 0.29 = 1/sqrt(12) is pure rounding noise), with the
// dominant cause, and layers whose multipliers all flushed to zero (a constant output).
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
  for (LayerReport& layer : report.layers) {
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
                 "flag"});
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
                                     CsvCell(l.flagged ? l.flag_reason : std::string())}));
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
