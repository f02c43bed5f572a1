// SPDX-License-Identifier: Apache-2.0
// Reader for TensorFlow Lite model files (.tflite; host only: allocates, reads files).
//
// A .tflite file is a FlatBuffer of TFLite's schema (schema version 3, identifier "TFL3"). This
// reader walks the FlatBuffers wire format itself, with no generated code, for the part of the
// schema tsq runs: the model's operator codes, its first subgraph (tensors, inputs, outputs,
// operators) and its buffers. Read per tensor: shape, type, buffer, name, is_variable and the
// quantization (scale, zero_point, quantized_dimension); per operator: the builtin operator,
// inputs (-1: optional input absent), outputs, intermediates and the builtin options of the ops
// tsq runs, as plain structs with the schema's defaults filled in.
//
// The file is untrusted. Every offset, vtable, vector length and string is checked against the
// buffer before it is read, and the bytes a file makes the reader copy are bounded by twice its
// size, so that tables or vectors shared by many references (the format allows it) cannot blow
// up memory. Errors:
//   malformed_file      truncated or corrupted file: offsets, vtables, vectors or strings outside
//                       the buffer, indices out of range (tensor, buffer, operator code), buffer
//                       sizes that do not match the tensor's shape and type, inconsistent
//                       quantization, a wrong file identifier
//   unsupported_format  schema version other than 3, an operator tsq does not run (named:
//                       "operator 3: TRANSPOSE_CONV is not supported"), custom operators, sparse
//                       tensors, custom quantization, subgraphs without operators
//   io_error            the file cannot be opened or read
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "tsq/core/data_type.hpp"
#include "tsq/core/status.hpp"
#include "tsq/io/npy.hpp"  // detail::read_file

namespace tsq {
namespace io {

// TFLite's TensorType values.
enum class TfliteTensorType : std::int8_t {
  float32 = 0,
  float16 = 1,
  int32 = 2,
  uint8 = 3,
  int64 = 4,
  string = 5,
  boolean = 6,
  int16 = 7,
  complex64 = 8,
  int8 = 9,
  float64 = 10,
  complex128 = 11,
  uint64 = 12,
  resource = 13,
  variant = 14,
  uint32 = 15,
  uint16 = 16,
  int4 = 17,
};

constexpr const char* tflite_tensor_type_name(TfliteTensorType type) {
  switch (type) {
    case TfliteTensorType::float32: return "FLOAT32";
    case TfliteTensorType::float16: return "FLOAT16";
    case TfliteTensorType::int32: return "INT32";
    case TfliteTensorType::uint8: return "UINT8";
    case TfliteTensorType::int64: return "INT64";
    case TfliteTensorType::string: return "STRING";
    case TfliteTensorType::boolean: return "BOOL";
    case TfliteTensorType::int16: return "INT16";
    case TfliteTensorType::complex64: return "COMPLEX64";
    case TfliteTensorType::int8: return "INT8";
    case TfliteTensorType::float64: return "FLOAT64";
    case TfliteTensorType::complex128: return "COMPLEX128";
    case TfliteTensorType::uint64: return "UINT64";
    case TfliteTensorType::resource: return "RESOURCE";
    case TfliteTensorType::variant: return "VARIANT";
    case TfliteTensorType::uint32: return "UINT32";
    case TfliteTensorType::uint16: return "UINT16";
    case TfliteTensorType::int4: return "INT4";
  }
  return "unknown type";
}

// Bytes per element, 0 where a buffer's size does not follow from the shape (strings, packed
// 4-bit values, resources) or the type is unknown.
constexpr std::size_t tflite_tensor_type_size(TfliteTensorType type) {
  switch (type) {
    case TfliteTensorType::uint8:
    case TfliteTensorType::int8:
    case TfliteTensorType::boolean: return 1;
    case TfliteTensorType::float16:
    case TfliteTensorType::int16:
    case TfliteTensorType::uint16: return 2;
    case TfliteTensorType::float32:
    case TfliteTensorType::int32:
    case TfliteTensorType::uint32: return 4;
    case TfliteTensorType::int64:
    case TfliteTensorType::float64:
    case TfliteTensorType::uint64:
    case TfliteTensorType::complex64: return 8;
    case TfliteTensorType::complex128: return 16;
    default: return 0;
  }
}

// The tsq element type of a TFLite tensor type; unsupported_type for the others.
inline Result<DataType> data_type_of_tflite(TfliteTensorType type) {
  switch (type) {
    case TfliteTensorType::float32: return DataType::float32;
    case TfliteTensorType::int8: return DataType::int8;
    case TfliteTensorType::uint8: return DataType::uint8;
    case TfliteTensorType::int16: return DataType::int16;
    case TfliteTensorType::int32: return DataType::int32;
    case TfliteTensorType::float64: return DataType::float64;
    default: break;
  }
  return Status::error(ErrorCode::unsupported_type, "tflite: tensor type ")
      .append(tflite_tensor_type_name(type))
      .append(" has no tsq element type");
}

// TFLite's BuiltinOperator values of the operators this reader accepts (any other value is
// refused by the parser with the operator's name).
enum class TfliteBuiltin : std::int32_t {
  add = 0,
  average_pool_2d = 1,
  conv_2d = 3,
  depthwise_conv_2d = 4,
  dequantize = 6,
  fully_connected = 9,
  logistic = 14,
  max_pool_2d = 17,
  relu = 19,
  relu6 = 21,
  reshape = 22,
  softmax = 25,
  tanh = 28,
  custom = 32,
  mean = 40,
  squeeze = 43,
  unidirectional_sequence_lstm = 44,
  expand_dims = 70,
  quantize = 114,
};

namespace detail {

// BuiltinOperator names 0..161, as the schema spells them (for error messages).
// clang-format off
inline constexpr const char* kTfliteBuiltinNames[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION",
    "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL",
    "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2",
    "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL",
    "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL",
    "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT",
    "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT",
    "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD",
    "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
    "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF",
    "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
    "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM",
    "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",
    "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE",
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT"};
// clang-format on

}  // namespace detail

// The schema's name of a builtin operator code, or nullptr for a code beyond the table
// (StableHLO operators and later additions).
constexpr const char* tflite_builtin_name(std::int32_t code) {
  constexpr std::int32_t count = static_cast<std::int32_t>(sizeof(detail::kTfliteBuiltinNames) /
                                                           sizeof(detail::kTfliteBuiltinNames[0]));
  return code >= 0 && code < count ? detail::kTfliteBuiltinNames[code] : nullptr;
}
constexpr const char* tflite_builtin_name(TfliteBuiltin code) {
  return tflite_builtin_name(static_cast<std::int32_t>(code));
}

// Appends an operator's name to a message ("builtin operator 203" beyond the table).
inline Status& append_tflite_builtin(Status& status, std::int32_t code) {
  const char* name = tflite_builtin_name(code);
  if (name != nullptr) return status.append(name);
  return status.append("builtin operator ").append(code);
}

enum class TflitePadding : std::int8_t { same = 0, valid = 1 };

enum class TfliteActivation : std::int8_t {
  none = 0,
  relu = 1,
  relu_n1_to_1 = 2,
  relu6 = 3,
  tanh = 4,
  sign_bit = 5,
};

constexpr const char* tflite_activation_name(TfliteActivation activation) {
  switch (activation) {
    case TfliteActivation::none: return "NONE";
    case TfliteActivation::relu: return "RELU";
    case TfliteActivation::relu_n1_to_1: return "RELU_N1_TO_1";
    case TfliteActivation::relu6: return "RELU6";
    case TfliteActivation::tanh: return "TANH";
    case TfliteActivation::sign_bit: return "SIGN_BIT";
  }
  return "unknown activation";
}

// Builtin options, with the schema's defaults for absent fields.
struct TfliteConv2DOptions {
  TflitePadding padding = TflitePadding::same;
  std::int32_t stride_w = 0;
  std::int32_t stride_h = 0;
  TfliteActivation activation = TfliteActivation::none;
  std::int32_t dilation_w = 1;
  std::int32_t dilation_h = 1;
};

struct TfliteDepthwiseConv2DOptions {
  TflitePadding padding = TflitePadding::same;
  std::int32_t stride_w = 0;
  std::int32_t stride_h = 0;
  std::int32_t depth_multiplier = 0;  // redundant: TFLite derives it from the shapes
  TfliteActivation activation = TfliteActivation::none;
  std::int32_t dilation_w = 1;
  std::int32_t dilation_h = 1;
};

struct TflitePool2DOptions {
  TflitePadding padding = TflitePadding::same;
  std::int32_t stride_w = 0;
  std::int32_t stride_h = 0;
  std::int32_t filter_width = 0;
  std::int32_t filter_height = 0;
  TfliteActivation activation = TfliteActivation::none;
};

struct TfliteFullyConnectedOptions {
  TfliteActivation activation = TfliteActivation::none;
  std::int8_t weights_format = 0;  // 0 DEFAULT; 1 SHUFFLED4x16INT8
  bool keep_num_dims = false;
  bool asymmetric_quantize_inputs = false;
};

struct TfliteSoftmaxOptions {
  float beta = 0.0f;
};

struct TfliteReshapeOptions {
  std::vector<std::int32_t> new_shape;  // may be absent: the output tensor's shape rules
};

struct TfliteAddOptions {
  TfliteActivation activation = TfliteActivation::none;
  bool pot_scale_int16 = true;
};

struct TfliteReducerOptions {
  bool keep_dims = false;
};

struct TfliteSqueezeOptions {
  std::vector<std::int32_t> squeeze_dims;
};

struct TfliteSequenceLstmOptions {
  TfliteActivation activation = TfliteActivation::none;
  float cell_clip = 0.0f;
  float proj_clip = 0.0f;
  bool time_major = false;
  bool asymmetric_quantize_inputs = false;
  bool diagonal_recurrent_tensors = false;
};

using TfliteOptions =
    std::variant<std::monostate, TfliteConv2DOptions, TfliteDepthwiseConv2DOptions,
                 TflitePool2DOptions, TfliteFullyConnectedOptions, TfliteSoftmaxOptions,
                 TfliteReshapeOptions, TfliteAddOptions, TfliteReducerOptions, TfliteSqueezeOptions,
                 TfliteSequenceLstmOptions>;

struct TfliteQuantization {
  std::vector<float> scale;
  std::vector<std::int64_t> zero_point;  // as many as scales
  std::int32_t quantized_dimension = 0;
  bool empty() const { return scale.empty(); }
};

struct TfliteTensor {
  std::string name;
  std::vector<std::int32_t> shape;
  TfliteTensorType type = TfliteTensorType::float32;
  std::uint32_t buffer = 0;  // 0: no data (buffer 0 is the empty sentinel)
  TfliteQuantization quantization;
  bool is_variable = false;

