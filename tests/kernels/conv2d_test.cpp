// SPDX-License-Identifier: Apache-2.0
// Conv2D: hand-computed integers (SAME with an odd padding total, stride 2, dilation 2, groups),
// the all-double multiplier rule, integer vs float on random geometries in both rounding modes,
// the study's shapes, int16, hybrid, the accumulator limit and every validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"

using tsq::Conv2DOptions;
using tsq::DataType;
using tsq::ErrorCode;
using tsq::FusedActivation;
using tsq::Padding;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_test::absolute;
using tsq_test::Compared;
using tsq_test::kBothModes;
using tsq_test::kFloatEpsilon;

namespace {

// A layer's integer data and quantization, run through prepare and the reference kernel.
struct Int8Conv : tsq_test::Int8ConvLayer<Conv2DOptions, tsq::Conv2DQuantization> {
  tsq::Result<tsq::Conv2DParams> prepare(RoundingMode rounding) {
    const tsq::Conv2DQuantization q = quantization(rounding);  // sizes `multipliers` first
    return tsq::prepare_conv2d(q, multipliers);
  }

  // Prepares and runs; returns the output shape's status through REQUIREs.
  void run(RoundingMode rounding) {
    const auto params = prepare(rounding);
    REQUIRE(params.is_ok());
    const auto output_shape = tsq::conv2d_output_shape(input_shape, filter_shape, options);
    REQUIRE(output_shape.is_ok());
    output.assign(output_shape->element_count(), 0);
    REQUIRE(tsq::reference::conv2d(params.value(),
                                   TensorView<const std::int8_t>(input.data(), input_shape),
                                   TensorView<const std::int8_t>(filter.data(), filter_shape), bias,
                                   TensorView<std::int8_t>(output.data(), output_shape.value()))
                .is_ok());
  }
};

std::vector<float> run_float(const Conv2DOptions& options, const std::vector<float>& input,
                             const Shape& input_shape, const std::vector<float>& filter,
                             const Shape& filter_shape, const std::vector<float>& bias) {
  const auto output_shape = tsq::conv2d_output_shape(input_shape, filter_shape, options);
  REQUIRE(output_shape.is_ok());
  std::vector<float> output(output_shape->element_count());
  REQUIRE(tsq::floating::conv2d(options, TensorView<const float>(input.data(), input_shape),
                                TensorView<const float>(filter.data(), filter_shape), bias,
                                TensorView<float>(output.data(), output_shape.value()))
              .is_ok());
  return output;
}

// sum over the taps inside the image of |W * X| + |bias|, per output: the float conv of the
// absolute values (conv is linear, so this is the magnitude the float rounding scales with).
std::vector<float> magnitudes(const Conv2DOptions& options, const std::vector<float>& input,
                              const Shape& input_shape, const std::vector<float>& filter,
                              const Shape& filter_shape, const std::vector<float>& bias) {
  Conv2DOptions linear = options;
  linear.activation = FusedActivation::none;
  return run_float(linear, absolute(input), input_shape, absolute(filter), filter_shape,
                   absolute(bias));
}

// A random geometry: k x 1, 1 x k, square or any kernel, strides 1-3, dilations 1-2, VALID or
// SAME, channels 1..16 (sometimes in 2 or 3 groups), batch 1-2.
struct RandomGeometry {
  Shape input_shape, filter_shape;
  Conv2DOptions options;
};

RandomGeometry random_geometry(tsq_test::Rng& rng, int trial) {
  RandomGeometry g;
  const tsq_test::RandomConvWindow w =
      tsq_test::random_conv_window(rng, trial, trial % 4 == 1 ? 3 : 12, trial % 4 == 0 ? 3 : 12);
  tsq_test::apply_window(w, g.options);
  auto pick = [&](std::int32_t lo, std::int32_t hi) { return tsq_test::pick(rng, lo, hi); };
  const std::int32_t groups = trial % 5 == 4 ? pick(2, 3) : 1;
  const std::int32_t filter_depth = pick(1, 16 / groups);
  const std::int32_t output_channels = groups * pick(1, 16 / groups);
  g.input_shape = Shape{pick(1, 2), w.height, w.width, filter_depth * groups};
  g.filter_shape = Shape{output_channels, w.kernel_height, w.kernel_width, filter_depth};
  return g;
}

}  // namespace

TEST_CASE("Conv2D int8: SAME padding with an odd total and per-channel multipliers",
          "[kernels][conv2d]") {
  // Input 3x3 (real values 1..9, stored with Z_in = 1), 2x2 kernel, stride 1, SAME:
  // out = 3, total padding = (3 - 1) + 2 - 3 = 1 -> pad_top = pad_left = 0, the extra row and
  // column are at the bottom/right, so the last row/column of outputs sees only filter row 0 /
  // column 0. Skipped taps add nothing (not W * (0 - Z_in)).
  //   X = 1 2 3    channel 0: W = [[1, 2], [3, 4]], scale 1   -> M = 1
  //       4 5 6    channel 1: W = [[1, 1], [1, 1]], scale 0.5 -> M = 0.5, bias 3
  //       7 8 9
  // channel 0: (0,0) 1+4+12+20 = 37; (0,1) 2+6+15+24 = 47; (0,2) 3+18 = 21;
  //            (1,0) 4+10+21+32 = 67; (1,1) 5+12+24+36 = 77; (1,2) 6+27 = 33;
  //            (2,0) 7+16 = 23; (2,1) 8+18 = 26; (2,2) 9.
  // channel 1: (sum + 3) / 2: (12+3)/2 = 7.5 -> 8, 19/2 -> 10, 12/2 = 6, 27/2 -> 14, 31/2 -> 16,
  //            18/2 = 9, 18/2 = 9, 20/2 = 10, 12/2 = 6 (ties: the shift is 0, so both modes
  //            round up). Then + Z_out = -50.
  Int8Conv conv;
  conv.input_shape = Shape{1, 3, 3, 1};
  conv.filter_shape = Shape{2, 2, 2, 1};
  conv.input = {2, 3, 4, 5, 6, 7, 8, 9, 10};
  conv.filter = {1, 2, 3, 4, 1, 1, 1, 1};
  conv.bias = {0, 3};
  conv.filter_scales = {1.0f, 0.5f};
  conv.input_params = tsq::make_quant_params(1.0f, 1, DataType::int8);
  conv.output_params = tsq::make_quant_params(1.0f, -50, DataType::int8);
  conv.options.padding = Padding::same;
  const std::vector<std::int8_t> expected = {-13, -42, -3,  -40, -29, -44, 17,  -36, 27,
                                             -34, -17, -41, -27, -41, -24, -40, -41, -44};
  for (const RoundingMode rounding : kBothModes) {
    conv.run(rounding);
    CHECK(conv.output == expected);
  }
  // Fused ReLU6 clamps at Z_out + round(6 / 1) = -44 (and below at Z_out = -50).
  conv.options.activation = FusedActivation::relu6;
  conv.run(RoundingMode::double_rounding);
  std::vector<std::int8_t> relu6 = expected;
  for (std::int8_t& v : relu6) v = static_cast<std::int8_t>(std::min<int>(v, -44));
  CHECK(conv.output == relu6);
}

