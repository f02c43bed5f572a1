// SPDX-License-Identifier: Apache-2.0
// Fixed-point transcendental functions in Q-formats (spec sections 3.10 and 4.5).
//
// Raw int32 values in "F<I>": I integer bits and 31 - I fractional bits, so raw v stands for
// v / 2^(31 - I). The int32 functions are gemmlowp's (used by softmax, int8 logistic and tanh);
// the int16 ones are TFLite-Micro's table-and-interpolation sigmoid/tanh (used by the LSTM).
// The constants are the exact raw values the reference uses, so that results match bit for bit.
#pragma once

#include <cstdint>

#include "tsq/quant/fixed_point.hpp"

namespace tsq {
namespace fixed_point {

// Product of F<I1> and F<I2> is F<I1 + I2>; the raw value is the doubling high multiply.
constexpr std::int32_t mul(std::int32_t a, std::int32_t b) {
  return saturating_rounding_doubling_high_mul(a, b);
}

// Converts a raw F<From> to F<To> (saturating when To < From).
template <int From, int To>
constexpr std::int32_t rescale(std::int32_t raw) {
  return saturating_rounding_multiply_by_power_of_two(raw, From - To);
}

// 1.0 in F<I> (for I == 0 the largest value below 1).
template <int I>
constexpr std::int32_t one() {
  return I == 0 ? kInt32Max : static_cast<std::int32_t>(std::int64_t{1} << (31 - I));
}

// exp(a) for a in [-1/4, 0), a in F<0>, result in F<0>: a 4th-order Taylor expansion around -1/8.
constexpr std::int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(std::int32_t a) {
  constexpr std::int32_t exp_minus_one_eighth = 1895147668;
  constexpr std::int32_t one_third = 715827883;
  const std::int32_t x = a + (1 << 28);  // a + 1/8
  const std::int32_t x2 = mul(x, x);
  const std::int32_t x3 = mul(x2, x);
  const std::int32_t x4 = mul(x2, x2);
  const std::int32_t x4_over_4 = saturating_rounding_multiply_by_power_of_two(x4, -2);
  const std::int32_t series = saturating_rounding_multiply_by_power_of_two(
      mul(x4_over_4 + x3, one_third) + x2, -1);  // x^2/2 + x^3/6 + x^4/24
  return exp_minus_one_eighth + mul(exp_minus_one_eighth, x + series);
}

// exp(a) for a <= 0, a in F<I>, result in F<0>. Splits a into a part in [-1/4, 0) and a
// multiple of 1/4, then multiplies by exp(-2^k) for each set bit of that multiple.
template <int I>
constexpr std::int32_t exp_on_negative_values(std::int32_t a) {
  static_assert(I >= 0 && I <= 30, "integer bits out of range");
  constexpr int fractional_bits = 31 - I;
  constexpr std::int32_t one_quarter =
      static_cast<std::int32_t>(std::int64_t{1} << (fractional_bits - 2));
  const std::int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
  std::int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
      rescale<I, 0>(a_mod_quarter_minus_quarter));
  const std::int32_t remainder = wrapping_sub(a_mod_quarter_minus_quarter, a);
  // exp(-2^k) in F<0> for k = -2 .. 4.
  constexpr std::int32_t exp_of_minus_power_of_two[7] = {
      1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int k = -2; k <= 4; ++k) {
    if (I > k) {
      const int bit = fractional_bits + k;
      if ((remainder & static_cast<std::int32_t>(std::int64_t{1} << bit)) != 0) {
        result = mul(result, exp_of_minus_power_of_two[k + 2]);
      }
    }
  }
  if (I > 5) {
    // exp(a) for a < -32 is below the F<0> resolution.
    const std::int64_t clamp_bound = -(std::int64_t{1} << (fractional_bits + 5));
    if (a < clamp_bound) result = 0;
  }
  if (a == 0) result = one<0>();
  return result;
}

namespace detail {
// Newton-Raphson for 1 / (1 + a), a in [0, 1) in F<0>; returns x ~ 1 / ((1 + a) / 2) in F<2>.
constexpr std::int32_t reciprocal_newton_raphson(std::int32_t half_denominator) {
  constexpr std::int32_t forty_eight_over_seventeen = 1515870810;        // F<2>
  constexpr std::int32_t minus_thirty_two_over_seventeen = -1010580540;  // F<2>
  std::int32_t x =
      forty_eight_over_seventeen + mul(half_denominator, minus_thirty_two_over_seventeen);
  for (int i = 0; i < 3; ++i) {
    const std::int32_t half_denominator_times_x = mul(half_denominator, x);  // F<2>
    const std::int32_t one_minus = one<2>() - half_denominator_times_x;      // F<2>
    x = x + rescale<4, 2>(mul(x, one_minus));
  }
  return x;
}
}  // namespace detail

// 1 / (1 + a) for a in [0, 1), F<0> in and out.
constexpr std::int32_t one_over_one_plus_x_for_x_in_0_1(std::int32_t a) {
  const std::int32_t x = detail::reciprocal_newton_raphson(rounding_half_sum(a, kInt32Max));
  // x / 2 reinterpreted from F<2> as F<1>, then rescaled to F<0>.
  return rescale<1, 0>(x);
}

// (1 - a) / (1 + a) for a in [0, 1), F<0> in and out.
constexpr std::int32_t one_minus_x_over_one_plus_x_for_x_in_0_1(std::int32_t a) {
  const std::int32_t x = detail::reciprocal_newton_raphson(rounding_half_sum(a, kInt32Max));
  return rescale<2, 0>(x - one<2>());
}

// logistic(a), a in F<I>, result in F<0>.
template <int I>
constexpr std::int32_t logistic(std::int32_t a) {
  if (a == 0) return 1 << 30;
  const std::int32_t abs_a = a < 0 ? wrapping_negate(a) : a;
  const std::int32_t if_positive =
      one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values<I>(wrapping_negate(abs_a)));
  return a > 0 ? if_positive : one<0>() - if_positive;
}

