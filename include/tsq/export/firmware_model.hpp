// SPDX-License-Identifier: Apache-2.0
// A quantized model as one self-contained C++ header for firmware (host):
//
//   auto q = tsq::quantize(model, calibration, tsq::Scheme::fiq_int8());
//   auto header = tsq::codegen::export_firmware_model(q.value(), {"har_cnn"});
//   // header->text: namespace har_cnn { kInputSize, kOutputSize, kArenaBytes, Input, Output,
//   //                                    tsq::Status run(const Input*, Output*, unsigned char*) }
//
// The header holds the int8/int32 weights as constexpr arrays, every layer's params as
// constexpr constants computed here (multipliers, shifts, offsets, clamps, tables: no float and
// no prepare step on the device), the arena size, and run(), which calls the reference integer
// kernels in order on the caller's input, output and arena (16-byte aligned, kArenaBytes).
// run() needs only tsq's core/, quant/, tensor/ and kernels/reference/ headers: no heap, no
// exceptions, no RTTI, no float.
//
// The arena holds only what the device needs: the first layer reads the caller's input and the
// last writes the caller's output in place, and layers that only move data (Reshape, Flatten,
// LastStep, Dropout) become pointers into their input. The rest is planned as the host plans it
// (greedy by size, buffers whose lifetimes do not overlap share memory).
//
// Models must take and give integers (int8 or uint8: Scheme::fiq_int8() / fiq_uint8(), or an
// imported TFLite file with TfliteImportOptions::io set); every layer must be in an integer form.
// Anything else is unsupported_format naming the layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tsq/core/status.hpp"
#include "tsq/export/code_writer.hpp"
#include "tsq/nn/arena_plan.hpp"
#include "tsq/ptq/quantize_model.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {
namespace codegen {

struct FirmwareExportOptions {
  std::string name;         // the C++ namespace of the model: an identifier
  std::string description;  // one line for the header's comment (optional)
};

struct FirmwareModel {
  std::string text;  // the header
  std::size_t arena_bytes = 0;
  std::size_t input_size = 0;
  std::size_t output_size = 0;
  DataType input_type = DataType::int8;
  DataType output_type = DataType::int8;
};

namespace detail {

inline bool is_identifier(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A layer name as part of a C++ identifier.
inline std::string identifier_part(const std::string& name) {
  std::string id;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    id += ok ? c : '_';
  }
  return id;
}

inline bool is_io_type(DataType type) { return type == DataType::int8 || type == DataType::uint8; }

}  // namespace detail

inline Result<FirmwareModel> export_firmware_model(const QuantizedModel& q,
                                                   const FirmwareExportOptions& options) {
  if (!detail::is_identifier(options.name)) {
    return Status::error(ErrorCode::invalid_argument, "firmware model name '")
        .append(options.name.c_str())
        .append("' is not a C++ identifier");
  }
  const std::vector<QuantizedStep>& steps = q.steps();
  const std::vector<QuantizedSlot>& slots = q.slots();
  if (steps.empty()) return Status::error(ErrorCode::invalid_argument, "model is not quantized");
  const DataType input_type = q.input_quantization().type;
  const DataType output_type = q.output_quantization().type;
  if (!detail::is_io_type(input_type) || !detail::is_io_type(output_type)) {
    return Status::error(ErrorCode::unsupported_format,
                         "firmware models take and give int8 or "
                         "uint8; this one takes ")
        .append(data_type_name(input_type))
        .append(" (quantize with Scheme::fiq_int8() or fiq_uint8())");
  }
  for (const QuantizedStep& step : steps) {
    if (step.node >= 0 && !nn::is_integer_precision(step.precision)) {
      return Status::error(ErrorCode::unsupported_format, "layer '")
          .append(q.float_model().layer(static_cast<std::size_t>(step.node)).name().c_str())
          .append("' runs in ")
          .append(nn::precision_name(step.precision))
          .append(": firmware models are integer only");
    }
  }
  const auto slot_count = slots.size();
  const auto slot_bytes = [&](std::size_t s) {
    return slots[s].shape.element_count() * data_type_size(slots[s].quantization.type);
  };
  const auto step_name = [&](const QuantizedStep& step) -> std::string {
    return step.node < 0 ? "conversion"
                         : q.float_model().layer(static_cast<std::size_t>(step.node)).name();
  };

  // Storage: every slot is its own buffer, or a run of another slot's elements.
  std::vector<std::size_t> root(slot_count), element_offset(slot_count, 0);
  for (std::size_t s = 0; s < slot_count; ++s) root[s] = s;
  std::vector<bool> alias_step(steps.size(), false);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const QuantizedStep& step = steps[i];
    const auto out = static_cast<std::size_t>(step.output);
    const std::optional<std::size_t> offset = step.layer->output_aliases_input();
    if (offset && step.inputs.size() == 1) {
      const auto in = static_cast<std::size_t>(step.inputs[0]);
      if (slots[in].quantization.type == slots[out].quantization.type) {
        root[out] = root[in];
        element_offset[out] = element_offset[in] + *offset;
        alias_step[i] = true;
      }
    }
  }
  const auto input_root = root[static_cast<std::size_t>(q.input_slot())];
  const auto output_slot = static_cast<std::size_t>(q.output_slot());
  // The last layer writes the caller's output itself unless the output is a part of a tensor.
  const bool output_in_place = root[output_slot] == output_slot && output_slot != input_root;

