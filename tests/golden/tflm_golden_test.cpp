// SPDX-License-Identifier: Apache-2.0
// Golden vectors of TensorFlow Lite Micro's integer kernels (tflm/README.md), replayed through
// tsq. Each case describes its layer to tsq from the float32 scales, as a user would; tsq's own
// prepare derives every multiplier, and the reference kernel, run in the rounding mode of the
// file's TFLite-Micro build, must reproduce every output element exactly. Every file must hold
// 60 cases and every case must be compared: nothing is skipped or excused.

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "json_lines.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/dequantize.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/reference/logistic.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/mean.hpp"
#include "tsq/kernels/reference/quantize.hpp"
#include "tsq/kernels/reference/relu.hpp"
#include "tsq/kernels/reference/requantize.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/kernels/reference/tanh.hpp"

namespace {

using tsq::DataType;
using tsq::QuantParams;
using tsq::RoundingMode;
using tsq::Shape;
using tsq::Span;
using tsq::TensorView;
using tsq_test::json::Value;

const std::string kGoldenDir = std::string(TSQ_TEST_SOURCE_DIR) + "/tflm/";
constexpr std::size_t kCasesPerFile = 60;

// --- Reading a case. A case that does not follow the format throws; the driver reports it as
// that case's failure.

void expect_string(const Value& c, const char* key, const char* expected) {
  if (c[key].as_string() != expected) {
    throw std::runtime_error(std::string(key) + " is \"" + c[key].as_string() + "\", expected \"" +
                             expected + "\"");
  }
}

template <typename T>
T checked_int(const Value& value) {
  const std::int64_t v = value.as_int();
  if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
      v > static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
    throw std::out_of_range("integer " + std::to_string(v) + " does not fit its tensor type");
  }
  return static_cast<T>(v);
}

template <typename T>
std::vector<T> ints(const Value& array) {
  std::vector<T> values;
  values.reserve(array.items().size());
  for (const Value& item : array.items()) values.push_back(checked_int<T>(item));
  return values;
}