// tanh(a), a in F<I>, result in F<0>: (1 - exp(-2|a|)) / (1 + exp(-2|a|)) with the sign of a.
template <int I>
constexpr std::int32_t tanh(std::int32_t a) {
  if (a == 0) return 0;
  const std::int32_t minus_abs_a = a < 0 ? a : wrapping_negate(a);
  // The same raw read as F<I + 1> is 2 * minus_abs_a.
  const std::int32_t if_positive =
      one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values<I + 1>(minus_abs_a));
  return a > 0 ? if_positive : wrapping_negate(if_positive);
}

// sigmoid(i / 24) in unsigned Q0.16 for i = 0..255: TFLite's sigmoid_table_uint16 (it is not
// exactly round(65536 * sigmoid(i / 24)); 44 entries differ by one, so it is copied verbatim).
constexpr std::uint16_t kSigmoidTable[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535};

namespace detail {

// TFLite-Micro's int16 logistic and tanh look the table up on an input v already scaled to
// 1/(3 * 4096) units (v = 3 * 4096 * x for the real input x).

// sigmoid(x) in Q0.15: |v| >> 9 indexes the sigmoid(i / 24) table, the low 9 bits interpolate
// (spec 4.5, steps 2-5).
constexpr std::int16_t sigmoid_of_table_input(std::int32_t v) {
  const auto magnitude = static_cast<std::uint32_t>(v < 0 ? -static_cast<std::int64_t>(v) : v);
  const std::uint32_t index = magnitude >> 9;
  std::uint32_t result = 0x7FFFu << 10;  // saturated
  if (index < 255) {
    const std::uint32_t base = kSigmoidTable[index];
    const std::uint32_t next = kSigmoidTable[index + 1];
    result = (base << 9) + (magnitude & 0x1FFu) * (next - base);  // unsigned Q0.25
  }
  // result < 2^25, so the negative side stays positive and the shift is exact.
  result = v >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1;
  return static_cast<std::int16_t>(result >> 10);
}

// tanh(x) in Q0.15: |v| >> 8 indexes the table at 48 |x|, i.e. sigmoid(2 |x|); the low 8 bits
// interpolate; then 2 sigmoid - 1 with the sign of v.
constexpr std::int16_t tanh_of_table_input(std::int32_t v) {
  const auto magnitude = static_cast<std::uint32_t>(v < 0 ? -static_cast<std::int64_t>(v) : v);
  const std::uint32_t index = magnitude >> 8;
  std::int32_t result = static_cast<std::int32_t>(0xFFFFu << 8);  // saturated
  if (index < 255) {
    const std::uint32_t base = kSigmoidTable[index];
    const std::uint32_t next = kSigmoidTable[index + 1];
    result = static_cast<std::int32_t>((base << 8) + (magnitude & 0xFFu) * (next - base));  // Q0.24
  }
  result = v >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
  return static_cast<std::int16_t>(result >> 8);  // within [-32767, 32767]
}

}  // namespace detail

// sigmoid(a) for a in Q3.12 (int16), result in Q0.15: TFLite-Micro's int16 logistic with its
// default input scaling (multiplier 3, so that |3a| >> 9 indexes 24 * |x|), linear
// interpolation between table entries.
constexpr std::int16_t sigmoid_q3_12(std::int16_t a) {
  return detail::sigmoid_of_table_input(3 * static_cast<std::int32_t>(a));
}

// tanh(a) for an int16 a with scale 2^input_exponent, result in Q0.15, via
// tanh(x) = 2 sigmoid(2x) - 1 on the same table. TFLite-Micro scales the input so that
// |v| >> 8 indexes 48 * |x|. Valid for -43 <= input_exponent <= 2 (the LSTM passes -12 for gate
// pre-activations and the cell state's exponent for tanh(c)).
constexpr std::int16_t tanh_int16(std::int16_t a, int input_exponent) {
  const int shift = 12 + input_exponent;
  std::int32_t v = 0;
  if (shift >= 0) {
    v = static_cast<std::int32_t>(a) * (3 << shift);
  } else {
    v = (static_cast<std::int32_t>(a) * 3 + (1 << (-shift - 1))) >> (-shift);
  }
  return detail::tanh_of_table_input(v);
}

}  // namespace fixed_point
}  // namespace tsq