  std::size_t element_count() const {
    std::size_t count = 1;
    for (const std::int32_t d : shape) count *= static_cast<std::size_t>(d);  // checked on read
    return count;
  }
};

struct TfliteOperatorCode {
  std::int32_t builtin_code = 0;  // max(deprecated_builtin_code, builtin_code), as TFLite does
  std::int32_t version = 1;
  std::string custom_code;
};

struct TfliteOperator {
  TfliteBuiltin opcode = TfliteBuiltin::add;
  std::uint32_t opcode_index = 0;
  std::vector<std::int32_t> inputs;  // -1: an optional input left out
  std::vector<std::int32_t> outputs;
  std::vector<std::int32_t> intermediates;
  std::uint8_t builtin_options_type = 0;  // the schema's BuiltinOptions union tag
  TfliteOptions options;                  // the op's options struct (defaults when absent)

  template <typename Options>
  const Options* options_as() const {
    return std::get_if<Options>(&options);
  }
  // Input `i`, or -1 when the operator has fewer inputs or leaves it out.
  std::int32_t input(std::size_t i) const { return i < inputs.size() ? inputs[i] : -1; }
};

// What parse_tflite reads: the model header, its operator codes and buffers, and subgraph 0.
struct TfliteModel {
  std::uint32_t version = 0;
  std::string description;
  std::size_t subgraph_count = 0;
  std::string subgraph_name;
  std::vector<TfliteOperatorCode> operator_codes;
  std::vector<TfliteTensor> tensors;
  std::vector<TfliteOperator> operators;
  std::vector<std::int32_t> inputs;
  std::vector<std::int32_t> outputs;
  std::vector<std::vector<std::uint8_t>> buffers;

  // The constant data of tensor `index` (empty when it has none).
  const std::vector<std::uint8_t>& tensor_bytes(std::size_t index) const {
    static const std::vector<std::uint8_t> none;
    const std::uint32_t buffer = tensors[index].buffer;
    return buffer < buffers.size() ? buffers[buffer] : none;
  }
  bool has_data(std::size_t index) const { return !tensor_bytes(index).empty(); }

