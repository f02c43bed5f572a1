// SPDX-License-Identifier: Apache-2.0
// DepthwiseConv2D: hand-computed integers (depth multiplier, SAME with an odd padding total,
// stride 2, dilation 2), equality with the grouped Conv2D, integer vs float on random geometries
// in both rounding modes with depth multipliers 1..5, the ECG model's first layer, the
// accumulator limit and every validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"

using tsq::DataType;
using tsq::DepthwiseConv2DOptions;
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

namespace {

struct Int8Depthwise
    : tsq_test::Int8ConvLayer<DepthwiseConv2DOptions, tsq::DepthwiseConv2DQuantization> {
  tsq::Result<tsq::DepthwiseConv2DParams> prepare(RoundingMode rounding) {
    const tsq::DepthwiseConv2DQuantization q = quantization(rounding);  // sizes `multipliers` first
    return tsq::prepare_depthwise_conv2d(q, multipliers);
  }

  void run(RoundingMode rounding) {
    const auto params = prepare(rounding);
    REQUIRE(params.is_ok());
    const auto output_shape =
        tsq::depthwise_conv2d_output_shape(input_shape, filter_shape, options);
    REQUIRE(output_shape.is_ok());
    output.assign(output_shape->element_count(), 0);
    REQUIRE(tsq::reference::depthwise_conv2d(
                params.value(), TensorView<const std::int8_t>(input.data(), input_shape),
                TensorView<const std::int8_t>(filter.data(), filter_shape), bias,
                TensorView<std::int8_t>(output.data(), output_shape.value()))
                .is_ok());
  }
};

std::vector<float> run_float(const DepthwiseConv2DOptions& options, const std::vector<float>& input,
                             const Shape& input_shape, const std::vector<float>& filter,
                             const Shape& filter_shape, const std::vector<float>& bias) {
  const auto output_shape = tsq::depthwise_conv2d_output_shape(input_shape, filter_shape, options);
  REQUIRE(output_shape.is_ok());
  std::vector<float> output(output_shape->element_count());
  REQUIRE(
      tsq::floating::depthwise_conv2d(options, TensorView<const float>(input.data(), input_shape),
                                      TensorView<const float>(filter.data(), filter_shape), bias,
                                      TensorView<float>(output.data(), output_shape.value()))
          .is_ok());
  return output;
}

// Dequantizes a depthwise filter, whose channel is the last axis.
std::vector<float> dequantize_last_axis(const std::vector<std::int8_t>& q,
                                        const std::vector<float>& scales, std::size_t channels) {
  std::vector<float> out(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    out[i] = static_cast<float>(q[i]) * scales[scales.size() == 1 ? 0 : i % channels];
  }
  return out;
}

struct RandomGeometry {
  Shape input_shape, filter_shape;
  DepthwiseConv2DOptions options;
};

// k x 1, 1 x k, square or any kernel, strides 1-3, dilations 1-2, VALID or SAME, input
// channels 1..16, depth multiplier 1..5, batch 1-2.
RandomGeometry random_geometry(tsq_test::Rng& rng, int trial) {
  RandomGeometry g;
  const tsq_test::RandomConvWindow w = tsq_test::random_conv_window(rng, trial, 12, 12);
  tsq_test::apply_window(w, g.options);
  g.options.depth_multiplier = 1 + trial % 5;
  const std::int32_t channels = tsq_test::pick(rng, 1, 16);
  g.input_shape = Shape{tsq_test::pick(rng, 1, 2), w.height, w.width, channels};
  g.filter_shape = Shape{1, w.kernel_height, w.kernel_width, channels * g.options.depth_multiplier};
  return g;
}

}  // namespace