  // Lifetimes of the buffers in the arena, then one scratch item per step.
  std::vector<nn::ArenaItem> items(slot_count);
  for (std::size_t s = 0; s < slot_count; ++s) items[s] = nn::ArenaItem{0, -1, -1};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const int at = static_cast<int>(i);
    for (const int input : steps[i].inputs) {
      nn::ArenaItem& item = items[root[static_cast<std::size_t>(input)]];
      item.last_step = std::max(item.last_step, at);
    }
    nn::ArenaItem& written = items[root[static_cast<std::size_t>(steps[i].output)]];
    if (!alias_step[i] && written.first_step < 0) written.first_step = at;
    written.last_step = std::max(written.last_step, at);
  }
  items[root[output_slot]].last_step = static_cast<int>(steps.size());
  for (std::size_t s = 0; s < slot_count; ++s) {
    const bool in_arena = root[s] == s && s != input_root && !(output_in_place && s == output_slot);
    if (in_arena && items[s].first_step >= 0) items[s].bytes = slot_bytes(s);
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    items.push_back(nn::ArenaItem{alias_step[i] ? 0 : steps[i].layer->exported_scratch_bytes(),
                                  static_cast<int>(i), static_cast<int>(i)});
  }
  const nn::ArenaPlan plan = nn::plan_arena(items);
  const std::size_t arena_bytes = std::max<std::size_t>(plan.total_bytes, nn::kArenaAlignment);

  // Element pointers of the slots, declared as they are first needed.
  const auto pointer = [&](std::size_t s) {
    const std::size_t r = root[s];
    const char* type = cpp_type(slots[s].quantization.type);
    std::string base;
    if (r == input_root) {
      base = "input";
    } else if (output_in_place && r == output_slot) {
      base = "output";
    } else {
      base = std::string("reinterpret_cast<") + type + "*>(arena + " +
             std::to_string(plan.offsets[r]) + ")";
    }
    return element_offset[s] == 0 ? base
                                  : "(" + base + " + " + std::to_string(element_offset[s]) + ")";
  };

  CodeWriter constants;
  std::string body;
  std::vector<std::string> includes;
  std::vector<std::string> used_ids;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (alias_step[i]) continue;
    const QuantizedStep& step = steps[i];
    std::string id = detail::identifier_part(step_name(step));
    for (const std::string& used : used_ids) {
      if (used == id) id += "_" + std::to_string(i);
    }
    used_ids.push_back(id);
    LayerCode code{constants, id, {}, {}, {}, "", DataType::int8, Shape{}, "", "", {}};
    for (const int input : step.inputs) {
      const auto s = static_cast<std::size_t>(input);
      code.inputs.push_back(pointer(s));
      code.input_types.push_back(slots[s].quantization.type);
      code.input_shapes.push_back(slots[s].shape);
    }
    const auto out = static_cast<std::size_t>(step.output);
    code.output = pointer(out);
    code.output_type = slots[out].quantization.type;
    code.output_shape = slots[out].shape;
    code.scratch = "(arena + " + std::to_string(plan.offsets[slot_count + i]) + ")";
    const Status status = step.layer->emit(code);
    if (!status.is_ok()) {
      return Status::error(status.code(), "layer '")
          .append(step_name(step).c_str())
          .append("': ")
          .append(status.message());
    }
    body += "  // " + step_name(step) + "\n" + code.body;
    for (const std::string& header : code.includes) {
      bool seen = false;
      for (const std::string& h : includes) seen = seen || h == header;
      if (!seen) includes.push_back(header);
    }
  }
  if (!output_in_place) {
    body += "  for (std::size_t i = 0; i < kOutputSize; ++i) output[i] = " + pointer(output_slot) +
            "[i];\n";
  }

  FirmwareModel model;
  model.arena_bytes = arena_bytes;
  model.input_size = q.input_size();
  model.output_size = q.output_size();
  model.input_type = input_type;
  model.output_type = output_type;
  std::string& text = model.text;
  text += "// Generated by tsq (export/firmware_model.hpp): the model '" + options.name +
          "', scheme " + q.scheme().name + ".\n";
  if (!options.description.empty()) text += "// " + options.description + "\n";
  text +=
      "// Integer only: int8/int32 constants, params computed on the host, the reference kernels.\n"
      "#pragma once\n\n#include <cstddef>\n#include <cstdint>\n\n#include "
      "\"tsq/core/status.hpp\"\n";
  for (const std::string& header : includes) text += "#include \"" + header + "\"\n";
  text +=
      "\n// Where the weight arrays go (e.g. __attribute__((section(\".rodata.tsq_weights\"))) for "
      "a "
      "footprint report).\n#ifndef TSQ_MODEL_WEIGHTS\n#define TSQ_MODEL_WEIGHTS\n#endif\n\n";
  text += "namespace " + options.name + " {\n\n";
  text += "inline constexpr std::size_t kInputSize = " + std::to_string(model.input_size) + ";\n";
  text += "inline constexpr std::size_t kOutputSize = " + std::to_string(model.output_size) + ";\n";
  text +=
      "// Bytes of the arena run() needs, 16-byte aligned.\ninline constexpr std::size_t "
      "kArenaBytes = " +
      std::to_string(arena_bytes) + ";\n";
  text += std::string("using Input = ") + cpp_type(input_type) + ";\n";
  text += std::string("using Output = ") + cpp_type(output_type) + ";\n";
  const auto& in_params = q.input_quantization().params;
  const auto& out_params = q.output_quantization().params;
  text += "// Input zero point " + std::to_string(in_params.zero_point) + ", output zero point " +
          std::to_string(out_params.zero_point) + ".\n";
  text +=
      "inline constexpr std::int32_t kInputZeroPoint = " + std::to_string(in_params.zero_point) +
      ";\n";
  text +=
      "inline constexpr std::int32_t kOutputZeroPoint = " + std::to_string(out_params.zero_point) +
      ";\n\n";
  text += "namespace constants {\n\n" + constants.text + "\n}  // namespace constants\n\n";
  text +=
      "// One inference: `input` holds kInputSize values, `output` receives kOutputSize; `arena`\n"
      "// holds kArenaBytes bytes, 16-byte aligned.\n"
      "inline tsq::Status run(const Input* input, Output* output, unsigned char* arena) {\n"
      "  using namespace constants;\n"
      "  if (input == nullptr || output == nullptr || arena == nullptr) {\n"
      "    return tsq::Status::error(tsq::ErrorCode::invalid_argument, \"" +
      options.name + ": null input, output or arena\");\n  }\n";
  text += body + "  return tsq::Status::ok();\n}\n\n}  // namespace " + options.name + "\n";
  return model;
}

