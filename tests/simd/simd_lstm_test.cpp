// SPDX-License-Identifier: Apache-2.0
// simd::lstm against reference::lstm, bit for bit, on every path this CPU runs: random layers in
// both rounding modes, TFLite's scheme and tsq's int16 state, saturated and unsaturated gate
// products, cell clips, multipliers that shift left, every tile remainder of 4H and of the
// depths, batches, last-step and sequence outputs, reversed time; and the errors.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "simd_test_util.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/simd/prepared.hpp"

namespace {

using tsq_simd_test::for_each_path;
using tsq_test::pick;
using tsq_test::Rng;

struct RandomLayer {
  tsq::LstmQuantization q;
  std::vector<float> input_scales;
  std::vector<float> recurrent_scales;
  std::vector<std::int8_t> input_weights;
  std::vector<std::int8_t> recurrent_weights;
  std::vector<std::int32_t> bias;
  std::int32_t input_size = 0;
  std::int32_t hidden_size = 0;

  tsq::LstmWeightsInt8 weights() const {
    const std::int32_t rows = 4 * hidden_size;
    return tsq::LstmWeightsInt8{
        tsq::TensorView<const std::int8_t>(input_weights.data(), tsq::Shape{rows, input_size}),
        tsq::TensorView<const std::int8_t>(recurrent_weights.data(), tsq::Shape{rows, hidden_size}),
        tsq::Span<const std::int32_t>(bias)};
  }
};

// Scales that put the gate pre-activations around +-2 (Q3.12: +-8192), times 10^[-1, 1], so that
// some layers saturate their gates and some multipliers shift left.
RandomLayer random_layer(Rng& rng, std::int32_t input_size, std::int32_t hidden_size) {
  RandomLayer l;
  l.input_size = input_size;
  l.hidden_size = hidden_size;
  const std::int32_t rows = 4 * hidden_size;
  l.q.input = tsq_test::random_int8_params(rng);
  l.q.hidden = tsq::make_quant_params(std::ldexp(1.0f, -pick(rng, 6, 8)), pick(rng, -20, 20),
                                      tsq::DataType::int8);
  l.q.int16_state = pick(rng, 0, 2) > 0;
  if (l.q.int16_state) l.q.state_scale = std::ldexp(1.0f, -pick(rng, 12, 15));
  l.q.saturate_gate_products = pick(rng, 0, 1) == 1;
  l.q.cell_scale = std::ldexp(1.0f, -pick(rng, 10, 15));
  l.q.cell_clip = pick(rng, 0, 3) == 0 ? static_cast<float>(pick(rng, 1, 6)) : 0.0f;
  l.q.rounding = pick(rng, 0, 1) == 0 ? tsq::RoundingMode::double_rounding
                                      : tsq::RoundingMode::single_rounding;
  const bool per_row = pick(rng, 0, 1) == 1;
  const auto spread = [&](double depth, double values) { return std::sqrt(depth) * 73.0 * values; };
  const auto factor = [&]() { return std::pow(10.0, pick(rng, -10, 10) / 10.0); };
  const double input_target = 2.0 / spread(input_size, 74.0) / l.q.input.scale;
  const double state_scale = l.q.int16_state ? l.q.state_scale : l.q.hidden.scale;
  const double recurrent_target = 2.0 / spread(hidden_size, 0.5 / state_scale) / state_scale;
  for (std::size_t i = 0; i < (per_row ? static_cast<std::size_t>(rows) : 4); ++i) {
    l.input_scales.push_back(static_cast<float>(input_target * factor()));
    l.recurrent_scales.push_back(static_cast<float>(recurrent_target * factor()));
  }
  l.q.input_weight_scales = l.input_scales;
  l.q.recurrent_weight_scales = l.recurrent_scales;
  l.input_weights.resize(static_cast<std::size_t>(rows * input_size));
  l.recurrent_weights.resize(static_cast<std::size_t>(rows * hidden_size));
  for (auto& w : l.input_weights) w = static_cast<std::int8_t>(pick(rng, -127, 127));
  for (auto& w : l.recurrent_weights) w = static_cast<std::int8_t>(pick(rng, -127, 127));
  const bool extreme_biases = pick(rng, 0, 4) == 0;
  for (std::int32_t r = 0; r < rows; ++r) {
    l.bias.push_back(extreme_biases ? 2 * pick(rng, -1000000000, 1000000000)
                                    : pick(rng, -20000, 20000));
  }
  return l;
}

template <typename State>
void check_layer(Rng& rng, const RandomLayer& l, std::int32_t batches, std::int32_t steps,
                 bool sequences, bool reverse, const std::string& what) {
  const auto prepared = tsq::prepare_owned_lstm(l.q, l.weights());
  REQUIRE(prepared.is_ok());
  const tsq::LstmParams& params = prepared->params();
  const auto simd_layer = tsq::simd::PreparedLstm::from_reference(params, l.weights());
  REQUIRE(simd_layer.is_ok());

  std::vector<std::int8_t> input(static_cast<std::size_t>(batches * steps * l.input_size));
  for (auto& x : input) x = static_cast<std::int8_t>(pick(rng, -128, 127));
  const tsq::TensorView<const std::int8_t> input_view(input.data(),
                                                      tsq::Shape{batches, steps, l.input_size});
  const tsq::Shape output_shape =
      sequences ? tsq::Shape{batches, steps, l.hidden_size} : tsq::Shape{batches, l.hidden_size};
  const std::size_t output_size =
      static_cast<std::size_t>(batches) * (sequences ? steps : 1) * l.hidden_size;
  const std::size_t state_size = static_cast<std::size_t>(batches * l.hidden_size);

  // A non-zero start state, the same for both.
  std::vector<State> start_state(state_size);
  std::vector<std::int16_t> start_cell(state_size);
  for (auto& s : start_state) {
    s = static_cast<State>(sizeof(State) == 1 ? pick(rng, -128, 127) : pick(rng, -32768, 32767));
  }
  for (auto& c : start_cell) c = static_cast<std::int16_t>(pick(rng, -32768, 32767));

  std::vector<std::int8_t> expected(output_size);
  std::vector<State> expected_state = start_state;
  std::vector<std::int16_t> expected_cell = start_cell;
  std::vector<std::int32_t> reference_scratch(tsq::lstm_scratch_size(steps, l.hidden_size));
  REQUIRE((tsq::reference::lstm<std::int8_t, State>(
               params, l.weights(), input_view,
               tsq::TensorView<std::int8_t>(expected.data(), output_shape),
               tsq::Span<State>(expected_state), tsq::Span<std::int16_t>(expected_cell),
               tsq::Span<std::int32_t>(reference_scratch), reverse))
              .is_ok());

  std::vector<std::int32_t> scratch_storage(simd_layer->scratch_bytes(steps) / 4 + 1);
  const tsq::Span<std::int8_t> scratch(reinterpret_cast<std::int8_t*>(scratch_storage.data()),
                                       simd_layer->scratch_bytes(steps));
  for_each_path([&](tsq::simd::Path path) {
    INFO(what << " path " << tsq::simd::path_name(path) << " I " << l.input_size << " H "
              << l.hidden_size << " steps " << steps << " batch " << batches << " int16 state "
              << l.q.int16_state << " saturate " << l.q.saturate_gate_products << " clip "
              << l.q.cell_clip << " rounding " << static_cast<int>(l.q.rounding));
    std::vector<std::int8_t> output(output_size, 99);
    std::vector<State> state = start_state;
    std::vector<std::int16_t> cell = start_cell;
    const tsq::Status status = simd_layer->run<State>(
        input_view, tsq::TensorView<std::int8_t>(output.data(), output_shape),
        tsq::Span<State>(state), tsq::Span<std::int16_t>(cell), scratch, reverse);
    REQUIRE(status.is_ok());
    CHECK(output == expected);
    CHECK(state == expected_state);
    CHECK(cell == expected_cell);
  });
}

}  // namespace

