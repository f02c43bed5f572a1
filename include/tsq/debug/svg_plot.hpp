// SPDX-License-Identifier: Apache-2.0
// A self-contained SVG line plot over the layer index: the per-layer error of a quantized model
// (rmse/scale, SQNR, max error...) at a glance, in a browser, with no plotting library. Host only.
//
//   tsq::debug::LinePlot plot;
//   plot.title = "ECG CNN, int8: rmse / scale per layer";
//   plot.layer_names = {"quantize", "conv1", "pool1", ...};        // optional, rotated labels
//   plot.series = {{"isolated", isolated}, {"end to end", chained}};  // values[i] at layer i
//   plot.threshold = 0.7;                                          // the flag rule, dashed
//   tsq::Status s = tsq::debug::write_svg(plot, "rmse.svg");
//
// The y axis is linear with "nice" ticks (1, 2, 5 x 10^k) around the data and the threshold,
// or logarithmic (log_y, ticks at powers of ten) for metrics that span decades. A value that is
// NaN or infinite (or <= 0 on a log axis) is a gap: the line stops there and resumes after it.
// All-equal values get a range around them, a single point is centred, a plot without data
// still draws its axes. Coordinates are written with two decimals; each marker carries a
// <title> (a tooltip: series, layer, value). Text widths are estimated (0.6 em per character)
// to size the margins; names longer than 32 characters are shortened.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/debug/text_file.hpp"

namespace tsq {
namespace debug {

struct PlotSeries {
  std::string name;            // in the legend ("series <k>" if empty)
  std::vector<double> values;  // values[i] belongs to layer i
};

struct LinePlot {
  std::string title;
  std::string x_label = "layer";
  std::string y_label;
  std::vector<std::string> layer_names;  // optional tick labels for the layers
  std::vector<PlotSeries> series;
  bool log_y = false;
  std::optional<double> threshold;  // a dashed horizontal line, e.g. rmse/scale = 0.7
  std::string threshold_label;      // "threshold <value>" if empty
  int width = 800;                  // pixels, [200, 20000]
  int height = 450;                 // pixels, [150, 20000]
};

// Where everything goes: the data area in pixels (y grows downwards) and the axes.
struct PlotLayout {
  double left = 0.0;
  double right = 0.0;
  double top = 0.0;
  double bottom = 0.0;
  std::size_t point_count = 0;  // layers on the x axis (the longest series or the name list)
  bool log_y = false;
  double y_low = 0.0;                // axis ends: values, or log10 of the values on a log axis
  double y_high = 1.0;               //
  double y_step = 1.0;               // between ticks: in values, or in decades on a log axis
  std::vector<double> y_ticks;       // tick values (not logarithms)
  std::vector<std::size_t> x_ticks;  // layers that get a tick label

