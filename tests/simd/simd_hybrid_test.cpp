// SPDX-License-Identifier: Apache-2.0
// simd::hybrid_fully_connected and simd::hybrid_conv2d (DRQ: float in and out, int8 weights)
// against hybrid::fully_connected and hybrid::conv2d: the output floats must be identical, bit
// for bit, on every path this CPU runs. Random shapes around the GEMM's tile remainders (units
// mod 16, depth mod 4 and 64), batches, rows of one sign, tiny and huge ranges, all-zero rows,
// per-channel and per-tensor scales, activations, bias or none, strides, dilation, SAME
// padding and groups; the owners; the errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/simd/hybrid_conv2d.hpp"
#include "tsq/kernels/simd/hybrid_fully_connected.hpp"

using tsq::ErrorCode;
using tsq::Shape;
using tsq::Span;
using tsq::TensorView;
using tsq_simd_test::pick;
using tsq_simd_test::Rng;

namespace {

// The index of the first float whose bits differ, or -1.
long first_bit_difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return static_cast<long>(i);
  }
  return -1;
}

// `count` rows of `length` floats in one of several regimes: mixed signs, one sign only (the
// zero point at an end of int8), ranges from 1e-12 to 1e12, mostly zeros; some rows all zero.
std::vector<float> random_rows(Rng& rng, std::int32_t count, std::size_t length) {
  std::vector<float> values;
  values.reserve(static_cast<std::size_t>(count) * length);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (std::int32_t r = 0; r < count; ++r) {
    const int regime = pick(rng, 0, 9);
    const float magnitude = std::pow(10.0f, static_cast<float>(pick(rng, -12, 12)));
    for (std::size_t d = 0; d < length; ++d) {
      float x = unit(rng);
      switch (regime) {
        case 0: x = 0.0f; break;                               // all zero
        case 1: x = std::fabs(x) * magnitude; break;           // positive only
        case 2: x = -std::fabs(x) * magnitude; break;          // negative only
        case 3: x = pick(rng, 0, 9) == 0 ? x : 0.0f; break;    // mostly zeros
        case 4: x = x * magnitude; break;                      // any range
        case 5: x = 0.25f + 0.001f * x; break;                 // narrow, far from 0
        default: x = x * (1.0f + static_cast<float>(regime));  // typical activations
      }
      values.push_back(x);
    }
  }
  return values;
}

std::vector<float> random_scales(Rng& rng, std::int32_t channels) {
  const std::int32_t count = pick(rng, 0, 1) == 0 ? channels : 1;
  return tsq_test::random_floats(rng, static_cast<std::size_t>(count), 1e-4f, 3e-2f);
}

std::vector<float> random_bias(Rng& rng, std::int32_t channels) {
  if (pick(rng, 0, 5) == 0) return {};
  const float spread = pick(rng, 0, 3) == 0 ? 100.0f : 1.0f;
  return tsq_test::random_floats(rng, static_cast<std::size_t>(channels), -spread, spread);
}

// ---------------------------------------------------------------------------------------------
// FullyConnected.

struct FcLayer {
  std::int32_t batches = 1, depth = 1, units = 1;
  std::vector<float> input, scales, bias;
  std::vector<std::int8_t> weights;
  tsq::FusedActivation activation = tsq::FusedActivation::none;
};

FcLayer random_fc(Rng& rng, std::int32_t batches, std::int32_t depth, std::int32_t units) {
  FcLayer layer;
  layer.batches = batches;
  layer.depth = depth;
  layer.units = units;
  layer.input = random_rows(rng, batches, static_cast<std::size_t>(depth));
  layer.weights = tsq_test::random_integers<std::int8_t>(
      rng, static_cast<std::size_t>(units) * static_cast<std::size_t>(depth), -128, 127);
  layer.scales = random_scales(rng, units);
  layer.bias = random_bias(rng, units);
  layer.activation = static_cast<tsq::FusedActivation>(pick(rng, 0, 2));
  return layer;
}

