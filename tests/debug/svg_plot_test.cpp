// SPDX-License-Identifier: Apache-2.0
// SVG line plots: well-formed XML (checked by a small parser), the points where the layout puts
// them, gaps for NaN/inf, and the degenerate cases (one point, constant, no data).
#include "tsq/debug/svg_plot.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

using tsq::ErrorCode;
using tsq::debug::LinePlot;
using tsq::debug::PlotLayout;
using tsq::debug::PlotSeries;

namespace {

struct XmlCheck {
  bool ok = true;
  std::string error;
  std::size_t elements = 0;
  std::string root;
};

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == ':' || c == '_';
}

// Entities must be one of XML's five predefined ones.
bool entities_valid(const std::string& text) {
  for (std::size_t i = text.find('&'); i != std::string::npos; i = text.find('&', i + 1)) {
    bool known = false;
    for (const char* entity : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
      if (text.compare(i, std::string(entity).size(), entity) == 0) known = true;
    }
    if (!known) return false;
  }
  return true;
}

// A small well-formedness check: an optional <?xml ...?> prolog, one root element, balanced and
// properly nested tags, quoted attributes without '<' and without duplicates, valid entities.
XmlCheck check_xml(const std::string& xml) {
  XmlCheck result;
  const auto fail = [&result](const std::string& why, std::size_t at) {
    result.ok = false;
    result.error = why + " at offset " + std::to_string(at);
    return result;
  };
  std::vector<std::string> open;
  std::size_t i = 0;
  if (xml.compare(0, 5, "<?xml") == 0) {
    i = xml.find("?>");
    if (i == std::string::npos) return fail("unterminated prolog", 0);
    i += 2;
  }
  bool root_closed = false;
  while (i < xml.size()) {
    const std::size_t lt = xml.find('<', i);
    const std::string text = xml.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (!entities_valid(text) || text.find('>') != std::string::npos) {
      return fail("bad character data", i);
    }
    if (open.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos) {
      return fail("text outside the root", i);
    }
    if (lt == std::string::npos) break;
    i = lt + 1;
    const bool closing = i < xml.size() && xml[i] == '/';
    if (closing) ++i;
    const std::size_t name_start = i;
    while (i < xml.size() && is_name_char(xml[i])) ++i;
    const std::string name = xml.substr(name_start, i - name_start);
    if (name.empty()) return fail("tag without a name", i);
    if (closing) {
      if (i >= xml.size() || xml[i] != '>') return fail("bad closing tag", i);
      if (open.empty() || open.back() != name) return fail("mismatched </" + name + ">", i);
      open.pop_back();
      if (open.empty()) root_closed = true;
      ++i;
      continue;
    }
    if (root_closed || (open.empty() && result.elements > 0)) return fail("second root", i);
    ++result.elements;
    if (open.empty()) result.root = name;
    std::set<std::string> attributes;
    for (;;) {
      while (i < xml.size() && std::isspace(static_cast<unsigned char>(xml[i])) != 0) ++i;
      if (i >= xml.size()) return fail("unterminated tag", i);
      if (xml[i] == '>') {
        open.push_back(name);
        ++i;
        break;
      }
      if (xml.compare(i, 2, "/>") == 0) {
        if (open.empty()) root_closed = true;
        i += 2;
        break;
      }
      const std::size_t attribute_start = i;
      while (i < xml.size() && is_name_char(xml[i])) ++i;
      const std::string attribute = xml.substr(attribute_start, i - attribute_start);
      if (attribute.empty() || i + 1 >= xml.size() || xml[i] != '=' || xml[i + 1] != '"') {
        return fail("bad attribute in <" + name + ">", i);
      }
      if (!attributes.insert(attribute).second) return fail("duplicate " + attribute, i);
      const std::size_t value_end = xml.find('"', i + 2);
      if (value_end == std::string::npos) return fail("unterminated attribute", i);
      const std::string value = xml.substr(i + 2, value_end - i - 2);
      if (value.find('<') != std::string::npos || !entities_valid(value)) {
        return fail("bad attribute value", i);
      }
      i = value_end + 1;
    }
  }
  if (!open.empty()) return fail("unclosed <" + open.back() + ">", xml.size());
  if (result.elements == 0) return fail("no element", 0);
  return result;
}

