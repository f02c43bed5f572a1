// SPDX-License-Identifier: Apache-2.0
// MaxPool2D: hand-computed windows (VALID, SAME, border windows, activations), int16, strided
// views, exactness against the float kernel on random layers, the pooling geometry, and every
// validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/max_pool2d.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"

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
std::vector<T> run_max_pool(const tsq::MaxPool2DParams& params, const std::vector<T>& input) {
  std::vector<T> output(nhwc_shape(params.geometry.output).element_count());
  const tsq::Status status = tsq::reference::max_pool2d(
      params, TensorView<const T>(input.data(), nhwc_shape(params.geometry.input)),
      TensorView<T>(output.data(), nhwc_shape(params.geometry.output)));
  REQUIRE(status.is_ok());
  return output;
}

}  // namespace

TEST_CASE("MaxPool2D int8: hand-computed windows", "[kernels][max_pool2d]") {
  // One channel, 3x4, S = 0.5, Z = -1:
  //    1  -5    7   0
  //   -9   3   -2  12
  //    4   4 -128  -7
  const std::vector<std::int8_t> input = {1, -5, 7, 0, -9, 3, -2, 12, 4, 4, -128, -7};
  const QuantParams params = tsq::make_quant_params(0.5f, -1, DataType::int8);
  tsq::MaxPool2DQuantization q{Shape{1, 3, 4, 1}, params, params, Pool2DWindow{2, 2, 2, 2}};

  // VALID 2x2 stride 2: out 1x2; max{1,-5,-9,3} = 3, max{7,0,-2,12} = 12.
  auto prepared = tsq::prepare_max_pool2d(q);
  REQUIRE(prepared.is_ok());
  CHECK(nhwc_shape(prepared->geometry.output) == (Shape{1, 1, 2, 1}));
  CHECK(run_max_pool(prepared.value(), input) == std::vector<std::int8_t>{3, 12});

  // SAME 2x2 stride 2: out ceil(3/2) x ceil(4/2) = 2x2; total padding 1 row, pad_top = 0, so the
  // extra row is at the bottom and the second row of windows holds only input row 2:
  // max{4,4} = 4 and max{-128,-7} = -7. Padding taps are skipped: reading them as real 0
  // (raw Z = -1) would have given -1 instead of -7.
  q.window.padding = Padding::same;
  prepared = tsq::prepare_max_pool2d(q);
  REQUIRE(prepared.is_ok());
  CHECK(prepared->geometry.pad_top == 0);
  CHECK(prepared->geometry.pad_left == 0);
  CHECK(run_max_pool(prepared.value(), input) == std::vector<std::int8_t>{3, 12, 4, -7});

  // Fused ReLU clamps below at Z = -1: -7 -> -1. ReLU6 also above at Z + round(6 / 0.5) = 11.
  q.activation = FusedActivation::relu;
  CHECK(run_max_pool(tsq::prepare_max_pool2d(q).value(), input) ==
        std::vector<std::int8_t>{3, 12, 4, -1});
  q.activation = FusedActivation::relu6;
  CHECK(run_max_pool(tsq::prepare_max_pool2d(q).value(), input) ==
        std::vector<std::int8_t>{3, 11, 4, -1});

  // SAME 3x3 stride 1: pad 1 on every side; every output is the max of its clipped window.
  //   (0,0): {1,-5,-9,3} = 3       (0,1): {1,-5,7,-9,3,-2} = 7   (0,2): 12   (0,3): {7,0,-2,12} =
  //   12 (1,0): {1,-5,-9,3,4,4} = 4   (1,1): 7   (1,2): 12   (1,3): 12 (2,0): {-9,3,4,4} = 4 (2,1):
  //   4   (2,2): 12   (2,3): {-2,12,-128,-7} = 12
  q.activation = FusedActivation::none;
  q.window = Pool2DWindow{3, 3, 1, 1, Padding::same};
  prepared = tsq::prepare_max_pool2d(q);
  REQUIRE(prepared.is_ok());
  CHECK(prepared->geometry.pad_top == 1);
  CHECK(prepared->geometry.pad_left == 1);
  CHECK(run_max_pool(prepared.value(), input) ==
        std::vector<std::int8_t>{3, 7, 12, 12, 4, 7, 12, 12, 4, 4, 12, 12});

  // Non-square filter and strides (the study's 2x1 time pooling): 2x1 stride 2x1, VALID on 3
  // rows: out 1x4, max over rows 0 and 1 per column: {1, 3, 7, 12}.
  q.window = Pool2DWindow{2, 1, 2, 1, Padding::valid};
  CHECK(run_max_pool(tsq::prepare_max_pool2d(q).value(), input) ==
        std::vector<std::int8_t>{1, 3, 7, 12});

  // A SAME window far larger than the image (padding ~2^30 on each side) covers all of it at
  // every position: the global max 12 everywhere, without int32 overflow in the window ends.
  q.window = Pool2DWindow{2147483647, 2147483647, 1, 1, Padding::same};
  prepared = tsq::prepare_max_pool2d(q);
  REQUIRE(prepared.is_ok());
  CHECK(prepared->geometry.pad_top == 1073741823);  // ((3 - 1) * 1 + 2^31 - 1 - 3) / 2
  CHECK(run_max_pool(prepared.value(), input) == std::vector<std::int8_t>(12, 12));
}