void check_fc(Rng& rng, const FcLayer& layer, int trial, std::size_t scratch_rows = 0) {
  const TensorView<const std::int8_t> weights(layer.weights.data(),
                                              Shape{layer.units, layer.depth});
  std::vector<std::int32_t> row_sums(static_cast<std::size_t>(layer.units));
  const auto params =
      tsq::hybrid::prepare_fully_connected(weights, layer.scales, layer.activation, row_sums);
  REQUIRE(params.is_ok());
  const TensorView<const float> input(layer.input.data(), Shape{layer.batches, layer.depth});
  const Shape output_shape{layer.batches, layer.units};
  std::vector<float> expected(output_shape.element_count());
  std::vector<std::int8_t> reference_scratch(
      tsq::hybrid::fully_connected_scratch_size(layer.depth));
  REQUIRE(tsq::hybrid::fully_connected(*params, input, weights, layer.bias,
                                       TensorView<float>(expected.data(), output_shape),
                                       reference_scratch)
              .is_ok());

  const auto size = tsq::simd::hybrid_fully_connected_packed_size(*params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed = tsq::simd::pack_hybrid_fully_connected(*params, weights, values, tiles);
  REQUIRE(packed.is_ok());
  const std::size_t scratch_size =
      scratch_rows > 0
          ? tsq::simd::detail::scratch_size_for_rows(packed->padded_depth,
                                                     static_cast<std::int32_t>(scratch_rows))
          : tsq_simd_test::random_scratch_size(
                rng, tsq::simd::hybrid_fully_connected_scratch_size(*params, layer.batches),
                layer.depth);
  tsq_simd_test::Scratch scratch(scratch_size, static_cast<std::size_t>(pick(rng, 0, 63)));

  tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
    std::vector<float> got(expected.size(), -7.0f);
    const tsq::Status status = tsq::simd::hybrid_fully_connected(
        *params, input, *packed, layer.bias, TensorView<float>(got.data(), output_shape),
        scratch.span());
    INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " batches " << layer.batches
                  << " depth " << layer.depth << " units " << layer.units << " per-channel "
                  << (layer.scales.size() > 1) << " bias " << !layer.bias.empty() << " scratch "
                  << scratch_size);
    REQUIRE(status.is_ok());
    const long difference = first_bit_difference(got, expected);
    INFO("first difference at " << difference << ": " << (difference < 0 ? 0.0f : got[difference])
                                << " vs " << (difference < 0 ? 0.0f : expected[difference]));
    REQUIRE(difference == -1);
  });
}

// ---------------------------------------------------------------------------------------------
// Conv2D.

struct ConvLayer {
  Shape input_shape, filter_shape;
  tsq::Conv2DOptions options;
  std::vector<float> input, scales, bias;
  std::vector<std::int8_t> filter;
};

ConvLayer make_conv(Rng& rng, const Shape& input_shape, const Shape& filter_shape,
                    const tsq::Conv2DOptions& options) {
  ConvLayer layer;
  layer.input_shape = input_shape;
  layer.filter_shape = filter_shape;
  layer.options = options;
  layer.input = random_rows(rng, input_shape[0],
                            static_cast<std::size_t>(input_shape[1]) *
                                static_cast<std::size_t>(input_shape[2]) *
                                static_cast<std::size_t>(input_shape[3]));
  layer.filter =
      tsq_test::random_integers<std::int8_t>(rng, filter_shape.element_count(), -128, 127);
  layer.scales = random_scales(rng, filter_shape[0]);
  layer.bias = random_bias(rng, filter_shape[0]);
  return layer;
}

