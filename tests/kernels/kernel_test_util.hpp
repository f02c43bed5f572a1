// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the kernel tests: seeded random tensors and quantization parameters.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq_test {

using Rng = std::mt19937;

template <typename T>
std::vector<T> random_integers(Rng& rng, std::size_t count, std::int32_t lo, std::int32_t hi) {
  std::uniform_int_distribution<std::int32_t> dist(lo, hi);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(dist(rng));
  return values;
}

inline std::vector<float> random_floats(Rng& rng, std::size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// A random int8 activation quantization: scale log-uniform in [1e-3, 1], any zero point.
inline tsq::QuantParams random_int8_params(Rng& rng) {
  std::uniform_real_distribution<float> log_scale(-3.0f, 0.0f);
  std::uniform_int_distribution<std::int32_t> zero_point(-128, 127);
  return tsq::make_quant_params(std::pow(10.0f, log_scale(rng)), zero_point(rng),
                                tsq::DataType::int8);
}

// A random int16 activation quantization: symmetric (zero point 0).
inline tsq::QuantParams random_int16_params(Rng& rng) {
  std::uniform_real_distribution<float> log_scale(-6.0f, -3.0f);
  return tsq::make_quant_params(std::pow(10.0f, log_scale(rng)), 0, tsq::DataType::int16);
}

template <typename T>
std::vector<float> dequantize_all(const std::vector<T>& q, const tsq::QuantParams& p) {
  std::vector<float> out(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) out[i] = tsq::dequantize(q[i], p);
  return out;
}

// Dequantizes per-channel weights whose channel is the index along axis 0 (rows).
inline std::vector<float> dequantize_rows(const std::vector<std::int8_t>& q,
                                          const std::vector<float>& scales,
                                          std::size_t row_length) {
  std::vector<float> out(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    out[i] = static_cast<float>(q[i]) * scales[scales.size() == 1 ? 0 : i / row_length];
  }
  return out;
}

}  // namespace tsq_test
