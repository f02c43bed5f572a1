// SPDX-License-Identifier: Apache-2.0
// C++ source for firmware (host): the pieces the model exporter (export/firmware_model.hpp)
// writes and each quantized layer fills in through QuantizedLayer::emit.
//
// A generated model is one header: constants at namespace scope (weights as `constexpr` arrays,
// every layer's params built by a `constexpr` function, so they sit in flash with the mark of a
// prepared kernel and no code runs to set them up), then a run() function that calls the reference
// integer kernels in order on pointers into the caller's arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/tensor/shape.hpp"

namespace tsq {
namespace codegen {

// The C++ spelling of an integer element type.
inline const char* cpp_type(DataType type) {
  switch (type) {
    case DataType::int8: return "std::int8_t";
    case DataType::uint8: return "std::uint8_t";
    case DataType::int16: return "std::int16_t";
    case DataType::int32: return "std::int32_t";
    default: return "void";
  }
}

template <typename T>
const char* cpp_type_of() {
  if constexpr (std::is_same_v<T, std::int8_t>) return "std::int8_t";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "std::uint8_t";
  if constexpr (std::is_same_v<T, std::int16_t>) return "std::int16_t";
  if constexpr (std::is_same_v<T, std::int32_t>) return "std::int32_t";
  if constexpr (std::is_same_v<T, std::int64_t>) return "std::int64_t";
  return "void";
}

inline std::string shape_literal(const Shape& shape) {
  std::string text = "tsq::Shape{";
  for (int i = 0; i < shape.rank(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + "}";
}

// Namespace-scope definitions, collected while the layers are visited.
class CodeWriter {
 public:
  std::string text;
  // Arrays above this many bytes go to the weights section (TSQ_MODEL_WEIGHTS), so that a
  // footprint report can tell the model's constants from its code.
  static constexpr std::size_t kWeightsSectionBytes = 64;

  // `static constexpr`-like array of integers, 16 per line. Returns its name.
  template <typename T>
  std::string array(const std::string& name, Span<const T> values) {
    static_assert(std::is_integral_v<T>, "integer arrays only: no float reaches the firmware");
    const bool weights = values.size() * sizeof(T) > kWeightsSectionBytes;
    text += std::string(weights ? "alignas(4) TSQ_MODEL_WEIGHTS " : "alignas(4) ") +
            "inline constexpr " + cpp_type_of<T>() + " " + name + "[" +
            std::to_string(values.empty() ? 1 : values.size()) + "] = {";
    for (std::size_t i = 0; i < values.size(); ++i) {
      text += i % 16 == 0 ? "\n    " : " ";
      text += integer(values[i]) + ",";
    }
    text += values.empty() ? "0};\n" : "\n};\n";
    return name;
  }
  std::string multipliers(const std::string& name, Span<const QuantizedMultiplier> values) {
    text += "inline constexpr tsq::QuantizedMultiplier " + name + "[" +
            std::to_string(values.empty() ? 1 : values.size()) + "] = {";
    for (std::size_t i = 0; i < values.size(); ++i) {
      text += i % 4 == 0 ? "\n    " : " ";
      text += multiplier(values[i]) + ",";
    }
    text += values.empty() ? "{}};\n" : "\n};\n";
    return name;
  }

  template <typename T>
  static std::string integer(T value) {
    // INT32_MIN and INT64_MIN have no literal of their own.
    if constexpr (std::is_signed_v<T>) {
      if (sizeof(T) >= 4 && value == std::numeric_limits<T>::min()) {
        return std::string("(") + std::to_string(static_cast<long long>(value) + 1) + " - 1)";
      }
      if (sizeof(T) == 8) return std::to_string(static_cast<long long>(value)) + "LL";
    }
    return std::to_string(static_cast<long long>(value));
  }
  static std::string multiplier(QuantizedMultiplier m) {
    return "{" + integer(m.multiplier) + ", " + std::to_string(m.shift) + "}";
  }
};

// Statements of one params object, assigned field by field inside a constexpr function.
class ParamsWriter {
 public:
  explicit ParamsWriter(std::string object) : object_(std::move(object)) {}

  template <typename T>
  void field(const std::string& name, T value) {
    if constexpr (std::is_same_v<T, bool>) {
      line(name, value ? "true" : "false");
    } else if constexpr (std::is_same_v<T, QuantizedMultiplier>) {
      line(name, std::string("tsq::QuantizedMultiplier") + CodeWriter::multiplier(value));
    } else if constexpr (std::is_same_v<T, Shape>) {
      line(name, shape_literal(value));
    } else {
      static_assert(std::is_integral_v<T>, "params fields are integers, enums or shapes");
      line(name, CodeWriter::integer(value));
    }
  }
  // Enumerators by name, so that the generated params read like the host's.
  void field(const std::string& name, DataType value) {
    line(name, std::string("tsq::DataType::") + data_type_name(value));
  }
  void field(const std::string& name, RoundingMode value) {
    line(name, std::string("tsq::RoundingMode::") + rounding_mode_name(value));
  }
  // A Span field pointing at an array written by CodeWriter.
  void span(const std::string& name, const char* element, const std::string& array,
            std::size_t size) {
    line(name, std::string("tsq::Span<const ") + element + ">(" + array + ", " +
                   std::to_string(size) + ")");
  }
  const std::string& statements() const { return statements_; }

 private:
  void line(const std::string& name, const std::string& value) {
    statements_ += "  " + object_ + "." + name + " = " + value + ";\n";
  }
  std::string object_;
  std::string statements_;
};

// One layer's part of a generated model, filled in by QuantizedLayer::emit: its constants go to
// `constants`, the statements that run it to `body`. The exporter names the element pointers
// (already typed) and shapes of the layer's inputs and output and the scratch it may use.
struct LayerCode {
  CodeWriter& constants;
  std::string id;                   // unique C++ identifier of the layer
  std::vector<std::string> inputs;  // const element pointers
  std::vector<DataType> input_types;
  std::vector<Shape> input_shapes;
  std::string output;  // element pointer
  DataType output_type = DataType::int8;
  Shape output_shape;
  std::string scratch;  // unsigned char*, the layer's scratch_bytes()
  std::string body;
  std::vector<std::string> includes;  // kernel headers the statements need

  void include(const std::string& header) {
    for (const std::string& h : includes)
      if (h == header) return;
    includes.push_back(header);
  }
  // A kernel's inner loops without its view checks: shapes and params were checked on the host
  // when the model was exported, and a device has no use for the checks' code and messages.
  void statement(const std::string& expression) { body += "  " + expression + ";\n"; }
  static std::string rounding_argument(RoundingMode mode) {
    return std::string("tsq::RoundingMode::") + rounding_mode_name(mode);
  }
  void call(const std::string& expression) {
    body += "  TSQ_RETURN_IF_ERROR(" + expression + ");\n";
  }
  // A view of input `i` or of the output in `shape` (the kernel's own, e.g. NHWC).
  std::string input_view(std::size_t i, const Shape& shape) const {
    return std::string("tsq::TensorView<const ") + cpp_type(input_types[i]) + ">(" + inputs[i] +
           ", " + shape_literal(shape) + ")";
  }
  std::string output_view(const Shape& shape) const {
    return std::string("tsq::TensorView<") + cpp_type(output_type) + ">(" + output + ", " +
           shape_literal(shape) + ")";
  }
};

}  // namespace codegen
}  // namespace tsq
