// SPDX-License-Identifier: Apache-2.0
// AvgPool2D: the spec's rounding example, hand-computed border windows (padding taps skipped),
// activations, int16, the accumulator limits, strided views, integer vs float on random layers
// and every validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/avg_pool2d.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::FusedActivation;
using tsq::Padding;
using tsq::Pool2DWindow;
using tsq::QuantParams;
using tsq::Shape;
using tsq::TensorView;

namespace {

template <typename T>
std::vector<T> run_avg_pool(const tsq::AvgPool2DParams& params, const std::vector<T>& input) {
  std::vector<T> output(nhwc_shape(params.geometry.output).element_count());
  const tsq::Status status = tsq::reference::avg_pool2d(
      params, TensorView<const T>(input.data(), nhwc_shape(params.geometry.input)),
      TensorView<T>(output.data(), nhwc_shape(params.geometry.output)));
  REQUIRE(status.is_ok());
  return output;
}

template <typename T>
std::vector<T> avg_pool(const Shape& shape, const QuantParams& params, const Pool2DWindow& window,
                        const std::vector<T>& input,
                        FusedActivation activation = FusedActivation::none) {
  const auto prepared = tsq::prepare_avg_pool2d({shape, params, params, window, activation});
  REQUIRE(prepared.is_ok());
  return run_avg_pool(prepared.value(), input);
}

}  // namespace

TEST_CASE("AvgPool2D int8: rounding half away from zero on stored values",
          "[kernels][avg_pool2d]") {
  const QuantParams params = tsq::make_quant_params(0.25f, 0, DataType::int8);
  const Pool2DWindow window{2, 2, 2, 2};
  // Spec 3.6: {-3, -2, -2, -3}: sum -10, n 4 -> (-10 - 2) / 4 = -3 (-2.5 away from zero).
  CHECK(avg_pool<std::int8_t>(Shape{1, 2, 2, 1}, params, window, {-3, -2, -2, -3}) ==
        std::vector<std::int8_t>{-3});
  // {3, 2, 2, 3}: (10 + 2) / 4 = 3; {1, 1, 1, 2}: (5 + 2) / 4 = 1 (1.25); {-1,-1,-1,-2} -> -1.
  CHECK(avg_pool<std::int8_t>(Shape{1, 2, 2, 1}, params, window, {3, 2, 2, 3}) ==
        std::vector<std::int8_t>{3});
  CHECK(avg_pool<std::int8_t>(Shape{1, 2, 2, 1}, params, window, {1, 1, 1, 2}) ==
        std::vector<std::int8_t>{1});
  CHECK(avg_pool<std::int8_t>(Shape{1, 2, 2, 1}, params, window, {-1, -1, -1, -2}) ==
        std::vector<std::int8_t>{-1});
  // The tie is broken on raw values, whatever Z is: {0, 1} with Z = 1 -> (1 + 1) / 2 = 1, although
  // the real mean -0.5 * S rounded half away from zero in the real domain would be raw 0.
  const QuantParams shifted = tsq::make_quant_params(0.25f, 1, DataType::int8);
  CHECK(avg_pool<std::int8_t>(Shape{1, 1, 2, 1}, shifted, Pool2DWindow{1, 2, 1, 1}, {0, 1}) ==
        std::vector<std::int8_t>{1});
  // A zero sum stays 0: (0 - 2) / 4 = 0.
  CHECK(avg_pool<std::int8_t>(Shape{1, 2, 2, 1}, params, window, {-5, 5, 7, -7}) ==
        std::vector<std::int8_t>{0});
}