TEST_CASE("DepthwiseConv2D int8: depth multiplier 2, SAME with an odd padding total",
          "[kernels][depthwise_conv2d]") {
  // Input W = 4, C_in = 2 (real values, stored with Z_in = 2), m = 2, kernel 1x2, SAME:
  // out = 4, total = 3 + 2 - 4 = 1 -> pad_left = 0, the last output sees only tap 0.
  //   x[w] = (1, -1), (2, 3), (0, 4), (5, -2)
  //   filter tap 0 = {1, 2, -1, 3}, tap 1 = {2, 0, 1, -2}; channel c = i * 2 + j reads input i.
  //   scales {1, 1, 0.5, 1} (M = 1 or 0.5), bias {0, 1, 0, -1}, Z_out = 3.
  //   c0 (i0): 1+4 = 5, 2+0 = 2, 0+10 = 10, 5       -> 8, 5, 13, 8
  //   c1 (i0): 2+0+1 = 3, 4+0+1 = 5, 0+0+1 = 1, 10+1 -> 6, 8, 4, 14
  //   c2 (i1): (1+3)/2 = 2, (-3+4)/2 = 0.5 -> 1 (shift 0: ties up in both modes),
  //            (-4-2)/2 = -3, 2/2 = 1                  -> 5, 4, 0, 4
  //   c3 (i1): -3-6-1 = -10, 9-8-1 = 0, 12+4-1 = 15, -6-1 = -7 -> -7, 3, 18, -4
  Int8Depthwise conv;
  conv.input_shape = Shape{1, 1, 4, 2};
  conv.filter_shape = Shape{1, 1, 2, 4};
  conv.input = {3, 1, 4, 5, 2, 6, 7, 0};
  conv.filter = {1, 2, -1, 3, 2, 0, 1, -2};
  conv.bias = {0, 1, 0, -1};
  conv.filter_scales = {1.0f, 1.0f, 0.5f, 1.0f};
  conv.input_params = tsq::make_quant_params(1.0f, 2, DataType::int8);
  conv.output_params = tsq::make_quant_params(1.0f, 3, DataType::int8);
  conv.options.padding = Padding::same;
  conv.options.depth_multiplier = 2;
  for (const RoundingMode rounding : kBothModes) {
    conv.run(rounding);
    CHECK(conv.output ==
          std::vector<std::int8_t>{8, 6, 5, -7, 5, 8, 4, 3, 13, 4, 0, 18, 8, 14, 4, -4});
  }
  // ReLU clamps at Z_out = 3.
  conv.options.activation = FusedActivation::relu;
  conv.run(RoundingMode::double_rounding);
  CHECK(conv.output == std::vector<std::int8_t>{8, 6, 5, 3, 5, 8, 4, 3, 13, 4, 3, 18, 8, 14, 4, 3});
}

TEST_CASE("DepthwiseConv2D int8: stride 2 and dilation 2, both rounding modes",
          "[kernels][depthwise_conv2d]") {
  // The 1-D case of the Conv2D test (one channel, m = 1, so depthwise = conv): real input 1..7
  // (Z_in = -3), kernel [1, -1, 2], stride 2, dilation 2, SAME: pad_before = 2, sums
  // 5, 8, 12, -2; M = 0.25: 1.25 -> 2 (double: round(5/2) = 3, then round(3/2) = 2) / 1
  // (single), 2, 3, and -0.5 -> -1 (double) / 0 (single); + Z_out = 10.
  // Along the height as well as the width.
  for (const bool along_height : {false, true}) {
    Int8Depthwise conv;
    conv.input_shape = along_height ? Shape{1, 7, 1, 1} : Shape{1, 1, 7, 1};
    conv.filter_shape = along_height ? Shape{1, 3, 1, 1} : Shape{1, 1, 3, 1};
    conv.input = {-2, -1, 0, 1, 2, 3, 4};
    conv.filter = {1, -1, 2};
    conv.filter_scales = {0.25f};
    conv.input_params = tsq::make_quant_params(1.0f, -3, DataType::int8);
    conv.output_params = tsq::make_quant_params(1.0f, 10, DataType::int8);
    conv.options.padding = Padding::same;
    (along_height ? conv.options.stride_height : conv.options.stride_width) = 2;
    (along_height ? conv.options.dilation_height : conv.options.dilation_width) = 2;
    conv.run(RoundingMode::double_rounding);
    CHECK(conv.output == std::vector<std::int8_t>{12, 12, 13, 9});
    conv.run(RoundingMode::single_rounding);
    CHECK(conv.output == std::vector<std::int8_t>{11, 12, 13, 10});
  }
}