TEST_CASE("simd::lstm equals reference::lstm on random layers, every path", "[simd][lstm]") {
  Rng rng(20261206);
  for (int trial = 0; trial < 120; ++trial) {
    const std::int32_t hidden_size = pick(rng, 0, 3) == 0 ? pick(rng, 1, 40) : pick(rng, 1, 12);
    const std::int32_t input_size = pick(rng, 1, 70);
    const RandomLayer l = random_layer(rng, input_size, hidden_size);
    const std::int32_t batches = pick(rng, 1, 2);
    const std::int32_t steps = pick(rng, 1, 9);
    const bool sequences = pick(rng, 0, 1) == 1;
    const bool reverse = pick(rng, 0, 3) == 0;
    const std::string what = "trial " + std::to_string(trial);
    if (l.q.int16_state) {
      check_layer<std::int16_t>(rng, l, batches, steps, sequences, reverse, what);
    } else {
      check_layer<std::int8_t>(rng, l, batches, steps, sequences, reverse, what);
    }
  }
}

TEST_CASE("simd::lstm at the benchmark's deep shape, every path", "[simd][lstm]") {
  Rng rng(384128);
  RandomLayer l = random_layer(rng, 384, 128);
  l.q.int16_state = true;
  l.q.state_scale = 1.0f / 32768.0f;
  check_layer<std::int16_t>(rng, l, 1, 6, true, false, "deep");
}

