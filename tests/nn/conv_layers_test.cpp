// SPDX-License-Identifier: Apache-2.0
// The windowed and structural layers of the model API: Conv1D, Conv2D, DepthwiseConv1D/2D, the
// four pooling layers, GlobalAveragePool, BatchNormalization and Dropout. Each one, inside a
// model, equals the kernel it wraps called by hand (float exactly, integer bit for bit); every
// weight layout gives the same model and a transposed kernel is refused; the approximate forms
// (int16 activations, DRQ, float16 weights) stay within a stated distance of float; bad shapes
// are refused by Model::build() with a message that says why.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "npz_builder.hpp"
#include "tsq/kernels/float/avg_pool2d.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/depthwise_conv2d.hpp"
#include "tsq/kernels/float/max_pool2d.hpp"
#include "tsq/kernels/float/mean.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/mean.hpp"
#include "tsq/kernels/simd/hybrid_conv2d.hpp"
#include "tsq/nn/layers/batch_norm.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/depthwise_conv.hpp"
#include "tsq/nn/layers/dropout.hpp"
#include "tsq/nn/layers/global_average_pool.hpp"
#include "tsq/nn/layers/pooling.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/quantize_model.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::Padding;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::Span;
using tsq::TensorView;
using tsq::nn::AnyTensor;
using tsq::nn::Model;
using tsq::nn::Precision;
using tsq::nn::WeightLayout;
using tsq_test::NpzMember;

namespace {

constexpr WeightLayout kLayouts[] = {WeightLayout::keras, WeightLayout::pytorch,
                                     WeightLayout::tflite};
constexpr RoundingMode kRoundings[] = {RoundingMode::double_rounding,
                                       RoundingMode::single_rounding};

std::vector<float> random_values(std::size_t count, std::uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return values;
}

std::size_t sz(std::int32_t value) { return static_cast<std::size_t>(value); }

// The row-major tensor `values` (dimensions `dims`) with its axes reordered: axis a of the result
// is axis order[a] of the input. Written independently of the layers' own transpositions.
std::vector<float> permute(const std::vector<float>& values, const std::vector<std::size_t>& dims,
                           const std::vector<std::size_t>& order) {
  const std::size_t rank = dims.size();
  std::vector<std::size_t> out_dims(rank), in_strides(rank, 1);
  for (std::size_t a = 0; a < rank; ++a) out_dims[a] = dims[order[a]];
  for (std::size_t a = rank - 1; a > 0; --a) in_strides[a - 1] = in_strides[a] * dims[a];
  std::vector<float> out(values.size());
  std::vector<std::size_t> index(rank, 0);  // in the result's axes
  for (std::size_t flat = 0; flat < out.size(); ++flat) {
    std::size_t source = 0;
    for (std::size_t a = 0; a < rank; ++a) source += index[a] * in_strides[order[a]];
    out[flat] = values[source];
    for (std::size_t a = rank; a-- > 0;) {
      if (++index[a] < out_dims[a]) break;
      index[a] = 0;
    }
  }
  return out;
}

// 16-byte aligned bytes for arenas and scratch.
class AlignedBytes {
 public:
  explicit AlignedBytes(std::size_t bytes) : storage_(bytes + 16) {
    std::size_t offset = 0;
    while (reinterpret_cast<std::uintptr_t>(storage_.data() + offset) % 16 != 0) ++offset;
    span_ = Span<std::byte>(storage_.data() + offset, bytes);
  }
  Span<std::byte> span() const { return span_; }

