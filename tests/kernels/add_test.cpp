// SPDX-License-Identifier: Apache-2.0
// Add: the spec's vectors and multipliers, hand-computed ties in both rounding modes, int16,
// activations, broadcasting, strided views, exhaustive int8 pairs and int16 values against a
// double-precision reference, integer vs float on random layers, a residual block, and every
// validation error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/add.hpp"
#include "tsq/kernels/reference/add.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::FusedActivation;
using tsq::QuantizedMultiplier;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::TensorView;
using tsq_test::kBothModes;

namespace {

template <typename T>
std::vector<T> run_add(const tsq::AddParams& params, const std::vector<T>& input1,
                       const std::vector<T>& input2) {
  std::vector<T> output(params.output_shape.element_count());
  const tsq::Status status =
      tsq::reference::add(params, TensorView<const T>(input1.data(), params.input1_shape),
                          TensorView<const T>(input2.data(), params.input2_shape),
                          TensorView<T>(output.data(), params.output_shape));
  REQUIRE(status.is_ok());
  return output;
}

tsq::AddParams prepare(const Shape& shape1, const QuantParams& input1, const Shape& shape2,
                       const QuantParams& input2, const QuantParams& output, RoundingMode mode,
                       FusedActivation activation = FusedActivation::none) {
  const auto params = tsq::prepare_add({shape1, input1, shape2, input2, output, activation, mode});
  REQUIRE(params.is_ok());
  return params.value();
}

}  // namespace

TEST_CASE("Add int8: the spec's test vectors", "[kernels][add]") {
  // S1 = 0.05, Z1 = -10, S2 = 0.1, Z2 = 5, S_out = 0.12, Z_out = 3: T = 0.2, M1 = 0.25,
  // M2 = 0.5, M_out = 0.2 / (2^20 * 0.12).
  const QuantParams input1 = tsq::make_quant_params(0.05f, -10, DataType::int8);
  const QuantParams input2 = tsq::make_quant_params(0.1f, 5, DataType::int8);
  const QuantParams output = tsq::make_quant_params(0.12f, 3, DataType::int8);
  const std::vector<std::int8_t> x1 = {-10, 0, 37, 100, 127, -128};
  const std::vector<std::int8_t> x2 = {5, 0, -41, -100, 127, -128};
  for (const RoundingMode mode : kBothModes) {
    const auto params = prepare(Shape{6}, input1, Shape{6}, input2, output, mode);
    CHECK(params.left_shift == 20);
    CHECK(params.input1_multiplier == (QuantizedMultiplier{1 << 30, -1}));
    CHECK(params.input2_multiplier == (QuantizedMultiplier{1 << 30, 0}));
    CHECK(params.output_multiplier == (QuantizedMultiplier{1789569773, -19}));
    CHECK(run_add(params, x1, x2) == std::vector<std::int8_t>{3, 3, -16, -39, 127, -128});
  }
}

TEST_CASE("Add int8: hand-computed ties in both rounding modes", "[kernels][add]") {
  // S1 = 0.5, S2 = 0.25, S_out = 0.5, all Z = 0: T = 1, M1 = 1/2 -> (2^30, 0), M2 = 1/4 ->
  // (2^30, -1), M_out = 1 / (2^20 * 0.5) = 2^-19 -> (2^30, -18).
  // (3, 3): a = 3 * 2^20 / 2 = 1572864, b = 3 * 2^20 / 4 = 786432 (both exact);
  //         (a + b) * 2^-19 = 4.5 -> 5 in both modes (positive tie);
  // (-3, -3): -4.5 -> double rounding -5 (away from zero), single rounding -4 (ties up).
  // (1, -2): 0.5 - 0.5 = 0 -> 0;  (5, 1): 2.5 + 0.25 = 2.75 / 0.5 = 5.5 -> 6 both.
  const QuantParams input1 = tsq::make_quant_params(0.5f, 0, DataType::int8);
  const QuantParams input2 = tsq::make_quant_params(0.25f, 0, DataType::int8);
  const std::vector<std::int8_t> x1 = {3, -3, 1, 5};
  const std::vector<std::int8_t> x2 = {3, -3, -2, 1};
  auto params = prepare(Shape{4}, input1, Shape{4}, input2, input1, RoundingMode::double_rounding);
  CHECK(params.input1_multiplier == (QuantizedMultiplier{1 << 30, 0}));
  CHECK(params.input2_multiplier == (QuantizedMultiplier{1 << 30, -1}));
  CHECK(params.output_multiplier == (QuantizedMultiplier{1 << 30, -18}));
  CHECK(run_add(params, x1, x2) == std::vector<std::int8_t>{5, -5, 0, 6});
  params = prepare(Shape{4}, input1, Shape{4}, input2, input1, RoundingMode::single_rounding);
  CHECK(run_add(params, x1, x2) == std::vector<std::int8_t>{5, -4, 0, 6});
  // The inputs may come in either order: the larger scale always gets (2^30, 0).
  params = prepare(Shape{4}, input2, Shape{4}, input1, input1, RoundingMode::double_rounding);
  CHECK(params.input1_multiplier == (QuantizedMultiplier{1 << 30, -1}));
  CHECK(run_add(params, x2, x1) == std::vector<std::int8_t>{5, -5, 0, 6});
}

