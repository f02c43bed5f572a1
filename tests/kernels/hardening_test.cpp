// SPDX-License-Identifier: Apache-2.0
// Nothing public crashes, overflows or half-writes: params that did not come from prepare,
// defective views (null data, negative dimensions, a buffer smaller than the shape), kernels that
// fail leave every caller buffer untouched, zero-length LSTM windows, prepared layers that own
// their storage, and float twins accurate over long reductions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.hpp"
#include "tsq/kernels/float/add.hpp"
#include "tsq/kernels/float/bidirectional_lstm.hpp"
#include "tsq/kernels/float/conv2d.hpp"
#include "tsq/kernels/float/fully_connected.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/float/relu.hpp"
#include "tsq/kernels/float/softmax.hpp"
#include "tsq/kernels/hybrid/lstm.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/kernels/reference/avg_pool2d.hpp"
#include "tsq/kernels/reference/bidirectional_lstm.hpp"
#include "tsq/kernels/reference/dequantize.hpp"
#include "tsq/kernels/reference/logistic.hpp"
#include "tsq/kernels/reference/max_pool2d.hpp"
#include "tsq/kernels/reference/mean.hpp"
#include "tsq/kernels/reference/quantize.hpp"
#include "tsq/kernels/reference/relu.hpp"
#include "tsq/kernels/reference/requantize.hpp"
#include "tsq/kernels/reference/reshape.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/kernels/reference/tanh.hpp"
#include "tsq/ptq/lstm_quantizer.hpp"

using tsq::DataType;
using tsq::ErrorCode;
using tsq::Shape;
using tsq::Span;
using tsq::TensorView;

namespace {

using I8 = TensorView<const std::int8_t>;
using O8 = TensorView<std::int8_t>;
using I16 = TensorView<const std::int16_t>;
using O16 = TensorView<std::int16_t>;

const tsq::QuantParams kInt8 = tsq::make_quant_params(0.05f, 3, DataType::int8);

}  // namespace