 private:
  std::vector<std::byte> storage_;
  Span<std::byte> span_;
};

void check_error(const tsq::Status& status, ErrorCode code, const std::string& fragment) {
  INFO("message: " << status.message());
  REQUIRE_FALSE(status.is_ok());
  CHECK(std::string(tsq::error_code_name(status.code())) == tsq::error_code_name(code));
  CHECK_THAT(status.message(), Catch::Contains(fragment));
}

// A built model of one layer reading a window of `window` (no batch axis).
template <typename LayerType>
Model one_layer_model(const Shape& window, LayerType layer) {
  Model model;
  const auto x = model.input("x", window);
  model.add(std::move(layer), x);
  const tsq::Status status = model.build();
  INFO(status.message());
  REQUIRE(status.is_ok());
  return model;
}

void load(Model& model, const std::vector<NpzMember>& members) {
  const auto npz = tsq_test::make_npz(members);
  REQUIRE(npz.is_ok());
  const tsq::Status status = model.load_weights(npz.value());
  INFO(status.message());
  REQUIRE(status.is_ok());
}

std::vector<float> run_model(const Model& model, const std::vector<float>& input) {
  AlignedBytes arena(model.arena_bytes());
  std::vector<float> output(model.output_size());
  const tsq::Status status = model.run(input, output, arena.span());
  INFO(status.message());
  REQUIRE(status.is_ok());
  return output;
}

// One run of a quantized layer on one input.
template <typename Out, typename In>
std::vector<Out> run_layer(const tsq::nn::QuantizedLayer& layer, std::vector<In> input,
                           const Shape& input_shape, const Shape& output_shape) {
  AlignedBytes scratch(layer.scratch_bytes());
  std::vector<Out> output(output_shape.element_count());
  const AnyTensor in{input.data(), input_shape, tsq::data_type_of_v<In>};
  const AnyTensor out{output.data(), output_shape, tsq::data_type_of_v<Out>};
  const tsq::Status status = layer.run(Span<const AnyTensor>(&in, 1), out, scratch.span());
  INFO(status.message());
  REQUIRE(status.is_ok());
  return output;
}

std::pair<float, float> min_max(const std::vector<float>& values) {
  const auto range = std::minmax_element(values.begin(), values.end());
  return {*range.first, *range.second};
}

tsq::nn::TensorQuantization int8_of(const std::vector<float>& values) {
  const auto range = min_max(values);
  const auto params = tsq::choose_quant_params(range.first, range.second);
  REQUIRE(params.is_ok());
  return {DataType::int8, params.value()};
}

tsq::nn::TensorQuantization int16_of(const std::vector<float>& values) {
  const auto range = min_max(values);
  const auto params =
      tsq::choose_symmetric_quant_params(range.first, range.second, tsq::BitWidth{16, true, true});
  REQUIRE(params.is_ok());
  return {DataType::int16, params.value()};
}

// A request as a model would make it: input and output parameters from their float ranges.
tsq::nn::LayerQuantizationRequest request_for(Precision precision, const std::vector<float>& input,
                                              const std::vector<float>& output,
                                              RoundingMode rounding) {
  tsq::nn::LayerQuantizationRequest request;
  request.precision = precision;
  request.rounding = rounding;
  if (precision == Precision::int8) {
    request.inputs = {int8_of(input)};
    request.output = int8_of(output);
  } else if (precision == Precision::int16_activations) {
    request.inputs = {int16_of(input)};
    request.output = int16_of(output);
  } else {
    request.inputs = {tsq::nn::TensorQuantization{}};
  }
  return request;
}

template <typename T>
std::vector<T> quantize_all(const std::vector<float>& values, const QuantParams& params) {
  std::vector<T> out(values.size());
  REQUIRE(tsq::quantize<T>(values, Span<T>(out), params).is_ok());
  return out;
}

template <typename T>
std::vector<float> dequantize_all(const std::vector<T>& values, const QuantParams& params) {
  std::vector<float> out(values.size());
  REQUIRE(tsq::dequantize<T>(values, Span<float>(out), params).is_ok());
  return out;
}

float max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float worst = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

float max_abs(const std::vector<float>& values) {
  float worst = 0.0f;
  for (const float v : values) worst = std::max(worst, std::abs(v));
  return worst;
}

// Integer Conv2D by hand: the library's per-channel weights and biases, prepared and run by the
// reference kernel directly.
template <typename T>
std::vector<T> conv2d_by_hand(const Shape& input_shape, const QuantParams& in,
                              const std::vector<T>& x, const Shape& filter_shape,
                              const std::vector<float>& filter, const std::vector<float>& bias,
                              const QuantParams& out, const tsq::Conv2DOptions& options,
                              RoundingMode rounding) {
  auto w = tsq::nn::quantize_weights_per_channel<std::int8_t>(
      filter, {filter_shape[0], filter_shape[1], filter_shape[2], filter_shape[3]});
  REQUIRE(w.is_ok());
  auto params = tsq::prepare_owned_conv2d(
      tsq::Conv2DQuantization{input_shape, in, filter_shape, w->scales, out, options, rounding});
  REQUIRE(params.is_ok());
  const Shape output_shape = tsq::conv2d_output_shape(input_shape, filter_shape, options).value();
  std::vector<T> y(output_shape.element_count());
  const TensorView<const std::int8_t> weights(w->values, filter_shape);
  const std::size_t channels = sz(filter_shape[0]);
  tsq::Status status;
  if constexpr (sizeof(T) == 1) {
    auto b = tsq::nn::quantize_bias_int32(bias, channels, in.scale, w->scales);
    REQUIRE(b.is_ok());
    status = tsq::reference::conv2d(*params, TensorView<const T>(x, input_shape), weights,
                                    b.value(), TensorView<T>(y, output_shape));
  } else {
    auto b = tsq::nn::quantize_bias_int64(bias, channels, in.scale, w->scales);
    REQUIRE(b.is_ok());
    status = tsq::reference::conv2d(*params, TensorView<const T>(x, input_shape), weights,
                                    b.value(), TensorView<T>(y, output_shape));
  }
  INFO(status.message());
  REQUIRE(status.is_ok());
  return y;
}

std::vector<float> conv2d_float(const Shape& input_shape, const std::vector<float>& x,
                                const Shape& filter_shape, const std::vector<float>& filter,
                                const std::vector<float>& bias, const tsq::Conv2DOptions& options) {
  const Shape output_shape = tsq::conv2d_output_shape(input_shape, filter_shape, options).value();
  std::vector<float> y(output_shape.element_count());
  REQUIRE(tsq::floating::conv2d(options, TensorView<const float>(x, input_shape),
                                TensorView<const float>(filter, filter_shape), bias,
                                TensorView<float>(y, output_shape))
              .is_ok());
  return y;
}

// Per-channel int8 weights of a depthwise filter (scale per last-axis channel), by hand.
tsq::nn::PerChannelWeights<std::int8_t> depthwise_weights(const std::vector<float>& filter,
                                                          const Shape& shape) {
  tsq::nn::PerChannelWeights<std::int8_t> w;
  w.values.resize(filter.size());
  w.scales.resize(sz(shape[3]));
  const std::int32_t dims[] = {shape[0], shape[1], shape[2], shape[3]};
  REQUIRE(tsq::quantize_per_channel<std::int8_t>(filter, Span<const std::int32_t>(dims, 4), 3,
                                                 Span<std::int8_t>(w.values), Span<float>(w.scales))
              .is_ok());
  return w;
}

struct ConvCase {
  const char* what;
  std::int32_t stride;
  std::int32_t dilation;
  Padding padding;
  tsq::FusedActivation activation;
  bool use_bias;
};

const ConvCase kConvCases[] = {
    {"valid", 1, 1, Padding::valid, tsq::FusedActivation::none, true},
    {"same, stride 2", 2, 1, Padding::same, tsq::FusedActivation::none, true},
    {"same, dilation 2, relu", 1, 2, Padding::same, tsq::FusedActivation::relu, true},
    {"valid, stride 2, relu6, no bias", 2, 1, Padding::valid, tsq::FusedActivation::relu6, false},
};

// The kernel of a Conv1D as each layout's file holds it, from the logical OHWI [F, K, 1, C].
std::vector<NpzMember> conv1d_members(WeightLayout layout, const std::vector<float>& ohwi,
                                      std::size_t f, std::size_t k, std::size_t c,
                                      const std::vector<float>& bias,
                                      const std::string& layer = "conv") {
  std::vector<NpzMember> members;
  switch (layout) {
    case WeightLayout::keras:
      members.push_back({layer + ".kernel", {k, c, f}, permute(ohwi, {f, k, c}, {1, 2, 0})});
      break;
    case WeightLayout::pytorch:
      members.push_back({layer + ".kernel", {f, c, k}, permute(ohwi, {f, k, c}, {0, 2, 1})});
      break;
    case WeightLayout::tflite: members.push_back({layer + ".kernel", {f, 1, k, c}, ohwi}); break;
  }
  if (!bias.empty()) members.push_back({layer + ".bias", {f}, bias});
  return members;
}

// The same for Conv2D, from OHWI [F, KH, KW, D].
std::vector<NpzMember> conv2d_members(WeightLayout layout, const std::vector<float>& ohwi,
                                      std::size_t f, std::size_t kh, std::size_t kw, std::size_t d,
                                      const std::vector<float>& bias) {
  std::vector<NpzMember> members;
  switch (layout) {
    case WeightLayout::keras:
      members.push_back(
          {"conv.kernel", {kh, kw, d, f}, permute(ohwi, {f, kh, kw, d}, {1, 2, 3, 0})});
      break;
    case WeightLayout::pytorch:
      members.push_back(
          {"conv.kernel", {f, d, kh, kw}, permute(ohwi, {f, kh, kw, d}, {0, 3, 1, 2})});
      break;
    case WeightLayout::tflite: members.push_back({"conv.kernel", {f, kh, kw, d}, ohwi}); break;
  }
  if (!bias.empty()) members.push_back({"conv.bias", {f}, bias});
  return members;
}

// A depthwise kernel from the logical [1, KH, KW, C * m] (KW = 1 for the 1-D layer).
std::vector<NpzMember> depthwise_members(WeightLayout layout, bool one_d,
                                         const std::vector<float>& filter, std::size_t kh,
                                         std::size_t kw, std::size_t c, std::size_t m,
                                         const std::vector<float>& bias) {
  std::vector<NpzMember> members;
  const std::size_t cm = c * m;
  switch (layout) {
    case WeightLayout::keras:
      members.push_back(
          {"dw.kernel",
           one_d ? std::vector<std::size_t>{kh, c, m} : std::vector<std::size_t>{kh, kw, c, m},
           filter});
      break;
    case WeightLayout::pytorch:
      members.push_back(
          {"dw.kernel",
           one_d ? std::vector<std::size_t>{cm, 1, kh} : std::vector<std::size_t>{cm, 1, kh, kw},
           permute(filter, {kh, kw, cm}, {2, 0, 1})});
      break;
    case WeightLayout::tflite:
      members.push_back(
          {"dw.kernel",
           one_d ? std::vector<std::size_t>{1, 1, kh, cm} : std::vector<std::size_t>{1, kh, kw, cm},
           filter});
      break;
  }
  if (!bias.empty()) members.push_back({"dw.bias", {cm}, bias});
  return members;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Conv1D / Conv2D, float

TEST_CASE("Conv1D is the float Conv2D kernel on [1, T, 1, C], from every weight layout",
          "[model][conv]") {
  const std::int32_t steps = 13, channels = 3, filters = 4, k = 3;
  for (const ConvCase& c : kConvCases) {
    INFO(c.what);
    const auto ohwi = random_values(sz(filters * k * channels), 11);
    const auto bias = c.use_bias ? random_values(sz(filters), 12) : std::vector<float>{};
    const auto x = random_values(sz(steps * channels), 13);
    tsq::Conv2DOptions options;
    options.padding = c.padding;
    options.stride_height = c.stride;
    options.dilation_height = c.dilation;
    options.activation = c.activation;
    const auto expected = conv2d_float(Shape{1, steps, 1, channels}, x,
                                       Shape{filters, k, 1, channels}, ohwi, bias, options);
    for (const WeightLayout layout : kLayouts) {
      INFO("layout " << tsq::nn::weight_layout_name(layout));
      Model model = one_layer_model(Shape{steps, channels}, tsq::nn::Conv1D("conv", filters, k)
                                                                .stride(c.stride)
                                                                .dilation(c.dilation)
                                                                .padding(c.padding)
                                                                .activation(c.activation)
                                                                .use_bias(c.use_bias)
                                                                .layout(layout));
      load(model, conv1d_members(layout, ohwi, sz(filters), sz(k), sz(channels), bias));
      const auto& conv = static_cast<const tsq::nn::Conv1D&>(model.layer(0));
      CHECK(conv.kernel() == ohwi);
      CHECK(model.output_shape() ==
            Shape{1, static_cast<std::int32_t>(expected.size() / sz(filters)), filters});
      CHECK(run_model(model, x) == expected);  // exactly: the same kernel on the same data
    }
  }
}

TEST_CASE("Conv2D (grouped, strided) is the float kernel, from every weight layout",
          "[model][conv]") {
  const std::int32_t h = 7, w = 6, channels = 4, groups = 2, filters = 6, kh = 3, kw = 2;
  const std::int32_t depth = channels / groups;
  const auto ohwi = random_values(sz(filters * kh * kw * depth), 21);
  const auto bias = random_values(sz(filters), 22);
  const auto x = random_values(sz(h * w * channels), 23);
  tsq::Conv2DOptions options;
  options.padding = Padding::same;
  options.stride_height = 2;
  options.stride_width = 1;
  options.dilation_width = 2;
  options.activation = tsq::FusedActivation::relu;
  const auto expected =
      conv2d_float(Shape{1, h, w, channels}, x, Shape{filters, kh, kw, depth}, ohwi, bias, options);
  for (const WeightLayout layout : kLayouts) {
    INFO("layout " << tsq::nn::weight_layout_name(layout));
    Model model = one_layer_model(Shape{h, w, channels}, tsq::nn::Conv2D("conv", filters, {kh, kw})
                                                             .stride({2, 1})
                                                             .dilation({1, 2})
                                                             .padding(Padding::same)
                                                             .groups(groups)
                                                             .relu()
                                                             .layout(layout));
    load(model, conv2d_members(layout, ohwi, sz(filters), sz(kh), sz(kw), sz(depth), bias));
    CHECK(model.output_shape() == Shape{1, 4, 6, filters});
    CHECK(run_model(model, x) == expected);
  }
}

TEST_CASE("Weights set directly equal weights loaded", "[model][conv]") {
  const auto ohwi = random_values(5 * 3 * 2, 31);
  const auto bias = random_values(5, 32);
  const auto x = random_values(9 * 2, 33);
  Model loaded = one_layer_model(Shape{9, 2}, tsq::nn::Conv1D("conv", 5, 3));
  load(loaded, conv1d_members(WeightLayout::keras, ohwi, 5, 3, 2, bias));
  Model direct = one_layer_model(Shape{9, 2}, tsq::nn::Conv1D("conv", 5, 3));
  auto& conv = static_cast<tsq::nn::Conv1D&>(direct.layer(0));
  CHECK(conv.set_weights(permute(ohwi, {5, 3, 2}, {1, 2, 0}), bias).is_ok());
  CHECK(run_model(direct, x) == run_model(loaded, x));
  check_error(conv.set_weights(std::vector<float>(29), bias), ErrorCode::shape_mismatch,
              "wrong number of values");
  check_error(conv.set_weights(std::vector<float>(30), {}), ErrorCode::shape_mismatch, "bias");
}

TEST_CASE("A kernel with the right element count but transposed dimensions is refused",
          "[model][conv]") {
  // Conv1D, K = 3, C = 2, F = 4: 24 values in every layout; only the order tells them apart.
  const auto values = random_values(24, 41);
  const auto bias = random_values(4, 42);
  const auto refused = [&](WeightLayout layout, std::vector<std::size_t> shape,
                           const std::string& expected) {
    Model model = one_layer_model(Shape{8, 2}, tsq::nn::Conv1D("conv", 4, 3).layout(layout));
    const auto npz =
        tsq_test::make_npz({{"conv.kernel", std::move(shape), values}, {"conv.bias", {4}, bias}});
    REQUIRE(npz.is_ok());
    const tsq::Status status = model.load_weights(npz.value());
    check_error(status, ErrorCode::shape_mismatch, "weight 'conv.kernel'");
    CHECK_THAT(status.message(), Catch::Contains("expected " + expected));
    CHECK_THAT(status.message(), Catch::Contains("Conv1D 'conv'"));
  };
  refused(WeightLayout::keras, {4, 2, 3}, "(3, 2, 4)");         // a pytorch kernel given as keras
  refused(WeightLayout::pytorch, {3, 2, 4}, "(4, 2, 3)");       // a keras kernel given as pytorch
  refused(WeightLayout::pytorch, {4, 3, 2}, "(4, 2, 3)");       // K and C swapped
  refused(WeightLayout::tflite, {4, 3, 1, 2}, "(4, 1, 3, 2)");  // time on H: not TFLite's Conv1D
  refused(WeightLayout::tflite, {4, 3, 2}, "(4, 1, 3, 2)");     // rank 3

  // Conv2D: a keras kernel (KH, KW, D, F) = (3, 2, 2, 2) read as pytorch (F, D, KH, KW).
  Model conv2d = one_layer_model(Shape{5, 5, 2},
                                 tsq::nn::Conv2D("conv", 2, {3, 2}).layout(WeightLayout::pytorch));
  auto npz = tsq_test::make_npz(
      {{"conv.kernel", {3, 2, 2, 2}, random_values(24, 43)}, {"conv.bias", {2}, {0.0f, 0.0f}}});
  REQUIRE(npz.is_ok());
  check_error(conv2d.load_weights(npz.value()), ErrorCode::shape_mismatch, "expected (2, 2, 3, 2)");

  // Depthwise, pytorch (C * m, 1, K) = (4, 1, 3) given as (1, 3, 4).
  Model depthwise = one_layer_model(
      Shape{8, 2},
      tsq::nn::DepthwiseConv1D("dw", 3).depth_multiplier(2).layout(WeightLayout::pytorch));
  npz = tsq_test::make_npz(
      {{"dw.kernel", {1, 3, 4}, random_values(12, 44)}, {"dw.bias", {4}, random_values(4, 45)}});
  REQUIRE(npz.is_ok());
  check_error(depthwise.load_weights(npz.value()), ErrorCode::shape_mismatch,
              "weight 'dw.kernel' has shape (1, 3, 4), expected (4, 1, 3)");

  // A bias of the wrong length and a missing bias are named too.
  Model model = one_layer_model(Shape{8, 2}, tsq::nn::Conv1D("conv", 4, 3));
  npz = tsq_test::make_npz({{"conv.kernel", {3, 2, 4}, values}, {"conv.bias", {3}, {1, 2, 3}}});
  REQUIRE(npz.is_ok());
  check_error(model.load_weights(npz.value()), ErrorCode::shape_mismatch, "weight 'conv.bias'");
  npz = tsq_test::make_npz({{"conv.kernel", {3, 2, 4}, values}});
  REQUIRE(npz.is_ok());
  check_error(model.load_weights(npz.value()), ErrorCode::not_found, "'conv.bias' missing");
}

// ---------------------------------------------------------------------------------------------
// Conv1D / Conv2D, quantized

TEST_CASE("Conv1D int8 equals the reference kernel bit for bit and float within 3 steps",
          "[model][conv][int8]") {
  const std::int32_t steps = 16, channels = 3, filters = 5, k = 4;
  const auto ohwi = random_values(sz(filters * k * channels), 51, 0.5f);
  const auto bias = random_values(sz(filters), 52, 0.2f);
  for (const ConvCase& c : kConvCases) {
    INFO(c.what);
    Model model = one_layer_model(Shape{steps, channels}, tsq::nn::Conv1D("conv", filters, k)
                                                              .stride(c.stride)
                                                              .dilation(c.dilation)
                                                              .padding(c.padding)
                                                              .activation(c.activation)
                                                              .use_bias(c.use_bias));
    const auto used_bias = c.use_bias ? bias : std::vector<float>{};
    load(model,
         conv1d_members(WeightLayout::keras, ohwi, sz(filters), sz(k), sz(channels), used_bias));
    const tsq::nn::Layer& layer = model.layer(0);
    const auto& conv = static_cast<const tsq::nn::Conv1D&>(layer);
    // Calibration: the ranges of a few windows.
    std::vector<float> inputs, outputs;
    for (std::uint32_t w = 0; w < 6; ++w) {
      const auto x = random_values(sz(steps * channels), 100 + w);
      const auto y = run_model(model, x);
      inputs.insert(inputs.end(), x.begin(), x.end());
      outputs.insert(outputs.end(), y.begin(), y.end());
    }
    for (const RoundingMode rounding : kRoundings) {
      const auto request = request_for(Precision::int8, inputs, outputs, rounding);
      const QuantParams in = request.inputs[0].params;
      const QuantParams out = request.output.params;
      auto quantized = layer.quantize(request);
      INFO(quantized.status().message());
      REQUIRE(quantized.is_ok());
      const auto copy = quantized.value()->clone();
      quantized.value().reset();  // the copy owns its multipliers: it runs alone
      float worst_steps = 0.0f;
      for (std::uint32_t w = 0; w < 6; ++w) {
        const std::vector<float> x(inputs.begin() + w * sz(steps * channels),
                                   inputs.begin() + (w + 1) * sz(steps * channels));
        const auto xq = quantize_all<std::int8_t>(x, in);
        const auto got =
            run_layer<std::int8_t>(*copy, xq, layer.input_shapes()[0], layer.output_shape());
        const auto expected = conv2d_by_hand(conv.input_nhwc(), in, xq, conv.filter_shape(), ohwi,
                                             used_bias, out, conv.options(), rounding);
        REQUIRE(got == expected);
        const auto real = run_model(model, x);
        worst_steps =
            std::max(worst_steps, max_abs_difference(dequantize_all(got, out), real) / out.scale);
      }
      INFO("worst error " << worst_steps << " output steps");
      CHECK(worst_steps <= 3.0f);
      const tsq::nn::ParameterBytes bytes = copy->parameter_bytes();
      CHECK(bytes.int8 == ohwi.size());
      CHECK(bytes.int32 == sz(filters) * 4);
    }
  }
}

namespace {

// Calibration data of the layer at node 0: `count` windows and the float outputs.
struct Calibration {
  std::vector<std::vector<float>> windows;
  std::vector<float> inputs, outputs;  // all windows, concatenated
};

Calibration calibrate(const Model& model, std::uint32_t seed, std::size_t count = 6) {
  Calibration c;
  for (std::size_t w = 0; w < count; ++w) {
    auto x = random_values(model.input_size(), seed + static_cast<std::uint32_t>(w));
    const auto y = run_model(model, x);
    c.inputs.insert(c.inputs.end(), x.begin(), x.end());
    c.outputs.insert(c.outputs.end(), y.begin(), y.end());
    c.windows.push_back(std::move(x));
  }
  return c;
}

// int16 activations (bit for bit against the reference kernel), DRQ (bit for bit against the
// hybrid kernel) and float16 weights of the Conv layer at node 0, each against float.
template <typename ConvLayer>
void check_conv_approximations(const Model& model, const std::vector<float>& ohwi,
                               const std::vector<float>& bias, std::uint32_t seed) {
  const tsq::nn::Layer& layer = model.layer(0);
  const auto& conv = static_cast<const ConvLayer&>(layer);
  const Calibration calibration = calibrate(model, seed);
  const float range = max_abs(calibration.outputs);

  const auto int16 =
      layer.quantize(request_for(Precision::int16_activations, calibration.inputs,
                                 calibration.outputs, RoundingMode::double_rounding));
  INFO(int16.status().message());
  REQUIRE(int16.is_ok());
  const auto in16 = int16_of(calibration.inputs).params;
  const auto out16 = int16_of(calibration.outputs).params;
  CHECK(int16.value()->parameter_bytes().int64 == sz(conv.filters()) * 8);

  const auto drq = layer.quantize(request_for(Precision::dynamic_int8, {}, {}, {}));
  INFO(drq.status().message());
  REQUIRE(drq.is_ok());
  auto w = tsq::nn::quantize_weights_per_channel<std::int8_t>(
      ohwi, {conv.filter_shape()[0], conv.filter_shape()[1], conv.filter_shape()[2],
             conv.filter_shape()[3]});
  REQUIRE(w.is_ok());
  auto hybrid = tsq::hybrid::prepare_owned_conv2d(conv.input_nhwc(), conv.filter_shape(), w->scales,
                                                  conv.options());
  REQUIRE(hybrid.is_ok());
  // The layer runs the SIMD kernel: its scratch (the quantized item, then im2col rows).
  const auto fast = tsq::simd::PreparedHybridConv2D::from_reference(
      *hybrid, tsq::TensorView<const std::int8_t>(w->values.data(), conv.filter_shape()), {});
  REQUIRE(fast.is_ok());
  CHECK(fast->scratch_size() > tsq::hybrid::conv2d_scratch_size(*hybrid));
  CHECK(drq.value()->scratch_bytes() ==
        tsq::nn::detail::scratch_bytes_for<std::int8_t>(fast->scratch_size()));

  const auto half = layer.quantize(request_for(Precision::float16_weights, {}, {}, {}));
  REQUIRE(half.is_ok());

  float worst16 = 0.0f, worst_drq = 0.0f, worst_half = 0.0f;
  for (const auto& x : calibration.windows) {
    const auto real = run_model(model, x);
    const auto xq = quantize_all<std::int16_t>(x, in16);
    const auto got16 =
        run_layer<std::int16_t>(*int16.value(), xq, layer.input_shapes()[0], layer.output_shape());
    REQUIRE(got16 == conv2d_by_hand(conv.input_nhwc(), in16, xq, conv.filter_shape(), ohwi, bias,
                                    out16, conv.options(), RoundingMode::double_rounding));
    worst16 = std::max(worst16, max_abs_difference(dequantize_all(got16, out16), real));

    const auto got_drq =
        run_layer<float>(*drq.value(), x, layer.input_shapes()[0], layer.output_shape());
    std::vector<float> by_hand(got_drq.size());
    std::vector<std::int8_t> scratch(tsq::hybrid::conv2d_scratch_size(*hybrid));
    REQUIRE(tsq::hybrid::conv2d(*hybrid, TensorView<const float>(x, conv.input_nhwc()),
                                TensorView<const std::int8_t>(w->values, conv.filter_shape()), bias,
                                TensorView<float>(by_hand, conv.output_nhwc()), scratch)
                .is_ok());
    REQUIRE(got_drq == by_hand);
    worst_drq = std::max(worst_drq, max_abs_difference(got_drq, real));

    const auto got_half =
        run_layer<float>(*half.value(), x, layer.input_shapes()[0], layer.output_shape());
    worst_half = std::max(worst_half, max_abs_difference(got_half, real));
  }
  INFO("output range " << range << "; worst |error|: int16 " << worst16 << ", DRQ " << worst_drq
                       << ", float16 " << worst_half);
  CHECK(worst16 <= 0.01f * range);     // int8 weights dominate: < 1% of the output range
  CHECK(worst_drq <= 0.02f * range);   // int8 weights and an int8 input window
  CHECK(worst_half <= 1e-3f * range);  // 11-bit mantissas
  CHECK(worst_half > 0.0f);            // the half weights are really used
}

}  // namespace

TEST_CASE("Conv1D and Conv2D: int16, DRQ and float16 weights against their kernels and float",
          "[model][conv]") {
  SECTION("Conv1D") {
    const auto ohwi = random_values(6 * 5 * 3, 61, 0.5f);
    const auto bias = random_values(6, 62, 0.2f);
    Model model = one_layer_model(Shape{20, 3}, tsq::nn::Conv1D("conv", 6, 5)
                                                    .padding(Padding::same)
                                                    .stride(2)
                                                    .relu()
                                                    .layout(WeightLayout::pytorch));
    load(model, conv1d_members(WeightLayout::pytorch, ohwi, 6, 5, 3, bias));
    check_conv_approximations<tsq::nn::Conv1D>(model, ohwi, bias, 600);
  }
  SECTION("Conv2D, grouped") {
    const auto ohwi = random_values(4 * 3 * 3 * 2, 63, 0.5f);
    const auto bias = random_values(4, 64, 0.2f);
    Model model = one_layer_model(
        Shape{6, 5, 4}, tsq::nn::Conv2D("conv", 4, {3, 3}).padding(Padding::same).groups(2));
    load(model, conv2d_members(WeightLayout::keras, ohwi, 4, 3, 3, 2, bias));
    check_conv_approximations<tsq::nn::Conv2D>(model, ohwi, bias, 700);
  }
}

TEST_CASE("Conv2D int8 (grouped) equals the reference kernel bit for bit", "[model][conv][int8]") {
  const auto ohwi = random_values(6 * 2 * 3 * 1, 71, 0.5f);
  const auto bias = random_values(6, 72, 0.2f);
  Model model = one_layer_model(Shape{5, 7, 3}, tsq::nn::Conv2D("conv", 6, {2, 3})
                                                    .groups(3)
                                                    .stride({1, 2})
                                                    .padding(Padding::same)
                                                    .relu6()
                                                    .layout(WeightLayout::tflite));
  load(model, conv2d_members(WeightLayout::tflite, ohwi, 6, 2, 3, 1, bias));
  const auto& conv = static_cast<const tsq::nn::Conv2D&>(model.layer(0));
  const Calibration calibration = calibrate(model, 800);
  for (const RoundingMode rounding : kRoundings) {
    const auto request =
        request_for(Precision::int8, calibration.inputs, calibration.outputs, rounding);
    const auto quantized = conv.quantize(request);
    REQUIRE(quantized.is_ok());
    CHECK(quantized.value()->output_quantization().params.scale == request.output.params.scale);
    float worst_steps = 0.0f;
    for (const auto& x : calibration.windows) {
      const auto xq = quantize_all<std::int8_t>(x, request.inputs[0].params);
      const auto got = run_layer<std::int8_t>(*quantized.value(), xq, conv.input_shapes()[0],
                                              conv.output_shape());
      REQUIRE(got == conv2d_by_hand(conv.input_nhwc(), request.inputs[0].params, xq,
                                    conv.filter_shape(), ohwi, bias, request.output.params,
                                    conv.options(), rounding));
      worst_steps = std::max(
          worst_steps,
          max_abs_difference(dequantize_all(got, request.output.params), run_model(model, x)) /
              request.output.params.scale);
    }
    INFO("worst error " << worst_steps << " output steps");
    CHECK(worst_steps <= 3.0f);
  }
  // int16 weights are the LSTM's only.
  CHECK_FALSE(conv.supports(Precision::int16_weights));
  check_error(conv.quantize(request_for(Precision::int16_weights, {}, {}, {})).status(),
              ErrorCode::unsupported_type, "cannot run as int16 weights");
}

// ---------------------------------------------------------------------------------------------
// DepthwiseConv1D / DepthwiseConv2D

TEST_CASE("Depthwise convolutions are the float kernel, from every weight layout",
          "[model][depthwise]") {
  SECTION("DepthwiseConv1D, multiplier 2, dilation 2, SAME") {
    const std::int32_t steps = 11, channels = 3, m = 2, k = 3;
    const auto filter = random_values(sz(k * channels * m), 81);
    const auto bias = random_values(sz(channels * m), 82);
    const auto x = random_values(sz(steps * channels), 83);
    tsq::DepthwiseConv2DOptions options;
    options.padding = Padding::same;
    options.dilation_height = 2;
    options.depth_multiplier = m;
    options.activation = tsq::FusedActivation::relu;
    std::vector<float> expected(sz(steps * channels * m));
    REQUIRE(tsq::floating::depthwise_conv2d(
                options, TensorView<const float>(x, Shape{1, steps, 1, channels}),
                TensorView<const float>(filter, Shape{1, k, 1, channels * m}), bias,
                TensorView<float>(expected, Shape{1, steps, 1, channels * m}))
                .is_ok());
    for (const WeightLayout layout : kLayouts) {
      INFO("layout " << tsq::nn::weight_layout_name(layout));
      Model model = one_layer_model(Shape{steps, channels}, tsq::nn::DepthwiseConv1D("dw", k)
                                                                .depth_multiplier(m)
                                                                .dilation(2)
                                                                .padding(Padding::same)
                                                                .relu()
                                                                .layout(layout));
      load(model, depthwise_members(layout, true, filter, sz(k), 1, sz(channels), sz(m), bias));
      CHECK(model.output_shape() == Shape{1, steps, channels * m});
      CHECK(run_model(model, x) == expected);
    }
  }
  SECTION("DepthwiseConv2D, stride 2, VALID, no bias") {
    const std::int32_t h = 7, w = 6, channels = 2, m = 3, kh = 3, kw = 2;
    const auto filter = random_values(sz(kh * kw * channels * m), 84);
    const auto x = random_values(sz(h * w * channels), 85);
    tsq::DepthwiseConv2DOptions options;
    options.stride_height = 2;
    options.stride_width = 2;
    options.depth_multiplier = m;
    const Shape out_shape{1, 3, 3, channels * m};
    std::vector<float> expected(out_shape.element_count());
    REQUIRE(tsq::floating::depthwise_conv2d(
                options, TensorView<const float>(x, Shape{1, h, w, channels}),
                TensorView<const float>(filter, Shape{1, kh, kw, channels * m}), {},
                TensorView<float>(expected, out_shape))
                .is_ok());
    for (const WeightLayout layout : kLayouts) {
      INFO("layout " << tsq::nn::weight_layout_name(layout));
      Model model = one_layer_model(Shape{h, w, channels}, tsq::nn::DepthwiseConv2D("dw", {kh, kw})
                                                               .depth_multiplier(m)
                                                               .stride(2)
                                                               .use_bias(false)
                                                               .layout(layout));
      load(model,
           depthwise_members(layout, false, filter, sz(kh), sz(kw), sz(channels), sz(m), {}));
      CHECK(model.output_shape() == out_shape);
      CHECK(run_model(model, x) == expected);
    }
  }
}

TEST_CASE("Depthwise int8 is bit exact; DRQ dequantizes its int8 weights; float16 near float",
          "[model][depthwise][int8]") {
  const std::int32_t steps = 15, channels = 4, m = 2, k = 5;
  const auto filter = random_values(sz(k * channels * m), 91, 0.5f);
  const auto bias = random_values(sz(channels * m), 92, 0.2f);
  Model model = one_layer_model(
      Shape{steps, channels},
      tsq::nn::DepthwiseConv1D("dw", k).depth_multiplier(m).padding(Padding::same).stride(2));
  load(model,
       depthwise_members(WeightLayout::keras, true, filter, sz(k), 1, sz(channels), sz(m), bias));
  const auto& dw = static_cast<const tsq::nn::DepthwiseConv1D&>(model.layer(0));
  const Calibration calibration = calibrate(model, 900);
  const float range = max_abs(calibration.outputs);
  const auto w = depthwise_weights(filter, dw.filter_shape());

  for (const RoundingMode rounding : kRoundings) {
    const auto request =
        request_for(Precision::int8, calibration.inputs, calibration.outputs, rounding);
    const QuantParams in = request.inputs[0].params;
    const QuantParams out = request.output.params;
    const auto quantized = dw.quantize(request);
    INFO(quantized.status().message());
    REQUIRE(quantized.is_ok());
    auto b = tsq::nn::quantize_bias_int32(bias, sz(channels * m), in.scale, w.scales);
    REQUIRE(b.is_ok());
    auto params = tsq::prepare_owned_depthwise_conv2d(tsq::DepthwiseConv2DQuantization{
        dw.input_nhwc(), in, dw.filter_shape(), w.scales, out, dw.options(), rounding});
    REQUIRE(params.is_ok());
    float worst_steps = 0.0f;
    for (const auto& x : calibration.windows) {
      const auto xq = quantize_all<std::int8_t>(x, in);
      const auto got =
          run_layer<std::int8_t>(*quantized.value(), xq, dw.input_shapes()[0], dw.output_shape());
      std::vector<std::int8_t> expected(got.size());
      REQUIRE(tsq::reference::depthwise_conv2d(
                  *params, TensorView<const std::int8_t>(xq, dw.input_nhwc()),
                  TensorView<const std::int8_t>(w.values, dw.filter_shape()), b.value(),
                  TensorView<std::int8_t>(expected, dw.output_nhwc()))
                  .is_ok());
      REQUIRE(got == expected);
      worst_steps =
          std::max(worst_steps,
                   max_abs_difference(dequantize_all(got, out), run_model(model, x)) / out.scale);
    }
    INFO("worst error " << worst_steps << " output steps");
    CHECK(worst_steps <= 3.0f);
  }

  // DRQ: the float kernel on q * S_c, computed here by hand.
  const auto drq = dw.quantize(request_for(Precision::dynamic_int8, {}, {}, {}));
  REQUIRE(drq.is_ok());
  CHECK(drq.value()->parameter_bytes().int8 == filter.size());
  CHECK(drq.value()->parameter_bytes().float32 == (bias.size() + w.scales.size()) * 4);
  std::vector<float> dequantized(filter.size());
  for (std::size_t i = 0; i < filter.size(); ++i) {
    dequantized[i] = static_cast<float>(w.values[i]) * w.scales[i % w.scales.size()];
  }
  const auto half = dw.quantize(request_for(Precision::float16_weights, {}, {}, {}));
  REQUIRE(half.is_ok());
  float worst_drq = 0.0f, worst_half = 0.0f;
  for (const auto& x : calibration.windows) {
    const auto got = run_layer<float>(*drq.value(), x, dw.input_shapes()[0], dw.output_shape());
    std::vector<float> expected(got.size());
    REQUIRE(tsq::floating::depthwise_conv2d(dw.options(),
                                            TensorView<const float>(x, dw.input_nhwc()),
                                            TensorView<const float>(dequantized, dw.filter_shape()),
                                            bias, TensorView<float>(expected, dw.output_nhwc()))
                .is_ok());
    REQUIRE(got == expected);
    const auto real = run_model(model, x);
    worst_drq = std::max(worst_drq, max_abs_difference(got, real));
    worst_half = std::max(
        worst_half,
        max_abs_difference(
            run_layer<float>(*half.value(), x, dw.input_shapes()[0], dw.output_shape()), real));
  }
  INFO("output range " << range << "; worst |error|: DRQ " << worst_drq << ", float16 "
                       << worst_half);
  CHECK(worst_drq <= 0.01f * range);  // int8 weights only: the activations stay float
  CHECK(worst_half <= 1e-3f * range);

  // No 16x8 depthwise kernel.
  CHECK_FALSE(dw.supports(Precision::int16_activations));
  check_error(dw.quantize(request_for(Precision::int16_activations, calibration.inputs,
                                      calibration.outputs, RoundingMode::double_rounding))
                  .status(),
              ErrorCode::unsupported_type, "cannot run as int16 activations");
}

// ---------------------------------------------------------------------------------------------
// Pooling

namespace {

// A pooling layer at node 0 against the kernels by hand: float exactly; int8 and int16 bit for
// bit with the output keeping the input's parameters; DRQ and float16 run float.
template <tsq::nn::PoolReduction Reduction, typename PoolLayer>
void check_pooling(const Model& model, std::uint32_t seed) {
  const auto& pool = static_cast<const PoolLayer&>(model.layer(0));
  const tsq::Pool2DWindow pool_window = pool.window();
  CHECK(pool.passes_quantization_through());
  const Calibration calibration = calibrate(model, seed, 4);
  for (const auto& x : calibration.windows) {
    std::vector<float> expected(model.output_size());
    const TensorView<const float> in(x, pool.input_nhwc());
    const TensorView<float> out(expected, pool.output_nhwc());
    if constexpr (Reduction == tsq::nn::PoolReduction::max) {
      REQUIRE(tsq::floating::max_pool2d(pool_window, tsq::FusedActivation::none, in, out).is_ok());
    } else {
      REQUIRE(tsq::floating::avg_pool2d(pool_window, tsq::FusedActivation::none, in, out).is_ok());
    }
    CHECK(run_model(model, x) == expected);
  }
  for (const Precision precision : {Precision::dynamic_int8, Precision::float16_weights}) {
    const auto q = pool.quantize(request_for(precision, {}, {}, {}));
    REQUIRE(q.is_ok());
    CHECK(q.value()->output_quantization().type == DataType::float32);
    const auto& x = calibration.windows[0];
    CHECK(run_layer<float>(*q.value(), x, pool.input_shapes()[0], pool.output_shape()) ==
          run_model(model, x));
  }
  const auto integer = [&](auto zero, Precision precision) {
    using T = decltype(zero);
    // The model hands a pass-through layer its input's parameters as output parameters.
    auto request = request_for(precision, calibration.inputs, calibration.inputs,
                               RoundingMode::double_rounding);
    const QuantParams params = request.inputs[0].params;
    const auto q = pool.quantize(request);
    INFO(q.status().message());
    REQUIRE(q.is_ok());
    CHECK(q.value()->output_quantization().params.scale == params.scale);
    CHECK(q.value()->output_quantization().params.zero_point == params.zero_point);
    CHECK(q.value()->output_quantization().type == tsq::data_type_of_v<T>);
    float worst_steps = 0.0f;
    for (const auto& x : calibration.windows) {
      const auto xq = quantize_all<T>(x, params);
      const auto got = run_layer<T>(*q.value(), xq, pool.input_shapes()[0], pool.output_shape());
      std::vector<T> expected(got.size());
      const TensorView<const T> in(xq, pool.input_nhwc());
      const TensorView<T> out(expected, pool.output_nhwc());
      if constexpr (Reduction == tsq::nn::PoolReduction::max) {
        const auto prepared = tsq::prepare_max_pool2d(
            {pool.input_nhwc(), params, params, pool_window, tsq::FusedActivation::none});
        REQUIRE(prepared.is_ok());
        REQUIRE(tsq::reference::max_pool2d(*prepared, in, out).is_ok());
      } else {
        const auto prepared = tsq::prepare_avg_pool2d(
            {pool.input_nhwc(), params, params, pool_window, tsq::FusedActivation::none});
        REQUIRE(prepared.is_ok());
        REQUIRE(tsq::reference::avg_pool2d(*prepared, in, out).is_ok());
      }
      REQUIRE(got == expected);
      // Against float pooling of the dequantized input: the max is exact, the average rounds.
      const auto real = run_model(model, dequantize_all(xq, params));
      worst_steps = std::max(worst_steps,
                             max_abs_difference(dequantize_all(got, params), real) / params.scale);
    }
    INFO(tsq::nn::precision_name(precision) << ": worst error " << worst_steps << " steps");
    if constexpr (Reduction == tsq::nn::PoolReduction::max) {
      CHECK(worst_steps == 0.0f);
    } else {
      CHECK(worst_steps <= 0.5f + 1e-3f);
    }
  };
  integer(std::int8_t{0}, Precision::int8);
  integer(std::int16_t{0}, Precision::int16_activations);
}

}  // namespace

TEST_CASE("Pooling layers are their kernels: float exactly, int8 and int16 bit for bit",
          "[model][pooling]") {
  using tsq::nn::PoolReduction;
  SECTION("MaxPool1D, stride = pool size") {
    const Model model = one_layer_model(Shape{13, 3}, tsq::nn::MaxPool1D("pool", 3));
    CHECK(model.output_shape() == Shape{1, 4, 3});
    check_pooling<PoolReduction::max, tsq::nn::MaxPool1D>(model, 1000);
  }
  SECTION("AvgPool1D, stride 1, SAME (clipped windows at the borders)") {
    const Model model = one_layer_model(
        Shape{9, 4}, tsq::nn::AvgPool1D("pool", 4).stride(1).padding(Padding::same));
    CHECK(model.output_shape() == Shape{1, 9, 4});
    check_pooling<PoolReduction::average, tsq::nn::AvgPool1D>(model, 1100);
  }
  SECTION("MaxPool2D, SAME") {
    const Model model =
        one_layer_model(Shape{5, 7, 2}, tsq::nn::MaxPool2D("pool", {2, 2}).padding(Padding::same));
    CHECK(model.output_shape() == Shape{1, 3, 4, 2});
    check_pooling<PoolReduction::max, tsq::nn::MaxPool2D>(model, 1200);
  }
  SECTION("AvgPool2D, stride {1, 2}") {
    const Model model =
        one_layer_model(Shape{6, 6, 3}, tsq::nn::AvgPool2D("pool", {3, 2}).stride({1, 2}));
    CHECK(model.output_shape() == Shape{1, 4, 3, 3});
    check_pooling<PoolReduction::average, tsq::nn::AvgPool2D>(model, 1300);
  }
}

// ---------------------------------------------------------------------------------------------
// GlobalAveragePool

TEST_CASE("GlobalAveragePool is the Mean kernel: float exactly, int8 bit for bit",
          "[model][pooling]") {
  for (const Shape& window : {Shape{17, 5}, Shape{4, 6, 3}}) {
    const Model model = one_layer_model(window, tsq::nn::GlobalAveragePool("gap"));
    const tsq::nn::Layer& gap = model.layer(0);
    const std::int32_t channels = window[window.rank() - 1];
    CHECK(model.output_shape() == Shape{1, channels});
    const Calibration calibration = calibrate(model, 1400);
    for (const auto& x : calibration.windows) {
      std::vector<float> expected(sz(channels));
      REQUIRE(tsq::floating::mean(TensorView<const float>(x, gap.input_shapes()[0]),
                                  TensorView<float>(expected, Shape{1, channels}))
                  .is_ok());
      CHECK(run_model(model, x) == expected);
    }
    for (const RoundingMode rounding : kRoundings) {
      const auto request =
          request_for(Precision::int8, calibration.inputs, calibration.outputs, rounding);
      const QuantParams in = request.inputs[0].params;
      const QuantParams out = request.output.params;
      const auto q = gap.quantize(request);
      REQUIRE(q.is_ok());
      const auto params = tsq::prepare_mean({gap.input_shapes()[0], in, out, false, rounding});
      REQUIRE(params.is_ok());
      float worst_steps = 0.0f;
      for (const auto& x : calibration.windows) {
        const auto xq = quantize_all<std::int8_t>(x, in);
        const auto got =
            run_layer<std::int8_t>(*q.value(), xq, gap.input_shapes()[0], gap.output_shape());
        std::vector<std::int8_t> expected(got.size());
        REQUIRE(tsq::reference::mean(*params,
                                     TensorView<const std::int8_t>(xq, gap.input_shapes()[0]),
                                     TensorView<std::int8_t>(expected, Shape{1, channels}))
                    .is_ok());
        REQUIRE(got == expected);
        worst_steps =
            std::max(worst_steps,
                     max_abs_difference(dequantize_all(got, out), run_model(model, x)) / out.scale);
      }
      INFO("worst error " << worst_steps << " output steps");
      CHECK(worst_steps <= 3.0f);
    }
    const auto half = gap.quantize(request_for(Precision::float16_weights, {}, {}, {}));
    REQUIRE(half.is_ok());
    CHECK(run_layer<float>(*half.value(), calibration.windows[0], gap.input_shapes()[0],
                           gap.output_shape()) == run_model(model, calibration.windows[0]));
    CHECK_FALSE(gap.supports(Precision::int16_activations));
    check_error(gap.quantize(request_for(Precision::int16_activations, calibration.inputs,
                                         calibration.outputs, RoundingMode::double_rounding))
                    .status(),
                ErrorCode::unsupported_type, "cannot run as int16 activations");
  }
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization

namespace {

struct BatchNormStatistics {
  std::vector<float> gamma, beta, mean, variance;
};

BatchNormStatistics batch_norm_statistics(std::size_t channels, std::uint32_t seed) {
  BatchNormStatistics s;
  s.gamma = random_values(channels, seed, 0.8f);
  s.beta = random_values(channels, seed + 1, 0.5f);
  s.mean = random_values(channels, seed + 2, 0.5f);
  s.variance = random_values(channels, seed + 3, 1.0f);
  for (float& v : s.variance) v = 0.05f + v * v;  // > 0, some small: scales up to ~4
  return s;
}

std::vector<NpzMember> batch_norm_members(const std::string& layer, bool pytorch,
                                          const BatchNormStatistics& s) {
  const std::size_t c = s.gamma.size();
  return {{layer + (pytorch ? ".weight" : ".gamma"), {c}, s.gamma},
          {layer + (pytorch ? ".bias" : ".beta"), {c}, s.beta},
          {layer + (pytorch ? ".running_mean" : ".moving_mean"), {c}, s.mean},
          {layer + (pytorch ? ".running_var" : ".moving_variance"), {c}, s.variance}};
}

// y = gamma (x - mean) / sqrt(var + eps) + beta over the last axis, in double.
std::vector<double> batch_norm_by_hand(const std::vector<float>& x, const BatchNormStatistics& s,
                                       double epsilon) {
  const std::size_t c = s.gamma.size();
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t k = i % c;
    y[i] = static_cast<double>(s.gamma[k]) * (static_cast<double>(x[i]) - s.mean[k]) /
               std::sqrt(static_cast<double>(s.variance[k]) + epsilon) +
           s.beta[k];
  }
  return y;
}

// The worst |a - b| / max(1, |b|).
double worst_relative(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst =
        std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) / std::max(1.0, std::abs(b[i])));
  }
  return worst;
}

}  // namespace

