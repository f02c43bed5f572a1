// SPDX-License-Identifier: Apache-2.0
// Reader for numpy's .npy files (host only: allocates, reads files).
//
// Supported: format versions 1.0, 2.0 and 3.0; little-endian dtypes <f2 <f4 <f8 |i1 |u1 <i2 <i4
// (1-byte types with '|' or '<'); C order; any shape, including () and zero-sized dimensions.
// <f2 (IEEE half) is widened to float32 as it is read, exactly (every half is a float): the
// array's dtype() is float32, so a data set stored in half takes half the bytes and its readers
// need no separate path (a half DataType would need a case in every switch over DataType).
// Everything else is reported through Status, never by an exception or an out-of-bounds read:
//   malformed_file      bad magic, broken header, truncated header or data, trailing bytes,
//                       shape whose byte size does not fit in size_t
//   unsupported_format  version other than 1.0/2.0/3.0, big-endian data, fortran_order True
//   unsupported_type    any other dtype (complex, bool, unsigned 16/32-bit, 64-bit ints,
//                       objects, strings, structured dtypes...)
//   io_error            the file cannot be opened or read
#pragma once

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "tsq/core/data_type.hpp"
#include "tsq/core/status.hpp"
#include "tsq/quant/float16.hpp"

namespace tsq {
namespace io {

class NpyArray;
inline Result<NpyArray> parse_npy(const std::uint8_t* bytes, std::size_t size);

// An n-dimensional array read from a .npy file. It owns its elements, stored in C order in
// the host's byte order, in storage aligned for any element type.
class NpyArray {
 public:
  NpyArray() : storage_(1) {}

  DataType dtype() const { return dtype_; }
  const std::vector<std::size_t>& shape() const { return shape_; }
  std::size_t rank() const { return shape_.size(); }
  // Product of the shape: 1 for a scalar (shape ()), 0 when any dimension is 0.
  std::size_t element_count() const {
    std::size_t count = 1;
    for (std::size_t dim : shape_) count *= dim;  // cannot overflow: checked by the parser
    return count;
  }
  std::size_t byte_size() const { return byte_size_; }
  const std::uint8_t* bytes() const {
    return reinterpret_cast<const std::uint8_t*>(storage_.data());
  }

  // Typed, correctly aligned view of the elements; nullptr if T is not the array's type.
  // Never nullptr for the matching type, even when element_count() is 0.
  template <typename T>
  const T* data() const {
    if (data_type_of_v<T> != dtype_) return nullptr;
    return reinterpret_cast<const T*>(storage_.data());
  }
  template <typename T>
  T* data() {
    if (data_type_of_v<T> != dtype_) return nullptr;
    return reinterpret_cast<T*>(storage_.data());
  }

 private:
  friend Result<NpyArray> parse_npy(const std::uint8_t* bytes, std::size_t size);

