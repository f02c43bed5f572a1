// SPDX-License-Identifier: Apache-2.0
// The model analyzer (host): layers with their types, shapes and parameter counts; tensors per
// element type; parameter bytes per type; the float model's size against the quantized one and
// the compression factor (the study's tables 5.1-5.3).
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "tsq/nn/model.hpp"
#include "tsq/ptq/quantize_model.hpp"

namespace tsq {
namespace debug {

struct LayerSummary {
  std::string name;
  std::string kind;
  Shape output_shape;
  std::size_t parameters = 0;
  nn::Precision precision = nn::Precision::float32;
  DataType output_type = DataType::float32;
  nn::ParameterBytes bytes;
};

struct ModelSummary {
  std::string scheme;
  std::vector<LayerSummary> layers;
  std::size_t parameters = 0;
  std::size_t float_bytes = 0;  // every parameter as float32
  nn::ParameterBytes quantized_bytes;
  // Activation tensors (model tensors and inserted conversions) per element type.
  std::size_t float32_tensors = 0;
  std::size_t int8_tensors = 0;
  std::size_t uint8_tensors = 0;
  std::size_t int16_tensors = 0;
  std::size_t conversions = 0;
  std::size_t arena_bytes = 0;
  double compression() const {
    return quantized_bytes.total() == 0
               ? 0.0
               : static_cast<double>(float_bytes) / static_cast<double>(quantized_bytes.total());
  }
};

inline ModelSummary summarize(const QuantizedModel& quantized) {
  const nn::Model& model = quantized.float_model();
  ModelSummary summary;
  summary.scheme = quantized.scheme().name;
  for (std::size_t n = 0; n < model.node_count(); ++n) {
    const QuantizedStep& step = quantized.node_step(n);
    LayerSummary layer;
    layer.name = model.layer(n).name();
    layer.kind = model.layer(n).kind();
    layer.output_shape = model.tensors()[static_cast<std::size_t>(model.node_output(n))].shape;
    layer.parameters = model.layer(n).parameter_count();
    layer.precision = step.precision;
    layer.output_type = quantized.tensor_quantization(model.node_output(n)).type;
    layer.bytes = step.layer->parameter_bytes();
    summary.parameters += layer.parameters;
    summary.layers.push_back(layer);
  }
  summary.float_bytes = summary.parameters * sizeof(float);
  summary.quantized_bytes = quantized.parameter_bytes();
  for (const QuantizedSlot& slot : quantized.slots()) {
    switch (slot.quantization.type) {
      case DataType::float32: ++summary.float32_tensors; break;
      case DataType::int8: ++summary.int8_tensors; break;
      case DataType::uint8: ++summary.uint8_tensors; break;
      case DataType::int16: ++summary.int16_tensors; break;
      default: break;
    }
  }
  summary.conversions = quantized.conversion_count();
  summary.arena_bytes = quantized.arena_bytes();
  return summary;
}

inline void print_summary(std::FILE* out, const ModelSummary& summary) {
  std::fprintf(out, "%-3s %-20s %-18s %-18s %9s %-17s %-7s %9s\n", "#", "layer", "kind", "output",
               "params", "precision", "out", "bytes");
  for (std::size_t i = 0; i < summary.layers.size(); ++i) {
    const LayerSummary& l = summary.layers[i];
    std::string shape = "[";
    for (int a = 0; a < l.output_shape.rank(); ++a) {
      shape += (a ? ", " : "") + std::to_string(l.output_shape[a]);
    }
    shape += "]";
    std::fprintf(out, "%-3zu %-20.20s %-18.18s %-18.18s %9zu %-17s %-7s %9zu\n", i, l.name.c_str(),
                 l.kind.c_str(), shape.c_str(), l.parameters, nn::precision_name(l.precision),
                 data_type_name(l.output_type), l.bytes.total());
  }
  const nn::ParameterBytes& b = summary.quantized_bytes;
  std::fprintf(out,
               "parameters %zu; float32 %zu B -> %s %zu B (float32 %zu, float16 %zu, int8 %zu, "
               "int16 %zu, int32 %zu, int64 %zu): compression %.2fx\n",
               summary.parameters, summary.float_bytes, summary.scheme.c_str(), b.total(),
               b.float32, b.float16, b.int8, b.int16, b.int32, b.int64, summary.compression());
  std::fprintf(
      out, "tensors: float32 %zu, int8 %zu, uint8 %zu, int16 %zu (%zu conversions); arena %zu B\n",
      summary.float32_tensors, summary.int8_tensors, summary.uint8_tensors, summary.int16_tensors,
      summary.conversions, summary.arena_bytes);
}

// Every tensor: its calibrated float range, element type, scale and zero point.
inline void print_tensor_table(std::FILE* out, const QuantizedModel& quantized) {
  const nn::Model& model = quantized.float_model();
  std::fprintf(out, "%-20s %-22s %-7s %12s %6s\n", "tensor", "calibrated range", "type", "scale",
               "zp");
  for (std::size_t t = 0; t < model.tensors().size(); ++t) {
    const auto id = static_cast<nn::TensorId>(t);
    const nn::TensorQuantization& q = quantized.tensor_quantization(id);
    const Range& range = quantized.tensor_range(id);
    char interval[48];
    std::snprintf(interval, sizeof(interval), "[%.4g, %.4g]", static_cast<double>(range.min),
                  static_cast<double>(range.max));
    if (q.type == DataType::float32) {
      std::fprintf(out, "%-20.20s %-22s %-7s %12s %6s\n", model.tensors()[t].name.c_str(), interval,
                   "float32", "-", "-");
    } else {
      std::fprintf(out, "%-20.20s %-22s %-7s %12.6g %6d\n", model.tensors()[t].name.c_str(),
                   interval, data_type_name(q.type), static_cast<double>(q.params.scale),
                   q.params.zero_point);
    }
  }
}

}  // namespace debug
}  // namespace tsq