TEST_CASE("Add int8: fused activations", "[kernels][add]") {
  // Equal scales 0.5, Z_out = -10: y = x1 + x2 - 10 (Z1 = Z2 = 0), exact (no tie).
  // ReLU clamps at -10; ReLU6 also at -10 + round(6 / 0.5) = 2.
  const QuantParams input = tsq::make_quant_params(0.5f, 0, DataType::int8);
  const QuantParams output = tsq::make_quant_params(0.5f, -10, DataType::int8);
  const std::vector<std::int8_t> x1 = {-20, 4, 10, 100};
  const std::vector<std::int8_t> x2 = {3, 4, 5, 100};
  const auto run = [&](FusedActivation activation) {
    return run_add(prepare(Shape{4}, input, Shape{4}, input, output, RoundingMode::double_rounding,
                           activation),
                   x1, x2);
  };
  CHECK(run(FusedActivation::none) == std::vector<std::int8_t>{-27, -2, 5, 127});
  CHECK(run(FusedActivation::relu) == std::vector<std::int8_t>{-10, -2, 5, 127});
  CHECK(run(FusedActivation::relu6) == std::vector<std::int8_t>{-10, -2, 2, 2});
}

TEST_CASE("Add int16: hand-computed values, ties, saturation", "[kernels][add]") {
  // S1 = 2^-10, S2 = 2^-11, S_out = 2^-10, Z = 0: T = 2^-9, left_shift 15, M1 = (2^30, 0),
  // M2 = (2^30, -1), M_out = 2^-9 / (2^15 * 2^-10) = 2^-14 -> (2^30, -13).
  // (1000, 1001): a = 1000 * 2^14, b = 1001 * 2^13, (a + b) * 2^-14 = 1500.5 -> 1501 both modes;
  // (-1000, -1001): -1500.5 -> -1501 (double) / -1500 (single);
  // (32767, 32767): 49150.5 -> saturates at 32767; (-32768, -32768) -> -32768; (7, -14): 0.
  const QuantParams input1 = tsq::make_quant_params(1.0f / 1024, 0, DataType::int16);
  const QuantParams input2 = tsq::make_quant_params(1.0f / 2048, 0, DataType::int16);
  const std::vector<std::int16_t> x1 = {1000, -1000, 32767, -32768, 7};
  const std::vector<std::int16_t> x2 = {1001, -1001, 32767, -32768, -14};
  auto params = prepare(Shape{5}, input1, Shape{5}, input2, input1, RoundingMode::double_rounding);
  CHECK(params.left_shift == 15);
  CHECK(params.output_multiplier == (QuantizedMultiplier{1 << 30, -13}));
  CHECK(run_add(params, x1, x2) == std::vector<std::int16_t>{1501, -1501, 32767, -32768, 0});
  params = prepare(Shape{5}, input1, Shape{5}, input2, input1, RoundingMode::single_rounding);
  CHECK(run_add(params, x1, x2) == std::vector<std::int16_t>{1501, -1500, 32767, -32768, 0});

  // TFLite-Micro takes any int16 zero point: x - Z spans up to 65535 and 65535 * 2^15 still fits
  // int32. Z1 = -32768, Z2 = 32767, equal scales: 32767 + (-32768) -> 65535 S - 65535 S = 0.
  const QuantParams low = tsq::make_quant_params(1e-3f, -32768, DataType::int16);
  const QuantParams high = tsq::make_quant_params(1e-3f, 32767, DataType::int16);
  const QuantParams out = tsq::make_quant_params(4e-3f, 0, DataType::int16);
  for (const RoundingMode mode : kBothModes) {
    params = prepare(Shape{3}, low, Shape{3}, high, out, mode);
    // (32767, -32768): 0;  (32767, 32767): 65535 * 1e-3 / 4e-3 = 16383.75 -> 16384;
    // (-32768, -32768): -65535 / 4 = -16383.75 -> -16384.
    CHECK(run_add<std::int16_t>(params, {32767, 32767, -32768}, {-32768, 32767, -32768}) ==
          std::vector<std::int16_t>{0, 16384, -16384});
  }
}

