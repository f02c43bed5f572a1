// SPDX-License-Identifier: Apache-2.0
// The .tflite reader on the real models of tests/data (against the .npz files that
// tools/tflite_json_to_npz.py made from the same models' JSON dumps) and on broken files: every
// truncated prefix, random byte changes, edited fields, unsupported operators, shared objects.
#include "tsq/io/tflite.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tflite_writer.hpp"
#include "tsq/io/npz.hpp"

using tsq::ErrorCode;
using tsq::io::TfliteBuiltin;
using tsq::io::TfliteModel;
using tsq::io::TfliteTensorType;

namespace {

using Bytes = std::vector<std::uint8_t>;

std::string data_path(const char* name) {
  return std::string(TSQ_TEST_SOURCE_DIR) + "/../data/" + name;
}

Bytes read_bytes(const char* name) {
  Bytes bytes;
  REQUIRE(tsq::io::detail::read_file(data_path(name), bytes).is_ok());
  return bytes;
}

tsq::Result<TfliteModel> parse(const Bytes& bytes) {
  return tsq::io::parse_tflite(bytes.data(), bytes.size());
}

TfliteModel parse_ok(const Bytes& bytes) {
  tsq::Result<TfliteModel> model = parse(bytes);
  INFO(model.status().message());
  REQUIRE(model.is_ok());
  return std::move(model).value();
}

void check_error(const tsq::Status& status, ErrorCode code, const std::string& fragment) {
  INFO("message: " << status.message());
  REQUIRE_FALSE(status.is_ok());
  CHECK(std::string(tsq::error_code_name(status.code())) == tsq::error_code_name(code));
  CHECK_THAT(status.message(), Catch::Contains(fragment));
}

template <typename T>
std::vector<T> npz_values(const tsq::io::NpzFile& npz, const std::string& name) {
  const tsq::io::NpyArray* array = npz.find(name);
  INFO("npz member " << name);
  REQUIRE(array != nullptr);
  REQUIRE(array->data<T>() != nullptr);
  return std::vector<T>(array->data<T>(), array->data<T>() + array->element_count());
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Every tensor (shape, data, scales, zero points, axis) and every operator record of the model
// must be what the JSON converter wrote.
void check_against_npz(const TfliteModel& model, const char* npz_name) {
  const tsq::Result<tsq::io::NpzFile> loaded = tsq::io::load_npz(data_path(npz_name));
  REQUIRE(loaded.is_ok());
  const tsq::io::NpzFile& npz = loaded.value();
  std::size_t compared_values = 0;
  for (std::size_t i = 0; i < model.tensors.size(); ++i) {
    const std::string t = "t" + std::to_string(i);
    const tsq::io::TfliteTensor& tensor = model.tensors[i];
    INFO(t << " " << tensor.name);
    CHECK(npz_values<std::int32_t>(npz, t + ".shape") == tensor.shape);
    REQUIRE((npz.find(t) != nullptr) == model.has_data(i));
    if (model.has_data(i)) {
      switch (tensor.type) {
        case TfliteTensorType::float32:
          CHECK(same_bits(npz_values<float>(npz, t), model.tensor_values<float>(i).value()));
          break;
        case TfliteTensorType::int8:
          CHECK(npz_values<std::int8_t>(npz, t) == model.tensor_values<std::int8_t>(i).value());
          break;
        case TfliteTensorType::int32:
          CHECK(npz_values<std::int32_t>(npz, t) == model.tensor_values<std::int32_t>(i).value());
          break;
        default: FAIL("unexpected tensor type " << tsq::io::tflite_tensor_type_name(tensor.type));
      }
      compared_values += tensor.element_count();
    }
    REQUIRE((npz.find(t + ".scale") != nullptr) == !tensor.quantization.empty());
    if (!tensor.quantization.empty()) {
      CHECK(same_bits(npz_values<float>(npz, t + ".scale"), tensor.quantization.scale));
      const std::vector<std::int32_t> zero_points =
          npz_values<std::int32_t>(npz, t + ".zero_point");
      CHECK(std::vector<std::int64_t>(zero_points.begin(), zero_points.end()) ==
            tensor.quantization.zero_point);
      REQUIRE((npz.find(t + ".axis") != nullptr) == (tensor.quantization.scale.size() > 1));
      if (tensor.quantization.scale.size() > 1) {
        CHECK(npz_values<std::int32_t>(npz, t + ".axis").at(0) ==
              tensor.quantization.quantized_dimension);
      }
    }
  }
  for (std::size_t k = 0; k < model.operators.size(); ++k) {
    const tsq::io::TfliteOperator& op = model.operators[k];
    std::vector<std::int32_t> record = {static_cast<std::int32_t>(op.opcode),
                                        static_cast<std::int32_t>(op.inputs.size())};
    record.insert(record.end(), op.inputs.begin(), op.inputs.end());
    record.push_back(static_cast<std::int32_t>(op.outputs.size()));
    record.insert(record.end(), op.outputs.begin(), op.outputs.end());
    INFO("op" << k);
    CHECK(npz_values<std::int32_t>(npz, "op" + std::to_string(k)) == record);
  }
  CHECK(npz.find("op" + std::to_string(model.operators.size())) == nullptr);
  std::printf("%s: %zu tensors (%zu constant values), %zu operators: equal to %s\n", npz_name,
              model.tensors.size(), compared_values, model.operators.size(), npz_name);
}

// The position of field `id` of operator code `code` in a file (the reader's own navigation).
std::size_t operator_code_field(const Bytes& bytes, std::uint32_t code, int id) {
  using tsq::io::detail::FlatBufferReader;
  FlatBufferReader r(bytes.data(), bytes.size());
  const tsq::io::detail::TflitePlace place;
  std::uint64_t root_position = 0;
  REQUIRE(r.follow(0, place, root_position).is_ok());
  FlatBufferReader::Table root, table;
  REQUIRE(r.table_at(root_position, place, root).is_ok());
  FlatBufferReader::Vector codes;
  REQUIRE(r.vector(root, 1, 4, place, codes).is_ok());
  REQUIRE(r.table_in(codes, code, place, table).is_ok());
  std::uint64_t position = 0;
  REQUIRE(r.field(table, id, 1, place, position).is_ok());
  REQUIRE(position != 0);
  return static_cast<std::size_t>(position);
}

}  // namespace

TEST_CASE("TFLite reader: the int8 ECG model", "[io][tflite]") {
  const TfliteModel model = parse_ok(read_bytes("ecg_classifier_int8.tflite"));
  CHECK(model.version == 3);
  CHECK(model.description == "TOCO Converted.");
  CHECK(model.subgraph_count == 1);
  REQUIRE(model.tensors.size() == 37);
  REQUIRE(model.operators.size() == 18);
  CHECK(model.inputs == std::vector<std::int32_t>{35});
  CHECK(model.outputs == std::vector<std::int32_t>{36});
  CHECK(model.tensors[35].type == TfliteTensorType::float32);
  CHECK(model.tensors[1].type == TfliteTensorType::int8);
  CHECK(model.tensors[1].name == "input_1_int8");
  CHECK(model.tensors[4].shape == std::vector<std::int32_t>{1, 1, 3, 5});
  CHECK(model.tensors[4].quantization.quantized_dimension == 3);
  CHECK(model.tensors[8].quantization.scale.size() == 10);
  CHECK(model.tensors[0].quantization.scale == std::vector<float>{1.0f / 256});
  CHECK(model.tensors[0].quantization.zero_point == std::vector<std::int64_t>{-128});
  CHECK(model.operators.front().opcode == TfliteBuiltin::quantize);
  CHECK(model.operators.back().opcode == TfliteBuiltin::dequantize);

  // The builtin options, as the JSON dump states them.
  const auto* depthwise = model.operators[2].options_as<tsq::io::TfliteDepthwiseConv2DOptions>();
  REQUIRE(depthwise != nullptr);
  CHECK(depthwise->padding == tsq::io::TflitePadding::valid);
  CHECK(depthwise->stride_w == 1);
  CHECK(depthwise->stride_h == 1);
  CHECK(depthwise->depth_multiplier == 5);
  CHECK(depthwise->activation == tsq::io::TfliteActivation::relu);
  CHECK(depthwise->dilation_w == 1);
  const auto* reshape = model.operators[3].options_as<tsq::io::TfliteReshapeOptions>();
  REQUIRE(reshape != nullptr);
  CHECK(reshape->new_shape == std::vector<std::int32_t>{1, 258, 1, 5});
  const auto* pool = model.operators[4].options_as<tsq::io::TflitePool2DOptions>();
  REQUIRE(pool != nullptr);
  CHECK(pool->filter_height == 2);
  CHECK(pool->filter_width == 1);
  CHECK(pool->stride_h == 2);
  CHECK(pool->stride_w == 1);
  const auto* conv = model.operators[6].options_as<tsq::io::TfliteConv2DOptions>();
  REQUIRE(conv != nullptr);
  CHECK(conv->activation == tsq::io::TfliteActivation::relu);
  const auto* last_dense = model.operators[15].options_as<tsq::io::TfliteFullyConnectedOptions>();
  REQUIRE(last_dense != nullptr);
  CHECK(last_dense->activation == tsq::io::TfliteActivation::none);
  CHECK_FALSE(last_dense->keep_num_dims);
  const auto* softmax = model.operators[16].options_as<tsq::io::TfliteSoftmaxOptions>();
  REQUIRE(softmax != nullptr);
  CHECK(softmax->beta == 1.0f);

  check_against_npz(model, "ecg_classifier_int8.npz");
}

TEST_CASE("TFLite reader: the float ECG model and the int8 mnist LSTM", "[io][tflite]") {
  const TfliteModel ecg = parse_ok(read_bytes("ecg_classifier_float.tflite"));
  CHECK(ecg.tensors.size() == 35);
  CHECK(ecg.operators.size() == 16);
  check_against_npz(ecg, "ecg_classifier_float.npz");

  const TfliteModel lstm = parse_ok(read_bytes("mnist_lstm_int8.tflite"));
  CHECK(lstm.description == "MLIR Converted.");
  CHECK(lstm.subgraph_name == "main");
  REQUIRE(lstm.operators.size() == 4);
  const tsq::io::TfliteOperator& op = lstm.operators[0];
  CHECK(op.opcode == TfliteBuiltin::unidirectional_sequence_lstm);
  CHECK(op.inputs.size() == 24);
  CHECK(op.inputs[9] == -1);
  CHECK(op.intermediates == std::vector<std::int32_t>{18, 19, 20, 21, 22});
  const auto* options = op.options_as<tsq::io::TfliteSequenceLstmOptions>();
  REQUIRE(options != nullptr);
  CHECK(options->activation == tsq::io::TfliteActivation::tanh);
  CHECK(options->cell_clip == 10.0f);
  CHECK_FALSE(options->time_major);
  CHECK(lstm.tensors[16].is_variable);
  CHECK(lstm.tensors[17].type == TfliteTensorType::int16);
  // Both operator code fields are present in this file (newer converter).
  CHECK(lstm.operator_codes[0].builtin_code == 44);
  check_against_npz(lstm, "mnist_lstm_int8.npz");
}

TEST_CASE("TFLite reader: a model written back reads the same", "[io][tflite]") {
  for (const char* name : {"ecg_classifier_int8.tflite", "mnist_lstm_int8.tflite"}) {
    INFO(name);
    const TfliteModel model = parse_ok(read_bytes(name));
    const Bytes written = tsq_test::write_tflite(model);
    const TfliteModel again = parse_ok(written);
    CHECK(tsq_test::write_tflite(again) == written);
    CHECK(again.tensors.size() == model.tensors.size());
    CHECK(again.buffers == model.buffers);
  }
}

TEST_CASE("TFLite reader: every truncated prefix is a clear error", "[io][tflite]") {
  for (const char* name : {"ecg_classifier_int8.tflite", "mnist_lstm_int8.tflite"}) {
    const Bytes bytes = read_bytes(name);
    std::size_t failures = 0;
    for (std::size_t size = 0; size < bytes.size(); ++size) {
      const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
      const tsq::Result<TfliteModel> model = parse(prefix);
      if (model.is_ok() || model.status().code() != ErrorCode::malformed_file ||
          std::strncmp(model.status().message(), "tflite: ", 8) != 0) {
        INFO(name << " cut to " << size << " bytes: " << model.status().message());
        CHECK(false);
        if (++failures > 5) break;
      }
    }
    CHECK(failures == 0);
  }
  check_error(parse(Bytes{}).status(), ErrorCode::malformed_file, "file too small (0 bytes)");
}

TEST_CASE("TFLite reader: random byte changes give a model or an error, never a crash",
          "[io][tflite]") {
  const Bytes original = read_bytes("mnist_lstm_int8.tflite");
  std::mt19937 rng(20240611);
  std::size_t errors = 0, accepted = 0;
  const int kTrials = 4000;
  for (int trial = 0; trial < kTrials; ++trial) {
    Bytes bytes = original;
    const int changes = 1 + static_cast<int>(rng() % 4);
    for (int c = 0; c < changes; ++c) {
      bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
    }
    const tsq::Result<TfliteModel> model = parse(bytes);
    if (model.is_ok()) {
      ++accepted;
      // What is accepted is consistent: indices in range, buffers as large as their tensors.
      for (const tsq::io::TfliteOperator& op : model->operators) {
        for (const std::int32_t i : op.inputs)
          CHECK(i < static_cast<std::int32_t>(model->tensors.size()));
        CHECK(op.opcode_index < model->operator_codes.size());
      }
      for (std::size_t i = 0; i < model->tensors.size(); ++i) {
        const std::size_t size = tsq::io::tflite_tensor_type_size(model->tensors[i].type);
        if (model->has_data(i) && size != 0) {
          CHECK(model->tensor_bytes(i).size() == model->tensors[i].element_count() * size);
        }
      }
    } else {
      ++errors;
      const ErrorCode code = model.status().code();
      CHECK((code == ErrorCode::malformed_file || code == ErrorCode::unsupported_format));
      CHECK(std::strncmp(model.status().message(), "tflite: ", 8) == 0);
    }
  }
  std::printf("TFLite reader, %d random edits of mnist_lstm_int8.tflite: %zu errors, %zu read\n",
              kTrials, errors, accepted);
  CHECK(errors > 0);
  CHECK(errors + accepted == static_cast<std::size_t>(kTrials));
}

TEST_CASE("TFLite reader: unsupported operators are named", "[io][tflite]") {
  Bytes ecg = read_bytes("ecg_classifier_int8.tflite");
  // Operator code 0 is CONV_2D (operators 6 and 10); its deprecated_builtin_code byte says 3.
  const std::size_t at = operator_code_field(ecg, 0, 0);
  REQUIRE(ecg[at] == 3);
  ecg[at] = 67;
  check_error(parse(ecg).status(), ErrorCode::unsupported_format,
              "tflite: operator 6: TRANSPOSE_CONV is not supported");
  ecg[at] = 2;
  check_error(parse(ecg).status(), ErrorCode::unsupported_format,
              "operator 6: CONCATENATION is not supported");

  // The int32 builtin_code (files from newer converters) wins when it is the larger one.
  TfliteModel lstm = parse_ok(read_bytes("mnist_lstm_int8.tflite"));
  lstm.operator_codes[1].builtin_code = 39;
  check_error(parse(tsq_test::write_tflite(lstm)).status(), ErrorCode::unsupported_format,
              "operator 1: TRANSPOSE is not supported");
  lstm.operator_codes[1].builtin_code = 250;
  check_error(parse(tsq_test::write_tflite(lstm)).status(), ErrorCode::unsupported_format,
              "operator 1: builtin operator 250 is not supported");
  lstm.operator_codes[1].builtin_code = 32;
  lstm.operator_codes[1].custom_code = "MyReshape";
  check_error(parse(tsq_test::write_tflite(lstm)).status(), ErrorCode::unsupported_format,
              "custom operator 'MyReshape' is not supported");
  CHECK(std::string(tsq::io::tflite_builtin_name(TfliteBuiltin::unidirectional_sequence_lstm)) ==
        "UNIDIRECTIONAL_SEQUENCE_LSTM");
  CHECK(std::string(tsq::io::tflite_builtin_name(161)) == "RIGHT_SHIFT");
  CHECK(tsq::io::tflite_builtin_name(162) == nullptr);
}

TEST_CASE("TFLite reader: edited fields give errors that name them", "[io][tflite]") {
  const Bytes original = read_bytes("ecg_classifier_int8.tflite");
  const TfliteModel model = parse_ok(original);

  Bytes bytes = original;
  bytes[4] = 'X';
  check_error(parse(bytes).status(), ErrorCode::malformed_file, "file identifier is not TFL3");

  TfliteModel edited = model;
  edited.version = 2;
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::unsupported_format,
              "schema version 2 (supported: 3)");