  // The constant values of tensor `index` as T (float, int8_t, uint8_t, int16_t, int32_t, int64_t),
  // decoded from little-endian; unsupported_type when T is not the tensor's type, not_found when
  // the tensor has no data.
  template <typename T>
  Result<std::vector<T>> tensor_values(std::size_t index) const;
};

namespace detail {

template <typename T>
struct TfliteTypeOf;
template <>
struct TfliteTypeOf<float> {
  static constexpr TfliteTensorType value = TfliteTensorType::float32;
};
template <>
struct TfliteTypeOf<std::int8_t> {
  static constexpr TfliteTensorType value = TfliteTensorType::int8;
};
template <>
struct TfliteTypeOf<std::uint8_t> {
  static constexpr TfliteTensorType value = TfliteTensorType::uint8;
};
template <>
struct TfliteTypeOf<std::int16_t> {
  static constexpr TfliteTensorType value = TfliteTensorType::int16;
};
template <>
struct TfliteTypeOf<std::int32_t> {
  static constexpr TfliteTensorType value = TfliteTensorType::int32;
};
template <>
struct TfliteTypeOf<std::int64_t> {
  static constexpr TfliteTensorType value = TfliteTensorType::int64;
};

// Little-endian value of `size` bytes at p.
inline std::uint64_t load_le(const std::uint8_t* p, std::size_t size) {
  std::uint64_t value = 0;
  for (std::size_t i = size; i-- > 0;) value = (value << 8) | p[i];
  return value;
}

template <typename T>
T load_as(const std::uint8_t* p) {
  static_assert(sizeof(T) <= 8, "scalar wider than 8 bytes");
  const std::uint64_t bits = load_le(p, sizeof(T));
  if constexpr (sizeof(T) == 8) {
    T value;
    std::memcpy(&value, &bits, sizeof(T));
    return value;
  } else if constexpr (sizeof(T) == 4) {
    const auto narrow = static_cast<std::uint32_t>(bits);
    T value;
    std::memcpy(&value, &narrow, sizeof(T));
    return value;
  } else if constexpr (sizeof(T) == 2) {
    const auto narrow = static_cast<std::uint16_t>(bits);
    T value;
    std::memcpy(&value, &narrow, sizeof(T));
    return value;
  } else {
    const auto narrow = static_cast<std::uint8_t>(bits);
    T value;
    std::memcpy(&value, &narrow, sizeof(T));
    return value;
  }
}

}  // namespace detail

template <typename T>
Result<std::vector<T>> TfliteModel::tensor_values(std::size_t index) const {
  if (index >= tensors.size()) {
    return Status::error(ErrorCode::invalid_argument, "tflite: no tensor ").append(index);
  }
  const TfliteTensor& tensor = tensors[index];
  if (tensor.type != detail::TfliteTypeOf<T>::value) {
    return Status::error(ErrorCode::unsupported_type, "tflite: tensor ")
        .append(index)
        .append(" is ")
        .append(tflite_tensor_type_name(tensor.type))
        .append(", not ")
        .append(tflite_tensor_type_name(detail::TfliteTypeOf<T>::value));
  }
  const std::vector<std::uint8_t>& bytes = tensor_bytes(index);
  if (bytes.empty()) {
    return Status::error(ErrorCode::not_found, "tflite: tensor ")
        .append(index)
        .append(" has no constant data");
  }
  // parse_tflite checked that the buffer holds exactly the shape's elements.
  std::vector<T> values(bytes.size() / sizeof(T));
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = detail::load_as<T>(bytes.data() + i * sizeof(T));
  }
  return values;
}

namespace detail {

// Where in the file a check failed: "tflite: <object> <index>: <field>: <problem>".
struct TflitePlace {
  const char* object = "model";
  std::int64_t index = -1;
  const char* field = nullptr;
};

inline Status tflite_error(ErrorCode code, const TflitePlace& place, const char* problem) {
  Status status = Status::error(code, "tflite: ");
  status.append(place.object);
  if (place.index >= 0) status.append(" ").append(place.index);
  if (place.field != nullptr) status.append(": ").append(place.field);
  return status.append(": ").append(problem);
}

inline TflitePlace at_field(TflitePlace place, const char* field) {
  place.field = field;
  return place;
}

// The FlatBuffers wire format, bounds-checked. Positions are 64-bit so that no sum of an offset
// and a size can wrap, whatever size_t is.
class FlatBufferReader {
 public:
  struct Table {
    std::uint64_t position = 0;
    std::uint64_t vtable = 0;
    std::uint32_t vtable_size = 0;
    std::uint32_t table_size = 0;
  };
  struct Vector {
    std::uint64_t first = 0;  // position of element 0
    std::uint32_t count = 0;
  };

  FlatBufferReader(const std::uint8_t* data, std::size_t size)
      : data_(data), size_(size), budget_(2 * static_cast<std::uint64_t>(size) + 1024) {}

  std::uint64_t size() const { return size_; }
  const std::uint8_t* at(std::uint64_t position) const {
    return data_ + static_cast<std::size_t>(position);
  }

  // Every table and vector read is paid for out of a budget of twice the file size: a file
  // whose references share objects cannot make the reader copy more than that.
  Status charge(std::uint64_t bytes, const TflitePlace& place) {
    if (bytes > budget_) {
      return tflite_error(ErrorCode::malformed_file, place,
                          "objects are shared more often than the file size allows");
    }
    budget_ -= bytes;
    return Status::ok();
  }

  // The position a uoffset stored at `at` points to.
  Status follow(std::uint64_t at, const TflitePlace& place, std::uint64_t& target) const {
    if (at > size_ || size_ - at < 4) {
      return tflite_error(ErrorCode::malformed_file, place, "offset lies outside the file");
    }
    target = at + detail::load_as<std::uint32_t>(data_ + at);
    if (target >= size_) {
      return tflite_error(ErrorCode::malformed_file, place,
                          "offset points past the end of the file");
    }
    return Status::ok();
  }

  Status table_at(std::uint64_t position, const TflitePlace& place, Table& out) {
    TSQ_RETURN_IF_ERROR(charge(8, place));
    if (position > size_ || size_ - position < 4) {
      return tflite_error(ErrorCode::malformed_file, place, "table lies outside the file");
    }
    const auto relative = static_cast<std::int64_t>(load_as<std::int32_t>(data_ + position));
    const std::int64_t vtable = static_cast<std::int64_t>(position) - relative;
    if (vtable < 0 || static_cast<std::uint64_t>(vtable) > size_ - 4) {
      return tflite_error(ErrorCode::malformed_file, place, "vtable lies outside the file");
    }
    out.position = position;
    out.vtable = static_cast<std::uint64_t>(vtable);
    out.vtable_size = load_as<std::uint16_t>(data_ + out.vtable);
    out.table_size = load_as<std::uint16_t>(data_ + out.vtable + 2);
    if (out.vtable_size < 4 || out.vtable_size % 2 != 0 || out.vtable_size > size_ - out.vtable) {
      return tflite_error(ErrorCode::malformed_file, place, "vtable size is invalid");
    }
    if (out.table_size < 4 || out.table_size > size_ - position) {
      return tflite_error(ErrorCode::malformed_file, place, "table runs past the end of the file");
    }
    return Status::ok();
  }