TEST_CASE("Add: broadcasting", "[kernels][add]") {
  // [2, 3] + [3] (a per-channel term): every row gets the same vector added; [2, 1, 3] + [1, 4, 1]
  // -> [2, 4, 3]; a rank-0 scalar + [2, 2]. Checked bit for bit against the equal-shape kernel
  // on the materialized (repeated) inputs.
  CHECK(tsq::add_output_shape(Shape{2, 3}, Shape{3}).value() == (Shape{2, 3}));
  CHECK(tsq::add_output_shape(Shape{2, 1, 3}, Shape{1, 4, 1}).value() == (Shape{2, 4, 3}));
  CHECK(tsq::add_output_shape(Shape{}, Shape{2, 2}).value() == (Shape{2, 2}));
  CHECK(tsq::add_output_shape(Shape{5, 1, 1, 1, 7}, Shape{3, 1, 1}).value() ==
        (Shape{5, 1, 3, 1, 7}));
  CHECK(tsq::add_output_shape(Shape{0, 3}, Shape{1, 3}).value() == (Shape{0, 3}));

  tsq_test::Rng rng(8);
  const QuantParams input1 = tsq::make_quant_params(0.03f, 11, DataType::int8);
  const QuantParams input2 = tsq::make_quant_params(0.07f, -20, DataType::int8);
  const QuantParams output = tsq::make_quant_params(0.08f, -3, DataType::int8);
  struct Case {
    Shape a, b;
  };
  for (const Case& c : {Case{Shape{2, 3}, Shape{3}}, Case{Shape{2, 1, 3}, Shape{1, 4, 1}},
                        Case{Shape{}, Shape{2, 2}}, Case{Shape{3, 1, 5}, Shape{3, 4, 1}},
                        Case{Shape{2, 3, 4, 5}, Shape{2, 1, 4, 1}},
                        Case{Shape{1, 6, 1, 2, 3}, Shape{4, 1, 5, 1, 3}}}) {
    for (const RoundingMode mode : kBothModes) {
      const auto params = prepare(c.a, input1, c.b, input2, output, mode);
      const Shape& shape = params.output_shape;
      const auto a = tsq_test::random_integers<std::int8_t>(rng, c.a.element_count(), -128, 127);
      const auto b = tsq_test::random_integers<std::int8_t>(rng, c.b.element_count(), -128, 127);
      const auto y = run_add(params, a, b);
      // Materialize: element i of the output reads a and b at the broadcast indices.
      std::vector<std::int8_t> a_full(shape.element_count()), b_full(shape.element_count());
      for (std::size_t i = 0; i < shape.element_count(); ++i) {
        std::size_t rest = i, offset_a = 0, offset_b = 0, stride_a = 1, stride_b = 1;
        for (int axis = shape.rank() - 1; axis >= 0; --axis) {
          const auto index = static_cast<std::size_t>(rest % static_cast<std::size_t>(shape[axis]));
          rest /= static_cast<std::size_t>(shape[axis]);
          const int axis_a = axis - (shape.rank() - c.a.rank());
          const int axis_b = axis - (shape.rank() - c.b.rank());
          if (axis_a >= 0) {
            if (c.a[axis_a] != 1) offset_a += index * stride_a;
            stride_a *= static_cast<std::size_t>(c.a[axis_a]);
          }
          if (axis_b >= 0) {
            if (c.b[axis_b] != 1) offset_b += index * stride_b;
            stride_b *= static_cast<std::size_t>(c.b[axis_b]);
          }
        }
        a_full[i] = a[offset_a];
        b_full[i] = b[offset_b];
      }
      const auto flat = prepare(shape, input1, shape, input2, output, mode);
      CHECK(y == run_add(flat, a_full, b_full));
    }
  }
}