TEST_CASE("Conv2D int8: stride 2 and dilation 2 along either axis, both rounding modes",
          "[kernels][conv2d]") {
  // Real input 1..n (stored with Z_in = -3), kernel [1, -1, 2], stride 2, dilation 2 (extent 5),
  // M = S_in * S_w / S_out = 1 * 0.25 / 1 = 0.25 = (2^30, -1), Z_out = 10.
  // n = 7, SAME: out = 4, total = 3*2 + 5 - 7 = 4, pad_before = 2, taps at 2*o - 2 + {0, 2, 4}:
  //   o=0: -1*1 + 2*3 = 5; o=1: 1 - 3 + 10 = 8; o=2: 3 - 5 + 14 = 12; o=3: 5 - 7 = -2.
  //   * 0.25: 1.25 -> 1 with single rounding, but 2 with double rounding (spec 2.3: the
  //   doubling high multiply gives round(5 / 2) = 3, ties up, then the shift round(3 / 2) = 2);
  //   2 and 3 exactly; -0.5 -> -1 (double: ties away from zero at the shift) or 0 (single:
  //   ties up).
  // n = 6, SAME: out = 3, total = 2*2 + 5 - 6 = 3 (odd): pad_before = 1, taps 2*o - 1 + {0,2,4}:
  //   o=0: -1*2 + 2*4 = 6; o=1: 2 - 4 + 12 = 10; o=2: 4 - 6 = -2 -> 1.5 -> 2, 2.5 -> 3, -0.5.
  // n = 7, VALID: out = (7 - 5) / 2 + 1 = 2: 8, 12 -> 2, 3.
  struct Case {
    std::int32_t length;
    Padding padding;
    std::vector<std::int8_t> double_rounding, single_rounding;
  };
  const Case cases[] = {
      {7, Padding::same, {12, 12, 13, 9}, {11, 12, 13, 10}},
      {6, Padding::same, {12, 13, 9}, {12, 13, 10}},
      {7, Padding::valid, {12, 13}, {12, 13}},
  };
  for (const Case& c : cases) {
    for (const bool along_height : {false, true}) {
      Int8Conv conv;
      conv.input_shape = along_height ? Shape{1, c.length, 1, 1} : Shape{1, 1, c.length, 1};
      conv.filter_shape = along_height ? Shape{1, 3, 1, 1} : Shape{1, 1, 3, 1};
      for (std::int32_t i = 1; i <= c.length; ++i) {
        conv.input.push_back(static_cast<std::int8_t>(i - 3));
      }
      conv.filter = {1, -1, 2};
      conv.filter_scales = {0.25f};
      conv.input_params = tsq::make_quant_params(1.0f, -3, DataType::int8);
      conv.output_params = tsq::make_quant_params(1.0f, 10, DataType::int8);
      conv.options.padding = c.padding;
      // The other axis gets stride 3 and dilation 2 to show that each axis uses its own.
      (along_height ? conv.options.stride_height : conv.options.stride_width) = 2;
      (along_height ? conv.options.dilation_height : conv.options.dilation_width) = 2;
      (along_height ? conv.options.stride_width : conv.options.stride_height) = 3;
      (along_height ? conv.options.dilation_width : conv.options.dilation_height) = 2;
      INFO("length " << c.length << (along_height ? " along height" : " along width"));
      conv.run(RoundingMode::double_rounding);
      CHECK(conv.output == c.double_rounding);
      conv.run(RoundingMode::single_rounding);
      CHECK(conv.output == c.single_rounding);
    }
  }
}

TEST_CASE("Conv2D int8: groups read their own input channels", "[kernels][conv2d]") {
  // 1x1 conv, C_in = 4, filter depth 2 -> 2 groups; C_out = 4 -> 2 filters per group.
  // x = {1, 2, 3, 4}; oc 0, 1 read channels 0-1, oc 2, 3 read channels 2-3:
  //   oc0 = 1*1 + 1*2 = 3; oc1 = 2*1 - 1*2 = 0; oc2 = 1*3 + 1*4 = 7; oc3 = -1*3 + 3*4 = 9.
  Int8Conv conv;
  conv.input_shape = Shape{1, 1, 1, 4};
  conv.filter_shape = Shape{4, 1, 1, 2};
  conv.input = {1, 2, 3, 4};
  conv.filter = {1, 1, 2, -1, 1, 1, -1, 3};
  conv.filter_scales = {1.0f};
  conv.run(RoundingMode::double_rounding);
  CHECK(conv.output == std::vector<std::int8_t>{3, 0, 7, 9});
}

