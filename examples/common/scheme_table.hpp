// SPDX-License-Identifier: Apache-2.0
// What the HAR and ECG examples share: a float model calibrated once and quantized with every
// scheme of the study plus automatic mixed precision, each evaluated as a classifier (accuracy,
// macro precision / recall / F1, balanced accuracy, Cohen's kappa, stored size, agreement with
// the float model), the FIQ-INT8 debugger's per-layer table with CSV and SVG files, and the
// tables as JSON.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "tsq/debug/debugger.hpp"
#include "tsq/debug/metrics.hpp"
#include "tsq/ptq/mixed_precision.hpp"
#include "tsq/ptq/quantize_model.hpp"
#include "tsq/quant/quantize.hpp"

namespace examples {

inline int fail(const std::string& what, const tsq::Status& status) {
  std::fprintf(stderr, "error: %s: %s (%s)\n", what.c_str(), status.message(),
               tsq::error_code_name(status.code()));
  return 1;
}

// Labelled windows of `width` float values each, already scaled as the model expects.
struct Windows {
  std::size_t width = 0;
  std::vector<float> values;  // count() * width
  std::vector<std::uint8_t> labels;

  std::size_t count() const { return labels.size(); }
  tsq::Span<const float> window(std::size_t i) const {
    return tsq::Span<const float>(values.data() + i * width, width);
  }
  void add(const Windows& from, std::size_t i) {
    values.insert(values.end(), from.values.begin() + static_cast<std::ptrdiff_t>(i * width),
                  from.values.begin() + static_cast<std::ptrdiff_t>((i + 1) * width));
    labels.push_back(from.labels[i]);
  }
  Windows every(std::size_t step) const {
    Windows out{width, {}, {}};
    for (std::size_t i = 0; i < count(); i += step) out.add(*this, i);
    return out;
  }
};

struct Evaluation {
  tsq::debug::ClassificationMetrics metrics;
  std::vector<std::size_t> predictions;
  std::size_t size_bytes = 0;
  double agreement = 1.0;  // share of windows predicted as the float model does
};

// Integer I/O: the caller quantizes the window and reads the integer scores (the argmax is the
// same before and after dequantization, the scale being positive).
template <typename T>
tsq::Status run_integer(const tsq::QuantizedModel& q, tsq::Span<const float> window,
                        std::vector<float>& scores, std::vector<std::byte>& arena) {
  std::vector<T> in(window.size()), out(scores.size());
  TSQ_RETURN_IF_ERROR(
      tsq::quantize(window, tsq::Span<T>(in.data(), in.size()), q.input_quantization().params));
  TSQ_RETURN_IF_ERROR(
      q.run(tsq::Span<const T>(in.data(), in.size()), tsq::Span<T>(out.data(), out.size()), arena));
  return tsq::dequantize(tsq::Span<const T>(out.data(), out.size()),
                         tsq::Span<float>(scores.data(), scores.size()),
                         q.output_quantization().params);
}

inline tsq::Result<Evaluation> evaluate(const tsq::QuantizedModel& q, const Windows& windows,
                                        std::size_t classes) {
  Evaluation result;
  tsq::debug::ConfusionMatrix confusion(classes);
  std::vector<std::byte> arena(q.arena_bytes());
  std::vector<float> scores(classes);
  const tsq::DataType io = q.input_quantization().type;
  for (std::size_t i = 0; i < windows.count(); ++i) {
    const tsq::Span<const float> window = windows.window(i);
    const tsq::Status status =
        io == tsq::DataType::int8    ? run_integer<std::int8_t>(q, window, scores, arena)
        : io == tsq::DataType::uint8 ? run_integer<std::uint8_t>(q, window, scores, arena)
                                     : q.run(window, tsq::Span<float>(scores), arena);
    TSQ_RETURN_IF_ERROR(status);
    const std::size_t predicted = tsq::debug::argmax(tsq::Span<const float>(scores)).value();
    result.predictions.push_back(predicted);
    TSQ_RETURN_IF_ERROR(confusion.add(windows.labels[i], static_cast<std::int64_t>(predicted)));
  }
  auto metrics = tsq::debug::compute_metrics(confusion);
  if (!metrics.is_ok()) return metrics.status();
  result.metrics = metrics.value();
  result.size_bytes = q.parameter_bytes().total();
  return result;
}

struct ModelResult {
  std::string name;
  std::vector<std::pair<std::string, Evaluation>> schemes;  // "float" first
  tsq::debug::DebugReport int8_report;
  tsq::QuantizedModel int8;  // the FIQ-INT8 model the report is of