ConvLayer random_conv(Rng& rng, int trial) {
  const tsq_test::RandomConvWindow window = tsq_test::random_conv_window(rng, trial, 10, 10);
  tsq::Conv2DOptions options;
  tsq_test::apply_window(window, options);
  const std::int32_t groups = trial % 5 == 4 ? pick(rng, 2, 3) : 1;
  const std::int32_t group_channels = trial % 6 == 0 ? pick(rng, 17, 40) : pick(rng, 1, 9);
  const std::int32_t group_units = trial % 4 == 0 ? pick(rng, 15, 40) : pick(rng, 1, 18);
  const Shape input{pick(rng, 1, 3), window.height, window.width, groups * group_channels};
  const Shape filter{groups * group_units, window.kernel_height, window.kernel_width,
                     group_channels};
  return make_conv(rng, input, filter, options);
}

void check_conv(Rng& rng, const ConvLayer& layer, int trial) {
  const auto params = tsq::hybrid::prepare_conv2d(layer.input_shape, layer.filter_shape,
                                                  layer.scales, layer.options);
  REQUIRE(params.is_ok());
  const Shape output_shape = tsq::nhwc_shape(params->geometry.output);
  const TensorView<const float> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  std::vector<float> expected(output_shape.element_count());
  std::vector<std::int8_t> reference_scratch(tsq::hybrid::conv2d_scratch_size(*params));
  REQUIRE(tsq::hybrid::conv2d(*params, input, filter, layer.bias,
                              TensorView<float>(expected.data(), output_shape), reference_scratch)
              .is_ok());

  std::vector<std::int32_t> sums(static_cast<std::size_t>(layer.filter_shape[0]));
  const auto simd_params = tsq::simd::prepare_hybrid_conv2d(*params, filter, sums);
  REQUIRE(simd_params.is_ok());
  const auto size = tsq::simd::hybrid_conv2d_packed_size(*simd_params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed = tsq::simd::pack_hybrid_conv2d(*simd_params, filter, values, tiles);
  REQUIRE(packed.is_ok());
  // The recommended scratch, or the item and 1..7 rows (more blocks, odd block sizes).
  const std::size_t item = tsq::simd::detail::hybrid_item_bytes(params->geometry);
  const std::size_t scratch_size =
      pick(rng, 0, 2) != 0
          ? tsq::simd::hybrid_conv2d_scratch_size(*simd_params)
          : item + tsq::simd::detail::scratch_size_for_rows(packed->padded_depth, pick(rng, 1, 7));
  tsq_simd_test::Scratch scratch(scratch_size, static_cast<std::size_t>(pick(rng, 0, 63)));

  tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
    std::vector<float> got(expected.size(), -7.0f);
    const tsq::Status status =
        tsq::simd::hybrid_conv2d(*simd_params, input, *packed, layer.bias,
                                 TensorView<float>(got.data(), output_shape), scratch.span());
    const tsq::Conv2DGeometry& g = params->geometry;
    INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " input " << g.input.batch
                  << "x" << g.input.height << "x" << g.input.width << "x" << g.input.channels
                  << " filter " << g.output.channels << "x" << g.filter_height << "x"
                  << g.filter_width << "x" << g.filter_input_depth << " stride " << g.stride_height
                  << "," << g.stride_width << " dilation " << g.dilation_height << ","
                  << g.dilation_width << " pad " << g.pad_top << "," << g.pad_left << " scratch "
                  << scratch_size);
    REQUIRE(status.is_ok());
    const long difference = first_bit_difference(got, expected);
    INFO("first difference at " << difference << ": " << (difference < 0 ? 0.0f : got[difference])
                                << " vs " << (difference < 0 ? 0.0f : expected[difference]));
    REQUIRE(difference == -1);
  });
}

}  // namespace

