// SPDX-License-Identifier: Apache-2.0
// mcu::conv2d (kernels/mcu/conv2d.hpp) against the specification, reference::conv2d: random
// layers over every geometry it has a path for (1-D along the height, 2-D with contiguous filter
// rows, dilated rows, grouped filters that fall back to the reference), with and without padding
// and bias, per-tensor and per-channel scales, any zero points and both rounding modes. Every
// output byte must be equal.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "tsq/kernels/mcu/conv2d.hpp"
#include "tsq/kernels/prepared.hpp"

namespace {

using tsq::Shape;

struct Layer {
  std::int32_t height, width, channels, filters, kernel_height, kernel_width, groups;
  std::int32_t stride_height, stride_width, dilation_height, dilation_width;
};

}  // namespace

TEST_CASE("mcu::conv2d equals reference::conv2d bit for bit", "[kernels][mcu]") {
  std::mt19937 rng(20261206);
  const auto pick = [&](std::int32_t lo, std::int32_t hi) {
    return std::uniform_int_distribution<std::int32_t>(lo, hi)(rng);
  };
  const Layer shapes[] = {
      {26, 1, 3, 16, 5, 1, 1, 1, 1, 1, 1},   // Conv1D over a HAR frame
      {258, 1, 5, 10, 4, 1, 1, 1, 1, 1, 1},  // the ECG model's Conv1D
      {31, 1, 7, 5, 3, 1, 1, 2, 1, 1, 1},    // 1-D, stride 2
      {17, 1, 4, 6, 3, 1, 1, 1, 1, 2, 1},    // 1-D, dilated: per-row runs
      {9, 11, 3, 4, 3, 3, 1, 1, 1, 1, 1},    // 2-D
      {10, 9, 5, 3, 2, 4, 1, 2, 3, 1, 1},    // 2-D, strides
      {12, 12, 2, 3, 3, 3, 1, 1, 1, 2, 2},   // 2-D, dilated columns: per-tap runs
      {8, 1, 6, 4, 3, 1, 2, 1, 1, 1, 1},     // grouped: the reference's loops
  };
  std::size_t compared = 0;
  for (const Layer& s : shapes) {
    for (int trial = 0; trial < 12; ++trial) {
      const auto padding = trial % 2 == 0 ? tsq::Padding::valid : tsq::Padding::same;
      const auto rounding =
          trial % 4 < 2 ? tsq::RoundingMode::double_rounding : tsq::RoundingMode::single_rounding;
      const bool per_channel = trial % 3 != 0;
      const bool with_bias = trial % 5 != 4;
      const std::int32_t depth = s.channels / s.groups;
      const Shape input_shape{1, s.height, s.width, s.channels};
      const Shape filter_shape{s.filters, s.kernel_height, s.kernel_width, depth};
      std::vector<float> scales(per_channel ? static_cast<std::size_t>(s.filters) : 1);
      for (float& scale : scales) scale = 0.002f + 0.01f * static_cast<float>(pick(1, 100)) / 100;
      tsq::Conv2DQuantization q;
      q.input_shape = input_shape;
      q.input = tsq::make_quant_params(0.05f, pick(-128, 127), tsq::DataType::int8);
      q.filter_shape = filter_shape;
      q.filter_scales = tsq::Span<const float>(scales.data(), scales.size());
      q.output = tsq::make_quant_params(0.03f + 0.01f * static_cast<float>(trial), pick(-128, 127),
                                        tsq::DataType::int8);
      q.options.padding = padding;
      q.options.stride_height = s.stride_height;
      q.options.stride_width = s.stride_width;
      q.options.dilation_height = s.dilation_height;
      q.options.dilation_width = s.dilation_width;
      q.options.activation =
          trial % 3 == 1 ? tsq::FusedActivation::relu : tsq::FusedActivation::none;
      q.rounding = rounding;
      auto prepared = tsq::prepare_owned_conv2d(q);
      REQUIRE(prepared.is_ok());
      const tsq::Conv2DGeometry& g = prepared.value()->geometry;
      std::vector<std::int8_t> input(input_shape.element_count()),
          filter(filter_shape.element_count());
      for (auto& v : input) v = static_cast<std::int8_t>(pick(-128, 127));
      for (auto& v : filter) v = static_cast<std::int8_t>(pick(-127, 127));
      std::vector<std::int32_t> bias(with_bias ? static_cast<std::size_t>(s.filters) : 0);
      for (auto& b : bias) b = pick(-20000, 20000);
      const Shape output_shape = tsq::nhwc_shape(g.output);
      std::vector<std::int8_t> expected(output_shape.element_count()),
          got(output_shape.element_count(), 0x55);
      const tsq::TensorView<const std::int8_t> in(input.data(), input_shape);
      const tsq::TensorView<const std::int8_t> weights(filter.data(), filter_shape);
      const tsq::Span<const std::int32_t> b(bias.data(), bias.size());
      REQUIRE(tsq::reference::conv2d(prepared.value(), in, weights, b,
                                     tsq::TensorView<std::int8_t>(expected.data(), output_shape))
                  .is_ok());
      REQUIRE(tsq::mcu::conv2d(prepared.value(), in, weights, b,
                               tsq::TensorView<std::int8_t>(got.data(), output_shape))
                  .is_ok());
      CHECK(got == expected);
      ++compared;
    }
  }
  CHECK(compared == 96);
}

TEST_CASE("mcu::conv2d refuses what reference::conv2d refuses", "[kernels][mcu]") {
  tsq::Conv2DQuantization q;
  q.input_shape = Shape{1, 8, 1, 2};
  q.input = tsq::make_quant_params(0.05f, 0, tsq::DataType::int8);
  q.filter_shape = Shape{3, 3, 1, 2};
  const float scale = 0.01f;
  q.filter_scales = tsq::Span<const float>(&scale, 1);
  q.output = tsq::make_quant_params(0.05f, 0, tsq::DataType::int8);
  auto prepared = tsq::prepare_owned_conv2d(q);
  REQUIRE(prepared.is_ok());
  std::vector<std::int8_t> input(16), filter(18), output(18);
  // The output of a valid 3-tap conv over 8 rows has 6 rows, not 9.
  const auto status = tsq::mcu::conv2d(
      prepared.value(), tsq::TensorView<const std::int8_t>(input.data(), Shape{1, 8, 1, 2}),
      tsq::TensorView<const std::int8_t>(filter.data(), Shape{3, 3, 1, 2}), {},
      tsq::TensorView<std::int8_t>(output.data(), Shape{1, 9, 1, 2}));
  CHECK(status.code() == tsq::ErrorCode::shape_mismatch);
  tsq::Conv2DParams unprepared;
  CHECK(tsq::mcu::conv2d(unprepared,
                         tsq::TensorView<const std::int8_t>(input.data(), Shape{1, 8, 1, 2}),
                         tsq::TensorView<const std::int8_t>(filter.data(), Shape{3, 3, 1, 2}), {},
                         tsq::TensorView<std::int8_t>(output.data(), Shape{1, 6, 1, 3}))
            .code() == tsq::ErrorCode::not_prepared);
}