std::string render(const LinePlot& plot) {
  const tsq::Result<std::string> svg = tsq::debug::render_svg(plot);
  INFO(svg.status().message());
  REQUIRE(svg.is_ok());
  const XmlCheck check = check_xml(svg.value());
  INFO(check.error);
  REQUIRE(check.ok);
  CHECK(check.root == "svg");
  CHECK(svg->find("nan") == std::string::npos);  // no non-finite coordinate leaked
  CHECK(svg->find("inf") == std::string::npos);
  return svg.value();
}

PlotLayout layout_of(const LinePlot& plot) {
  const tsq::Result<PlotLayout> layout = tsq::debug::compute_plot_layout(plot);
  INFO(layout.status().message());
  REQUIRE(layout.is_ok());
  return layout.value();
}

std::string fixed2(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f", v);
  return buffer;
}

std::string marker(const PlotLayout& layout, std::size_t layer, double value) {
  return "cx=\"" + fixed2(layout.x_pixel(static_cast<double>(layer))) + "\" cy=\"" +
         fixed2(layout.y_pixel(value)) + "\"";
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("the checker itself rejects broken XML", "[debug][svg]") {
  CHECK(check_xml("<svg><g></g></svg>").ok);
  CHECK(check_xml("<?xml version=\"1.0\"?>\n<svg a=\"1\"><b/></svg>\n").ok);
  CHECK_FALSE(check_xml("<svg><g></svg>").ok);
  CHECK_FALSE(check_xml("<svg></g></svg>").ok);
  CHECK_FALSE(check_xml("<svg a=1></svg>").ok);
  CHECK_FALSE(check_xml("<svg a=\"1\" a=\"2\"></svg>").ok);
  CHECK_FALSE(check_xml("<svg>a & b</svg>").ok);
  CHECK_FALSE(check_xml("<svg></svg><svg></svg>").ok);
  CHECK_FALSE(check_xml("<svg><text>1 < 2</text></svg>").ok);
}

TEST_CASE("svg plot: series, names, threshold and legend", "[debug][svg]") {
  LinePlot plot;
  plot.title = "ECG CNN int8: rmse / scale <per layer> & \"flags\"";
  plot.y_label = "rmse / scale";
  plot.layer_names = {"quantize", "conv1", "max_pool", "conv2", "dense", "softmax"};
  plot.series = {{"isolated", {0.29, 0.45, 0.41, 0.74, 0.52, 0.13}},
                 {"end to end", {0.29, 0.51, 0.48, 0.92, 0.66, 0.2}}};
  plot.threshold = 0.7;
  const std::string svg = render(plot);
  const PlotLayout layout = layout_of(plot);
  CHECK(layout.point_count == 6);
  // Linear nice ticks around 0.13 .. 0.92 (and the threshold): 0, 0.2, ..., 1.
  REQUIRE(layout.y_ticks.size() == 6);
  CHECK(layout.y_ticks.front() == 0.0);
  CHECK(layout.y_ticks.back() == Approx(1.0));
  CHECK(layout.y_step == Approx(0.2));
  CHECK_THAT(svg, Catch::Contains(">0.2</text>"));
  CHECK_THAT(svg, Catch::Contains(">1.0</text>"));
  CHECK(layout.x_ticks.size() == 6);
  for (const PlotSeries& s : plot.series) {
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      CHECK_THAT(svg, Catch::Contains(marker(layout, i, s.values[i])));
      const double y = layout.y_pixel(s.values[i]);
      CHECK(y >= layout.top);
      CHECK(y <= layout.bottom);
    }
  }
  // One polyline per series, through the points in order.
  CHECK(count_of(svg, "<polyline") == 2);
  CHECK_THAT(svg, Catch::Contains("points=\"" + fixed2(layout.x_pixel(0)) + "," +
                                  fixed2(layout.y_pixel(0.29)) + " " + fixed2(layout.x_pixel(1)) +
                                  "," + fixed2(layout.y_pixel(0.45)) + " "));
  // Text is escaped; names, legend, threshold and tooltips are there.
  CHECK_THAT(svg, Catch::Contains("rmse / scale &lt;per layer&gt; &amp; &quot;flags&quot;</text>"));
  CHECK_THAT(svg, Catch::Contains("transform=\"rotate(-45 "));
  CHECK_THAT(svg, Catch::Contains(">max_pool</text>"));
  CHECK_THAT(svg, Catch::Contains(">end to end</text>"));
  CHECK_THAT(svg, Catch::Contains("<title>isolated: layer 3 (conv2) = 0.74</title>"));
  CHECK_THAT(svg, Catch::Contains(">threshold 0.7</text>"));
  CHECK_THAT(svg, Catch::Contains("y1=\"" + fixed2(layout.y_pixel(0.7)) + "\" x2=\"" +
                                  fixed2(layout.right) + "\" y2=\"" + fixed2(layout.y_pixel(0.7)) +
                                  "\" stroke-dasharray"));
  // Higher values are drawn higher up.
  CHECK(layout.y_pixel(0.92) < layout.y_pixel(0.13));
  CHECK(layout.x_pixel(5) > layout.x_pixel(0));
}