TEST_CASE("simd hybrid FullyConnected equals the reference's floats, every path",
          "[simd][hybrid][fully_connected]") {
  Rng rng(20240701);
  // Depths around the multiples of 4 and 64, units around the tiles of 16.
  const std::int32_t depths[] = {1, 2, 3, 4, 5, 7, 15, 16, 17, 63, 64, 65, 127, 129, 200, 257};
  const std::int32_t units[] = {1, 2, 5, 15, 16, 17, 31, 33, 47, 48, 63, 64, 65, 80, 100, 129};
  for (int trial = 0; trial < 800; ++trial) {
    const std::int32_t depth = trial % 3 == 0 ? pick(rng, 1, 90) : depths[trial % 16];
    const std::int32_t unit_count = trial % 5 == 0 ? pick(rng, 1, 140) : units[(trial / 2) % 16];
    const std::int32_t batches = trial % 7 == 0 ? pick(rng, 14, 40) : pick(rng, 1, 9);
    check_fc(rng, random_fc(rng, batches, depth, unit_count), trial);
  }
  // More rows than a block's row quantizations on the stack (kMaxBlockRows), in one scratch.
  check_fc(rng, random_fc(rng, 2 * tsq::simd::detail::kMaxBlockRows + 5, 9, 21), -1,
           static_cast<std::size_t>(3 * tsq::simd::detail::kMaxBlockRows));
  // The longest rows: depth at the accumulator limit, the widest weights and activations.
  FcLayer longest = random_fc(rng, 2, tsq::kMaxAccumulationDepth, 3);
  for (std::size_t i = 0; i < longest.weights.size(); ++i) {
    longest.weights[i] = static_cast<std::int8_t>(i % 3 == 0 ? 127 : -128);
  }
  for (std::size_t i = 0; i < longest.input.size(); ++i) {
    longest.input[i] = i % 3 == 0 ? 1.0f : -1.0f;
  }
  check_fc(rng, longest, -2);
}

TEST_CASE("simd hybrid FullyConnected owner runs like the reference", "[simd][hybrid]") {
  Rng rng(3);
  const FcLayer layer = random_fc(rng, 5, 70, 33);
  const TensorView<const std::int8_t> weights(layer.weights.data(),
                                              Shape{layer.units, layer.depth});
  std::vector<std::int32_t> row_sums(static_cast<std::size_t>(layer.units));
  const auto params =
      tsq::hybrid::prepare_fully_connected(weights, layer.scales, layer.activation, row_sums);
  REQUIRE(params.is_ok());
  const TensorView<const float> input(layer.input.data(), Shape{1, layer.batches, layer.depth});
  const Shape output_shape{1, layer.batches, layer.units};
  std::vector<float> expected(output_shape.element_count());
  std::vector<std::int8_t> reference_scratch(layer.depth);
  REQUIRE(tsq::hybrid::fully_connected(*params, input, weights, layer.bias,
                                       TensorView<float>(expected.data(), output_shape),
                                       reference_scratch)
              .is_ok());
  auto original = tsq::simd::PreparedHybridFullyConnected::create(weights, layer.scales, layer.bias,
                                                                  layer.activation);
  REQUIRE(original.is_ok());
  const tsq::simd::PreparedHybridFullyConnected copy = *original;
  const tsq::simd::PreparedHybridFullyConnected moved = std::move(original).value();
  std::vector<std::int8_t> scratch(copy.scratch_size(layer.batches));
  tsq_simd_test::for_each_path([&](tsq::simd::Path) {
    for (const auto* owner : {&copy, &moved}) {
      std::vector<float> got(expected.size());
      REQUIRE(owner->run(input, TensorView<float>(got.data(), output_shape), scratch).is_ok());
      REQUIRE(first_bit_difference(got, expected) == -1);
    }
  });
  REQUIRE(tsq::simd::PreparedHybridFullyConnected::create(
              weights, layer.scales, std::vector<float>(3, 0.0f), layer.activation)
              .status()
              .code() == ErrorCode::shape_mismatch);
}

