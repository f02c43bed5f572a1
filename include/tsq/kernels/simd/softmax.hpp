// SPDX-License-Identifier: Apache-2.0
// int8 Softmax with the exponentials computed once: bit-identical to reference::softmax for int8
// input (int8 or int16 output).
//
// The reference evaluates exp(beta * S_in * (x - max)) in fixed point (a rescale and
// exp_on_negative_values: a few hundred instructions) twice per element. With int8 input the
// difference x - max takes one of 256 values, so the exponentials of all of them, and their
// Q12.19 terms of the sum, are a table made once per layer (make_softmax_exp_table); a row then
// costs its maximum, a sum of table reads, one reciprocal and one multiply per element. The
// few-class outputs of classifiers (3 to 6 classes) took longer than the layers before them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tsq/core/status.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/kernels/reference/softmax.hpp"
#include "tsq/quant/fixed_point.hpp"
#include "tsq/quant/fixed_point_math.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace simd {

// Entry d is for the difference -d (d in [0, 255]).
struct SoftmaxExpTable {
  std::int32_t exp[256] = {};            // Q0.31; meaningful where the difference counts
  std::int32_t sum_term[256] = {};       // Q12.19; 0 where the difference is below diff_min
  QuantizedMultiplier input_multiplier;  // of the layer the table was made for
  std::int32_t diff_min = 0;
  PreparedMark prepared;
};

// Fills `table` for the int8-input layer `params`. Errors: not_prepared, unsupported_type.
inline Status make_softmax_exp_table(const SoftmaxParams& params, SoftmaxExpTable& table) {
  TSQ_RETURN_IF_ERROR(tsq::detail::check_prepared("Softmax (table)", params));
  if (params.input_type != DataType::int8) {
    return Status::error(ErrorCode::unsupported_type,
                         "Softmax (table) is for int8 input (int16 runs on reference::softmax)");
  }
  for (std::int32_t d = 0; d < 256; ++d) {
    const std::int32_t difference = -d;
    if (difference >= params.diff_min) {
      table.exp[d] = tsq::detail::softmax_exp_of_difference(params, difference);
      table.sum_term[d] = fixed_point::rescale<0, 12>(table.exp[d]);
    } else {
      table.exp[d] = 0;
      table.sum_term[d] = 0;
    }
  }
  table.input_multiplier = params.input_multiplier;
  table.diff_min = params.diff_min;
  tsq::detail::mark_prepared(table);
  return Status::ok();
}

namespace detail {

// The reference's row loop (tsq::detail::softmax_int8_rows) reads the exponentials from here.
struct SoftmaxTableExponentials {
  const SoftmaxExpTable& table;
  std::int32_t exp(std::int32_t difference) const { return table.exp[-difference]; }
  std::int32_t sum_term(std::int32_t difference) const { return table.sum_term[-difference]; }
};

}  // namespace detail

// reference::softmax for int8 input with the layer's table: the same checks and errors, and a
// table not made for the layer (not_prepared).
template <typename Output>
Status softmax(const SoftmaxParams& params, const SoftmaxExpTable& table,
               TensorView<const std::int8_t> input, TensorView<Output> output) {
  static_assert(sizeof(Output) == 1 || sizeof(Output) == 2, "int8 or int16 output");
  TSQ_RETURN_IF_ERROR(tsq::detail::check_softmax_views(params, input, output));
  if (!table.prepared.is_set()) {
    return Status::error(ErrorCode::not_prepared,
                         "Softmax (table): the table was not made by make_softmax_exp_table");
  }
  if (table.input_multiplier.multiplier != params.input_multiplier.multiplier ||
      table.input_multiplier.shift != params.input_multiplier.shift ||
      table.diff_min != params.diff_min) {
    return Status::error(ErrorCode::invalid_argument,
                         "Softmax (table): the table was made for another layer");
  }
  tsq::detail::softmax_int8_rows(params, input.data(), output.data(),
                                 detail::SoftmaxTableExponentials{table});
  return Status::ok();
}

}  // namespace simd
}  // namespace tsq