TEST_CASE("Conv2D output shapes and padding (spec 3.3)", "[kernels][conv2d]") {
  Conv2DOptions options;
  // The study's shapes: 5x1 over 128x6x64 -> 64 channels; 1x5 over 12x996x32.
  CHECK(tsq::conv2d_output_shape(Shape{2, 128, 6, 64}, Shape{64, 5, 1, 64}, options).value() ==
        (Shape{2, 124, 6, 64}));
  CHECK(tsq::conv2d_output_shape(Shape{1, 12, 996, 32}, Shape{32, 1, 5, 32}, options).value() ==
        (Shape{1, 12, 992, 32}));
  options.padding = Padding::same;
  CHECK(tsq::conv2d_output_shape(Shape{2, 128, 6, 64}, Shape{64, 5, 1, 64}, options).value() ==
        (Shape{2, 128, 6, 64}));
  // The ECG model's Conv1D as CONV_2D with H = 1: SAME, stride 2 -> ceil(187 / 2) = 94.
  options.stride_width = 2;
  const auto geometry =
      tsq::compute_conv2d_geometry(Shape{1, 1, 187, 5}, Shape{8, 1, 7, 5}, options);
  REQUIRE(geometry.is_ok());
  CHECK(geometry->output.width == 94);
  CHECK(geometry->pad_left == 3);  // total = 93*2 + 7 - 187 = 6
  CHECK(geometry->pad_top == 0);
  // SAME, stride 3, dilation 2, kernel 4 (extent 7) over 10: out 4, total = 9 + 7 - 10 = 6.
  options.stride_height = 3;
  options.dilation_height = 2;
  const auto dilated = tsq::compute_conv2d_geometry(Shape{1, 10, 1, 1}, Shape{1, 4, 1, 1}, options);
  REQUIRE(dilated.is_ok());
  CHECK(dilated->output.height == 4);
  CHECK(dilated->pad_top == 3);
  // VALID: (10 - 7) / 3 + 1 = 2, no padding.
  options.padding = Padding::valid;
  const auto valid = tsq::compute_conv2d_geometry(Shape{1, 10, 1, 1}, Shape{1, 4, 1, 1}, options);
  REQUIRE(valid.is_ok());
  CHECK(valid->output.height == 2);
  CHECK(valid->pad_top == 0);
}

TEST_CASE("Conv2D prepare: all-double multipliers, also for a per-tensor filter scale",
          "[kernels][conv2d]") {
  // Spec 3.3: conv never uses FullyConnected's float32 product rule. With the scales of the
  // spec's FC example the all-double rule gives (1374121574, -11), the float32 product rule
  // (1374121556, -11).
  Int8Conv conv;
  conv.input_shape = Shape{1, 2, 2, 1};
  conv.filter_shape = Shape{2, 1, 1, 1};
  conv.input_params = tsq::make_quant_params(0.0555289872f, 0, DataType::int8);
  conv.output_params = tsq::make_quant_params(0.071106635f, 0, DataType::int8);
  conv.filter_scales = {0.000400088175f};
  auto params = conv.prepare(RoundingMode::double_rounding);
  REQUIRE(params.is_ok());
  REQUIRE(params->multipliers.size() == 1);
  CHECK(params->multipliers[0] == (QuantizedMultiplier{1374121574, -11}));
  conv.filter_scales = {0.000400088175f, 0.000400088175f};
  params = conv.prepare(RoundingMode::single_rounding);
  REQUIRE(params.is_ok());
  CHECK(params->multipliers[1] == (QuantizedMultiplier{1374121574, -11}));
}

namespace {

// Runs the int8 kernel in both modes on random data for one geometry and compares each output
// with the float kernel on the dequantized input, filter and real bias. Returns the number of
// outputs compared. Bound per output (stated in the TEST_CASE below).
Compared compare_int8_with_float(tsq_test::Rng& rng, const Shape& input_shape,
                                 const Shape& filter_shape, const Conv2DOptions& options,
                                 bool per_channel, int trial) {
  Int8Conv conv;
  conv.input_shape = input_shape;
  conv.filter_shape = filter_shape;
  conv.options = options;
  const std::int32_t output_channels = filter_shape[0];
  const auto volume = static_cast<std::size_t>(filter_shape[1] * filter_shape[2] * filter_shape[3]);
  const std::vector<float> real_bias =
      tsq_test::randomize_int8_conv(rng, conv, output_channels, volume, per_channel);
  const std::vector<float> x = tsq_test::dequantize_all(conv.input, conv.input_params);
  const std::vector<float> w = tsq_test::dequantize_rows(conv.filter, conv.filter_scales, volume);
  const std::vector<float> y = run_float(options, x, input_shape, w, filter_shape, real_bias);
  const std::vector<float> magnitude =
      magnitudes(options, x, input_shape, w, filter_shape, real_bias);
  return tsq_test::compare_int8_conv_with_float(conv, y, magnitude, output_channels, volume,
                                                per_channel, trial);
}

}  // namespace

TEST_CASE("Conv2D int8 vs float on random geometries, both rounding modes", "[kernels][conv2d]") {
  // Bound per output: the float kernel runs on the dequantized input and filter and the real
  // bias, so the differences are (a) the bias rounding, <= S_in*S_w[c]/2; (b) the
  // requantization, <= S_out/2 with single rounding and <= S_out * (1/2 + 2^-(r+1)) with double
  // rounding at right shift r (a rounding at bit 31, then one at the shift); (c) float32
  // rounding in the float kernel: one rounding per dequantized factor and per product and one
  // per addition, <= (taps + 4) * 2^-24 * (sum |W X| + |bias|) to first order, which also covers
  // the 2^-31 relative error of the fixed-point multiplier, plus 2 * 2^-24 * |y| for
  // dequantizing the integer output; (d) the output clamp, applied to the float result too
  // (clamping never increases a difference).
  tsq_test::Rng rng(2024);
  Compared compared;
  for (int trial = 0; trial < 300; ++trial) {
    const RandomGeometry g = random_geometry(rng, trial);
    compared += compare_int8_with_float(rng, g.input_shape, g.filter_shape, g.options,
                                        trial % 3 != 0, trial);
  }
  CHECK(compared.outputs > 50000);
  CHECK(compared.unsaturated > compared.outputs / 2);
}