TEST_CASE("simd hybrid FullyConnected: validation errors", "[simd][hybrid]") {
  Rng rng(5);
  const FcLayer layer = random_fc(rng, 3, 20, 10);
  const TensorView<const std::int8_t> weights(layer.weights.data(), Shape{10, 20});
  std::vector<std::int32_t> row_sums(10);
  const auto params =
      tsq::hybrid::prepare_fully_connected(weights, layer.scales, layer.activation, row_sums);
  REQUIRE(params.is_ok());
  const auto size = tsq::simd::hybrid_fully_connected_packed_size(*params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed = tsq::simd::pack_hybrid_fully_connected(*params, weights, values, tiles);
  REQUIRE(packed.is_ok());
  const TensorView<const float> input(layer.input.data(), Shape{3, 20});
  std::vector<float> output(30);
  const TensorView<float> output_view(output.data(), Shape{3, 10});
  std::vector<std::int8_t> scratch(tsq::simd::hybrid_fully_connected_scratch_size(*params, 3));
  REQUIRE(
      tsq::simd::hybrid_fully_connected(*params, input, *packed, layer.bias, output_view, scratch)
          .is_ok());

  REQUIRE(tsq::simd::hybrid_fully_connected(tsq::hybrid::FullyConnectedParams{}, input, *packed,
                                            layer.bias, output_view, scratch)
              .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::simd::hybrid_fully_connected(*params, input, tsq::simd::PackedWeights{}, layer.bias,
                                            output_view, scratch)
              .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::simd::hybrid_fully_connected(
              *params, TensorView<const float>(layer.input.data(), Shape{3, 19}), *packed,
              layer.bias, output_view, scratch)
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::hybrid_fully_connected(*params, input, *packed, layer.bias,
                                            TensorView<float>(output.data(), Shape{2, 10}), scratch)
              .code() == ErrorCode::shape_mismatch);
  const std::vector<float> short_bias(9, 0.0f);
  REQUIRE(
      tsq::simd::hybrid_fully_connected(*params, input, *packed, short_bias, output_view, scratch)
          .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::hybrid_fully_connected(*params, input, *packed, layer.bias, output_view,
                                            Span<std::int8_t>(scratch.data(), 16))
              .code() == ErrorCode::buffer_too_small);
  REQUIRE(tsq::simd::pack_hybrid_fully_connected(
              *params, TensorView<const std::int8_t>(layer.weights.data(), Shape{10, 19}), values,
              tiles)
              .status()
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::pack_hybrid_fully_connected(*params, weights,
                                                 Span<std::int8_t>(values.data(), 8), tiles)
              .status()
              .code() == ErrorCode::buffer_too_small);

  // Weights packed for another layer's shape, or for an int8 layer of the same shape.
  std::vector<std::int32_t> other_sums(5);
  const auto other = tsq::hybrid::prepare_fully_connected(
      TensorView<const std::int8_t>(layer.weights.data(), Shape{5, 20}),
      std::vector<float>(1, 0.01f), tsq::FusedActivation::none, other_sums);
  REQUIRE(other.is_ok());
  REQUIRE(tsq::simd::hybrid_fully_connected(*other, input, *packed, {},
                                            TensorView<float>(output.data(), Shape{3, 5}), scratch)
              .code() == ErrorCode::shape_mismatch);
  tsq::FullyConnectedQuantization q;
  q.input_shape = Shape{3, 20};
  q.input = tsq::make_quant_params(0.05f, 0, tsq::DataType::int8);
  q.weights_shape = Shape{10, 20};
  q.weight_scales = layer.scales;
  q.output = tsq::make_quant_params(0.5f, 0, tsq::DataType::int8);
  q.rounding = tsq::RoundingMode::double_rounding;
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.scales.size());
  const auto int8_params = tsq::prepare_fully_connected(q, multipliers);
  REQUIRE(int8_params.is_ok());
  std::vector<std::int8_t> int8_values(size.values);
  std::vector<tsq::simd::TileRequantization> int8_tiles(size.tiles);
  const auto int8_packed =
      tsq::simd::pack_fully_connected(*int8_params, weights, {}, int8_values, int8_tiles);
  REQUIRE(int8_packed.is_ok());
  REQUIRE(tsq::simd::hybrid_fully_connected(*params, input, *int8_packed, layer.bias, output_view,
                                            scratch)
              .code() == ErrorCode::invalid_argument);
  // And the other way round: the int8 op refuses the hybrid packing (multipliers 0).
  const auto simd_int8 = tsq::simd::prepare_fully_connected(*int8_params);
  REQUIRE(simd_int8.is_ok());
  std::vector<std::int8_t> int8_input(3 * 20), int8_output(3 * 10);
  REQUIRE(tsq::simd::fully_connected(
              *simd_int8, TensorView<const std::int8_t>(int8_input.data(), Shape{3, 20}), *packed,
              TensorView<std::int8_t>(int8_output.data(), Shape{3, 10}), scratch)
              .code() == ErrorCode::invalid_argument);
}