  // Position of field `id` (0 when the table leaves it out), which must lie inside the table.
  Status field(const Table& table, int id, std::uint32_t width, const TflitePlace& place,
               std::uint64_t& position) const {
    position = 0;
    const std::uint32_t slot = 4 + 2 * static_cast<std::uint32_t>(id);
    if (slot + 2 > table.vtable_size) return Status::ok();
    const std::uint16_t offset = load_as<std::uint16_t>(data_ + table.vtable + slot);
    if (offset == 0) return Status::ok();
    if (offset < 4 || offset + width > table.table_size) {
      return tflite_error(ErrorCode::malformed_file, place, "field lies outside its table");
    }
    position = table.position + offset;
    return Status::ok();
  }

  template <typename T>
  Status scalar(const Table& table, int id, T fallback, const TflitePlace& place, T& out) const {
    std::uint64_t position = 0;
    TSQ_RETURN_IF_ERROR(field(table, id, sizeof(T), place, position));
    out = position == 0 ? fallback : load_as<T>(data_ + position);
    return Status::ok();
  }
  Status boolean(const Table& table, int id, bool fallback, const TflitePlace& place,
                 bool& out) const {
    std::uint8_t value = fallback ? 1 : 0;
    TSQ_RETURN_IF_ERROR(scalar<std::uint8_t>(table, id, value, place, value));
    out = value != 0;
    return Status::ok();
  }

  // A table referenced by field `id`; `present` is false when the field is left out.
  Status sub_table(const Table& table, int id, const TflitePlace& place, bool& present,
                   Table& out) {
    std::uint64_t position = 0;
    TSQ_RETURN_IF_ERROR(field(table, id, 4, place, position));
    present = position != 0;
    if (!present) return Status::ok();
    std::uint64_t target = 0;
    TSQ_RETURN_IF_ERROR(follow(position, place, target));
    return table_at(target, place, out);
  }

  // A vector of `element_size`-byte elements referenced by field `id` (absent: empty).
  Status vector(const Table& table, int id, std::uint32_t element_size, const TflitePlace& place,
                Vector& out) {
    out = Vector{};
    std::uint64_t position = 0;
    TSQ_RETURN_IF_ERROR(field(table, id, 4, place, position));
    if (position == 0) return Status::ok();
    std::uint64_t start = 0;
    TSQ_RETURN_IF_ERROR(follow(position, place, start));
    return vector_at(start, element_size, place, out);
  }

  Status vector_at(std::uint64_t start, std::uint32_t element_size, const TflitePlace& place,
                   Vector& out) {
    if (size_ - start < 4) {
      return tflite_error(ErrorCode::malformed_file, place, "vector length lies outside the file");
    }
    const std::uint32_t count = load_as<std::uint32_t>(data_ + start);
    const std::uint64_t bytes = static_cast<std::uint64_t>(count) * element_size;
    if (bytes > size_ - start - 4) {
      return tflite_error(ErrorCode::malformed_file, place, "vector runs past the end of the file");
    }
    TSQ_RETURN_IF_ERROR(charge(bytes + 4, place));
    out.first = start + 4;
    out.count = count;
    return Status::ok();
  }

  // Element `index` of a vector of tables.
  Status table_in(const Vector& vector, std::uint32_t index, const TflitePlace& place, Table& out) {
    std::uint64_t target = 0;
    TSQ_RETURN_IF_ERROR(
        follow(vector.first + 4 * static_cast<std::uint64_t>(index), place, target));
    return table_at(target, place, out);
  }

  Status string(const Table& table, int id, const TflitePlace& place, std::string& out) {
    out.clear();
    Vector bytes;
    TSQ_RETURN_IF_ERROR(vector(table, id, 1, place, bytes));
    if (bytes.first == 0) return Status::ok();
    // FlatBuffers strings end with a 0 byte after their length.
    if (bytes.first + bytes.count >= size_ || data_[bytes.first + bytes.count] != 0) {
      return tflite_error(ErrorCode::malformed_file, place, "string is not terminated");
    }
    out.assign(reinterpret_cast<const char*>(data_ + bytes.first), bytes.count);
    return Status::ok();
  }

  template <typename T>
  Status values(const Table& table, int id, const TflitePlace& place, std::vector<T>& out) {
    Vector vector_ref;
    TSQ_RETURN_IF_ERROR(vector(table, id, sizeof(T), place, vector_ref));
    out.resize(vector_ref.count);
    for (std::uint32_t i = 0; i < vector_ref.count; ++i) {
      out[i] = load_as<T>(data_ + vector_ref.first + static_cast<std::uint64_t>(i) * sizeof(T));
    }
    return Status::ok();
  }

