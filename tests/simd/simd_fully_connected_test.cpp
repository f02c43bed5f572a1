// SPDX-License-Identifier: Apache-2.0
// simd::fully_connected against reference::fully_connected, bit for bit, on every path this CPU
// runs: random shapes that hit every remainder (depth mod 4 / 16 / 64, units mod 16 / 64, rows
// mod 4 / 6, blocks of 1-7 rows), random zero points, scales, biases and activations, both
// rounding modes, per-channel and per-tensor; the accumulator limit; the owner; every error.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/simd/fully_connected.hpp"
#include "tsq/kernels/simd/prepared.hpp"

using tsq::ErrorCode;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_simd_test::pick;
using tsq_simd_test::Rng;

namespace {

struct FcLayer {
  std::int32_t batches = 1, depth = 1, units = 1;
  std::vector<std::int8_t> input, weights;
  tsq_simd_test::RandomQuantization q;

  tsq::FullyConnectedQuantization quantization(RoundingMode rounding) const {
    tsq::FullyConnectedQuantization fc;
    fc.input_shape = Shape{batches, depth};
    fc.input = q.input;
    fc.weights_shape = Shape{units, depth};
    fc.weight_scales = q.weight_scales;
    fc.output = q.output;
    fc.activation = q.activation;
    fc.rounding = rounding;
    return fc;
  }
};

FcLayer random_layer(Rng& rng, std::int32_t batches, std::int32_t depth, std::int32_t units) {
  FcLayer layer;
  layer.batches = batches;
  layer.depth = depth;
  layer.units = units;
  layer.input = tsq_test::random_integers<std::int8_t>(
      rng, static_cast<std::size_t>(batches) * static_cast<std::size_t>(depth), -128, 127);
  layer.weights = tsq_test::random_integers<std::int8_t>(
      rng, static_cast<std::size_t>(units) * static_cast<std::size_t>(depth), -128, 127);
  layer.q = tsq_simd_test::random_quantization(rng, units, depth, pick(rng, 0, 1) == 0,
                                               tsq_simd_test::random_style(rng));
  return layer;
}

// Runs the reference and every path in `rounding`; requires identical outputs.
void check_layer(Rng& rng, const FcLayer& layer, RoundingMode rounding, int trial) {
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_fully_connected(layer.quantization(rounding), multipliers);
  REQUIRE(params.is_ok());
  const TensorView<const std::int8_t> input(layer.input.data(), Shape{layer.batches, layer.depth});
  const TensorView<const std::int8_t> weights(layer.weights.data(),
                                              Shape{layer.units, layer.depth});
  const std::size_t outputs =
      static_cast<std::size_t>(layer.batches) * static_cast<std::size_t>(layer.units);
  std::vector<std::int8_t> expected(outputs);
  REQUIRE(tsq::reference::fully_connected(
              *params, input, weights, layer.q.bias,
              TensorView<std::int8_t>(expected.data(), Shape{layer.batches, layer.units}))
              .is_ok());

  const auto simd_params = tsq::simd::prepare_fully_connected(*params);
  REQUIRE(simd_params.is_ok());
  const tsq::simd::PackedWeightsSize size = tsq::simd::fully_connected_packed_size(*simd_params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed =
      tsq::simd::pack_fully_connected(*params, weights, layer.q.bias, values, tiles);
  REQUIRE(packed.is_ok());
  const std::size_t scratch_size = tsq_simd_test::random_scratch_size(
      rng, tsq::simd::fully_connected_scratch_size(*simd_params, layer.batches), layer.depth);
  tsq_simd_test::Scratch scratch(scratch_size, static_cast<std::size_t>(pick(rng, 0, 63)));

  tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
    std::vector<std::int8_t> got(outputs, 0x11);
    const tsq::Status status = tsq::simd::fully_connected(
        *simd_params, input, *packed,
        TensorView<std::int8_t>(got.data(), Shape{layer.batches, layer.units}), scratch.span());
    INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " "
                  << tsq::rounding_mode_name(rounding) << " batches " << layer.batches << " depth "
                  << layer.depth << " units " << layer.units << " per-channel "
                  << (layer.q.weight_scales.size() > 1) << " scratch " << scratch_size << " Z_in "
                  << layer.q.input.zero_point << " Z_out " << layer.q.output.zero_point);
    REQUIRE(status.is_ok());
    const long difference = tsq_simd_test::first_difference(got, expected);
    INFO("first difference at " << difference << " (unit "
                                << (difference < 0 ? -1 : difference % layer.units) << ")");
    REQUIRE(difference == -1);
  });
}

}  // namespace