  const Evaluation* find(const std::string& scheme) const {
    for (const auto& entry : schemes)
      if (entry.first == scheme) return &entry.second;
    return nullptr;
  }
  // Agreement of every row with the "float" row.
  void set_agreement() {
    const std::vector<std::size_t>& reference = schemes.front().second.predictions;
    for (auto& entry : schemes) {
      std::size_t same = 0;
      for (std::size_t i = 0; i < reference.size(); ++i)
        same += entry.second.predictions[i] == reference[i];
      entry.second.agreement =
          reference.empty() ? 1.0
                            : static_cast<double>(same) / static_cast<double>(reference.size());
    }
  }
};

// Every scheme of the study, then mixed precision searched on the calibration windows (never on
// the evaluation windows), each evaluated on `windows`. Keeps the FIQ-INT8 model for the debugger.
inline tsq::Status evaluate_schemes(const tsq::nn::Model& model,
                                    const tsq::Calibration& calibration,
                                    tsq::Span<const float> calibration_windows,
                                    const Windows& windows, std::size_t classes,
                                    ModelResult& result) {
  const std::pair<const char*, tsq::Scheme> schemes[] = {
      {"float", tsq::Scheme::float32()},     {"drq", tsq::Scheme::drq()},
      {"float16", tsq::Scheme::float16()},   {"fiq_float32", tsq::Scheme::fiq_float32()},
      {"fiq_int8", tsq::Scheme::fiq_int8()}, {"fiq_uint8", tsq::Scheme::fiq_uint8()}};
  for (const auto& [name, scheme] : schemes) {
    auto q = tsq::quantize(model, calibration, scheme);
    if (!q.is_ok()) return q.status();
    auto e = evaluate(q.value(), windows, classes);
    if (!e.is_ok()) return e.status();
    result.schemes.emplace_back(name, std::move(e).value());
    if (std::string(name) == "fiq_int8") result.int8 = std::move(q).value();
  }
  tsq::MixedPrecisionOptions mixed_options;
  mixed_options.threshold = 0.45;
  mixed_options.base = tsq::Scheme::fiq_float32();
  auto mixed =
      tsq::quantize_mixed_precision(model, calibration, calibration_windows, mixed_options);
  if (!mixed.is_ok()) return mixed.status();
  std::printf("mixed precision (threshold 0.45, base fiq_float32):%s\n",
              mixed->log.empty() ? " every integer layer already under the threshold" : "");
  for (const std::string& line : mixed->log) std::printf("  %s\n", line.c_str());
  auto e = evaluate(mixed->model, windows, classes);
  if (!e.is_ok()) return e.status();
  result.schemes.emplace_back("mixed", std::move(e).value());
  result.set_agreement();
  return tsq::Status::ok();
}

inline void print_table(const ModelResult& m) {
  std::printf("%-18s %9s %9s %9s %9s %9s %9s %8s %10s\n", "scheme", "accuracy", "precision",
              "recall", "F1", "bal. acc", "kappa", "bytes", "agreement");
  for (const auto& [scheme, e] : m.schemes) {
    const auto& x = e.metrics;
    std::printf("%-18s %8.2f%% %9.4f %9.4f %9.4f %9.4f %9.4f %8zu %9.2f%%\n", scheme.c_str(),
                100.0 * x.accuracy, x.macro_precision, x.macro_recall, x.macro_f1,
                x.balanced_accuracy, x.cohen_kappa, e.size_bytes, 100.0 * e.agreement);
  }
}

// The FIQ-INT8 debugger on `windows`, printed and written as <prefix>.csv and <prefix>_*.svg.
inline tsq::Status debug_int8(ModelResult& m, const Windows& windows, const std::string& prefix) {
  auto report = tsq::debug::debug_model(m.int8, windows.values);
  if (!report.is_ok()) return report.status();
  std::printf("\n== %s, fiq_int8: per-layer error against the float model on %zu windows\n",
              m.name.c_str(), windows.count());
  tsq::debug::print_debug_report(stdout, report.value());
  TSQ_RETURN_IF_ERROR(tsq::debug::write_debug_csv(report.value(), prefix + ".csv"));
  auto plots = tsq::debug::write_debug_plots(report.value(), prefix);
  if (!plots.is_ok()) return plots.status();
  std::printf("wrote %s.csv and %zu plots %s_*.svg\n", prefix.c_str(), plots->size(),
              prefix.c_str());
  m.int8_report = std::move(report).value();
  return tsq::Status::ok();
}

// {"models": [{"name": ..., "schemes": {"float": {"accuracy": 0.9891, ...}, ...},
//              "layers": [{"name": ..., "rmse_over_scale": ...}, ...]}]}, accuracy as a fraction.
inline bool write_json(const std::string& path, const std::vector<ModelResult>& models) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return false;
  std::fprintf(out, "{\"models\": [");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const ModelResult& m = models[i];
    std::fprintf(out, "%s\n  {\"name\": \"%s\", \"schemes\": {", i ? "," : "", m.name.c_str());
    for (std::size_t s = 0; s < m.schemes.size(); ++s) {
      const auto& x = m.schemes[s].second.metrics;
      std::fprintf(out,
                   "%s\n    \"%s\": {\"accuracy\": %.6f, \"precision\": %.6f, \"recall\": %.6f, "
                   "\"f1\": %.6f, \"balanced_accuracy\": %.6f, \"kappa\": %.6f, \"size_bytes\": "
                   "%zu, \"agreement\": %.6f}",
                   s ? "," : "", m.schemes[s].first.c_str(), x.accuracy, x.macro_precision,
                   x.macro_recall, x.macro_f1, x.balanced_accuracy, x.cohen_kappa,
                   m.schemes[s].second.size_bytes, m.schemes[s].second.agreement);
    }
    std::fprintf(out, "},\n   \"layers\": [");
    for (std::size_t l = 0; l < m.int8_report.layers.size(); ++l) {
      std::fprintf(out, "%s{\"name\": \"%s\", \"rmse_over_scale\": %.6f}", l ? ", " : "",
                   m.int8_report.layers[l].name.c_str(), m.int8_report.layers[l].rmse_over_scale());
    }
    std::fprintf(out, "]}");
  }
  std::fprintf(out, "\n]}\n");
  return std::fclose(out) == 0;
}

}  // namespace examples