TEST_CASE("simd hybrid Conv2D equals the reference's floats, every path",
          "[simd][hybrid][conv2d]") {
  Rng rng(20240702);
  for (int trial = 0; trial < 600; ++trial) check_conv(rng, random_conv(rng, trial), trial);
  // The study's shapes, cut short (conv_deep, conv_first, conv_ecg), with SAME padding too.
  tsq::Conv2DOptions same;
  same.padding = tsq::Padding::same;
  check_conv(rng, make_conv(rng, {1, 20, 6, 64}, {64, 5, 1, 64}, tsq::Conv2DOptions{}), -1);
  check_conv(rng, make_conv(rng, {2, 20, 6, 1}, {64, 5, 1, 1}, same), -2);
  check_conv(rng, make_conv(rng, {1, 3, 60, 32}, {32, 1, 5, 32}, same), -3);
}

TEST_CASE("simd hybrid Conv2D owner runs like the reference", "[simd][hybrid]") {
  Rng rng(7);
  tsq::Conv2DOptions options;
  options.padding = tsq::Padding::same;
  options.stride_height = 2;
  options.activation = tsq::FusedActivation::relu;
  const ConvLayer layer = make_conv(rng, {2, 9, 7, 6}, {10, 3, 2, 3}, options);
  const auto params = tsq::hybrid::prepare_conv2d(layer.input_shape, layer.filter_shape,
                                                  layer.scales, layer.options);
  REQUIRE(params.is_ok());
  const Shape output_shape = tsq::nhwc_shape(params->geometry.output);
  const TensorView<const float> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  std::vector<float> expected(output_shape.element_count());
  std::vector<std::int8_t> reference_scratch(tsq::hybrid::conv2d_scratch_size(*params));
  REQUIRE(tsq::hybrid::conv2d(*params, input, filter, layer.bias,
                              TensorView<float>(expected.data(), output_shape), reference_scratch)
              .is_ok());
  auto original = tsq::simd::PreparedHybridConv2D::create(layer.input_shape, filter, layer.scales,
                                                          layer.bias, options);
  REQUIRE(original.is_ok());
  tsq::simd::PreparedHybridConv2D copy;
  copy = *original;
  const tsq::simd::PreparedHybridConv2D moved = std::move(original).value();
  std::vector<std::int8_t> scratch(copy.scratch_size());
  const tsq::simd::PreparedHybridConv2D* owners[] = {&copy, &moved};
  tsq_simd_test::for_each_path([&](tsq::simd::Path) {
    for (const auto* owner : owners) {
      std::vector<float> got(expected.size());
      REQUIRE(owner->run(input, TensorView<float>(got.data(), output_shape), scratch).is_ok());
      REQUIRE(first_bit_difference(got, expected) == -1);
    }
  });
  std::vector<float> got(expected.size());
  REQUIRE(tsq::simd::PreparedHybridConv2D{}
              .run(input, TensorView<float>(got.data(), output_shape), scratch)
              .code() == ErrorCode::not_prepared);
}