  DataType dtype_ = DataType::float32;
  std::vector<std::size_t> shape_ = {0};  // default: an empty float32 array of shape (0,)
  std::size_t byte_size_ = 0;
  // Chunks of max_align_t: aligned for every element type by construction, whatever the
  // alignment of the parsed buffer. Never empty, so that data() is never null.
  std::vector<std::max_align_t> storage_;
};

namespace detail {

inline std::uint16_t load_u16le(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load_u32le(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline std::uint64_t load_u64le(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(load_u32le(p)) |
         (static_cast<std::uint64_t>(load_u32le(p + 4)) << 32);
}

inline bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  std::uint8_t first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// The .npy header is the repr() of a Python dict, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (18282, 260), }
// This is a small recursive-descent reader for exactly the literals such a dict can hold
// here: strings, True/False and tuples of non-negative integers. Whitespace, key order,
// quote style and trailing commas are free, as they are for Python.
class NpyHeaderParser {
 public:
  NpyHeaderParser(const char* text, std::size_t size) : text_(text), end_(text + size) {}

  std::string descr;
  bool fortran_order = false;
  std::vector<std::size_t> shape;

  Status parse() {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    if (!consume('{')) return error("header is not a dict");
    skip_space();
    while (!consume('}')) {
      std::string key;
      TSQ_RETURN_IF_ERROR(parse_string(key));
      skip_space();
      if (!consume(':')) return error("expected ':' after a key");
      skip_space();
      if (key == "descr") {
        if (have_descr) return error("duplicate key 'descr'");
        have_descr = true;
        if (peek() == '[') {
          return Status::error(ErrorCode::unsupported_type, "npy: structured dtypes not supported");
        }
        TSQ_RETURN_IF_ERROR(parse_string(descr));
      } else if (key == "fortran_order") {
        if (have_order) return error("duplicate key 'fortran_order'");
        have_order = true;
        TSQ_RETURN_IF_ERROR(parse_bool(fortran_order));
      } else if (key == "shape") {
        if (have_shape) return error("duplicate key 'shape'");
        have_shape = true;
        TSQ_RETURN_IF_ERROR(parse_shape());
      } else {
        return Status::error(ErrorCode::malformed_file, "npy: unexpected header key '")
            .append(key.c_str())
            .append("'");
      }
      skip_space();
      // Entries are separated by commas; one trailing comma before '}' is allowed.
      if (consume(',')) {
        skip_space();
      } else if (peek() != '}') {
        return error("expected ',' or '}' in header dict");
      }
    }
    // numpy pads the header with spaces and ends it with '\n'; nothing else may follow.
    skip_space();
    if (pos_ != end_) return error("unexpected text after the header dict");
    if (!have_descr || !have_order || !have_shape) {
      return error("header lacks one of 'descr', 'fortran_order', 'shape'");
    }
    return Status::ok();
  }

 private:
  static Status error(const char* what) {
    return Status::error(ErrorCode::malformed_file, "npy: ").append(what);
  }
  char peek() const { return pos_ < end_ ? *pos_ : '\0'; }
  bool consume(char c) {
    if (pos_ < end_ && *pos_ == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool consume_word(const char* word) {
    const std::size_t length = std::strlen(word);
    if (static_cast<std::size_t>(end_ - pos_) < length) return false;
    if (std::memcmp(pos_, word, length) != 0) return false;
    pos_ += length;
    return true;
  }
  void skip_space() {
    while (pos_ < end_ && (*pos_ == ' ' || *pos_ == '\t' || *pos_ == '\n' || *pos_ == '\r')) {
      ++pos_;
    }
  }

  // A quoted string without escapes (no key or supported descr needs one).
  Status parse_string(std::string& out) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') return error("expected a quoted string in header");
    ++pos_;
    const char* start = pos_;
    while (pos_ < end_ && *pos_ != quote) {
      if (*pos_ == '\\' || *pos_ == '\n') return error("unsupported character in header string");
      ++pos_;
    }
    if (pos_ == end_) return error("unterminated string in header");
    out.assign(start, pos_);
    ++pos_;
    return Status::ok();
  }

  Status parse_bool(bool& out) {
    if (consume_word("True")) {
      out = true;
    } else if (consume_word("False")) {
      out = false;
    } else {
      return error("'fortran_order' is not True or False");
    }
    return Status::ok();
  }

  // A tuple of integers: () or (n,) or (n, m, ...) with an optional trailing comma.
  // (n) without a comma is a parenthesised int in Python, not a tuple, and is rejected.
  Status parse_shape() {
    if (!consume('(')) return error("'shape' is not a tuple");
    skip_space();
    std::size_t count = 0;
    bool trailing_comma = false;
    while (!consume(')')) {
      std::size_t dim = 0;
      TSQ_RETURN_IF_ERROR(parse_dim(dim));
      shape.push_back(dim);
      ++count;
      skip_space();
      trailing_comma = consume(',');
      if (trailing_comma) {
        skip_space();
      } else if (peek() != ')') {
        return error("expected ',' or ')' in 'shape'");
      }
    }
    if (count == 1 && !trailing_comma) return error("'shape' (n) is not a tuple; expected (n,)");
    return Status::ok();
  }

  Status parse_dim(std::size_t& out) {
    if (peek() < '0' || peek() > '9') return error("'shape' holds a non-integer or negative value");
    std::size_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      const std::size_t digit = static_cast<std::size_t>(*pos_ - '0');
      if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) {
        return error("shape dimension does not fit in size_t");
      }
      value = value * 10 + digit;
      ++pos_;
    }
    consume('L');  // Python 2 numpy wrote longs as e.g. 3L
    out = value;
    return Status::ok();
  }

  const char* text_;
  const char* end_;
  const char* pos_ = text_;
};

// Maps a descr such as '<f4' to a DataType. `half` is set for '<f2', which is stored as
// float32 (see the top of this file); `out` is then float32.
inline Status parse_descr(const std::string& descr, DataType& out, bool& half) {
  const auto unsupported = [&descr]() {
    return Status::error(ErrorCode::unsupported_type, "npy: unsupported dtype '")
        .append(descr.c_str())
        .append("' (supported: <f2 <f4 <f8 |i1 |u1 <i2 <i4)");
  };
  if (descr.size() != 3) return unsupported();
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  DataType type;
  half = false;
  if (kind == "f2") {
    type = DataType::float32;
    half = true;
  } else if (kind == "f4") {
    type = DataType::float32;
  } else if (kind == "f8") {
    type = DataType::float64;
  } else if (kind == "i1") {
    type = DataType::int8;
  } else if (kind == "u1") {
    type = DataType::uint8;
  } else if (kind == "i2") {
    type = DataType::int16;
  } else if (kind == "i4") {
    type = DataType::int32;
  } else {
    return unsupported();
  }
  if (order != '<' && order != '>' && order != '|' && order != '=') return unsupported();
  // Byte order does not matter for 1-byte types; numpy writes '|' for them.
  if (data_type_size(type) > 1) {
    if (order == '>') {
      return Status::error(ErrorCode::unsupported_format, "npy: big-endian dtype '")
          .append(descr.c_str())
          .append("' not supported; save with a little-endian dtype");
    }
    if (order != '<') {
      return Status::error(ErrorCode::unsupported_format, "npy: dtype '")
          .append(descr.c_str())
          .append("' does not state little-endian byte order");
    }
  }
  out = type;
  return Status::ok();
}

}  // namespace detail

// Parses a complete .npy file held in memory (bytes[0, size)). The elements are copied, so
// `bytes` may be released afterwards and needs no particular alignment.
inline Result<NpyArray> parse_npy(const std::uint8_t* bytes, std::size_t size) {
  static const std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes == nullptr && size != 0) {
    return Status::error(ErrorCode::invalid_argument, "npy: null buffer");
  }
  // A prefix of the magic is a truncated file; anything else is not a .npy file at all.
  const std::size_t magic_checked = size < 6 ? size : 6;
  if (magic_checked > 0 && std::memcmp(bytes, kMagic, magic_checked) != 0) {
    return Status::error(ErrorCode::malformed_file, "npy: bad magic (not a .npy file)");
  }
  if (size < 8) return Status::error(ErrorCode::malformed_file, "npy: truncated header");
  const int major = bytes[6];
  const int minor = bytes[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    return Status::error(ErrorCode::unsupported_format, "npy: unsupported format version ")
        .append(major)
        .append(".")
        .append(minor)
        .append(" (supported: 1.0, 2.0, 3.0)");
  }
  // 1.0 has a 2-byte header length, 2.0 and 3.0 (utf-8 header) a 4-byte one.
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t prefix = 8 + length_size;
  if (size < prefix) return Status::error(ErrorCode::malformed_file, "npy: truncated header");
  const std::size_t header_length =
      major == 1 ? detail::load_u16le(bytes + 8) : detail::load_u32le(bytes + 8);
  if (header_length > size - prefix) {
    return Status::error(ErrorCode::malformed_file, "npy: truncated header (")
        .append(header_length)
        .append(" bytes announced, ")
        .append(size - prefix)
        .append(" present)");
  }