TEST_CASE("AvgPool2D int8: border windows average only the taps inside the image",
          "[kernels][avg_pool2d]") {
  // 3x3, two channels: channel 0 = 1..9, channel 1 = -1..-9.
  //   1 2 3
  //   4 5 6
  //   7 8 9
  std::vector<std::int8_t> input(18);
  for (int i = 0; i < 9; ++i) {
    input[static_cast<std::size_t>(2 * i)] = static_cast<std::int8_t>(i + 1);
    input[static_cast<std::size_t>(2 * i + 1)] = static_cast<std::int8_t>(-(i + 1));
  }
  const QuantParams params = tsq::make_quant_params(0.1f, 0, DataType::int8);

  // SAME 2x2 stride 2: out 2x2, total padding 1 per axis, all of it bottom/right.
  //   (0,0) {1,2,4,5} 12/4 = 3   (0,1) {3,6} 9/2 = 4.5 -> 5   (1,0) {7,8} 7.5 -> 8   (1,1) {9} 9
  // and the negated channel: (-12 - 2)/4 = -3, (-9 - 1)/2 = -5, (-15 - 1)/2 = -8, -9.
  CHECK(avg_pool<std::int8_t>(Shape{1, 3, 3, 2}, params, Pool2DWindow{2, 2, 2, 2, Padding::same},
                              input) == std::vector<std::int8_t>{3, -3, 5, -5, 8, -8, 9, -9});

  // SAME 3x3 stride 1: pad 1 on every side; windows of 4 (corners), 6 (edges) and 9 taps:
  //   (0,0) 12/4 = 3     (0,1) 21/6 = 3.5 -> 4   (0,2) 16/4 = 4
  //   (1,0) 27/6 -> 5    (1,1) 45/9 = 5          (1,2) 33/6 = 5.5 -> 6
  //   (2,0) 24/4 = 6     (2,1) 39/6 = 6.5 -> 7   (2,2) 28/4 = 7
  // (Averaging padding taps as zeros would have given 12/9 -> 1 in the corner.)
  const auto same3 = avg_pool<std::int8_t>(Shape{1, 3, 3, 2}, params,
                                           Pool2DWindow{3, 3, 1, 1, Padding::same}, input);
  std::vector<std::int8_t> channel0, channel1;
  for (std::size_t i = 0; i < same3.size(); i += 2) {
    channel0.push_back(same3[i]);
    channel1.push_back(same3[i + 1]);
  }
  CHECK(channel0 == std::vector<std::int8_t>{3, 4, 4, 5, 5, 6, 6, 7, 7});
  CHECK(channel1 == std::vector<std::int8_t>{-3, -4, -4, -5, -5, -6, -6, -7, -7});

  // VALID 3x1 stride 1x2 (non-square, uneven strides): out 1x2, columns 0 and 2:
  // {1,4,7} 12/3 = 4 and {3,6,9} 18/3 = 6.
  CHECK(avg_pool<std::int8_t>(Shape{1, 3, 3, 2}, params, Pool2DWindow{3, 1, 1, 2}, input) ==
        std::vector<std::int8_t>{4, -4, 6, -6});
}

TEST_CASE("AvgPool2D: fused activations clamp after the average", "[kernels][avg_pool2d]") {
  // S = 0.5, Z = 2: ReLU clamps below at 2, ReLU6 above at 2 + round(6 / 0.5) = 14.
  // Windows (1x2): {-10, -6} -> -8 -> 2;  {20, 30} -> 25 -> 14 with ReLU6;  {3, 4} -> 3.5 -> 4.
  const QuantParams params = tsq::make_quant_params(0.5f, 2, DataType::int8);
  const std::vector<std::int8_t> input = {-10, -6, 20, 30, 3, 4};
  const Shape shape{1, 1, 6, 1};
  const Pool2DWindow window{1, 2, 1, 2};
  CHECK(avg_pool(shape, params, window, input) == std::vector<std::int8_t>{-8, 25, 4});
  CHECK(avg_pool(shape, params, window, input, FusedActivation::relu) ==
        std::vector<std::int8_t>{2, 25, 4});
  CHECK(avg_pool(shape, params, window, input, FusedActivation::relu6) ==
        std::vector<std::int8_t>{2, 14, 4});
}

TEST_CASE("AvgPool2D int16: extremes and ties", "[kernels][avg_pool2d]") {
  const QuantParams params = tsq::make_quant_params(1e-4f, 0, DataType::int16);
  const Pool2DWindow pair{1, 2, 1, 2};
  // {32767, 32766}: (65533 + 1) / 2 = 32767;  {-32768, -32767}: (-65535 - 1) / 2 = -32768;
  // {-32768, 32767}: -1 -> (-1 - 1) / 2 = -1 (-0.5 away from zero); {100, -301}: -201 ->
  // (-201 - 1) / 2 = -101.
  CHECK(avg_pool<std::int16_t>(Shape{1, 1, 8, 1}, params, pair,
                               {32767, 32766, -32768, -32767, -32768, 32767, 100, -301}) ==
        std::vector<std::int16_t>{32767, -32768, -1, -101});
}

