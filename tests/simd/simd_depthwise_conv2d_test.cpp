// SPDX-License-Identifier: Apache-2.0
// simd::depthwise_conv2d against reference::depthwise_conv2d, and simd::requantize_int8 against
// the reference's requantization, bit for bit, on every path this CPU runs: random geometries
// (k x 1, 1 x k, square and general kernels, strides, dilations, VALID / SAME, batches), channel
// counts around every vector width and requantization period, depth multipliers, random
// quantizations (both rounding modes, per-channel and per-tensor, every shift); the ECG model's
// first layer; the owner; errors.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/simd/depthwise_conv2d.hpp"
#include "tsq/kernels/simd/requantize.hpp"

using tsq::ErrorCode;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_simd_test::pick;
using tsq_simd_test::Rng;

namespace {

struct DepthwiseLayer {
  Shape input_shape, filter_shape;
  tsq::DepthwiseConv2DOptions options;
  std::vector<std::int8_t> input, filter;
  tsq_simd_test::RandomQuantization q;

  tsq::DepthwiseConv2DQuantization quantization(RoundingMode rounding) const {
    tsq::DepthwiseConv2DQuantization dw;
    dw.input_shape = input_shape;
    dw.input = q.input;
    dw.filter_shape = filter_shape;
    dw.filter_scales = q.weight_scales;
    dw.output = q.output;
    dw.options = options;
    dw.options.activation = q.activation;
    dw.rounding = rounding;
    return dw;
  }
};

DepthwiseLayer make_layer(Rng& rng, const Shape& input_shape, std::int32_t kernel_height,
                          std::int32_t kernel_width, const tsq::DepthwiseConv2DOptions& options,
                          tsq_simd_test::Style style) {
  DepthwiseLayer layer;
  layer.input_shape = input_shape;
  layer.options = options;
  const std::int32_t channels = input_shape[3] * options.depth_multiplier;
  layer.filter_shape = Shape{1, kernel_height, kernel_width, channels};
  layer.input = tsq_test::random_integers<std::int8_t>(rng, input_shape.element_count(), -128, 127);
  layer.filter =
      tsq_test::random_integers<std::int8_t>(rng, layer.filter_shape.element_count(), -128, 127);
  layer.q = tsq_simd_test::random_quantization(rng, channels, kernel_height * kernel_width,
                                               pick(rng, 0, 1) == 0, style);
  return layer;
}

DepthwiseLayer random_layer(Rng& rng, int trial) {
  tsq_test::RandomConvWindow window = tsq_test::random_conv_window(rng, trial, 12, 14);
  if (trial % 8 == 1) {  // a column layer ([N, H, 1, C], K x 1): run as a row
    window.kernel_width = 1;
    window.width = 1;
  }
  tsq::DepthwiseConv2DOptions options;
  tsq_test::apply_window(window, options);
  options.depth_multiplier = trial % 3 == 0 ? pick(rng, 2, 5) : 1;
  // Output channels around 8, 16, 64 and the periods (lcm(C, 16) small or not).
  const std::int32_t input_channels = trial % 5 == 0   ? pick(rng, 15, 70)
                                      : trial % 7 == 0 ? pick(rng, 100, 140)
                                                       : pick(rng, 1, 20);
  const Shape input{pick(rng, 1, 2), window.height, window.width, input_channels};
  return make_layer(rng, input, window.kernel_height, window.kernel_width, options,
                    tsq_simd_test::random_style(rng));
}

void check_layer(Rng& rng, const DepthwiseLayer& layer, RoundingMode rounding, int trial) {
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_depthwise_conv2d(layer.quantization(rounding), multipliers);
  REQUIRE(params.is_ok());
  const Shape output_shape = tsq::nhwc_shape(params->geometry.output);
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  std::vector<std::int8_t> expected(output_shape.element_count());
  REQUIRE(tsq::reference::depthwise_conv2d(*params, input, filter, layer.q.bias,
                                           TensorView<std::int8_t>(expected.data(), output_shape))
              .is_ok());

  const auto simd_params = tsq::simd::prepare_depthwise_conv2d(*params);
  REQUIRE(simd_params.is_ok());
  const tsq::simd::PackedDepthwiseSize size = tsq::simd::depthwise_conv2d_packed_size(*simd_params);
  std::vector<std::int32_t> weights(size.weights);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed =
      tsq::simd::pack_depthwise_conv2d(*params, filter, layer.q.bias, weights, tiles);
  REQUIRE(packed.is_ok());
  const std::size_t scratch_size = tsq::simd::depthwise_conv2d_scratch_size(*simd_params);
  tsq_simd_test::Scratch scratch(scratch_size, static_cast<std::size_t>(pick(rng, 0, 63)));

  tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
    std::vector<std::int8_t> got(expected.size(), 0x11);
    const tsq::Status status = tsq::simd::depthwise_conv2d(
        *simd_params, input, *packed, TensorView<std::int8_t>(got.data(), output_shape),
        scratch.span());
    const tsq::Conv2DGeometry& g = params->geometry;
    INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " "
                  << tsq::rounding_mode_name(rounding) << " input " << g.input.batch << "x"
                  << g.input.height << "x" << g.input.width << "x" << g.input.channels
                  << " multiplier " << params->depth_multiplier << " filter " << g.filter_height
                  << "x" << g.filter_width << " stride " << g.stride_height << "," << g.stride_width
                  << " dilation " << g.dilation_height << "," << g.dilation_width << " pad "
                  << g.pad_top << "," << g.pad_left);
    REQUIRE(status.is_ok());
    const long difference = tsq_simd_test::first_difference(got, expected);
    INFO("first difference at " << difference);
    REQUIRE(difference == -1);
  });
}

}  // namespace

