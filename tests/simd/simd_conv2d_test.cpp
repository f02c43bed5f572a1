// SPDX-License-Identifier: Apache-2.0
// simd::conv2d against reference::conv2d, bit for bit, on every path this CPU runs: random
// k x 1, 1 x k, square and general kernels with strides, dilations, VALID / SAME padding, groups,
// batches, channel counts around the tile and depth steps, random quantizations (both rounding
// modes, per-channel and per-tensor), small scratch; the study's shapes; the owner; errors.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/simd/conv2d.hpp"
#include "tsq/kernels/simd/prepared.hpp"

using tsq::ErrorCode;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_simd_test::pick;
using tsq_simd_test::Rng;

namespace {

struct ConvLayer {
  Shape input_shape, filter_shape;
  tsq::Conv2DOptions options;
  std::vector<std::int8_t> input, filter;
  tsq_simd_test::RandomQuantization q;

  tsq::Conv2DQuantization quantization(RoundingMode rounding) const {
    tsq::Conv2DQuantization conv;
    conv.input_shape = input_shape;
    conv.input = q.input;
    conv.filter_shape = filter_shape;
    conv.filter_scales = q.weight_scales;
    conv.output = q.output;
    conv.options = options;
    conv.options.activation = q.activation;
    conv.rounding = rounding;
    return conv;
  }
};

ConvLayer make_layer(Rng& rng, const Shape& input_shape, const Shape& filter_shape,
                     const tsq::Conv2DOptions& options, tsq_simd_test::Style style) {
  ConvLayer layer;
  layer.input_shape = input_shape;
  layer.filter_shape = filter_shape;
  layer.options = options;
  layer.input = tsq_test::random_integers<std::int8_t>(rng, input_shape.element_count(), -128, 127);
  layer.filter =
      tsq_test::random_integers<std::int8_t>(rng, filter_shape.element_count(), -128, 127);
  const std::int32_t depth = filter_shape[1] * filter_shape[2] * filter_shape[3];
  layer.q =
      tsq_simd_test::random_quantization(rng, filter_shape[0], depth, pick(rng, 0, 1) == 0, style);
  return layer;
}

ConvLayer random_layer(Rng& rng, int trial) {
  const tsq_test::RandomConvWindow window = tsq_test::random_conv_window(rng, trial, 12, 12);
  tsq::Conv2DOptions options;
  tsq_test::apply_window(window, options);
  const std::int32_t groups = trial % 5 == 4 ? pick(rng, 2, 3) : 1;
  const std::int32_t group_channels = trial % 6 == 0 ? pick(rng, 17, 70) : pick(rng, 1, 12);
  const std::int32_t group_units = trial % 4 == 0 ? pick(rng, 15, 70) : pick(rng, 1, 20);
  const Shape input{pick(rng, 1, 2), window.height, window.width, groups * group_channels};
  const Shape filter{groups * group_units, window.kernel_height, window.kernel_width,
                     group_channels};
  return make_layer(rng, input, filter, options, tsq_simd_test::random_style(rng));
}

void check_layer(Rng& rng, const ConvLayer& layer, RoundingMode rounding, int trial) {
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_conv2d(layer.quantization(rounding), multipliers);
  REQUIRE(params.is_ok());
  const Shape output_shape = tsq::nhwc_shape(params->geometry.output);
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  std::vector<std::int8_t> expected(output_shape.element_count());
  REQUIRE(tsq::reference::conv2d(*params, input, filter, layer.q.bias,
                                 TensorView<std::int8_t>(expected.data(), output_shape))
              .is_ok());

  const auto simd_params = tsq::simd::prepare_conv2d(*params);
  REQUIRE(simd_params.is_ok());
  const tsq::simd::PackedWeightsSize size = tsq::simd::conv2d_packed_size(*simd_params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed = tsq::simd::pack_conv2d(*params, filter, layer.q.bias, values, tiles);
  REQUIRE(packed.is_ok());
  const std::size_t scratch_size = tsq_simd_test::random_scratch_size(
      rng, tsq::simd::conv2d_scratch_size(*simd_params), simd_params->depth());
  tsq_simd_test::Scratch scratch(scratch_size, static_cast<std::size_t>(pick(rng, 0, 63)));

  tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
    std::vector<std::int8_t> got(expected.size(), 0x11);
    const tsq::Status status =
        tsq::simd::conv2d(*simd_params, input, *packed,
                          TensorView<std::int8_t>(got.data(), output_shape), scratch.span());
    const tsq::Conv2DGeometry& g = params->geometry;
    INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " "
                  << tsq::rounding_mode_name(rounding) << " input " << g.input.batch << "x"
                  << g.input.height << "x" << g.input.width << "x" << g.input.channels << " filter "
                  << g.output.channels << "x" << g.filter_height << "x" << g.filter_width << "x"
                  << g.filter_input_depth << " stride " << g.stride_height << "," << g.stride_width
                  << " dilation " << g.dilation_height << "," << g.dilation_width << " pad "
                  << g.pad_top << "," << g.pad_left << " scratch " << scratch_size);
    REQUIRE(status.is_ok());
    const long difference = tsq_simd_test::first_difference(got, expected);
    INFO("first difference at " << difference);
    REQUIRE(difference == -1);
  });
}

}  // namespace

