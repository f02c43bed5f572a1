// SPDX-License-Identifier: Apache-2.0
// The Eigen float kernels (kernels/eigen/) against the scalar float kernels, their ground truth:
// random shapes with odd sizes, every padding, stride and dilation, groups, fused activations,
// the LSTM's options; the same error codes for bad input (nothing written); and no heap
// allocation inside any call, on shapes large enough that an unsplit Eigen GEMM would allocate.
//
// Tolerances: FullyConnected and Conv2D within 1e-5 * sum |products| (+ |bias|) of the scalar
// kernel (which sums in double; float32 summation of up to a few thousand products is far inside
// that); the LSTM's outputs and states within 1e-5 absolute (cell: relative above 1), which also
// covers Eigen's approximations of the sigmoid and tanh. Each test prints the largest difference
// it saw.

// Eigen checks every heap allocation against set_is_malloc_allowed() with eigen_assert, which
// NDEBUG would compile out: assertions are counted here instead, in every build type.
#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(condition) \
  ((condition) ? static_cast<void>(0) : ::tsq_eigen_test::count_failed_eigen_assertion(#condition))

namespace tsq_eigen_test {
inline int& eigen_assertion_failures() {
  static int failures = 0;
  return failures;
}
inline const char*& first_failed_assertion() {
  static const char* text = "";
  return text;
}
inline void count_failed_eigen_assertion(const char* text) {
  if (eigen_assertion_failures()++ == 0) first_failed_assertion() = text;
}
}  // namespace tsq_eigen_test

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "../kernels/kernel_test_util.hpp"
#include "tsq/kernels/eigen/conv2d.hpp"
#include "tsq/kernels/eigen/fully_connected.hpp"
#include "tsq/kernels/eigen/lstm.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/float/lstm.hpp"

using tsq::Conv2DOptions;
using tsq::ErrorCode;
using tsq::FusedActivation;
using tsq::Padding;
using tsq::Shape;
using tsq::Span;
using tsq::Status;
using tsq::TensorView;
using tsq_test::absolute;
using tsq_test::pick;
using tsq_test::random_floats;
using tsq_test::Rng;

namespace {

constexpr double kProductTolerance = 1e-5;  // of sum |products| + |bias|
constexpr double kLstmTolerance = 1e-5;     // absolute; relative for |cell| > 1
constexpr float kUntouched = 7.25f;         // what error tests fill the outputs with

using tsq_eigen_test::eigen_assertion_failures;

// The largest |got - expected| / magnitude over a comparison (0 / 0 counts as 0).
struct Deviation {
  double worst = 0.0;
  std::size_t compared = 0;
  void add(double difference, double magnitude) {
    ++compared;
    if (difference == 0.0) return;
    worst = std::max(worst, magnitude > 0.0 ? difference / magnitude : HUGE_VAL);
  }
};

// Requires every output within kProductTolerance * magnitude of the scalar kernel's.
void compare_products(const std::vector<float>& got, const std::vector<float>& expected,
                      const std::vector<float>& magnitude, Deviation& deviation, int trial) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double difference = std::fabs(static_cast<double>(got[i]) - expected[i]);
    INFO("trial " << trial << " output " << i << " got " << got[i] << " expected " << expected[i]
                  << " magnitude " << magnitude[i]);
    REQUIRE(difference <= kProductTolerance * magnitude[i]);
    deviation.add(difference, magnitude[i]);
  }
}

void print_deviation(const char* what, const Deviation& deviation, const char* unit) {
  std::printf("%s: %zu values, max |eigen - scalar| = %.3g %s\n", what, deviation.compared,
              deviation.worst, unit);
}

// Both kernels fail with `code` (the Eigen one's is checked by the caller to write nothing).
void check_same_error(const Status& eigen, const Status& scalar, ErrorCode code) {
  INFO("eigen: " << eigen.message() << " | scalar: " << scalar.message());
  CHECK(eigen.code() == code);
  CHECK(scalar.code() == code);
}

bool untouched(const std::vector<float>& values) {
  return std::all_of(values.begin(), values.end(), [](float v) { return v == kUntouched; });
}

// ---------------------------------------------------------------------------------------------
// FullyConnected

struct DenseLayer {
  Shape input_shape, weights_shape, output_shape;
  std::vector<float> input, weights, bias;
  FusedActivation activation = FusedActivation::none;
};

DenseLayer random_dense(Rng& rng, std::int32_t batches, std::int32_t depth, std::int32_t units,
                        bool rank3, bool with_bias, FusedActivation activation) {
  DenseLayer layer;
  layer.input_shape =
      rank3 && batches % 2 == 0 ? Shape{2, batches / 2, depth} : Shape{batches, depth};
  layer.weights_shape = Shape{units, depth};
  layer.output_shape = layer.input_shape;
  layer.output_shape[layer.input_shape.rank() - 1] = units;
  layer.input = random_floats(rng, layer.input_shape.element_count(), -2.0f, 2.0f);
  const float limit = std::sqrt(6.0f / static_cast<float>(depth));
  layer.weights = random_floats(rng, layer.weights_shape.element_count(), -limit, limit);
  if (with_bias) layer.bias = random_floats(rng, static_cast<std::size_t>(units), -1.0f, 1.0f);
  layer.activation = activation;
  return layer;
}

std::vector<float> run_scalar_dense(const DenseLayer& layer, FusedActivation activation,
                                    const std::vector<float>& input,
                                    const std::vector<float>& weights,
                                    const std::vector<float>& bias) {
  std::vector<float> output(layer.output_shape.element_count());
  REQUIRE(tsq::floating::fully_connected(activation,
                                         TensorView<const float>(input, layer.input_shape),
                                         TensorView<const float>(weights, layer.weights_shape),
                                         bias, TensorView<float>(output, layer.output_shape))
              .is_ok());
  return output;
}

void check_dense(const DenseLayer& layer, Deviation& deviation, int trial) {
  std::vector<float> got(layer.output_shape.element_count(), kUntouched);
  REQUIRE(tsq::eigen::fully_connected(layer.activation,
                                      TensorView<const float>(layer.input, layer.input_shape),
                                      TensorView<const float>(layer.weights, layer.weights_shape),
                                      layer.bias, TensorView<float>(got, layer.output_shape))
              .is_ok());
  const std::vector<float> expected =
      run_scalar_dense(layer, layer.activation, layer.input, layer.weights, layer.bias);
  const std::vector<float> magnitude =
      run_scalar_dense(layer, FusedActivation::none, absolute(layer.input), absolute(layer.weights),
                       absolute(layer.bias));
  compare_products(got, expected, magnitude, deviation, trial);
}

// ---------------------------------------------------------------------------------------------
// Conv2D

struct ConvLayer {
  Shape input_shape, filter_shape;
  Conv2DOptions options;
  std::vector<float> input, filter, bias;
};

void randomize_conv(Rng& rng, ConvLayer& layer, bool with_bias) {
  layer.input = random_floats(rng, layer.input_shape.element_count(), -2.0f, 2.0f);
  const std::int32_t fan_in = layer.filter_shape[1] * layer.filter_shape[2] * layer.filter_shape[3];
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in));
  layer.filter = random_floats(rng, layer.filter_shape.element_count(), -limit, limit);
  layer.bias.clear();
  if (with_bias) {
    layer.bias = random_floats(rng, static_cast<std::size_t>(layer.filter_shape[0]), -1.0f, 1.0f);
  }
}