 private:
  const std::uint8_t* data_;
  std::uint64_t size_;
  std::uint64_t budget_;
};

// Field ids of the schema's tables (declaration order; a union takes two: type, then value).
namespace tflite_field {
constexpr int kModelVersion = 0, kModelOperatorCodes = 1, kModelSubgraphs = 2,
              kModelDescription = 3, kModelBuffers = 4;
constexpr int kCodeDeprecatedBuiltin = 0, kCodeCustom = 1, kCodeVersion = 2, kCodeBuiltin = 3;
constexpr int kSubgraphTensors = 0, kSubgraphInputs = 1, kSubgraphOutputs = 2,
              kSubgraphOperators = 3, kSubgraphName = 4;
constexpr int kTensorShape = 0, kTensorType = 1, kTensorBuffer = 2, kTensorName = 3,
              kTensorQuantization = 4, kTensorIsVariable = 5, kTensorSparsity = 6;
constexpr int kQuantScale = 2, kQuantZeroPoint = 3, kQuantDetailsType = 4,
              kQuantQuantizedDimension = 6;
constexpr int kOperatorOpcodeIndex = 0, kOperatorInputs = 1, kOperatorOutputs = 2,
              kOperatorOptionsType = 3, kOperatorOptions = 4, kOperatorIntermediates = 8,
              kOperatorOptions2Type = 11;
constexpr int kBufferData = 0, kBufferOffset = 1, kBufferSize = 2;
}  // namespace tflite_field

// Tags of the BuiltinOptions union (its members' positions, counting from 1).
namespace tflite_options {
constexpr std::uint8_t kConv2D = 1, kDepthwiseConv2D = 2, kPool2D = 5, kFullyConnected = 8,
                       kSoftmax = 9, kAdd = 11, kReshape = 17, kReducer = 27, kSqueeze = 30,
                       kUnidirectionalSequenceLstm = 71;
}  // namespace tflite_options

using FlatTable = FlatBufferReader::Table;

inline Status read_padding(FlatBufferReader& r, const FlatTable& t, int id, const TflitePlace& p,
                           TflitePadding& out) {
  std::int8_t value = 0;
  TSQ_RETURN_IF_ERROR(r.scalar<std::int8_t>(t, id, 0, at_field(p, "padding"), value));
  if (value != 0 && value != 1) {
    return tflite_error(ErrorCode::malformed_file, at_field(p, "padding"), "not SAME or VALID");
  }
  out = static_cast<TflitePadding>(value);
  return Status::ok();
}

inline Status read_activation(FlatBufferReader& r, const FlatTable& t, int id, const TflitePlace& p,
                              TfliteActivation& out) {
  std::int8_t value = 0;
  TSQ_RETURN_IF_ERROR(
      r.scalar<std::int8_t>(t, id, 0, at_field(p, "fused_activation_function"), value));
  if (value < 0 || value > 5) {
    return tflite_error(ErrorCode::malformed_file, at_field(p, "fused_activation_function"),
                        "unknown activation");
  }
  out = static_cast<TfliteActivation>(value);
  return Status::ok();
}

// The union tag each operator tsq reads must carry (0: the op has no options tsq reads).
inline std::uint8_t expected_options_type(TfliteBuiltin op) {
  switch (op) {
    case TfliteBuiltin::conv_2d: return tflite_options::kConv2D;
    case TfliteBuiltin::depthwise_conv_2d: return tflite_options::kDepthwiseConv2D;
    case TfliteBuiltin::average_pool_2d:
    case TfliteBuiltin::max_pool_2d: return tflite_options::kPool2D;
    case TfliteBuiltin::fully_connected: return tflite_options::kFullyConnected;
    case TfliteBuiltin::softmax: return tflite_options::kSoftmax;
    case TfliteBuiltin::add: return tflite_options::kAdd;
    case TfliteBuiltin::reshape: return tflite_options::kReshape;
    case TfliteBuiltin::mean: return tflite_options::kReducer;
    case TfliteBuiltin::squeeze: return tflite_options::kSqueeze;
    case TfliteBuiltin::unidirectional_sequence_lstm:
      return tflite_options::kUnidirectionalSequenceLstm;
    default: return 0;
  }
}

inline bool is_supported_builtin(std::int32_t code) {
  switch (static_cast<TfliteBuiltin>(code)) {
    case TfliteBuiltin::add:
    case TfliteBuiltin::average_pool_2d:
    case TfliteBuiltin::conv_2d:
    case TfliteBuiltin::depthwise_conv_2d:
    case TfliteBuiltin::dequantize:
    case TfliteBuiltin::fully_connected:
    case TfliteBuiltin::logistic:
    case TfliteBuiltin::max_pool_2d:
    case TfliteBuiltin::relu:
    case TfliteBuiltin::relu6:
    case TfliteBuiltin::reshape:
    case TfliteBuiltin::softmax:
    case TfliteBuiltin::tanh:
    case TfliteBuiltin::mean:
    case TfliteBuiltin::squeeze:
    case TfliteBuiltin::unidirectional_sequence_lstm:
    case TfliteBuiltin::expand_dims:
    case TfliteBuiltin::quantize: return true;
    default: return false;
  }
}

// Reads the options table of an operator into the op's options struct. `present` is false when
// the operator has none: the struct keeps the schema's defaults.
inline Status read_options(FlatBufferReader& r, TfliteBuiltin op, bool present, const FlatTable& t,
                           const TflitePlace& p, TfliteOptions& out) {
  switch (op) {
    case TfliteBuiltin::conv_2d: {
      TfliteConv2DOptions o;
      if (present) {
        TSQ_RETURN_IF_ERROR(read_padding(r, t, 0, p, o.padding));
        TSQ_RETURN_IF_ERROR(r.scalar<std::int32_t>(t, 1, 0, at_field(p, "stride_w"), o.stride_w));
        TSQ_RETURN_IF_ERROR(r.scalar<std::int32_t>(t, 2, 0, at_field(p, "stride_h"), o.stride_h));
        TSQ_RETURN_IF_ERROR(read_activation(r, t, 3, p, o.activation));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int32_t>(t, 4, 1, at_field(p, "dilation_w_factor"), o.dilation_w));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int32_t>(t, 5, 1, at_field(p, "dilation_h_factor"), o.dilation_h));
      }
      out = o;
      return Status::ok();
    }
    case TfliteBuiltin::depthwise_conv_2d: {
      TfliteDepthwiseConv2DOptions o;
      if (present) {
        TSQ_RETURN_IF_ERROR(read_padding(r, t, 0, p, o.padding));
        TSQ_RETURN_IF_ERROR(r.scalar<std::int32_t>(t, 1, 0, at_field(p, "stride_w"), o.stride_w));
        TSQ_RETURN_IF_ERROR(r.scalar<std::int32_t>(t, 2, 0, at_field(p, "stride_h"), o.stride_h));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int32_t>(t, 3, 0, at_field(p, "depth_multiplier"), o.depth_multiplier));
        TSQ_RETURN_IF_ERROR(read_activation(r, t, 4, p, o.activation));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int32_t>(t, 5, 1, at_field(p, "dilation_w_factor"), o.dilation_w));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int32_t>(t, 6, 1, at_field(p, "dilation_h_factor"), o.dilation_h));
      }
      out = o;
      return Status::ok();
    }
    case TfliteBuiltin::average_pool_2d:
    case TfliteBuiltin::max_pool_2d: {
      TflitePool2DOptions o;
      if (present) {
        TSQ_RETURN_IF_ERROR(read_padding(r, t, 0, p, o.padding));
        TSQ_RETURN_IF_ERROR(r.scalar<std::int32_t>(t, 1, 0, at_field(p, "stride_w"), o.stride_w));
        TSQ_RETURN_IF_ERROR(r.scalar<std::int32_t>(t, 2, 0, at_field(p, "stride_h"), o.stride_h));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int32_t>(t, 3, 0, at_field(p, "filter_width"), o.filter_width));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int32_t>(t, 4, 0, at_field(p, "filter_height"), o.filter_height));
        TSQ_RETURN_IF_ERROR(read_activation(r, t, 5, p, o.activation));
      }
      out = o;
      return Status::ok();
    }
    case TfliteBuiltin::fully_connected: {
      TfliteFullyConnectedOptions o;
      if (present) {
        TSQ_RETURN_IF_ERROR(read_activation(r, t, 0, p, o.activation));
        TSQ_RETURN_IF_ERROR(
            r.scalar<std::int8_t>(t, 1, 0, at_field(p, "weights_format"), o.weights_format));
        TSQ_RETURN_IF_ERROR(r.boolean(t, 2, false, at_field(p, "keep_num_dims"), o.keep_num_dims));
        TSQ_RETURN_IF_ERROR(r.boolean(t, 3, false, at_field(p, "asymmetric_quantize_inputs"),
                                      o.asymmetric_quantize_inputs));
      }
      out = o;
      return Status::ok();
    }
    case TfliteBuiltin::softmax: {
      TfliteSoftmaxOptions o;
      if (present) TSQ_RETURN_IF_ERROR(r.scalar<float>(t, 0, 0.0f, at_field(p, "beta"), o.beta));
      out = o;
      return Status::ok();
    }
    case TfliteBuiltin::add: {
      TfliteAddOptions o;
      if (present) {
        TSQ_RETURN_IF_ERROR(read_activation(r, t, 0, p, o.activation));
        TSQ_RETURN_IF_ERROR(
            r.boolean(t, 1, true, at_field(p, "pot_scale_int16"), o.pot_scale_int16));
      }
      out = o;
      return Status::ok();
    }
    case TfliteBuiltin::reshape: {
      TfliteReshapeOptions o;
      if (present) TSQ_RETURN_IF_ERROR(r.values(t, 0, at_field(p, "new_shape"), o.new_shape));
      out = std::move(o);
      return Status::ok();
    }
    case TfliteBuiltin::mean: {
      TfliteReducerOptions o;
      if (present)
        TSQ_RETURN_IF_ERROR(r.boolean(t, 0, false, at_field(p, "keep_dims"), o.keep_dims));
      out = o;
      return Status::ok();
    }
    case TfliteBuiltin::squeeze: {
      TfliteSqueezeOptions o;
      if (present) TSQ_RETURN_IF_ERROR(r.values(t, 0, at_field(p, "squeeze_dims"), o.squeeze_dims));
      out = std::move(o);
      return Status::ok();
    }
    case TfliteBuiltin::unidirectional_sequence_lstm: {
      TfliteSequenceLstmOptions o;
      if (present) {
        TSQ_RETURN_IF_ERROR(read_activation(r, t, 0, p, o.activation));
        TSQ_RETURN_IF_ERROR(r.scalar<float>(t, 1, 0.0f, at_field(p, "cell_clip"), o.cell_clip));
        TSQ_RETURN_IF_ERROR(r.scalar<float>(t, 2, 0.0f, at_field(p, "proj_clip"), o.proj_clip));
        TSQ_RETURN_IF_ERROR(r.boolean(t, 3, false, at_field(p, "time_major"), o.time_major));
        TSQ_RETURN_IF_ERROR(r.boolean(t, 4, false, at_field(p, "asymmetric_quantize_inputs"),
                                      o.asymmetric_quantize_inputs));
        TSQ_RETURN_IF_ERROR(r.boolean(t, 5, false, at_field(p, "diagonal_recurrent_tensors"),
                                      o.diagonal_recurrent_tensors));
      }
      out = o;
      return Status::ok();
    }
    default: out = std::monostate{}; return Status::ok();
  }
}