  edited = model;
  edited.tensors[4].buffer = 99;
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "tensor 4: buffer index out of range");

  edited = model;
  edited.tensors[16].shape = {30, 601};
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "tensor 16: buffer size differs from shape and type");

  edited = model;
  edited.tensors[9].shape = {1, 1, -126, 10};
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "tensor 9: shape has a negative dimension");

  edited = model;
  edited.tensors[8].quantization.zero_point.pop_back();
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "tensor 8: quantization: scale and zero_point counts differ");

  edited = model;
  edited.tensors[8].quantization.quantized_dimension = 3;
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "tensor 8: quantization: scale count differs from the quantized dimension");

  edited = model;
  edited.operators[2].inputs[1] = 37;
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "operator 2: inputs: tensor index out of range");

  edited = model;
  edited.operators[2].outputs[0] = -1;
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "operator 2: outputs: tensor index out of range");

  edited = model;
  edited.operators[5].opcode_index = 8;
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "operator 5: opcode_index: out of range");

  edited = model;
  edited.operators[6].options = tsq::io::TflitePool2DOptions{};
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "operator 6: options of type 5 do not belong to CONV_2D");

  edited = model;
  edited.inputs = {40};
  check_error(parse(tsq_test::write_tflite(edited)).status(), ErrorCode::malformed_file,
              "subgraph 0: inputs: tensor index out of range");

  // A string without its terminating zero byte.
  Bytes unterminated = tsq_test::write_tflite(model);
  const std::string description = "TOCO Converted.";
  const auto found =
      std::search(unterminated.begin(), unterminated.end(), description.begin(), description.end());
  REQUIRE(found != unterminated.end());
  *(found + static_cast<std::ptrdiff_t>(description.size())) = '!';
  check_error(parse(unterminated).status(), ErrorCode::malformed_file,
              "model: description: string is not terminated");

  check_error(tsq::io::load_tflite(data_path("no_such_model.tflite")).status(), ErrorCode::io_error,
              "no_such_model.tflite");
  check_error(tsq::io::load_tflite(data_path("ecg_classifier_int8.npz")).status(),
              ErrorCode::malformed_file, "in ");
}