std::vector<float> run_scalar_conv(const ConvLayer& layer, const Conv2DOptions& options,
                                   const Shape& output_shape, const std::vector<float>& input,
                                   const std::vector<float>& filter,
                                   const std::vector<float>& bias) {
  std::vector<float> output(output_shape.element_count());
  REQUIRE(tsq::floating::conv2d(options, TensorView<const float>(input, layer.input_shape),
                                TensorView<const float>(filter, layer.filter_shape), bias,
                                TensorView<float>(output, output_shape))
              .is_ok());
  return output;
}

// Runs the Eigen kernel with exactly conv2d_scratch_size floats of scratch and compares it with
// the scalar kernel.
void check_conv(const ConvLayer& layer, Deviation& deviation, int trial) {
  const auto output_shape =
      tsq::conv2d_output_shape(layer.input_shape, layer.filter_shape, layer.options);
  REQUIRE(output_shape.is_ok());
  const auto scratch_size =
      tsq::eigen::conv2d_scratch_size(layer.input_shape, layer.filter_shape, layer.options);
  REQUIRE(scratch_size.is_ok());
  if (layer.filter_shape[1] == 1 && layer.filter_shape[2] == 1) CHECK(scratch_size.value() == 0);
  std::vector<float> scratch(scratch_size.value());
  std::vector<float> got(output_shape->element_count(), kUntouched);
  const Status status =
      tsq::eigen::conv2d(layer.options, TensorView<const float>(layer.input, layer.input_shape),
                         TensorView<const float>(layer.filter, layer.filter_shape), layer.bias,
                         TensorView<float>(got, output_shape.value()), scratch);
  INFO("trial " << trial << ": " << status.message());
  REQUIRE(status.is_ok());
  const std::vector<float> expected = run_scalar_conv(layer, layer.options, output_shape.value(),
                                                      layer.input, layer.filter, layer.bias);
  Conv2DOptions linear = layer.options;
  linear.activation = FusedActivation::none;
  const std::vector<float> magnitude =
      run_scalar_conv(layer, linear, output_shape.value(), absolute(layer.input),
                      absolute(layer.filter), absolute(layer.bias));
  compare_products(got, expected, magnitude, deviation, trial);
}