TEST_CASE("Every integer kernel refuses params that did not come from its prepare",
          "[kernels][hardening]") {
  std::vector<std::int8_t> a(64, 1), b(64, 1), out(64, 0);
  std::vector<std::int16_t> a16(64, 1), out16(64, 0);
  std::vector<float> f(64, 0.5f), fout(64, 0.0f);
  std::vector<std::int32_t> bias(4, 0);
  std::vector<std::int64_t> bias64(4, 0);
  const I8 x{a, Shape{1, 4, 4, 4}};
  const O8 y{out, Shape{1, 4, 4, 4}};
  const I8 w{b, Shape{4, 1, 1, 4}};
  const I8 x2{a, Shape{4, 4}};
  const O8 y2{out, Shape{4, 4}};
  const I8 w2{b, Shape{4, 4}};
  const auto not_prepared = [](const tsq::Status& status) {
    INFO(status.message());
    return status.code() == ErrorCode::not_prepared;
  };
  CHECK(
      not_prepared(tsq::reference::fully_connected(tsq::FullyConnectedParams{}, x2, w2, bias, y2)));
  CHECK(not_prepared(tsq::reference::fully_connected(
      tsq::FullyConnectedParams{}, I16(a16, Shape{4, 4}), w2, bias64, O16(out16, Shape{4, 4}))));
  CHECK(not_prepared(tsq::reference::conv2d(tsq::Conv2DParams{}, x, w, bias, y)));
  CHECK(
      not_prepared(tsq::reference::depthwise_conv2d(tsq::DepthwiseConv2DParams{}, x, w, bias, y)));
  CHECK(not_prepared(tsq::reference::max_pool2d(tsq::MaxPool2DParams{}, x, y)));
  CHECK(not_prepared(tsq::reference::avg_pool2d(tsq::AvgPool2DParams{}, x, y)));
  CHECK(not_prepared(tsq::reference::mean(tsq::MeanParams{}, x, y)));
  CHECK(not_prepared(tsq::reference::add(tsq::AddParams{}, x, x, y)));
  CHECK(not_prepared(tsq::reference::softmax(tsq::SoftmaxParams{}, x2, y2)));
  CHECK(not_prepared(tsq::reference::logistic(tsq::LogisticParams{}, x2, y2)));
  CHECK(not_prepared(tsq::reference::tanh(tsq::TanhParams{}, x2, y2)));
  CHECK(not_prepared(tsq::reference::relu(tsq::ReluParams{}, x2, y2)));
  CHECK(not_prepared(tsq::reference::relu6(tsq::Relu6Params{}, x2, y2)));
  CHECK(not_prepared(tsq::reference::quantize(tsq::QuantizeParams{},
                                              TensorView<const float>(f, Shape{4, 4}), y2)));
  CHECK(not_prepared(tsq::reference::dequantize(tsq::DequantizeParams{}, x2,
                                                TensorView<float>(fout, Shape{4, 4}))));
  CHECK(not_prepared(tsq::reference::requantize(tsq::RequantizeParams{}, x2, y2)));
  CHECK(not_prepared(tsq::reference::reshape(tsq::ReshapeParams{}, x2).status()));
  CHECK(not_prepared(tsq::hybrid::fully_connected(tsq::hybrid::FullyConnectedParams{},
                                                  TensorView<const float>(f, Shape{4, 4}), w2, {},
                                                  TensorView<float>(fout, Shape{4, 4}), a)));
  CHECK(not_prepared(tsq::hybrid::conv2d(tsq::hybrid::Conv2DParams{},
                                         TensorView<const float>(f, Shape{1, 4, 4, 4}), w, {},
                                         TensorView<float>(fout, Shape{1, 4, 4, 4}), a)));
  // LSTM: the integer, step and hybrid forms.
  const tsq::LstmWeightsInt8 lstm_weights{I8(b, Shape{4, 4}), I8(b, Shape{4, 1}), {}};
  std::vector<std::int8_t> state(1, 0);
  std::vector<std::int16_t> cell(1, 0);
  std::vector<std::int32_t> scratch(64, 0);
  CHECK(not_prepared(
      tsq::reference::lstm<std::int8_t>(tsq::LstmParams{}, lstm_weights, I8(a, Shape{1, 2, 4}),
                                        O8(out, Shape{1, 2, 1}), state, cell, scratch)));
  CHECK(not_prepared(tsq::reference::lstm_step<std::int8_t>(tsq::LstmParams{}, lstm_weights,
                                                            Span<const std::int8_t>(a.data(), 4),
                                                            state, cell, state, scratch)));
  std::vector<float> scales(4, 0.01f), hidden(1, 0.0f), cell_f(1, 0.0f), gates(4);
  const tsq::hybrid::LstmWeights hybrid_weights{
      I8(b, Shape{4, 4}), I8(b, Shape{4, 1}), scales, scales, {}};
  CHECK(not_prepared(tsq::hybrid::lstm(
      tsq::hybrid::LstmParams{}, hybrid_weights, TensorView<const float>(f, Shape{1, 2, 4}),
      TensorView<float>(fout, Shape{1, 2, 1}), hidden, cell_f,
      tsq::hybrid::LstmScratch{gates, Span<std::int8_t>(out.data(), 8)})));
  // Prepared params whose multiplier list was emptied afterwards are refused too.
  const std::vector<float> weight_scales(4, 0.01f);
  auto conv = tsq::prepare_owned_conv2d(tsq::Conv2DQuantization{
      Shape{1, 4, 4, 4}, kInt8, Shape{4, 1, 1, 4}, weight_scales, kInt8, {}});
  REQUIRE(conv.is_ok());
  tsq::Conv2DParams edited = conv->params();
  edited.multipliers = {};
  CHECK(tsq::reference::conv2d(edited, x, w, bias, y).code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::conv2d(*conv, x, w, bias, y).is_ok());
}