float float_from_bits(std::uint32_t bits) {
  float value = 0.0f;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

std::uint32_t bits_of(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// A float32 parameter, exactly: from its bit pattern `<key>_bits`, not from the hex string.
float f32(const Value& c, const std::string& key) {
  return float_from_bits(checked_int<std::uint32_t>(c[key + "_bits"]));
}

std::vector<float> f32s(const Value& array_of_bits) {
  std::vector<float> values;
  for (const std::uint32_t bits : ints<std::uint32_t>(array_of_bits)) {
    values.push_back(float_from_bits(bits));
  }
  return values;
}

Shape shape_of(const Value& dims) {
  const std::vector<std::int32_t> values = ints<std::int32_t>(dims);
  const tsq::Result<Shape> shape = Shape::make(values);
  if (!shape.is_ok()) throw std::runtime_error(shape.status().message());
  return shape.value();
}

DataType data_type(const Value& name) {
  const std::string& text = name.as_string();
  if (text == "int8") return DataType::int8;
  if (text == "uint8") return DataType::uint8;
  if (text == "int16") return DataType::int16;
  if (text == "float32") return DataType::float32;
  throw std::runtime_error("unsupported tensor type \"" + text + "\"");
}

// The quantization of tensor `name` ("input", "output", "input1", ...) over its type's range.
QuantParams quant(const Value& c, const std::string& name, DataType type) {
  return tsq::make_quant_params(f32(c, name + "_scale"),
                                checked_int<std::int32_t>(c[name + "_zero_point"]), type);
}

tsq::FusedActivation activation(const Value& c) {
  const std::string& name = c["fused_activation"].as_string();
  if (name == "none") return tsq::FusedActivation::none;
  if (name == "relu") return tsq::FusedActivation::relu;
  if (name == "relu6") return tsq::FusedActivation::relu6;
  throw std::runtime_error("unknown fused_activation \"" + name + "\"");
}

tsq::Padding padding(const Value& c) {
  const std::string& name = c["padding"].as_string();
  if (name == "SAME") return tsq::Padding::same;
  if (name == "VALID") return tsq::Padding::valid;
  throw std::runtime_error("unknown padding \"" + name + "\"");
}

std::int32_t int32_of(const Value& c, const char* key) { return checked_int<std::int32_t>(c[key]); }

// Views over the case's data; the golden data must hold exactly the shape's elements (so that a
// malformed case cannot make a kernel read out of bounds).
template <typename T>
TensorView<const T> input_view(const std::vector<T>& data, const Shape& shape) {
  if (data.size() != shape.element_count()) {
    throw std::runtime_error("tensor data has " + std::to_string(data.size()) +
                             " elements, its shape " + std::to_string(shape.element_count()));
  }
  return TensorView<const T>(data.data(), shape);
}

template <typename T>
TensorView<T> output_view(std::vector<T>& data, const Shape& shape) {
  data.assign(shape.element_count(), T{});
  return TensorView<T>(data.data(), shape);
}

// Symmetric int8 weights are the only kind the format (and TFLite's integer scheme) has.
void expect_symmetric_int8_weights(const Value& c) {
  expect_string(c, "weights_type", "int8");
  if (c["weights_zero_point"].as_int() != 0) throw std::runtime_error("weights_zero_point != 0");
}

// --- One case's outcome.

struct Outcome {
  bool compared = false;  // every output element was compared with TFLite-Micro's
  std::string failure;    // empty when all of them matched
};

Outcome failed(const char* step, const tsq::Status& status) {
  return Outcome{false, std::string(step) + " failed: " + status.message()};
}

// Compares a tsq output with the golden array; reports the first differing element.
template <typename T>
Outcome compare(const std::vector<T>& got, const Value& golden, const char* tensor = "output") {
  const std::vector<std::int64_t> expected = ints<std::int64_t>(golden);
  if (expected.size() != got.size()) {
    return Outcome{false, std::string(tensor) + " has " + std::to_string(got.size()) +
                              " elements, the golden one " + std::to_string(expected.size())};
  }
  std::size_t first = 0;
  std::size_t differing = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (static_cast<std::int64_t>(got[i]) != expected[i] && differing++ == 0) first = i;
  }
  if (differing == 0) return Outcome{true, ""};
  return Outcome{true, std::string(tensor) + "[" + std::to_string(first) +
                           "] = " + std::to_string(static_cast<std::int64_t>(got[first])) +
                           ", TFLite-Micro " + std::to_string(expected[first]) + " (" +
                           std::to_string(differing) + " of " + std::to_string(got.size()) +
                           " elements differ)"};
}

// Calls f(T{}) with T the element type of an int8 or int16 tensor.
template <typename F>
Outcome with_int8_or_int16(DataType type, F&& f) {
  if (type == DataType::int8) return f(std::int8_t{});
  if (type == DataType::int16) return f(std::int16_t{});
  throw std::runtime_error("expected an int8 or int16 tensor");
}

// The same for int8, uint8 and int16 (the model-edge ops).
template <typename F>
Outcome with_edge_type(DataType type, F&& f) {
  if (type == DataType::uint8) return f(std::uint8_t{});
  return with_int8_or_int16(type, f);
}

// --- The ops. Each replay builds tsq's quantization struct, prepares and runs one case.

// The bias of TFLite's integer schemes: int32 for int8 activations, int64 for int16 (16x8).
template <typename T>
using BiasOf = std::conditional_t<sizeof(T) == 1, std::int32_t, std::int64_t>;

template <typename T>
Outcome fully_connected_case(const Value& c, RoundingMode mode) {
  using Bias = BiasOf<T>;
  constexpr DataType type = tsq::data_type_of_v<T>;
  expect_symmetric_int8_weights(c);
  expect_string(c, "bias_type", sizeof(Bias) == 4 ? "int32" : "int64");
  if (c["keep_num_dims"].as_bool())
    throw std::runtime_error("keep_num_dims = true is not supported");
  const Shape input_shape = shape_of(c["input_shape"]);
  const Shape weights_shape = shape_of(c["weights_shape"]);
  const std::vector<float> weight_scales = f32s(c["weights_scales_bits"]);
  const tsq::FullyConnectedQuantization q{input_shape,   quant(c, "input", type),  weights_shape,
                                          weight_scales, quant(c, "output", type), activation(c),
                                          mode};
  std::vector<tsq::QuantizedMultiplier> multipliers(weight_scales.size());
  const auto params = tsq::prepare_fully_connected(q, multipliers);
  if (!params.is_ok()) return failed("prepare_fully_connected", params.status());
  const std::vector<T> input = ints<T>(c["input"]);
  const std::vector<std::int8_t> weights = ints<std::int8_t>(c["weights"]);
  const std::vector<Bias> bias =
      c["has_bias"].as_bool() ? ints<Bias>(c["bias"]) : std::vector<Bias>{};
  std::vector<T> output;
  const tsq::Status status = tsq::reference::fully_connected(
      params.value(), input_view(input, input_shape), input_view(weights, weights_shape),
      Span<const Bias>(bias), output_view(output, shape_of(c["output_shape"])));
  if (!status.is_ok()) return failed("fully_connected", status);
  return compare(output, c["output"]);
}

Outcome replay_fully_connected(const Value& c, RoundingMode mode) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    return fully_connected_case<T>(c, mode);
  });
}