// ---------------------------------------------------------------------------------------------
// LSTM

struct LstmLayer {
  std::int32_t batches = 1, steps = 1, input_size = 1, hidden = 1;
  std::vector<float> kernel, recurrent, bias, input, hidden_state, cell_state;

  tsq::floating::LstmWeights weights() const {
    return tsq::floating::LstmWeights{
        TensorView<const float>(kernel, Shape{input_size, 4 * hidden}),
        TensorView<const float>(recurrent, Shape{hidden, 4 * hidden}), bias};
  }
  Shape input_shape() const { return Shape{batches, steps, input_size}; }
  Shape output_shape(bool sequences) const {
    return sequences ? Shape{batches, steps, hidden} : Shape{batches, hidden};
  }
};

// Glorot-uniform kernels times `gain` (large gains saturate the gates), a forget bias of 1 plus
// noise, inputs in [-1, 1] and a random initial state.
LstmLayer random_lstm(Rng& rng, std::int32_t batches, std::int32_t steps, std::int32_t input_size,
                      std::int32_t hidden, float gain, bool with_bias) {
  LstmLayer layer;
  layer.batches = batches;
  layer.steps = steps;
  layer.input_size = input_size;
  layer.hidden = hidden;
  const std::int32_t rows = 4 * hidden;
  const float kernel_limit = gain * std::sqrt(6.0f / static_cast<float>(input_size + rows));
  const float recurrent_limit = gain * std::sqrt(6.0f / static_cast<float>(hidden + rows));
  layer.kernel =
      random_floats(rng, static_cast<std::size_t>(input_size) * rows, -kernel_limit, kernel_limit);
  layer.recurrent = random_floats(rng, static_cast<std::size_t>(hidden) * rows, -recurrent_limit,
                                  recurrent_limit);
  if (with_bias) {
    layer.bias = random_floats(rng, static_cast<std::size_t>(rows), -0.5f, 0.5f);
    for (std::int32_t j = hidden; j < 2 * hidden; ++j) layer.bias[static_cast<std::size_t>(j)] += 1;
  }
  layer.input = random_floats(rng, layer.input_shape().element_count(), -1.0f, 1.0f);
  const auto state = static_cast<std::size_t>(batches) * static_cast<std::size_t>(hidden);
  layer.hidden_state = random_floats(rng, state, -0.9f, 0.9f);
  layer.cell_state = random_floats(rng, state, -2.0f, 2.0f);
  return layer;
}

struct LstmRun {
  std::vector<float> output, hidden, cell;
};

// Runs both kernels from the layer's initial state; `strided` writes the output as the second
// half of a [.., 2H] buffer (a Bidirectional layer's backward direction).
void check_lstm(const LstmLayer& layer, bool sequences, bool reverse, bool strided,
                Deviation& deviation, int trial) {
  LstmRun runs[2];
  for (int k = 0; k < 2; ++k) {
    LstmRun& run = runs[k];
    run.hidden = layer.hidden_state;
    run.cell = layer.cell_state;
    const Shape shape = layer.output_shape(sequences);
    Shape full_shape = shape;
    full_shape[shape.rank() - 1] *= strided ? 2 : 1;
    std::vector<float> full(full_shape.element_count(), kUntouched);
    const TensorView<float> full_view(full, full_shape);
    const TensorView<float> output =
        strided ? tsq::detail::direction_half(full_view, layer.hidden, 1) : full_view;
    Status status = Status::ok();
    if (k == 0) {
      std::vector<float> scratch(tsq::eigen::lstm_scratch_size(layer.steps, layer.hidden));
      status = tsq::eigen::lstm(layer.weights(),
                                TensorView<const float>(layer.input, layer.input_shape()), output,
                                run.hidden, run.cell, scratch, reverse);
    } else {
      std::vector<float> scratch(tsq::floating::lstm_scratch_size(layer.hidden));
      status = tsq::floating::lstm(layer.weights(),
                                   TensorView<const float>(layer.input, layer.input_shape()),
                                   output, run.hidden, run.cell, scratch, reverse);
    }
    INFO("trial " << trial << ": " << status.message());
    REQUIRE(status.is_ok());
    for (std::size_t i = 0; i < full.size(); ++i) {
      const bool mine = !strided || (i / static_cast<std::size_t>(layer.hidden)) % 2 == 1;
      if (mine) {
        run.output.push_back(full[i]);
      } else {
        REQUIRE(full[i] == kUntouched);  // the other direction's half stays as it was
      }
    }
  }
  const auto compare = [&](const std::vector<float>& got, const std::vector<float>& expected,
                           const char* what) {
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double difference = std::fabs(static_cast<double>(got[i]) - expected[i]);
      const double scale = std::max(1.0, std::fabs(static_cast<double>(expected[i])));
      INFO("trial " << trial << " " << what << " " << i << " got " << got[i] << " expected "
                    << expected[i]);
      REQUIRE(difference <= kLstmTolerance * scale);
      deviation.add(difference, scale);
    }
  };
  compare(runs[0].output, runs[1].output, "output");
  compare(runs[0].hidden, runs[1].hidden, "hidden state");
  compare(runs[0].cell, runs[1].cell, "cell state");
}

}  // namespace