TEST_CASE("BatchNormalization folded into a Conv1D equals the Conv1D then the unfolded BN",
          "[model][batch_norm]") {
  const std::int32_t steps = 14, channels = 3, filters = 5, k = 3;
  const auto ohwi = random_values(sz(filters * k * channels), 1501, 0.5f);
  const auto bias = random_values(sz(filters), 1502, 0.2f);
  const auto stats = batch_norm_statistics(sz(filters), 1503);
  for (const bool pytorch : {false, true}) {
    for (const bool use_bias : {true, false}) {
      INFO((pytorch ? "pytorch" : "keras") << (use_bias ? ", conv bias" : ", no conv bias"));
      const double epsilon = pytorch ? 1e-5 : 1e-3;
      const WeightLayout layout = pytorch ? WeightLayout::pytorch : WeightLayout::keras;
      Model model;
      auto x = model.input("x", Shape{steps, channels});
      x = model.add(tsq::nn::Conv1D("conv", filters, k)
                        .padding(Padding::same)
                        .use_bias(use_bias)
                        .layout(layout),
                    x);
      model.add(
          tsq::nn::BatchNormalization("bn").epsilon(static_cast<float>(epsilon)).layout(layout), x);
      REQUIRE(model.build().is_ok());
      CHECK(model.node_count() == 2);
      auto members = conv1d_members(layout, ohwi, sz(filters), sz(k), sz(channels),
                                    use_bias ? bias : std::vector<float>{});
      for (auto& m : batch_norm_members("bn", pytorch, stats)) members.push_back(m);
      load(model, members);
      CHECK(model.node_count() == 1);  // folded at load
      CHECK(model.output_shape() == Shape{1, steps, filters});
      CHECK(static_cast<const tsq::nn::Conv1D&>(model.layer(0)).bias().size() == sz(filters));
      double worst = 0.0;
      for (std::uint32_t w = 0; w < 5; ++w) {
        const auto input = random_values(sz(steps * channels), 1510 + w);
        tsq::Conv2DOptions options;
        options.padding = Padding::same;
        const auto conv_out =
            conv2d_float(Shape{1, steps, 1, channels}, input, Shape{filters, k, 1, channels}, ohwi,
                         use_bias ? bias : std::vector<float>{}, options);
        worst = std::max(worst, worst_relative(run_model(model, input),
                                               batch_norm_by_hand(conv_out, stats, epsilon)));
      }
      INFO("worst relative error " << worst);
      CHECK(worst <= 1e-5);
    }
  }
}