  detail::NpyHeaderParser header(reinterpret_cast<const char*>(bytes + prefix), header_length);
  TSQ_RETURN_IF_ERROR(header.parse());
  DataType type = DataType::float32;
  bool half = false;
  TSQ_RETURN_IF_ERROR(detail::parse_descr(header.descr, type, half));
  if (header.fortran_order) {
    return Status::error(ErrorCode::unsupported_format,
                         "npy: fortran_order True not supported; save a C-order array "
                         "(np.ascontiguousarray)");
  }

  // The byte size must fit in size_t. Zero dimensions are skipped, so that the check does not
  // depend on where a 0 appears in the shape: the product of the others must fit too. It is
  // checked for the stored type (float32 for half), which is never smaller than the file's.
  const std::size_t item_size = data_type_size(type);
  const std::size_t file_item_size = half ? 2 : item_size;
  std::size_t byte_size = item_size;
  bool empty = false;
  for (std::size_t dim : header.shape) {
    if (dim == 0) {
      empty = true;
    } else if (byte_size > std::numeric_limits<std::size_t>::max() / dim) {
      return Status::error(ErrorCode::malformed_file, "npy: shape too large (byte size overflows)");
    } else {
      byte_size *= dim;
    }
  }
  if (empty) byte_size = 0;

  const std::size_t file_byte_size = byte_size / item_size * file_item_size;
  const std::size_t data_offset = prefix + header_length;
  const std::size_t available = size - data_offset;
  if (available < file_byte_size) {
    return Status::error(ErrorCode::malformed_file, "npy: truncated data (")
        .append(file_byte_size)
        .append(" bytes expected, ")
        .append(available)
        .append(" present)");
  }
  if (available > file_byte_size) {
    return Status::error(ErrorCode::malformed_file, "npy: ")
        .append(available - file_byte_size)
        .append(" unexpected trailing bytes after the data");
  }