TEST_CASE("simd DepthwiseConv2D equals the reference on random geometries, every path",
          "[simd][depthwise]") {
  Rng rng(20240701);
  for (int trial = 0; trial < 1500; ++trial) {
    const DepthwiseLayer layer = random_layer(rng, trial);
    for (const RoundingMode rounding : tsq_test::kBothModes)
      check_layer(rng, layer, rounding, trial);
  }
}

TEST_CASE("simd DepthwiseConv2D equals the reference at the ECG model's shapes",
          "[simd][depthwise]") {
  Rng rng(7);
  tsq::DepthwiseConv2DOptions options;
  options.depth_multiplier = 5;
  const DepthwiseLayer ecg =
      make_layer(rng, {1, 1, 260, 1}, 1, 3, options, tsq_simd_test::typical_style());
  const DepthwiseLayer ecg_column =
      make_layer(rng, {1, 260, 1, 1}, 3, 1, options, tsq_simd_test::typical_style());
  options.depth_multiplier = 1;
  options.padding = tsq::Padding::same;
  const DepthwiseLayer deep =
      make_layer(rng, {1, 40, 6, 64}, 5, 1, options, tsq_simd_test::typical_style());
  for (const RoundingMode rounding : tsq_test::kBothModes) {
    check_layer(rng, ecg, rounding, 0);
    check_layer(rng, ecg_column, rounding, 0);
    check_layer(rng, deep, rounding, 0);
  }
}