TEST_CASE("BatchNormalization also folds into depthwise and Dense layers", "[model][batch_norm]") {
  const auto stats = batch_norm_statistics(6, 1601);
  Model model;
  auto x = model.input("x", Shape{10, 3});
  x = model.add(tsq::nn::DepthwiseConv1D("dw", 3).depth_multiplier(2), x);
  x = model.add(tsq::nn::BatchNormalization("bn"), x);
  x = model.add(tsq::nn::Dense("dense", 4), x);
  model.add(tsq::nn::BatchNormalization("bn2"), x);
  REQUIRE(model.build().is_ok());
  const auto filter = random_values(18, 1602);
  const auto dw_bias = random_values(6, 1603);
  const auto kernel = random_values(24, 1604);
  const auto dense_bias = random_values(4, 1605);
  const auto stats2 = batch_norm_statistics(4, 1606);
  auto members = depthwise_members(WeightLayout::keras, true, filter, 3, 1, 3, 2, dw_bias);
  members.push_back({"dense.kernel", {6, 4}, kernel});
  members.push_back({"dense.bias", {4}, dense_bias});
  for (auto& m : batch_norm_members("bn", false, stats)) members.push_back(m);
  for (auto& m : batch_norm_members("bn2", false, stats2)) members.push_back(m);
  Model unfolded = model;  // loaded member by member below, without folding
  load(model, members);
  CHECK(model.node_count() == 2);
  // The same chain by hand: float kernels and BN formulas.
  const auto npz = tsq_test::make_npz(members);
  REQUIRE(npz.is_ok());
  for (std::size_t n = 0; n < unfolded.node_count(); ++n) {
    REQUIRE(unfolded.layer(n).load_weights(npz.value(), {}).is_ok());
  }
  CHECK(unfolded.node_count() == 4);
  const auto input = random_values(30, 1607);
  const auto reference = run_model(unfolded, input);  // BN run as layers of their own
  std::vector<double> expected(reference.begin(), reference.end());
  const double worst = worst_relative(run_model(model, input), expected);
  INFO("worst relative error " << worst);
  CHECK(worst <= 1e-5);
}