template <typename T>
Outcome conv2d_case(const Value& c, RoundingMode mode) {
  using Bias = BiasOf<T>;
  constexpr DataType type = tsq::data_type_of_v<T>;
  expect_symmetric_int8_weights(c);
  expect_string(c, "bias_type", sizeof(Bias) == 4 ? "int32" : "int64");
  const Shape input_shape = shape_of(c["input_shape"]);
  const Shape filter_shape = shape_of(c["weights_shape"]);
  // Groups are implied by the shapes (C_in / filter depth); the key must agree.
  if (input_shape.rank() != 4 || filter_shape.rank() != 4 ||
      input_shape[3] != int32_of(c, "groups") * filter_shape[3]) {
    throw std::runtime_error("groups do not match C_in / filter depth");
  }
  const std::vector<float> filter_scales = f32s(c["weights_scales_bits"]);
  tsq::Conv2DQuantization q;
  q.input_shape = input_shape;
  q.input = quant(c, "input", type);
  q.filter_shape = filter_shape;
  q.filter_scales = filter_scales;
  q.output = quant(c, "output", type);
  q.options = tsq::Conv2DOptions{padding(c),
                                 int32_of(c, "stride_h"),
                                 int32_of(c, "stride_w"),
                                 int32_of(c, "dilation_h"),
                                 int32_of(c, "dilation_w"),
                                 activation(c)};
  q.rounding = mode;
  std::vector<tsq::QuantizedMultiplier> multipliers(filter_scales.size());
  const auto params = tsq::prepare_conv2d(q, multipliers);
  if (!params.is_ok()) return failed("prepare_conv2d", params.status());
  const std::vector<T> input = ints<T>(c["input"]);
  const std::vector<std::int8_t> filter = ints<std::int8_t>(c["weights"]);
  const std::vector<Bias> bias =
      c["has_bias"].as_bool() ? ints<Bias>(c["bias"]) : std::vector<Bias>{};
  std::vector<T> output;
  const tsq::Status status = tsq::reference::conv2d(
      params.value(), input_view(input, input_shape), input_view(filter, filter_shape),
      Span<const Bias>(bias), output_view(output, shape_of(c["output_shape"])));
  if (!status.is_ok()) return failed("conv2d", status);
  return compare(output, c["output"]);
}

Outcome replay_conv2d(const Value& c, RoundingMode mode) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    return conv2d_case<T>(c, mode);
  });
}

Outcome replay_depthwise_conv2d(const Value& c, RoundingMode mode) {
  expect_string(c, "input_type", "int8");
  expect_string(c, "bias_type", "int32");
  expect_symmetric_int8_weights(c);
  const Shape input_shape = shape_of(c["input_shape"]);
  const Shape filter_shape = shape_of(c["weights_shape"]);
  const std::vector<float> filter_scales = f32s(c["weights_scales_bits"]);
  tsq::DepthwiseConv2DQuantization q;
  q.input_shape = input_shape;
  q.input = quant(c, "input", DataType::int8);
  q.filter_shape = filter_shape;
  q.filter_scales = filter_scales;
  q.output = quant(c, "output", DataType::int8);
  q.options = tsq::DepthwiseConv2DOptions{padding(c),
                                          int32_of(c, "stride_h"),
                                          int32_of(c, "stride_w"),
                                          int32_of(c, "dilation_h"),
                                          int32_of(c, "dilation_w"),
                                          int32_of(c, "depth_multiplier"),
                                          activation(c)};
  q.rounding = mode;
  std::vector<tsq::QuantizedMultiplier> multipliers(filter_scales.size());
  const auto params = tsq::prepare_depthwise_conv2d(q, multipliers);
  if (!params.is_ok()) return failed("prepare_depthwise_conv2d", params.status());
  const std::vector<std::int8_t> input = ints<std::int8_t>(c["input"]);
  const std::vector<std::int8_t> filter = ints<std::int8_t>(c["weights"]);
  // TFLite-Micro ran a case without bias with an all-zero bias: the same as no bias.
  const std::vector<std::int32_t> bias =
      c["has_bias"].as_bool() ? ints<std::int32_t>(c["bias"]) : std::vector<std::int32_t>{};
  std::vector<std::int8_t> output;
  const tsq::Status status = tsq::reference::depthwise_conv2d(
      params.value(), input_view(input, input_shape), input_view(filter, filter_shape),
      Span<const std::int32_t>(bias), output_view(output, shape_of(c["output_shape"])));
  if (!status.is_ok()) return failed("depthwise_conv2d", status);
  return compare(output, c["output"]);
}

tsq::Pool2DWindow pool_window(const Value& c) {
  return tsq::Pool2DWindow{int32_of(c, "filter_h"), int32_of(c, "filter_w"),
                           int32_of(c, "stride_h"), int32_of(c, "stride_w"), padding(c)};
}

Outcome replay_avg_pool2d(const Value& c, RoundingMode /*mode: no multiplier*/) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    constexpr DataType type = tsq::data_type_of_v<T>;
    const Shape input_shape = shape_of(c["input_shape"]);
    const tsq::AvgPool2DQuantization q{input_shape, quant(c, "input", type),
                                       quant(c, "output", type), pool_window(c), activation(c)};
    const auto params = tsq::prepare_avg_pool2d(q);
    if (!params.is_ok()) return failed("prepare_avg_pool2d", params.status());
    const std::vector<T> input = ints<T>(c["input"]);
    std::vector<T> output;
    const tsq::Status status =
        tsq::reference::avg_pool2d(params.value(), input_view(input, input_shape),
                                   output_view(output, shape_of(c["output_shape"])));
    if (!status.is_ok()) return failed("avg_pool2d", status);
    return compare(output, c["output"]);
  });
}