TEST_CASE("TFLite reader: tables shared by many references cannot blow up memory", "[io][tflite]") {
  using tsq_test::FlatBufferWriter;
  using tsq_test::le_bytes;
  using tsq_test::offset_field;
  // A subgraph of `count` tensors that all point to one tensor table with a 4,000-element shape:
  // reading it would copy count * 16 KB from a file of count * 4 bytes + 16 KB.
  const auto make = [](std::size_t count) {
    FlatBufferWriter w;
    const auto root = w.table({{0, le_bytes<std::uint32_t>(3)}, offset_field(1), offset_field(2)});
    w.set_root(root.position);
    const std::size_t codes = w.offset_vector(1);
    w.point(root.fields.at(1), codes);
    w.point(codes + 4, w.table({{0, le_bytes<std::int8_t>(22)}}).position);  // RESHAPE
    const std::size_t graphs = w.offset_vector(1);
    w.point(root.fields.at(2), graphs);
    const auto graph = w.table({offset_field(0), offset_field(3)});
    w.point(graphs + 4, graph.position);
    const std::size_t tensors = w.offset_vector(count);
    w.point(graph.fields.at(0), tensors);
    const std::size_t operators = w.offset_vector(1);
    w.point(graph.fields.at(3), operators);
    const auto op = w.table({offset_field(1), offset_field(2)});
    w.point(operators + 4, op.position);
    w.point(op.fields.at(1), w.vector(std::vector<std::int32_t>{0}));
    w.point(op.fields.at(2), w.vector(std::vector<std::int32_t>{1}));
    const auto tensor = w.table({offset_field(0)});
    for (std::size_t i = 0; i < count; ++i) w.point(tensors + 4 + 4 * i, tensor.position);
    w.point(tensor.fields.at(0), w.vector(std::vector<std::int32_t>(4000, 1)));
    return w.bytes();
  };
  const TfliteModel small = parse_ok(make(2));
  CHECK(small.tensors.size() == 2);
  CHECK(small.tensors[1].shape.size() == 4000);
  check_error(parse(make(20000)).status(), ErrorCode::malformed_file,
              "objects are shared more often than the file size allows");
}
