// SPDX-License-Identifier: Apache-2.0
// Automatic mixed precision (host): quantize, measure every layer with the debugger, promote a
// layer to the cheapest fix that helps, repeat until every layer's error is under the threshold
// (rmse in steps of its int8 scale) or nothing is left to try. Errors add up along the graph, so
// the layer promoted may be upstream of the one over the threshold. The model stays integer-only:
// the fixes are int16 weights (when weight rounding dominates the layer's own error) and int16
// activations (when activation rounding or saturation does); a fix that does not lower the total
// error above the threshold is undone.
//
//   auto mixed = tsq::quantize_mixed_precision(model, calibration, windows);
//   for (const auto& step : mixed->log) std::puts(step.c_str());
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tsq/debug/debugger.hpp"
#include "tsq/ptq/quantize_model.hpp"

namespace tsq {

struct MixedPrecisionOptions {
  double threshold = 0.45;              // rmse/scale every integer layer should reach
  std::size_t max_promotions = 16;      // steps of the search
  std::size_t candidates_per_step = 3;  // layers tried per step
  Scheme base = Scheme::fiq_float32();
};

struct MixedPrecisionResult {
  QuantizedModel model;
  Scheme scheme;                 // base plus the promotions kept
  std::vector<std::string> log;  // one line per promotion tried
  debug::DebugReport report;     // of the final model on the given windows
};

namespace detail {

// Every node that `node` reads from, directly or through other nodes, and `node` itself.
inline std::vector<std::size_t> upstream_nodes(const nn::Model& model, std::size_t node) {
  std::vector<bool> seen(model.node_count(), false);
  std::vector<std::size_t> pending{node}, found;
  while (!pending.empty()) {
    const std::size_t n = pending.back();
    pending.pop_back();
    if (seen[n]) continue;
    seen[n] = true;
    found.push_back(n);
    for (const nn::TensorId t : model.node_inputs(n)) {
      const int producer = model.tensors()[static_cast<std::size_t>(t)].producer;
      if (producer >= 0) pending.push_back(static_cast<std::size_t>(producer));
    }
  }
  return found;
}

// A layer's error in steps of the int8 scale it had before any promotion: an int16 layer's own
// scale is 256 times finer, so it is judged in real units against the step it replaced.
inline double error_in_int8_steps(const debug::DebugReport& report,
                                  const std::vector<double>& int8_scales, std::size_t n) {
  return int8_scales[n] > 0.0 ? report.layers[n].end_to_end.rmse() / int8_scales[n] : 0.0;
}

// What the search lowers: the sum over layers of the error above the threshold.
inline double excess_error(const debug::DebugReport& report, const std::vector<double>& int8_scales,
                           double threshold) {
  double excess = 0.0;
  for (std::size_t n = 0; n < int8_scales.size(); ++n) {
    const double steps = error_in_int8_steps(report, int8_scales, n);
    if (steps > threshold) excess += steps - threshold;
  }
  return excess;
}

}  // namespace detail

// `windows` (calibration data or a held-out part of it; never the test split) drive the search.
// Each step takes the layer furthest over the threshold and tries the fix of up to
// `candidates_per_step` layers among it and the layers it reads from (those with the largest
// own error first: an error inherited from upstream is fixed upstream), keeping the one that
// lowers the total excess error most.
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
  const std::size_t nodes = model.node_count();
  std::vector<double> int8_scales(nodes, 0.0);  // 0: not an int8 layer of the base scheme
  for (std::size_t n = 0; n < nodes; ++n) {
    if (report->layers[n].precision == nn::Precision::int8)
      int8_scales[n] = static_cast<double>(report->layers[n].scale);
  }
  std::vector<nn::Precision> precision(nodes);
  for (std::size_t n = 0; n < nodes; ++n) precision[n] = report->layers[n].precision;
  // Fixes already tried per layer, and layers whose upstream has nothing left to try.
  std::vector<std::vector<nn::Precision>> tried(nodes);
  std::vector<bool> exhausted(nodes, false);
  auto next_fix = [&](std::size_t n) -> std::optional<nn::Precision> {
    const nn::Layer& l = model.layer(n);
    if (precision[n] != nn::Precision::int8 || l.passes_quantization_through()) return {};
    const debug::LayerReport& layer = report->layers[n];
    const bool weights_dominate = layer.weight_rounding > layer.activation_rounding &&
                                  layer.weight_rounding > layer.saturation;
    const nn::Precision order[2] = {
        weights_dominate ? nn::Precision::int16_weights : nn::Precision::int16_activations,
        weights_dominate ? nn::Precision::int16_activations : nn::Precision::int16_weights};
    for (const nn::Precision candidate : order) {
      bool done = false;
      for (const nn::Precision t : tried[n]) done = done || t == candidate;
      if (!done && l.supports(candidate)) return candidate;
    }
    return {};
  };
  double excess = detail::excess_error(report.value(), int8_scales, options.threshold);
  for (std::size_t step = 0; step < options.max_promotions && excess > 0.0; ++step) {
    int worst = -1;
    double worst_steps = options.threshold;
    for (std::size_t n = 0; n < nodes; ++n) {
      const double steps = detail::error_in_int8_steps(report.value(), int8_scales, n);
      if (!exhausted[n] && steps > worst_steps) {
        worst = static_cast<int>(n);
        worst_steps = steps;
      }
    }
    if (worst < 0) break;
    std::vector<std::pair<double, std::size_t>> candidates;  // (own error in int8 steps, node)
    for (const std::size_t n : detail::upstream_nodes(model, static_cast<std::size_t>(worst))) {
      if (next_fix(n) && int8_scales[n] > 0.0)
        candidates.emplace_back(report->layers[n].own.rmse() / int8_scales[n], n);
    }
    if (candidates.empty()) {
      exhausted[static_cast<std::size_t>(worst)] = true;
      continue;
    }
    std::sort(candidates.rbegin(), candidates.rend());
    if (candidates.size() > options.candidates_per_step)
      candidates.resize(options.candidates_per_step);

    struct Trial {
      std::size_t node = 0;
      nn::Precision fix = nn::Precision::int8;
      Scheme scheme;
      QuantizedModel model;
      debug::DebugReport report;
      double excess = 0.0;
    };
    std::optional<Trial> best;
    for (const auto& [own, n] : candidates) {
      const nn::Precision fix = *next_fix(n);
      Scheme scheme = result.scheme;
      scheme.set(model.layer(n).name(), fix);
      Result<QuantizedModel> promoted = quantize(model, calibration, scheme);
      if (!promoted.is_ok()) return promoted.status();
      Result<debug::DebugReport> promoted_report = debug::debug_model(promoted.value(), windows);
      if (!promoted_report.is_ok()) return promoted_report.status();
      const double after =
          detail::excess_error(promoted_report.value(), int8_scales, options.threshold);
      char line[256];
      std::snprintf(line, sizeof(line),
                    "%s (for %s, %.3f int8 steps): int8 -> %s, own error %.3f steps; worst layer "
                    "%.3f -> %.3f steps, total excess %.3f -> %.3f",
                    model.layer(n).name().c_str(),
                    model.layer(static_cast<std::size_t>(worst)).name().c_str(), worst_steps,
                    nn::precision_name(fix), own, worst_steps,
                    detail::error_in_int8_steps(promoted_report.value(), int8_scales,
                                                static_cast<std::size_t>(worst)),
                    excess, after);
      result.log.emplace_back(line);
      if (after >= excess) tried[n].push_back(fix);  // one that helped may be kept next step
      if (after < excess && (!best || after < best->excess)) {
        best = Trial{n,
                     fix,
                     std::move(scheme),
                     std::move(promoted).value(),
                     std::move(promoted_report).value(),
                     after};
      }
    }
    if (!best) {
      result.log.emplace_back("  none lowers the total excess: all undone");
      continue;
    }
    result.log.emplace_back("  kept: " + model.layer(best->node).name() + " " +
                            nn::precision_name(best->fix));
    precision[best->node] = best->fix;
    // A fix that did not help before may help now (a Softmax promoted to int16 lets the int16
    // logits of the Dense before it through): every other layer gets its fixes back.
    for (auto& fixes : tried) fixes.clear();
    std::fill(exhausted.begin(), exhausted.end(), false);
    result.scheme = std::move(best->scheme);
    current = std::move(best->model);
    report = std::move(best->report);
    excess = best->excess;
  }
  if (!result.log.empty()) {
    // Where the search ended: the layer furthest from the threshold, in int8 steps.
    std::size_t worst = 0;
    for (std::size_t n = 0; n < nodes; ++n) {
      if (detail::error_in_int8_steps(report.value(), int8_scales, n) >
          detail::error_in_int8_steps(report.value(), int8_scales, worst))
        worst = n;
    }
    char line[256];
    std::snprintf(line, sizeof(line),
                  "result: worst layer %s at %.3f int8 steps, total excess %.3f",
                  model.layer(worst).name().c_str(),
                  detail::error_in_int8_steps(report.value(), int8_scales, worst), excess);
    result.log.emplace_back(line);
  }
  result.model = std::move(current).value();
  result.report = std::move(report).value();
  return result;
}

}  // namespace tsq
