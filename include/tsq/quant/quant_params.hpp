// SPDX-License-Identifier: Apache-2.0
// Affine quantization parameters: real = scale * (q - zero_point), q in [quant_min, quant_max].
//
// Per-tensor parameters carry their own integer range so that narrow ranges ([-127, 127] for
// weights) and bit widths below the storage width (4-bit values stored in int8) are explicit.
// Per-axis parameters (one scale per channel, zero point 0) are a non-owning view: the scales
// live in the caller's (or the model's) storage.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"

namespace tsq {

struct IntegerRange {
  std::int32_t min = 0;
  std::int32_t max = 0;
};

// The full range of an integer storage type.
constexpr IntegerRange type_range(DataType type) {
  switch (type) {
    case DataType::int8: return {-128, 127};
    case DataType::uint8: return {0, 255};
    case DataType::int16: return {-32768, 32767};
    case DataType::int32: return {-2147483647 - 1, 2147483647};
    default: return {0, 0};
  }
}

// How many bits, signed or not, and whether the range is narrow (symmetric: the most negative
// value is left out, e.g. int8 weights in [-127, 127]).
struct BitWidth {
  int bits = 8;
  bool is_signed = true;
  bool narrow_range = false;
};

// The smallest tsq storage type that holds `width` values. Signed 2..32 bits, unsigned 2..8.
inline Result<DataType> storage_type_for(BitWidth width) {
  if (width.is_signed) {
    if (width.bits >= 2 && width.bits <= 8) return DataType::int8;
    if (width.bits > 8 && width.bits <= 16) return DataType::int16;
    if (width.bits > 16 && width.bits <= 32) return DataType::int32;
  } else if (width.bits >= 2 && width.bits <= 8) {
    return DataType::uint8;
  }
  return Status::error(ErrorCode::unsupported_type, "unsupported bit width ")
      .append(width.bits)
      .append(width.is_signed ? " (signed: 2..32)" : " (unsigned: 2..8)");
}

inline Result<IntegerRange> integer_range(BitWidth width) {
  const Result<DataType> storage = storage_type_for(width);
  if (!storage.is_ok()) return storage.status();
  IntegerRange range;
  if (width.is_signed) {
    range.max = static_cast<std::int32_t>((std::int64_t{1} << (width.bits - 1)) - 1);
    range.min = static_cast<std::int32_t>(-(std::int64_t{1} << (width.bits - 1)));
  } else {
    range.min = 0;
    range.max = static_cast<std::int32_t>((std::int64_t{1} << width.bits) - 1);
  }
  if (width.narrow_range) range.min += 1;
  return range;
}

struct QuantParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  DataType type = DataType::int8;
  std::int32_t quant_min = -128;
  std::int32_t quant_max = 127;
};

// Parameters over the full range of `type`.
constexpr QuantParams make_quant_params(float scale, std::int32_t zero_point, DataType type) {
  return QuantParams{scale, zero_point, type, type_range(type).min, type_range(type).max};
}

inline Status validate_scale(float scale) {
  if (!std::isfinite(scale)) return Status::error(ErrorCode::invalid_scale, "scale is not finite");
  if (!(scale > 0.0f)) return Status::error(ErrorCode::invalid_scale, "scale must be > 0");
  return Status::ok();
}

// A scale > 0 and finite, an integer storage type, quant_min <= zero_point <= quant_max and a
// [quant_min, quant_max] inside the storage type.
inline Status validate(const QuantParams& params) {
  TSQ_RETURN_IF_ERROR(validate_scale(params.scale));
  if (!is_integer_type(params.type)) {
    return Status::error(ErrorCode::unsupported_type, "quantized type must be an integer type");
  }
  const IntegerRange storage = type_range(params.type);
  if (params.quant_min > params.quant_max || params.quant_min < storage.min ||
      params.quant_max > storage.max) {
    return Status::error(ErrorCode::invalid_argument, "integer range [")
        .append(params.quant_min)
        .append(", ")
        .append(params.quant_max)
        .append("] does not fit ")
        .append(data_type_name(params.type));
  }
  if (params.zero_point < params.quant_min || params.zero_point > params.quant_max) {
    return Status::error(ErrorCode::invalid_argument, "zero point ")
        .append(params.zero_point)
        .append(" outside the integer range");
  }
  return Status::ok();
}

// Symmetric per-axis (per-channel) parameters: scales[c] for channel c along `axis`, zero point
// 0 for every channel (the TFLite int8 scheme for weights, biases follow their weights).
struct PerAxisQuantParams {
  Span<const float> scales;
  int axis = 0;
  DataType type = DataType::int8;
  std::int32_t quant_min = -127;
  std::int32_t quant_max = 127;
};

// Every scale finite and > 0, and one scale per channel of `axis` in `dims`.
inline Status validate(const PerAxisQuantParams& params, Span<const std::int32_t> dims) {
  if (params.axis < 0 || static_cast<std::size_t>(params.axis) >= dims.size()) {
    return Status::error(ErrorCode::invalid_argument, "quantized axis ")
        .append(params.axis)
        .append(" outside a tensor of rank ")
        .append(dims.size());
  }
  if (params.scales.size() !=
      static_cast<std::size_t>(dims[static_cast<std::size_t>(params.axis)])) {
    return Status::error(ErrorCode::shape_mismatch, "per-axis scale count ")
        .append(params.scales.size())
        .append(" != channel count ")
        .append(dims[static_cast<std::size_t>(params.axis)]);
  }
  for (std::size_t c = 0; c < params.scales.size(); ++c) {
    if (!validate_scale(params.scales[c]).is_ok()) {
      return Status::error(ErrorCode::invalid_scale, "scale of channel ")
          .append(c)
          .append(" is not finite and > 0");
    }
  }
  if (!is_integer_type(params.type) || params.quant_min > params.quant_max ||
      params.quant_min < type_range(params.type).min ||
      params.quant_max > type_range(params.type).max) {
    return Status::error(ErrorCode::invalid_argument, "per-axis integer range does not fit type");
  }
  return Status::ok();
}

}  // namespace tsq