TEST_CASE("Add: strided views give the same result as dense ones", "[kernels][add]") {
  // input1 read transposed ([4, 3] view of a [3, 4] buffer), input2 dense, output written to every
  // other element of a larger buffer.
  tsq_test::Rng rng(21);
  const auto buffer = tsq_test::random_integers<std::int16_t>(rng, 12, -32768, 32767);
  const auto b = tsq_test::random_integers<std::int16_t>(rng, 12, -32768, 32767);
  std::vector<std::int16_t> a(12);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j) a[i * 3 + j] = buffer[j * 4 + i];
  const QuantParams input1 = tsq::make_quant_params(2e-4f, 0, DataType::int16);
  const QuantParams input2 = tsq::make_quant_params(5e-4f, 0, DataType::int16);
  const QuantParams output = tsq::make_quant_params(6e-4f, 0, DataType::int16);
  const auto params = prepare(Shape{4, 3}, input1, Shape{4, 3}, input2, output,
                              RoundingMode::double_rounding, FusedActivation::relu);
  const std::ptrdiff_t strides[] = {1, 4};
  const std::ptrdiff_t output_strides[] = {6, 2};
  std::vector<std::int16_t> spread(24, 1234);
  REQUIRE(tsq::reference::add(
              params, TensorView<const std::int16_t>::strided(buffer.data(), Shape{4, 3}, strides),
              TensorView<const std::int16_t>(b.data(), Shape{4, 3}),
              TensorView<std::int16_t>::strided(spread.data(), Shape{4, 3}, output_strides))
              .is_ok());
  const auto expected = run_add(params, a, b);
  for (std::size_t i = 0; i < 12; ++i) {
    CHECK(spread[2 * i] == expected[i]);
    CHECK(spread[2 * i + 1] == 1234);
  }
}

namespace {

// Checks every output against the exact sum in double: in output steps,
//   |y - clamp(Z_out + (S1 (x1 - Z1) + S2 (x2 - Z2)) / S_out, act_min, act_max)| <= r + d
// with r = 1 (double rounding: the last MBQM rounds twice, <= 1/2 + 1/2^(shift+1)) or 1/2
// (single), and d = 2 T / (2^left_shift S_out) (each input rescaling is off by at most one unit
// of T / 2^left_shift) + |exact| 2^-29 (the three multipliers are exact to 2^-31 relative).
// Returns how many outputs are not a nearest integer of the exact result (tie direction aside).
// x1[i] and x2[i] are the inputs of output i.
template <typename T>
std::size_t check_against_double(const tsq::AddParams& params, const QuantParams& q1,
                                 const QuantParams& q2, const QuantParams& out,
                                 const std::vector<T>& x1, const std::vector<T>& x2,
                                 const std::vector<T>& y, double& worst) {
  REQUIRE(x1.size() == y.size());
  REQUIRE(x2.size() == y.size());
  const double r = params.rounding == RoundingMode::double_rounding ? 1.0 : 0.5;
  const double twice_max = 2.0 * static_cast<double>(std::max(q1.scale, q2.scale));
  const double d = 2.0 * twice_max / (std::ldexp(1.0, params.left_shift) * out.scale);
  std::size_t failures = 0, not_nearest = 0;
  std::size_t first_failure = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::int32_t a = x1[i];
    const std::int32_t b = x2[i];
    const double exact = static_cast<double>(q1.scale) * (a - q1.zero_point) +
                         static_cast<double>(q2.scale) * (b - q2.zero_point);
    const double target = exact / static_cast<double>(out.scale) + out.zero_point;
    const double clamped =
        std::min<double>(std::max<double>(target, params.activation.min), params.activation.max);
    const double bound = r + d + std::fabs(exact / out.scale) * std::ldexp(1.0, -29) + 1e-9;
    if (std::fabs(y[i] - clamped) > bound) {
      if (failures++ == 0) first_failure = i;
    }
    if (std::fabs(y[i] - clamped) > 0.5 + 1e-9) ++not_nearest;
    worst = std::max(worst, std::fabs(y[i] - clamped));
  }
  INFO("first failure at output " << first_failure << " of " << y.size());
  CHECK(failures == 0);
  return not_nearest;
}

}  // namespace