TEST_CASE("Eigen FullyConnected equals the scalar kernel on random layers", "[eigen]") {
  Rng rng(20240611);
  Deviation deviation;
  int trial = 0;
  for (; trial < 120; ++trial) {
    // Odd and small sizes, a single row (matrix-vector product) and a single unit.
    const std::int32_t batches = trial % 6 == 0 ? 1 : pick(rng, 1, 40);
    const std::int32_t depth = pick(rng, 1, 3) == 1 ? pick(rng, 1, 9) : pick(rng, 1, 300);
    const std::int32_t units = trial % 7 == 0 ? 1 : pick(rng, 1, 70);
    const DenseLayer layer = random_dense(rng, batches, depth, units, trial % 3 == 0,
                                          trial % 4 != 0, static_cast<FusedActivation>(trial % 3));
    check_dense(layer, deviation, trial);
  }
  // Products split into tiles along every axis (depth > 256, both sides > 128), a deep
  // matrix-vector product and a single unit over many rows.
  const struct {
    std::int32_t batches, depth, units;
  } large[] = {{150, 701, 263}, {1, 5003, 37}, {3001, 33, 1}, {129, 257, 131}};
  for (const auto& shape : large) {
    const DenseLayer layer = random_dense(rng, shape.batches, shape.depth, shape.units, false, true,
                                          static_cast<FusedActivation>(trial % 3));
    check_dense(layer, deviation, trial++);
  }
  print_deviation("Eigen FullyConnected", deviation, "of sum |products| + |bias|");
}

TEST_CASE("Eigen Conv2D equals the scalar kernel on random geometries", "[eigen]") {
  Rng rng(77031);
  Deviation deviation;
  int trial = 0;
  // Random windows as the integer kernel's tests draw them (k x 1, 1 x k, square, any; stride
  // 1-3, dilation 1-2, VALID or SAME), channels 1..16, sometimes 2 or 3 groups, batch 1-2.
  for (; trial < 150; ++trial) {
    const tsq_test::RandomConvWindow w =
        tsq_test::random_conv_window(rng, trial, trial % 4 == 1 ? 3 : 12, trial % 4 == 0 ? 3 : 12);
    ConvLayer layer;
    tsq_test::apply_window(w, layer.options);
    const std::int32_t groups = trial % 5 == 4 ? pick(rng, 2, 3) : 1;
    const std::int32_t depth = pick(rng, 1, 16 / groups);
    const std::int32_t output_channels = groups * pick(rng, 1, 16 / groups);
    layer.input_shape = Shape{pick(rng, 1, 2), w.height, w.width, depth * groups};
    layer.filter_shape = Shape{output_channels, w.kernel_height, w.kernel_width, depth};
    randomize_conv(rng, layer, trial % 6 != 0);
    check_conv(layer, deviation, trial);
  }
  // Every padding, stride and dilation on each axis, for a 1x1 kernel (the path without
  // patches), a k x 1, a 1 x k and a rectangular kernel, with and without groups.
  const std::int32_t kernels[][2] = {{1, 1}, {3, 1}, {1, 4}, {2, 3}};
  for (const Padding padding : {Padding::valid, Padding::same}) {
    for (std::int32_t stride_height = 1; stride_height <= 3; ++stride_height) {
      for (std::int32_t stride_width = 1; stride_width <= 3; ++stride_width) {
        for (std::int32_t dilation = 0; dilation < 4; ++dilation) {
          for (const auto& kernel : kernels) {
            ConvLayer layer;
            layer.options.padding = padding;
            layer.options.stride_height = stride_height;
            layer.options.stride_width = stride_width;
            layer.options.dilation_height = 1 + dilation / 2;
            layer.options.dilation_width = 1 + dilation % 2;
            layer.options.activation = static_cast<FusedActivation>(trial % 3);
            const std::int32_t groups = trial % 2 == 0 ? 1 : 3;
            layer.input_shape = Shape{1 + trial % 2, 9, 8, 6};
            layer.filter_shape = Shape{groups == 1 ? 5 : 6, kernel[0], kernel[1], 6 / groups};
            randomize_conv(rng, layer, trial % 4 != 1);
            check_conv(layer, deviation, trial++);
          }
        }
      }
    }
  }
  // Larger layers: the product split into tiles (taps > 256, pixels > 128), a 1x1 layer with
  // stride 2 over many pixels, and the study's conv_first layer with SAME padding.
  struct Large {
    Shape input, filter;
    Padding padding;
    std::int32_t stride;
  };
  const Large large[] = {{Shape{1, 40, 9, 40}, Shape{70, 3, 3, 40}, Padding::same, 1},
                         {Shape{2, 33, 17, 24}, Shape{19, 1, 1, 24}, Padding::valid, 2},
                         {Shape{1, 128, 6, 1}, Shape{64, 5, 1, 1}, Padding::same, 1}};
  for (const Large& shape : large) {
    ConvLayer layer;
    layer.input_shape = shape.input;
    layer.filter_shape = shape.filter;
    layer.options.padding = shape.padding;
    layer.options.stride_height = layer.options.stride_width = shape.stride;
    layer.options.activation = FusedActivation::relu;
    randomize_conv(rng, layer, true);
    check_conv(layer, deviation, trial++);
  }
  print_deviation("Eigen Conv2D", deviation, "of sum |products| + |bias|");
}