Outcome replay_max_pool2d(const Value& c, RoundingMode /*mode: no multiplier*/) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    constexpr DataType type = tsq::data_type_of_v<T>;
    const Shape input_shape = shape_of(c["input_shape"]);
    const tsq::MaxPool2DQuantization q{input_shape, quant(c, "input", type),
                                       quant(c, "output", type), pool_window(c), activation(c)};
    const auto params = tsq::prepare_max_pool2d(q);
    if (!params.is_ok()) return failed("prepare_max_pool2d", params.status());
    const std::vector<T> input = ints<T>(c["input"]);
    std::vector<T> output;
    const tsq::Status status =
        tsq::reference::max_pool2d(params.value(), input_view(input, input_shape),
                                   output_view(output, shape_of(c["output_shape"])));
    if (!status.is_ok()) return failed("max_pool2d", status);
    return compare(output, c["output"]);
  });
}

Outcome replay_add(const Value& c, RoundingMode mode) {
  // The power-of-two int16 path is not in the format; every case uses the general one.
  if (c["pot_scale_int16"].as_bool()) throw std::runtime_error("pot_scale_int16 is not supported");
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    constexpr DataType type = tsq::data_type_of_v<T>;
    const Shape shape1 = shape_of(c["input1_shape"]);
    const Shape shape2 = shape_of(c["input2_shape"]);
    const tsq::AddQuantization q{shape1,
                                 quant(c, "input1", type),
                                 shape2,
                                 quant(c, "input2", type),
                                 quant(c, "output", type),
                                 activation(c),
                                 mode};
    const auto params = tsq::prepare_add(q);
    if (!params.is_ok()) return failed("prepare_add", params.status());
    const std::vector<T> input1 = ints<T>(c["input1"]);
    const std::vector<T> input2 = ints<T>(c["input2"]);
    std::vector<T> output;
    const tsq::Status status =
        tsq::reference::add(params.value(), input_view(input1, shape1), input_view(input2, shape2),
                            output_view(output, shape_of(c["output_shape"])));
    if (!status.is_ok()) return failed("add", status);
    return compare(output, c["output"]);
  });
}

Outcome replay_mean(const Value& c, RoundingMode mode) {
  expect_string(c, "input_type", "int8");
  const Shape input_shape = shape_of(c["input_shape"]);
  // tsq's Mean reduces the axes between batch and channels: {1, 2} of NHWC, {1} of [N, T, C].
  const std::set<std::int32_t> axes = [&] {
    const std::vector<std::int32_t> list = ints<std::int32_t>(c["axes"]);
    return std::set<std::int32_t>(list.begin(), list.end());
  }();
  const std::set<std::int32_t> middle_axes =
      input_shape.rank() == 4 ? std::set<std::int32_t>{1, 2} : std::set<std::int32_t>{1};
  if (axes != middle_axes || c["axes"].items().size() != axes.size()) {
    throw std::runtime_error("axes other than the spatial ones");
  }
  tsq::MeanQuantization q;
  q.input_shape = input_shape;
  q.input = quant(c, "input", DataType::int8);
  q.output = quant(c, "output", DataType::int8);
  q.keep_dims = c["keep_dims"].as_bool();
  q.rounding = mode;
  const auto params = tsq::prepare_mean(q);
  if (!params.is_ok()) return failed("prepare_mean", params.status());
  const std::vector<std::int8_t> input = ints<std::int8_t>(c["input"]);
  std::vector<std::int8_t> output;
  const tsq::Status status = tsq::reference::mean(params.value(), input_view(input, input_shape),
                                                  output_view(output, shape_of(c["output_shape"])));
  if (!status.is_ok()) return failed("mean", status);
  return compare(output, c["output"]);
}

template <typename In, typename Out>
Outcome softmax_case(const Value& c, RoundingMode mode) {
  const Shape shape = shape_of(c["shape"]);
  const tsq::SoftmaxQuantization q{shape, quant(c, "input", tsq::data_type_of_v<In>),
                                   quant(c, "output", tsq::data_type_of_v<Out>), f32(c, "beta"),
                                   mode};
  const auto params = tsq::prepare_softmax(q);
  if (!params.is_ok()) return failed("prepare_softmax", params.status());
  const std::vector<In> input = ints<In>(c["input"]);
  std::vector<Out> output;
  const tsq::Status status =
      tsq::reference::softmax(params.value(), input_view(input, shape), output_view(output, shape));
  if (!status.is_ok()) return failed("softmax", status);
  return compare(output, c["output"]);
}

Outcome replay_softmax(const Value& c, RoundingMode mode) {
  const DataType in = data_type(c["input_type"]);
  const DataType out = data_type(c["output_type"]);
  if (in == DataType::int8 && out == DataType::int8) {
    return softmax_case<std::int8_t, std::int8_t>(c, mode);
  }
  if (in == DataType::int8 && out == DataType::int16) {
    return softmax_case<std::int8_t, std::int16_t>(c, mode);
  }
  if (in == DataType::int16 && out == DataType::int16) {
    return softmax_case<std::int16_t, std::int16_t>(c, mode);
  }
  throw std::runtime_error("unsupported softmax types");
}