TEST_CASE("An unfolded BatchNormalization runs in float only; a BN after ReLU is refused",
          "[model][batch_norm]") {
  const auto stats = batch_norm_statistics(4, 1701);
  {
    Model model = one_layer_model(Shape{6, 4}, tsq::nn::BatchNormalization("bn"));
    CHECK(model.layer(0)
              .load_weights(*tsq_test::make_npz(batch_norm_members("bn", false, stats)), {})
              .is_ok());
    const auto x = random_values(24, 1702);
    CHECK(worst_relative(run_model(model, x), batch_norm_by_hand(x, stats, 1e-3)) <= 1e-6);
    std::vector<float> scale, shift;
    CHECK(model.layer(0).batch_norm_affine(scale, shift));
    CHECK(scale.size() == 4);
    const tsq::nn::Layer& bn = model.layer(0);
    CHECK(bn.quantize(request_for(Precision::float32, {}, {}, {})).is_ok());
    for (const Precision p : {Precision::int8, Precision::int16_activations,
                              Precision::dynamic_int8, Precision::float16_weights}) {
      check_error(bn.quantize(request_for(p, x, x, RoundingMode::double_rounding)).status(),
                  ErrorCode::unsupported_type, "must be folded into the Conv or Dense before it");
    }
  }
  {
    Model model;
    auto x = model.input("x", Shape{8, 2});
    x = model.add(tsq::nn::Conv1D("conv", 4, 3).relu(), x);
    model.add(tsq::nn::BatchNormalization("bn"), x);
    REQUIRE(model.build().is_ok());
    auto members = conv1d_members(WeightLayout::keras, random_values(24, 1703), 4, 3, 2,
                                  random_values(4, 1704));
    for (auto& m : batch_norm_members("bn", false, stats)) members.push_back(m);
    check_error(model.load_weights(*tsq_test::make_npz(members)), ErrorCode::invalid_argument,
                "BatchNormalization 'bn' must follow a Conv or Dense layer (without activation)");
  }
  {
    // A negative variance is refused when it is read.
    Model model = one_layer_model(Shape{6, 4}, tsq::nn::BatchNormalization("bn"));
    BatchNormStatistics bad = stats;
    bad.variance[2] = -1.0f;
    check_error(model.load_weights(*tsq_test::make_npz(batch_norm_members("bn", false, bad))),
                ErrorCode::non_finite_value, "channel 2");
  }
}