TEST_CASE("Add int8: all 65536 input pairs against a double-precision reference",
          "[kernels][add]") {
  // x1 = every int8 value as a [1, 256] row, x2 = every value as a [256, 1] column: the
  // broadcast output [256, 256] holds every pair.
  std::vector<std::int8_t> all(256);
  for (int v = 0; v < 256; ++v)
    all[static_cast<std::size_t>(v)] = static_cast<std::int8_t>(v - 128);
  struct Case {
    QuantParams a, b, out;
    FusedActivation activation;
  };
  const auto p = [](float scale, std::int32_t zero_point) {
    return tsq::make_quant_params(scale, zero_point, DataType::int8);
  };
  const Case cases[] = {
      {p(0.05f, -10), p(0.1f, 5), p(0.12f, 3), FusedActivation::none},  // the spec's
      {p(0.02f, 0), p(0.02f, 0), p(0.04f, 0), FusedActivation::none},   // equal scales
      {p(0.001f, 100), p(1.0f, -128), p(0.5f, -20), FusedActivation::none},
      {p(0.3f, 17), p(0.0123f, -77), p(0.01f, 0), FusedActivation::none},  // saturating
      {p(0.0471f, -3), p(0.0388f, 40), p(0.06f, -128), FusedActivation::relu},
      {p(0.05f, 0), p(0.05f, 0), p(0.05f, -100), FusedActivation::relu6},
  };
  std::size_t not_nearest[2] = {0, 0};
  double worst[2] = {0.0, 0.0};  // largest |error| in output steps, per rounding mode
  for (const Case& c : cases) {
    for (int m = 0; m < 2; ++m) {
      const auto params =
          prepare(Shape{1, 256}, c.a, Shape{256, 1}, c.b, c.out, kBothModes[m], c.activation);
      const auto y = run_add(params, all, all);
      REQUIRE(y.size() == 65536);
      // y[row * 256 + column] = x1[column] + x2[row].
      std::vector<std::int8_t> x1(65536), x2(65536);
      for (std::size_t i = 0; i < 65536; ++i) {
        x1[i] = all[i % 256];
        x2[i] = all[i / 256];
      }
      not_nearest[m] += check_against_double(params, c.a, c.b, c.out, x1, x2, y, worst[m]);
    }
  }
  // How often the result is off by more than 1/2 step (run with -s to see): double rounding,
  // single rounding, out of 6 * 65536 (the three roundings make this rare, not impossible).
  CHECK(not_nearest[0] < 6 * 65536 / 100);
  CHECK(not_nearest[1] < 6 * 65536 / 100);
  CHECK(worst[0] < 1.0);
  CHECK(worst[1] < 1.0);
}

TEST_CASE("Add int16: every input value against a double-precision reference", "[kernels][add]") {
  // Every int16 value for input1 with a random partner, then every value for input2.
  tsq_test::Rng rng(16);
  std::vector<std::int16_t> all(65536);
  for (std::int32_t v = 0; v < 65536; ++v)
    all[static_cast<std::size_t>(v)] = static_cast<std::int16_t>(v - 32768);
  const auto p = [](float scale, std::int32_t zero_point) {
    return tsq::make_quant_params(scale, zero_point, DataType::int16);
  };
  struct Case {
    QuantParams a, b, out;
    FusedActivation activation;
  };
  const Case cases[] = {
      {p(1e-4f, 0), p(3e-4f, 0), p(4e-4f, 0), FusedActivation::none},
      {p(2.5e-5f, 0), p(2.5e-5f, 0), p(3e-5f, 0), FusedActivation::none},  // saturating
      {p(7e-4f, 0), p(1.1e-5f, 0), p(7.5e-4f, 0), FusedActivation::relu},
      {p(1e-3f, 1000), p(2e-3f, -5000), p(3e-3f, 77), FusedActivation::relu6},
  };
  std::size_t not_nearest[2] = {0, 0};
  double worst[2] = {0.0, 0.0};  // largest |error| in output steps, per rounding mode
  for (const Case& c : cases) {
    const auto partner = tsq_test::random_integers<std::int16_t>(rng, 65536, -32768, 32767);
    for (int m = 0; m < 2; ++m) {
      const auto params =
          prepare(Shape{65536}, c.a, Shape{65536}, c.b, c.out, kBothModes[m], c.activation);
      const auto y = run_add(params, all, partner);
      not_nearest[m] += check_against_double(params, c.a, c.b, c.out, all, partner, y, worst[m]);
      const auto y_swapped = run_add(params, partner, all);
      not_nearest[m] +=
          check_against_double(params, c.a, c.b, c.out, partner, all, y_swapped, worst[m]);
    }
  }
  CHECK(not_nearest[0] < 8 * 65536 / 100);
  CHECK(not_nearest[1] < 8 * 65536 / 100);
  CHECK(worst[0] < 1.0);
  CHECK(worst[1] < 1.0);
}