TEST_CASE("svg plot: NaN and infinity are gaps", "[debug][svg]") {
  LinePlot plot;
  plot.series = {{"sqnr", {10.0, 12.0, NAN, 14.0, 15.0, INFINITY, 9.0, -INFINITY}}};
  const std::string svg = render(plot);
  const PlotLayout layout = layout_of(plot);
  CHECK(layout.point_count == 8);
  CHECK(count_of(svg, "<circle") == 5);
  // Runs [0, 1] and [3, 4] are lines; 6 is a lone marker.
  CHECK(count_of(svg, "<polyline") == 2);
  CHECK_THAT(svg, Catch::Contains(marker(layout, 6, 9.0)));
  CHECK(layout.y_ticks.front() <= 9.0);
  CHECK(layout.y_ticks.back() >= 15.0);
  CHECK(layout.y_ticks.back() < 100.0);  // the infinities did not stretch the axis

  // Nothing plottable at all: axes only.
  plot.series = {{"all bad", {NAN, INFINITY}}};
  const std::string empty = render(plot);
  CHECK(count_of(empty, "<circle") == 0);
  CHECK(count_of(empty, "<polyline") == 0);
  CHECK_THAT(empty, Catch::Contains("class=\"frame\""));
  plot.series.clear();
  render(plot);
}

TEST_CASE("svg plot: a single point and constant values", "[debug][svg]") {
  LinePlot single;
  single.series = {{"only", {0.5}}};
  const std::string svg = render(single);
  const PlotLayout layout = layout_of(single);
  CHECK(count_of(svg, "<circle") == 1);
  CHECK(count_of(svg, "<polyline") == 0);
  CHECK(layout.x_pixel(0) == Approx((layout.left + layout.right) / 2.0));
  CHECK(layout.y_pixel(0.5) > layout.top);
  CHECK(layout.y_pixel(0.5) < layout.bottom);
  CHECK_THAT(svg, Catch::Contains(marker(layout, 0, 0.5)));

  for (const double value : {0.0, -3.0, 1e9, 1e-12}) {
    INFO("constant " << value);
    LinePlot constant;
    constant.series = {{"flat", std::vector<double>(20, value)}};
    const std::string flat = render(constant);
    const PlotLayout l = layout_of(constant);
    CHECK(l.y_high > l.y_low);
    CHECK(l.y_pixel(value) > l.top);
    CHECK(l.y_pixel(value) < l.bottom);
    CHECK(l.y_ticks.size() >= 2);
    CHECK_THAT(flat, Catch::Contains(marker(l, 19, value)));
  }
}

