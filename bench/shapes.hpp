// SPDX-License-Identifier: Apache-2.0
// The shapes of DESIGN.md ("Shapes that matter") that several benchmark files time with their own
// flavours (reference, float, hybrid, int8_simd in the op's file; eigen in eigen_bench.cpp): one
// table, so that rows of the same shape always measure the same layer.
#pragma once

#include <cstdint>
#include <string>

#include "tsq/tensor/shape.hpp"

namespace tsq_bench {

struct FullyConnectedShape {
  std::string name;
  std::int32_t batches;
  std::int32_t input_depth;
  std::int32_t units;
};

// A GEMV, an LSTM's input projection over 112 steps, and the memory-bound 62336 -> 128 layer.
inline const FullyConnectedShape kFullyConnectedShapes[] = {
    {"fc_gemv", 1, 384, 512},
    {"fc_time", 112, 384, 512},
    {"fc_big", 1, 62336, 128},
};

// Conv2D, all VALID, stride 1, no fused activation (the DESIGN table gives VALID for conv_deep;
// conv_first is the same model's first layer; conv_ecg's padding is not given, VALID assumed).
struct ConvShape {
  std::string name;
  tsq::Shape input;   // [N, H, W, C_in]
  tsq::Shape filter;  // [C_out, KH, KW, C_in]
};

inline const ConvShape kConvShapes[] = {
    {"conv_deep", {1, 128, 6, 64}, {64, 5, 1, 64}},
    {"conv_first", {1, 128, 6, 1}, {64, 5, 1, 1}},
    {"conv_ecg", {1, 12, 996, 32}, {32, 1, 5, 32}},
};

struct LstmShape {
  std::string name;
  std::int32_t input_size;
  std::int32_t hidden_size;
  std::int32_t steps;
};

inline const LstmShape kLstmShapes[] = {
    {"lstm_deep", 384, 128, 112},
    {"lstm_small", 64, 16, 250},
};

}  // namespace tsq_bench