TEST_CASE("AvgPool2D: the largest windows the int32 accumulator allows", "[kernels][avg_pool2d]") {
  // int16: 255 x 257 = 65535 taps. All -32768: sum -2147450880, minus 32767 = -2^31 + 1,
  // / 65535 = -32768.49... -> -32768. All 32767: (2147385345 + 32767) / 65535 = 32767.5 -> 32767.
  {
    const Shape shape{1, 255, 257, 1};
    const QuantParams params = tsq::make_quant_params(1e-3f, 0, DataType::int16);
    const Pool2DWindow window{255, 257, 1, 1};
    for (const std::int16_t value : {std::int16_t{-32768}, std::int16_t{32767}}) {
      CHECK(avg_pool<std::int16_t>(shape, params, window,
                                   std::vector<std::int16_t>(shape.element_count(), value)) ==
            std::vector<std::int16_t>{value});
    }
    CHECK(tsq::prepare_avg_pool2d(
              {Shape{1, 256, 256, 1}, params, params, Pool2DWindow{256, 256, 1, 1}})
              .status()
              .code() == ErrorCode::invalid_argument);
  }
  // int8: 4096 x 2048 = 2^23 taps; -128 each: (-2^30 - 2^22) / 2^23 = -128.5 -> -128.
  {
    const Shape shape{1, 4096, 2048, 1};
    const QuantParams params = tsq::make_quant_params(0.1f, 0, DataType::int8);
    const Pool2DWindow window{4096, 2048, 1, 1};
    for (const std::int8_t value : {std::int8_t{-128}, std::int8_t{127}}) {
      CHECK(avg_pool<std::int8_t>(shape, params, window,
                                  std::vector<std::int8_t>(shape.element_count(), value)) ==
            std::vector<std::int8_t>{value});
    }
    CHECK(tsq::prepare_avg_pool2d(
              {Shape{1, 4097, 2048, 1}, params, params, Pool2DWindow{4097, 2048, 1, 1}})
              .status()
              .code() == ErrorCode::invalid_argument);
  }
}

TEST_CASE("AvgPool2D: strided views give the same result as dense ones", "[kernels][avg_pool2d]") {
  // A [2, 6, 5, 3] tensor read transposed from a [2, 5, 6, 3] buffer (H and W swapped).
  tsq_test::Rng rng(11);
  const auto buffer = tsq_test::random_integers<std::int8_t>(rng, 2 * 5 * 6 * 3, -128, 127);
  std::vector<std::int8_t> dense(buffer.size());
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t y = 0; y < 6; ++y)
      for (std::size_t x = 0; x < 5; ++x)
        for (std::size_t c = 0; c < 3; ++c)
          dense[((b * 6 + y) * 5 + x) * 3 + c] = buffer[((b * 5 + x) * 6 + y) * 3 + c];
  const std::ptrdiff_t strides[] = {90, 3, 18, 1};
  const QuantParams params = tsq::make_quant_params(0.02f, -7, DataType::int8);
  const auto prepared = tsq::prepare_avg_pool2d(
      {Shape{2, 6, 5, 3}, params, params, Pool2DWindow{3, 2, 2, 1, Padding::same}});
  REQUIRE(prepared.is_ok());
  std::vector<std::int8_t> output(nhwc_shape(prepared->geometry.output).element_count());
  REQUIRE(tsq::reference::avg_pool2d(
              prepared.value(),
              TensorView<const std::int8_t>::strided(buffer.data(), Shape{2, 6, 5, 3}, strides),
              TensorView<std::int8_t>(output.data(), nhwc_shape(prepared->geometry.output)))
              .is_ok());
  CHECK(output == run_avg_pool(prepared.value(), dense));
}

namespace {

// Integer vs float on one random layer. Bound: the integer kernel rounds the exact raw mean
// sum / n to the nearest integer (error <= 1/2 raw step = S/2 real; the tie rule does not matter
// for the bound), and clamps; the float kernel averages the dequantized values in float32
// (error <= (n + 2) * 2^-24 * max|x| for the sum of n terms, the division and the
// dequantization). With ReLU6 the integer clamp sits within S/2 of 6.0, and clamping is
// 1-Lipschitz, so the same bound holds. Returns the largest error beyond the float32 term, in
// units of S.
template <typename T>
double check_random_avg_pool(tsq_test::Rng& rng, const QuantParams& params, int trial) {
  const tsq_test::RandomPoolLayer layer = tsq_test::random_pool_layer(rng, trial);
  const Shape& input_shape = layer.input_shape;
  const Pool2DWindow& window = layer.window;
  const FusedActivation activation = layer.activation;
  const auto prepared = tsq::prepare_avg_pool2d({input_shape, params, params, window, activation});
  if (layer.window_exceeds_input()) {
    REQUIRE(prepared.status().code() == ErrorCode::shape_mismatch);
    return 0.0;
  }
  REQUIRE(prepared.is_ok());
  const auto input = tsq_test::random_integers<T>(rng, input_shape.element_count(),
                                                  params.quant_min, params.quant_max);
  const auto output = run_avg_pool(prepared.value(), input);

  const std::vector<float> x = tsq_test::dequantize_all(input, params);
  float largest = 0.0f;
  for (const float v : x) largest = std::max(largest, std::fabs(v));
  const Shape output_shape = nhwc_shape(prepared->geometry.output);
  std::vector<float> y(output_shape.element_count());
  REQUIRE(tsq::floating::avg_pool2d(window, activation,
                                    TensorView<const float>(x.data(), input_shape),
                                    TensorView<float>(y.data(), output_shape))
              .is_ok());
  const float taps = static_cast<float>(window.filter_height * window.filter_width);
  const float float_error = (taps + 2) * 5.97e-8f * largest;
  const float bound = params.scale / 2 + float_error;
  double worst = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    INFO("trial " << trial << " element " << i);
    const float error = std::fabs(tsq::dequantize(output[i], params) - y[i]);
    REQUIRE(error <= bound);
    worst = std::max(worst, static_cast<double>(error - float_error) / params.scale);
  }
  return worst;
}

}  // namespace