TEST_CASE("MaxPool2D: channels and batches are pooled independently", "[kernels][max_pool2d]") {
  // [2, 2, 2, 3], 2x2 VALID: one output per (batch, channel) = the max over its 4 pixels.
  std::vector<std::int8_t> input(24);
  for (std::size_t i = 0; i < input.size(); ++i) {
    input[i] = static_cast<std::int8_t>((static_cast<int>(i) * 37) % 251 - 125);
  }
  const QuantParams params = tsq::make_quant_params(0.1f, 7, DataType::int8);
  const tsq::MaxPool2DQuantization q{Shape{2, 2, 2, 3}, params, params, Pool2DWindow{2, 2, 1, 1}};
  const auto output = run_max_pool(tsq::prepare_max_pool2d(q).value(), input);
  REQUIRE(output.size() == 6);
  for (std::size_t b = 0; b < 2; ++b) {
    for (std::size_t c = 0; c < 3; ++c) {
      std::int8_t expected = -128;
      for (std::size_t p = 0; p < 4; ++p) expected = std::max(expected, input[b * 12 + p * 3 + c]);
      CHECK(output[b * 3 + c] == expected);
    }
  }
}

TEST_CASE("MaxPool2D int16: extremes and a non-zero zero point", "[kernels][max_pool2d]") {
  // 1x2x3x1, 2x2 SAME stride 1 (pad_top 0, pad_left 0 with the extra column right):
  //   -32768  30000  -1
  //   -32767 -32768  32767
  // (0,0) {-32768,30000,-32767,-32768} = 30000   (0,1) {30000,-1,-32768,32767} = 32767
  // (0,2) {-1,32767} = 32767   (1,0) {-32767,-32768} = -32767   (1,1) 32767   (1,2) 32767
  const std::vector<std::int16_t> input = {-32768, 30000, -1, -32767, -32768, 32767};
  const QuantParams params = tsq::make_quant_params(1e-4f, -1000, DataType::int16);
  tsq::MaxPool2DQuantization q{Shape{1, 2, 3, 1}, params, params,
                               Pool2DWindow{2, 2, 1, 1, Padding::same}};
  auto prepared = tsq::prepare_max_pool2d(q);
  REQUIRE(prepared.is_ok());
  CHECK(run_max_pool(prepared.value(), input) ==
        std::vector<std::int16_t>{30000, 32767, 32767, -32767, 32767, 32767});
  // An all-minimum window stays at -32768 (the start value).
  const std::vector<std::int16_t> lowest(6, -32768);
  CHECK(run_max_pool(prepared.value(), lowest) == lowest);
  // ReLU6 at Z + round(6 / 1e-4) = -1000 + 60000 -> beyond int16, so only ReLU's Z bound applies.
  q.activation = FusedActivation::relu6;
  prepared = tsq::prepare_max_pool2d(q);
  CHECK(prepared->activation.min == -1000);
  CHECK(prepared->activation.max == 32767);
  CHECK(run_max_pool(prepared.value(), lowest) == std::vector<std::int16_t>(6, -1000));
}

TEST_CASE("MaxPool2D: strided views give the same result as dense ones", "[kernels][max_pool2d]") {
  // A [1, 5, 6, 4] buffer viewed as its channels 1 and 3 only ([1, 5, 6, 2], channel stride 2).
  tsq_test::Rng rng(5);
  const auto buffer = tsq_test::random_integers<std::int8_t>(rng, 5 * 6 * 4, -128, 127);
  std::vector<std::int8_t> dense(5 * 6 * 2);
  for (std::size_t p = 0; p < 30; ++p) {
    dense[p * 2] = buffer[p * 4 + 1];
    dense[p * 2 + 1] = buffer[p * 4 + 3];
  }
  const std::ptrdiff_t strides[] = {120, 24, 4, 2};
  const auto view =
      TensorView<const std::int8_t>::strided(buffer.data() + 1, Shape{1, 5, 6, 2}, strides);
  const QuantParams params = tsq::make_quant_params(0.05f, 3, DataType::int8);
  const auto prepared = tsq::prepare_max_pool2d(
      {Shape{1, 5, 6, 2}, params, params, Pool2DWindow{3, 2, 2, 2, Padding::same}});
  REQUIRE(prepared.is_ok());
  // The output too is strided: every other element of a larger buffer.
  const Shape output_shape = nhwc_shape(prepared->geometry.output);
  std::vector<std::int8_t> spread(output_shape.element_count() * 2, 99);
  const std::ptrdiff_t output_strides[] = {
      static_cast<std::ptrdiff_t>(output_shape.element_count() * 2),
      static_cast<std::ptrdiff_t>(output_shape[2] * 4), 4, 2};
  REQUIRE(tsq::reference::max_pool2d(
              prepared.value(), view,
              TensorView<std::int8_t>::strided(spread.data(), output_shape, output_strides))
              .is_ok());
  const auto expected = run_max_pool(prepared.value(), dense);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(spread[2 * i] == expected[i]);
    CHECK(spread[2 * i + 1] == 99);
  }
}