  NpyArray array;
  array.dtype_ = type;
  array.shape_ = std::move(header.shape);
  array.byte_size_ = byte_size;
  const std::size_t chunks = (byte_size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  array.storage_.resize(chunks > 0 ? chunks : 1);
  auto* out = reinterpret_cast<std::uint8_t*>(array.storage_.data());
  if (half) {
    // load_u16le reads little-endian on any host: no byte swap afterwards.
    float* values = reinterpret_cast<float*>(out);
    const std::size_t count = byte_size / item_size;
    for (std::size_t i = 0; i < count; ++i) {
      values[i] = half_to_float(detail::load_u16le(bytes + data_offset + 2 * i));
    }
    return array;
  }
  if (byte_size > 0) std::memcpy(out, bytes + data_offset, byte_size);
  // Stored little-endian; swap each element on a big-endian host.
  if (item_size > 1 && !detail::host_is_little_endian()) {
    for (std::size_t i = 0; i < byte_size; i += item_size) {
      for (std::size_t a = i, b = i + item_size - 1; a < b; ++a, --b) {
        const std::uint8_t t = out[a];
        out[a] = out[b];
        out[b] = t;
      }
    }
  }
  return array;
}

namespace detail {

// Reads a whole file; io_error (with the path) if it cannot be opened or read.
inline Status read_file(const std::string& path, std::vector<std::uint8_t>& out) {
  const auto failure = [&path](const char* what, int error_number) {
    Status status = Status::error(ErrorCode::io_error, what);
    status.append(path.c_str());
    if (error_number != 0) status.append(": ").append(std::strerror(error_number));
    return status;
  };
  errno = 0;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return failure("cannot open ", errno);
  // Read in chunks up to EOF: works for any kind of file, and the vector grows geometrically.
  // (No size query: fseek/ftell report nonsense sizes for directories and pipes.)
  out.clear();
  constexpr std::size_t kChunk = std::size_t{1} << 16;
  std::size_t used = 0;
  errno = 0;
  for (;;) {
    out.resize(used + kChunk);
    const std::size_t got = std::fread(out.data() + used, 1, kChunk, file);
    used += got;
    if (got < kChunk) break;
  }
  out.resize(used);
  const int read_errno = errno;
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return failure("cannot read ", read_errno);
  return Status::ok();
}

}  // namespace detail

// Reads and parses a .npy file.
inline Result<NpyArray> load_npy(const std::string& path) {
  std::vector<std::uint8_t> bytes;
  TSQ_RETURN_IF_ERROR(detail::read_file(path, bytes));
  Result<NpyArray> result = parse_npy(bytes.data(), bytes.size());
  if (result.is_ok()) return result;
  // Say which file was bad; the parser's message comes first because it is the important part.
  return Status::error(result.status().code(), result.status().message())
      .append(" in ")
      .append(path.c_str());
}

// Converts any supported dtype to float32. Integers convert exactly up to 2^24 in magnitude
// (int32 beyond that rounds to nearest). float64 is narrowed with rounding to nearest; values
// beyond float's range become +-infinity and NaN stays NaN, as numpy's astype(np.float32) does.
inline Result<std::vector<float>> to_float32(const NpyArray& array) {
  const std::size_t count = array.element_count();
  std::vector<float> out(count);
  switch (array.dtype()) {
    case DataType::float32:
      if (count > 0) std::memcpy(out.data(), array.data<float>(), count * sizeof(float));
      break;
    case DataType::float64: {
      const double* in = array.data<double>();
      // Converting an out-of-range double to float is undefined in C++: saturate explicitly.
      // Doubles from FLT_MAX + half an ulp upwards round to infinity in IEEE arithmetic.
      const double limit = std::ldexp(2.0 - std::ldexp(1.0, -24), 127);
      for (std::size_t i = 0; i < count; ++i) {
        const double v = in[i];
        if (v >= limit) {
          out[i] = std::numeric_limits<float>::infinity();
        } else if (v <= -limit) {
          out[i] = -std::numeric_limits<float>::infinity();
        } else {
          out[i] = static_cast<float>(v);
        }
      }
      break;
    }
    case DataType::int8: {
      const std::int8_t* in = array.data<std::int8_t>();
      for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(in[i]);
      break;
    }
    case DataType::uint8: {
      const std::uint8_t* in = array.data<std::uint8_t>();
      for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(in[i]);
      break;
    }
    case DataType::int16: {
      const std::int16_t* in = array.data<std::int16_t>();
      for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(in[i]);
      break;
    }
    case DataType::int32: {
      const std::int32_t* in = array.data<std::int32_t>();
      for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(in[i]);
      break;
    }
    default: return Status::error(ErrorCode::unsupported_type, "to_float32: unsupported dtype");
  }
  return out;
}

}  // namespace io
}  // namespace tsq