TEST_CASE("simd requantize_int8 equals the reference's requantization", "[simd][requantize]") {
  Rng rng(99);
  for (int trial = 0; trial < 200; ++trial) {
    const std::int32_t channels = trial % 10 == 9 ? pick(rng, 990, 1030) : pick(rng, 1, 80);
    const bool per_channel = pick(rng, 0, 3) != 0;
    std::vector<tsq::QuantizedMultiplier> multipliers(per_channel ? channels : 1);
    for (tsq::QuantizedMultiplier& m : multipliers) {
      m = pick(rng, 0, 15) == 0
              ? tsq::QuantizedMultiplier{}
              : tsq::QuantizedMultiplier{pick(rng, 1 << 30, tsq::kInt32Max), pick(rng, -31, 30)};
    }
    std::vector<std::int32_t> bias;
    if (pick(rng, 0, 3) != 0)
      bias = tsq_test::random_integers<std::int32_t>(rng, static_cast<std::size_t>(channels),
                                                     tsq::kInt32Min, tsq::kInt32Max);
    const std::int32_t zero_point = pick(rng, -128, 127);
    tsq::ActivationRange range{pick(rng, -128, 0), pick(rng, 0, 127)};
    const std::size_t count = static_cast<std::size_t>(channels) *
                              static_cast<std::size_t>(pick(rng, 1, trial % 10 == 9 ? 3 : 40));
    std::vector<std::int32_t> accumulators(count);
    for (std::int32_t& a : accumulators) {
      const std::int32_t kind = pick(rng, 0, 3);
      a = kind == 0   ? static_cast<std::int32_t>(rng())
          : kind == 1 ? pick(rng, -300, 300)
                      : pick(rng, -(1 << 20), 1 << 20);
    }
    for (const RoundingMode rounding : tsq_test::kBothModes) {
      std::vector<tsq::simd::TileRequantization> storage(
          tsq::simd::requantization_pattern_tiles(channels));
      const auto pattern = tsq::simd::make_requantization_pattern(
          "test", channels, bias, multipliers, zero_point, range, rounding, storage);
      REQUIRE(pattern.is_ok());
      std::vector<std::int8_t> expected(count);
      const std::int32_t* bias_data = bias.empty() ? nullptr : bias.data();
      for (std::size_t i = 0; i < count; ++i) {
        const auto channel = static_cast<std::int32_t>(i % static_cast<std::size_t>(channels));
        const std::int32_t value =
            rounding == RoundingMode::double_rounding
                ? tsq::detail::requantize_int8_accumulator<RoundingMode::double_rounding>(
                      accumulators[i], bias_data, multipliers, channel, zero_point)
                : tsq::detail::requantize_int8_accumulator<RoundingMode::single_rounding>(
                      accumulators[i], bias_data, multipliers, channel, zero_point);
        expected[i] = static_cast<std::int8_t>(tsq::clamp(value, range.min, range.max));
      }
      tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
        std::vector<std::int8_t> got(count, 0x11);
        REQUIRE(tsq::simd::requantize_int8(*pattern, accumulators, got).is_ok());
        INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " channels " << channels
                      << " " << tsq::rounding_mode_name(rounding));
        REQUIRE(tsq_simd_test::first_difference(got, expected) == -1);
      });
    }
  }
}

TEST_CASE("simd DepthwiseConv2D owner runs like the reference", "[simd][depthwise]") {
  Rng rng(11);
  tsq::DepthwiseConv2DOptions options;
  options.padding = tsq::Padding::same;
  options.stride_height = 2;
  options.depth_multiplier = 3;
  const DepthwiseLayer layer =
      make_layer(rng, {2, 9, 7, 6}, 3, 2, options, tsq_simd_test::typical_style());
  const auto quantization = layer.quantization(RoundingMode::double_rounding);
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_depthwise_conv2d(quantization, multipliers);
  REQUIRE(params.is_ok());
  const Shape output_shape = tsq::nhwc_shape(params->geometry.output);
  std::vector<std::int8_t> expected(output_shape.element_count());
  REQUIRE(tsq::reference::depthwise_conv2d(*params, input, filter, layer.q.bias,
                                           TensorView<std::int8_t>(expected.data(), output_shape))
              .is_ok());
  const auto original =
      tsq::simd::PreparedDepthwiseConv2D::create(quantization, filter, layer.q.bias);
  REQUIRE(original.is_ok());
  const tsq::simd::PreparedDepthwiseConv2D copy = *original;
  std::vector<std::int8_t> scratch(copy.scratch_size());
  tsq_simd_test::for_each_path([&](tsq::simd::Path) {
    std::vector<std::int8_t> got(expected.size());
    REQUIRE(copy.run(input, TensorView<std::int8_t>(got.data(), output_shape), scratch).is_ok());
    REQUIRE(got == expected);
  });
}

