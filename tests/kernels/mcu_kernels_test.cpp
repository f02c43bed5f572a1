// SPDX-License-Identifier: Apache-2.0
// mcu::depthwise_conv2d and mcu::max_pool2d (kernels/mcu/) against the specification,
// reference::depthwise_conv2d and reference::max_pool2d: random layers with padding, strides,
// dilations, depth multipliers, clamps, zero points and both rounding modes. Every output byte
// must be equal.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "tsq/kernels/mcu/depthwise_conv2d.hpp"
#include "tsq/kernels/mcu/max_pool2d.hpp"
#include "tsq/kernels/prepared.hpp"

namespace {

using tsq::Shape;

struct Rng {
  std::mt19937 engine{20261206};
  std::int32_t operator()(std::int32_t lo, std::int32_t hi) {
    return std::uniform_int_distribution<std::int32_t>(lo, hi)(engine);
  }
};

std::vector<std::int8_t> random_bytes(Rng& rng, std::size_t count) {
  std::vector<std::int8_t> values(count);
  for (auto& v : values) v = static_cast<std::int8_t>(rng(-128, 127));
  return values;
}

}  // namespace

TEST_CASE("mcu::depthwise_conv2d equals reference::depthwise_conv2d bit for bit",
          "[kernels][mcu]") {
  Rng rng;
  std::size_t compared = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const std::int32_t height = rng(1, 20), width = trial % 3 == 0 ? 1 : rng(1, 12);
    const std::int32_t channels = rng(1, 6), multiplier = rng(1, 4);
    const std::int32_t kh = rng(1, std::min(height, 4) + (trial % 2)), kw = rng(1, 3);
    tsq::DepthwiseConv2DQuantization q;
    q.input_shape = Shape{1, height, width, channels};
    q.input = tsq::make_quant_params(0.04f, rng(-128, 127), tsq::DataType::int8);
    q.filter_shape = Shape{1, kh, kw, channels * multiplier};
    std::vector<float> scales(trial % 4 == 0 ? 1 : static_cast<std::size_t>(channels * multiplier));
    for (float& s : scales) s = 0.003f + 0.0001f * static_cast<float>(rng(0, 100));
    q.filter_scales = tsq::Span<const float>(scales.data(), scales.size());
    q.output = tsq::make_quant_params(0.02f + 0.002f * static_cast<float>(rng(0, 20)),
                                      rng(-128, 127), tsq::DataType::int8);
    q.options.padding = trial % 2 == 0 ? tsq::Padding::same : tsq::Padding::valid;
    q.options.stride_height = rng(1, 2);
    q.options.stride_width = rng(1, 2);
    q.options.dilation_height = trial % 5 == 0 ? 2 : 1;
    q.options.dilation_width = trial % 7 == 0 ? 2 : 1;
    q.options.depth_multiplier = multiplier;
    q.options.activation = trial % 3 == 1 ? tsq::FusedActivation::relu : tsq::FusedActivation::none;
    q.rounding =
        trial % 4 < 2 ? tsq::RoundingMode::double_rounding : tsq::RoundingMode::single_rounding;
    auto prepared = tsq::prepare_owned_depthwise_conv2d(q);
    if (!prepared.is_ok()) continue;  // a geometry with no output (dilated kernel too large)
    const Shape output_shape = tsq::nhwc_shape(prepared.value()->geometry.output);
    const auto input = random_bytes(rng, q.input_shape.element_count());
    const auto filter = random_bytes(rng, q.filter_shape.element_count());
    std::vector<std::int32_t> bias(
        trial % 6 == 5 ? 0 : static_cast<std::size_t>(channels * multiplier));
    for (auto& b : bias) b = rng(-5000, 5000);
    std::vector<std::int8_t> expected(output_shape.element_count()),
        got(output_shape.element_count(), 0x55);
    const tsq::TensorView<const std::int8_t> in(input.data(), q.input_shape);
    const tsq::TensorView<const std::int8_t> weights(filter.data(), q.filter_shape);
    const tsq::Span<const std::int32_t> b(bias.data(), bias.size());
    REQUIRE(tsq::reference::depthwise_conv2d(
                prepared.value(), in, weights, b,
                tsq::TensorView<std::int8_t>(expected.data(), output_shape))
                .is_ok());
    REQUIRE(tsq::mcu::depthwise_conv2d(prepared.value(), in, weights, b,
                                       tsq::TensorView<std::int8_t>(got.data(), output_shape))
                .is_ok());
    CHECK(got == expected);
    ++compared;
  }
  CHECK(compared >= 80);  // a few random geometries have no output and are skipped
}

TEST_CASE("mcu::max_pool2d equals reference::max_pool2d bit for bit", "[kernels][mcu]") {
  Rng rng;
  for (int trial = 0; trial < 100; ++trial) {
    const std::int32_t height = rng(1, 24), width = trial % 3 == 0 ? 1 : rng(1, 10);
    tsq::MaxPool2DQuantization q;
    q.input_shape = Shape{rng(1, 2), height, width, rng(1, 40)};
    q.input = tsq::make_quant_params(0.05f, rng(-128, 127), tsq::DataType::int8);
    q.output = q.input;
    q.window.filter_height = rng(1, std::min(height, 3));
    q.window.filter_width = rng(1, std::min(width, 3));
    q.window.stride_height = rng(1, 3);
    q.window.stride_width = rng(1, 3);
    q.window.padding = trial % 2 == 0 ? tsq::Padding::same : tsq::Padding::valid;
    q.activation = trial % 4 == 1 ? tsq::FusedActivation::relu6 : tsq::FusedActivation::none;
    auto params = tsq::prepare_max_pool2d(q);
    REQUIRE(params.is_ok());
    const Shape output_shape = tsq::nhwc_shape(params->geometry.output);
    const auto input = random_bytes(rng, q.input_shape.element_count());
    std::vector<std::int8_t> expected(output_shape.element_count()),
        got(output_shape.element_count(), 0x55);
    const tsq::TensorView<const std::int8_t> in(input.data(), q.input_shape);
    REQUIRE(tsq::reference::max_pool2d(params.value(), in,
                                       tsq::TensorView<std::int8_t>(expected.data(), output_shape))
                .is_ok());
    REQUIRE(tsq::mcu::max_pool2d(params.value(), in,
                                 tsq::TensorView<std::int8_t>(got.data(), output_shape))
                .is_ok());
    CHECK(got == expected);
  }
  // The same errors as the reference: an output of the wrong shape.
  tsq::MaxPool2DQuantization q;
  q.input_shape = Shape{1, 8, 1, 4};
  q.input = q.output = tsq::make_quant_params(0.05f, 0, tsq::DataType::int8);
  q.window.filter_height = q.window.stride_height = 2;
  auto params = tsq::prepare_max_pool2d(q);
  REQUIRE(params.is_ok());
  std::vector<std::int8_t> input(32), output(20);
  CHECK(tsq::mcu::max_pool2d(params.value(),
                             tsq::TensorView<const std::int8_t>(input.data(), q.input_shape),
                             tsq::TensorView<std::int8_t>(output.data(), Shape{1, 5, 1, 4}))
            .code() == tsq::ErrorCode::shape_mismatch);
}