TEST_CASE("simd::lstm errors", "[simd][lstm]") {
  Rng rng(7);
  RandomLayer l = random_layer(rng, 5, 3);
  l.q.int16_state = true;
  l.q.state_scale = 1.0f / 4096.0f;
  const auto prepared = tsq::prepare_owned_lstm(l.q, l.weights());
  REQUIRE(prepared.is_ok());
  const auto layer = tsq::simd::PreparedLstm::from_reference(prepared->params(), l.weights());
  REQUIRE(layer.is_ok());
  std::vector<std::int8_t> input(2 * 5), output(3);
  std::vector<std::int16_t> state(3), cell(3);
  std::vector<std::int32_t> storage(layer->scratch_bytes(2) / 4 + 2);
  const tsq::Span<std::int8_t> scratch(reinterpret_cast<std::int8_t*>(storage.data()),
                                       layer->scratch_bytes(2));
  const tsq::TensorView<const std::int8_t> x(input.data(), tsq::Shape{1, 2, 5});
  const tsq::TensorView<std::int8_t> y(output.data(), tsq::Shape{1, 3});
  CHECK(layer
            ->run<std::int16_t>(x, y, tsq::Span<std::int16_t>(state), tsq::Span<std::int16_t>(cell),
                                scratch)
            .is_ok());

  SECTION("any alignment of a scratch of scratch_bytes, and one byte short at an odd address") {
    std::vector<std::int8_t> expected = output;
    for (std::size_t offset = 1; offset < 4; ++offset) {
      const tsq::Span<std::int8_t> shifted(scratch.data() + offset, scratch.size());
      std::fill(state.begin(), state.end(), std::int16_t{0});
      std::fill(cell.begin(), cell.end(), std::int16_t{0});
      std::fill(output.begin(), output.end(), std::int8_t{0});
      CHECK(layer
                ->run<std::int16_t>(x, y, tsq::Span<std::int16_t>(state),
                                    tsq::Span<std::int16_t>(cell), shifted)
                .is_ok());
      CHECK(output == expected);
    }
    const tsq::Status status = layer->run<std::int16_t>(
        x, y, tsq::Span<std::int16_t>(state), tsq::Span<std::int16_t>(cell),
        tsq::Span<std::int8_t>(scratch.data() + 1, scratch.size() - 1));
    CHECK(status.code() == tsq::ErrorCode::buffer_too_small);
  }
  SECTION("a moved-from layer is refused") {
    tsq::simd::PreparedLstm moved = layer.value();
    tsq::simd::PreparedLstm target = std::move(moved);
    CHECK(target
              .run<std::int16_t>(x, y, tsq::Span<std::int16_t>(state),
                                 tsq::Span<std::int16_t>(cell), scratch)
              .is_ok());
    CHECK(moved  // NOLINT(bugprone-use-after-move): the state a moved-from owner is left in
              .run<std::int16_t>(x, y, tsq::Span<std::int16_t>(state),
                                 tsq::Span<std::int16_t>(cell), scratch)
              .code() == tsq::ErrorCode::not_prepared);
  }
  SECTION("a wrong input depth") {
    const tsq::TensorView<const std::int8_t> wrong(input.data(), tsq::Shape{1, 2, 4});
    CHECK(layer
              ->run<std::int16_t>(wrong, y, tsq::Span<std::int16_t>(state),
                                  tsq::Span<std::int16_t>(cell), scratch)
              .code() == tsq::ErrorCode::shape_mismatch);
  }
  SECTION("a state of the wrong type") {
    std::vector<std::int8_t> narrow(3);
    CHECK(layer
              ->run<std::int8_t>(x, y, tsq::Span<std::int8_t>(narrow),
                                 tsq::Span<std::int16_t>(cell), scratch)
              .code() == tsq::ErrorCode::unsupported_type);
  }
  SECTION("packed weights of another layer") {
    RandomLayer other = random_layer(rng, 6, 3);
    other.q.int16_state = true;
    other.q.state_scale = 1.0f / 4096.0f;
    const auto other_prepared = tsq::prepare_owned_lstm(other.q, other.weights());
    REQUIRE(other_prepared.is_ok());
    const auto other_layer =
        tsq::simd::PreparedLstm::from_reference(other_prepared->params(), other.weights());
    REQUIRE(other_layer.is_ok());
    CHECK_FALSE(tsq::simd::lstm<std::int16_t>(layer->params(), other_layer->weights(), x, y,
                                              tsq::Span<std::int16_t>(state),
                                              tsq::Span<std::int16_t>(cell), scratch)
                    .is_ok());
  }
  SECTION("int16 weights are refused at pack time") {
    std::vector<std::int16_t> wide_input(4 * 3 * 5), wide_recurrent(4 * 3 * 3);
    const tsq::LstmWeightsInt16 wide{
        tsq::TensorView<const std::int16_t>(wide_input.data(), tsq::Shape{12, 5}),
        tsq::TensorView<const std::int16_t>(wide_recurrent.data(), tsq::Shape{12, 3}),
        tsq::Span<const std::int32_t>(l.bias)};
    const auto wide_prepared = tsq::prepare_owned_lstm(l.q, wide);
    REQUIRE(wide_prepared.is_ok());
    CHECK(tsq::simd::PreparedLstm::from_reference(wide_prepared->params(), l.weights())
              .status()
              .code() == tsq::ErrorCode::unsupported_type);
  }
}