TEST_CASE("DepthwiseConv2D output shapes, and the ECG model's first layer",
          "[kernels][depthwise_conv2d]") {
  // ECG: Conv1D with C_in = 1 and depth multiplier 5 as DEPTHWISE_CONV_2D with H = 1.
  DepthwiseConv2DOptions options;
  options.depth_multiplier = 5;
  options.padding = Padding::same;
  CHECK(
      tsq::depthwise_conv2d_output_shape(Shape{1, 1, 187, 1}, Shape{1, 1, 5, 5}, options).value() ==
      (Shape{1, 1, 187, 5}));
  options.padding = Padding::valid;
  options.stride_width = 2;
  CHECK(
      tsq::depthwise_conv2d_output_shape(Shape{1, 1, 187, 1}, Shape{1, 1, 5, 5}, options).value() ==
      (Shape{1, 1, 92, 5}));
  options.depth_multiplier = 1;
  options.padding = Padding::same;
  options.dilation_height = 2;
  options.stride_height = 3;
  const auto geometry =
      tsq::compute_depthwise_conv2d_geometry(Shape{2, 10, 9, 3}, Shape{1, 4, 3, 3}, options);
  REQUIRE(geometry.is_ok());
  CHECK(nhwc_shape(geometry->output) == (Shape{2, 4, 5, 3}));
  CHECK(geometry->pad_top == 3);   // total = 3*3 + 7 - 10 = 6
  CHECK(geometry->pad_left == 1);  // stride 2: out 5, total = 4*2 + 3 - 9 = 2
}

namespace {

Compared compare_int8_with_float(tsq_test::Rng& rng, const Shape& input_shape,
                                 const Shape& filter_shape, const DepthwiseConv2DOptions& options,
                                 bool per_channel, int trial) {
  Int8Depthwise conv;
  conv.input_shape = input_shape;
  conv.filter_shape = filter_shape;
  conv.options = options;
  const std::int32_t channels = filter_shape[3];
  const auto taps = static_cast<std::size_t>(filter_shape[1] * filter_shape[2]);
  const std::vector<float> real_bias =
      tsq_test::randomize_int8_conv(rng, conv, channels, taps, per_channel);

  const std::vector<float> x = tsq_test::dequantize_all(conv.input, conv.input_params);
  const std::vector<float> w =
      dequantize_last_axis(conv.filter, conv.filter_scales, static_cast<std::size_t>(channels));
  const std::vector<float> y = run_float(options, x, input_shape, w, filter_shape, real_bias);
  DepthwiseConv2DOptions linear = options;
  linear.activation = FusedActivation::none;
  const std::vector<float> magnitude =
      run_float(linear, absolute(x), input_shape, absolute(w), filter_shape, absolute(real_bias));
  return tsq_test::compare_int8_conv_with_float(conv, y, magnitude, channels, taps, per_channel,
                                                trial);
}

}  // namespace