Outcome replay_logistic(const Value& c, RoundingMode mode) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    constexpr DataType type = tsq::data_type_of_v<T>;
    const Shape shape = shape_of(c["shape"]);
    const tsq::LogisticQuantization q{shape, quant(c, "input", type), quant(c, "output", type),
                                      mode};
    const auto params = tsq::prepare_logistic(q);
    if (!params.is_ok()) return failed("prepare_logistic", params.status());
    const std::vector<T> input = ints<T>(c["input"]);
    std::vector<T> output;
    const tsq::Status status = tsq::reference::logistic(params.value(), input_view(input, shape),
                                                        output_view(output, shape));
    if (!status.is_ok()) return failed("logistic", status);
    return compare(output, c["output"]);
  });
}

Outcome replay_tanh(const Value& c, RoundingMode mode) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    constexpr DataType type = tsq::data_type_of_v<T>;
    const Shape shape = shape_of(c["shape"]);
    const tsq::TanhQuantization q{shape, quant(c, "input", type), quant(c, "output", type), mode};
    const auto params = tsq::prepare_tanh(q);
    if (!params.is_ok()) return failed("prepare_tanh", params.status());
    const std::vector<T> input = ints<T>(c["input"]);
    std::vector<T> output;
    const tsq::Status status =
        tsq::reference::tanh(params.value(), input_view(input, shape), output_view(output, shape));
    if (!status.is_ok()) return failed("tanh", status);
    return compare(output, c["output"]);
  });
}

// tsq's default multiplier rule is used, as a user would: the golden data decides whether it is
// TFLite-Micro's.
Outcome replay_relu(const Value& c, RoundingMode mode) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    constexpr DataType type = tsq::data_type_of_v<T>;
    const Shape shape = shape_of(c["shape"]);
    tsq::ReluQuantization q;
    q.shape = shape;
    q.input = quant(c, "input", type);
    q.output = quant(c, "output", type);
    q.rounding = mode;
    const auto params = tsq::prepare_relu(q);
    if (!params.is_ok()) return failed("prepare_relu", params.status());
    const std::vector<T> input = ints<T>(c["input"]);
    std::vector<T> output;
    const tsq::Status status =
        tsq::reference::relu(params.value(), input_view(input, shape), output_view(output, shape));
    if (!status.is_ok()) return failed("relu", status);
    return compare(output, c["output"]);
  });
}

Outcome replay_relu6(const Value& c, RoundingMode /*mode: no multiplier*/) {
  return with_int8_or_int16(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    constexpr DataType type = tsq::data_type_of_v<T>;
    const Shape shape = shape_of(c["shape"]);
    const tsq::Relu6Quantization q{shape, quant(c, "input", type), quant(c, "output", type)};
    const auto params = tsq::prepare_relu6(q);
    if (!params.is_ok()) return failed("prepare_relu6", params.status());
    const std::vector<T> input = ints<T>(c["input"]);
    std::vector<T> output;
    const tsq::Status status =
        tsq::reference::relu6(params.value(), input_view(input, shape), output_view(output, shape));
    if (!status.is_ok()) return failed("relu6", status);
    return compare(output, c["output"]);
  });
}

Outcome replay_quantize(const Value& c, RoundingMode /*mode: float32 arithmetic*/) {
  expect_string(c, "input_type", "float32");
  return with_edge_type(data_type(c["output_type"]), [&](auto tag) {
    using T = decltype(tag);
    const Shape shape = shape_of(c["shape"]);
    const tsq::QuantizeQuantization q{shape, quant(c, "output", tsq::data_type_of_v<T>)};
    const auto params = tsq::prepare_quantize(q);
    if (!params.is_ok()) return failed("prepare_quantize", params.status());
    const std::vector<float> input = f32s(c["input_bits"]);
    std::vector<T> output;
    const tsq::Status status = tsq::reference::quantize(params.value(), input_view(input, shape),
                                                        output_view(output, shape));
    if (!status.is_ok()) return failed("quantize", status);
    return compare(output, c["output"]);
  });
}

Outcome replay_requantize(const Value& c, RoundingMode mode) {
  return with_edge_type(data_type(c["input_type"]), [&](auto input_tag) {
    return with_edge_type(data_type(c["output_type"]), [&](auto output_tag) {
      using In = decltype(input_tag);
      using Out = decltype(output_tag);
      const Shape shape = shape_of(c["shape"]);
      const tsq::RequantizeQuantization q{shape, quant(c, "input", tsq::data_type_of_v<In>),
                                          quant(c, "output", tsq::data_type_of_v<Out>), mode};
      const auto params = tsq::prepare_requantize(q);
      if (!params.is_ok()) return failed("prepare_requantize", params.status());
      const std::vector<In> input = ints<In>(c["input"]);
      std::vector<Out> output;
      const tsq::Status status = tsq::reference::requantize<In, Out>(
          params.value(), input_view(input, shape), output_view(output, shape));
      if (!status.is_ok()) return failed("requantize", status);
      return compare(output, c["output"]);
    });
  });
}

