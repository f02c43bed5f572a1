// SPDX-License-Identifier: Apache-2.0
// Add of two (1,124,6,64) tensors (a residual connection): int8, int8_simd, int16, float.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tsq/kernels/float/add.hpp"
#include "tsq/kernels/reference/add.hpp"
#include "tsq/kernels/simd/add.hpp"

namespace tsq_bench {
namespace {

struct AddShape {
  std::string name;
  tsq::Shape input;  // both inputs and the output
};

const AddShape kResidual{"residual", {1, 124, 6, 64}};

struct AddCase {
  explicit AddCase(const AddShape& shape) {
    Rng rng = make_rng("add/" + shape.name);
    input1 = uniform_floats(rng, shape.input.element_count(), -2.0f, 2.0f);
    input2 = uniform_floats(rng, shape.input.element_count(), -0.5f, 1.5f);
    output.resize(input1.size());
    check(tsq::floating::add(tsq::FusedActivation::none, in(input1, shape.input),
                             in(input2, shape.input), out(output, shape.input)),
          "float add");
    // Each tensor has its own parameters, so all three multipliers are real rescalings.
    tsq::AddQuantization q;
    q.input1_shape = shape.input;
    q.input2_shape = shape.input;
    q.input1 = int8_params(input1);
    q.input2 = int8_params(input2);
    q.output = int8_params(output);
    params8 = take(tsq::prepare_add(q), "prepare_add int8");
    input1_8 = quantize_all<std::int8_t>(input1, q.input1);
    input2_8 = quantize_all<std::int8_t>(input2, q.input2);
    output8.resize(output.size());
    q.input1 = int16_params(input1);
    q.input2 = int16_params(input2);
    q.output = int16_params(output);
    params16 = take(tsq::prepare_add(q), "prepare_add int16");
    input1_16 = quantize_all<std::int16_t>(input1, q.input1);
    input2_16 = quantize_all<std::int16_t>(input2, q.input2);
    output16.resize(output.size());
  }

  Work work(double element_bytes) const {
    return Work{0, static_cast<double>(output.size()),
                element_bytes * static_cast<double>(3 * output.size())};
  }

  std::vector<float> input1, input2, output;
  tsq::AddParams params8, params16;
  std::vector<std::int8_t> input1_8, input2_8, output8;
  std::vector<std::int16_t> input1_16, input2_16, output16;
};

void add_add(const AddShape& shape) {
  add("add", "int8", shape.name, [shape](benchmark::State& state) {
    AddCase& c = cached<AddCase>(shape);
    const auto input1 = in(c.input1_8, shape.input);
    const auto input2 = in(c.input2_8, shape.input);
    const auto output = out(c.output8, shape.input);
    time_eval(state, c.work(1),
              [&] { return tsq::reference::add(c.params8, input1, input2, output); });
  });
  add("add", "int8_simd", shape.name, [shape](benchmark::State& state) {
    AddCase& c = cached<AddCase>(shape);
    const auto input1 = in(c.input1_8, shape.input);
    const auto input2 = in(c.input2_8, shape.input);
    const auto output = out(c.output8, shape.input);
    time_eval(state, c.work(1), [&] { return tsq::simd::add(c.params8, input1, input2, output); });
  });
  add("add", "int16", shape.name, [shape](benchmark::State& state) {
    AddCase& c = cached<AddCase>(shape);
    const auto input1 = in(c.input1_16, shape.input);
    const auto input2 = in(c.input2_16, shape.input);
    const auto output = out(c.output16, shape.input);
    time_eval(state, c.work(2),
              [&] { return tsq::reference::add(c.params16, input1, input2, output); });
  });
  add("add", "float", shape.name, [shape](benchmark::State& state) {
    AddCase& c = cached<AddCase>(shape);
    const auto input1 = in(c.input1, shape.input);
    const auto input2 = in(c.input2, shape.input);
    const auto output = out(c.output, shape.input);
    time_eval(state, c.work(4), [&] {
      return tsq::floating::add(tsq::FusedActivation::none, input1, input2, output);
    });
  });
}

}  // namespace

void register_add() { add_add(kResidual); }

}  // namespace tsq_bench