TEST_CASE("simd Conv2D equals the reference on random geometries, every path", "[simd][conv2d]") {
  Rng rng(20240612);
  for (int trial = 0; trial < 1000; ++trial) {
    const ConvLayer layer = random_layer(rng, trial);
    for (const RoundingMode rounding : tsq_test::kBothModes)
      check_layer(rng, layer, rounding, trial);
  }
}

TEST_CASE("simd Conv2D equals the reference at the study's shapes", "[simd][conv2d]") {
  Rng rng(5);
  tsq::Conv2DOptions valid;
  tsq::Conv2DOptions same;
  same.padding = tsq::Padding::same;
  struct Case {
    Shape input, filter;
    tsq::Conv2DOptions options;
  };
  // conv_deep and conv_first (5 x 1 along time), conv_ecg (1 x 5), cut to keep the reference
  // quick, and the same with SAME padding.
  const Case cases[] = {
      {{1, 40, 6, 64}, {64, 5, 1, 64}, valid},
      {{1, 40, 6, 1}, {64, 5, 1, 1}, same},
      {{1, 3, 100, 32}, {32, 1, 5, 32}, same},
  };
  for (const Case& c : cases) {
    const ConvLayer layer =
        make_layer(rng, c.input, c.filter, c.options, tsq_simd_test::typical_style());
    for (const RoundingMode rounding : tsq_test::kBothModes) check_layer(rng, layer, rounding, 0);
  }
}

TEST_CASE("simd Conv2D owner runs like the reference", "[simd][conv2d]") {
  Rng rng(11);
  tsq::Conv2DOptions options;
  options.padding = tsq::Padding::same;
  options.stride_height = 2;
  const ConvLayer layer =
      make_layer(rng, {2, 9, 7, 6}, {10, 3, 2, 3}, options, tsq_simd_test::typical_style());
  const auto quantization = layer.quantization(RoundingMode::double_rounding);
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_conv2d(quantization, multipliers);
  REQUIRE(params.is_ok());
  const Shape output_shape = tsq::nhwc_shape(params->geometry.output);
  std::vector<std::int8_t> expected(output_shape.element_count());
  REQUIRE(tsq::reference::conv2d(*params, input, filter, layer.q.bias,
                                 TensorView<std::int8_t>(expected.data(), output_shape))
              .is_ok());
  const auto original = tsq::simd::PreparedConv2D::create(quantization, filter, layer.q.bias);
  REQUIRE(original.is_ok());
  const tsq::simd::PreparedConv2D copy = *original;
  std::vector<std::int8_t> scratch(copy.scratch_size());
  tsq_simd_test::for_each_path([&](tsq::simd::Path) {
    std::vector<std::int8_t> got(expected.size());
    REQUIRE(copy.run(input, TensorView<std::int8_t>(got.data(), output_shape), scratch).is_ok());
    REQUIRE(got == expected);
  });
}