// The float32 outputs are compared as bit patterns: exact, signed zeros included.
Outcome replay_dequantize(const Value& c, RoundingMode /*mode: float32 arithmetic*/) {
  expect_string(c, "output_type", "float32");
  return with_edge_type(data_type(c["input_type"]), [&](auto tag) {
    using T = decltype(tag);
    const Shape shape = shape_of(c["shape"]);
    const tsq::DequantizeQuantization q{shape, quant(c, "input", tsq::data_type_of_v<T>)};
    const auto params = tsq::prepare_dequantize(q);
    if (!params.is_ok()) return failed("prepare_dequantize", params.status());
    const std::vector<T> input = ints<T>(c["input"]);
    std::vector<float> output;
    const tsq::Status status = tsq::reference::dequantize(params.value(), input_view(input, shape),
                                                          output_view(output, shape));
    if (!status.is_ok()) return failed("dequantize", status);
    std::vector<std::uint32_t> output_bits;
    for (const float value : output) output_bits.push_back(bits_of(value));
    return compare(output_bits, c["output_bits"], "output_bits");
  });
}

// UNIDIRECTIONAL_SEQUENCE_LSTM 8x8_16 as an imported TFLite model: per-gate weight scales, the
// int8 output as the recurrent state, TFLite's separate saturation of the gate products (all
// LstmQuantization defaults). tsq's weights are gate-major rows (i, f, c, o), TFLite's the four
// per-gate tensors in that order.
Outcome replay_lstm(const Value& c, RoundingMode mode) {
  expect_string(c, "input_type", "int8");
  expect_string(c, "weights_type", "int8");
  expect_string(c, "bias_type", "int32");
  expect_string(c, "cell_state_type", "int16");
  expect_string(c, "cell_gate_activation", "tanh");
  if (c["time_major"].as_bool()) throw std::runtime_error("time_major = true is not supported");
  // tsq's gate formats are fixed at Q3.12 pre-activations and Q0.15 gate outputs.
  if (f32(c, "gate_preactivation_scale") != 1.0f / 4096 ||
      f32(c, "gate_output_scale") != 1.0f / 32768) {
    throw std::runtime_error("gate formats other than Q3.12 / Q0.15");
  }
  const std::int32_t batch = int32_of(c, "batch");
  const std::int32_t steps = int32_of(c, "time_steps");
  const std::int32_t input_size = int32_of(c, "input_size");
  const std::int32_t hidden = int32_of(c, "hidden_size");
  const auto h = static_cast<std::size_t>(hidden);
  std::vector<std::int8_t> input_weights, recurrent_weights;
  std::vector<std::int32_t> bias;
  std::vector<float> input_scales, recurrent_scales;
  for (const std::string gate : {"input", "forget", "cell", "output"}) {
    const std::vector<std::int8_t> w = ints<std::int8_t>(c["input_to_" + gate + "_weights"]);
    const std::vector<std::int8_t> r = ints<std::int8_t>(c["recurrent_to_" + gate + "_weights"]);
    const std::vector<std::int32_t> b = ints<std::int32_t>(c[gate + "_gate_bias"]);
    if (w.size() != h * static_cast<std::size_t>(input_size) || r.size() != h * h ||
        b.size() != h) {
      throw std::runtime_error("the " + gate + " gate's tensors do not match the sizes");
    }
    input_weights.insert(input_weights.end(), w.begin(), w.end());
    recurrent_weights.insert(recurrent_weights.end(), r.begin(), r.end());
    bias.insert(bias.end(), b.begin(), b.end());
    input_scales.push_back(f32(c, "input_to_" + gate + "_weights_scale"));
    recurrent_scales.push_back(f32(c, "recurrent_to_" + gate + "_weights_scale"));
  }
  tsq::LstmQuantization q;
  q.input = quant(c, "input", DataType::int8);
  q.hidden = quant(c, "output", DataType::int8);
  q.cell_scale = f32(c, "cell_state_scale");
  q.input_weight_scales = input_scales;
  q.recurrent_weight_scales = recurrent_scales;
  q.cell_clip = f32(c, "cell_clip");
  q.rounding = mode;
  const tsq::LstmWeightsInt8 weights{
      TensorView<const std::int8_t>(input_weights.data(), Shape{4 * hidden, input_size}),
      TensorView<const std::int8_t>(recurrent_weights.data(), Shape{4 * hidden, hidden}), bias};
  std::vector<tsq::QuantizedMultiplier> multipliers(tsq::lstm_prepare_storage_size(hidden));
  std::vector<std::int32_t> folded_biases(tsq::lstm_prepare_storage_size(hidden));
  const auto params = tsq::prepare_lstm(q, weights, multipliers, folded_biases);
  if (!params.is_ok()) return failed("prepare_lstm", params.status());

  const std::vector<std::int8_t> input = ints<std::int8_t>(c["input"]);
  const Shape input_shape{batch, steps, input_size};
  if (shape_of(c["input_shape"]) != input_shape) throw std::runtime_error("input_shape");
  // Initial state: hidden state at the output zero point (real 0), cell state 0.
  std::vector<std::int8_t> state(static_cast<std::size_t>(batch) * h,
                                 static_cast<std::int8_t>(q.hidden.zero_point));
  std::vector<std::int16_t> cell(state.size(), 0);
  std::vector<std::int32_t> scratch(tsq::lstm_scratch_size(steps, hidden));
  std::vector<std::int8_t> output;
  const tsq::Status status = tsq::reference::lstm<std::int8_t>(
      params.value(), weights, input_view(input, input_shape),
      output_view(output, Shape{batch, steps, hidden}), state, cell, scratch);
  if (!status.is_ok()) return failed("lstm", status);
  const Outcome outputs = compare(output, c["output"]);
  const Outcome cells = compare(cell, c["cell_state_final"], "cell_state_final");
  Outcome both{outputs.compared && cells.compared, outputs.failure};
  if (!cells.failure.empty()) both.failure += (both.failure.empty() ? "" : "; ") + cells.failure;
  return both;
}

