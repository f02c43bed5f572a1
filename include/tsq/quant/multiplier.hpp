// SPDX-License-Identifier: Apache-2.0
// A real multiplier M as a fixed-point pair (int32 mantissa, power-of-two shift), and its
// application to an int32 accumulator with integer operations only (spec sections 2.1-2.5).
//
// The rounding rule is a visible choice, RoundingMode, carried by every kernel's params:
//  - double_rounding: round at bit 31 (ties up) then at the shift (ties away from zero).
//    TFLite-Micro's and CMSIS-NN's default; results can be off by one from exact rounding.
//  - single_rounding: one rounding of x*M (ties up). TFLite built with TFLITE_SINGLE_ROUNDING=1
//    and XNNPACK-delegated ops.
// The two differ by at most 1, and only when the shift is negative.
#pragma once

#include <cmath>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/quant/fixed_point.hpp"

namespace tsq {

enum class RoundingMode : std::uint8_t { double_rounding, single_rounding };

constexpr const char* rounding_mode_name(RoundingMode mode) {
  return mode == RoundingMode::double_rounding ? "double_rounding" : "single_rounding";
}

// M ~= multiplier * 2^(shift - 31). multiplier is 0 or in [2^30, 2^31 - 1]; shift > 0 means a
// left shift. The value (0, 0) is a multiplier that maps everything to 0.
struct QuantizedMultiplier {
  std::int32_t multiplier = 0;
  int shift = 0;
};

constexpr bool operator==(QuantizedMultiplier a, QuantizedMultiplier b) {
  return a.multiplier == b.multiplier && a.shift == b.shift;
}
constexpr bool operator!=(QuantizedMultiplier a, QuantizedMultiplier b) { return !(a == b); }

// Largest shift that each mode can apply to an int32 without overflowing its arithmetic.
constexpr int kMaxMultiplierShift = 30;
constexpr int kMinMultiplierShift = -31;

// QuantizeMultiplier of spec 2.1. Multipliers below ~2^-32 flush to (0, 0) as in TFLite.
// Errors: M negative or not finite (invalid_argument); in double_rounding mode, M >= 2^30
// (shift > 30) cannot be applied without overflow (shift_out_of_range) -- TFLite would return
// shift 31 here and overflow later; single_rounding saturates to (2^31 - 1, 30) as TFLite does.
inline Result<QuantizedMultiplier> quantize_multiplier(double real_multiplier, RoundingMode mode) {
  if (!std::isfinite(real_multiplier) || real_multiplier < 0.0) {
    return Status::error(ErrorCode::invalid_argument, "real multiplier must be finite and >= 0");
  }
  if (real_multiplier == 0.0) return QuantizedMultiplier{};
  int exponent = 0;
  const double mantissa = std::frexp(real_multiplier, &exponent);  // in [0.5, 1)
  auto q_fixed = static_cast<std::int64_t>(std::round(mantissa * 2147483648.0));
  if (q_fixed == (std::int64_t{1} << 31)) {  // the mantissa rounded up to 1.0
    q_fixed /= 2;
    ++exponent;
  }
  if (exponent < kMinMultiplierShift) return QuantizedMultiplier{};  // too small: flush to 0
  if (exponent > kMaxMultiplierShift) {
    if (mode == RoundingMode::single_rounding) {
      return QuantizedMultiplier{kInt32Max, kMaxMultiplierShift};
    }
    return Status::error(ErrorCode::shift_out_of_range,
                         "real multiplier >= 2^30 cannot be applied in double rounding");
  }
  return QuantizedMultiplier{static_cast<std::int32_t>(q_fixed), exponent};
}

// For 0 < M < 1 (shift <= 0); an M so close to 1 that it rounds to 1.0 is rejected too.
inline Result<QuantizedMultiplier> quantize_multiplier_smaller_than_one(double real_multiplier,
                                                                        RoundingMode mode) {
  if (!(real_multiplier > 0.0 && real_multiplier < 1.0)) {
    return Status::error(ErrorCode::invalid_argument, "real multiplier must be in (0, 1)");
  }
  Result<QuantizedMultiplier> result = quantize_multiplier(real_multiplier, mode);
  if (result.is_ok() && result->shift > 0) {
    return Status::error(ErrorCode::invalid_argument,
                         "real multiplier rounds to 1.0, not smaller than one");
  }
  return result;
}

// For M > 1 (shift >= 1).
inline Result<QuantizedMultiplier> quantize_multiplier_greater_than_one(double real_multiplier,
                                                                        RoundingMode mode) {
  if (!(real_multiplier > 1.0) || !std::isfinite(real_multiplier)) {
    return Status::error(ErrorCode::invalid_argument, "real multiplier must be finite and > 1");
  }
  return quantize_multiplier(real_multiplier, mode);
}

// The value the pair stands for, for tests and reports (never on the integer path).
inline double real_value(QuantizedMultiplier m) {
  return std::ldexp(static_cast<double>(m.multiplier), m.shift - 31);
}

// round(x * M) with the chosen rounding (spec 2.3 / 2.4). Preconditions: m.multiplier >= 0 and
// kMinMultiplierShift <= m.shift <= kMaxMultiplierShift, as quantize_multiplier guarantees.
// Results outside int32 saturate (the reference code's behaviour there is undefined).
template <RoundingMode Mode>
constexpr std::int32_t multiply_by_quantized_multiplier(std::int32_t x, QuantizedMultiplier m) {
  if constexpr (Mode == RoundingMode::double_rounding) {
    const int left_shift = m.shift > 0 ? m.shift : 0;
    const int right_shift = m.shift > 0 ? 0 : -m.shift;
    const std::int64_t shifted = static_cast<std::int64_t>(x) * (std::int64_t{1} << left_shift);
    if (shifted > kInt32Max || shifted < kInt32Min) {
      // The reference overflows here. With a pure left shift both modes agree wherever they are
      // defined (spec 2.4), so the exact single-rounding product is the continuation.
      return multiply_by_quantized_multiplier<RoundingMode::single_rounding>(x, m);
    }
    return rounding_divide_by_power_of_two(
        saturating_rounding_doubling_high_mul(static_cast<std::int32_t>(shifted), m.multiplier),
        right_shift);
  } else {
    const int total_shift = 31 - m.shift;  // 1..62
    const std::int64_t round = std::int64_t{1} << (total_shift - 1);
    const std::int64_t product = static_cast<std::int64_t>(x) * m.multiplier;
    // product + round cannot overflow: |product| < 2^62.
    return saturate_to_int32((product + round) >> total_shift);
  }
}

constexpr std::int32_t multiply_by_quantized_multiplier(std::int32_t x, QuantizedMultiplier m,
                                                        RoundingMode mode) {
  return mode == RoundingMode::double_rounding
             ? multiply_by_quantized_multiplier<RoundingMode::double_rounding>(x, m)
             : multiply_by_quantized_multiplier<RoundingMode::single_rounding>(x, m);
}

// The int64-accumulator form used by 16-bit activation kernels (spec 2.5), the same in both
// rounding modes: the multiplier is first rounded to 16 bits. Preconditions |x| < 2^47 and
// -31 <= m.shift < 8.
constexpr std::int32_t multiply_by_quantized_multiplier_int64(std::int64_t x,
                                                              QuantizedMultiplier m) {
  const std::int32_t multiplier16 =
      m.multiplier < 0x7FFF0000 ? (m.multiplier + (1 << 15)) >> 16 : 0x7FFF;
  const int total_shift = 15 - m.shift;
  const std::int64_t round = std::int64_t{1} << (total_shift - 1);
  return saturate_to_int32((x * multiplier16 + round) >> total_shift);
}

}  // namespace tsq