// ---------------------------------------------------------------------------------------------
// Dropout

TEST_CASE("Dropout disappears from the built model and changes nothing", "[model][dropout]") {
  const auto ohwi = random_values(24, 1801);
  const auto bias = random_values(4, 1802);
  Model with;
  auto x = with.input("x", Shape{9, 2});
  x = with.add(tsq::nn::Dropout("drop_in", 0.2f), x);
  x = with.add(tsq::nn::Conv1D("conv", 4, 3), x);
  with.add(tsq::nn::Dropout("drop_out", 0.5f), x);
  REQUIRE(with.build().is_ok());
  CHECK(with.node_count() == 1);
  CHECK(with.layer(0).name() == "conv");
  CHECK(with.output_shape() == Shape{1, 7, 4});
  load(with, conv1d_members(WeightLayout::keras, ohwi, 4, 3, 2, bias));
  Model without = one_layer_model(Shape{9, 2}, tsq::nn::Conv1D("conv", 4, 3));
  load(without, conv1d_members(WeightLayout::keras, ohwi, 4, 3, 2, bias));
  const auto input = random_values(18, 1803);
  CHECK(run_model(with, input) == run_model(without, input));

  // On its own (a model that has not removed it): a copy, for floats and integers alike.
  tsq::nn::Dropout drop("drop", 0.3f);
  const Shape shape{1, 5, 2};
  REQUIRE(drop.attach(Span<const Shape>(&shape, 1)).is_ok());
  CHECK(drop.is_identity());
  const auto xf = random_values(10, 1804);
  std::vector<float> yf(10);
  const TensorView<const float> in(xf, shape);
  REQUIRE(drop.run_float(Span<const TensorView<const float>>(&in, 1), TensorView<float>(yf, shape),
                         {}, nullptr)
              .is_ok());
  CHECK(yf == xf);
  for (const Precision p : {Precision::int8, Precision::int16_activations, Precision::float32}) {
    const auto request = request_for(p, xf, xf, RoundingMode::double_rounding);
    const auto q = drop.quantize(request);
    REQUIRE(q.is_ok());
    CHECK(q.value()->output_quantization().type == request.inputs[0].type);
    CHECK(q.value()->output_quantization().params.scale == request.inputs[0].params.scale);
  }
  const auto q = drop.quantize(request_for(Precision::int8, xf, xf, RoundingMode::double_rounding));
  const auto xq = quantize_all<std::int8_t>(xf, int8_of(xf).params);
  CHECK(run_layer<std::int8_t>(*q.value(), xq, shape, shape) == xq);
}

