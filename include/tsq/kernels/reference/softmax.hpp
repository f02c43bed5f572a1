// SPDX-License-Identifier: Apache-2.0
// Softmax over the last axis, integer reference (spec 3.10-3.11; the int16 path follows
// TFLite-Micro's SoftmaxInt16, where the spec is silent).
//
//   p[c] = exp(beta * S_in * (x[c] - max_k x[k])) / sum_k exp(beta * S_in * (x[k] - max_k x[k]))
//
//   int8  -> int8   output (1/256, -128), scale compared exactly (as TFLite-Micro does)
//   int8  -> int16  output (1/65536, -32768), scale within 0.1 % (TFLite-Micro's tolerance)
//   int16 -> int16  input zero point 0, output (1/32768, 0), scale within 0.1 %
//
// int8 input: gemmlowp fixed point. The differences d = x - max are rescaled by
// beta * S_in * 2^26 into Q5.26, exponentiated (exp_on_negative_values<5>), summed in Q12.19 and
// multiplied by the fixed-point reciprocal of the sum. Differences below diff_min (where
// exp(beta * S_in * d) < e^-15.5) are skipped. The rounding mode changes only prepare: the cap
// on the multiplier is 2^31 - 1 in double rounding and 2^30 - 1 in single rounding (spec 3.11).
// Eval multiplies d by 2^shift (shift >= 1) without overflow, where both modes agree (spec 2.4).
//
// int16 input: d is rescaled so that [-10, 0] maps onto [-65535, 0] (multiplier
// beta * S_in * 65535 / 10, applied with the chosen rounding mode), exponentiated through a
// 513-entry table with linear interpolation, and the reciprocal of the sum comes from a second
// table (1 / (1 + x) on [0, 1]). TFLite-Micro builds both tables in float at prepare; they depend
// on no parameter, so tsq ships them as constexpr arrays (kSoftmaxExpTable,
// kSoftmaxReciprocalTable: 2 x 1026 bytes of flash, no float on the target).
// populate_softmax_int16_tables() recomputes them with TFLite-Micro's float recipe into caller
// storage (for a host that wants to mirror its own libm); the tests check that both agree.
// Differences below -10 all read exp(-10) = 2/32768 from the table (TFLite-Micro deems them
// negligible): in a long row with one dominant value the top probability loses up to
// 2 (n - 1) / 32768.
//
// Beyond TFLite-Micro: with int8 output TFLite-Micro aborts (TFLITE_CHECK) when a row's sum of
// exponentials reaches 512; every probability is then below 1/512 and tsq writes -128, the value
// the formula rounds to. Rows longer than kMaxSoftmaxDepthInt8 (int8 input) or
// kMaxSoftmaxDepthInt16 would overflow the int32 sum and are rejected by prepare.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/fixed_point_math.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {

// Entries of each int16 softmax table: 512 segments plus the end point for interpolation.
constexpr std::size_t kSoftmaxTableSize = 513;

