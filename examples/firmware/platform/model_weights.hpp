// SPDX-License-Identifier: Apache-2.0
// Where a generated model's weight and bias arrays go on the target: a section of their own,
// .rodata.tsq_weights, which the linker scripts gather into the output section .tsq_weights,
// so that the footprint report tells weights from code and from the other constants.
//
// A generated header marks each array and falls back to no attribute when compiled elsewhere
// (the host build that computes the expected outputs):
//
//   #ifndef TSQ_MODEL_WEIGHTS
//   #define TSQ_MODEL_WEIGHTS
//   #endif
//   alignas(4) TSQ_MODEL_WEIGHTS inline constexpr std::int8_t kDense1Weights[] = {...};
//
// The attribute goes after alignas (clang refuses it before).
#pragma once

#define TSQ_MODEL_WEIGHTS __attribute__((section(".rodata.tsq_weights")))