  // Layer i sits in the middle of the i-th of point_count equal slots.
  double x_pixel(double layer) const {
    const double slots = static_cast<double>(std::max<std::size_t>(point_count, 1));
    return left + (layer + 0.5) / slots * (right - left);
  }
  double y_pixel(double value) const {
    const double v = log_y ? std::log10(value) : value;
    return bottom - (v - y_low) / (y_high - y_low) * (bottom - top);
  }
  bool plottable(double value) const { return std::isfinite(value) && (!log_y || value > 0.0); }
};

namespace detail {

constexpr std::size_t kMaxLabelLength = 32;
constexpr double kCharWidth = 0.6;  // per pixel of font size

inline std::string shorten(const std::string& text) {
  if (text.size() <= kMaxLabelLength) return text;
  return text.substr(0, kMaxLabelLength - 3) + "...";
}

inline double text_pixels(const std::string& text, double font_size) {
  return static_cast<double>(text.size()) * kCharWidth * font_size;
}

// 1, 2, 5 or 10 times a power of ten near x (Heckbert's "nice numbers").
inline double nice_number(double x, bool round) {
  const double exponent = std::floor(std::log10(x));
  const double power = std::pow(10.0, exponent);
  const double fraction = x / power;
  double nice = 10.0;
  if (round) {
    nice = fraction < 1.5 ? 1.0 : fraction < 3.0 ? 2.0 : fraction < 7.0 ? 5.0 : 10.0;
  } else {
    nice = fraction <= 1.0 ? 1.0 : fraction <= 2.0 ? 2.0 : fraction <= 5.0 ? 5.0 : 10.0;
  }
  return nice * power;
}

inline std::string format_number(const char* format, double value) {
  char buffer[64];
  const int length = std::snprintf(buffer, sizeof buffer, format, value);
  return length < 0 ? std::string() : std::string(buffer);
}

inline std::string format_fixed(double value, int decimals) {
  char buffer[64];
  const int length = std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return length < 0 ? std::string() : std::string(buffer);
}

inline std::string coordinate(double pixels) { return format_fixed(pixels, 2); }

// Text for XML content and attribute values; control characters XML 1.0 forbids become '?'.
inline std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

struct TickLabels {
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

inline std::string y_tick_label(double value, double step, bool log_y) {
  if (log_y) return format_number("%g", value);
  if (std::fabs(value) < step * 1e-9) value = 0.0;  // no "-0.0"
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  if (decimals > 6 || std::fabs(value) >= 1e7) return format_number("%.4g", value);
  return format_fixed(value, decimals);
}

}  // namespace detail

// invalid_argument for a size outside the limits, a threshold that is not finite (or <= 0 on a
// log axis), or labels that leave no room for the data area.
inline Result<PlotLayout> compute_plot_layout(const LinePlot& plot) {
  if (plot.width < 200 || plot.width > 20000 || plot.height < 150 || plot.height > 20000) {
    return Status::error(ErrorCode::invalid_argument, "plot: size ")
        .append(plot.width)
        .append(" x ")
        .append(plot.height)
        .append(" outside [200, 20000] x [150, 20000]");
  }
  if (plot.threshold && (!std::isfinite(*plot.threshold) || (plot.log_y && *plot.threshold <= 0))) {
    return Status::error(ErrorCode::invalid_argument,
                         "plot: threshold must be finite (and > 0 on a log axis)");
  }
  PlotLayout layout;
  layout.log_y = plot.log_y;
  layout.point_count = plot.layer_names.size();
  for (const PlotSeries& s : plot.series) {
    layout.point_count = std::max(layout.point_count, s.values.size());
  }

  // The y range: every plottable value and the threshold.
  bool any = false;
  double lo = 0.0;
  double hi = 0.0;
  const auto include = [&](double v) {
    if (!layout.plottable(v)) return;
    lo = any ? std::min(lo, v) : v;
    hi = any ? std::max(hi, v) : v;
    any = true;
  };
  for (const PlotSeries& s : plot.series) {
    for (const double v : s.values) include(v);
  }
  if (plot.threshold) include(*plot.threshold);
  double& step = layout.y_step;
  if (plot.log_y) {
    double low = any ? std::floor(std::log10(lo)) : 0.0;
    double high = any ? std::ceil(std::log10(hi)) : 1.0;
    if (high == low) {  // a single decade edge: one decade on each side
      low -= 1.0;
      high += 1.0;
    }
    layout.y_low = low;
    layout.y_high = high;
    step = std::ceil((high - low) / 8.0);  // at most about 8 decade ticks
    for (double e = low; e <= high; e += step) layout.y_ticks.push_back(std::pow(10.0, e));
  } else {
    if (!any) {
      lo = 0.0;
      hi = 1.0;
    } else if (hi - lo <= 1e-9 * std::max(std::fabs(lo), std::fabs(hi))) {
      // All equal (to double precision): a range around the value.
      const double pad = lo == 0.0 ? 1.0 : 0.1 * std::fabs(lo);
      lo -= pad;
      hi += pad;
    }
    step = detail::nice_number(detail::nice_number(hi - lo, false) / 5.0, true);
    layout.y_low = std::floor(lo / step) * step;
    layout.y_high = std::ceil(hi / step) * step;
    if (layout.y_high <= layout.y_low) layout.y_high = layout.y_low + step;
    for (int k = 0;; ++k) {
      const double tick = layout.y_low + k * step;
      if (tick > layout.y_high + 1e-9 * step) break;
      layout.y_ticks.push_back(tick);
    }
  }

  // Margins from the text they hold.
  double tick_label_width = 0.0;
  for (const double tick : layout.y_ticks) {
    tick_label_width = std::max(
        tick_label_width, detail::text_pixels(detail::y_tick_label(tick, step, plot.log_y), 11.0));
  }
  double legend_width = 0.0;
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const std::string name = plot.series[k].name.empty() ? "series " + std::to_string(k + 1)
                                                         : detail::shorten(plot.series[k].name);
    legend_width = std::max(legend_width, 36.0 + detail::text_pixels(name, 12.0));
  }
  double name_height = 0.0;  // rotated by 45 degrees
  for (const std::string& name : plot.layer_names) {
    name_height =
        std::max(name_height, 0.7071 * detail::text_pixels(detail::shorten(name), 11.0) + 8.0);
  }
  layout.top = plot.title.empty() ? 20.0 : 44.0;
  layout.left = 14.0 + tick_label_width + (plot.y_label.empty() ? 0.0 : 22.0);
  layout.right = plot.width - 20.0 - (legend_width > 0.0 ? legend_width + 10.0 : 0.0);
  layout.bottom = plot.height - 10.0 - (plot.layer_names.empty() ? 20.0 : name_height) -
                  (plot.x_label.empty() ? 0.0 : 20.0);
  if (layout.right - layout.left < 60.0 || layout.bottom - layout.top < 60.0) {
    return Status::error(ErrorCode::invalid_argument, "plot: ")
        .append(plot.width)
        .append(" x ")
        .append(plot.height)
        .append(" pixels leave no room for the data next to the labels");
  }