TEST_CASE("DepthwiseConv2D int8 vs float on random geometries, depth multipliers 1..5",
          "[kernels][depthwise_conv2d]") {
  // Bound per output, as for Conv2D: bias rounding S_in*S_w[c]/2, requantization S_out/2
  // (single rounding) or S_out * (1/2 + 2^-(r+1)) (double rounding, right shift r), float32
  // rounding (taps + 4) * 2^-24 * (sum |W X| + |bias|) + 2 * 2^-24 * |y|, and the clamp applied
  // to both.
  tsq_test::Rng rng(5);
  Compared compared;
  for (int trial = 0; trial < 300; ++trial) {
    const RandomGeometry g = random_geometry(rng, trial);
    compared += compare_int8_with_float(rng, g.input_shape, g.filter_shape, g.options,
                                        trial % 3 != 0, trial);
  }
  // The ECG model's first layer: C_in = 1, m = 5, H = 1, SAME.
  DepthwiseConv2DOptions ecg;
  ecg.padding = Padding::same;
  ecg.depth_multiplier = 5;
  ecg.activation = FusedActivation::relu;
  compared += compare_int8_with_float(rng, Shape{2, 1, 187, 1}, Shape{1, 1, 7, 5}, ecg, true, -1);
  CHECK(compared.outputs > 50000);
  CHECK(compared.unsaturated > compared.outputs / 2);
}

TEST_CASE("DepthwiseConv2D equals Conv2D with one group per input channel",
          "[kernels][depthwise_conv2d]") {
  // Depthwise with multiplier m is the grouped convolution with G = C_in groups of one input
  // channel and m filters each, filter transposed from [1, KH, KW, C_in*m] to
  // [C_in*m, KH, KW, 1]: the outputs must be identical integers in both modes.
  tsq_test::Rng rng(11);
  for (int trial = 0; trial < 60; ++trial) {
    const RandomGeometry g = random_geometry(rng, trial);
    const std::int32_t channels = g.filter_shape[3];
    const std::int32_t taps = g.filter_shape[1] * g.filter_shape[2];
    Int8Depthwise depthwise;
    depthwise.input_shape = g.input_shape;
    depthwise.filter_shape = g.filter_shape;
    depthwise.options = g.options;
    depthwise.input =
        tsq_test::random_integers<std::int8_t>(rng, g.input_shape.element_count(), -128, 127);
    depthwise.filter =
        tsq_test::random_integers<std::int8_t>(rng, g.filter_shape.element_count(), -127, 127);
    depthwise.bias = tsq_test::random_integers<std::int32_t>(
        rng, static_cast<std::size_t>(channels), -5000, 5000);
    depthwise.filter_scales =
        tsq_test::random_floats(rng, static_cast<std::size_t>(channels), 1e-3f, 2e-2f);
    depthwise.input_params = tsq_test::random_int8_params(rng);
    // Most outputs inside the int8 range (see the int8 vs float test).
    depthwise.output_params =
        tsq::make_quant_params(depthwise.input_params.scale * depthwise.filter_scales[0] * 73.0f *
                                   120.0f / 40.0f * std::sqrt(static_cast<float>(taps)),
                               static_cast<std::int32_t>(rng() % 50), DataType::int8);

    std::vector<std::int8_t> transposed(depthwise.filter.size());
    for (std::int32_t c = 0; c < channels; ++c) {
      for (std::int32_t t = 0; t < taps; ++t) {
        transposed[static_cast<std::size_t>(c * taps + t)] =
            depthwise.filter[static_cast<std::size_t>(t * channels + c)];
      }
    }
    tsq::Conv2DOptions conv_options;
    conv_options.padding = g.options.padding;
    conv_options.stride_height = g.options.stride_height;
    conv_options.stride_width = g.options.stride_width;
    conv_options.dilation_height = g.options.dilation_height;
    conv_options.dilation_width = g.options.dilation_width;
    conv_options.activation = g.options.activation;
    const Shape conv_filter{channels, g.filter_shape[1], g.filter_shape[2], 1};
    for (const RoundingMode rounding : kBothModes) {
      depthwise.run(rounding);
      std::vector<QuantizedMultiplier> multipliers(static_cast<std::size_t>(channels));
      const tsq::Conv2DQuantization q{
          g.input_shape,           depthwise.input_params, conv_filter, depthwise.filter_scales,
          depthwise.output_params, conv_options,           rounding};
      const auto params = tsq::prepare_conv2d(q, multipliers);
      REQUIRE(params.is_ok());
      std::vector<std::int8_t> output(depthwise.output.size());
      REQUIRE(tsq::reference::conv2d(
                  params.value(),
                  TensorView<const std::int8_t>(depthwise.input.data(), g.input_shape),
                  TensorView<const std::int8_t>(transposed.data(), conv_filter), depthwise.bias,
                  TensorView<std::int8_t>(output.data(), nhwc_shape(params->geometry.output)))
                  .is_ok());
      INFO("trial " << trial);
      REQUIRE(output == depthwise.output);
    }
  }
}