TEST_CASE("Defective views never reach a kernel", "[kernels][hardening]") {
  // Null data with elements.
  const TensorView<const float> null_floats(static_cast<const float*>(nullptr), Shape{2, 3});
  CHECK_FALSE(null_floats.is_valid());
  CHECK(null_floats.status().code() == ErrorCode::invalid_argument);
  CHECK(null_floats.element_count() == 0);
  // Null data without elements is a valid empty view.
  CHECK(TensorView<const float>(static_cast<const float*>(nullptr), Shape{0, 3}).is_valid());
  // A negative dimension.
  std::vector<float> buffer(16, 1.0f), output(16, 7.0f);
  const TensorView<float> negative(buffer.data(), Shape{-1});
  CHECK(negative.status().code() == ErrorCode::shape_mismatch);
  // A buffer smaller than the shape, known from the container.
  std::vector<std::int8_t> one_byte(1, 0);
  const O8 too_small(one_byte, Shape{1, 2});
  CHECK(too_small.status().code() == ErrorCode::buffer_too_small);
  // Defects survive the conversion to a read-only view and slicing.
  CHECK(I8(too_small).status().code() == ErrorCode::buffer_too_small);
  CHECK_FALSE(too_small.slice_outer(0).is_valid());
  CHECK(too_small.reshaped(Shape{2}).status().code() == ErrorCode::buffer_too_small);

  // Each of the reproduced crashes now returns the view's error.
  CHECK(tsq::floating::relu(TensorView<const float>(buffer.data(), Shape{-1}),
                            TensorView<float>(output.data(), Shape{-1}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::floating::fully_connected(tsq::FusedActivation::none,
                                       TensorView<const float>(buffer.data(), Shape{1, 4}),
                                       TensorView<const float>(buffer.data(), Shape{-2, 4}), {},
                                       TensorView<float>(output.data(), Shape{1, -2}))
            .code() == ErrorCode::shape_mismatch);
  CHECK(tsq::floating::conv2d({}, null_floats, TensorView<const float>(buffer, Shape{1, 1, 1, 1}),
                              {}, TensorView<float>(output, Shape{1, 1, 1, 1}))
            .code() == ErrorCode::invalid_argument);
  std::vector<float> kernel(16, 0.1f), recurrent(4, 0.1f), h(1, 0.0f), c(1, 0.0f), scratch(4);
  const tsq::floating::LstmWeights lstm_weights{TensorView<const float>(kernel, Shape{4, 4}),
                                                TensorView<const float>(recurrent, Shape{1, 4}),
                                                {}};
  CHECK(tsq::floating::lstm(
            lstm_weights,
            TensorView<const float>(static_cast<const float*>(nullptr), Shape{1, 2, 4}),
            TensorView<float>(output, Shape{1, 2, 1}), h, c, scratch)
            .code() == ErrorCode::invalid_argument);
  std::vector<std::int8_t> q(16, 0);
  CHECK(tsq::quantize<std::int8_t>(Span<const float>(nullptr, 4), Span<std::int8_t>(q.data(), 4),
                                   kInt8)
            .code() == ErrorCode::invalid_argument);

  // Integer FullyConnected: null input, and an output over a one-byte buffer.
  const std::vector<float> weight_scales(2, 0.01f);
  auto fc = tsq::prepare_owned_fully_connected(
      tsq::FullyConnectedQuantization{Shape{1, 4}, kInt8, Shape{2, 4}, weight_scales, kInt8});
  REQUIRE(fc.is_ok());
  std::vector<std::int8_t> weights(8, 1), input(4, 1);
  CHECK(tsq::reference::fully_connected(*fc,
                                        I8(static_cast<const std::int8_t*>(nullptr), Shape{1, 4}),
                                        I8(weights, Shape{2, 4}), {}, O8(q, Shape{1, 2}))
            .code() == ErrorCode::invalid_argument);
  CHECK(tsq::reference::fully_connected(*fc, I8(input, Shape{1, 4}), I8(weights, Shape{2, 4}), {},
                                        too_small)
            .code() == ErrorCode::buffer_too_small);
  CHECK(one_byte[0] == 0);
  CHECK(tsq::reference::fully_connected(*fc, I8(input, Shape{1, 4}), I8(weights, Shape{2, 4}), {},
                                        O8(q, Shape{1, 2}))
            .is_ok());
}

namespace {

// Fills every buffer with a pattern, runs `call` (which must fail with `code`) and checks that
// no buffer changed.
template <typename Call>
void expect_untouched(ErrorCode code, std::vector<std::vector<std::int8_t>*> int8_buffers,
                      std::vector<std::vector<float>*> float_buffers, Call call) {
  for (auto* buffer : int8_buffers) std::fill(buffer->begin(), buffer->end(), std::int8_t{0x5a});
  for (auto* buffer : float_buffers) std::fill(buffer->begin(), buffer->end(), 1234.5f);
  const tsq::Status status = call();
  INFO(status.message());
  CHECK(status.code() == code);
  for (auto* buffer : int8_buffers) {
    for (std::int8_t value : *buffer) REQUIRE(value == 0x5a);
  }
  for (auto* buffer : float_buffers) {
    for (float value : *buffer) REQUIRE(value == 1234.5f);
  }
}

}  // namespace

TEST_CASE("Bidirectional LSTMs validate both directions before writing anything",
          "[kernels][hardening][lstm]") {
  // Float: backward weights with another input size.
  std::vector<float> kernel(8 * 3, 0.1f), wrong_kernel(8 * 5, 0.1f), recurrent(2 * 8, 0.1f);
  std::vector<float> input(1 * 4 * 3, 0.3f), output(1 * 4 * 4), hidden(4), cell(4), scratch(8);
  const tsq::floating::LstmWeights forward{TensorView<const float>(kernel, Shape{3, 8}),
                                           TensorView<const float>(recurrent, Shape{2, 8}),
                                           {}};
  const tsq::floating::LstmWeights backward{TensorView<const float>(wrong_kernel, Shape{5, 8}),
                                            TensorView<const float>(recurrent, Shape{2, 8}),
                                            {}};
  expect_untouched(ErrorCode::shape_mismatch, {}, {&output, &hidden, &cell, &scratch}, [&] {
    return tsq::floating::bidirectional_lstm(
        forward, backward, TensorView<const float>(input, Shape{1, 4, 3}),
        TensorView<float>(output, Shape{1, 4, 4}), hidden, cell, scratch);
  });
  // The same call with matching weights runs.
  REQUIRE(tsq::floating::bidirectional_lstm(
              forward, forward, TensorView<const float>(input, Shape{1, 4, 3}),
              TensorView<float>(output, Shape{1, 4, 4}), hidden, cell, scratch)
              .is_ok());

  // Integer: the backward layer was prepared for another input size.
  tsq::LstmRangeObserver ranges;
  std::vector<float> h0(2, 0.0f), c0(2, 0.0f), out_f(8);
  REQUIRE(tsq::floating::lstm(forward, TensorView<const float>(input, Shape{1, 4, 3}),
                              TensorView<float>(out_f, Shape{1, 4, 2}), h0, c0, scratch, false,
                              &ranges)
              .is_ok());
  auto fw = tsq::quantize_lstm(forward, ranges);
  REQUIRE(fw.is_ok());
  std::vector<float> wide_input(1 * 4 * 5, 0.3f);
  tsq::LstmRangeObserver wide_ranges;
  std::fill(h0.begin(), h0.end(), 0.0f);
  std::fill(c0.begin(), c0.end(), 0.0f);
  REQUIRE(tsq::floating::lstm(backward, TensorView<const float>(wide_input, Shape{1, 4, 5}),
                              TensorView<float>(out_f, Shape{1, 4, 2}), h0, c0, scratch, false,
                              &wide_ranges)
              .is_ok());
  auto bw = tsq::quantize_lstm(backward, wide_ranges);
  REQUIRE(bw.is_ok());
  std::vector<std::int8_t> xq(12, 1), yq(16);
  std::vector<std::int16_t> state(4, 0), cell_q(4, 0);
  std::vector<std::int32_t> iscratch(tsq::lstm_scratch_size(4, 2), 77);
  const std::vector<std::int32_t> iscratch_before = iscratch;
  expect_untouched(ErrorCode::shape_mismatch, {&yq}, {}, [&] {
    return tsq::reference::bidirectional_lstm<std::int8_t, std::int16_t>(
        fw->params, fw->weights(), bw->params, bw->weights(), I8(xq, Shape{1, 4, 3}),
        O8(yq, Shape{1, 4, 4}), state, cell_q, iscratch);
  });
  CHECK(state == std::vector<std::int16_t>(4, 0));
  CHECK(cell_q == std::vector<std::int16_t>(4, 0));
  CHECK(iscratch == iscratch_before);
}

TEST_CASE("Failing kernels leave every output untouched", "[kernels][hardening]") {
  std::vector<std::int8_t> input(32, 9), weights(32, 1), output(32), too_short(3);
  std::vector<float> floats(32, 0.25f), float_output(32);
  const std::vector<float> scales(4, 0.01f);
  auto fc = tsq::prepare_owned_fully_connected(
      tsq::FullyConnectedQuantization{Shape{2, 8}, kInt8, Shape{4, 8}, scales, kInt8});
  REQUIRE(fc.is_ok());
  // Wrong output shape, wrong weights shape, short bias.
  expect_untouched(ErrorCode::shape_mismatch, {&output}, {}, [&] {
    return tsq::reference::fully_connected(*fc, I8(input, Shape{2, 8}), I8(weights, Shape{4, 8}),
                                           {}, O8(output, Shape{2, 5}));
  });
  expect_untouched(ErrorCode::shape_mismatch, {&output}, {}, [&] {
    return tsq::reference::fully_connected(*fc, I8(input, Shape{2, 8}), I8(weights, Shape{8, 4}),
                                           {}, O8(output, Shape{2, 4}));
  });
  const std::vector<std::int32_t> short_bias(3, 0);
  expect_untouched(ErrorCode::shape_mismatch, {&output}, {}, [&] {
    return tsq::reference::fully_connected(*fc, I8(input, Shape{2, 8}), I8(weights, Shape{4, 8}),
                                           short_bias, O8(output, Shape{2, 4}));
  });
  expect_untouched(ErrorCode::buffer_too_small, {&too_short}, {}, [&] {
    return tsq::reference::fully_connected(*fc, I8(input, Shape{2, 8}), I8(weights, Shape{4, 8}),
                                           {}, O8(too_short, Shape{2, 4}));
  });
  // Float kernels: mismatched output, a NaN-free but misshapen call.
  expect_untouched(ErrorCode::shape_mismatch, {}, {&float_output}, [&] {
    return tsq::floating::softmax(1.0f, TensorView<const float>(floats, Shape{4, 8}),
                                  TensorView<float>(float_output, Shape{8, 4}));
  });
  expect_untouched(ErrorCode::shape_mismatch, {}, {&float_output}, [&] {
    return tsq::floating::add(
        tsq::FusedActivation::none, TensorView<const float>(floats, Shape{4, 8}),
        TensorView<const float>(floats, Shape{3, 8}), TensorView<float>(float_output, Shape{4, 8}));
  });
  // Quantize stops at a NaN before writing.
  floats[17] = std::numeric_limits<float>::quiet_NaN();
  auto quantize_params = tsq::prepare_quantize(tsq::QuantizeQuantization{Shape{32}, kInt8});
  REQUIRE(quantize_params.is_ok());
  expect_untouched(ErrorCode::non_finite_value, {&output}, {}, [&] {
    return tsq::reference::quantize(*quantize_params, TensorView<const float>(floats, Shape{32}),
                                    O8(output, Shape{32}));
  });
}

TEST_CASE("Every LSTM form refuses a window without time steps", "[kernels][hardening][lstm]") {
  std::vector<float> kernel(8 * 3, 0.1f), recurrent(2 * 8, 0.1f), h(2, 0.0f), c(2, 0.0f),
      scratch(8), input(6, 0.5f), output(4, 9.0f);
  const tsq::floating::LstmWeights weights{TensorView<const float>(kernel, Shape{3, 8}),
                                           TensorView<const float>(recurrent, Shape{2, 8}),
                                           {}};
  // Float, last-step output: no state is written either.
  CHECK(tsq::floating::lstm(weights, TensorView<const float>(input, Shape{1, 0, 3}),
                            TensorView<float>(output, Shape{1, 2}), h, c, scratch)
            .code() == ErrorCode::shape_mismatch);
  CHECK(output == std::vector<float>(4, 9.0f));
  // Integer and hybrid.
  tsq::LstmRangeObserver ranges;
  std::vector<float> seq(6);
  REQUIRE(tsq::floating::lstm(weights, TensorView<const float>(input, Shape{1, 2, 3}),
                              TensorView<float>(seq, Shape{1, 2, 2}), h, c, scratch, false, &ranges)
              .is_ok());
  auto layer = tsq::quantize_lstm(weights, ranges);
  REQUIRE(layer.is_ok());
  std::vector<std::int8_t> xq(6, 0), yq(4, 9);
  std::vector<std::int16_t> state(2, 0), cell(2, 0);
  std::vector<std::int32_t> iscratch(tsq::lstm_scratch_size(1, 2));
  CHECK(tsq::reference::lstm<std::int8_t, std::int16_t>(layer->params, layer->weights(),
                                                        I8(xq, Shape{1, 0, 3}), O8(yq, Shape{1, 2}),
                                                        state, cell, iscratch)
            .code() == ErrorCode::shape_mismatch);
  std::vector<std::int8_t> input_weights(8 * 3, 1), recurrent_weights(8 * 2, 1), quantized(5);
  const std::vector<float> row_scales(8, 0.01f);
  const tsq::hybrid::LstmWeights hybrid_weights{I8(input_weights, Shape{8, 3}),
                                                I8(recurrent_weights, Shape{8, 2}),
                                                row_scales,
                                                row_scales,
                                                {}};
  auto hybrid = tsq::hybrid::prepare_owned_lstm(hybrid_weights);
  REQUIRE(hybrid.is_ok());
  std::vector<float> gates(8);
  CHECK(tsq::hybrid::lstm(*hybrid, hybrid_weights, TensorView<const float>(input, Shape{1, 0, 3}),
                          TensorView<float>(output, Shape{1, 2}), h, c,
                          tsq::hybrid::LstmScratch{gates, quantized})
            .code() == ErrorCode::shape_mismatch);
}

TEST_CASE("Prepared layers own their storage: copies outlive the original",
          "[kernels][hardening]") {
  std::vector<float> scales = {0.01f, 0.02f, 0.03f, 0.04f};
  const tsq::FullyConnectedQuantization q{Shape{1, 8}, kInt8, Shape{4, 8}, scales, kInt8};
  std::vector<std::int8_t> input(8), weights(32), expected(4), got(4);
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<std::int8_t>(i * 7 - 20);
  for (std::size_t i = 0; i < weights.size(); ++i)
    weights[i] = static_cast<std::int8_t>(i * 13 % 255 - 127);
  auto original = std::make_unique<tsq::Prepared<tsq::FullyConnectedParams>>(
      tsq::prepare_owned_fully_connected(q).value());
  REQUIRE(tsq::reference::fully_connected(*original, I8(input, Shape{1, 8}),
                                          I8(weights, Shape{4, 8}), {}, O8(expected, Shape{1, 4}))
              .is_ok());
  // A struct holding a prepared layer, copied, then the original destroyed (ASan watches).
  struct Layer {
    tsq::Prepared<tsq::FullyConnectedParams> prepared;
  };
  auto holder = std::make_unique<Layer>(Layer{*original});
  const Layer copy = *holder;
  Layer assigned;
  assigned = copy;
  holder.reset();
  original.reset();
  CHECK(copy.prepared->multipliers.data() == copy.prepared.storage().multipliers.data());
  REQUIRE(tsq::reference::fully_connected(copy.prepared, I8(input, Shape{1, 8}),
                                          I8(weights, Shape{4, 8}), {}, O8(got, Shape{1, 4}))
              .is_ok());
  CHECK(got == expected);
  REQUIRE(tsq::reference::fully_connected(assigned.prepared, I8(input, Shape{1, 8}),
                                          I8(weights, Shape{4, 8}), {}, O8(got, Shape{1, 4}))
              .is_ok());
  CHECK(got == expected);
  // A moved-from layer is empty and refused, the moved-to one runs.
  Layer moved{std::move(assigned.prepared)};
  CHECK(tsq::reference::fully_connected(assigned.prepared, I8(input, Shape{1, 8}),
                                        I8(weights, Shape{4, 8}), {}, O8(got, Shape{1, 4}))
            .code() == ErrorCode::not_prepared);
  REQUIRE(tsq::reference::fully_connected(moved.prepared, I8(input, Shape{1, 8}),
                                          I8(weights, Shape{4, 8}), {}, O8(got, Shape{1, 4}))
              .is_ok());
  CHECK(got == expected);

  // The hybrid layer copies the weight scales: the caller's vector may go away.
  auto hybrid = std::make_unique<tsq::Prepared<tsq::hybrid::FullyConnectedParams>>(
      tsq::hybrid::prepare_owned_fully_connected(I8(weights, Shape{4, 8}), scales,
                                                 tsq::FusedActivation::none)
          .value());
  const auto hybrid_copy = *hybrid;
  hybrid.reset();
  scales.assign(4, 1e9f);
  std::vector<float> x(8, 0.5f), y(4);
  std::vector<std::int8_t> scratch(8);
  REQUIRE(tsq::hybrid::fully_connected(hybrid_copy, TensorView<const float>(x, Shape{1, 8}),
                                       I8(weights, Shape{4, 8}), {},
                                       TensorView<float>(y, Shape{1, 4}), scratch)
              .is_ok());
  CHECK(std::fabs(y[0]) < 10.0f);  // scaled by 0.01, not by the overwritten 1e9
}

TEST_CASE("LSTM calibration that saw a non-finite gate names it", "[kernels][hardening][lstm]") {
  std::vector<float> kernel(8, 0.0f), recurrent(16, 0.0f), bias(8, 0.0f);
  bias[1 * 2 + 1] = std::numeric_limits<float>::infinity();  // forget gate, unit 1
  const tsq::floating::LstmWeights weights{TensorView<const float>(kernel, Shape{1, 8}),
                                           TensorView<const float>(recurrent, Shape{2, 8}), bias};
  std::vector<float> input(3, 0.5f), output(6), h(2, 0.0f), c(2, 0.0f), scratch(8);
  tsq::LstmRangeObserver ranges;
  const tsq::Status run =
      tsq::floating::lstm(weights, TensorView<const float>(input, Shape{1, 3, 1}),
                          TensorView<float>(output, Shape{1, 3, 2}), h, c, scratch, false, &ranges);
  INFO(run.message());
  REQUIRE(run.is_ok());
  const auto layer = tsq::quantize_lstm(weights, ranges);
  REQUIRE_FALSE(layer.is_ok());
  CHECK(layer.status().code() == ErrorCode::non_finite_value);
  CHECK(std::string(layer.status().message()).find("forget gate") != std::string::npos);
}

TEST_CASE("Float twins: long reductions at float32 precision", "[kernels][hardening][float]") {
  tsq_test::Rng rng(2026);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  // Softmax over 50,000 classes against float64.
  std::vector<float> logits(50000), probabilities(50000);
  for (float& v : logits) v = normal(rng);
  REQUIRE(tsq::floating::softmax(1.0f, TensorView<const float>(logits, Shape{1, 50000}),
                                 TensorView<float>(probabilities, Shape{1, 50000}))
              .is_ok());
  double max_logit = logits[0], sum = 0.0;
  for (float v : logits) max_logit = std::max(max_logit, static_cast<double>(v));
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max_logit);
  double worst = 0.0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    const double exact = std::exp(static_cast<double>(logits[i]) - max_logit) / sum;
    worst = std::max(worst, std::fabs(probabilities[i] - exact) / exact);
  }
  CHECK(worst < 2.0 * tsq_test::kFloatEpsilon);  // the float32 rounding of the result only
  // FullyConnected with depth 8192 against float64.
  const std::int32_t depth = 8192, units = 16;
  std::vector<float> x(depth), w(static_cast<std::size_t>(units) * depth), y(units);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = normal(rng);
  REQUIRE(tsq::floating::fully_connected(tsq::FusedActivation::none,
                                         TensorView<const float>(x, Shape{1, depth}),
                                         TensorView<const float>(w, Shape{units, depth}), {},
                                         TensorView<float>(y, Shape{1, units}))
              .is_ok());
  double worst_fc = 0.0;
  for (std::int32_t u = 0; u < units; ++u) {
    double exact = 0.0, magnitude = 0.0;
    for (std::int32_t d = 0; d < depth; ++d) {
      const double product = static_cast<double>(w[static_cast<std::size_t>(u) * depth + d]) *
                             static_cast<double>(x[static_cast<std::size_t>(d)]);
      exact += product;
      magnitude += std::fabs(product);
    }
    // Relative to the sum of |products|: what a float32 result can hold.
    worst_fc = std::max(worst_fc, std::fabs(y[static_cast<std::size_t>(u)] - exact) / magnitude);
  }
  CHECK(worst_fc < tsq_test::kFloatEpsilon);
}
