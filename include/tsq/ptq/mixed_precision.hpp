// SPDX-License-Identifier: Apache-2.0
// Automatic mixed precision (host): quantize, measure every layer with the debugger, promote the
// worst layer to the cheapest fix that helps, repeat until every layer's rmse/scale is under the
// threshold or nothing is left to try. The model stays integer-only: the fixes are int16 weights
// (when weight rounding dominates the layer's own error) and int16 activations (when activation
// rounding or saturation does); a fix that does not lower the layer's error is undone.
//
//   auto mixed = tsq::quantize_mixed_precision(model, calibration, windows);
//   for (const auto& step : mixed->log) std::puts(step.c_str());
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "tsq/debug/debugger.hpp"
#include "tsq/ptq/quantize_model.hpp"

namespace tsq {

struct MixedPrecisionOptions {
  double threshold = 0.45;  // rmse/scale every integer layer should reach
  std::size_t max_promotions = 16;
  Scheme base = Scheme::fiq_float32();
};

struct MixedPrecisionResult {
  QuantizedModel model;
  Scheme scheme;                 // base plus the promotions kept
  std::vector<std::string> log;  // one line per promotion tried
  debug::DebugReport report;     // of the final model on the given windows
};

// `windows` (calibration data or a held-out part of it; never the test split) drive the search.
inline Result<MixedPrecisionResult> quantize_mixed_precision(
    const nn::Model& model, const Calibration& calibration, Span<const float> windows,
    const MixedPrecisionOptions& options = {}) {
  MixedPrecisionResult result;
  result.scheme = options.base;
  if (result.scheme.name.find("+mixed") == std::string::npos) result.scheme.name += "+mixed";
  Result<QuantizedModel> current = quantize(model, calibration, result.scheme);
  if (!current.is_ok()) return current.status();
  Result<debug::DebugReport> report = debug::debug_model(current.value(), windows);
  if (!report.is_ok()) return report.status();
  // Fixes already tried per layer (so that the search ends).
  std::vector<std::vector<nn::Precision>> tried(model.node_count());
  for (std::size_t step = 0; step < options.max_promotions; ++step) {
    // The worst integer layer still over the threshold with a fix left to try.
    int worst = -1;
    nn::Precision fix = nn::Precision::int8;
    double worst_error = options.threshold;
    for (std::size_t n = 0; n < model.node_count(); ++n) {
      const debug::LayerReport& layer = report->layers[n];
      if (layer.precision != nn::Precision::int8 || layer.rmse_over_scale() <= worst_error)
        continue;
      const nn::Layer& l = model.layer(n);
      const bool weights_dominate = layer.weight_rounding > layer.activation_rounding &&
                                    layer.weight_rounding > layer.saturation;
      std::vector<nn::Precision> order =
          weights_dominate ? std::vector<nn::Precision>{nn::Precision::int16_weights,
                                                        nn::Precision::int16_activations}
                           : std::vector<nn::Precision>{nn::Precision::int16_activations,
                                                        nn::Precision::int16_weights};
      for (const nn::Precision candidate : order) {
        bool done = false;
        for (const nn::Precision t : tried[n]) done = done || t == candidate;
        if (!done && l.supports(candidate) && !l.passes_quantization_through()) {
          worst = static_cast<int>(n);
          fix = candidate;
          worst_error = layer.rmse_over_scale();
          break;
        }
      }
    }
    if (worst < 0) break;
    const auto n = static_cast<std::size_t>(worst);
    tried[n].push_back(fix);
    Scheme candidate = result.scheme;
    candidate.set(model.layer(n).name(), fix);
    Result<QuantizedModel> promoted = quantize(model, calibration, candidate);
    if (!promoted.is_ok()) return promoted.status();
    Result<debug::DebugReport> promoted_report = debug::debug_model(promoted.value(), windows);
    if (!promoted_report.is_ok()) return promoted_report.status();
    // Both against the int8 step the layer had: an int16 layer's own scale is 256 times finer.
    const double int8_scale = static_cast<double>(report->layers[n].scale);
    const double before = report->layers[n].rmse_over_scale();
    const double after = promoted_report->layers[n].end_to_end.rmse() / int8_scale;
    // A promoted layer's output scale changes (int16): compare its error in real units.
    const double before_rmse = report->layers[n].end_to_end.rmse();
    const double after_rmse = promoted_report->layers[n].end_to_end.rmse();
    char line[256];
    const bool keep = after_rmse < before_rmse;
    std::snprintf(line, sizeof(line),
                  "%s: int8 -> %s, rmse / int8 scale %.3f -> %.3f (rmse %.3g -> %.3g): %s",
                  model.layer(n).name().c_str(), nn::precision_name(fix), before, after,
                  before_rmse, after_rmse, keep ? "kept" : "undone");
    result.log.emplace_back(line);
    if (keep) {
      result.scheme = candidate;
      current = std::move(promoted);
      report = std::move(promoted_report);
    }
  }
  result.model = std::move(current).value();
  result.report = std::move(report).value();
  return result;
}

}  // namespace tsq
