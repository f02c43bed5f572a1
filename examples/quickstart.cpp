// SPDX-License-Identifier: Apache-2.0
// tsq quick start: quantize a float tensor and a tiny FullyConnected layer, run the layer with
// integers only, and compare it with its float twin.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

namespace {
int fail(const tsq::Status& status) {
  std::fprintf(stderr, "error (%s): %s\n", tsq::error_code_name(status.code()), status.message());
  return 1;
}
}  // namespace

int main() {
  // 1. A float tensor: one window of 8 accelerometer samples (in g).
  const std::vector<float> window = {0.02f, -0.41f, 0.97f, 1.35f, -1.12f, 0.33f, 0.0f, 0.58f};
  float lo = window[0], hi = window[0];
  for (float v : window) lo = std::fmin(lo, v), hi = std::fmax(hi, v);
  const auto input_params = tsq::choose_quant_params(lo, hi);  // int8, asymmetric
  if (!input_params.is_ok()) return fail(input_params.status());
  const tsq::QuantParams in = input_params.value();
  std::vector<std::int8_t> window_q(window.size());
  if (auto status = tsq::quantize<std::int8_t>(window, window_q, in); !status) return fail(status);

  std::printf("input range [%.3f, %.3f] -> int8 scale S = %.6f, zero point Z = %d\n", lo, hi,
              in.scale, in.zero_point);
  std::printf("%10s %6s %10s %10s\n", "real", "q", "S*(q-Z)", "error");
  float worst = 0.0f;
  for (std::size_t i = 0; i < window.size(); ++i) {
    const float back = tsq::dequantize(window_q[i], in);
    worst = std::fmax(worst, std::fabs(back - window[i]));
    std::printf("%10.4f %6d %10.4f %10.5f\n", window[i], window_q[i], back, back - window[i]);
  }
  std::printf("max |error| = %.5f <= S/2 = %.5f\n\n", worst, in.scale / 2);

  // 2. A tiny FullyConnected layer 8 -> 3 with per-channel int8 weights and int32 bias.
  const std::vector<float> weights = {0.5f,  -0.2f, 0.1f,  0.0f,  0.3f,  -0.7f, 0.25f, 0.05f,
                                      -0.1f, 0.4f,  0.6f,  -0.3f, 0.2f,  0.1f,  -0.5f, 0.35f,
                                      0.05f, 0.05f, -0.2f, 0.9f,  -0.4f, 0.15f, 0.3f,  -0.6f};
  const std::vector<float> bias = {0.1f, -0.05f, 0.2f};
  const std::int32_t weight_dims[] = {3, 8};
  std::vector<std::int8_t> weights_q(weights.size());
  std::vector<float> weight_scales(3);
  if (auto status =
          tsq::quantize_per_channel<std::int8_t>(weights, weight_dims, 0, weights_q, weight_scales);
      !status) {
    return fail(status);
  }
  std::vector<std::int32_t> bias_q(3);
  if (auto status = tsq::quantize_bias(bias, in.scale, weight_scales, bias_q); !status)
    return fail(status);

  // Float reference on the same input.
  std::vector<float> reference(3);
  const tsq::TensorView<const float> w_view(weights.data(), tsq::Shape{3, 8});
  if (auto status = tsq::floating::fully_connected(
          tsq::FusedActivation::none, tsq::TensorView<const float>(window.data(), tsq::Shape{1, 8}),
          w_view, bias, tsq::TensorView<float>(reference.data(), tsq::Shape{1, 3}));
      !status) {
    return fail(status);
  }
  float out_lo = 0.0f, out_hi = 0.0f;
  for (float v : reference) out_lo = std::fmin(out_lo, v), out_hi = std::fmax(out_hi, v);
  const tsq::QuantParams out = tsq::choose_quant_params(out_lo, out_hi).value();

  // Prepare once (float math: multipliers), then run with integers only.
  std::vector<tsq::QuantizedMultiplier> multipliers(3);
  const tsq::FullyConnectedQuantization layer{tsq::Shape{1, 8}, in, tsq::Shape{3, 8}, weight_scales,
                                              out};
  const auto params = tsq::prepare_fully_connected(layer, multipliers);
  if (!params.is_ok()) return fail(params.status());
  std::vector<std::int8_t> result_q(3);
  if (auto status = tsq::reference::fully_connected(
          params.value(), tsq::TensorView<const std::int8_t>(window_q.data(), tsq::Shape{1, 8}),
          tsq::TensorView<const std::int8_t>(weights_q.data(), tsq::Shape{3, 8}), bias_q,
          tsq::TensorView<std::int8_t>(result_q.data(), tsq::Shape{1, 3}));
      !status) {
    return fail(status);
  }
  std::printf("FullyConnected 8 -> 3, output S = %.6f, Z = %d (%s)\n", out.scale, out.zero_point,
              tsq::rounding_mode_name(layer.rounding));
  std::printf("%5s %14s %16s %7s %11s %10s %8s\n", "unit", "weight scale", "multiplier", "shift",
              "float", "int8", "error");
  for (std::size_t u = 0; u < 3; ++u) {
    const float got = tsq::dequantize(result_q[u], out);
    std::printf("%5zu %14.7f %16ld %7d %11.5f %4d=%-5.3f %8.5f\n", u, weight_scales[u],
                static_cast<long>(multipliers[u].multiplier), multipliers[u].shift, reference[u],
                result_q[u], got, got - reference[u]);
  }
  return 0;
}