namespace {

// Integer vs float on one random layer. The maximum commutes with the monotone dequantization
// S * (q - Z), so without activation or with ReLU (clamp at Z <-> at 0.0 exactly) the dequantized
// integer result must EQUAL the float result on the dequantized input. With ReLU6 the integer
// clamp sits at Z + round(6 / S), i.e. within S / 2 of 6.0: bound S / 2 there.
template <typename T>
void check_random_max_pool(tsq_test::Rng& rng, const QuantParams& params, int trial,
                           int& exact_count) {
  const tsq_test::RandomPoolLayer layer = tsq_test::random_pool_layer(rng, trial);
  const Shape& input_shape = layer.input_shape;
  const Pool2DWindow& window = layer.window;
  const FusedActivation activation = layer.activation;
  const auto prepared = tsq::prepare_max_pool2d({input_shape, params, params, window, activation});
  if (layer.window_exceeds_input()) {
    REQUIRE(prepared.status().code() == ErrorCode::shape_mismatch);
    return;
  }
  REQUIRE(prepared.is_ok());
  const auto input = tsq_test::random_integers<T>(rng, input_shape.element_count(),
                                                  params.quant_min, params.quant_max);
  const auto output = run_max_pool(prepared.value(), input);

  const std::vector<float> x = tsq_test::dequantize_all(input, params);
  const Shape output_shape = nhwc_shape(prepared->geometry.output);
  std::vector<float> y(output_shape.element_count());
  REQUIRE(tsq::floating::max_pool2d(window, activation,
                                    TensorView<const float>(x.data(), input_shape),
                                    TensorView<float>(y.data(), output_shape))
              .is_ok());
  const float bound = activation == FusedActivation::relu6 ? params.scale / 2 : 0.0f;
  for (std::size_t i = 0; i < y.size(); ++i) {
    INFO("trial " << trial << " element " << i);
    const float got = tsq::dequantize(output[i], params);
    REQUIRE(std::fabs(got - y[i]) <= bound);
    if (got == y[i]) ++exact_count;
  }
}

}  // namespace

TEST_CASE("MaxPool2D int8 and int16 vs float on random layers", "[kernels][max_pool2d]") {
  tsq_test::Rng rng(2024);
  int exact = 0;
  for (int trial = 0; trial < 400; ++trial) {
    check_random_max_pool<std::int8_t>(rng, tsq_test::random_int8_params(rng), trial, exact);
  }
  for (int trial = 0; trial < 200; ++trial) {
    QuantParams params = tsq_test::random_int16_params(rng);
    // TFLite-Micro accepts any int16 zero point here; the kernel never reads it.
    if (trial % 2 == 1) params.zero_point = static_cast<std::int32_t>(rng() % 2001) - 1000;
    check_random_max_pool<std::int16_t>(rng, params, trial, exact);
  }
  CHECK(exact > 10000);
}