TEST_CASE("Conv2D int8 vs float at the study's shapes", "[kernels][conv2d]") {
  // 5x1 over 128x6x64 -> 64 channels, and 1x5 over 12x996x32 -> 32, SAME and VALID; the ECG
  // model's Conv1D (H = 1, stride 2, SAME). Same bound as above.
  tsq_test::Rng rng(7);
  Conv2DOptions valid;
  Conv2DOptions same;
  same.padding = Padding::same;
  same.activation = FusedActivation::relu;
  Compared compared;
  compared +=
      compare_int8_with_float(rng, Shape{1, 128, 6, 64}, Shape{64, 5, 1, 64}, valid, true, 0);
  compared +=
      compare_int8_with_float(rng, Shape{1, 128, 6, 64}, Shape{64, 5, 1, 64}, same, true, 1);
  compared +=
      compare_int8_with_float(rng, Shape{1, 12, 996, 32}, Shape{32, 1, 5, 32}, same, true, 2);
  Conv2DOptions ecg = same;
  ecg.stride_width = 2;
  compared += compare_int8_with_float(rng, Shape{2, 1, 187, 5}, Shape{16, 1, 7, 5}, ecg, true, 3);
  CHECK(compared.outputs == 2 * (124 * 6 * 64 + 128 * 6 * 64 + 12 * 996 * 32 + 2 * 94 * 16));
  CHECK(compared.unsaturated > compared.outputs / 2);
}

TEST_CASE("Conv2D int16 x int8 -> int16: int64 accumulator, hand-computed", "[kernels][conv2d]") {
  // 1x1 conv over 600 channels of x = 32767 with all weights 127 (channel 0) or -127
  // (channel 1): the sum of the taps is +-600 * 127 * 32767 = +-2,496,845,400, beyond int32.
  // Bias +-1000. M = 2^-10 * 2^-10 / 8 = 2^-23 = (2^30, -22); spec 2.5: multiplier16 = 2^14,
  // shift 15 + 22 = 37: y = (acc * 2^14 + 2^36) >> 37 = round(acc / 2^23), ties up:
  // 2,496,846,400 / 8,388,608 = 297.65 -> 298, and -298. Both rounding modes.
  const std::int32_t depth = 600;
  std::vector<std::int16_t> input(depth, 32767);
  std::vector<std::int8_t> filter(2 * depth, 127);
  std::fill(filter.begin() + depth, filter.end(), std::int8_t{-127});
  const std::vector<std::int64_t> bias = {1000, -1000};
  const std::vector<float> scales = {1.0f / 1024.0f};
  for (const RoundingMode rounding : kBothModes) {
    tsq::Conv2DQuantization q;
    q.input_shape = Shape{1, 1, 1, depth};
    q.input = tsq::make_quant_params(1.0f / 1024.0f, 0, DataType::int16);
    q.filter_shape = Shape{2, 1, 1, depth};
    q.filter_scales = scales;
    q.output = tsq::make_quant_params(8.0f, 0, DataType::int16);
    q.rounding = rounding;
    std::vector<QuantizedMultiplier> multipliers(1);
    const auto params = tsq::prepare_conv2d(q, multipliers);
    REQUIRE(params.is_ok());
    CHECK(params->multipliers[0] == (QuantizedMultiplier{1 << 30, -22}));
    std::vector<std::int16_t> output(2);
    REQUIRE(tsq::reference::conv2d(params.value(),
                                   TensorView<const std::int16_t>(input.data(), q.input_shape),
                                   TensorView<const std::int8_t>(filter.data(), q.filter_shape),
                                   bias, TensorView<std::int16_t>(output.data(), Shape{1, 1, 1, 2}))
                .is_ok());
    CHECK(output == std::vector<std::int16_t>{298, -298});
  }
}