// exp(x) at x = -10 + 10 i / 512 (i = 0..512) in Q0.15, saturated at 32767 and corrected by
// TFLite's half-segment bias. Output of populate_softmax_int16_tables() (float32, glibc expf).
inline constexpr std::int16_t kSoftmaxExpTable[kSoftmaxTableSize] = {
    2,     2,     2,     2,     2,     2,     2,     2,     2,     2,     2,     2,     2,
    2,     2,     2,     2,     2,     2,     2,     2,     2,     2,     2,     2,     2,
    2,     3,     3,     3,     3,     3,     3,     3,     3,     3,     3,     3,     3,
    3,     3,     3,     3,     3,     4,     4,     4,     4,     4,     4,     4,     4,
    4,     4,     4,     4,     4,     5,     5,     5,     5,     5,     5,     5,     5,
    5,     5,     6,     6,     6,     6,     6,     6,     6,     6,     7,     7,     7,
    7,     7,     7,     7,     7,     8,     8,     8,     8,     8,     8,     9,     9,
    9,     9,     9,     9,     10,    10,    10,    10,    10,    11,    11,    11,    11,
    11,    12,    12,    12,    12,    13,    13,    13,    13,    14,    14,    14,    14,
    15,    15,    15,    16,    16,    16,    17,    17,    17,    18,    18,    18,    19,
    19,    19,    20,    20,    21,    21,    21,    22,    22,    23,    23,    24,    24,
    25,    25,    26,    26,    27,    27,    28,    28,    29,    29,    30,    30,    31,
    32,    32,    33,    34,    34,    35,    36,    36,    37,    37,    38,    39,    40,
    40,    42,    42,    43,    44,    45,    45,    46,    47,    48,    49,    50,    51,
    52,    53,    54,    55,    56,    57,    59,    60,    60,    62,    63,    65,    65,
    67,    68,    69,    71,    73,    74,    75,    77,    78,    80,    81,    83,    85,
    86,    88,    90,    92,    93,    95,    97,    99,    101,   103,   105,   107,   109,
    112,   114,   116,   118,   121,   123,   126,   128,   131,   133,   135,   139,   141,
    144,   147,   149,   152,   155,   158,   162,   165,   168,   171,   174,   178,   181,
    185,   189,   192,   196,   200,   204,   208,   212,   217,   221,   225,   230,   234,
    239,   243,   248,   253,   258,   263,   268,   273,   279,   284,   290,   296,   302,
    308,   314,   320,   327,   333,   340,   346,   353,   360,   366,   374,   381,   389,
    397,   404,   413,   421,   429,   437,   446,   455,   464,   473,   482,   492,   501,
    511,   522,   532,   543,   553,   564,   575,   586,   598,   610,   622,   634,   646,
    659,   672,   685,   699,   713,   727,   741,   756,   771,   786,   801,   817,   833,
    850,   866,   884,   901,   919,   937,   955,   974,   993,   1013,  1033,  1053,  1074,
    1095,  1117,  1139,  1161,  1184,  1207,  1232,  1256,  1281,  1306,  1332,  1358,  1385,
    1412,  1440,  1468,  1497,  1527,  1557,  1587,  1619,  1651,  1683,  1716,  1750,  1785,
    1820,  1856,  1892,  1930,  1968,  2006,  2046,  2087,  2128,  2170,  2212,  2256,  2300,
    2346,  2392,  2439,  2488,  2537,  2587,  2638,  2690,  2743,  2796,  2852,  2908,  2966,
    3024,  3084,  3145,  3207,  3270,  3334,  3400,  3467,  3535,  3605,  3677,  3749,  3822,
    3898,  3975,  4053,  4133,  4214,  4297,  4383,  4469,  4557,  4647,  4739,  4833,  4927,
    5024,  5124,  5225,  5328,  5433,  5541,  5649,  5761,  5875,  5991,  6109,  6230,  6352,
    6477,  6605,  6736,  6868,  7004,  7141,  7282,  7427,  7572,  7722,  7874,  8030,  8188,
    8350,  8514,  8683,  8854,  9028,  9206,  9387,  9572,  9762,  9954,  10151, 10351, 10555,
    10763, 10976, 11191, 11412, 11637, 11867, 12102, 12341, 12583, 12831, 13085, 13342, 13606,
    13874, 14148, 14427, 14711, 15002, 15297, 15599, 15907, 16221, 16541, 16867, 17199, 17539,
    17884, 18237, 18597, 18964, 19338, 19719, 20108, 20505, 20909, 21322, 21742, 22171, 22608,
    23054, 23509, 23973, 24445, 24928, 25419, 25921, 26432, 26953, 27485, 28027, 28580, 29143,
    29718, 30304, 30902, 31512, 32133, 32767};