namespace {

// Integer vs float on random (broadcast) shapes. Bound: as against double (r S_out + 2 T /
// 2^left_shift + 2^-29 |y|), plus float32: the dequantized inputs and output and the float sum,
// each within 2^-24 relative: 2^-23 (|x1| + |x2| + |y|). The float result is clamped to the
// dequantized activation range of the integer kernel (clamping is 1-Lipschitz; ReLU6's integer
// bound is within S_out / 2 of 6.0, below r S_out). Returns the worst error in steps S_out.
template <typename T>
double check_random_add(tsq_test::Rng& rng, const QuantParams& q1, const QuantParams& q2,
                        const QuantParams& out, RoundingMode mode, FusedActivation activation) {
  std::int32_t dims[4];
  for (std::int32_t& d : dims) d = 1 + static_cast<std::int32_t>(rng() % 5);
  const int rank = 1 + static_cast<int>(rng() % 4);
  std::int32_t dims1[4], dims2[4];
  for (int i = 0; i < rank; ++i) {
    dims1[i] = rng() % 4 == 0 ? 1 : dims[i];
    dims2[i] = rng() % 4 == 0 ? 1 : dims[i];
  }
  const int rank2 = rank - static_cast<int>(rng() % static_cast<unsigned>(rank));
  const Shape shape1 =
      Shape::make(tsq::Span<const std::int32_t>(dims1, static_cast<std::size_t>(rank))).value();
  const Shape shape2 = Shape::make(tsq::Span<const std::int32_t>(dims2 + (rank - rank2),
                                                                 static_cast<std::size_t>(rank2)))
                           .value();
  const auto params = prepare(shape1, q1, shape2, q2, out, mode, activation);
  const auto x1 =
      tsq_test::random_integers<T>(rng, shape1.element_count(), q1.quant_min, q1.quant_max);
  const auto x2 =
      tsq_test::random_integers<T>(rng, shape2.element_count(), q2.quant_min, q2.quant_max);
  const auto y = run_add(params, x1, x2);
  const auto f1 = tsq_test::dequantize_all(x1, q1);
  const auto f2 = tsq_test::dequantize_all(x2, q2);
  std::vector<float> expected(y.size());
  REQUIRE(tsq::floating::add(activation, TensorView<const float>(f1.data(), shape1),
                             TensorView<const float>(f2.data(), shape2),
                             TensorView<float>(expected.data(), params.output_shape))
              .is_ok());
  float largest = 0.0f;
  for (const float v : f1) largest = std::max(largest, std::fabs(v));
  float largest2 = 0.0f;
  for (const float v : f2) largest2 = std::max(largest2, std::fabs(v));
  const float lo = tsq::dequantize(params.activation.min, out);
  const float hi = tsq::dequantize(params.activation.max, out);
  const float r = mode == RoundingMode::double_rounding ? 1.0f : 0.5f;
  const float twice_max = 2.0f * std::max(q1.scale, q2.scale);
  double worst = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float reference = std::min(std::max(expected[i], lo), hi);
    const float got = tsq::dequantize(y[i], out);
    const float slack = 1.2e-7f * (largest + largest2 + std::fabs(got));
    const float bound = r * out.scale + 2.0f * twice_max / std::ldexp(1.0f, params.left_shift) +
                        std::fabs(reference) * 1.9e-9f + slack;
    INFO("element " << i);
    REQUIRE(std::fabs(got - reference) <= bound);
    worst = std::max(worst, (std::fabs(got - reference) - slack) / static_cast<double>(out.scale));
  }
  return worst;
}

}  // namespace

