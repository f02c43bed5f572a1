// SPDX-License-Identifier: Apache-2.0
// A minimal FlatBuffers writer for the part of the TFLite schema that tsq/io/tflite.hpp reads
// (tests only): write_tflite() turns an io::TfliteModel back into .tflite bytes, so that tests can
// edit a real model (an operator, a shape, a scale) or build a small one, and FlatBufferWriter
// crafts files no converter writes (shared tables, offsets that point anywhere).
//
// Objects are written front to back: a table first, then what its offset fields point to, each
// offset patched once its target exists (FlatBuffers offsets point forward). Nothing is aligned:
// tsq's reader reads every scalar byte by byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "tsq/io/tflite.hpp"

namespace tsq_test {

template <typename T>
std::vector<std::uint8_t> le_bytes(T value) {
  std::vector<std::uint8_t> bytes(sizeof(T));
  std::memcpy(bytes.data(), &value, sizeof(T));  // the test hosts are little-endian
  return bytes;
}

class FlatBufferWriter {
 public:
  struct Field {
    int id;
    std::vector<std::uint8_t> bytes;  // 4 zero bytes for an offset patched later
  };
  struct Table {
    std::size_t position = 0;
    std::map<int, std::size_t> fields;  // id -> position of the field's bytes
  };

  // Root offset (patched by set_root) and the file identifier.
  FlatBufferWriter() : bytes_(8, 0) { std::memcpy(bytes_.data() + 4, "TFL3", 4); }

  std::vector<std::uint8_t>& bytes() { return bytes_; }
  std::size_t size() const { return bytes_.size(); }

  std::size_t append(const std::vector<std::uint8_t>& data) {
    const std::size_t at = bytes_.size();
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return at;
  }
  void set_u32(std::size_t at, std::uint32_t value) { std::memcpy(&bytes_[at], &value, 4); }
  // The offset stored at `at` points to `target` (which must come later).
  void point(std::size_t at, std::size_t target) {
    if (target < at) throw std::logic_error("FlatBuffers offsets point forward");
    set_u32(at, static_cast<std::uint32_t>(target - at));
  }
  void set_root(std::size_t table) { point(0, table); }

  // A vtable followed by its table; fields in the order given.
  Table table(const std::vector<Field>& fields) {
    int max_id = -1;
    std::size_t inline_size = 4;
    for (const Field& f : fields) {
      max_id = f.id > max_id ? f.id : max_id;
      inline_size += f.bytes.size();
    }
    const std::size_t vtable = bytes_.size();
    const auto vtable_size = static_cast<std::uint16_t>(4 + 2 * (max_id + 1));
    bytes_.resize(vtable + vtable_size, 0);
    const auto table_size = static_cast<std::uint16_t>(inline_size);
    std::memcpy(&bytes_[vtable], &vtable_size, 2);
    std::memcpy(&bytes_[vtable + 2], &table_size, 2);
    Table t;
    t.position = bytes_.size();
    append(le_bytes<std::int32_t>(static_cast<std::int32_t>(t.position - vtable)));
    for (const Field& f : fields) {
      const auto offset = static_cast<std::uint16_t>(bytes_.size() - t.position);
      std::memcpy(&bytes_[vtable + 4 + 2 * static_cast<std::size_t>(f.id)], &offset, 2);
      t.fields[f.id] = append(f.bytes);
    }
    return t;
  }