// 1 / (1 + x) at x = i / 512 (i = 0..512) in Q0.15, same recipe.
inline constexpr std::int16_t kSoftmaxReciprocalTable[kSoftmaxTableSize] = {
    32767, 32704, 32640, 32578, 32514, 32451, 32388, 32326, 32264, 32202, 32141, 32079, 32018,
    31957, 31896, 31835, 31775, 31715, 31655, 31596, 31537, 31476, 31418, 31359, 31301, 31242,
    31184, 31127, 31069, 31011, 30954, 30897, 30840, 30784, 30727, 30671, 30615, 30560, 30504,
    30449, 30394, 30339, 30283, 30229, 30175, 30121, 30067, 30013, 29960, 29906, 29853, 29800,
    29746, 29694, 29642, 29589, 29537, 29486, 29434, 29382, 29331, 29280, 29229, 29177, 29127,
    29076, 29026, 28976, 28926, 28877, 28827, 28777, 28728, 28679, 28630, 28581, 28532, 28484,
    28436, 28388, 28340, 28292, 28244, 28197, 28150, 28103, 28056, 28008, 27962, 27915, 27869,
    27823, 27777, 27731, 27685, 27640, 27594, 27549, 27504, 27459, 27413, 27369, 27324, 27280,
    27236, 27192, 27148, 27104, 27060, 27016, 26973, 26930, 26887, 26844, 26801, 26758, 26715,
    26673, 26630, 26588, 26546, 26504, 26463, 26421, 26380, 26338, 26297, 26255, 26214, 26174,
    26132, 26092, 26051, 26011, 25971, 25931, 25891, 25851, 25811, 25772, 25732, 25693, 25653,
    25614, 25575, 25536, 25497, 25458, 25420, 25381, 25343, 25305, 25267, 25229, 25191, 25153,
    25116, 25078, 25041, 25003, 24966, 24928, 24892, 24855, 24818, 24781, 24745, 24709, 24672,
    24636, 24600, 24564, 24528, 24492, 24457, 24421, 24385, 24350, 24315, 24280, 24245, 24210,
    24175, 24140, 24105, 24070, 24036, 24002, 23967, 23933, 23899, 23865, 23831, 23798, 23764,
    23730, 23697, 23664, 23630, 23597, 23564, 23530, 23498, 23465, 23432, 23399, 23366, 23334,
    23302, 23269, 23237, 23205, 23173, 23141, 23109, 23077, 23046, 23014, 22982, 22951, 22920,
    22888, 22857, 22826, 22795, 22764, 22733, 22703, 22672, 22641, 22611, 22580, 22550, 22520,
    22490, 22459, 22429, 22400, 22370, 22340, 22310, 22281, 22251, 22221, 22192, 22163, 22134,
    22104, 22075, 22046, 22017, 21988, 21959, 21931, 21902, 21874, 21845, 21817, 21788, 21760,
    21732, 21704, 21676, 21648, 21620, 21592, 21565, 21537, 21509, 21482, 21455, 21427, 21400,
    21372, 21345, 21318, 21291, 21264, 21237, 21210, 21183, 21157, 21130, 21103, 21077, 21050,
    21024, 20998, 20971, 20945, 20919, 20893, 20867, 20841, 20816, 20790, 20764, 20738, 20713,
    20687, 20662, 20636, 20611, 20586, 20560, 20535, 20510, 20485, 20460, 20435, 20410, 20385,
    20360, 20336, 20311, 20287, 20262, 20238, 20213, 20189, 20165, 20141, 20117, 20092, 20068,
    20044, 20021, 19997, 19973, 19949, 19926, 19902, 19878, 19855, 19832, 19808, 19784, 19762,
    19738, 19715, 19692, 19668, 19645, 19622, 19600, 19577, 19553, 19531, 19508, 19485, 19463,
    19440, 19418, 19395, 19373, 19351, 19328, 19306, 19284, 19262, 19240, 19218, 19196, 19174,
    19152, 19130, 19109, 19087, 19065, 19044, 19022, 19000, 18979, 18958, 18936, 18915, 18893,
    18872, 18851, 18830, 18809, 18787, 18766, 18745, 18725, 18704, 18682, 18662, 18641, 18620,
    18600, 18579, 18559, 18538, 18518, 18497, 18477, 18457, 18436, 18416, 18396, 18376, 18356,
    18336, 18316, 18296, 18276, 18256, 18236, 18216, 18197, 18177, 18157, 18138, 18118, 18099,
    18079, 18059, 18040, 18021, 18001, 17982, 17963, 17944, 17924, 17905, 17886, 17867, 17848,
    17829, 17810, 17791, 17772, 17754, 17735, 17716, 17697, 17679, 17660, 17641, 17623, 17604,
    17586, 17568, 17549, 17531, 17513, 17494, 17476, 17458, 17440, 17422, 17404, 17386, 17368,
    17350, 17332, 17314, 17296, 17278, 17261, 17243, 17225, 17208, 17190, 17172, 17155, 17137,
    17120, 17102, 17085, 17067, 17050, 17033, 17015, 16999, 16981, 16964, 16947, 16930, 16913,
    16895, 16878, 16862, 16845, 16828, 16810, 16794, 16777, 16760, 16743, 16727, 16710, 16693,
    16677, 16660, 16644, 16627, 16611, 16594, 16578, 16562, 16545, 16529, 16513, 16497, 16480,
    16464, 16448, 16432, 16416, 16400, 16384};