TEST_CASE("Eigen LSTM equals the scalar kernel within float rounding", "[eigen]") {
  Rng rng(4711);
  Deviation deviation;
  int trial = 0;
  for (; trial < 60; ++trial) {
    const float gain = trial % 5 == 4 ? 4.0f : 1.0f;  // saturated gates
    const std::int32_t batches = pick(rng, 1, 3);
    const std::int32_t steps = pick(rng, 1, 20);
    const std::int32_t input_size = pick(rng, 1, 40);
    const std::int32_t hidden = pick(rng, 1, 33);
    const LstmLayer layer =
        random_lstm(rng, batches, steps, input_size, hidden, gain, trial % 6 != 0);
    check_lstm(layer, trial % 2 == 0, trial % 3 == 1, trial % 4 == 3, deviation, trial);
  }
  print_deviation("Eigen LSTM, random layers", deviation, "(absolute; relative for |c| > 1)");
  // The benchmark's lstm_deep layer (384 inputs, 128 units, 112 steps) and lstm_small.
  Deviation study;
  check_lstm(random_lstm(rng, 1, 112, 384, 128, 1.0f, true), true, false, false, study, trial++);
  check_lstm(random_lstm(rng, 1, 250, 64, 16, 1.0f, true), true, false, false, study, trial++);
  print_deviation("Eigen LSTM, lstm_deep and lstm_small", study,
                  "(absolute; relative for |c| > 1)");
}

TEST_CASE("Eigen FullyConnected: the scalar kernel's errors, nothing written", "[eigen]") {
  std::vector<float> x(6, 1.0f), w(6, 1.0f), bias(2, 0.0f);
  std::vector<float> y(2, kUntouched);
  const TensorView<const float> input(x.data(), Shape{1, 3});
  const TensorView<const float> weights(w.data(), Shape{2, 3});
  const TensorView<float> output(y.data(), Shape{1, 2});
  const auto both = [&](TensorView<const float> in, TensorView<const float> wt, Span<const float> b,
                        TensorView<float> out, ErrorCode code) {
    const Status eigen = tsq::eigen::fully_connected(FusedActivation::relu, in, wt, b, out);
    CHECK(untouched(y));
    check_same_error(eigen, tsq::floating::fully_connected(FusedActivation::relu, in, wt, b, out),
                     code);
    CHECK(untouched(y));
  };
  both(TensorView<const float>(x.data(), Shape{1, 2}), weights, bias, output,
       ErrorCode::shape_mismatch);
  both(input, TensorView<const float>(w.data(), Shape{2, 3, 1}), bias, output,
       ErrorCode::shape_mismatch);
  both(input, weights, bias, TensorView<float>(y.data(), Shape{2, 1}), ErrorCode::shape_mismatch);
  both(input, weights, Span<const float>(bias.data(), 1), output, ErrorCode::shape_mismatch);
  both(TensorView<const float>(Span<const float>(x.data(), 2), Shape{1, 3}), weights, bias, output,
       ErrorCode::buffer_too_small);
  both(input, weights, Span<const float>(nullptr, 2), output, ErrorCode::invalid_argument);
  const std::ptrdiff_t strides[] = {2, 2};  // every other element
  both(input, weights, bias, TensorView<float>::strided(y.data(), Shape{1, 2}, strides),
       ErrorCode::invalid_argument);
  both(input, TensorView<const float>(nullptr, Shape{2, 3}), bias, output,
       ErrorCode::invalid_argument);
  REQUIRE(tsq::eigen::fully_connected(FusedActivation::relu, input, weights, bias, output).is_ok());
  CHECK(y == (std::vector<float>{3.0f, 3.0f}));
}