TEST_CASE("DepthwiseConv2D int8: the largest filter volume at worst-case values",
          "[kernels][depthwise_conv2d]") {
  // KH * KW = 256 * 256 = 65536 = kMaxAccumulationDepth taps at 127 * 255 or 128 * 255:
  // the accumulator reaches 2,122,383,360 or 2,139,095,040 < 2^31; M = 2^-25 -> 63 and 64.
  const Shape shape{1, 256, 256, 1};
  for (const std::int8_t weight : {std::int8_t{127}, std::int8_t{-128}}) {
    for (const RoundingMode rounding : kBothModes) {
      Int8Depthwise conv;
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
      REQUIRE(conv.output.size() == 1);
      CHECK(conv.output[0] == (weight > 0 ? 63 : 64));
    }
  }
  Int8Depthwise too_long;
  too_long.input_shape = Shape{1, 1, 65537, 1};
  too_long.filter_shape = Shape{1, 1, 65537, 1};
  too_long.filter_scales = {0.01f};
  CHECK(too_long.prepare(RoundingMode::double_rounding).status().code() ==
        ErrorCode::invalid_argument);
}

TEST_CASE("DepthwiseConv2D validation errors", "[kernels][depthwise_conv2d]") {
  const std::vector<float> scales = {0.01f, 0.02f, 0.03f, 0.04f};
  std::vector<QuantizedMultiplier> storage(4);
  const QuantParams act = tsq::make_quant_params(0.1f, 0, DataType::int8);
  DepthwiseConv2DOptions options;
  options.depth_multiplier = 2;
  const tsq::DepthwiseConv2DQuantization q{Shape{1, 4, 4, 2},
                                           act,
                                           Shape{1, 3, 3, 4},
                                           scales,
                                           act,
                                           options,
                                           RoundingMode::double_rounding};
  REQUIRE(tsq::prepare_depthwise_conv2d(q, storage).is_ok());
  auto code = [&](const tsq::DepthwiseConv2DQuantization& bad) {
    return tsq::prepare_depthwise_conv2d(bad, storage).status().code();
  };
  auto bad = q;
  bad.input_shape = Shape{4, 4, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.filter_shape = Shape{3, 3, 4};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.input_shape = Shape{1, 4, 0, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  // Filter dim 0 must be 1; dim 3 must be C_in * m.
  bad = q;
  bad.filter_shape = Shape{2, 3, 3, 4};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.options.depth_multiplier = 3;
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad = q;
  bad.options.depth_multiplier = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // Per-axis count and bad scales.
  bad = q;
  const std::vector<float> three = {0.1f, 0.1f, 0.1f};
  bad.filter_scales = three;
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  for (const float scale : {-1.0f, 0.0f, std::nanf(""), INFINITY}) {
    bad = q;
    const std::vector<float> one_bad = {0.01f, 0.01f, scale, 0.01f};
    bad.filter_scales = one_bad;
    CHECK(code(bad) == ErrorCode::invalid_scale);
  }
  bad = q;
  bad.input.scale = -0.1f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  // VALID kernel larger than the input; SAME accepts it.
  bad = q;
  bad.filter_shape = Shape{1, 5, 3, 4};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.options.padding = Padding::same;
  CHECK(code(bad) == ErrorCode::ok);
  // Stride and dilation < 1.
  bad = q;
  bad.options.stride_width = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.options.dilation_height = 0;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  // Storage, types, multiplier range.
  std::vector<QuantizedMultiplier> too_small(3);
  CHECK(tsq::prepare_depthwise_conv2d(q, too_small).status().code() == ErrorCode::buffer_too_small);
  bad = q;
  bad.input = bad.output = tsq::make_quant_params(0.1f, 0, DataType::int16);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.output.scale = 1e-12f;
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  CHECK(tsq::depthwise_conv2d_output_shape(Shape{1, 4, 4, 2}, Shape{1, 3, 3, 3}, options)
            .status()
            .code() == ErrorCode::shape_mismatch);

  // Eval with views that do not match the prepared layer.
  const auto params = tsq::prepare_depthwise_conv2d(q, storage).value();
  std::vector<std::int8_t> input(32), filter(36), output(16);
  std::vector<std::int32_t> bias(4);
  const TensorView<const std::int8_t> in(input.data(), Shape{1, 4, 4, 2});
  const TensorView<const std::int8_t> f(filter.data(), Shape{1, 3, 3, 4});
  const TensorView<std::int8_t> out(output.data(), Shape{1, 2, 2, 4});
  REQUIRE(tsq::reference::depthwise_conv2d(params, in, f, bias, out).is_ok());
  CHECK(tsq::reference::depthwise_conv2d(
            params, TensorView<const std::int8_t>(input.data(), Shape{1, 4, 2, 4}), f, bias, out)
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::depthwise_conv2d(
            params, in, TensorView<const std::int8_t>(filter.data(), Shape{4, 3, 3, 1}), bias, out)
            .code() == ErrorCode::shape_mismatch);
  const std::vector<std::int32_t> short_bias(3);
  CHECK(tsq::reference::depthwise_conv2d(params, in, f, short_bias, out).code() ==
        ErrorCode::shape_mismatch);
  CHECK(tsq::reference::depthwise_conv2d(params, in, f, bias,
                                         TensorView<std::int8_t>(output.data(), Shape{1, 4, 1, 4}))
            .code() == ErrorCode::shape_mismatch);
  const std::ptrdiff_t column_major[] = {32, 1, 4, 16};
  CHECK(tsq::reference::depthwise_conv2d(
            params,
            TensorView<const std::int8_t>::strided(input.data(), Shape{1, 4, 4, 2}, column_major),
            f, bias, out)
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::depthwise_conv2d(tsq::DepthwiseConv2DParams{}, in, f, bias, out).code() ==
        ErrorCode::not_prepared);

  // Float kernel.
  std::vector<float> xf(32), wf(36), yf(16);
  const TensorView<const float> xin(xf.data(), Shape{1, 4, 4, 2});
  const TensorView<const float> wfil(wf.data(), Shape{1, 3, 3, 4});
  CHECK(tsq::floating::depthwise_conv2d(options, xin, wfil, {},
                                        TensorView<float>(yf.data(), Shape{1, 2, 2, 4}))
            .is_ok());
  CHECK(tsq::floating::depthwise_conv2d(options, xin, wfil, {},
                                        TensorView<float>(yf.data(), Shape{1, 2, 4, 2}))
            .code() == ErrorCode::shape_mismatch);
  DepthwiseConv2DOptions zero_multiplier = options;
  zero_multiplier.depth_multiplier = 0;
  CHECK(tsq::floating::depthwise_conv2d(zero_multiplier, xin, wfil, {},
                                        TensorView<float>(yf.data(), Shape{1, 2, 2, 4}))
            .code() == ErrorCode::invalid_argument);
  const std::vector<float> long_bias(5);
  CHECK(tsq::floating::depthwise_conv2d(options, xin, wfil, long_bias,
                                        TensorView<float>(yf.data(), Shape{1, 2, 2, 4}))
            .code() == ErrorCode::shape_mismatch);
}