TEST_CASE("simd DepthwiseConv2D: validation errors", "[simd][depthwise]") {
  Rng rng(13);
  tsq::DepthwiseConv2DOptions options;
  options.depth_multiplier = 2;
  const DepthwiseLayer layer =
      make_layer(rng, {1, 8, 8, 3}, 3, 3, options, tsq_simd_test::typical_style());
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params =
      tsq::prepare_depthwise_conv2d(layer.quantization(RoundingMode::single_rounding), multipliers);
  REQUIRE(params.is_ok());
  const auto simd_params = tsq::simd::prepare_depthwise_conv2d(*params);
  REQUIRE(simd_params.is_ok());
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  const auto size = tsq::simd::depthwise_conv2d_packed_size(*simd_params);
  std::vector<std::int32_t> weights(size.weights);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed =
      tsq::simd::pack_depthwise_conv2d(*params, filter, layer.q.bias, weights, tiles);
  REQUIRE(packed.is_ok());
  std::vector<std::int8_t> output(6 * 6 * 6);
  const TensorView<std::int8_t> output_view(output.data(), Shape{1, 6, 6, 6});
  std::vector<std::int8_t> scratch(tsq::simd::depthwise_conv2d_scratch_size(*simd_params));
  REQUIRE(tsq::simd::depthwise_conv2d(*simd_params, input, *packed, output_view, scratch).is_ok());

  // Wrong input and output shapes.
  REQUIRE(tsq::simd::depthwise_conv2d(
              *simd_params, TensorView<const std::int8_t>(layer.input.data(), Shape{1, 8, 8, 2}),
              *packed, output_view, scratch)
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::depthwise_conv2d(*simd_params, input, *packed,
                                      TensorView<std::int8_t>(output.data(), Shape{1, 6, 6, 5}),
                                      scratch)
              .code() == ErrorCode::shape_mismatch);
  // Scratch one byte short.
  std::vector<std::int8_t> short_scratch(scratch.size() - 1);
  REQUIRE(tsq::simd::depthwise_conv2d(*simd_params, input, *packed, output_view, short_scratch)
              .code() == ErrorCode::buffer_too_small);
  // Unprepared params and packed filter.
  REQUIRE(tsq::simd::depthwise_conv2d(tsq::simd::SimdDepthwiseConv2DParams{}, input, *packed,
                                      output_view, scratch)
              .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::simd::depthwise_conv2d(*simd_params, input, tsq::simd::PackedDepthwiseFilter{},
                                      output_view, scratch)
              .code() == ErrorCode::not_prepared);
  // A filter packed for the other rounding mode.
  std::vector<tsq::QuantizedMultiplier> other_multipliers(layer.q.weight_scales.size());
  const auto other = tsq::prepare_depthwise_conv2d(
      layer.quantization(RoundingMode::double_rounding), other_multipliers);
  REQUIRE(other.is_ok());
  std::vector<std::int32_t> other_weights(size.weights);
  std::vector<tsq::simd::TileRequantization> other_tiles(size.tiles);
  const auto other_packed =
      tsq::simd::pack_depthwise_conv2d(*other, filter, layer.q.bias, other_weights, other_tiles);
  REQUIRE(other_packed.is_ok());
  REQUIRE(tsq::simd::depthwise_conv2d(*simd_params, input, *other_packed, output_view, scratch)
              .code() == ErrorCode::invalid_argument);
  // Pack: wrong filter shape, storage too small.
  REQUIRE(tsq::simd::pack_depthwise_conv2d(
              *params, TensorView<const std::int8_t>(layer.filter.data(), Shape{1, 3, 3, 5}),
              layer.q.bias, weights, tiles)
              .status()
              .code() == ErrorCode::shape_mismatch);
  std::vector<std::int32_t> few_weights(size.weights - 1);
  REQUIRE(tsq::simd::pack_depthwise_conv2d(*params, filter, layer.q.bias, few_weights, tiles)
              .status()
              .code() == ErrorCode::buffer_too_small);
  // Accumulators that are not whole pixels.
  std::vector<std::int32_t> accumulators(7);
  std::vector<std::int8_t> bytes(7);
  REQUIRE(tsq::simd::requantize_int8(packed->requantization, accumulators, bytes).code() ==
          ErrorCode::shape_mismatch);
}