TEST_CASE("Conv2D int16 x int8 -> int16 vs float on random geometries", "[kernels][conv2d]") {
  // Bound per output: as for int8 with (b) replaced by spec 2.5's requantization: the
  // multiplier is rounded to 16 bits (relative error <= 2^-15 since it is >= 2^14), then one
  // rounding, ties up: <= S_out/2 + |y| * 2^-15. The bias is rounded in double (<= S_in*S_w/2).
  // Both rounding modes give the same outputs here.
  tsq_test::Rng rng(16);
  int compared = 0;
  int unsaturated = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const RandomGeometry g = random_geometry(rng, trial);
    const Shape& input_shape = g.input_shape;
    const Shape& filter_shape = g.filter_shape;
    const std::int32_t output_channels = filter_shape[0];
    const auto volume =
        static_cast<std::size_t>(filter_shape[1] * filter_shape[2] * filter_shape[3]);
    const auto input_q =
        tsq_test::random_integers<std::int16_t>(rng, input_shape.element_count(), -32768, 32767);
    const auto filter_q =
        tsq_test::random_integers<std::int8_t>(rng, filter_shape.element_count(), -127, 127);
    const QuantParams input = tsq_test::random_int16_params(rng);
    const std::vector<float> scales =
        tsq_test::random_floats(rng, static_cast<std::size_t>(output_channels), 1e-3f, 1e-2f);
    // Accumulator spread sqrt(taps) * rms(W) * rms(x) ~ sqrt(taps) * 73 * 18918; an output
    // scale of 1/10000 of it keeps most outputs inside the int16 range.
    const float typical =
        input.scale * scales[0] * 73.0f * 18918.0f * std::sqrt(static_cast<float>(volume));
    const QuantParams output = tsq::make_quant_params(typical / 10000.0f, 0, DataType::int16);
    const std::vector<float> real_bias =
        tsq_test::random_floats(rng, static_cast<std::size_t>(output_channels), -typical, typical);
    std::vector<std::int64_t> bias(real_bias.size());
    for (std::size_t c = 0; c < bias.size(); ++c) {
      bias[c] = std::llround(static_cast<double>(real_bias[c]) /
                             (static_cast<double>(input.scale) * scales[c]));
    }
    const auto output_shape = tsq::conv2d_output_shape(input_shape, filter_shape, g.options);
    REQUIRE(output_shape.is_ok());
    std::vector<std::vector<std::int16_t>> outputs;
    for (const RoundingMode rounding : kBothModes) {
      tsq::Conv2DQuantization q{input_shape, input,     filter_shape, scales,
                                output,      g.options, rounding};
      std::vector<QuantizedMultiplier> multipliers(scales.size());
      const auto params = tsq::prepare_conv2d(q, multipliers);
      REQUIRE(params.is_ok());
      outputs.emplace_back(output_shape->element_count());
      REQUIRE(tsq::reference::conv2d(
                  params.value(), TensorView<const std::int16_t>(input_q.data(), input_shape),
                  TensorView<const std::int8_t>(filter_q.data(), filter_shape), bias,
                  TensorView<std::int16_t>(outputs.back().data(), output_shape.value()))
                  .is_ok());
    }
    REQUIRE(outputs[0] == outputs[1]);
    tsq::Conv2DQuantization q{
        input_shape, input, filter_shape, scales, output, g.options, RoundingMode::double_rounding};
    std::vector<QuantizedMultiplier> multipliers(scales.size());
    const auto params = tsq::prepare_conv2d(q, multipliers);
    const float lo = tsq::dequantize(params->activation.min, output);
    const float hi = tsq::dequantize(params->activation.max, output);
    const std::vector<float> x = tsq_test::dequantize_all(input_q, input);
    const std::vector<float> w = tsq_test::dequantize_rows(filter_q, scales, volume);
    const std::vector<float> y = run_float(g.options, x, input_shape, w, filter_shape, real_bias);
    const std::vector<float> magnitude =
        magnitudes(g.options, x, input_shape, w, filter_shape, real_bias);
    for (std::size_t i = 0; i < y.size(); ++i) {
      const std::size_t c = i % static_cast<std::size_t>(output_channels);
      const double bound = 0.5 * output.scale + std::fabs(y[i]) / 32768.0 +
                           input.scale * static_cast<double>(scales[c]) / 2 +
                           (static_cast<double>(volume) + 4) * kFloatEpsilon * magnitude[i];
      const float expected = std::min(std::max(y[i], lo), hi);
      INFO("trial " << trial << " output " << i);
      REQUIRE(std::fabs(static_cast<double>(tsq::dequantize(outputs[0][i], output)) - expected) <=
              bound);
      ++compared;
      if (outputs[0][i] > params->activation.min && outputs[0][i] < params->activation.max) {
        ++unsaturated;
      }
    }
  }
  CHECK(compared > 10000);
  CHECK(unsaturated > compared / 2);
}

TEST_CASE("Conv2D int8: the largest filter volume at worst-case values", "[kernels][conv2d]") {
  // KH * KW * C_in = 16 * 16 * 256 = 65536 = kMaxAccumulationDepth, every product at its
  // extreme: 127 * (127 - (-128)) = 127 * 255, or (-128) * (-128 - 127) = 128 * 255 (imported
  // filters may hold -128). The accumulator reaches 2,122,383,360 or 2,139,095,040 < 2^31.
  // M = 2^-10 * 2^-10 / 32 = 2^-25: 63.25 -> 63 and 63.75 -> 64 in both modes.
  const Shape shape{1, 16, 16, 256};
  for (const std::int8_t weight : {std::int8_t{127}, std::int8_t{-128}}) {
    for (const RoundingMode rounding : kBothModes) {
      Int8Conv conv;
      conv.input_shape = shape;
      conv.filter_shape = shape;
      const std::int8_t x = weight > 0 ? 127 : -128;
      const std::int32_t zero_point = weight > 0 ? -128 : 127;
      conv.input.assign(shape.element_count(), x);
      conv.filter.assign(shape.element_count(), weight);
      conv.filter_scales = {1.0f / 1024.0f};
      conv.input_params = tsq::make_quant_params(1.0f / 1024.0f, zero_point, DataType::int8);
      conv.output_params = tsq::make_quant_params(32.0f, 0, DataType::int8);
      conv.run(rounding);
      const std::int64_t exact = std::int64_t{65536} * weight * (x - zero_point);
      CHECK(exact == (weight > 0 ? 2122383360 : 2139095040));
      REQUIRE(conv.output.size() == 1);
      CHECK(conv.output[0] == (weight > 0 ? 63 : 64));
    }
  }
  // One channel more and prepare refuses; groups count the filter depth, not C_in.
  Int8Conv too_deep;
  too_deep.input_shape = Shape{1, 16, 16, 257};
  too_deep.filter_shape = Shape{1, 16, 16, 257};
  too_deep.filter_scales = {0.01f};
  CHECK(too_deep.prepare(RoundingMode::double_rounding).status().code() ==
        ErrorCode::invalid_argument);
  Int8Conv grouped;
  grouped.input_shape = Shape{1, 16, 16, 512};
  grouped.filter_shape = Shape{2, 16, 16, 256};
  grouped.filter_scales = {0.01f};
  CHECK(grouped.prepare(RoundingMode::double_rounding).is_ok());
}