// Longest row for int8 input: the largest element contributes 2^19 to the Q12.19 sum, so 4095
// equal maxima stay below 2^31.
constexpr std::int32_t kMaxSoftmaxDepthInt8 = 4095;
// Longest row for int16 input: 65536 * 32767 < 2^31.
constexpr std::int32_t kMaxSoftmaxDepthInt16 = 65536;

struct SoftmaxQuantization {
  Shape shape;  // input and output; softmax runs along the last axis
  QuantParams input;
  QuantParams output;
  float beta = 1.0f;
  RoundingMode rounding = RoundingMode::double_rounding;
};

// Integers only: what eval reads.
struct SoftmaxParams {
  Shape shape;
  std::int32_t rows = 0;   // product of all dimensions but the last
  std::int32_t depth = 0;  // the last dimension
  DataType input_type = DataType::int8;
  DataType output_type = DataType::int8;
  // int8 input: beta * S_in * 2^26 with shift in [1, 31] (a left shift; 31 only in double
  // rounding, where diff_min is then 0). int16 input: beta * S_in * 65535 / 10.
  QuantizedMultiplier input_multiplier;
  std::int32_t diff_min = 0;                  // int8 input: smallest difference that counts
  Span<const std::int16_t> exp_table;         // int16 input: kSoftmaxTableSize entries
  Span<const std::int16_t> reciprocal_table;  // int16 input: kSoftmaxTableSize entries
  RoundingMode rounding = RoundingMode::double_rounding;
  PreparedMark prepared;  // set by its prepare
};

namespace detail {

// TFLite's LUTPopulate<int16_t> in float32 (the tables' generation recipe): 512 samples of f on
// [input_min, input_max], each corrected by half the error of linear interpolation at the
// segment's midpoint, plus the end point; outputs scaled by 32768 / (output range) and saturated.
template <typename Function>
void populate_int16_table(float input_scale, std::int32_t input_zero_point, float output_scale,
                          Function function, std::int16_t* table) {
  const float input_min = input_scale * static_cast<float>(-32768 - input_zero_point);
  const float input_max = input_scale * static_cast<float>(32767 - input_zero_point);
  const float output_min = output_scale * -32768.0f;
  const float output_max = output_scale * 32767.0f;
  constexpr int kSteps = 512;
  const float step = (input_max - input_min) / static_cast<float>(kSteps);
  const float half_step = step / 2;
  const float output_scaling_inverse = 65536.0f / (output_max - output_min);
  const auto saturate = [](float value) {
    return static_cast<std::int16_t>(value < -32768.0f ? -32768.0f
                                                       : (value > 32767.0f ? 32767.0f : value));
  };
  for (int i = 0; i < kSteps; ++i) {
    const float value = function(input_min + static_cast<float>(i) * step);
    const float midpoint_value = function(input_min + static_cast<float>(i) * step + half_step);
    const float next_value = function(input_min + static_cast<float>(i + 1) * step);
    const float sample = std::round(value * output_scaling_inverse);
    const float midpoint_interpolated = std::round(
        (next_value * output_scaling_inverse + std::round(value * output_scaling_inverse)) / 2);
    const float midpoint = std::round(midpoint_value * output_scaling_inverse);
    const float bias = std::round((midpoint_interpolated - midpoint) / 2);
    table[i] = saturate(sample - bias);
  }
  table[kSteps] = saturate(std::round(function(input_max) * output_scaling_inverse));
}

// The float tolerance TFLite-Micro applies to fixed output scales (TF_LITE_ENSURE_NEAR).
inline bool softmax_scale_near(float scale, float expected) {
  const float difference = scale > expected ? scale - expected : expected - scale;
  return !(difference > 0.001f * expected);
}

// The fixed output parameters: scale (exact or within 0.1 %), zero point, full integer range.
inline Status check_softmax_output(const QuantParams& output, DataType type, float scale,
                                   const char* scale_text, std::int32_t zero_point,
                                   bool exact_scale) {
  const IntegerRange full = type_range(type);
  const bool scale_ok =
      exact_scale ? output.scale == scale : softmax_scale_near(output.scale, scale);
  if (output.type != type || !scale_ok || output.zero_point != zero_point ||
      output.quant_min != full.min || output.quant_max != full.max) {
    return Status::error(ErrorCode::invalid_argument, "Softmax ")
        .append(data_type_name(type))
        .append(" output must be (")
        .append(scale_text)
        .append(", ")
        .append(zero_point)
        .append(") over the full range");
  }
  return Status::ok();
}

// QuantizeMultiplier (spec 2.1) for the softmax multiplier M > 1, which may reach shift 31 in
// double rounding (the cap 2^31 - 1); quantize_multiplier() refuses shifts above 30 there.
inline QuantizedMultiplier softmax_input_multiplier(double real_multiplier) {
  int shift = 0;
  const double mantissa = std::frexp(real_multiplier, &shift);
  auto multiplier = static_cast<std::int64_t>(std::round(mantissa * 2147483648.0));
  if (multiplier == (std::int64_t{1} << 31)) {
    multiplier /= 2;
    ++shift;
  }
  return QuantizedMultiplier{static_cast<std::int32_t>(multiplier), shift};
}

}  // namespace detail

