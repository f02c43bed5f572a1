// SPDX-License-Identifier: Apache-2.0
// Choosing scale and zero point from an observed real range (spec section 1.2), the way the
// TFLite converter does after calibration, so that tsq's parameters equal a converter's.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/quant/quant_params.hpp"

namespace tsq {

namespace detail {

inline Status validate_range(double real_min, double real_max) {
  if (!std::isfinite(real_min) || !std::isfinite(real_max)) {
    return Status::error(ErrorCode::invalid_range, "range bounds must be finite (NaN or inf seen)");
  }
  if (real_min > real_max) {
    return Status::error(ErrorCode::invalid_range, "range min > max");
  }
  return Status::ok();
}

inline Result<QuantParams> finish(double scale, std::int32_t zero_point, BitWidth width,
                                  IntegerRange range) {
  const Result<DataType> storage = storage_type_for(width);
  if (!storage.is_ok()) return storage.status();
  const auto stored_scale = static_cast<float>(scale);  // models store float32 scales
  if (!std::isfinite(stored_scale) || !(stored_scale > 0.0f)) {
    return Status::error(ErrorCode::invalid_range,
                         "range too wide or too narrow for a float32 scale");
  }
  return QuantParams{stored_scale, zero_point, storage.value(), range.min, range.max};
}

}  // namespace detail

// Asymmetric parameters (activations). Follows the converter's post-training path:
//  1. the range is widened to contain 0;
//  2. a range narrower than 1e-6 is widened by 1e-6 on each side (an all-zero tensor gets a
//     tiny positive scale, never 0);
//  3. scale = (max - min) / (quant_max - quant_min), in double;
//  4. the zero point is taken from whichever end gives the smaller error estimate, then nudged
//     into the integer range and rounded (half away from zero), so that real 0 is exact.
// The scale is then stored as float32; the zero point was computed from the double scale.
inline Result<QuantParams> choose_quant_params(double real_min, double real_max,
                                               BitWidth width = BitWidth{}) {
  TSQ_RETURN_IF_ERROR(detail::validate_range(real_min, real_max));
  const Result<IntegerRange> range_or = integer_range(width);
  if (!range_or.is_ok()) return range_or.status();
  const IntegerRange range = range_or.value();
  real_min = std::min(real_min, 0.0);
  real_max = std::max(real_max, 0.0);
  if (real_max - real_min < 1e-6) {
    real_min -= 1e-6;
    real_max += 1e-6;
  }
  const double qmin = range.min;
  const double qmax = range.max;
  const double scale = (real_max - real_min) / (qmax - qmin);
  const double zero_point_from_min = qmin - real_min / scale;
  const double zero_point_from_max = qmax - real_max / scale;
  const double error_from_min = std::abs(qmin) + std::abs(real_min / scale);
  const double error_from_max = std::abs(qmax) + std::abs(real_max / scale);
  const double zero_point =
      error_from_min < error_from_max ? zero_point_from_min : zero_point_from_max;
  std::int32_t nudged_zero_point = 0;
  if (zero_point < qmin) {
    nudged_zero_point = range.min;
  } else if (zero_point > qmax) {
    nudged_zero_point = range.max;
  } else {
    nudged_zero_point = static_cast<std::int32_t>(std::round(zero_point));
  }
  return detail::finish(scale, nudged_zero_point, width, range);
}

// Symmetric parameters with zero point 0 (weights, int16 activations):
// scale = max|r| / quant_max, integer range [-quant_max, quant_max] (narrow by construction).
// A (near-)zero magnitude below 5e-7 is widened to 5e-7, as the converter does, so that the
// scale stays positive. Unsigned widths are rejected.
inline Result<QuantParams> choose_symmetric_quant_params(double max_abs,
                                                         BitWidth width = BitWidth{8, true, true}) {
  if (!std::isfinite(max_abs) || max_abs < 0.0) {
    return Status::error(ErrorCode::invalid_range, "max |r| must be finite and >= 0");
  }
  if (!width.is_signed) {
    return Status::error(ErrorCode::unsupported_type, "symmetric quantization needs a signed type");
  }
  width.narrow_range = true;
  const Result<IntegerRange> range_or = integer_range(width);
  if (!range_or.is_ok()) return range_or.status();
  const IntegerRange range = range_or.value();
  const double magnitude = std::max(max_abs, 5e-7);
  return detail::finish(magnitude / range.max, 0, width, range);
}

inline Result<QuantParams> choose_symmetric_quant_params(double real_min, double real_max,
                                                         BitWidth width) {
  TSQ_RETURN_IF_ERROR(detail::validate_range(real_min, real_max));
  return choose_symmetric_quant_params(std::max(std::abs(real_min), std::abs(real_max)), width);
}

// int16 with a power-of-two scale, full range (the LSTM cell state, spec 1.2 and 4.3):
// scale = 2^ceil(log2(max|r|)) / 32768, zero point 0. A zero magnitude gives scale 2^-15.
inline Result<QuantParams> choose_power_of_two_int16_params(double max_abs) {
  if (!std::isfinite(max_abs) || max_abs < 0.0) {
    return Status::error(ErrorCode::invalid_range, "max |r| must be finite and >= 0");
  }
  const int bound_exponent = max_abs > 0.0 ? static_cast<int>(std::ceil(std::log2(max_abs))) : 0;
  if (bound_exponent - 15 < -126 || bound_exponent - 15 > 127) {
    return Status::error(ErrorCode::invalid_range, "range outside float32 powers of two");
  }
  const BitWidth width{16, true, false};
  return detail::finish(std::ldexp(1.0, bound_exponent - 15), 0, width,
                        IntegerRange{-32768, 32767});
}

}  // namespace tsq