// --- The driver.

using Replay = Outcome (*)(const Value&, RoundingMode);

struct GoldenOp {
  const char* name;  // the files' op part
  Replay replay;
};

// Every op's file pair; the coverage test below checks it against the folder's contents.
const GoldenOp kGoldenOps[] = {
    {"fully_connected_int8", replay_fully_connected},
    {"fully_connected_int16x8", replay_fully_connected},
    {"conv2d_int8", replay_conv2d},
    {"conv2d_int16x8", replay_conv2d},
    {"depthwise_conv2d_int8", replay_depthwise_conv2d},
    {"avg_pool2d_int8", replay_avg_pool2d},
    {"avg_pool2d_int16", replay_avg_pool2d},
    {"max_pool2d_int8", replay_max_pool2d},
    {"max_pool2d_int16", replay_max_pool2d},
    {"add_int8", replay_add},
    {"add_int16", replay_add},
    {"mean_int8", replay_mean},
    {"softmax_int8_int8", replay_softmax},
    {"softmax_int8_int16", replay_softmax},
    {"softmax_int16_int16", replay_softmax},
    {"logistic_int8", replay_logistic},
    {"logistic_int16", replay_logistic},
    {"tanh_int8", replay_tanh},
    {"tanh_int16", replay_tanh},
    {"relu_int8", replay_relu},
    {"relu_int16", replay_relu},
    {"relu6_int8", replay_relu6},
    {"relu6_int16", replay_relu6},
    {"quantize_f32_int8", replay_quantize},
    {"quantize_f32_int16", replay_quantize},
    {"requantize_int8_int8", replay_requantize},
    {"requantize_int8_int16", replay_requantize},
    {"requantize_int16_int8", replay_requantize},
    {"requantize_int16_int16", replay_requantize},
    {"requantize_int8_uint8", replay_requantize},
    {"requantize_uint8_int8", replay_requantize},
    {"dequantize_int8_f32", replay_dequantize},
    {"dequantize_int16_f32", replay_dequantize},
    {"lstm_8x8_16", replay_lstm},
};

const GoldenOp* find_op(const std::string& name) {
  for (const GoldenOp& op : kGoldenOps) {
    if (name == op.name) return &op;
  }
  return nullptr;
}

struct RoundingFile {
  const char* suffix;
  const char* key;  // the cases' "rounding"
  RoundingMode mode;
};

constexpr RoundingFile kRoundingFiles[] = {
    {".double.jsonl", "double", RoundingMode::double_rounding},
    {".single.jsonl", "single", RoundingMode::single_rounding},
};

// Replays both files of an op. Every case is checked on its own (CHECK, not REQUIRE), so that a
// failure lists every differing case; the counts then prove that all 60 of each file ran.
void replay_op(const std::string& name) {
  const GoldenOp* op = find_op(name);
  REQUIRE(op != nullptr);
  for (const RoundingFile& rounding : kRoundingFiles) {
    const std::string file = name + rounding.suffix;
    const std::string path = kGoldenDir + file;
    INFO("golden file " << path);
    std::ifstream in(path);
    REQUIRE(in.is_open());
    std::size_t cases = 0;
    std::size_t compared = 0;
    std::size_t matched = 0;
    std::string line;
    while (std::getline(in, line)) {
      INFO(file << " case " << cases << " (line " << cases + 1 << ")");
      Value c;
      std::string error;
      if (!tsq_test::json::parse(line, c, error)) FAIL("malformed JSON: " << error);
      Outcome outcome;
      try {
        if (c["op"].as_string() != name || c["rounding"].as_string() != rounding.key ||
            c["case"].as_int() != static_cast<std::int64_t>(cases)) {
          throw std::runtime_error("op, rounding or case index do not match the file and line");
        }
        outcome = op->replay(c, rounding.mode);
      } catch (const std::exception& e) {
        outcome = Outcome{false, std::string("malformed case: ") + e.what()};
      }
      INFO(outcome.failure);
      CHECK(outcome.failure.empty());
      compared += outcome.compared ? 1 : 0;
      matched += outcome.failure.empty() ? 1 : 0;
      ++cases;
    }
    std::printf("[golden] %-35s %2zu/%zu cases match\n", file.c_str(), matched, cases);
    CHECK(cases == kCasesPerFile);
    CHECK(compared == kCasesPerFile);
  }
}

