// SPDX-License-Identifier: Apache-2.0
// Each integer kernel's params as C++ source (host): a constexpr function that sets every field
// the host's prepare computed and marks the params prepared, and the constant it initializes.
// The arrays the params point into (multipliers, folded biases, tables) are written first.
// Every field is listed here: the exporter's host test runs the generated model against the
// QuantizedModel it came from, so a field left out shows as a wrong output byte.
#pragma once

#include <string>

#include "tsq/export/code_writer.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/requantize.hpp"
#include "tsq/kernels/reference/softmax.hpp"

namespace tsq {
namespace codegen {
namespace detail {

inline void write_dims(ParamsWriter& w, const std::string& name, const NhwcDims& d) {
  w.field(name + ".batch", d.batch);
  w.field(name + ".height", d.height);
  w.field(name + ".width", d.width);
  w.field(name + ".channels", d.channels);
}

inline void write_activation(ParamsWriter& w, const ActivationRange& a) {
  w.field("activation.min", a.min);
  w.field("activation.max", a.max);
}

inline void write_geometry(ParamsWriter& w, const Conv2DGeometry& g) {
  write_dims(w, "geometry.input", g.input);
  write_dims(w, "geometry.output", g.output);
  w.field("geometry.filter_height", g.filter_height);
  w.field("geometry.filter_width", g.filter_width);
  w.field("geometry.filter_input_depth", g.filter_input_depth);
  w.field("geometry.stride_height", g.stride_height);
  w.field("geometry.stride_width", g.stride_width);
  w.field("geometry.dilation_height", g.dilation_height);
  w.field("geometry.dilation_width", g.dilation_width);
  w.field("geometry.pad_top", g.pad_top);
  w.field("geometry.pad_left", g.pad_left);
}

inline void write_geometry(ParamsWriter& w, const Pool2DGeometry& g) {
  write_dims(w, "geometry.input", g.input);
  write_dims(w, "geometry.output", g.output);
  w.field("geometry.filter_height", g.filter_height);
  w.field("geometry.filter_width", g.filter_width);
  w.field("geometry.stride_height", g.stride_height);
  w.field("geometry.stride_width", g.stride_width);
  w.field("geometry.pad_top", g.pad_top);
  w.field("geometry.pad_left", g.pad_left);
}

// constexpr <type> make_<id>() { <type> p{}; ...; mark_prepared(p); return p; }
// inline constexpr <type> <id> = make_<id>();
inline std::string finish(CodeWriter& out, const std::string& type, const std::string& id,
                          const ParamsWriter& w) {
  out.text += "constexpr " + type + " make_" + id + "() {\n  " + type + " p{};\n" + w.statements() +
              "  tsq::detail::mark_prepared(p);\n  return p;\n}\ninline constexpr " + type + " " +
              id + " = make_" + id + "();\n";
  return id;
}

inline void write_multipliers(CodeWriter& out, ParamsWriter& w, const std::string& id,
                              const char* field, Span<const QuantizedMultiplier> values) {
  w.span(field, "tsq::QuantizedMultiplier", out.multipliers(id + "_" + field, values),
         values.size());
}

}  // namespace detail

// Each returns the name of the params constant it wrote.
inline std::string write_params(CodeWriter& out, const std::string& id, const Conv2DParams& p) {
  ParamsWriter w("p");
  detail::write_geometry(w, p.geometry);
  w.field("type", p.type);
  w.field("input_zero_point", p.input_zero_point);
  w.field("output_zero_point", p.output_zero_point);
  detail::write_multipliers(out, w, id, "multipliers", p.multipliers);
  detail::write_activation(w, p.activation);
  w.field("rounding", p.rounding);
  return detail::finish(out, "tsq::Conv2DParams", id, w);
}

inline std::string write_params(CodeWriter& out, const std::string& id,
                                const DepthwiseConv2DParams& p) {
  ParamsWriter w("p");
  detail::write_geometry(w, p.geometry);
  w.field("depth_multiplier", p.depth_multiplier);
  w.field("input_zero_point", p.input_zero_point);
  w.field("output_zero_point", p.output_zero_point);
  detail::write_multipliers(out, w, id, "multipliers", p.multipliers);
  detail::write_activation(w, p.activation);
  w.field("rounding", p.rounding);
  return detail::finish(out, "tsq::DepthwiseConv2DParams", id, w);
}

inline std::string write_params(CodeWriter& out, const std::string& id,
                                const FullyConnectedParams& p) {
  ParamsWriter w("p");
  w.field("input_depth", p.input_depth);
  w.field("units", p.units);
  w.field("input_zero_point", p.input_zero_point);
  w.field("output_zero_point", p.output_zero_point);
  detail::write_multipliers(out, w, id, "multipliers", p.multipliers);
  detail::write_activation(w, p.activation);
  w.field("rounding", p.rounding);
  return detail::finish(out, "tsq::FullyConnectedParams", id, w);
}

namespace detail {

// MaxPool2D and AvgPool2D params have the same fields.
template <typename PoolParams>
std::string write_pool_params(CodeWriter& out, const std::string& id, const PoolParams& p,
                              const std::string& type) {
  ParamsWriter w("p");
  write_geometry(w, p.geometry);
  write_activation(w, p.activation);
  w.field("type", p.type);
  return finish(out, type, id, w);
}

}  // namespace detail

inline std::string write_params(CodeWriter& out, const std::string& id, const MaxPool2DParams& p) {
  return detail::write_pool_params(out, id, p, "tsq::MaxPool2DParams");
}

inline std::string write_params(CodeWriter& out, const std::string& id, const AvgPool2DParams& p) {
  return detail::write_pool_params(out, id, p, "tsq::AvgPool2DParams");
}

inline std::string write_params(CodeWriter& out, const std::string& id, const SoftmaxParams& p) {
  ParamsWriter w("p");
  w.field("shape", p.shape);
  w.field("rows", p.rows);
  w.field("depth", p.depth);
  w.field("input_type", p.input_type);
  w.field("output_type", p.output_type);
  w.field("input_multiplier", p.input_multiplier);
  w.field("diff_min", p.diff_min);
  if (!p.exp_table.empty()) {
    w.span("exp_table", "std::int16_t", out.array(id + "_exp_table", p.exp_table),
           p.exp_table.size());
  }
  if (!p.reciprocal_table.empty()) {
    w.span("reciprocal_table", "std::int16_t",
           out.array(id + "_reciprocal_table", p.reciprocal_table), p.reciprocal_table.size());
  }
  w.field("rounding", p.rounding);
  return detail::finish(out, "tsq::SoftmaxParams", id, w);
}

inline std::string write_params(CodeWriter& out, const std::string& id, const LstmParams& p) {
  ParamsWriter w("p");
  w.field("input_size", p.input_size);
  w.field("hidden_size", p.hidden_size);
  w.field("state_type", p.state_type);
  w.field("weight_type", p.weight_type);
  w.field("separate_state", p.separate_state);
  w.field("saturate_gate_products", p.saturate_gate_products);
  w.field("hidden_zero_point", p.hidden_zero_point);
  detail::write_multipliers(out, w, id, "input_multipliers", p.input_multipliers);
  detail::write_multipliers(out, w, id, "recurrent_multipliers", p.recurrent_multipliers);
  w.span("input_effective_bias", "std::int32_t",
         out.array(id + "_input_effective_bias", p.input_effective_bias),
         p.input_effective_bias.size());
  w.span("recurrent_effective_bias", "std::int32_t",
         out.array(id + "_recurrent_effective_bias", p.recurrent_effective_bias),
         p.recurrent_effective_bias.size());
  w.field("forget_cell_multiplier", p.forget_cell_multiplier);
  w.field("input_cell_multiplier", p.input_cell_multiplier);
  w.field("hidden_multiplier", p.hidden_multiplier);
  w.field("state_multiplier", p.state_multiplier);
  w.field("cell_exponent", p.cell_exponent);
  w.field("clip_cell", p.clip_cell);
  w.field("quantized_cell_clip", p.quantized_cell_clip);
  w.field("hidden_min", p.hidden_min);
  w.field("hidden_max", p.hidden_max);
  w.field("state_zero_point", p.state_zero_point);
  w.field("state_min", p.state_min);
  w.field("state_max", p.state_max);
  w.field("rounding", p.rounding);
  return detail::finish(out, "tsq::LstmParams", id, w);
}

inline std::string write_params(CodeWriter& out, const std::string& id, const RequantizeParams& p) {
  ParamsWriter w("p");
  w.field("shape", p.shape);
  w.field("input_type", p.input_type);
  w.field("output_type", p.output_type);
  w.field("input_zero_point", p.input_zero_point);
  w.field("output_zero_point", p.output_zero_point);
  w.field("multiplier", p.multiplier);
  w.field("output_range.min", p.output_range.min);
  w.field("output_range.max", p.output_range.max);
  w.field("rounding", p.rounding);
  return detail::finish(out, "tsq::RequantizeParams", id, w);
}

}  // namespace codegen
}  // namespace tsq