TEST_CASE("AvgPool2D int8 and int16 vs float on random layers", "[kernels][avg_pool2d]") {
  tsq_test::Rng rng(99);
  double worst8 = 0.0, worst16 = 0.0;
  for (int trial = 0; trial < 400; ++trial) {
    worst8 = std::max(
        worst8, check_random_avg_pool<std::int8_t>(rng, tsq_test::random_int8_params(rng), trial));
  }
  for (int trial = 0; trial < 200; ++trial) {
    QuantParams params = tsq_test::random_int16_params(rng);
    if (trial % 2 == 1) params.zero_point = static_cast<std::int32_t>(rng() % 2001) - 1000;
    worst16 = std::max(worst16, check_random_avg_pool<std::int16_t>(rng, params, trial));
  }
  // The measured worst case beyond the float32 slack, in units of S (run with -s to see).
  CHECK(worst8 <= 0.5);
  CHECK(worst16 <= 0.5);
}

TEST_CASE("AvgPool2D validation errors", "[kernels][avg_pool2d]") {
  const QuantParams act = tsq::make_quant_params(0.1f, 2, DataType::int8);
  const tsq::AvgPool2DQuantization q{Shape{1, 4, 4, 2}, act, act, Pool2DWindow{2, 2, 2, 2}};
  REQUIRE(tsq::prepare_avg_pool2d(q).is_ok());
  const auto code = [](const tsq::AvgPool2DQuantization& bad) {
    return tsq::prepare_avg_pool2d(bad).status().code();
  };
  auto bad = q;
  bad.input_shape = Shape{4, 4, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.input_shape = Shape{0, 4, 4, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.window.filter_height = -1;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.window.stride_width = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.window.filter_width = 5;
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.output.scale = 0.1f - 3e-6f;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.output.zero_point = -2;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.input.scale = 0.0f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.input = tsq::make_quant_params(0.1f, 2, DataType::int16);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input = bad.output = tsq::make_quant_params(0.1f, 2, DataType::int32);
  CHECK(code(bad) == ErrorCode::unsupported_type);

  const auto params = tsq::prepare_avg_pool2d(q).value();
  std::vector<std::int8_t> input(32), output(8);
  std::vector<std::int16_t> input16(32), output16(8);
  CHECK(tsq::reference::avg_pool2d(params,
                                   TensorView<const std::int8_t>(input.data(), Shape{2, 4, 2, 2}),
                                   TensorView<std::int8_t>(output.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::avg_pool2d(params,
                                   TensorView<const std::int8_t>(input.data(), Shape{1, 4, 4, 2}),
                                   TensorView<std::int8_t>(output.data(), Shape{1, 2, 2, 1}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::avg_pool2d(
            params, TensorView<const std::int16_t>(input16.data(), Shape{1, 4, 4, 2}),
            TensorView<std::int16_t>(output16.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::unsupported_type);
  std::vector<float> xf(32), yf(8);
  CHECK(tsq::floating::avg_pool2d(Pool2DWindow{2, 2, 2, 2}, FusedActivation::none,
                                  TensorView<const float>(xf.data(), Shape{1, 4, 4, 2}),
                                  TensorView<float>(yf.data(), Shape{1, 2, 2, 2}))
            .is_ok());
  CHECK(tsq::floating::avg_pool2d(Pool2DWindow{2, 2, 2, 2}, FusedActivation::none,
                                  TensorView<const float>(xf.data(), Shape{1, 4, 4}),
                                  TensorView<float>(yf.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::floating::avg_pool2d(Pool2DWindow{2, 2, 2, 2}, FusedActivation::none,
                                  TensorView<const float>(xf.data(), Shape{1, 4, 4, 2}),
                                  TensorView<float>(yf.data(), Shape{1, 1, 4, 2}))
            .code() == ErrorCode::shape_mismatch);
}