// ---------------------------------------------------------------------------------------------
// Bad input

TEST_CASE("Bad shapes are refused by Model::build with a message that says why",
          "[model][errors]") {
  const auto build_error = [](const Shape& window, auto layer) {
    Model model;
    const auto x = model.input("x", window);
    model.add(std::move(layer), x);
    return model.build();
  };
  check_error(build_error(Shape{6, 4, 2}, tsq::nn::Conv1D("conv", 4, 3)), ErrorCode::shape_mismatch,
              "Conv1D 'conv': input must be [1, T, C] (rank 3), got rank 4");
  check_error(build_error(Shape{6, 2}, tsq::nn::Conv2D("conv", 4, {3, 3})),
              ErrorCode::shape_mismatch,
              "Conv2D 'conv': input must be [1, H, W, C] (rank 4), got rank 3");
  check_error(build_error(Shape{6}, tsq::nn::MaxPool1D("pool", 2)), ErrorCode::shape_mismatch,
              "MaxPool1D 'pool': input must be [1, T, C] (rank 3), got rank 2");
  check_error(build_error(Shape{6}, tsq::nn::GlobalAveragePool("gap")), ErrorCode::shape_mismatch,
              "GlobalAveragePool 'gap': input must be");
  // Channels that do not split into the groups.
  check_error(build_error(Shape{6, 6, 4}, tsq::nn::Conv2D("conv", 6, {3, 3}).groups(3)),
              ErrorCode::shape_mismatch,
              "input channels 4 and filters 6 must both be multiples of groups 3");
  // VALID windows longer than the input, named by the axis the user knows.
  check_error(build_error(Shape{5, 2}, tsq::nn::Conv1D("conv", 4, 7)), ErrorCode::shape_mismatch,
              "Conv1D 'conv': time axis: VALID padding: kernel extent 7 larger than input 5");
  check_error(build_error(Shape{5, 2}, tsq::nn::Conv1D("conv", 4, 3).dilation(3)),
              ErrorCode::shape_mismatch, "kernel extent 7 larger than input 5");
  check_error(build_error(Shape{5, 3, 2}, tsq::nn::Conv2D("conv", 4, {2, 4})),
              ErrorCode::shape_mismatch, "width axis: VALID padding: kernel extent 4");
  check_error(build_error(Shape{5, 2}, tsq::nn::DepthwiseConv1D("dw", 6)),
              ErrorCode::shape_mismatch, "DepthwiseConv1D 'dw': time axis");
  check_error(build_error(Shape{5, 2}, tsq::nn::MaxPool1D("pool", 6)), ErrorCode::shape_mismatch,
              "MaxPool1D 'pool': time axis");
  check_error(build_error(Shape{4, 4, 2}, tsq::nn::AvgPool2D("pool", {2, 5})),
              ErrorCode::shape_mismatch, "AvgPool2D 'pool': width axis");
  // SAME accepts any length.
  CHECK(build_error(Shape{5, 2}, tsq::nn::Conv1D("conv", 4, 7).padding(Padding::same)).is_ok());
  // Bad attributes.
  check_error(build_error(Shape{5, 2}, tsq::nn::Conv1D("conv", 4, 3).stride(0)),
              ErrorCode::invalid_argument, "time axis: stride and dilation must be >= 1");
  check_error(build_error(Shape{5, 2}, tsq::nn::Conv1D("conv", 0, 3)), ErrorCode::invalid_argument,
              "filters must be >= 1");
  check_error(build_error(Shape{5, 2}, tsq::nn::DepthwiseConv1D("dw", 3).depth_multiplier(0)),
              ErrorCode::invalid_argument, "depth multiplier must be >= 1");
  check_error(build_error(Shape{5, 2}, tsq::nn::Dropout("drop", 1.0f)), ErrorCode::invalid_argument,
              "rate must be in [0, 1)");
  // A model without weights does not run.
  Model empty = one_layer_model(Shape{5, 2}, tsq::nn::Conv1D("conv", 4, 3));
  AlignedBytes arena(empty.arena_bytes());
  std::vector<float> in(10), out(empty.output_size());
  check_error(empty.run(in, out, arena.span()), ErrorCode::invalid_argument, "has no weights");
  check_error(empty.layer(0).quantize(request_for(Precision::float32, {}, {}, {})).status(),
              ErrorCode::invalid_argument, "has no weights");
}