// The ops that have a TEST_CASE (TSQ_GOLDEN_OP below registers them at static initialization).
std::set<std::string>& ops_with_a_test_case() {
  static std::set<std::string> ops;
  return ops;
}

bool register_test_case(const char* op) {
  ops_with_a_test_case().insert(op);
  return true;
}

}  // namespace

TEST_CASE("TFLite-Micro golden vectors: every file in the folder is replayed", "[golden]") {
  namespace fs = std::filesystem;
  INFO("golden folder " << kGoldenDir);
  REQUIRE(fs::is_directory(kGoldenDir));
  std::set<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(kGoldenDir)) {
    const std::string file = entry.path().filename().string();
    if (entry.path().extension() == ".jsonl") files.insert(file);
  }
  for (const std::string& file : files) {
    bool known = false;
    for (const GoldenOp& op : kGoldenOps) {
      for (const RoundingFile& rounding : kRoundingFiles) {
        known = known || file == std::string(op.name) + rounding.suffix;
      }
    }
    INFO(file << " has no replay");
    CHECK(known);
  }
  for (const GoldenOp& op : kGoldenOps) {
    for (const RoundingFile& rounding : kRoundingFiles) {
      INFO("missing golden file " << op.name << rounding.suffix);
      CHECK(files.count(std::string(op.name) + rounding.suffix) == 1);
    }
  }
  CHECK(files.size() == 2 * std::size(kGoldenOps));
  for (const GoldenOp& op : kGoldenOps) {
    INFO(op.name << " has no TEST_CASE");
    CHECK(ops_with_a_test_case().count(op.name) == 1);
  }
}

// One test case per op (both rounding files), registered so that the coverage test above sees
// an entry of kGoldenOps that has none.
#define TSQ_GOLDEN_CONCAT_(a, b) a##b
#define TSQ_GOLDEN_CONCAT(a, b) TSQ_GOLDEN_CONCAT_(a, b)
#define TSQ_GOLDEN_OP(op)                                                                 \
  [[maybe_unused]] static const bool TSQ_GOLDEN_CONCAT(golden_op_registered_, __LINE__) = \
      register_test_case(op);                                                             \
  TEST_CASE("TFLite-Micro golden vectors: " op, "[golden][" op "]") { replay_op(op); }

TSQ_GOLDEN_OP("fully_connected_int8")
TSQ_GOLDEN_OP("fully_connected_int16x8")
TSQ_GOLDEN_OP("conv2d_int8")
TSQ_GOLDEN_OP("conv2d_int16x8")
TSQ_GOLDEN_OP("depthwise_conv2d_int8")
TSQ_GOLDEN_OP("avg_pool2d_int8")
TSQ_GOLDEN_OP("avg_pool2d_int16")
TSQ_GOLDEN_OP("max_pool2d_int8")
TSQ_GOLDEN_OP("max_pool2d_int16")
TSQ_GOLDEN_OP("add_int8")
TSQ_GOLDEN_OP("add_int16")
TSQ_GOLDEN_OP("mean_int8")
TSQ_GOLDEN_OP("softmax_int8_int8")
TSQ_GOLDEN_OP("softmax_int8_int16")
TSQ_GOLDEN_OP("softmax_int16_int16")
TSQ_GOLDEN_OP("logistic_int8")
TSQ_GOLDEN_OP("logistic_int16")
TSQ_GOLDEN_OP("tanh_int8")
TSQ_GOLDEN_OP("tanh_int16")
TSQ_GOLDEN_OP("relu_int8")
TSQ_GOLDEN_OP("relu_int16")
TSQ_GOLDEN_OP("relu6_int8")
TSQ_GOLDEN_OP("relu6_int16")
TSQ_GOLDEN_OP("quantize_f32_int8")
TSQ_GOLDEN_OP("quantize_f32_int16")
TSQ_GOLDEN_OP("requantize_int8_int8")
TSQ_GOLDEN_OP("requantize_int8_int16")
TSQ_GOLDEN_OP("requantize_int16_int8")
TSQ_GOLDEN_OP("requantize_int16_int16")
TSQ_GOLDEN_OP("requantize_int8_uint8")
TSQ_GOLDEN_OP("requantize_uint8_int8")
TSQ_GOLDEN_OP("dequantize_int8_f32")
TSQ_GOLDEN_OP("dequantize_int16_f32")
TSQ_GOLDEN_OP("lstm_8x8_16")