TEST_CASE("Eigen Conv2D: the scalar kernel's errors, and a scratch one float short", "[eigen]") {
  Conv2DOptions options;
  options.padding = Padding::same;
  const Shape input_shape{1, 5, 4, 6};
  const Shape filter_shape{4, 3, 2, 3};  // 2 groups
  std::vector<float> x(input_shape.element_count(), 0.5f), f(filter_shape.element_count(), 0.25f);
  std::vector<float> bias(4, 0.0f);
  const Shape output_shape{1, 5, 4, 4};
  std::vector<float> y(output_shape.element_count(), kUntouched);
  const auto scratch_size = tsq::eigen::conv2d_scratch_size(input_shape, filter_shape, options);
  REQUIRE(scratch_size.is_ok());
  CHECK(scratch_size.value() == 5u * 4u * 3u * 2u * 3u);  // one group's patches
  std::vector<float> scratch(scratch_size.value(), kUntouched);
  const auto both = [&](const Conv2DOptions& o, const Shape& in_shape, const Shape& f_shape,
                        Span<const float> b, const Shape& out_shape, ErrorCode code) {
    const TensorView<const float> in(x.data(), in_shape);
    const TensorView<const float> filter(f.data(), f_shape);
    const TensorView<float> out(y.data(), out_shape);
    const Status eigen = tsq::eigen::conv2d(o, in, filter, b, out, scratch);
    CHECK(untouched(y));
    CHECK(untouched(scratch));
    check_same_error(eigen, tsq::floating::conv2d(o, in, filter, b, out), code);
    CHECK(untouched(y));
  };
  // Channels that are not a multiple of the filter depth; output channels not a multiple of the
  // groups; a wrong output shape; a wrong bias; rank 3; VALID with a kernel over the input;
  // stride 0.
  both(options, Shape{1, 5, 4, 5}, Shape{4, 3, 2, 3}, bias, output_shape,
       ErrorCode::shape_mismatch);
  both(options, input_shape, Shape{3, 3, 2, 3}, Span<const float>(bias.data(), 3),
       Shape{1, 5, 4, 3}, ErrorCode::shape_mismatch);
  both(options, input_shape, filter_shape, bias, Shape{1, 5, 4, 3}, ErrorCode::shape_mismatch);
  both(options, input_shape, filter_shape, Span<const float>(bias.data(), 3), output_shape,
       ErrorCode::shape_mismatch);
  both(options, Shape{5, 4, 6}, filter_shape, bias, output_shape, ErrorCode::shape_mismatch);
  Conv2DOptions valid = options;
  valid.padding = Padding::valid;
  both(valid, input_shape, Shape{4, 6, 2, 3}, bias, output_shape, ErrorCode::shape_mismatch);
  Conv2DOptions no_stride = options;
  no_stride.stride_width = 0;
  both(no_stride, input_shape, filter_shape, bias, output_shape, ErrorCode::invalid_argument);
  CHECK(tsq::eigen::conv2d_scratch_size(input_shape, Shape{4, 3, 2, 4}, options).status().code() ==
        ErrorCode::shape_mismatch);

  const TensorView<const float> in(x.data(), input_shape);
  const TensorView<const float> filter(f.data(), filter_shape);
  const TensorView<float> out(y.data(), output_shape);
  const Span<float> short_scratch(scratch.data(), scratch.size() - 1);
  CHECK(tsq::eigen::conv2d(options, in, filter, bias, out, short_scratch).code() ==
        ErrorCode::buffer_too_small);
  CHECK(tsq::eigen::conv2d(options, in, filter, bias, out, Span<float>(nullptr, 3)).code() ==
        ErrorCode::invalid_argument);
  CHECK(untouched(y));
  CHECK(untouched(scratch));
  REQUIRE(tsq::eigen::conv2d(options, in, filter, bias, out, scratch).is_ok());
  CHECK(y[0] == 0.5f * 0.25f * 3 * 2 * 2);  // corner: 2 x 2 taps inside, 3 channels each

  // A 1x1 kernel needs no scratch at all.
  const Shape pointwise_filter{4, 1, 1, 3};
  const auto none = tsq::eigen::conv2d_scratch_size(input_shape, pointwise_filter, options);
  REQUIRE(none.is_ok());
  CHECK(none.value() == 0);
  CHECK(tsq::eigen::conv2d(options, in, TensorView<const float>(f.data(), pointwise_filter), bias,
                           out, Span<float>())
            .is_ok());
}