TEST_CASE("simd FullyConnected equals the reference on random layers, every path",
          "[simd][fully_connected]") {
  Rng rng(20240611);
  // Depths around every multiple of 4, 16 and 64 the kernels step by; units around 16 and 64.
  const std::int32_t depths[] = {1,  2,  3,  4,   5,   7,   15,  16,  17,  31,
                                 63, 64, 65, 100, 127, 128, 129, 255, 257, 384};
  const std::int32_t units[] = {1, 2, 5, 15, 16, 17, 31, 33, 47, 48, 63, 64, 65, 80, 100, 129};
  for (int trial = 0; trial < 1500; ++trial) {
    const std::int32_t depth = trial % 3 == 0 ? pick(rng, 1, 90) : depths[trial % 20];
    const std::int32_t unit_count = trial % 5 == 0 ? pick(rng, 1, 140) : units[trial % 16];
    const std::int32_t batches = trial % 7 == 0 ? pick(rng, 20, 40) : pick(rng, 1, 13);
    const FcLayer layer = random_layer(rng, batches, depth, unit_count);
    for (const RoundingMode rounding : tsq_test::kBothModes)
      check_layer(rng, layer, rounding, trial);
  }
}

TEST_CASE("simd FullyConnected equals the reference at the LSTM projection shape (fc_time)",
          "[simd][fully_connected]") {
  Rng rng(112384);
  FcLayer layer = random_layer(rng, 112, 384, 512);
  layer.q = tsq_simd_test::random_quantization(rng, 512, 384, true, tsq_simd_test::typical_style());
  check_layer(rng, layer, RoundingMode::double_rounding, 0);
}

TEST_CASE("simd FullyConnected at the accumulator limit: depth 65536 of extreme products",
          "[simd][fully_connected]") {
  // x - Z_in = +-255 and W = -128 at every tap: |acc| = 65536 * 255 * 128 = 2139095040, the
  // largest the reference admits; the folded bias then carries -(128 + Z_in) * sum W in full.
  Rng rng(65536);
  for (const std::int32_t input_zero_point : {-128, 127}) {
    FcLayer layer;
    layer.batches = 2;
    layer.depth = 65536;
    layer.units = 3;
    layer.input.assign(2 * 65536, static_cast<std::int8_t>(input_zero_point == -128 ? 127 : -128));
    layer.weights.assign(3 * 65536, -128);
    for (std::size_t i = 0; i < 65536; i += 7) layer.input[i] = 0;  // row 0 not all alike
    layer.q =
        tsq_simd_test::random_quantization(rng, 3, 65536, true, tsq_simd_test::typical_style());
    layer.q.input.zero_point = input_zero_point;
    layer.q.bias = {0, 8388607, -8388607};
    for (const RoundingMode rounding : tsq_test::kBothModes) check_layer(rng, layer, rounding, 0);
  }
}

TEST_CASE("simd FullyConnected owner: copies run on their own storage", "[simd][fully_connected]") {
  Rng rng(7);
  const FcLayer layer = random_layer(rng, 9, 70, 37);
  const auto quantization = layer.quantization(RoundingMode::single_rounding);
  const TensorView<const std::int8_t> weights(layer.weights.data(), Shape{37, 70});
  const TensorView<const std::int8_t> input(layer.input.data(), Shape{9, 70});
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_fully_connected(quantization, multipliers);
  REQUIRE(params.is_ok());
  std::vector<std::int8_t> expected(9 * 37);
  REQUIRE(tsq::reference::fully_connected(*params, input, weights, layer.q.bias,
                                          TensorView<std::int8_t>(expected.data(), Shape{9, 37}))
              .is_ok());

  tsq::simd::PreparedFullyConnected copy;
  {
    auto original = tsq::simd::PreparedFullyConnected::create(quantization, weights, layer.q.bias);
    REQUIRE(original.is_ok());
    copy = *original;  // copy-assigned
    tsq::simd::PreparedFullyConnected moved(std::move(original).value());
    REQUIRE_FALSE(moved.weights().values.data() == copy.weights().values.data());
  }  // the original and the moved-to owner are gone
  REQUIRE(reinterpret_cast<std::uintptr_t>(copy.weights().values.data()) % 64 == 0);
  std::vector<std::int8_t> scratch(copy.scratch_size(9));
  tsq_simd_test::for_each_path([&](tsq::simd::Path) {
    std::vector<std::int8_t> got(9 * 37);
    REQUIRE(copy.run(input, TensorView<std::int8_t>(got.data(), Shape{9, 37}), scratch).is_ok());
    REQUIRE(got == expected);
  });
}