TEST_CASE("Conv2D hybrid (DRQ): SAME padding folds the zero point over the valid taps only",
          "[kernels][conv2d][hybrid]") {
  // Input all 1.0: range [0, 1] -> S = 1/255, Z = -128, q = 127, dequantized 255/255 = 1.
  // 3x3 filter of ones (scale 1), SAME over 3x3: corner = 4 taps, edge = 6, centre = 9. Had the
  // zero point been folded with the sum over all 9 taps, a corner would be off by
  // |S * Z * 5| = 2.5.
  const std::vector<float> input(9, 1.0f);
  const std::vector<std::int8_t> filter(9, 1);
  const std::vector<float> scales = {1.0f};
  Conv2DOptions options;
  options.padding = Padding::same;
  const auto params =
      tsq::hybrid::prepare_conv2d(Shape{1, 3, 3, 1}, Shape{1, 3, 3, 1}, scales, options);
  REQUIRE(params.is_ok());
  std::vector<std::int8_t> scratch(tsq::hybrid::conv2d_scratch_size(params.value()));
  CHECK(scratch.size() == 9);
  std::vector<float> output(9);
  REQUIRE(tsq::hybrid::conv2d(params.value(),
                              TensorView<const float>(input.data(), Shape{1, 3, 3, 1}),
                              TensorView<const std::int8_t>(filter.data(), Shape{1, 3, 3, 1}), {},
                              TensorView<float>(output.data(), Shape{1, 3, 3, 1}), scratch)
              .is_ok());
  const float expected[] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
  for (std::size_t i = 0; i < 9; ++i) CHECK(output[i] == Approx(expected[i]).epsilon(1e-6));
}

TEST_CASE("Conv2D hybrid (DRQ) vs float on random geometries", "[kernels][conv2d][hybrid]") {
  // The hybrid kernel differs from float on the same (dequantized) filter only by quantizing
  // each batch item: |x - S_n (q - Z_n)| <= S_n / 2 (values at the ends of the range clip by at
  // most half a step too, spec 1.2), so |error| <= S_n / 2 * sum over the taps inside the image
  // of |W| (the float conv of ones with |W|), times 1.001 for the float32 scale and inverse,
  // plus float32 rounding as in the int8 test and 3 roundings of the result.
  tsq_test::Rng rng(99);
  int compared = 0;
  for (int trial = 0; trial < 150; ++trial) {
    const RandomGeometry g = random_geometry(rng, trial);
    const std::int32_t batches = g.input_shape[0];
    const std::int32_t output_channels = g.filter_shape[0];
    const std::size_t item = g.input_shape.element_count() / static_cast<std::size_t>(batches);
    std::vector<float> x = tsq_test::random_floats(rng, g.input_shape.element_count(),
                                                   trial % 2 == 0 ? -3.0f : 0.5f, 2.0f);
    if (trial == 0) std::fill(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(item), 0.0f);
    const std::vector<float> w_real =
        tsq_test::random_floats(rng, g.filter_shape.element_count(), -0.5f, 0.5f);
    std::vector<std::int8_t> w_q(w_real.size());
    const bool per_channel = trial % 3 != 0;
    std::vector<float> scales(per_channel ? static_cast<std::size_t>(output_channels) : 1);
    const std::int32_t dims[] = {output_channels,
                                 g.filter_shape[1] * g.filter_shape[2] * g.filter_shape[3]};
    if (per_channel) {
      REQUIRE(tsq::quantize_per_channel<std::int8_t>(w_real, dims, 0, w_q, scales).is_ok());
    } else {
      const std::int32_t flat[] = {1, static_cast<std::int32_t>(w_real.size())};
      REQUIRE(tsq::quantize_per_channel<std::int8_t>(w_real, flat, 0, w_q, scales).is_ok());
    }
    const std::vector<float> bias =
        tsq_test::random_floats(rng, static_cast<std::size_t>(output_channels), -1.0f, 1.0f);
    const auto params =
        tsq::hybrid::prepare_conv2d(g.input_shape, g.filter_shape, scales, g.options);
    REQUIRE(params.is_ok());
    std::vector<std::int8_t> scratch(
        tsq::hybrid::conv2d_scratch_size(g.input_shape[1], g.input_shape[2], g.input_shape[3]));
    const auto output_shape = tsq::conv2d_output_shape(g.input_shape, g.filter_shape, g.options);
    std::vector<float> y(output_shape->element_count());
    REQUIRE(tsq::hybrid::conv2d(params.value(), TensorView<const float>(x.data(), g.input_shape),
                                TensorView<const std::int8_t>(w_q.data(), g.filter_shape), bias,
                                TensorView<float>(y.data(), output_shape.value()), scratch)
                .is_ok());
    const std::vector<float> w = tsq_test::dequantize_rows(
        w_q, scales, per_channel ? static_cast<std::size_t>(dims[1]) : w_q.size());
    const std::vector<float> expected =
        run_float(g.options, x, g.input_shape, w, g.filter_shape, bias);
    const std::vector<float> ones(x.size(), 1.0f);
    const std::vector<float> weight_mass =
        magnitudes(g.options, ones, g.input_shape, w, g.filter_shape, {});
    const std::vector<float> magnitude =
        magnitudes(g.options, x, g.input_shape, w, g.filter_shape, bias);
    const std::size_t per_item = y.size() / static_cast<std::size_t>(batches);
    for (std::int32_t n = 0; n < batches; ++n) {
      float lo = 0.0f, hi = 0.0f;
      for (std::size_t i = 0; i < item; ++i) {
        lo = std::min(lo, x[static_cast<std::size_t>(n) * item + i]);
        hi = std::max(hi, x[static_cast<std::size_t>(n) * item + i]);
      }
      const double item_scale = (static_cast<double>(hi) - lo) / 255.0;
      for (std::size_t j = 0; j < per_item; ++j) {
        const std::size_t i = static_cast<std::size_t>(n) * per_item + j;
        const double bound = item_scale / 2 * weight_mass[i] * 1.001 +
                             (static_cast<double>(dims[1]) + 4) * kFloatEpsilon * magnitude[i] +
                             3 * kFloatEpsilon * std::fabs(y[i]);
        INFO("trial " << trial << " output " << i);
        REQUIRE(std::fabs(static_cast<double>(y[i]) - expected[i]) <= bound);
        ++compared;
      }
    }
  }
  CHECK(compared > 10000);
}