TEST_CASE("Eigen LSTM: the scalar kernel's errors, and a scratch one float short", "[eigen]") {
  Rng rng(99);
  LstmLayer layer = random_lstm(rng, 2, 5, 3, 4, 1.0f, true);
  std::vector<float> y(layer.output_shape(true).element_count(), kUntouched);
  std::vector<float> h(layer.hidden_state.size(), kUntouched), c(h.size(), kUntouched);
  std::vector<float> scratch(tsq::eigen::lstm_scratch_size(5, 4), kUntouched);
  CHECK(scratch.size() == 5u * 16u);
  std::vector<float> step_scratch(tsq::floating::lstm_scratch_size(4));
  const auto both = [&](const tsq::floating::LstmWeights& weights, const Shape& input_shape,
                        const Shape& output_shape, Span<float> hidden, Span<float> cell,
                        ErrorCode code) {
    const TensorView<const float> input(layer.input.data(), input_shape);
    const TensorView<float> output(y.data(), output_shape);
    const Status eigen = tsq::eigen::lstm(weights, input, output, hidden, cell, scratch);
    CHECK(untouched(y));
    CHECK(untouched(h));
    CHECK(untouched(c));
    CHECK(untouched(scratch));
    check_same_error(eigen, tsq::floating::lstm(weights, input, output, hidden, cell, step_scratch),
                     code);
  };
  const tsq::floating::LstmWeights good = layer.weights();
  const Shape input_shape = layer.input_shape();
  const Shape output_shape = layer.output_shape(true);
  both(good, Shape{2, 0, 3}, Shape{2, 0, 4}, h, c, ErrorCode::shape_mismatch);  // no time steps
  both(good, Shape{2, 5, 2}, output_shape, h, c, ErrorCode::shape_mismatch);
  both(good, input_shape, Shape{2, 5, 3}, h, c, ErrorCode::shape_mismatch);
  both(good, input_shape, output_shape, Span<float>(h.data(), 7), c, ErrorCode::shape_mismatch);
  tsq::floating::LstmWeights bad = good;
  bad.recurrent_kernel = TensorView<const float>(layer.recurrent.data(), Shape{4, 15});
  both(bad, input_shape, output_shape, h, c, ErrorCode::shape_mismatch);
  bad = good;
  bad.bias = Span<const float>(layer.bias.data(), 15);
  both(bad, input_shape, output_shape, h, c, ErrorCode::shape_mismatch);
  bad = good;
  bad.kernel = TensorView<const float>(layer.kernel.data(), Shape{3, 4, 4});
  both(bad, input_shape, output_shape, h, c, ErrorCode::shape_mismatch);

  const TensorView<const float> input(layer.input.data(), input_shape);
  const TensorView<float> output(y.data(), output_shape);
  CHECK(tsq::eigen::lstm(good, input, output, h, c, Span<float>(scratch.data(), scratch.size() - 1))
            .code() == ErrorCode::buffer_too_small);
  CHECK(
      tsq::floating::lstm(good, input, output, h, c, Span<float>(step_scratch.data(), 15)).code() ==
      ErrorCode::buffer_too_small);
  CHECK(untouched(y));
  CHECK(untouched(h));
  std::fill(h.begin(), h.end(), 0.0f);
  std::fill(c.begin(), c.end(), 0.0f);
  CHECK(tsq::eigen::lstm(good, input, output, h, c, scratch).is_ok());
}

