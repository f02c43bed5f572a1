// SPDX-License-Identifier: Apache-2.0
// simd::max_pool2d and simd::avg_pool2d against the reference, bit for bit, on every path this
// CPU runs: random windows (filter 1-6, strides 1-4, VALID / SAME, batches), channel counts
// around every vector width (8, 16, 32, 64), activations; large windows (tap counts far from
// powers of two, for the division); the ECG model's pools; errors.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/simd/avg_pool2d.hpp"
#include "tsq/kernels/simd/max_pool2d.hpp"

using tsq::ErrorCode;
using tsq::Shape;
using tsq::TensorView;
using tsq_simd_test::pick;
using tsq_simd_test::Rng;

namespace {

struct PoolLayer {
  Shape input_shape;
  tsq::Pool2DWindow window;
  tsq::QuantParams params;
  tsq::FusedActivation activation = tsq::FusedActivation::none;
  std::vector<std::int8_t> input;
};

PoolLayer random_pool(Rng& rng, int trial) {
  PoolLayer layer;
  const std::int32_t channels = trial % 4 == 0 ? pick(rng, 28, 140) : pick(rng, 1, 20);
  layer.window.filter_height = pick(rng, 1, trial % 9 == 0 ? 6 : 3);
  layer.window.filter_width = pick(rng, 1, trial % 9 == 0 ? 6 : 4);
  layer.window.stride_height = pick(rng, 1, 4);
  layer.window.stride_width = pick(rng, 1, 4);
  layer.window.padding = pick(rng, 0, 1) == 0 ? tsq::Padding::same : tsq::Padding::valid;
  const std::int32_t height = layer.window.filter_height + pick(rng, 0, 8);
  const std::int32_t width = layer.window.filter_width + pick(rng, 0, 8);
  layer.input_shape = Shape{pick(rng, 1, 2), height, width, channels};
  layer.params = tsq_test::random_int8_params(rng);
  layer.activation = static_cast<tsq::FusedActivation>(pick(rng, 0, 2));
  layer.input =
      tsq_test::random_integers<std::int8_t>(rng, layer.input_shape.element_count(), -128, 127);
  return layer;
}

template <typename Quantization>
Quantization quantization(const PoolLayer& layer) {
  Quantization q;
  q.input_shape = layer.input_shape;
  q.input = layer.params;
  q.output = layer.params;
  q.window = layer.window;
  q.activation = layer.activation;
  return q;
}

void check_pool(const PoolLayer& layer, int trial) {
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  const auto max_params = tsq::prepare_max_pool2d(quantization<tsq::MaxPool2DQuantization>(layer));
  const auto avg_params = tsq::prepare_avg_pool2d(quantization<tsq::AvgPool2DQuantization>(layer));
  REQUIRE(max_params.is_ok());
  REQUIRE(avg_params.is_ok());
  const Shape output_shape = tsq::nhwc_shape(max_params->geometry.output);
  std::vector<std::int8_t> expected_max(output_shape.element_count());
  std::vector<std::int8_t> expected_avg(output_shape.element_count());
  REQUIRE(tsq::reference::max_pool2d(*max_params, input,
                                     TensorView<std::int8_t>(expected_max.data(), output_shape))
              .is_ok());
  REQUIRE(tsq::reference::avg_pool2d(*avg_params, input,
                                     TensorView<std::int8_t>(expected_avg.data(), output_shape))
              .is_ok());
  tsq_simd_test::for_each_path([&](tsq::simd::Path path) {
    std::vector<std::int8_t> got_max(expected_max.size(), 0x11);
    std::vector<std::int8_t> got_avg(expected_avg.size(), 0x11);
    REQUIRE(tsq::simd::max_pool2d(*max_params, input,
                                  TensorView<std::int8_t>(got_max.data(), output_shape))
                .is_ok());
    REQUIRE(tsq::simd::avg_pool2d(*avg_params, input,
                                  TensorView<std::int8_t>(got_avg.data(), output_shape))
                .is_ok());
    const tsq::Pool2DWindow& w = layer.window;
    INFO("trial " << trial << " path " << tsq::simd::path_name(path) << " input "
                  << layer.input_shape[0] << "x" << layer.input_shape[1] << "x"
                  << layer.input_shape[2] << "x" << layer.input_shape[3] << " window "
                  << w.filter_height << "x" << w.filter_width << " stride " << w.stride_height
                  << "," << w.stride_width
                  << (w.padding == tsq::Padding::same ? " same" : " valid"));
    REQUIRE(tsq_simd_test::first_difference(got_max, expected_max) == -1);
    REQUIRE(tsq_simd_test::first_difference(got_avg, expected_avg) == -1);
  });
}

}  // namespace

TEST_CASE("simd MaxPool2D and AvgPool2D equal the reference on random windows, every path",
          "[simd][pool]") {
  Rng rng(424242);
  for (int trial = 0; trial < 1500; ++trial) check_pool(random_pool(rng, trial), trial);
}