// ---------------------------------------------------------------------------------------------
// A whole model through tsq::quantize

TEST_CASE("A convolutional model quantizes with every scheme and stays near float",
          "[model][conv][ptq]") {
  Model model;
  auto x = model.input("window", Shape{32, 3});
  x = model.add(tsq::nn::Conv1D("conv1", 8, 5).padding(Padding::same), x);
  x = model.add(tsq::nn::BatchNormalization("bn1"), x);
  x = model.add(tsq::nn::MaxPool1D("pool", 2), x);
  x = model.add(tsq::nn::DepthwiseConv1D("dw", 3).padding(Padding::same).relu(), x);
  x = model.add(tsq::nn::Dropout("drop", 0.25f), x);
  x = model.add(tsq::nn::Conv1D("conv2", 6, 3).relu(), x);
  x = model.add(tsq::nn::AvgPool1D("avg", 2), x);
  x = model.add(tsq::nn::GlobalAveragePool("gap"), x);
  model.add(tsq::nn::Dense("dense", 3), x);
  REQUIRE(model.build().is_ok());
  auto members = conv1d_members(WeightLayout::keras, random_values(8 * 5 * 3, 1901, 0.4f), 8, 5, 3,
                                random_values(8, 1902, 0.1f), "conv1");
  for (auto& m : batch_norm_members("bn1", false, batch_norm_statistics(8, 1903))) {
    members.push_back(m);
  }
  for (auto& m : depthwise_members(WeightLayout::keras, true, random_values(24, 1904, 0.5f), 3, 1,
                                   8, 1, random_values(8, 1905, 0.1f))) {
    members.push_back(m);
  }
  const auto conv2 = random_values(6 * 3 * 8, 1906, 0.3f);
  members.push_back({"conv2.kernel", {3, 8, 6}, conv2});
  members.push_back({"conv2.bias", {6}, random_values(6, 1907, 0.1f)});
  members.push_back({"dense.kernel", {6, 3}, random_values(18, 1908, 0.5f)});
  members.push_back({"dense.bias", {3}, random_values(3, 1909, 0.1f)});
  load(model, members);
  CHECK(model.node_count() == 7);  // Dropout removed, BN folded

  std::vector<float> windows;
  for (std::uint32_t w = 0; w < 40; ++w) {
    const auto window = random_values(model.input_size(), 2000 + w);
    windows.insert(windows.end(), window.begin(), window.end());
  }
  struct Case {
    tsq::Scheme scheme;
    float tolerance;  // of the float output range
  };
  const std::vector<Case> cases = {
      {tsq::Scheme::fiq_float32(), 0.05f},
      {tsq::Scheme::fiq_float32().int16_activations("conv2"), 0.05f},
      {tsq::Scheme::drq(), 0.05f},
      {tsq::Scheme::float16(), 2e-3f},
  };
  for (const Case& c : cases) {
    INFO("scheme " << c.scheme.name << (c.scheme.overrides.empty() ? "" : " + int16 conv2"));
    const auto quantized = tsq::quantize(model, windows, c.scheme);
    INFO(quantized.status().message());
    REQUIRE(quantized.is_ok());
    AlignedBytes arena(quantized->arena_bytes());
    std::vector<float> reference_all, got_all;
    for (std::size_t w = 0; w < 40; ++w) {
      const std::vector<float> window(windows.begin() + static_cast<std::ptrdiff_t>(w * 96),
                                      windows.begin() + static_cast<std::ptrdiff_t>((w + 1) * 96));
      std::vector<float> got(3);
      const tsq::Status status = quantized->run(window, got, arena.span());
      INFO(status.message());
      REQUIRE(status.is_ok());
      const auto reference = run_model(model, window);
      reference_all.insert(reference_all.end(), reference.begin(), reference.end());
      got_all.insert(got_all.end(), got.begin(), got.end());
    }
    const float range = max_abs(reference_all);
    const float worst = max_abs_difference(got_all, reference_all);
    INFO("range " << range << ", worst |error| " << worst);
    CHECK(worst <= c.tolerance * range);
  }
}