TEST_CASE("Eigen kernels allocate nothing, also where one unsplit GEMM would", "[eigen]") {
  // The guard works: a heap allocation while forbidden is counted.
  const int before = eigen_assertion_failures();
  Eigen::internal::set_is_malloc_allowed(false);
  {
    const Eigen::VectorXf heap(64);
    CHECK(heap.size() == 64);
  }
  Eigen::internal::set_is_malloc_allowed(true);
  REQUIRE(eigen_assertion_failures() == before + 1);
  eigen_assertion_failures() = 0;

  Rng rng(5);
  // fc_time, a deep matrix-vector product (fc_big's kind) and a single unit over many rows.
  std::vector<DenseLayer> dense;
  dense.push_back(random_dense(rng, 112, 384, 512, false, true, FusedActivation::relu6));
  dense.push_back(random_dense(rng, 1, 40000, 64, false, true, FusedActivation::none));
  dense.push_back(random_dense(rng, 40000, 9, 1, false, false, FusedActivation::relu));
  // conv_deep, a 1x1 layer with groups and stride 2, and the same with stride 1.
  std::vector<ConvLayer> convs(3);
  convs[0].input_shape = Shape{1, 128, 6, 64};
  convs[0].filter_shape = Shape{64, 5, 1, 64};
  convs[1].input_shape = Shape{1, 100, 90, 16};
  convs[1].filter_shape = Shape{32, 1, 1, 8};
  convs[1].options.stride_height = convs[1].options.stride_width = 2;
  convs[2] = convs[1];
  convs[2].options.stride_height = convs[2].options.stride_width = 1;
  std::vector<std::vector<float>> conv_outputs, conv_scratch;
  for (ConvLayer& layer : convs) {
    randomize_conv(rng, layer, true);
    const auto shape =
        tsq::conv2d_output_shape(layer.input_shape, layer.filter_shape, layer.options);
    REQUIRE(shape.is_ok());
    conv_outputs.emplace_back(shape->element_count());
    const auto size =
        tsq::eigen::conv2d_scratch_size(layer.input_shape, layer.filter_shape, layer.options);
    REQUIRE(size.is_ok());
    conv_scratch.emplace_back(size.value());
  }
  // lstm_deep.
  LstmLayer lstm = random_lstm(rng, 1, 112, 384, 128, 1.0f, true);
  std::vector<float> lstm_output(lstm.output_shape(true).element_count());
  std::vector<float> lstm_scratch(tsq::eigen::lstm_scratch_size(lstm.steps, lstm.hidden));
  std::vector<std::vector<float>> dense_outputs;
  for (const DenseLayer& layer : dense)
    dense_outputs.emplace_back(layer.output_shape.element_count());

  Eigen::internal::set_is_malloc_allowed(false);
  std::vector<Status> statuses;
  for (std::size_t i = 0; i < dense.size(); ++i) {
    const DenseLayer& layer = dense[i];
    statuses.push_back(tsq::eigen::fully_connected(
        layer.activation, TensorView<const float>(layer.input, layer.input_shape),
        TensorView<const float>(layer.weights, layer.weights_shape), layer.bias,
        TensorView<float>(dense_outputs[i], layer.output_shape)));
  }
  for (std::size_t i = 0; i < convs.size(); ++i) {
    const ConvLayer& layer = convs[i];
    const Shape output_shape =
        tsq::conv2d_output_shape(layer.input_shape, layer.filter_shape, layer.options).value();
    statuses.push_back(
        tsq::eigen::conv2d(layer.options, TensorView<const float>(layer.input, layer.input_shape),
                           TensorView<const float>(layer.filter, layer.filter_shape), layer.bias,
                           TensorView<float>(conv_outputs[i], output_shape), conv_scratch[i]));
  }
  statuses.push_back(tsq::eigen::lstm(lstm.weights(),
                                      TensorView<const float>(lstm.input, lstm.input_shape()),
                                      TensorView<float>(lstm_output, lstm.output_shape(true)),
                                      lstm.hidden_state, lstm.cell_state, lstm_scratch));
  Eigen::internal::set_is_malloc_allowed(true);
  for (const Status& status : statuses) CHECK(status.is_ok());
  INFO("first failed Eigen assertion: " << tsq_eigen_test::first_failed_assertion());
  CHECK(eigen_assertion_failures() == 0);
  // For comparison: fc_time as one unsplit product (what the tiles avoid). Whether it allocates
  // depends on the blocking Eigen derives from this machine's cache sizes.
  const DenseLayer& layer = dense[0];
  std::vector<float> output(dense_outputs[0].size());
  const tsq::eigen::detail::ConstMatrixMap x(layer.input.data(), 112, 384,
                                             Eigen::OuterStride<>(384));
  const tsq::eigen::detail::ConstMatrixMap w(layer.weights.data(), 512, 384,
                                             Eigen::OuterStride<>(384));
  tsq::eigen::detail::MatrixMap y(output.data(), 112, 512, Eigen::OuterStride<>(512));
  Eigen::internal::set_is_malloc_allowed(false);
  y.noalias() = x * w.transpose();
  Eigen::internal::set_is_malloc_allowed(true);
  std::printf("Eigen fc_time as one unsplit GEMM: %d heap allocations (tiled: 0)\n",
              eigen_assertion_failures());
  eigen_assertion_failures() = 0;
}