inline Status read_quantization(FlatBufferReader& r, const FlatTable& t, const TflitePlace& p,
                                TfliteQuantization& out) {
  using namespace tflite_field;
  std::uint8_t details = 0;
  TSQ_RETURN_IF_ERROR(r.scalar<std::uint8_t>(t, kQuantDetailsType, 0, p, details));
  if (details != 0) {
    return tflite_error(ErrorCode::unsupported_format, p, "custom quantization is not supported");
  }
  TSQ_RETURN_IF_ERROR(r.values(t, kQuantScale, at_field(p, "scale"), out.scale));
  TSQ_RETURN_IF_ERROR(r.values(t, kQuantZeroPoint, at_field(p, "zero_point"), out.zero_point));
  return r.scalar<std::int32_t>(t, kQuantQuantizedDimension, 0, at_field(p, "quantized_dimension"),
                                out.quantized_dimension);
}

inline Status read_tensor(FlatBufferReader& r, const FlatTable& t, const TflitePlace& p,
                          TfliteTensor& out) {
  using namespace tflite_field;
  TSQ_RETURN_IF_ERROR(r.values(t, kTensorShape, at_field(p, "shape"), out.shape));
  std::int8_t type = 0;
  TSQ_RETURN_IF_ERROR(r.scalar<std::int8_t>(t, kTensorType, 0, at_field(p, "type"), type));
  out.type = static_cast<TfliteTensorType>(type);
  TSQ_RETURN_IF_ERROR(
      r.scalar<std::uint32_t>(t, kTensorBuffer, 0, at_field(p, "buffer"), out.buffer));
  TSQ_RETURN_IF_ERROR(r.string(t, kTensorName, at_field(p, "name"), out.name));
  FlatTable quantization;
  bool present = false;
  TSQ_RETURN_IF_ERROR(
      r.sub_table(t, kTensorQuantization, at_field(p, "quantization"), present, quantization));
  if (present) {
    TSQ_RETURN_IF_ERROR(
        read_quantization(r, quantization, at_field(p, "quantization"), out.quantization));
  }
  TSQ_RETURN_IF_ERROR(
      r.boolean(t, kTensorIsVariable, false, at_field(p, "is_variable"), out.is_variable));
  std::uint64_t sparsity = 0;
  TSQ_RETURN_IF_ERROR(r.field(t, kTensorSparsity, 4, at_field(p, "sparsity"), sparsity));
  if (sparsity != 0) {
    return tflite_error(ErrorCode::unsupported_format, p, "sparse tensors are not supported");
  }
  return Status::ok();
}

