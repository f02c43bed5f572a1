// SPDX-License-Identifier: Apache-2.0
// tiny_fc: the smallest model the firmware check runs, written by hand in the form of a
// generated model header (the interface examples/firmware/model_check.cpp expects). A window of
// 16 steps x 3 axes (int8, zero point -5) goes through Dense(16, relu) and Dense(4): per-unit
// multipliers in the first layer, one for the whole second layer. Weights, biases and
// multipliers are fixed literals, the kernel params are built at compile time, and run() is
// integer-only: no heap, no float, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

// Places the weight arrays in their own section on the target (examples/firmware/platform/
// model_weights.hpp); nothing elsewhere.
#ifndef TSQ_MODEL_WEIGHTS
#define TSQ_MODEL_WEIGHTS
#endif

namespace tiny_fc {

inline constexpr std::size_t kInputSize = 16 * 3;
inline constexpr std::size_t kOutputSize = 4;
inline constexpr std::size_t kArenaBytes = 16;  // the hidden layer's 16 activations
using Input = std::int8_t;
using Output = std::int8_t;

namespace detail {

inline constexpr std::int32_t kInputDepth = 48;
inline constexpr std::int32_t kHiddenUnits = 16;
inline constexpr std::int32_t kClasses = 4;

// Dense 1: [16 units, 48 inputs], per-unit scales.
alignas(4) TSQ_MODEL_WEIGHTS inline constexpr std::int8_t kDense1Weights[16 * 48] = {
    -6,   -88,  30,   -79,  -53,  20,   -101, -101, -29,  -83,  71,   109,  49,   9,    -28,  110,
    -93,  -64,  -73,  -52,  31,   22,   -18,  -125, 4,    56,   -18,  33,   50,   19,   -126, 94,
    123,  42,   -106, 71,   119,  -116, -24,  122,  6,    -74,  91,   52,   -93,  -115, -38,  -104,
    50,   72,   -12,  8,    118,  -38,  34,   124,  97,   -53,  -35,  10,   88,   16,   111,  -80,
    53,   66,   -65,  -112, 19,   71,   85,   -104, -85,  93,   -118, -36,  81,   14,   125,  15,
    105,  -10,  -61,  104,  65,   108,  -119, -26,  -63,  127,  -12,  -91,  -25,  -62,  -94,  90,
    -40,  102,  -30,  28,   -89,  -91,  63,   -9,   -123, 97,   -38,  21,   120,  33,   20,   -23,
    -32,  45,   65,   29,   75,   122,  48,   -60,  -1,   -63,  80,   -126, 31,   -54,  -45,  -78,
    -28,  -24,  -9,   60,   71,   29,   -19,  27,   -105, -39,  -5,   79,   94,   -10,  -46,  56,
    122,  45,   61,   -109, -15,  -53,  24,   -106, -62,  -43,  55,   107,  -48,  -25,  -82,  -123,
    34,   118,  33,   120,  -108, 69,   -108, 2,    -80,  59,   76,   51,   86,   -39,  -41,  -118,
    107,  -108, 48,   -14,  24,   64,   -83,  87,   -1,   -31,  29,   -21,  80,   114,  70,   30,
    43,   -101, -82,  27,   -71,  80,   -46,  -90,  -24,  -39,  88,   -89,  -62,  51,   -84,  101,
    -82,  -41,  61,   -96,  -77,  -36,  -63,  -125, 116,  -29,  35,   66,   7,    -28,  30,   -59,
    -30,  -69,  23,   36,   112,  -116, 52,   -3,   -89,  -34,  -46,  -52,  9,    -119, 73,   -46,
    11,   -52,  -73,  60,   -65,  -71,  -103, -117, 47,   53,   18,   -13,  102,  -50,  35,   62,
    -12,  -103, 6,    -44,  -3,   95,   -75,  -6,   28,   83,   28,   127,  -89,  -6,   19,   -48,
    25,   -93,  23,   37,   -55,  13,   -31,  -32,  -120, -112, 100,  56,   105,  -34,  -83,  -56,
    -35,  82,   -53,  -92,  -79,  -46,  52,   -118, 71,   -97,  -58,  92,   -101, 66,   -41,  92,
    55,   -26,  -120, 113,  -28,  -82,  52,   110,  32,   -123, -69,  10,   -100, -34,  -127, -98,
    100,  -30,  -26,  75,   101,  -123, 5,    24,   114,  1,    -121, -72,  -10,  -67,  -47,  -15,
    20,   -1,   94,   -8,   53,   -118, 26,   30,   105,  3,    102,  27,   16,   54,   81,   -10,
    27,   29,   0,    -67,  5,    52,   99,   11,   -78,  -105, 69,   -94,  85,   -36,  -89,  -126,
    38,   49,   26,   72,   -23,  44,   2,    84,   32,   -42,  100,  -36,  -22,  -23,  58,   5,
    98,   53,   -16,  39,   -123, 59,   117,  68,   -24,  -40,  -109, -21,  93,   49,   108,  1,
    51,   -100, -24,  47,   -69,  -67,  75,   112,  74,   -92,  -39,  -8,   86,   -108, -58,  121,
    99,   -70,  -69,  116,  98,   -114, -46,  34,   -60,  -100, -84,  28,   67,   104,  34,   92,
    -50,  60,   -94,  -74,  113,  -2,   -62,  77,   -66,  -15,  -102, 87,   14,   113,  -25,  -2,
    -107, 20,   12,   -51,  44,   -65,  -10,  126,  61,   18,   124,  -6,   70,   74,   -79,  -3,
    80,   -22,  -54,  -95,  93,   -46,  24,   -58,  24,   -100, 39,   28,   -42,  -39,  -127, -70,
    59,   10,   63,   18,   123,  123,  -48,  48,   -99,  72,   24,   -120, -79,  -68,  112,  -57,
    -27,  -39,  19,   -16,  94,   -78,  -12,  45,   70,   -33,  42,   40,   -126, -68,  96,   -46,
    99,   -66,  -35,  -29,  113,  -115, -72,  9,    -15,  -89,  65,   -126, -36,  60,   37,   -99,
    -127, -103, 88,   97,   95,   -74,  -32,  83,   -126, -46,  125,  -105, 107,  41,   61,   -28,
    105,  45,   -107, 26,   -62,  88,   -16,  86,   -102, 114,  102,  -30,  40,   -24,  124,  90,
    99,   -106, -93,  -20,  84,   -110, 88,   -123, -53,  -25,  -94,  -65,  127,  74,   61,   12,
    -11,  -78,  71,   -49,  38,   -32,  -86,  -27,  65,   76,   31,   -33,  7,    -7,   19,   -38,
    27,   -104, -88,  70,   -61,  20,   -60,  -118, -12,  109,  72,   52,   -79,  103,  -13,  96,
    118,  2,    -2,   83,   -24,  64,   2,    -7,   -36,  50,   -77,  104,  -12,  -61,  -18,  -17,
    -1,   -61,  70,   96,   54,   41,   -14,  -90,  -102, -111, -51,  71,   -126, 98,   89,   -11,
    47,   -81,  -16,  -73,  92,   -76,  -1,   -43,  -84,  -5,   -110, -81,  -11,  -73,  -126, 109,
    53,   -106, 12,   -25,  -54,  -40,  -93,  25,   33,   -42,  -74,  -124, 0,    -70,  -37,  88,
    -88,  40,   -127, -62,  -30,  14,   -105, -72,  -63,  94,   89,   26,   -98,  -32,  -82,  33,
    47,   110,  -77,  -61,  -90,  67,   -127, 32,   64,   34,   55,   48,   68,   -120, -52,  -105,
    56,   -73,  -67,  126,  102,  67,   -88,  -37,  113,  -20,  85,   -47,  15,   -24,  -68,  83,
    -88,  4,    28,   -103, 121,  -83,  32,   116,  117,  -76,  -78,  80,   115,  -125, -19,  53,
    4,    -127, -32,  45,   98,   -32,  -2,   -11,  -25,  -111, -7,   -75,  114,  -109, -28,  73,
    41,   -21,  91,   -55,  5,    110,  5,    -55,  -114, 38,   -80,  -90,  65,   -3,   109,  -70,
};
alignas(4) TSQ_MODEL_WEIGHTS inline constexpr std::int32_t kDense1Bias[kHiddenUnits] = {
    -262,  -1314, 560,  -677,  -1852, 877,   -246, -374,
    -1270, -1145, -325, -1323, -1550, -1796, -385, -299,
};
inline constexpr tsq::QuantizedMultiplier kDense1Multipliers[kHiddenUnits] = {
    {1264438372, -7}, {1979120930, -8}, {1649267442, -8}, {1319413953, -7},
    {1759218604, -8}, {1319413953, -7}, {1869169767, -8}, {1869169767, -8},
    {1099511628, -7}, {1979120930, -8}, {1209462791, -7}, {1209462791, -7},
    {1759218604, -8}, {1979120930, -8}, {1154487209, -7}, {1154487209, -7},
};

// Dense 2: [4 units, 16 inputs], one scale.
alignas(4) TSQ_MODEL_WEIGHTS inline constexpr std::int8_t kDense2Weights[4 * 16] = {
    -46, -85, -93,  27,   91,   -112, -53, 81,  -83,  -96, -19,  -75,  123, -19, 122, -126,
    101, -57, -11,  -25,  120,  116,  -65, -80, -110, 98,  -62,  -104, -76, 69,  -42, 106,
    23,  -93, -108, -117, 5,    -54,  115, -19, -57,  48,  -124, 65,   51,  51,  115, -70,
    -81, -80, -49,  -60,  -102, -4,   -74, 23,  -111, 47,  72,   -32,  119, 69,  54,  -119,
};
alignas(4) TSQ_MODEL_WEIGHTS inline constexpr std::int32_t kDense2Bias[kClasses] = {
    -65,
    -413,
    182,
    375,
};
inline constexpr tsq::QuantizedMultiplier kDense2Multipliers[1] = {
    {1154487209, -7},
};

// The params prepare_fully_connected would compute, fixed at compile time: a firmware image
// carries no float scales and runs no prepare.
constexpr tsq::FullyConnectedParams dense1_params() {
  tsq::FullyConnectedParams params;
  params.input_depth = kInputDepth;
  params.units = kHiddenUnits;
  params.input_zero_point = -5;
  params.output_zero_point = -128;
  params.multipliers = tsq::Span<const tsq::QuantizedMultiplier>(kDense1Multipliers);
  params.activation = {-128, 127};  // ReLU clamps at the output zero point, -128
  params.rounding = tsq::RoundingMode::double_rounding;
  tsq::detail::mark_prepared(params);
  return params;
}

constexpr tsq::FullyConnectedParams dense2_params() {
  tsq::FullyConnectedParams params;
  params.input_depth = kHiddenUnits;
  params.units = kClasses;
  params.input_zero_point = -128;
  params.output_zero_point = 3;
  params.multipliers = tsq::Span<const tsq::QuantizedMultiplier>(kDense2Multipliers);
  params.activation = {-128, 127};
  params.rounding = tsq::RoundingMode::double_rounding;
  tsq::detail::mark_prepared(params);
  return params;
}

inline constexpr tsq::FullyConnectedParams kDense1 = dense1_params();
inline constexpr tsq::FullyConnectedParams kDense2 = dense2_params();

}  // namespace detail

// One inference: `input` holds kInputSize values, `output` receives kOutputSize class scores,
// `arena` is kArenaBytes of scratch, 16-byte aligned, for the hidden activations.
inline tsq::Status run(const Input* input, Output* output, unsigned char* arena) {
  using tsq::Shape;
  using ConstView = tsq::TensorView<const std::int8_t>;
  using View = tsq::TensorView<std::int8_t>;
  auto* const hidden = reinterpret_cast<std::int8_t*>(arena);
  TSQ_RETURN_IF_ERROR(tsq::reference::fully_connected(
      detail::kDense1, ConstView(input, Shape{1, detail::kInputDepth}),
      ConstView(detail::kDense1Weights, Shape{detail::kHiddenUnits, detail::kInputDepth}),
      tsq::Span<const std::int32_t>(detail::kDense1Bias),
      View(hidden, Shape{1, detail::kHiddenUnits})));
  return tsq::reference::fully_connected(
      detail::kDense2, ConstView(hidden, Shape{1, detail::kHiddenUnits}),
      ConstView(detail::kDense2Weights, Shape{detail::kClasses, detail::kHiddenUnits}),
      tsq::Span<const std::int32_t>(detail::kDense2Bias), View(output, Shape{1, detail::kClasses}));
}

}  // namespace tiny_fc