TEST_CASE("Add int8 and int16 vs float on random layers", "[kernels][add]") {
  tsq_test::Rng rng(1234);
  double worst[2][2] = {{0.0, 0.0}, {0.0, 0.0}};  // [int8/int16][double/single]
  for (int trial = 0; trial < 600; ++trial) {
    const int m = trial % 2;
    const auto activation = static_cast<FusedActivation>((trial / 2) % 3);
    const QuantParams q1 = tsq_test::random_int8_params(rng);
    const QuantParams q2 = tsq_test::random_int8_params(rng);
    // An output scale that covers the sum's range most of the time.
    const QuantParams out = tsq::make_quant_params(
        (q1.scale + q2.scale) * (0.5f + static_cast<float>(rng() % 100) / 100.0f),
        static_cast<std::int32_t>(rng() % 256) - 128, DataType::int8);
    INFO("int8 trial " << trial);
    worst[0][m] = std::max(
        worst[0][m], check_random_add<std::int8_t>(rng, q1, q2, out, kBothModes[m], activation));
  }
  for (int trial = 0; trial < 300; ++trial) {
    const int m = trial % 2;
    const auto activation = static_cast<FusedActivation>((trial / 2) % 3);
    const QuantParams q1 = tsq_test::random_int16_params(rng);
    const QuantParams q2 = tsq_test::random_int16_params(rng);
    const QuantParams out = tsq::make_quant_params(
        (q1.scale + q2.scale) * (0.5f + static_cast<float>(rng() % 100) / 100.0f), 0,
        DataType::int16);
    INFO("int16 trial " << trial);
    worst[1][m] = std::max(
        worst[1][m], check_random_add<std::int16_t>(rng, q1, q2, out, kBothModes[m], activation));
  }
  // Measured worst errors in output steps (run with -s to see).
  CHECK(worst[0][0] <= 1.001);
  CHECK(worst[0][1] <= 0.501);
  CHECK(worst[1][0] <= 1.01);
  CHECK(worst[1][1] <= 0.51);
}

TEST_CASE("Add: a residual block, two branches of different scales then ReLU", "[kernels][add]") {
  // out = relu(main + shortcut) over a [1, 124, 6, 16] feature map. The branches were calibrated
  // separately (main in [-2, 3], shortcut in [-0.5, 0.7]) and the output range is [0, 3.7], as a
  // converter would choose after the ReLU: Z_out = -128, so ReLU clamps exactly at real 0.
  tsq_test::Rng rng(31);
  const Shape shape{1, 124, 6, 16};
  const QuantParams main_params = tsq::choose_quant_params(-2.0, 3.0).value();
  const QuantParams shortcut_params = tsq::choose_quant_params(-0.5, 0.7).value();
  const QuantParams output = tsq::choose_quant_params(0.0, 3.7).value();
  REQUIRE(output.zero_point == -128);
  const auto main_real = tsq_test::random_floats(rng, shape.element_count(), -2.0f, 3.0f);
  const auto shortcut_real = tsq_test::random_floats(rng, shape.element_count(), -0.5f, 0.7f);
  std::vector<std::int8_t> main(shape.element_count()), shortcut(shape.element_count());
  REQUIRE(tsq::quantize<std::int8_t>(main_real, main, main_params).is_ok());
  REQUIRE(tsq::quantize<std::int8_t>(shortcut_real, shortcut, shortcut_params).is_ok());
  for (const RoundingMode mode : kBothModes) {
    const auto params =
        prepare(shape, main_params, shape, shortcut_params, output, mode, FusedActivation::relu);
    CHECK(params.activation.min == -128);
    const auto y = run_add(params, main, shortcut);
    const auto f1 = tsq_test::dequantize_all(main, main_params);
    const auto f2 = tsq_test::dequantize_all(shortcut, shortcut_params);
    std::vector<float> expected(y.size());
    REQUIRE(tsq::floating::add(FusedActivation::relu, TensorView<const float>(f1.data(), shape),
                               TensorView<const float>(f2.data(), shape),
                               TensorView<float>(expected.data(), shape))
                .is_ok());
    // Bound as in the random test; the sum never exceeds 3.7, so nothing saturates above.
    const float r = mode == RoundingMode::double_rounding ? 1.0f : 0.5f;
    const float bound = r * output.scale + 1e-5f;
    float worst = 0.0f;
    std::size_t at_zero = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      const float got = tsq::dequantize(y[i], output);
      worst = std::max(worst, std::fabs(got - expected[i]));
      if (expected[i] == 0.0f) {
        CHECK(y[i] == -128);  // a negative sum is exactly real 0
        ++at_zero;
      }
    }
    CHECK(worst <= bound);
    CHECK(at_zero > 1000);  // the ReLU was exercised
  }
}