// Recomputes the two int16 tables with TFLite-Micro's float recipe: exp on [-10, 0] (input scale
// 10/65535, zero point 32767) and 1/(1+x) on [0, 1] (input scale 1/65535, zero point -32768),
// both to output scale 2/65535. Host-side (float); each span needs kSoftmaxTableSize entries.
inline Status populate_softmax_int16_tables(Span<std::int16_t> exp_table,
                                            Span<std::int16_t> reciprocal_table) {
  if (exp_table.size() < kSoftmaxTableSize || reciprocal_table.size() < kSoftmaxTableSize) {
    return Status::error(ErrorCode::buffer_too_small, "softmax tables need ")
        .append(kSoftmaxTableSize)
        .append(" entries each");
  }
  const float range = 65535.0f;
  detail::populate_int16_table(
      10.0f / range, 32767, 2.0f / range, [](float x) { return std::exp(x); }, exp_table.data());
  detail::populate_int16_table(
      1.0f / range, -32768, 2.0f / range, [](float x) { return 1.0f / (1.0f + x); },
      reciprocal_table.data());
  return Status::ok();
}

// Validates the layer and computes the multiplier (float math here only). For int16 input the
// params point at the constexpr tables.
inline Result<SoftmaxParams> prepare_softmax(const SoftmaxQuantization& q) {
  if (q.shape.rank() < 1) {
    return Status::error(ErrorCode::shape_mismatch, "Softmax needs a tensor of rank >= 1");
  }
  TSQ_RETURN_IF_ERROR(detail::check_no_negative_dimension("Softmax", q.shape));
  if (!std::isfinite(q.beta) || !(q.beta > 0.0f)) {
    return Status::error(ErrorCode::invalid_argument, "Softmax beta must be finite and > 0");
  }
  TSQ_RETURN_IF_ERROR(validate(q.input));
  TSQ_RETURN_IF_ERROR(validate(q.output));
  SoftmaxParams params;
  params.shape = q.shape;
  params.depth = q.shape[q.shape.rank() - 1];
  params.rows =
      params.depth > 0 ? static_cast<std::int32_t>(q.shape.outer_count(q.shape.rank() - 1)) : 0;
  params.input_type = q.input.type;
  params.output_type = q.output.type;
  params.rounding = q.rounding;
  if (q.input.type == DataType::int8) {
    if (q.output.type == DataType::int8) {
      TSQ_RETURN_IF_ERROR(
          detail::check_softmax_output(q.output, DataType::int8, 1.0f / 256, "1/256", -128, true));
    } else if (q.output.type == DataType::int16) {
      TSQ_RETURN_IF_ERROR(detail::check_softmax_output(q.output, DataType::int16, 1.0f / 65536,
                                                       "1/65536", -32768, false));
    } else {
      return Status::error(ErrorCode::unsupported_type,
                           "Softmax supports int8 -> int8, int8 -> int16 and int16 -> int16");
    }
    if (params.depth > kMaxSoftmaxDepthInt8) {
      return Status::error(ErrorCode::invalid_argument, "Softmax int8 row length ")
          .append(params.depth)
          .append(" exceeds ")
          .append(kMaxSoftmaxDepthInt8)
          .append(" (the int32 sum of exponentials would overflow)");
    }
    // Spec 3.11: M = min(beta * S_in * 2^26, cap), all in double; the cap depends on the mode.
    const double cap = q.rounding == RoundingMode::double_rounding ? 2147483647.0 : 1073741823.0;
    double real_multiplier =
        static_cast<double>(q.beta) * static_cast<double>(q.input.scale) * 67108864.0;
    if (real_multiplier > cap) real_multiplier = cap;
    if (!(real_multiplier > 1.0)) {
      return Status::error(ErrorCode::invalid_argument,
                           "Softmax beta * input scale must exceed 2^-26");
    }
    params.input_multiplier = detail::softmax_input_multiplier(real_multiplier);
    // -CalculateInputRadius(5, shift): the largest |d| whose rescaled value stays above -32.
    params.diff_min = -static_cast<std::int32_t>(
        std::floor(std::ldexp(31.0, 26 - params.input_multiplier.shift)));
    detail::mark_prepared(params);
    return params;
  }
  if (q.input.type != DataType::int16 || q.output.type != DataType::int16) {
    return Status::error(ErrorCode::unsupported_type,
                         "Softmax supports int8 -> int8, int8 -> int16 and int16 -> int16");
  }
  if (q.input.zero_point != 0) {
    return Status::error(ErrorCode::invalid_argument, "int16 Softmax needs input zero point 0");
  }
  TSQ_RETURN_IF_ERROR(
      detail::check_softmax_output(q.output, DataType::int16, 1.0f / 32768, "1/32768", 0, false));
  if (params.depth > kMaxSoftmaxDepthInt16) {
    return Status::error(ErrorCode::invalid_argument, "Softmax int16 row length ")
        .append(params.depth)
        .append(" exceeds ")
        .append(kMaxSoftmaxDepthInt16);
  }
  const double real_multiplier =
      static_cast<double>(q.input.scale) * static_cast<double>(q.beta) / (10.0 / 65535.0);
  const Result<QuantizedMultiplier> multiplier = quantize_multiplier(real_multiplier, q.rounding);
  if (!multiplier.is_ok()) return multiplier.status();
  params.input_multiplier = multiplier.value();
  params.exp_table = Span<const std::int16_t>(kSoftmaxExpTable, kSoftmaxTableSize);
  params.reciprocal_table = Span<const std::int16_t>(kSoftmaxReciprocalTable, kSoftmaxTableSize);
  detail::mark_prepared(params);
  return params;
}

