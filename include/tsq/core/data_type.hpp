// SPDX-License-Identifier: Apache-2.0
// Element types shared by the quantization math, tensor views and file readers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tsq {

enum class DataType : std::uint8_t { int8, uint8, int16, int32, float32, float64 };

constexpr const char* data_type_name(DataType type) {
  switch (type) {
    case DataType::int8: return "int8";
    case DataType::uint8: return "uint8";
    case DataType::int16: return "int16";
    case DataType::int32: return "int32";
    case DataType::float32: return "float32";
    case DataType::float64: return "float64";
  }
  return "unknown";
}

constexpr std::size_t data_type_size(DataType type) {
  switch (type) {
    case DataType::int8:
    case DataType::uint8: return 1;
    case DataType::int16: return 2;
    case DataType::int32:
    case DataType::float32: return 4;
    case DataType::float64: return 8;
  }
  return 0;
}

constexpr bool is_integer_type(DataType type) {
  return type == DataType::int8 || type == DataType::uint8 || type == DataType::int16 ||
         type == DataType::int32;
}

// Maps a C++ element type to its DataType tag.
template <typename T>
struct data_type_of;
template <>
struct data_type_of<std::int8_t> {
  static constexpr DataType value = DataType::int8;
};
template <>
struct data_type_of<std::uint8_t> {
  static constexpr DataType value = DataType::uint8;
};
template <>
struct data_type_of<std::int16_t> {
  static constexpr DataType value = DataType::int16;
};
template <>
struct data_type_of<std::int32_t> {
  static constexpr DataType value = DataType::int32;
};
template <>
struct data_type_of<float> {
  static constexpr DataType value = DataType::float32;
};
template <>
struct data_type_of<double> {
  static constexpr DataType value = DataType::float64;
};
template <typename T>
constexpr DataType data_type_of_v = data_type_of<T>::value;

}  // namespace tsq