TEST_CASE("Add validation errors", "[kernels][add]") {
  const QuantParams act = tsq::make_quant_params(0.1f, 1, DataType::int8);
  const tsq::AddQuantization q{Shape{2, 3}, act, Shape{2, 3}, act, act};
  REQUIRE(tsq::prepare_add(q).is_ok());
  const auto code = [](const tsq::AddQuantization& bad) {
    return tsq::prepare_add(bad).status().code();
  };
  auto bad = q;
  bad.input2 = tsq::make_quant_params(0.1f, 0, DataType::int16);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input1 = bad.input2 = bad.output = tsq::make_quant_params(0.1f, 0, DataType::uint8);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.output = tsq::make_quant_params(0.1f, 0, DataType::float32);
  CHECK(code(bad) == ErrorCode::unsupported_type);
  bad = q;
  bad.input1.scale = 0.0f;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.input2.scale = INFINITY;
  CHECK(code(bad) == ErrorCode::invalid_scale);
  bad = q;
  bad.output.zero_point = 128;
  CHECK(code(bad) == ErrorCode::invalid_argument);
  bad = q;
  bad.input2_shape = Shape{4};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.input2_shape = Shape{3, 2};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  bad.input2_shape = Shape{2, -3};
  CHECK(code(bad) == ErrorCode::shape_mismatch);
  // M_out = 2 max(S1, S2) / (2^left_shift S_out) must be < 1.
  bad = q;
  bad.input1.scale = 1.0f;
  bad.output.scale = 1e-6f;  // 2 / (2^20 * 1e-6) = 1.9
  CHECK(code(bad) == ErrorCode::shift_out_of_range);
  bad.output.scale = 2e-6f;  // 0.95: fine
  CHECK(tsq::prepare_add(bad).is_ok());
  const QuantParams wide = tsq::make_quant_params(1.0f, 0, DataType::int16);
  CHECK(tsq::prepare_add(
            {Shape{2}, wide, Shape{2}, wide, tsq::make_quant_params(5e-5f, 0, DataType::int16)})
            .status()
            .code() == ErrorCode::shift_out_of_range);  // 2 / (2^15 * 5e-5) = 1.22
  CHECK(tsq::prepare_add(
            {Shape{2}, wide, Shape{2}, wide, tsq::make_quant_params(1e-4f, 0, DataType::int16)})
            .is_ok());

  const auto params = tsq::prepare_add(q).value();
  std::vector<std::int8_t> a(6), b(6), y(6);
  std::vector<std::int16_t> a16(6), b16(6), y16(6);
  const TensorView<const std::int8_t> ok_a(a.data(), Shape{2, 3});
  const TensorView<const std::int8_t> ok_b(b.data(), Shape{2, 3});
  const TensorView<std::int8_t> ok_y(y.data(), Shape{2, 3});
  CHECK(tsq::reference::add(params, ok_a, ok_b, ok_y).is_ok());
  CHECK(
      tsq::reference::add(params, TensorView<const std::int8_t>(a.data(), Shape{3, 2}), ok_b, ok_y)
          .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::reference::add(params, ok_a, TensorView<const std::int8_t>(b.data(), Shape{3}), ok_y)
            .code() == ErrorCode::shape_mismatch);
  CHECK(
      tsq::reference::add(params, ok_a, ok_b, TensorView<std::int8_t>(y.data(), Shape{6})).code() ==
      ErrorCode::shape_mismatch);
  CHECK(tsq::reference::add(params, TensorView<const std::int16_t>(a16.data(), Shape{2, 3}),
                            TensorView<const std::int16_t>(b16.data(), Shape{2, 3}),
                            TensorView<std::int16_t>(y16.data(), Shape{2, 3}))
            .code() == ErrorCode::unsupported_type);
  std::vector<float> fa(6), fb(6), fy(6);
  CHECK(tsq::floating::add(FusedActivation::none, TensorView<const float>(fa.data(), Shape{2, 3}),
                           TensorView<const float>(fb.data(), Shape{2, 3}),
                           TensorView<float>(fy.data(), Shape{3, 2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::floating::add(FusedActivation::none, TensorView<const float>(fa.data(), Shape{2, 3}),
                           TensorView<const float>(fb.data(), Shape{2}),
                           TensorView<float>(fy.data(), Shape{2, 3}))
            .code() == ErrorCode::shape_mismatch);
}