// Semantic checks of a tensor once the buffers are known.
inline Status check_tensor(const TfliteTensor& tensor, std::size_t buffer_count,
                           const std::vector<std::vector<std::uint8_t>>& buffers,
                           const TflitePlace& p) {
  std::uint64_t count = 1;
  bool empty = false;
  for (const std::int32_t d : tensor.shape) {
    if (d < 0) return tflite_error(ErrorCode::malformed_file, p, "shape has a negative dimension");
    if (d == 0) {
      empty = true;
    } else if (count > (std::uint64_t{1} << 40) / static_cast<std::uint64_t>(d)) {
      return tflite_error(ErrorCode::malformed_file, p, "shape is too large");
    } else {
      count *= static_cast<std::uint64_t>(d);
    }
  }
  if (empty) count = 0;
  if (tensor.buffer != 0 && tensor.buffer >= buffer_count) {
    return tflite_error(ErrorCode::malformed_file, p, "buffer index out of range");
  }
  const std::size_t element_size = tflite_tensor_type_size(tensor.type);
  if (tensor.buffer < buffers.size() && !buffers[tensor.buffer].empty() && element_size != 0 &&
      buffers[tensor.buffer].size() != count * element_size) {
    return tflite_error(ErrorCode::malformed_file, p, "buffer size differs from shape and type");
  }
  const TfliteQuantization& q = tensor.quantization;
  if (q.scale.size() != q.zero_point.size()) {
    return tflite_error(ErrorCode::malformed_file, at_field(p, "quantization"),
                        "scale and zero_point counts differ");
  }
  if (q.scale.size() > 1) {
    const std::int32_t axis = q.quantized_dimension;
    if (axis < 0 || static_cast<std::size_t>(axis) >= tensor.shape.size()) {
      return tflite_error(ErrorCode::malformed_file, at_field(p, "quantization"),
                          "quantized_dimension is not an axis of the shape");
    }
    if (static_cast<std::size_t>(tensor.shape[static_cast<std::size_t>(axis)]) != q.scale.size()) {
      return tflite_error(ErrorCode::malformed_file, at_field(p, "quantization"),
                          "scale count differs from the quantized dimension");
    }
  }
  return Status::ok();
}

inline Status check_index(std::int32_t index, std::size_t count, bool optional,
                          const TflitePlace& p) {
  if (optional && index == -1) return Status::ok();
  if (index < 0 || static_cast<std::size_t>(index) >= count) {
    return tflite_error(ErrorCode::malformed_file, p, "tensor index out of range");
  }
  return Status::ok();
}

inline Status read_operator(FlatBufferReader& r, const FlatTable& t, const TflitePlace& p,
                            const std::vector<TfliteOperatorCode>& codes, std::size_t tensor_count,
                            TfliteOperator& out) {
  using namespace tflite_field;
  TSQ_RETURN_IF_ERROR(r.scalar<std::uint32_t>(t, kOperatorOpcodeIndex, 0,
                                              at_field(p, "opcode_index"), out.opcode_index));
  if (out.opcode_index >= codes.size()) {
    return tflite_error(ErrorCode::malformed_file, at_field(p, "opcode_index"), "out of range");
  }
  const TfliteOperatorCode& code = codes[out.opcode_index];
  if (code.builtin_code == static_cast<std::int32_t>(TfliteBuiltin::custom)) {
    Status status = tflite_error(ErrorCode::unsupported_format, p, "custom operator '");
    return status.append(code.custom_code.c_str()).append("' is not supported");
  }
  if (!is_supported_builtin(code.builtin_code)) {
    Status status = Status::error(ErrorCode::unsupported_format, "tflite: operator ");
    status.append(p.index).append(": ");
    return append_tflite_builtin(status, code.builtin_code).append(" is not supported");
  }
  out.opcode = static_cast<TfliteBuiltin>(code.builtin_code);
  TSQ_RETURN_IF_ERROR(r.values(t, kOperatorInputs, at_field(p, "inputs"), out.inputs));
  TSQ_RETURN_IF_ERROR(r.values(t, kOperatorOutputs, at_field(p, "outputs"), out.outputs));
  TSQ_RETURN_IF_ERROR(
      r.values(t, kOperatorIntermediates, at_field(p, "intermediates"), out.intermediates));
  for (const std::int32_t index : out.inputs) {
    TSQ_RETURN_IF_ERROR(check_index(index, tensor_count, true, at_field(p, "inputs")));
  }
  for (const std::int32_t index : out.outputs) {
    TSQ_RETURN_IF_ERROR(check_index(index, tensor_count, false, at_field(p, "outputs")));
  }
  for (const std::int32_t index : out.intermediates) {
    TSQ_RETURN_IF_ERROR(check_index(index, tensor_count, false, at_field(p, "intermediates")));
  }
  TSQ_RETURN_IF_ERROR(r.scalar<std::uint8_t>(
      t, kOperatorOptionsType, 0, at_field(p, "builtin_options_type"), out.builtin_options_type));
  const std::uint8_t expected = expected_options_type(out.opcode);
  if (out.builtin_options_type != 0 && expected != 0 && out.builtin_options_type != expected) {
    Status status = Status::error(ErrorCode::malformed_file, "tflite: operator ");
    status.append(p.index).append(": options of type ");
    status.append(static_cast<unsigned>(out.builtin_options_type)).append(" do not belong to ");
    return append_tflite_builtin(status, code.builtin_code);
  }
  FlatTable options;
  bool present = false;
  if (expected != 0 && out.builtin_options_type == expected) {
    TSQ_RETURN_IF_ERROR(
        r.sub_table(t, kOperatorOptions, at_field(p, "builtin_options"), present, options));
  }
  return read_options(r, out.opcode, present, options, at_field(p, "builtin_options"), out.options);
}

}  // namespace detail