TEST_CASE("Conv2D validation errors", "[kernels][conv2d]") {
  const std::vector<float> scales = {0.01f, 0.02f};
  std::vector<QuantizedMultiplier> storage(2);
  const QuantParams act = tsq::make_quant_params(0.1f, 0, DataType::int8);
  const tsq::Conv2DQuantization q{Shape{1, 4, 4, 3},
                                  act,
                                  Shape{2, 3, 3, 3},
                                  scales,
                                  act,
                                  Conv2DOptions{},
                                  RoundingMode::double_rounding};
  REQUIRE(tsq::prepare_conv2d(q, storage).is_ok());
  auto code = [&](const tsq::Conv2DQuantization& bad) {
    return tsq::prepare_conv2d(bad, storage).status().code();
  };

  // Ranks and dimensions.
  auto bad = q;
  bad.input_shape = Shape{4, 4, 3};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.filter_shape = Shape{2, 3, 3, 3, 1};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.input_shape = Shape{1, 0, 4, 3};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.filter_shape = Shape{2, 3, -1, 3};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  // Channel mismatch: C_in = 3 is not a multiple of the filter depth 2.
  bad = q;
  bad.filter_shape = Shape{2, 3, 3, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  // Two groups (C_in 4, depth 2) but 3 output channels.
  bad = q;
  bad.input_shape = Shape{1, 4, 4, 4};
  bad.filter_shape = Shape{3, 3, 3, 2};
  const std::vector<float> three = {0.1f, 0.1f, 0.1f};
  bad.filter_scales = three;
  std::vector<QuantizedMultiplier> storage3(3);
  CHECK(tsq::prepare_conv2d(bad, storage3).status().code() == ErrorCode::shape_mismatch);
  // Per-axis count: 3 scales for 2 output channels.
  bad = q;
  bad.filter_scales = three;
  CHECK(tsq::prepare_conv2d(bad, storage3).status().code() == ErrorCode::shape_mismatch);
  // Bad scales.
  for (const float scale : {-0.1f, 0.0f, std::nanf(""), INFINITY}) {
    bad = q;
    const std::vector<float> one_bad = {0.01f, scale};
    bad.filter_scales = one_bad;
    CHECK(code(bad) == ErrorCode::invalid_scale);
  }
  bad = q;
  bad.input.scale = std::nanf("");
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.output.scale = 0.0f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.output.zero_point = 200;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // VALID with a dilated kernel larger than the input: extent (3 - 1) * 2 + 1 = 5 > 4.
  bad = q;
  bad.options.dilation_height = 2;
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.options.padding = Padding::same;  // SAME accepts it
  CHECK(code(bad) == ErrorCode::ok);
  bad = q;
  bad.filter_shape = Shape{2, 3, 5, 3};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  // Stride and dilation < 1.
  bad = q;
  bad.options.stride_height = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.options.stride_width = -1;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.options.dilation_width = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // A dilated extent that int32 coordinates cannot hold.
  bad = q;
  bad.options.padding = Padding::same;
  bad.options.dilation_height = 2000000000;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // Too-small multiplier storage.
  std::vector<QuantizedMultiplier> too_small(1);
  CHECK(tsq::prepare_conv2d(q, too_small).status().code() == ErrorCode::buffer_too_small);
  // Types: int8 -> int16, uint8, int16 with a zero point.
  bad = q;
  bad.output = tsq::make_quant_params(0.1f, 0, DataType::int16);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input = bad.output = tsq::make_quant_params(0.1f, 128, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input = tsq::make_quant_params(0.1f, 3, DataType::int16);
  bad.output = tsq::make_quant_params(0.1f, 0, DataType::int16);
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // Multipliers too large: >= 2^30 in double rounding; shift >= 8 for int16 (M = 512).
  bad = q;
  bad.output.scale = 1e-12f;
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  bad = q;
  bad.input = tsq::make_quant_params(1.0f, 0, DataType::int16);
  bad.output = tsq::make_quant_params(1.0f / 512.0f, 0, DataType::int16);
  const std::vector<float> unit = {1.0f};
  bad.filter_scales = unit;
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  // Output shape function errors.
  CHECK(tsq::conv2d_output_shape(Shape{1, 4, 4}, Shape{2, 3, 3, 3}, {}).status().code() ==
        ErrorCode::shape_mismatch);
  Conv2DOptions zero_stride;
  zero_stride.stride_width = 0;
  CHECK(
      tsq::conv2d_output_shape(Shape{1, 4, 4, 3}, Shape{2, 3, 3, 3}, zero_stride).status().code() ==
      ErrorCode::invalid_argument);

  // Eval with views that do not match the prepared layer.
  const auto params = tsq::prepare_conv2d(q, storage).value();
  std::vector<std::int8_t> input(48), filter(54), output(8);
  std::vector<std::int32_t> bias(2);
  const TensorView<const std::int8_t> in(input.data(), Shape{1, 4, 4, 3});
  const TensorView<const std::int8_t> f(filter.data(), Shape{2, 3, 3, 3});
  const TensorView<std::int8_t> out(output.data(), Shape{1, 2, 2, 2});
  REQUIRE(tsq::reference::conv2d(params, in, f, bias, out).is_ok());
  CHECK(tsq::reference::conv2d(
            params, TensorView<const std::int8_t>(input.data(), Shape{1, 4, 3, 4}), f, bias, out)
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::conv2d(params, in,
                               TensorView<const std::int8_t>(filter.data(), Shape{2, 3, 3, 3, 1}),
                               bias, out)
            .code() == ErrorCode::shape_mismatch);
  const std::vector<std::int32_t> long_bias(3);
  CHECK(tsq::reference::conv2d(params, in, f, long_bias, out).code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::conv2d(params, in, f, bias,
                               TensorView<std::int8_t>(output.data(), Shape{1, 2, 2, 1}))
            .code() == ErrorCode::shape_mismatch);
  const std::ptrdiff_t reversed_strides[] = {48, 12, 3, -1};
  CHECK(tsq::reference::conv2d(params,
                               TensorView<const std::int8_t>::strided(
                                   input.data() + 2, Shape{1, 4, 4, 3}, reversed_strides),
                               f, bias, out)
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::conv2d(tsq::Conv2DParams{}, in, f, bias, out).code() ==
        ErrorCode::not_prepared);
  // int16 views with int8 params.
  std::vector<std::int16_t> input16(48), output16(8);
  const std::vector<std::int64_t> bias64(2);
  CHECK(tsq::reference::conv2d(params,
                               TensorView<const std::int16_t>(input16.data(), Shape{1, 4, 4, 3}), f,
                               bias64, TensorView<std::int16_t>(output16.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::unsupported_type);
  // An int16 bias that would take the int64 accumulator past 2^47.
  auto q16 = q;
  q16.input = q16.output = tsq::make_quant_params(0.1f, 0, DataType::int16);
  const auto params16 = tsq::prepare_conv2d(q16, storage).value();
  const TensorView<const std::int16_t> in16(input16.data(), Shape{1, 4, 4, 3});
  const TensorView<std::int16_t> out16(output16.data(), Shape{1, 2, 2, 2});
  CHECK(tsq::reference::conv2d(params16, in16, f, bias64, out16).is_ok());
  const std::vector<std::int64_t> huge_bias = {0, -(std::int64_t{1} << 47)};
  CHECK(tsq::reference::conv2d(params16, in16, f, huge_bias, out16).code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::reference::conv2d(params16, in, f, bias, out).code() == ErrorCode::unsupported_type);

  // Float kernel: output shape, bias length, options.
  std::vector<float> xf(48), wf(54), yf(8);
  const TensorView<const float> xin(xf.data(), Shape{1, 4, 4, 3});
  const TensorView<const float> wfil(wf.data(), Shape{2, 3, 3, 3});
  CHECK(tsq::floating::conv2d({}, xin, wfil, {}, TensorView<float>(yf.data(), Shape{1, 2, 2, 2}))
            .is_ok());
  CHECK(tsq::floating::conv2d({}, xin, wfil, {}, TensorView<float>(yf.data(), Shape{1, 2, 4, 1}))
            .code() == ErrorCode::shape_mismatch);
  const std::vector<float> long_float_bias(3);
  CHECK(tsq::floating::conv2d({}, xin, wfil, long_float_bias,
                              TensorView<float>(yf.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::floating::conv2d(zero_stride, xin, wfil, {},
                              TensorView<float>(yf.data(), Shape{1, 2, 2, 2}))
            .code() == ErrorCode::invalid_argument);

  // Hybrid: prepare errors, scratch too small, views that do not match.
  CHECK(tsq::hybrid::prepare_conv2d(Shape{1, 4, 4, 3}, Shape{2, 3, 3, 3}, three, {})
            .status()
            .code() == ErrorCode::shape_mismatch);
  const std::vector<float> negative = {0.1f, -0.1f};
  CHECK(tsq::hybrid::prepare_conv2d(Shape{1, 4, 4, 3}, Shape{2, 3, 3, 3}, negative, {})
            .status()
            .code() == ErrorCode::invalid_scale);
  CHECK(tsq::hybrid::prepare_conv2d(Shape{1, 16, 16, 257}, Shape{2, 16, 16, 257}, scales, {})
            .status()
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::hybrid::prepare_conv2d(Shape{1, 4, 4, 3}, Shape{2, 3, 3, 2}, scales, {})
            .status()
            .code() == ErrorCode::shape_mismatch);
  const auto hybrid =
      tsq::hybrid::prepare_conv2d(Shape{1, 4, 4, 3}, Shape{2, 3, 3, 3}, scales, {}).value();
  CHECK(tsq::hybrid::conv2d_scratch_size(hybrid) == 48);
  std::vector<std::int8_t> scratch(48);
  const TensorView<float> yout(yf.data(), Shape{1, 2, 2, 2});
  CHECK(tsq::hybrid::conv2d(hybrid, xin, f, {}, yout, scratch).is_ok());
  std::vector<std::int8_t> short_scratch(47);
  CHECK(tsq::hybrid::conv2d(hybrid, xin, f, {}, yout, short_scratch).code() ==
        ErrorCode::buffer_too_small);
  CHECK(tsq::hybrid::conv2d(hybrid, TensorView<const float>(xf.data(), Shape{1, 4, 3, 4}), f, {},
                            yout, scratch)
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::hybrid::conv2d(hybrid, xin,
                            TensorView<const std::int8_t>(filter.data(), Shape{2, 3, 3, 3, 1}), {},
                            yout, scratch)
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::hybrid::conv2d(hybrid, xin, f, long_float_bias, yout, scratch).code() ==
        ErrorCode::shape_mismatch);
  CHECK(tsq::hybrid::conv2d(tsq::hybrid::Conv2DParams{}, xin, f, {}, yout, scratch).code() ==
        ErrorCode::not_prepared);
}