TEST_CASE("simd hybrid Conv2D: validation errors", "[simd][hybrid]") {
  Rng rng(13);
  const ConvLayer layer = make_conv(rng, {1, 8, 8, 4}, {6, 3, 3, 4}, tsq::Conv2DOptions{});
  const auto params = tsq::hybrid::prepare_conv2d(layer.input_shape, layer.filter_shape,
                                                  layer.scales, layer.options);
  REQUIRE(params.is_ok());
  const TensorView<const float> input(layer.input.data(), layer.input_shape);
  const TensorView<const std::int8_t> filter(layer.filter.data(), layer.filter_shape);
  std::vector<std::int32_t> sums(6);
  const auto simd_params = tsq::simd::prepare_hybrid_conv2d(*params, filter, sums);
  REQUIRE(simd_params.is_ok());
  const auto size = tsq::simd::hybrid_conv2d_packed_size(*simd_params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed = tsq::simd::pack_hybrid_conv2d(*simd_params, filter, values, tiles);
  REQUIRE(packed.is_ok());
  std::vector<float> output(6 * 6 * 6);
  const TensorView<float> output_view(output.data(), Shape{1, 6, 6, 6});
  std::vector<std::int8_t> scratch(tsq::simd::hybrid_conv2d_scratch_size(*simd_params));
  REQUIRE(tsq::simd::hybrid_conv2d(*simd_params, input, *packed, layer.bias, output_view, scratch)
              .is_ok());

  const TensorView<const std::int8_t> wrong_filter(layer.filter.data(), Shape{6, 3, 3, 2});
  REQUIRE(
      tsq::simd::prepare_hybrid_conv2d(tsq::hybrid::Conv2DParams{}, filter, sums).status().code() ==
      ErrorCode::not_prepared);
  REQUIRE(tsq::simd::prepare_hybrid_conv2d(*params, wrong_filter, sums).status().code() ==
          ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::prepare_hybrid_conv2d(*params, filter, Span<std::int32_t>(sums.data(), 5))
              .status()
              .code() == ErrorCode::buffer_too_small);
  REQUIRE(
      tsq::simd::pack_hybrid_conv2d(*simd_params, wrong_filter, values, tiles).status().code() ==
      ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::hybrid_conv2d(tsq::simd::SimdHybridConv2DParams{}, input, *packed, layer.bias,
                                   output_view, scratch)
              .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::simd::hybrid_conv2d(*simd_params, input, tsq::simd::PackedWeights{}, layer.bias,
                                   output_view, scratch)
              .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::simd::hybrid_conv2d(*simd_params, input, *packed, layer.bias,
                                   TensorView<float>(output.data(), Shape{1, 6, 5, 6}), scratch)
              .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::hybrid_conv2d(*simd_params,
                                   TensorView<const float>(layer.input.data(), Shape{1, 8, 8, 2}),
                                   *packed, layer.bias, output_view, scratch)
              .code() == ErrorCode::shape_mismatch);
  const std::vector<float> short_bias(5, 0.0f);
  REQUIRE(tsq::simd::hybrid_conv2d(*simd_params, input, *packed, short_bias, output_view, scratch)
              .code() == ErrorCode::shape_mismatch);
  // Scratch that holds the quantized item (256 bytes) but no row, or not even the item.
  REQUIRE(tsq::simd::hybrid_conv2d(*simd_params, input, *packed, layer.bias, output_view,
                                   Span<std::int8_t>(scratch.data(), 300))
              .code() == ErrorCode::buffer_too_small);
  REQUIRE(tsq::simd::hybrid_conv2d(*simd_params, input, *packed, layer.bias, output_view,
                                   Span<std::int8_t>(scratch.data(), 100))
              .code() == ErrorCode::buffer_too_small);
}