// Parses a complete .tflite file held in memory (bytes[0, size)). Everything is copied, so
// `bytes` may be released afterwards and needs no particular alignment.
inline Result<TfliteModel> parse_tflite(const std::uint8_t* bytes, std::size_t size) {
  using namespace detail;
  using namespace detail::tflite_field;
  if (bytes == nullptr && size != 0) {
    return Status::error(ErrorCode::invalid_argument, "tflite: null buffer");
  }
  // The root offset and the file identifier come first.
  if (size < 8) {
    return Status::error(ErrorCode::malformed_file, "tflite: file too small (")
        .append(size)
        .append(" bytes)");
  }
  if (std::memcmp(bytes + 4, "TFL3", 4) != 0) {
    return Status::error(ErrorCode::malformed_file,
                         "tflite: file identifier is not TFL3 (not a TFLite model)");
  }
  FlatBufferReader r(bytes, size);
  TflitePlace place;
  std::uint64_t root_position = 0;
  TSQ_RETURN_IF_ERROR(r.follow(0, at_field(place, "root"), root_position));
  FlatTable root;
  TSQ_RETURN_IF_ERROR(r.table_at(root_position, at_field(place, "root"), root));

  TfliteModel model;
  TSQ_RETURN_IF_ERROR(
      r.scalar<std::uint32_t>(root, kModelVersion, 0, at_field(place, "version"), model.version));
  if (model.version != 3) {
    return Status::error(ErrorCode::unsupported_format, "tflite: schema version ")
        .append(model.version)
        .append(" (supported: 3)");
  }
  TSQ_RETURN_IF_ERROR(
      r.string(root, kModelDescription, at_field(place, "description"), model.description));

  FlatBufferReader::Vector codes;
  TSQ_RETURN_IF_ERROR(
      r.vector(root, kModelOperatorCodes, 4, at_field(place, "operator_codes"), codes));
  model.operator_codes.resize(codes.count);
  for (std::uint32_t i = 0; i < codes.count; ++i) {
    const TflitePlace p{"operator code", i, nullptr};
    FlatTable t;
    TSQ_RETURN_IF_ERROR(r.table_in(codes, i, p, t));
    TfliteOperatorCode& code = model.operator_codes[i];
    std::int8_t deprecated = 0;
    TSQ_RETURN_IF_ERROR(r.scalar<std::int8_t>(t, kCodeDeprecatedBuiltin, 0,
                                              at_field(p, "deprecated_builtin_code"), deprecated));
    std::int32_t builtin = 0;
    TSQ_RETURN_IF_ERROR(
        r.scalar<std::int32_t>(t, kCodeBuiltin, 0, at_field(p, "builtin_code"), builtin));
    // Files written before builtin_code existed have only the byte; newer ones may have only the
    // int32 (codes above 127). TFLite takes the larger of the two.
    code.builtin_code = builtin > deprecated ? builtin : deprecated;
    TSQ_RETURN_IF_ERROR(
        r.scalar<std::int32_t>(t, kCodeVersion, 1, at_field(p, "version"), code.version));
    TSQ_RETURN_IF_ERROR(r.string(t, kCodeCustom, at_field(p, "custom_code"), code.custom_code));
  }

  FlatBufferReader::Vector buffers;
  TSQ_RETURN_IF_ERROR(r.vector(root, kModelBuffers, 4, at_field(place, "buffers"), buffers));
  model.buffers.resize(buffers.count);
  for (std::uint32_t i = 0; i < buffers.count; ++i) {
    const TflitePlace p{"buffer", i, nullptr};
    FlatTable t;
    TSQ_RETURN_IF_ERROR(r.table_in(buffers, i, p, t));
    FlatBufferReader::Vector data;
    TSQ_RETURN_IF_ERROR(r.vector(t, kBufferData, 1, at_field(p, "data"), data));
    std::uint64_t offset = 0, length = 0;
    TSQ_RETURN_IF_ERROR(
        r.scalar<std::uint64_t>(t, kBufferOffset, 0, at_field(p, "offset"), offset));
    TSQ_RETURN_IF_ERROR(r.scalar<std::uint64_t>(t, kBufferSize, 0, at_field(p, "size"), length));
    std::vector<std::uint8_t>& out = model.buffers[i];
    if (offset > 1) {
      // Models above 2 GB keep their data after the FlatBuffer, at an offset from the file start.
      if (offset > r.size() || length > r.size() - offset) {
        return tflite_error(ErrorCode::malformed_file, at_field(p, "offset"),
                            "data lies outside the file");
      }
      TSQ_RETURN_IF_ERROR(r.charge(length, p));
      out.assign(r.at(offset), r.at(offset) + length);
    } else if (data.count > 0) {
      out.assign(r.at(data.first), r.at(data.first) + data.count);
    }
  }

  FlatBufferReader::Vector subgraphs;
  TSQ_RETURN_IF_ERROR(r.vector(root, kModelSubgraphs, 4, at_field(place, "subgraphs"), subgraphs));
  if (subgraphs.count == 0) {
    return Status::error(ErrorCode::malformed_file, "tflite: model has no subgraph");
  }
  model.subgraph_count = subgraphs.count;
  const TflitePlace graph_place{"subgraph", 0, nullptr};
  FlatTable graph;
  TSQ_RETURN_IF_ERROR(r.table_in(subgraphs, 0, graph_place, graph));
  TSQ_RETURN_IF_ERROR(
      r.string(graph, kSubgraphName, at_field(graph_place, "name"), model.subgraph_name));

  FlatBufferReader::Vector tensors;
  TSQ_RETURN_IF_ERROR(
      r.vector(graph, kSubgraphTensors, 4, at_field(graph_place, "tensors"), tensors));
  model.tensors.resize(tensors.count);
  for (std::uint32_t i = 0; i < tensors.count; ++i) {
    const TflitePlace p{"tensor", i, nullptr};
    FlatTable t;
    TSQ_RETURN_IF_ERROR(r.table_in(tensors, i, p, t));
    TSQ_RETURN_IF_ERROR(read_tensor(r, t, p, model.tensors[i]));
    TSQ_RETURN_IF_ERROR(check_tensor(model.tensors[i], buffers.count, model.buffers, p));
  }

  TSQ_RETURN_IF_ERROR(
      r.values(graph, kSubgraphInputs, at_field(graph_place, "inputs"), model.inputs));
  TSQ_RETURN_IF_ERROR(
      r.values(graph, kSubgraphOutputs, at_field(graph_place, "outputs"), model.outputs));
  for (const std::int32_t index : model.inputs) {
    TSQ_RETURN_IF_ERROR(
        check_index(index, model.tensors.size(), false, at_field(graph_place, "inputs")));
  }
  for (const std::int32_t index : model.outputs) {
    TSQ_RETURN_IF_ERROR(
        check_index(index, model.tensors.size(), false, at_field(graph_place, "outputs")));
  }

  FlatBufferReader::Vector operators;
  TSQ_RETURN_IF_ERROR(
      r.vector(graph, kSubgraphOperators, 4, at_field(graph_place, "operators"), operators));
  if (operators.count == 0) {
    return Status::error(ErrorCode::unsupported_format, "tflite: subgraph 0 has no operators");
  }
  model.operators.resize(operators.count);
  for (std::uint32_t i = 0; i < operators.count; ++i) {
    const TflitePlace p{"operator", i, nullptr};
    FlatTable t;
    TSQ_RETURN_IF_ERROR(r.table_in(operators, i, p, t));
    TSQ_RETURN_IF_ERROR(
        read_operator(r, t, p, model.operator_codes, model.tensors.size(), model.operators[i]));
  }
  return model;
}

// Reads and parses a .tflite file.
inline Result<TfliteModel> load_tflite(const std::string& path) {
  std::vector<std::uint8_t> bytes;
  TSQ_RETURN_IF_ERROR(detail::read_file(path, bytes));
  Result<TfliteModel> result = parse_tflite(bytes.data(), bytes.size());
  if (result.is_ok()) return result;
  // Say which file was bad; the parser's message comes first because it is the important part.
  return Status::error(result.status().code(), result.status().message())
      .append(" in ")
      .append(path.c_str());
}

}  // namespace io
}  // namespace tsq
