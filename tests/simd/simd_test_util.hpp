// SPDX-License-Identifier: Apache-2.0
// Helpers of the SIMD kernel tests: every path this CPU runs (forced in turn), random int8
// quantizations whose multipliers cover every shift and whose biases reach the int32 limits,
// and scratch buffers of odd sizes and alignments.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../kernels/kernel_test_util.hpp"
#include "tsq/kernels/simd/cpu.hpp"
#include "tsq/kernels/simd/gemm.hpp"
#include "tsq/quant/quant_params.hpp"

namespace tsq_simd_test {

using tsq_test::pick;
using tsq_test::Rng;

// The paths this machine runs, scalar first.
inline std::vector<tsq::simd::Path> supported_paths() {
  std::vector<tsq::simd::Path> paths;
  for (const tsq::simd::Path path : tsq::simd::kAllPaths) {
    if (tsq::simd::path_supported(path)) paths.push_back(path);
  }
  return paths;
}

// Runs body(path) once per supported path, with that path forced.
template <typename Body>
void for_each_path(Body body) {
  for (const tsq::simd::Path path : supported_paths()) {
    const tsq::simd::ScopedPath forced(path);
    REQUIRE(forced.status().is_ok());
    REQUIRE(tsq::simd::active_path() == path);
    body(path);
  }
}

// How a random layer is quantized: its multipliers and its biases.
struct Style {
  // false: the converter's scales, outputs spread over the int8 range; true: multipliers
  // 2^-36 .. 2^18 apart per channel (every shift, flushed ones, saturating left shifts).
  bool wide_multipliers = false;
  // true: biases anywhere in int32, the edges included (wrapping sums, saturating products).
  bool extreme_biases = false;
};

inline Style typical_style() { return Style{}; }

inline Style random_style(Rng& rng) {
  Style style;
  style.wide_multipliers = pick(rng, 0, 19) < 7;
  style.extreme_biases = pick(rng, 0, 9) < 3;
  return style;
}

struct RandomQuantization {
  tsq::QuantParams input = tsq::make_quant_params(1.0f, 0, tsq::DataType::int8);
  tsq::QuantParams output = tsq::make_quant_params(1.0f, 0, tsq::DataType::int8);
  std::vector<float> weight_scales;
  std::vector<std::int32_t> bias;  // one per channel, or empty
  tsq::FusedActivation activation = tsq::FusedActivation::none;
};

// `depth` products per accumulator, `channels` output channels.
inline RandomQuantization random_quantization(Rng& rng, std::int32_t channels, std::int32_t depth,
                                              bool per_channel, Style style) {
  RandomQuantization q;
  q.input = tsq_test::random_int8_params(rng);
  const std::size_t scale_count = per_channel ? static_cast<std::size_t>(channels) : 1;
  // The accumulator's spread in integer units: sqrt(depth) * rms(W) * rms(x - Z_in).
  const double spread = 73.0 * 120.0 * std::sqrt(static_cast<double>(depth));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (style.wide_multipliers) {
    // M_c = S_in * S_w[c] / S_out = M_0 * S_w[c] / S_w[0], S_w[c] / S_w[0] in (2^-11, 2^11):
    // log2 M_0 <= 18 keeps M_c < 2^30 (the double-rounding limit); half of them are > 1.
    q.weight_scales.resize(scale_count);
    for (float& scale : q.weight_scales) {
      scale = static_cast<float>(std::ldexp(1.0, -pick(rng, 0, 10)) * (1.0 + unit(rng)));
    }
    const double log_multiplier =
        pick(rng, 0, 1) == 0 ? -36.0 + 36.0 * unit(rng) : 18.0 * unit(rng);
    q.output =
        tsq::make_quant_params(static_cast<float>(static_cast<double>(q.input.scale) *
                                                  q.weight_scales[0] / std::exp2(log_multiplier)),
                               pick(rng, -128, 127), tsq::DataType::int8);
  } else {
    q.weight_scales = tsq_test::random_floats(rng, scale_count, 1e-3f, 2e-2f);
    const double typical = static_cast<double>(q.input.scale) * q.weight_scales[0] * spread;
    q.output = tsq::make_quant_params(static_cast<float>(typical / (20.0 + 40.0 * unit(rng))),
                                      pick(rng, -128, 127), tsq::DataType::int8);
  }
  q.activation = static_cast<tsq::FusedActivation>(pick(rng, 0, 2));
  if (pick(rng, 0, 7) != 0) {  // 1 in 8 layers has no bias
    q.bias.resize(static_cast<std::size_t>(channels));
    const auto limit = static_cast<std::int32_t>(spread < 1e8 ? spread : 1e8);
    for (std::int32_t& b : q.bias) {
      if (style.extreme_biases) {
        const std::int32_t edge = pick(rng, 0, 5);
        b = edge == 0   ? std::numeric_limits<std::int32_t>::max() - pick(rng, 0, 3)
            : edge == 1 ? std::numeric_limits<std::int32_t>::min() + pick(rng, 0, 3)
                        : static_cast<std::int32_t>(rng());
      } else {
        b = pick(rng, -limit, limit);
      }
    }
  }
  return q;
}

// A scratch of `bytes` usable bytes starting `misalignment` bytes past a 64-byte boundary.
class Scratch {
 public:
  Scratch(std::size_t bytes, std::size_t misalignment) : storage_(bytes + 128, 0x5A) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    offset_ = (64 - address % 64) % 64 + misalignment % 64;
    size_ = bytes;
  }
  tsq::Span<std::int8_t> span() { return tsq::Span<std::int8_t>(storage_.data() + offset_, size_); }

 private:
  std::vector<std::int8_t> storage_;
  std::size_t offset_ = 0;
  std::size_t size_ = 0;
};

// The recommended scratch, or one that holds only 1..7 rows (more blocks, odd block sizes).
inline std::size_t random_scratch_size(Rng& rng, std::size_t recommended, std::int32_t depth) {
  if (pick(rng, 0, 2) != 0) return recommended;
  const std::int32_t padded = tsq::simd::detail::round_up(depth, tsq::simd::kDepthGroup);
  return tsq::simd::detail::scratch_size_for_rows(padded, pick(rng, 1, 7));
}

// The index of the first difference, or -1.
inline long first_difference(const std::vector<std::int8_t>& a, const std::vector<std::int8_t>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return static_cast<long>(i);
  }
  return -1;
}

}  // namespace tsq_simd_test