TEST_CASE("svg plot: log scale over decades", "[debug][svg]") {
  LinePlot plot;
  plot.log_y = true;
  plot.y_label = "max error";
  plot.series = {{"max error", {2e-3, 0.04, 0.9, 17.0, 0.0, -1.0, 150.0}}};
  plot.threshold = 1.0;
  const std::string svg = render(plot);
  const PlotLayout layout = layout_of(plot);
  CHECK(layout.y_low == -3.0);
  CHECK(layout.y_high == 3.0);
  REQUIRE(layout.y_ticks.size() == 7);
  CHECK(layout.y_ticks[0] == Approx(1e-3));
  CHECK(layout.y_ticks[6] == Approx(1e3));
  CHECK_THAT(svg, Catch::Contains(">0.001</text>"));
  CHECK_THAT(svg, Catch::Contains(">1000</text>"));
  CHECK(count_of(svg, "<circle") == 5);  // 0 and -1 have no logarithm: gaps
  CHECK_THAT(svg, Catch::Contains(marker(layout, 6, 150.0)));
  // Equal ratios are equal distances.
  CHECK(layout.y_pixel(0.01) - layout.y_pixel(0.1) ==
        Approx(layout.y_pixel(1) - layout.y_pixel(10)));

  // Many decades: fewer ticks. All values on one power of ten: a decade each side.
  plot.series = {{"wide", {1e-12, 1e12}}};
  plot.threshold.reset();
  CHECK(layout_of(plot).y_ticks.size() <= 9);
  plot.series = {{"ten", {10.0, 10.0}}};
  const PlotLayout ten = layout_of(plot);
  CHECK(ten.y_low == 0.0);
  CHECK(ten.y_high == 2.0);
  render(plot);
}

TEST_CASE("svg plot: many layers thin out the x labels", "[debug][svg]") {
  LinePlot plot;
  std::vector<double> values;
  for (int i = 0; i < 300; ++i) {
    values.push_back(std::sin(i * 0.1));
    plot.layer_names.push_back("a_very_long_layer_name_that_goes_on_and_on_" + std::to_string(i));
  }
  plot.series = {{"", values}};  // unnamed: "series 1" in the legend
  const std::string svg = render(plot);
  const PlotLayout layout = layout_of(plot);
  CHECK(layout.x_ticks.size() < 100);
  CHECK(layout.x_ticks.size() >= 10);
  CHECK(layout.x_ticks[1] - layout.x_ticks[0] >= 2);
  CHECK_THAT(svg, Catch::Contains(">series 1</text>"));
  CHECK_THAT(svg, Catch::Contains(">a_very_long_layer_name_that_g...</text>"));

  LinePlot numbered;
  numbered.series = {{"x", values}};
  const PlotLayout n = layout_of(numbered);
  CHECK(n.x_ticks.size() <= 20);
  CHECK(n.x_ticks[1] % 5 == 0);
}

TEST_CASE("svg plot: errors and files", "[debug][svg]") {
  LinePlot plot;
  plot.series = {{"a", {1.0, 2.0}}};
  plot.width = 100;
  CHECK(tsq::debug::render_svg(plot).status().code() == ErrorCode::invalid_argument);
  plot.width = 800;
  plot.threshold = NAN;
  CHECK(tsq::debug::render_svg(plot).status().code() == ErrorCode::invalid_argument);
  plot.threshold = 0.0;
  plot.log_y = true;
  CHECK(tsq::debug::render_svg(plot).status().code() == ErrorCode::invalid_argument);
  plot.log_y = false;
  plot.width = 200;  // a legend this wide leaves no data area
  plot.series[0].name = std::string(30, 'n');
  CHECK(tsq::debug::compute_plot_layout(plot).status().code() == ErrorCode::invalid_argument);
  plot.width = 800;

  const std::string path = std::string(P_tmpdir) + "/tsq_svg_test_plot.svg";
  REQUIRE(tsq::debug::write_svg(plot, path).is_ok());
  std::FILE* file = std::fopen(path.c_str(), "rb");
  REQUIRE(file != nullptr);
  std::string text;
  char buffer[512];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  std::fclose(file);
  std::remove(path.c_str());
  CHECK(text == tsq::debug::render_svg(plot).value());
  CHECK(tsq::debug::write_svg(plot, "/nonexistent-tsq-dir/plot.svg").code() == ErrorCode::io_error);
}