TEST_CASE("Pool2D geometry: output sizes and no window entirely in the padding",
          "[kernels][max_pool2d][avg_pool2d]") {
  // Every input size, filter and stride up to 12, both paddings: the output size is TFLite's
  // (SAME ceil(n / s), VALID (n - k) / s + 1), and every window holds at least one input tap,
  // so AvgPool2D never divides by zero.
  int geometries = 0;
  for (std::int32_t n = 1; n <= 12; ++n) {
    for (std::int32_t k = 1; k <= 12; ++k) {
      for (std::int32_t s = 1; s <= 12; ++s) {
        for (const Padding padding : {Padding::valid, Padding::same}) {
          const auto g =
              tsq::compute_pool2d_geometry(Shape{1, n, 1, 1}, Pool2DWindow{k, 1, s, 1, padding});
          if (padding == Padding::valid && k > n) {
            CHECK(g.status().code() == ErrorCode::shape_mismatch);
            continue;
          }
          REQUIRE(g.is_ok());
          const std::int32_t expected =
              padding == Padding::same ? (n + s - 1) / s : (n - k) / s + 1;
          CHECK(g->output.height == expected);
          CHECK(g->output.width == 1);
          for (std::int32_t o = 0; o < g->output.height; ++o) {
            const auto bounds = tsq::detail::pool2d_window_bounds(g.value(), o, 0);
            CHECK(bounds.y_end > bounds.y_begin);
            CHECK(bounds.y_end - bounds.y_begin <= k);
          }
          ++geometries;
        }
      }
    }
  }
  CHECK(geometries == 12 * 12 * 12 * 2 - 66 * 12);  // all but VALID with k > n
  // The check itself, on placements the spec's formula never produces: padding 2 before a
  // 2-tap window leaves the first window in the padding; stride 3 with 3 outputs on 4 inputs
  // puts the last window past the end.
  CHECK_FALSE(tsq::detail::every_window_overlaps_input(4, 2, 1, 2, 3));
  CHECK_FALSE(tsq::detail::every_window_overlaps_input(4, 2, 3, 0, 3));
  CHECK_FALSE(tsq::detail::every_window_overlaps_input(4, 2, 1, 0, 0));
  CHECK(tsq::detail::every_window_overlaps_input(4, 2, 1, 1, 4));
  CHECK(tsq::pool2d_output_shape(Shape{3, 7, 5, 2}, Pool2DWindow{2, 3, 2, 2, Padding::same})
            .value() == (Shape{3, 4, 3, 2}));
}

TEST_CASE("MaxPool2D validation errors", "[kernels][max_pool2d]") {
  const QuantParams act = tsq::make_quant_params(0.1f, 2, DataType::int8);
  const tsq::MaxPool2DQuantization q{Shape{1, 4, 4, 2}, act, act, Pool2DWindow{2, 2, 2, 2}};
  REQUIRE(tsq::prepare_max_pool2d(q).is_ok());
  const auto code = [](const tsq::MaxPool2DQuantization& bad) {
    return tsq::prepare_max_pool2d(bad).status().code();
  };

  auto bad = q;
  bad.input_shape = Shape{1, 4, 4};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.input_shape = Shape{1, 4, 0, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.window.filter_width = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.window.stride_height = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.window.filter_height = 5;  // VALID, larger than the input
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.window.padding = Padding::same;  // fine with SAME
  CHECK(tsq::prepare_max_pool2d(bad).is_ok());

  // Quantization must be shared: |S_in - S_out| <= 1e-6 passes (TFLite-Micro's tolerance).
  bad = q;
  bad.output.scale = 0.1f + 5e-7f;
  CHECK(tsq::prepare_max_pool2d(bad).is_ok());
  bad.output.scale = 0.1f + 2e-6f;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.output.zero_point = 3;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.input.scale = -0.1f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.output.scale = std::nanf("");
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.output = tsq::make_quant_params(0.1f, 2, DataType::int16);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input = bad.output = tsq::make_quant_params(0.1f, 2, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input = bad.output = tsq::make_quant_params(0.1f, 0, DataType::float32);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input.zero_point = bad.output.zero_point = 300;  // outside int8
  CHECK(code(bad) == ErrorCode::invalid_argument);

  // Eval with views that do not match the prepared layer.
  const auto params = tsq::prepare_max_pool2d(q).value();
  std::vector<std::int8_t> input(32), output(8);
  std::vector<std::int16_t> input16(32), output16(8);
  CHECK(tsq::reference::max_pool2d(params,
                                   TensorView<const std::int8_t>(input.data(), Shape{1, 4, 2, 4}),
                                   TensorView<std::int8_t>(output.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::max_pool2d(params,
                                   TensorView<const std::int8_t>(input.data(), Shape{1, 4, 4, 2}),
                                   TensorView<std::int8_t>(output.data(), Shape{1, 2, 4, 1}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::max_pool2d(
            params, TensorView<const std::int16_t>(input16.data(), Shape{1, 4, 4, 2}),
            TensorView<std::int16_t>(output16.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::unsupported_type);
  // The float kernel: bad window, bad output shape.
  std::vector<float> xf(32), yf(8);
  CHECK(tsq::floating::max_pool2d(Pool2DWindow{0, 2, 2, 2}, FusedActivation::none,
                                  TensorView<const float>(xf.data(), Shape{1, 4, 4, 2}),
                                  TensorView<float>(yf.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::floating::max_pool2d(Pool2DWindow{2, 2, 2, 2}, FusedActivation::none,
                                  TensorView<const float>(xf.data(), Shape{1, 4, 4, 2}),
                                  TensorView<float>(yf.data(), Shape{1, 4, 1, 2}))
            .code() == ErrorCode::shape_mismatch);
}