// The companion header <name>_testdata.hpp: `windows` (count x input_size floats) quantized with
// the model's input parameters, and the outputs the host computes for them: the device must give
// the same bytes.
inline Result<std::string> export_test_data(const QuantizedModel& q, const std::string& name,
                                            Span<const float> windows) {
  const std::size_t in_size = q.input_size();
  const std::size_t out_size = q.output_size();
  if (in_size == 0 || windows.size() % in_size != 0 || windows.empty()) {
    return Status::error(ErrorCode::shape_mismatch, "test windows: not a whole number of inputs");
  }
  const std::size_t count = windows.size() / in_size;
  const DataType type = q.input_quantization().type;
  if (!detail::is_io_type(type) || q.output_quantization().type != type) {
    return Status::error(ErrorCode::unsupported_format, "test data: int8 or uint8 I/O only");
  }
  std::vector<std::byte> arena(q.arena_bytes());
  std::string inputs, outputs;
  const auto append = [](std::string& text, const auto& values) {
    text += "    {";
    for (std::size_t i = 0; i < values.size(); ++i) {
      text +=
          (i % 20 == 0 ? "\n        " : " ") + std::to_string(static_cast<int>(values[i])) + ",";
    }
    text += "},\n";
  };
  for (std::size_t w = 0; w < count; ++w) {
    const Span<const float> window = windows.subspan(w * in_size, in_size);
    Status status;
    if (type == DataType::int8) {
      std::vector<std::int8_t> in(in_size), out(out_size);
      status = quantize(window, Span<std::int8_t>(in), q.input_quantization().params);
      if (status.is_ok())
        status = q.run(Span<const std::int8_t>(in), Span<std::int8_t>(out), arena);
      append(inputs, in);
      append(outputs, out);
    } else {
      std::vector<std::uint8_t> in(in_size), out(out_size);
      status = quantize(window, Span<std::uint8_t>(in), q.input_quantization().params);
      if (status.is_ok())
        status = q.run(Span<const std::uint8_t>(in), Span<std::uint8_t>(out), arena);
      append(inputs, in);
      append(outputs, out);
    }
    if (!status.is_ok()) return status;
  }
  const std::string element = cpp_type(type);
  std::string text =
      "// Generated by tsq (export/firmware_model.hpp): " + std::to_string(count) +
      " input windows of the model '" + name +
      "' and the outputs the host computed for them.\n#pragma once\n\n#include "
      "<cstddef>\n#include <cstdint>\n\nnamespace " +
      name + "_testdata {\n\ninline constexpr std::size_t kWindows = " + std::to_string(count) +
      ";\n";
  text += "inline constexpr " + element + " kInputs[kWindows][" + std::to_string(in_size) +
          "] = {\n" + inputs + "};\n";
  text += "inline constexpr " + element + " kExpected[kWindows][" + std::to_string(out_size) +
          "] = {\n" + outputs + "};\n\n}  // namespace " + name + "_testdata\n";
  return text;
}

}  // namespace codegen
}  // namespace tsq