#if TSQ_SIMD_X86
namespace {

// Every int16 input through the AVX-512 sigmoid and tanh (compiled for AVX-512 by their target
// attributes; called only where the CPU has it).
TSQ_TARGET_AVX512_VNNI std::vector<std::int16_t> vector_table_functions(int exponent,
                                                                        bool sigmoid) {
  using namespace tsq::simd::detail::avx512_vnni;
  const SigmoidTableVectors table = sigmoid_table_vectors();
  std::vector<std::int16_t> results(65536);
  for (std::int32_t first = -32768; first < 32768; first += 16) {
    alignas(64) std::int32_t lanes[16];
    for (int i = 0; i < 16; ++i) lanes[i] = first + i;
    const __m512i a = _mm512_load_si512(lanes);
    const __m512i value = sigmoid ? sigmoid_q3_12(a, table) : tanh_int16(a, exponent, table);
    _mm512_store_si512(lanes, value);
    for (int i = 0; i < 16; ++i) {
      results[static_cast<std::size_t>(first + 32768 + i)] = static_cast<std::int16_t>(lanes[i]);
    }
  }
  return results;
}

}  // namespace

TEST_CASE("AVX-512 sigmoid and tanh equal the fixed-point functions on every int16 input",
          "[simd][lstm]") {
  if (!tsq::simd::path_supported(tsq::simd::Path::avx512_vnni)) return;
  const std::vector<std::int16_t> sigmoid = vector_table_functions(0, true);
  std::int32_t wrong = 0;
  for (std::int32_t a = -32768; a < 32768; ++a) {
    wrong += sigmoid[static_cast<std::size_t>(a + 32768)] !=
             tsq::fixed_point::sigmoid_q3_12(static_cast<std::int16_t>(a));
  }
  CHECK(wrong == 0);
  for (int exponent = -15; exponent <= 2; ++exponent) {
    const std::vector<std::int16_t> tanh = vector_table_functions(exponent, false);
    wrong = 0;
    for (std::int32_t a = -32768; a < 32768; ++a) {
      wrong += tanh[static_cast<std::size_t>(a + 32768)] !=
               tsq::fixed_point::tanh_int16(static_cast<std::int16_t>(a), exponent);
    }
    INFO("exponent " << exponent);
    CHECK(wrong == 0);
  }
}
#endif