  template <typename T>
  std::size_t vector(const std::vector<T>& values) {
    const std::size_t at =
        append(le_bytes<std::uint32_t>(static_cast<std::uint32_t>(values.size())));
    for (const T& v : values) append(le_bytes<T>(v));
    return at;
  }
  std::size_t string(const std::string& text) {
    const std::size_t at = append(le_bytes<std::uint32_t>(static_cast<std::uint32_t>(text.size())));
    append(std::vector<std::uint8_t>(text.begin(), text.end()));
    append({0});
    return at;
  }
  // A vector of `count` offsets to patch; element i is at the result + 4 + 4 i.
  std::size_t offset_vector(std::size_t count) {
    const std::size_t at = append(le_bytes<std::uint32_t>(static_cast<std::uint32_t>(count)));
    bytes_.resize(bytes_.size() + 4 * count, 0);
    return at;
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

inline FlatBufferWriter::Field offset_field(int id) { return {id, {0, 0, 0, 0}}; }

namespace detail {

using Writer = FlatBufferWriter;

inline void write_options(const tsq::io::TfliteOptions& options, std::uint8_t& type,
                          std::vector<Writer::Field>& fields) {
  using namespace tsq::io;
  const auto i8 = [](auto v) { return le_bytes<std::int8_t>(static_cast<std::int8_t>(v)); };
  const auto i32 = [](std::int32_t v) { return le_bytes<std::int32_t>(v); };
  fields.clear();
  if (const auto* o = std::get_if<TfliteConv2DOptions>(&options)) {
    type = 1;
    fields = {{0, i8(o->padding)},    {1, i32(o->stride_w)},   {2, i32(o->stride_h)},
              {3, i8(o->activation)}, {4, i32(o->dilation_w)}, {5, i32(o->dilation_h)}};
  } else if (const auto* o = std::get_if<TfliteDepthwiseConv2DOptions>(&options)) {
    type = 2;
    fields = {{0, i8(o->padding)},           {1, i32(o->stride_w)},  {2, i32(o->stride_h)},
              {3, i32(o->depth_multiplier)}, {4, i8(o->activation)}, {5, i32(o->dilation_w)},
              {6, i32(o->dilation_h)}};
  } else if (const auto* o = std::get_if<TflitePool2DOptions>(&options)) {
    type = 5;
    fields = {{0, i8(o->padding)},       {1, i32(o->stride_w)},      {2, i32(o->stride_h)},
              {3, i32(o->filter_width)}, {4, i32(o->filter_height)}, {5, i8(o->activation)}};
  } else if (const auto* o = std::get_if<TfliteFullyConnectedOptions>(&options)) {
    type = 8;
    fields = {{0, i8(o->activation)},
              {1, i8(o->weights_format)},
              {2, i8(o->keep_num_dims)},
              {3, i8(o->asymmetric_quantize_inputs)}};
  } else if (const auto* o = std::get_if<TfliteSoftmaxOptions>(&options)) {
    type = 9;
    fields = {{0, le_bytes<float>(o->beta)}};
  } else if (const auto* o = std::get_if<TfliteAddOptions>(&options)) {
    type = 11;
    fields = {{0, i8(o->activation)}, {1, i8(o->pot_scale_int16)}};
  } else if (std::get_if<TfliteReshapeOptions>(&options) != nullptr) {
    type = 17;
    fields = {offset_field(0)};
  } else if (const auto* o = std::get_if<TfliteReducerOptions>(&options)) {
    type = 27;
    fields = {{0, i8(o->keep_dims)}};
  } else if (std::get_if<TfliteSqueezeOptions>(&options) != nullptr) {
    type = 30;
    fields = {offset_field(0)};
  } else if (const auto* o = std::get_if<TfliteSequenceLstmOptions>(&options)) {
    type = 71;
    fields = {{0, i8(o->activation)},
              {1, le_bytes<float>(o->cell_clip)},
              {2, le_bytes<float>(o->proj_clip)},
              {3, i8(o->time_major)},
              {4, i8(o->asymmetric_quantize_inputs)},
              {5, i8(o->diagonal_recurrent_tensors)}};
  } else {
    type = 0;
  }
}

}  // namespace detail

// The model as .tflite bytes (schema fields tsq reads; defaults written out explicitly).
inline std::vector<std::uint8_t> write_tflite(const tsq::io::TfliteModel& model) {
  using Field = FlatBufferWriter::Field;
  FlatBufferWriter w;
  const auto root = w.table({{0, le_bytes<std::uint32_t>(model.version)},
                             offset_field(1),
                             offset_field(2),
                             offset_field(3),
                             offset_field(4)});
  w.set_root(root.position);

  const std::size_t codes = w.offset_vector(model.operator_codes.size());
  w.point(root.fields.at(1), codes);
  for (std::size_t i = 0; i < model.operator_codes.size(); ++i) {
    const tsq::io::TfliteOperatorCode& code = model.operator_codes[i];
    const auto deprecated =
        static_cast<std::int8_t>(code.builtin_code < 127 ? code.builtin_code : 127);
    std::vector<Field> fields = {{0, le_bytes<std::int8_t>(deprecated)},
                                 {2, le_bytes<std::int32_t>(code.version)},
                                 {3, le_bytes<std::int32_t>(code.builtin_code)}};
    if (!code.custom_code.empty()) fields.push_back(offset_field(1));
    const auto t = w.table(fields);
    w.point(codes + 4 + 4 * i, t.position);
    if (!code.custom_code.empty()) w.point(t.fields.at(1), w.string(code.custom_code));
  }

  const std::size_t subgraphs = w.offset_vector(1);
  w.point(root.fields.at(2), subgraphs);
  const auto graph = w.table(
      {offset_field(0), offset_field(1), offset_field(2), offset_field(3), offset_field(4)});
  w.point(subgraphs + 4, graph.position);
  const std::size_t tensors = w.offset_vector(model.tensors.size());
  w.point(graph.fields.at(0), tensors);
  for (std::size_t i = 0; i < model.tensors.size(); ++i) {
    const tsq::io::TfliteTensor& tensor = model.tensors[i];
    std::vector<Field> fields = {offset_field(0),
                                 {1, le_bytes<std::int8_t>(static_cast<std::int8_t>(tensor.type))},
                                 {2, le_bytes<std::uint32_t>(tensor.buffer)},
                                 offset_field(3),
                                 {5, le_bytes<std::uint8_t>(tensor.is_variable ? 1 : 0)}};
    const bool quantized = !tensor.quantization.scale.empty();
    if (quantized) fields.push_back(offset_field(4));
    const auto t = w.table(fields);
    w.point(tensors + 4 + 4 * i, t.position);
    w.point(t.fields.at(0), w.vector(tensor.shape));
    w.point(t.fields.at(3), w.string(tensor.name));
    if (quantized) {
      const auto q =
          w.table({offset_field(2),
                   offset_field(3),
                   {6, le_bytes<std::int32_t>(tensor.quantization.quantized_dimension)}});
      w.point(t.fields.at(4), q.position);
      w.point(q.fields.at(2), w.vector(tensor.quantization.scale));
      w.point(q.fields.at(3), w.vector(tensor.quantization.zero_point));
    }
  }
  w.point(graph.fields.at(1), w.vector(model.inputs));
  w.point(graph.fields.at(2), w.vector(model.outputs));
  const std::size_t operators = w.offset_vector(model.operators.size());
  w.point(graph.fields.at(3), operators);
  for (std::size_t i = 0; i < model.operators.size(); ++i) {
    const tsq::io::TfliteOperator& op = model.operators[i];
    std::uint8_t type = 0;
    std::vector<Field> option_fields;
    detail::write_options(op.options, type, option_fields);
    std::vector<Field> fields = {{0, le_bytes<std::uint32_t>(op.opcode_index)},
                                 offset_field(1),
                                 offset_field(2),
                                 {3, le_bytes<std::uint8_t>(type)},
                                 offset_field(8)};
    if (type != 0) fields.push_back(offset_field(4));
    const auto t = w.table(fields);
    w.point(operators + 4 + 4 * i, t.position);
    w.point(t.fields.at(1), w.vector(op.inputs));
    w.point(t.fields.at(2), w.vector(op.outputs));
    w.point(t.fields.at(8), w.vector(op.intermediates));
    if (type != 0) {
      const auto options = w.table(option_fields);
      w.point(t.fields.at(4), options.position);
      if (const auto* o = std::get_if<tsq::io::TfliteReshapeOptions>(&op.options)) {
        w.point(options.fields.at(0), w.vector(o->new_shape));
      } else if (const auto* s = std::get_if<tsq::io::TfliteSqueezeOptions>(&op.options)) {
        w.point(options.fields.at(0), w.vector(s->squeeze_dims));
      }
    }
  }
  w.point(graph.fields.at(4), w.string(model.subgraph_name));
  w.point(root.fields.at(3), w.string(model.description));

  const std::size_t buffers = w.offset_vector(model.buffers.size());
  w.point(root.fields.at(4), buffers);
  for (std::size_t i = 0; i < model.buffers.size(); ++i) {
    const std::vector<std::uint8_t>& data = model.buffers[i];
    const auto t = data.empty() ? w.table({}) : w.table({offset_field(0)});
    w.point(buffers + 4 + 4 * i, t.position);
    if (!data.empty()) w.point(t.fields.at(0), w.vector(data));
  }
  return w.bytes();
}

}  // namespace tsq_test