TEST_CASE("simd FullyConnected: validation errors", "[simd][fully_connected]") {
  Rng rng(3);
  const FcLayer layer = random_layer(rng, 4, 10, 20);
  const auto quantization = layer.quantization(RoundingMode::double_rounding);
  std::vector<tsq::QuantizedMultiplier> multipliers(layer.q.weight_scales.size());
  const auto params = tsq::prepare_fully_connected(quantization, multipliers);
  REQUIRE(params.is_ok());
  const TensorView<const std::int8_t> weights(layer.weights.data(), Shape{20, 10});
  const TensorView<const std::int8_t> input(layer.input.data(), Shape{4, 10});
  std::vector<std::int8_t> output(4 * 20);
  const TensorView<std::int8_t> output_view(output.data(), Shape{4, 20});
  const auto simd_params = tsq::simd::prepare_fully_connected(*params);
  REQUIRE(simd_params.is_ok());
  const auto size = tsq::simd::fully_connected_packed_size(*simd_params);
  std::vector<std::int8_t> values(size.values);
  std::vector<tsq::simd::TileRequantization> tiles(size.tiles);
  const auto packed =
      tsq::simd::pack_fully_connected(*params, weights, layer.q.bias, values, tiles);
  REQUIRE(packed.is_ok());
  std::vector<std::int8_t> scratch(tsq::simd::fully_connected_scratch_size(*simd_params, 4));
  REQUIRE(tsq::simd::fully_connected(*simd_params, input, *packed, output_view, scratch).is_ok());

  SECTION("params not from prepare") {
    REQUIRE(tsq::simd::prepare_fully_connected(tsq::FullyConnectedParams{}).status().code() ==
            ErrorCode::not_prepared);
    REQUIRE(tsq::simd::fully_connected(tsq::simd::SimdFullyConnectedParams{}, input, *packed,
                                       output_view, scratch)
                .code() == ErrorCode::not_prepared);
    REQUIRE(tsq::simd::fully_connected(*simd_params, input, tsq::simd::PackedWeights{}, output_view,
                                       scratch)
                .code() == ErrorCode::not_prepared);
  }
  SECTION("int16 params") {
    tsq::FullyConnectedQuantization q16 = quantization;
    q16.input = tsq::make_quant_params(1e-4f, 0, tsq::DataType::int16);
    q16.output = tsq::make_quant_params(1e-2f, 0, tsq::DataType::int16);
    std::vector<tsq::QuantizedMultiplier> multipliers16(layer.q.weight_scales.size());
    const auto params16 = tsq::prepare_fully_connected(q16, multipliers16);
    REQUIRE(params16.is_ok());
    REQUIRE(tsq::simd::prepare_fully_connected(*params16).status().code() ==
            ErrorCode::unsupported_type);
  }
  SECTION("shapes") {
    const std::vector<std::int8_t> wrong(4 * 11);
    REQUIRE(tsq::simd::fully_connected(*simd_params,
                                       TensorView<const std::int8_t>(wrong.data(), Shape{4, 11}),
                                       *packed, output_view, scratch)
                .code() == ErrorCode::shape_mismatch);
    REQUIRE(tsq::simd::fully_connected(*simd_params, input, *packed,
                                       TensorView<std::int8_t>(output.data(), Shape{4, 19}),
                                       scratch)
                .code() == ErrorCode::shape_mismatch);
    REQUIRE(tsq::simd::pack_fully_connected(
                *params, TensorView<const std::int8_t>(layer.weights.data(), Shape{10, 20}),
                layer.q.bias, values, tiles)
                .status()
                .code() == ErrorCode::shape_mismatch);
    const std::vector<std::int32_t> short_bias(19);
    REQUIRE(tsq::simd::pack_fully_connected(*params, weights, short_bias, values, tiles)
                .status()
                .code() == ErrorCode::shape_mismatch);
  }
  SECTION("storage and scratch too small") {
    REQUIRE(tsq::simd::pack_fully_connected(
                *params, weights, layer.q.bias,
                tsq::Span<std::int8_t>(values.data(), values.size() - 1), tiles)
                .status()
                .code() == ErrorCode::buffer_too_small);
    // Fewer bytes than one aligned row can be guaranteed in: refused, never overrun.
    REQUIRE(tsq::simd::fully_connected(*simd_params, input, *packed, output_view,
                                       tsq::Span<std::int8_t>(scratch.data(), 16))
                .code() == ErrorCode::buffer_too_small);
  }
  SECTION("packed weights of another layer") {
    tsq::FullyConnectedQuantization other = quantization;
    other.input.zero_point = quantization.input.zero_point == 0 ? 1 : 0;
    std::vector<tsq::QuantizedMultiplier> other_multipliers(layer.q.weight_scales.size());
    const auto other_params = tsq::prepare_fully_connected(other, other_multipliers);
    REQUIRE(other_params.is_ok());
    const auto other_simd = tsq::simd::prepare_fully_connected(*other_params);
    REQUIRE(tsq::simd::fully_connected(*other_simd, input, *packed, output_view, scratch).code() ==
            ErrorCode::invalid_argument);
    const std::vector<std::int8_t> smaller_weights(20 * 9);
    std::vector<tsq::QuantizedMultiplier> small_multipliers(layer.q.weight_scales.size());
    tsq::FullyConnectedQuantization small = quantization;
    small.input_shape = Shape{4, 9};
    small.weights_shape = Shape{20, 9};
    const auto small_params = tsq::prepare_fully_connected(small, small_multipliers);
    REQUIRE(small_params.is_ok());
    const auto small_simd = tsq::simd::prepare_fully_connected(*small_params);
    const std::vector<std::int8_t> small_input(4 * 9);
    REQUIRE(tsq::simd::fully_connected(
                *small_simd, TensorView<const std::int8_t>(small_input.data(), Shape{4, 9}),
                *packed, output_view, scratch)
                .code() == ErrorCode::shape_mismatch);
  }
}