  // x ticks: every layer if the labels fit, else every 2nd, 5th, 10th, 20th...
  const double label_pitch = plot.layer_names.empty() ? 40.0 : 14.0;
  const auto fitting = static_cast<std::size_t>(
      std::max(1.0, std::floor((layout.right - layout.left) / label_pitch)));
  std::size_t x_step = 1;
  for (std::size_t magnitude = 1; (layout.point_count + x_step - 1) / x_step > fitting;) {
    if (x_step == magnitude) {
      x_step = 2 * magnitude;
    } else if (x_step == 2 * magnitude) {
      x_step = 5 * magnitude;
    } else {
      magnitude *= 10;
      x_step = magnitude;
    }
  }
  for (std::size_t i = 0; i < layout.point_count; i += x_step) layout.x_ticks.push_back(i);
  return layout;
}

// The plot as an SVG document. Errors: those of compute_plot_layout.
inline Result<std::string> render_svg(const LinePlot& plot) {
  const Result<PlotLayout> layout_or = compute_plot_layout(plot);
  if (!layout_or.is_ok()) return layout_or.status();
  const PlotLayout& l = layout_or.value();
  using detail::coordinate;
  using detail::xml_escape;
  static const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  const std::string w = std::to_string(plot.width);
  const std::string h = std::to_string(plot.height);
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h +
         "\" viewBox=\"0 0 " + w + " " + h + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + w + "\" height=\"" + h + "\" fill=\"white\"/>\n";
  if (!plot.title.empty()) {
    svg += "<text x=\"" + coordinate(plot.width / 2.0) +
           "\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" +
           xml_escape(plot.title) + "</text>\n";
  }

  // Grid and y axis.
  svg += "<g class=\"y-axis\" font-size=\"11\">\n";
  for (const double tick : l.y_ticks) {
    const std::string y = coordinate(l.y_pixel(tick));
    svg += "<line x1=\"" + coordinate(l.left) + "\" y1=\"" + y + "\" x2=\"" + coordinate(l.right) +
           "\" y2=\"" + y + "\" stroke=\"#e0e0e0\"/>\n";
    svg += "<text x=\"" + coordinate(l.left - 6.0) + "\" y=\"" + coordinate(l.y_pixel(tick) + 4.0) +
           "\" text-anchor=\"end\">" + xml_escape(detail::y_tick_label(tick, l.y_step, l.log_y)) +
           "</text>\n";
  }
  svg += "</g>\n";

  // x axis: tick marks and layer indices or rotated names.
  svg += "<g class=\"x-axis\" font-size=\"11\">\n";
  for (const std::size_t i : l.x_ticks) {
    const auto layer = static_cast<double>(i);
    const std::string x = coordinate(l.x_pixel(layer));
    svg += "<line x1=\"" + x + "\" y1=\"" + coordinate(l.bottom) + "\" x2=\"" + x + "\" y2=\"" +
           coordinate(l.bottom + 4.0) + "\" stroke=\"#333333\"/>\n";
    if (plot.layer_names.empty()) {
      svg += "<text x=\"" + x + "\" y=\"" + coordinate(l.bottom + 17.0) +
             "\" text-anchor=\"middle\">" + std::to_string(i) + "</text>\n";
    } else if (i < plot.layer_names.size()) {
      const std::string y = coordinate(l.bottom + 12.0);
      svg += "<text x=\"" + x + "\" y=\"" + y + "\" text-anchor=\"end\" transform=\"rotate(-45 " +
             x + " " + y + ")\">" + xml_escape(detail::shorten(plot.layer_names[i])) + "</text>\n";
    }
  }
  svg += "</g>\n";
  svg += "<rect class=\"frame\" x=\"" + coordinate(l.left) + "\" y=\"" + coordinate(l.top) +
         "\" width=\"" + coordinate(l.right - l.left) + "\" height=\"" +
         coordinate(l.bottom - l.top) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
  if (!plot.x_label.empty()) {
    svg += "<text x=\"" + coordinate((l.left + l.right) / 2.0) + "\" y=\"" +
           coordinate(plot.height - 10.0) + "\" text-anchor=\"middle\">" +
           xml_escape(plot.x_label) + "</text>\n";
  }
  if (!plot.y_label.empty()) {
    const std::string y = coordinate((l.top + l.bottom) / 2.0);
    svg += "<text x=\"16\" y=\"" + y + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " + y +
           ")\">" + xml_escape(plot.y_label) + "</text>\n";
  }

  if (plot.threshold) {
    const std::string y = coordinate(l.y_pixel(*plot.threshold));
    const std::string label = plot.threshold_label.empty()
                                  ? "threshold " + detail::format_number("%g", *plot.threshold)
                                  : plot.threshold_label;
    svg += "<g class=\"threshold\" stroke=\"#d62728\" fill=\"#d62728\">\n";
    svg += "<line x1=\"" + coordinate(l.left) + "\" y1=\"" + y + "\" x2=\"" + coordinate(l.right) +
           "\" y2=\"" + y + "\" stroke-dasharray=\"6 4\"/>\n";
    svg += "<text x=\"" + coordinate(l.right - 4.0) + "\" y=\"" +
           coordinate(l.y_pixel(*plot.threshold) - 4.0) +
           "\" text-anchor=\"end\" stroke=\"none\">" + xml_escape(label) + "</text>\n</g>\n";
  }

  // Series: one polyline per run of plottable points, a marker with a tooltip on every point.
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const PlotSeries& s = plot.series[k];
    const std::string color = kColors[k % 10];
    const std::string name = s.name.empty() ? "series " + std::to_string(k + 1) : s.name;
    svg += "<g class=\"series\" fill=\"" + color + "\" stroke=\"" + color + "\">\n";
    std::string run;
    std::size_t run_length = 0;
    const auto flush = [&]() {
      if (run_length >= 2) {
        svg += "<polyline fill=\"none\" stroke-width=\"1.5\" points=\"" + run + "\"/>\n";
      }
      run.clear();
      run_length = 0;
    };
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      if (!l.plottable(s.values[i])) {
        flush();
        continue;
      }
      const auto layer = static_cast<double>(i);
      if (run_length > 0) run += ' ';
      run += coordinate(l.x_pixel(layer)) + "," + coordinate(l.y_pixel(s.values[i]));
      ++run_length;
    }
    flush();
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      if (!l.plottable(s.values[i])) continue;
      const auto layer = static_cast<double>(i);
      std::string tip = name + ": layer " + std::to_string(i);
      if (i < plot.layer_names.size()) tip += " (" + plot.layer_names[i] + ")";
      tip += " = " + detail::format_number("%.6g", s.values[i]);
      svg += "<circle cx=\"" + coordinate(l.x_pixel(layer)) + "\" cy=\"" +
             coordinate(l.y_pixel(s.values[i])) + "\" r=\"2.5\" stroke=\"none\"><title>" +
             xml_escape(tip) + "</title></circle>\n";
    }
    svg += "</g>\n";
  }

  // Legend, right of the data area.
  if (!plot.series.empty()) {
    svg += "<g class=\"legend\">\n";
    for (std::size_t k = 0; k < plot.series.size(); ++k) {
      const std::string color = kColors[k % 10];
      const std::string name = plot.series[k].name.empty() ? "series " + std::to_string(k + 1)
                                                           : detail::shorten(plot.series[k].name);
      const double y = l.top + 10.0 + 18.0 * static_cast<double>(k);
      svg += "<line x1=\"" + coordinate(l.right + 10.0) + "\" y1=\"" + coordinate(y) + "\" x2=\"" +
             coordinate(l.right + 34.0) + "\" y2=\"" + coordinate(y) + "\" stroke=\"" + color +
             "\" stroke-width=\"2\"/>\n";
      svg += "<text x=\"" + coordinate(l.right + 40.0) + "\" y=\"" + coordinate(y + 4.0) + "\">" +
             xml_escape(name) + "</text>\n";
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

// render_svg to a file; io_error with the path if it cannot be written.
inline Status write_svg(const LinePlot& plot, const std::string& path) {
  const Result<std::string> svg = render_svg(plot);
  if (!svg.is_ok()) return svg.status();
  return write_text_file(path, svg.value());
}

}  // namespace debug
}  // namespace tsq