// As above, with the int16 tables recomputed in float into caller storage (kSoftmaxTableSize
// entries each, outliving the params), as TFLite-Micro does at prepare. For int8 input the
// storage is not used.
inline Result<SoftmaxParams> prepare_softmax(const SoftmaxQuantization& q,
                                             Span<std::int16_t> exp_table_storage,
                                             Span<std::int16_t> reciprocal_table_storage) {
  Result<SoftmaxParams> params = prepare_softmax(q);
  if (!params.is_ok() || params->input_type != DataType::int16) return params;
  TSQ_RETURN_IF_ERROR(populate_softmax_int16_tables(exp_table_storage, reciprocal_table_storage));
  params.value().exp_table = Span<const std::int16_t>(exp_table_storage.data(), kSoftmaxTableSize);
  params.value().reciprocal_table =
      Span<const std::int16_t>(reciprocal_table_storage.data(), kSoftmaxTableSize);
  return params;
}

namespace detail {

template <typename Input, typename Output>
Status check_softmax_views(const SoftmaxParams& params, const TensorView<const Input>& input,
                           const TensorView<Output>& output) {
  TSQ_RETURN_IF_ERROR(check_prepared("Softmax", params));
  TSQ_RETURN_IF_ERROR(check_views_usable("Softmax", input, output));
  TSQ_RETURN_IF_ERROR(check_prepared_types("Softmax", params.input_type, params.output_type,
                                           data_type_of_v<Input>, data_type_of_v<Output>));
  if (input.shape() != params.shape) {
    return shape_mismatch_error("Softmax input", input.shape(), params.shape);
  }
  if (output.shape() != params.shape) {
    return shape_mismatch_error("Softmax output", output.shape(), params.shape);
  }
  TSQ_RETURN_IF_ERROR(check_contiguous("Softmax", input, output));
  if (params.input_type == DataType::int16 &&
      (params.exp_table.size() < kSoftmaxTableSize ||
       params.reciprocal_table.size() < kSoftmaxTableSize)) {
    return Status::error(ErrorCode::invalid_argument, "Softmax int16 tables are missing");
  }
  return Status::ok();
}

constexpr int softmax_count_leading_zeros(std::uint32_t value) {
  if (value == 0) return 32;
  int count = 0;
  while ((value & 0x80000000u) == 0) {
    value <<= 1;
    ++count;
  }
  return count;
}

// exp(beta * S_in * difference) in Q0.31 for difference in [diff_min, 0]. The difference is
// rescaled to Q5.26 by a left shift and one doubling high multiply (MBQM for shift > 0, where
// both rounding modes agree); diff_min keeps |difference| * 2^shift below 31 * 2^26 < 2^31.
inline std::int32_t softmax_exp_of_difference(const SoftmaxParams& params,
                                              std::int32_t difference) {
  const auto shifted = static_cast<std::int32_t>(
      static_cast<std::int64_t>(difference) * (std::int64_t{1} << params.input_multiplier.shift));
  const std::int32_t rescaled =
      saturating_rounding_doubling_high_mul(shifted, params.input_multiplier.multiplier);
  return fixed_point::exp_on_negative_values<5>(rescaled);
}

// Where softmax_int8 takes the exponentials of the differences from: computed each time (the
// reference), or read from a table made once (simd::softmax). Both give these same values.
struct SoftmaxComputedExponentials {
  const SoftmaxParams& params;
  // Q0.31, for difference >= diff_min.
  std::int32_t exp(std::int32_t difference) const {
    return softmax_exp_of_difference(params, difference);
  }
  // The Q12.19 term of the sum: 0 below diff_min.
  std::int32_t sum_term(std::int32_t difference) const {
    return difference >= params.diff_min ? fixed_point::rescale<0, 12>(exp(difference)) : 0;
  }
};

template <typename Output, typename Exponentials>
void softmax_int8_rows(const SoftmaxParams& params, const std::int8_t* input, Output* output,
                       const Exponentials& exponentials) {
  constexpr std::int32_t kOutputMin = std::numeric_limits<Output>::min();
  constexpr std::int32_t kOutputMax = std::numeric_limits<Output>::max();
  constexpr int kOutputBits = static_cast<int>(sizeof(Output)) * 8;
  for (std::int32_t row = 0; row < params.rows; ++row) {
    const std::int8_t* x = input + static_cast<std::ptrdiff_t>(row) * params.depth;
    Output* y = output + static_cast<std::ptrdiff_t>(row) * params.depth;
    std::int32_t max_value = -128;
    for (std::int32_t c = 0; c < params.depth; ++c) max_value = x[c] > max_value ? x[c] : max_value;
    // Sum of exponentials in Q12.19 (the maximum alone contributes 2^19).
    std::int32_t sum_of_exps = 0;
    for (std::int32_t c = 0; c < params.depth; ++c) {
      sum_of_exps += exponentials.sum_term(x[c] - max_value);
    }
    // sum = 2^bits_over_unit * (1 + fraction): the reciprocal of (1 + fraction) in Q0.31.
    const int headroom = softmax_count_leading_zeros(static_cast<std::uint32_t>(sum_of_exps));
    const int bits_over_unit = 12 - headroom;
    const auto fraction = static_cast<std::int32_t>(
        (static_cast<std::uint32_t>(sum_of_exps) << headroom) - 0x80000000u);
    const std::int32_t reciprocal = fixed_point::one_over_one_plus_x_for_x_in_0_1(fraction);
    const int exponent = bits_over_unit + 31 - kOutputBits;  // >= 0: the sum is >= 1
    for (std::int32_t c = 0; c < params.depth; ++c) {
      const std::int32_t difference = x[c] - max_value;
      std::int32_t value = kOutputMin;
      // exponent > 31 (int8 output, sum >= 512): every probability rounds to 0.
      if (difference >= params.diff_min && exponent <= 31) {
        value = rounding_divide_by_power_of_two(
                    saturating_rounding_doubling_high_mul(reciprocal, exponentials.exp(difference)),
                    exponent) +
                kOutputMin;
        value = value > kOutputMax ? kOutputMax : value;
      }
      y[c] = static_cast<Output>(value);
    }
  }
}

template <typename Output>
void softmax_int8(const SoftmaxParams& params, const std::int8_t* input, Output* output) {
  softmax_int8_rows(params, input, output, SoftmaxComputedExponentials{params});
}

// TFLite's LUTLookup for int16: the top 9 bits of (value + 32768) select a segment, the low 7
// bits interpolate linearly (rounded) between its end points.
inline std::int16_t softmax_table_lookup(std::int16_t value, const std::int16_t* table) {
  const auto index = static_cast<std::size_t>(256 + (value >> 7));
  const std::int32_t offset = value & 0x7F;
  const std::int32_t base = table[index];
  const std::int32_t slope = table[index + 1] - base;
  return static_cast<std::int16_t>(base + ((slope * offset + 64) >> 7));
}

template <RoundingMode Mode>
void softmax_int16(const SoftmaxParams& params, const std::int16_t* input, std::int16_t* output) {
  const std::int16_t* exp_table = params.exp_table.data();
  const std::int16_t* reciprocal_table = params.reciprocal_table.data();
  for (std::int32_t row = 0; row < params.rows; ++row) {
    const std::int16_t* x = input + static_cast<std::ptrdiff_t>(row) * params.depth;
    std::int16_t* y = output + static_cast<std::ptrdiff_t>(row) * params.depth;
    std::int32_t max_value = -32768;
    for (std::int32_t c = 0; c < params.depth; ++c) max_value = x[c] > max_value ? x[c] : max_value;
    // The exponentials (Q0.15) are cached in the output row; reading x[c] before writing y[c]
    // keeps this correct when the output aliases the input.
    std::int32_t sum_of_exps = 0;
    for (std::int32_t c = 0; c < params.depth; ++c) {
      const std::int32_t scaled_difference =
          multiply_by_quantized_multiplier<Mode>(x[c] - max_value, params.input_multiplier);
      // [-65535, 0] -> [-32768, 32767], the table's input range.
      const std::int16_t table_input = saturate_to_int16(
          static_cast<std::int32_t>(static_cast<std::int64_t>(scaled_difference) + 32767));
      y[c] = softmax_table_lookup(table_input, exp_table);
      sum_of_exps += y[c];
    }
    // sum * 2^(headroom - 1) lies in [2^30, 2^31): 1 + x with x in [0, 1) at 16 fraction bits,
    // recentred on the table's input range.
    const int headroom = softmax_count_leading_zeros(static_cast<std::uint32_t>(sum_of_exps));
    const auto shifted_sum = static_cast<std::int32_t>(
        ((static_cast<std::int64_t>(sum_of_exps) << (headroom - 1)) + (1 << 13)) >> 14);
    const std::int16_t reciprocal = softmax_table_lookup(
        saturate_to_int16(shifted_sum - (1 << 15) - (1 << 16)), reciprocal_table);
    const int right_shift = 31 - headroom;
    const std::int64_t round = std::int64_t{1} << (right_shift - 1);
    for (std::int32_t c = 0; c < params.depth; ++c) {
      const auto value = static_cast<std::int32_t>(
          (static_cast<std::int64_t>(y[c]) * reciprocal + round) >> right_shift);
      y[c] = static_cast<std::int16_t>(value < 0 ? 0 : (value > 32767 ? 32767 : value));
    }
  }
}

}  // namespace detail

namespace reference {

// int8 -> int8, output (1/256, -128).
inline Status softmax(const SoftmaxParams& params, TensorView<const std::int8_t> input,
                      TensorView<std::int8_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_softmax_views(params, input, output));
  tsq::detail::softmax_int8(params, input.data(), output.data());
  return Status::ok();
}

// int8 -> int16, output (1/65536, -32768).
inline Status softmax(const SoftmaxParams& params, TensorView<const std::int8_t> input,
                      TensorView<std::int16_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_softmax_views(params, input, output));
  tsq::detail::softmax_int8(params, input.data(), output.data());
  return Status::ok();
}

// int16 -> int16, output (1/32768, 0). The output may alias the input.
inline Status softmax(const SoftmaxParams& params, TensorView<const std::int16_t> input,
                      TensorView<std::int16_t> output) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_softmax_views(params, input, output));
  if (params.rounding == RoundingMode::double_rounding) {
    tsq::detail::softmax_int16<RoundingMode::double_rounding>(params, input.data(), output.data());
  } else {
    tsq::detail::softmax_int16<RoundingMode::single_rounding>(params, input.data(), output.data());
  }
  return Status::ok();
}

}  // namespace reference
}  // namespace tsq
