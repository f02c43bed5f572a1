// SPDX-License-Identifier: Apache-2.0
// tsq quick start: compose a small activity-recognition model, calibrate and quantize it to full
// integer, compare it with its float twin layer by layer, and run it with integers only.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "tsq/debug/debugger.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/pooling.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"
#include "tsq/ptq/quantize_model.hpp"

namespace {
int fail(const tsq::Status& status) {
  std::fprintf(stderr, "error (%s): %s\n", tsq::error_code_name(status.code()), status.message());
  return 1;
}
// Made-up weights in Keras layout; a real model reads them with model.load_weights("x.npz").
std::vector<float> pattern(std::size_t count, float scale) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i)
    values[i] = scale * std::sin(0.7f * static_cast<float>(i));
  return values;
}
}  // namespace

int main() {
  namespace nn = tsq::nn;
  // 1. Compose: windows of 32 samples x 3 accelerometer axes, [1, T, C] inside the model.
  nn::Model model;
  model.input("imu", tsq::Shape{32, 3});
  model.add(nn::Conv1D("conv", 8, 5).relu());
  model.add(nn::MaxPool1D("pool", 2));
  model.add(nn::Flatten("flatten"));
  model.add(nn::Dense("dense", 3));
  model.add(nn::Softmax("softmax"));
  if (tsq::Status s = model.build(); !s) return fail(s);
  if (tsq::Status s =
          model.find<nn::Conv1D>("conv")->set_weights(pattern(5 * 3 * 8, 0.3f), pattern(8, 0.1f));
      !s)
    return fail(s);
  if (tsq::Status s =
          model.find<nn::Dense>("dense")->set_weights(pattern(112 * 3, 0.2f), pattern(3, 0.0f));
      !s)
    return fail(s);

  // 2. Representative windows (the study used 100-300): here 200 synthetic gait-like signals.
  std::vector<float> windows;
  for (int w = 0; w < 200; ++w) {
    for (int t = 0; t < 32; ++t) {
      for (int axis = 0; axis < 3; ++axis) {
        windows.push_back(std::sin(0.2f * static_cast<float>(t * (1 + w % 3) + axis + w)) *
                          (0.5f + 0.01f * static_cast<float>(w % 50)));
      }
    }
  }

  // 3. Calibrate and quantize: int8 weights and activations, int8 input and output.
  auto quantized = tsq::quantize(model, windows, tsq::Scheme::fiq_int8());
  if (!quantized.is_ok()) return fail(quantized.status());

  // 4. Debug: every layer against its float twin.
  auto report = tsq::debug::debug_model(quantized.value(), windows);
  if (!report.is_ok()) return fail(report.status());
  tsq::debug::print_debug_report(stdout, report.value());

  // 5. Run integer-only in a caller-provided arena: no heap, no float inside.
  std::vector<std::byte> arena(quantized->arena_bytes());
  std::vector<std::int8_t> window(32 * 3), scores(3);
  const tsq::QuantParams input = quantized->input_quantization().params;
  if (tsq::Status s = tsq::quantize<std::int8_t>(
          tsq::Span<const float>(windows.data(), window.size()), window, input);
      !s)
    return fail(s);
  if (tsq::Status s = quantized->run(tsq::Span<const std::int8_t>(window),
                                     tsq::Span<std::int8_t>(scores), arena);
      !s)
    return fail(s);
  const tsq::QuantParams output = quantized->output_quantization().params;
  std::printf("arena %zu bytes; class probabilities %.3f %.3f %.3f\n", arena.size(),
              static_cast<double>(tsq::dequantize(scores[0], output)),
              static_cast<double>(tsq::dequantize(scores[1], output)),
              static_cast<double>(tsq::dequantize(scores[2], output)));
  return 0;
}