TEST_CASE("simd Conv2D: validation errors", "[simd][conv2d]") {
  Rng rng(13);
  const ConvLayer layer = make_layer(rng, {1, 8, 8, 4}, {6, 3, 3, 4}, tsq::Conv2DOptions{},
                                     tsq_simd_test::typical_style());
  const auto quantization = layer.quantization(RoundingMode::single_rounding);
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_conv2d(quantization, multipliers);
  REQUIRE(params.is_ok());
  const auto simd_params = tsq::simd::prepare_conv2d(*params);
  REQUIRE(simd_params.is_ok());
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  const auto size = tsq::simd::conv2d_packed_size(*simd_params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed = tsq::simd::pack_conv2d(*params, filter, layer.q.bias, values, tiles);
  REQUIRE(packed.is_ok());
  std::vector<std::int8_t> output(6 * 6 * 6);
  const TensorView<std::int8_t> output_view(output.data(), Shape{1, 6, 6, 6});
  std::vector<std::int8_t> scratch(tsq::simd::conv2d_scratch_size(*simd_params));
  REQUIRE(tsq::simd::conv2d(*simd_params, input, *packed, output_view, scratch).is_ok());

  REQUIRE(tsq::simd::prepare_conv2d(tsq::Conv2DParams{}).status().code() ==
          ErrorCode::not_prepared);
  REQUIRE(tsq::simd::conv2d(tsq::simd::SimdConv2DParams{}, input, *packed, output_view, scratch)
              .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::simd::conv2d(*simd_params, input, tsq::simd::PackedWeights{}, output_view, scratch)
              .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::simd::conv2d(*simd_params, input, *packed,
                            TensorView<std::int8_t>(output.data(), Shape{1, 6, 5, 6}), scratch)
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::conv2d(*simd_params,
                            TensorView<const std::int8_t>(layer.input.data(), Shape{1, 8, 8, 2}),
                            *packed, output_view, scratch)
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::conv2d(*simd_params, input, *packed, output_view,
                            tsq::Span<std::int8_t>(scratch.data(), 40))
              .code() == ErrorCode::buffer_too_small);
  REQUIRE(tsq::simd::pack_conv2d(
              *params, TensorView<const std::int8_t>(layer.filter.data(), Shape{6, 3, 3, 2}),
              layer.q.bias, values, tiles)
              .status()
              .code() == ErrorCode::shape_mismatch);

  // int16 params are refused.
  tsq::Conv2DQuantization q16 = quantization;
  q16.input = tsq::make_quant_params(1e-4f, 0, tsq::DataType::int16);
  q16.output = tsq::make_quant_params(1e-2f, 0, tsq::DataType::int16);
  std::vector<tsq::QuantizedMultiplier> multipliers16(layer.q.weight_scales.size());
  const auto params16 = tsq::prepare_conv2d(q16, multipliers16);
  REQUIRE(params16.is_ok());
  REQUIRE(tsq::simd::prepare_conv2d(*params16).status().code() == ErrorCode::unsupported_type);

  // Packed for the other rounding mode.
  std::vector<tsq::QuantizedMultiplier> other_multipliers(layer.q.weight_scales.size());
  const auto other =
      tsq::prepare_conv2d(layer.quantization(RoundingMode::double_rounding), other_multipliers);
  REQUIRE(other.is_ok());
  const auto other_simd = tsq::simd::prepare_conv2d(*other);
  REQUIRE(tsq::simd::conv2d(*other_simd, input, *packed, output_view, scratch).code() ==
          ErrorCode::invalid_argument);
}