TEST_CASE("simd AvgPool2D equals the reference on large windows", "[simd][pool]") {
  Rng rng(77);
  for (int trial = 0; trial < 40; ++trial) {
    PoolLayer layer;
    layer.window.filter_height = pick(rng, 1, 40);
    layer.window.filter_width = pick(rng, 1, 40);
    layer.window.stride_height = pick(rng, 1, 40);
    layer.window.stride_width = pick(rng, 1, 40);
    layer.window.padding = trial % 2 == 0 ? tsq::Padding::same : tsq::Padding::valid;
    layer.input_shape = Shape{1, layer.window.filter_height + pick(rng, 0, 30),
                              layer.window.filter_width + pick(rng, 0, 30), pick(rng, 1, 20)};
    layer.params = tsq_test::random_int8_params(rng);
    // Mostly extreme values: sums near the ends of their range, ties on every side.
    layer.input = tsq_test::random_integers<std::int8_t>(rng, layer.input_shape.element_count(),
                                                         trial % 3 == 0 ? 120 : -128,
                                                         trial % 3 == 1 ? -120 : 127);
    check_pool(layer, trial);
  }
}

TEST_CASE("simd pooling equals the reference at the ECG model's shapes", "[simd][pool]") {
  Rng rng(3);
  const Shape shapes[] = {{1, 1, 258, 5}, {1, 1, 126, 10}, {1, 1, 60, 20}, {1, 124, 6, 64}};
  for (const Shape& shape : shapes) {
    PoolLayer layer;
    layer.input_shape = shape;
    layer.window = shape[1] == 1 ? tsq::Pool2DWindow{1, 2, 1, 2, tsq::Padding::valid}
                                 : tsq::Pool2DWindow{2, 1, 2, 1, tsq::Padding::valid};
    layer.params = tsq_test::random_int8_params(rng);
    layer.input = tsq_test::random_integers<std::int8_t>(rng, shape.element_count(), -128, 127);
    check_pool(layer, 0);
  }
}

TEST_CASE("simd pooling: validation errors", "[simd][pool]") {
  Rng rng(5);
  PoolLayer layer;
  layer.input_shape = Shape{1, 6, 6, 3};
  layer.window = tsq::Pool2DWindow{2, 2, 2, 2, tsq::Padding::valid};
  layer.params = tsq_test::random_int8_params(rng);
  layer.input = tsq_test::random_integers<std::int8_t>(rng, 108, -128, 127);
  const auto max_params = tsq::prepare_max_pool2d(quantization<tsq::MaxPool2DQuantization>(layer));
  const auto avg_params = tsq::prepare_avg_pool2d(quantization<tsq::AvgPool2DQuantization>(layer));
  REQUIRE(max_params.is_ok());
  REQUIRE(avg_params.is_ok());
  const TensorView<const std::int8_t> input(layer.input.data(), layer.input_shape);
  std::vector<std::int8_t> output(27);
  const TensorView<std::int8_t> good(output.data(), Shape{1, 3, 3, 3});
  const TensorView<std::int8_t> bad(output.data(), Shape{1, 3, 3, 2});
  REQUIRE(tsq::simd::max_pool2d(*max_params, input, good).is_ok());
  REQUIRE(tsq::simd::avg_pool2d(*avg_params, input, good).is_ok());
  REQUIRE(tsq::simd::max_pool2d(*max_params, input, bad).code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::avg_pool2d(*avg_params, input, bad).code() == ErrorCode::shape_mismatch);
  REQUIRE(
      tsq::simd::max_pool2d(
          *max_params, TensorView<const std::int8_t>(layer.input.data(), Shape{1, 6, 5, 3}), good)
          .code() == ErrorCode::shape_mismatch);
  REQUIRE(tsq::simd::max_pool2d(tsq::MaxPool2DParams{}, input, good).code() ==
          ErrorCode::not_prepared);
  REQUIRE(tsq::simd::avg_pool2d(tsq::AvgPool2DParams{}, input, good).code() ==
          ErrorCode::not_prepared);
  // Params prepared for int16 activations.
  PoolLayer wide = layer;
  wide.params = tsq::make_quant_params(0.01f, 0, tsq::DataType::int16);
  const auto max16 = tsq::prepare_max_pool2d(quantization<tsq::MaxPool2DQuantization>(wide));
  const auto avg16 = tsq::prepare_avg_pool2d(quantization<tsq::AvgPool2DQuantization>(wide));
  REQUIRE(max16.is_ok());
  REQUIRE(avg16.is_ok());
  REQUIRE(tsq::simd::max_pool2d(*max16, input, good).code() == ErrorCode::unsupported_type);
  REQUIRE(tsq::simd::avg_pool2d(*avg16, input, good).code() == ErrorCode::unsupported_type);
}
