// SPDX-License-Identifier: Apache-2.0
// LSTM over a window: [1, T, I] -> [1, H] (the last step, default) or [1, T, H]
// (return_sequences). Keras semantics (kernels/float/lstm.hpp): zero initial state at every
// window, gates i, f, c, o.
//
// Weights, kept in Keras layout as float32:
//   keras:   kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H)
//   pytorch: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H) + bias_hh (4H), summed into the
//            one bias. PyTorch's gate order i, f, g, o is Keras' i, f, c, o (g is the cell
//            candidate, tanh(W_ig x + b_ig + W_hg h + b_hg)): the 4H rows need no reordering,
//            only the transposition. TFLite's split gate tensors are not read.
// Every dimension is checked: a kernel of the right element count but transposed is rejected.
//
// Quantized forms:
//   int8               tsq's quantize_lstm scheme (kernels/reference/lstm.hpp): int8 input and
//                      output, int8 weights with one scale per gate row, int16 recurrent state
//   int16_activations  TFLite's 16x8: int16 input and output (zero points 0), int8 weights
//   int16_weights      int8 activations, int16 weights (layers with a wide input range)
//   dynamic_int8       the hybrid LSTM: int8 per-row weights, float activations and state
//   float16_weights    kernels stored as IEEE half, decoded into scratch at each run
//   float32            the float layer as is
// The integer forms need the ranges a calibration run records (make_calibration()). Their
// input parameters are request.inputs[0]'s, the tensor the model hands the layer, not the ones
// quantize_lstm picks from the observed input range: after quantize_lstm the layer replaces
// QuantizedLstm::input, requantizes the int32 bias at the new S_x * S_W[row] and prepares again
// (int16 activations need an input zero point of 0). Their output parameters are the hidden-state
// parameters quantize_lstm chooses (from the observed range of h united with 0), not
// request.output: output_quantization() reports them.
// cell_clip applies to the integer forms only (TFLite's cell clip; Keras has none).
//
// Intermediates (the debugger's view inside the layer; Layer::float_intermediates and
// QuantizedLayer::intermediates): "input gate pre-activation", "forget gate pre-activation",
// "cell gate pre-activation", "output gate pre-activation" and "cell state", each
// [batch, time, H] in real units, indexed by the input's time step. Every form steps its own
// kernel over the window again: the float forms record z and c (scale 0), the integer forms the
// Q3.12 sums a = sat16(u + v) the gate tables read (scale 2^-12) and the int16 cell (scale S_c).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tsq/export/kernel_params.hpp"
#include "tsq/kernels/float/lstm.hpp"
#include "tsq/kernels/hybrid/lstm.hpp"
#include "tsq/kernels/prepared.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/simd/prepared.hpp"
#include "tsq/nn/float_backend.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"
#include "tsq/ptq/lstm_quantizer.hpp"

namespace tsq {
namespace nn {

// What calibration records for one LSTM: the ranges of its input, hidden state, cell and gate
// pre-activations over every step of every window.
class LstmCalibration final : public LayerCalibration {
 public:
  LstmRangeObserver ranges;
};

namespace detail {

// The input parameters of an integer LSTM are the tensor's the model gives it, not those
// quantize_lstm chose from its observer: the input scale enters the bias scale
// (S_x * S_W[row]) and the prepared multipliers, so both are redone with the given params.
template <typename Weight>
Status use_lstm_input_params(QuantizedLstm<Weight>& q, const floating::LstmWeights& weights,
                             const QuantParams& input) {
  q.input = input;
  const auto rows = static_cast<std::size_t>(kLstmGateCount * q.hidden_size);
  q.bias.assign(rows, 0);
  if (weights.bias.empty()) return Status::ok();
  std::vector<float> row_scales(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    row_scales[r] = tsq::detail::row_scale(
        Span<const float>(q.input_weight_scales.data(), q.input_weight_scales.size()),
        static_cast<std::int32_t>(r), q.hidden_size);
  }
  return quantize_bias(weights.bias, q.input.scale,
                       Span<const float>(row_scales.data(), row_scales.size()),
                       Span<std::int32_t>(q.bias.data(), q.bias.size()));
}

// One direction of an integer LSTM: integer weights and prepared params that copy safely.
template <typename Weight>
struct IntegerLstmPart {
  std::int32_t input_size = 0;
  std::int32_t hidden_size = 0;
  std::vector<Weight> input_weights;      // [4H, I]
  std::vector<Weight> recurrent_weights;  // [4H, H]
  std::vector<std::int32_t> bias;         // [4H], scale S_x * S_W[row]
  Prepared<LstmParams> prepared;
  TensorQuantization output;  // the hidden state's

  LstmIntegerWeights<Weight> weights() const {
    const std::int32_t rows = kLstmGateCount * hidden_size;
    return LstmIntegerWeights<Weight>{
        TensorView<const Weight>(input_weights.data(), Shape{rows, input_size}),
        TensorView<const Weight>(recurrent_weights.data(), Shape{rows, hidden_size}),
        Span<const std::int32_t>(bias.data(), bias.size())};
  }
  ParameterBytes parameter_bytes() const {
    ParameterBytes bytes;
    const std::size_t weight_bytes =
        (input_weights.size() + recurrent_weights.size()) * sizeof(Weight);
    (sizeof(Weight) == 1 ? bytes.int8 : bytes.int16) = weight_bytes;
    bytes.int32 = bias.size() * sizeof(std::int32_t);
    return bytes;
  }
  // The output is constant when h is always rounded to 0 steps or the input is never read.
  bool multipliers_flush_to_zero() const {
    if (prepared->hidden_multiplier.multiplier == 0) return true;
    for (const QuantizedMultiplier& m : prepared->input_multipliers) {
      if (m.multiplier != 0) return false;
    }
    return true;
  }
};

// quantize_lstm with the model's input params (see use_lstm_input_params). `ranges` decides
// every other scale.
template <typename Weight>
Result<IntegerLstmPart<Weight>> make_integer_lstm_part(const floating::LstmWeights& weights,
                                                       const LstmRangeObserver& ranges,
                                                       const LstmQuantizerOptions& options,
                                                       const QuantParams& input) {
  Result<QuantizedLstm<Weight>> quantized = quantize_lstm<Weight>(weights, ranges, options);
  if (!quantized.is_ok()) return quantized.status();
  QuantizedLstm<Weight>& q = quantized.value();
  TSQ_RETURN_IF_ERROR(use_lstm_input_params(q, weights, input));
  auto prepared =
      prepare_owned_lstm(q.quantization(options.rounding, options.cell_clip), q.weights());
  if (!prepared.is_ok()) return prepared.status();
  IntegerLstmPart<Weight> part;
  part.input_size = q.input_size;
  part.hidden_size = q.hidden_size;
  part.input_weights = std::move(q.input_weights);
  part.recurrent_weights = std::move(q.recurrent_weights);
  part.bias = std::move(q.bias);
  part.prepared = std::move(prepared).value();
  part.output = TensorQuantization{q.hidden.type, q.hidden};
  return part;
}

// Scratch of an integer window: int16 state and cell for `directions` * batch * H values, and
// the int32 gate products of every step (shared by the directions, which run one after the
// other).
struct IntegerLstmScratch {
  Span<std::int16_t> state;
  Span<std::int16_t> cell;
  Span<std::int32_t> gates;
};
constexpr std::size_t integer_lstm_scratch_bytes(std::int32_t batch, std::int32_t steps,
                                                 std::int32_t hidden, int directions) {
  const std::size_t states = static_cast<std::size_t>(directions) *
                             static_cast<std::size_t>(batch) * static_cast<std::size_t>(hidden);
  return 2 * scratch_bytes_for<std::int16_t>(states) +
         scratch_bytes_for<std::int32_t>(lstm_scratch_size(steps, hidden));
}
// Takes the buffers and starts a window: state at its zero point, cell at 0.
inline IntegerLstmScratch take_integer_lstm_scratch(Span<std::byte> scratch, std::int32_t batch,
                                                    std::int32_t steps, std::int32_t hidden,
                                                    const LstmParams* const* directions,
                                                    int direction_count) {
  const std::size_t per_direction =
      static_cast<std::size_t>(batch) * static_cast<std::size_t>(hidden);
  IntegerLstmScratch taken;
  taken.state = take_scratch<std::int16_t>(
      scratch, static_cast<std::size_t>(direction_count) * per_direction);
  taken.cell = take_scratch<std::int16_t>(
      scratch, static_cast<std::size_t>(direction_count) * per_direction);
  taken.gates = take_scratch<std::int32_t>(scratch, lstm_scratch_size(steps, hidden));
  if (taken.state.data() == nullptr || taken.cell.data() == nullptr ||
      taken.gates.data() == nullptr) {
    return IntegerLstmScratch{};
  }
  for (int d = 0; d < direction_count; ++d) {
    for (std::size_t i = 0; i < per_direction; ++i) {
      taken.state[static_cast<std::size_t>(d) * per_direction + i] =
          static_cast<std::int16_t>(directions[d]->state_zero_point);
    }
  }
  for (std::int16_t& c : taken.cell) c = 0;
  return taken;
}

// The names of an LSTM's intermediates, in the order every form reports them.
inline constexpr int kLstmIntermediateCount = kLstmGateCount + 1;
inline constexpr const char* kLstmIntermediateNames[kLstmIntermediateCount] = {
    "input gate pre-activation", "forget gate pre-activation", "cell gate pre-activation",
    "output gate pre-activation", "cell state"};

// Appends one direction's intermediates (`prefix` names the direction of a Bidirectional), each
// holding `count` values; returns the index of the first.
inline std::size_t add_lstm_intermediates(std::vector<Intermediate>& out, const std::string& prefix,
                                          std::size_t count, float gate_scale, float cell_scale) {
  const std::size_t first = out.size();
  for (int i = 0; i < kLstmIntermediateCount; ++i) {
    out.push_back(Intermediate{prefix + kLstmIntermediateNames[i], std::vector<float>(count, 0.0f),
                               i < kLstmGateCount ? gate_scale : cell_scale});
  }
  return first;
}

// Position of (batch b, time t, unit 0) in an intermediate: aligned with the input's time steps,
// whichever way the direction runs.
inline std::size_t intermediate_at(std::int32_t b, std::int32_t t, std::int32_t steps,
                                   std::int32_t hidden) {
  return (static_cast<std::size_t>(b) * static_cast<std::size_t>(steps) +
          static_cast<std::size_t>(t)) *
         static_cast<std::size_t>(hidden);
}

inline Status check_intermediate_input(bool usable, std::int32_t rank, std::int32_t features,
                                       std::int32_t input_size) {
  if (!usable) return Status::error(ErrorCode::unsupported_type, "LSTM intermediates: input type");
  if (rank != 3 || features != input_size) {
    return Status::error(ErrorCode::shape_mismatch,
                         "LSTM intermediates: input must be [batch, time, input]");
  }
  return Status::ok();
}

// floating::lstm_step over the window, recording z (4H) and c (H) after every step: the same
// calls, in the same order, as floating::lstm, so the same bits.
inline Status float_lstm_intermediates(const floating::LstmWeights& weights,
                                       const TensorView<const float>& input, bool reverse,
                                       const std::string& prefix, std::vector<Intermediate>& out) {
  TSQ_RETURN_IF_ERROR(floating::validate_lstm_weights(weights));
  const std::int32_t input_size = weights.kernel.dim(0);
  TSQ_RETURN_IF_ERROR(check_intermediate_input(input.data() != nullptr && input.is_contiguous(),
                                               input.rank(), input.rank() == 3 ? input.dim(2) : 0,
                                               input_size));
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  const std::int32_t hidden = weights.recurrent_kernel.dim(0);
  const std::size_t first =
      add_lstm_intermediates(out, prefix, intermediate_at(batches, 0, steps, hidden), 0.0f, 0.0f);
  const auto h = static_cast<std::size_t>(hidden);
  std::vector<float> state(h), cell(h), z(floating::lstm_scratch_size(hidden));
  for (std::int32_t b = 0; b < batches; ++b) {
    std::fill(state.begin(), state.end(), 0.0f);
    std::fill(cell.begin(), cell.end(), 0.0f);
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      TSQ_RETURN_IF_ERROR(floating::lstm_step(
          weights, Span<const float>(&input(b, t, 0), static_cast<std::size_t>(input_size)),
          Span<float>(state), Span<float>(cell), Span<float>(z)));
      const std::size_t at = intermediate_at(b, t, steps, hidden);
      for (std::size_t g = 0; g < static_cast<std::size_t>(kLstmGateCount); ++g) {
        for (std::size_t j = 0; j < h; ++j) out[first + g].values[at + j] = z[g * h + j];
      }
      for (std::size_t j = 0; j < h; ++j) out[first + kLstmGateCount].values[at + j] = cell[j];
    }
  }
  return Status::ok();
}

// reference::lstm_step over the window with the layer's params, recording the Q3.12 gate
// pre-activations it leaves in its scratch and the int16 cell, dequantized. Stepping gives the
// bits of the window kernel the layer runs.
template <typename Activation, typename Weight>
Status integer_lstm_intermediates(const IntegerLstmPart<Weight>& part,
                                  const TensorView<const Activation>& input, bool reverse,
                                  const std::string& prefix, std::vector<Intermediate>& out) {
  const LstmParams& p = part.prepared.params();
  TSQ_RETURN_IF_ERROR(check_intermediate_input(input.data() != nullptr && input.is_contiguous(),
                                               input.rank(), input.rank() == 3 ? input.dim(2) : 0,
                                               p.input_size));
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  const std::int32_t hidden = p.hidden_size;
  constexpr float kGateScale = 1.0f / 4096.0f;  // Q3.12
  const float cell_scale = std::ldexp(1.0f, p.cell_exponent);
  const std::size_t first = add_lstm_intermediates(
      out, prefix, intermediate_at(batches, 0, steps, hidden), kGateScale, cell_scale);
  const auto h = static_cast<std::size_t>(hidden);
  std::vector<std::int16_t> state(h), cell(h);
  std::vector<Activation> output(h);
  std::vector<std::int32_t> scratch(lstm_step_scratch_size(hidden));
  const LstmIntegerWeights<Weight> weights = part.weights();
  for (std::int32_t b = 0; b < batches; ++b) {
    // The window's start, as take_integer_lstm_scratch sets it.
    std::fill(state.begin(), state.end(), static_cast<std::int16_t>(p.state_zero_point));
    std::fill(cell.begin(), cell.end(), std::int16_t{0});
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      TSQ_RETURN_IF_ERROR((reference::lstm_step<Activation, std::int16_t>(
          p, weights,
          Span<const Activation>(&input(b, t, 0), static_cast<std::size_t>(p.input_size)),
          Span<std::int16_t>(state), Span<std::int16_t>(cell), Span<Activation>(output),
          Span<std::int32_t>(scratch))));
      const Span<const std::int32_t> gates =
          reference::lstm_step_gate_pre_activations(Span<const std::int32_t>(scratch), hidden);
      const std::size_t at = intermediate_at(b, t, steps, hidden);
      for (std::size_t g = 0; g < static_cast<std::size_t>(kLstmGateCount); ++g) {
        for (std::size_t j = 0; j < h; ++j) {
          out[first + g].values[at + j] = static_cast<float>(gates[g * h + j]) * kGateScale;
        }
      }
      for (std::size_t j = 0; j < h; ++j) {
        out[first + kLstmGateCount].values[at + j] = static_cast<float>(cell[j]) * cell_scale;
      }
    }
  }
  return Status::ok();
}

// int8 or int16 activations with int8 or int16 weights; the recurrent state is int16 in every
// form tsq quantizes (int8 layers: tsq's int16 state; int16 layers: h itself).
template <typename Activation, typename Weight>
class QuantizedLstmLayer final : public QuantizedLayer {
 public:
  QuantizedLstmLayer(IntegerLstmPart<Weight> part, std::int32_t batch, std::int32_t steps)
      : part_(std::move(part)), batch_(batch), steps_(steps) {
    // int8 layers with int8 weights run the SIMD LSTM (kernels/simd/lstm.hpp, bit-identical to
    // the reference); its packed weights are shared by copies, being never written.
    if constexpr (std::is_same_v<Activation, std::int8_t> && std::is_same_v<Weight, std::int8_t>) {
      auto fast = simd::PreparedLstm::from_reference(part_.prepared.params(), part_.weights());
      if (fast.is_ok()) fast_ = std::make_shared<const simd::PreparedLstm>(std::move(fast).value());
    }
  }
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedLstmLayer>(*this);
  }
  std::size_t scratch_bytes() const override {
    const std::size_t integer = integer_lstm_scratch_bytes(batch_, steps_, part_.hidden_size, 1);
    return fast_ ? integer + scratch_bytes_for<std::int32_t>(simd_scratch_words()) : integer;
  }
  std::size_t exported_scratch_bytes() const override {
    return integer_lstm_scratch_bytes(batch_, steps_, part_.hidden_size, 1);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    const LstmParams* params[] = {&part_.prepared.params()};
    const IntegerLstmScratch buffers =
        take_integer_lstm_scratch(scratch, batch_, steps_, part_.hidden_size, params, 1);
    if (buffers.gates.data() == nullptr) {
      return Status::error(ErrorCode::buffer_too_small, "LSTM scratch");
    }
    if constexpr (std::is_same_v<Activation, std::int8_t> && std::is_same_v<Weight, std::int8_t>) {
      if (fast_) {
        // After the state and cell buffers; int32 words keep it 4-byte aligned.
        const std::size_t taken = integer_lstm_scratch_bytes(batch_, steps_, part_.hidden_size, 1);
        Span<std::byte> rest = scratch.size() > taken
                                   ? scratch.subspan(taken, scratch.size() - taken)
                                   : Span<std::byte>();
        const Span<std::int32_t> words = take_scratch<std::int32_t>(rest, simd_scratch_words());
        if (words.data() == nullptr) {
          return Status::error(ErrorCode::buffer_too_small, "LSTM scratch");
        }
        return fast_->run<std::int16_t>(
            inputs[0].view<const std::int8_t>(), output.view<std::int8_t>(), buffers.state,
            buffers.cell,
            Span<std::int8_t>(reinterpret_cast<std::int8_t*>(words.data()), 4 * words.size()));
      }
    }
    return reference::lstm<Activation, std::int16_t>(
        part_.prepared, part_.weights(), inputs[0].view<const Activation>(),
        output.view<Activation>(), buffers.state, buffers.cell, buffers.gates);
  }
  ParameterBytes parameter_bytes() const override { return part_.parameter_bytes(); }
  TensorQuantization output_quantization() const override { return part_.output; }
  bool multipliers_flush_to_zero() const override { return part_.multipliers_flush_to_zero(); }
  Status intermediates(Span<const AnyTensor> inputs,
                       std::vector<Intermediate>& out) const override {
    out.clear();
    if (inputs.size() != 1) return Status::error(ErrorCode::invalid_argument, "LSTM: one input");
    return integer_lstm_intermediates<Activation>(part_, inputs[0].view<const Activation>(), false,
                                                  "", out);
  }
  const IntegerLstmPart<Weight>& part() const { return part_; }
  // The window starts from the zero state, as run() does, in the layer's scratch: state and cell
  // (int16, batch x H each), then the gates (int32).
  Status emit(codegen::LayerCode& code) const override {
    const char* weight = codegen::cpp_type_of<Weight>();
    const char* activation = codegen::cpp_type_of<Activation>();
    const std::int32_t rows = kLstmGateCount * part_.hidden_size;
    const std::string input_weights = code.constants.array(
        code.id + "_input_weights",
        Span<const Weight>(part_.input_weights.data(), part_.input_weights.size()));
    const std::string recurrent_weights = code.constants.array(
        code.id + "_recurrent_weights",
        Span<const Weight>(part_.recurrent_weights.data(), part_.recurrent_weights.size()));
    const std::string bias = code.constants.array(
        code.id + "_bias", Span<const std::int32_t>(part_.bias.data(), part_.bias.size()));
    const std::string params =
        codegen::write_params(code.constants, code.id + "_params", part_.prepared.params());
    const std::size_t states =
        static_cast<std::size_t>(batch_) * static_cast<std::size_t>(part_.hidden_size);
    const std::size_t cell_at = (2 * states + 3) / 4 * 4;
    const std::size_t gates_at = (cell_at + 2 * states + 3) / 4 * 4;
    const std::size_t gates = lstm_scratch_size(steps_, part_.hidden_size);
    if (gates_at + 4 * gates > scratch_bytes()) {
      return Status::error(ErrorCode::buffer_too_small, "LSTM export: scratch layout");
    }
    const std::string n = std::to_string(states);
    code.include("tsq/kernels/reference/lstm.hpp");
    code.body += "  {\n    std::int16_t* state = reinterpret_cast<std::int16_t*>(" + code.scratch +
                 ");\n    std::int16_t* cell = reinterpret_cast<std::int16_t*>(" + code.scratch +
                 " + " + std::to_string(cell_at) +
                 ");\n    std::int32_t* gates = reinterpret_cast<std::int32_t*>(" + code.scratch +
                 " + " + std::to_string(gates_at) + ");\n    for (std::size_t i = 0; i < " + n +
                 "; ++i) {\n      state[i] = " + std::to_string(part_.prepared->state_zero_point) +
                 ";\n      cell[i] = 0;\n    }\n  ";
    code.call(std::string("(tsq::reference::lstm<") + activation + ", std::int16_t>(" + params +
              ", tsq::LstmIntegerWeights<" + weight + ">{tsq::TensorView<const " + weight + ">(" +
              input_weights + ", " + codegen::shape_literal(Shape{rows, part_.input_size}) +
              "), tsq::TensorView<const " + weight + ">(" + recurrent_weights + ", " +
              codegen::shape_literal(Shape{rows, part_.hidden_size}) +
              "), tsq::Span<const std::int32_t>(" + bias + ", " +
              std::to_string(part_.bias.size()) + ")}, " +
              code.input_view(0, code.input_shapes[0]) + ", " +
              code.output_view(code.output_shape) + ", tsq::Span<std::int16_t>(state, " + n +
              "), tsq::Span<std::int16_t>(cell, " + n + "), tsq::Span<std::int32_t>(gates, " +
              std::to_string(gates) + ")))");
    code.body += "  }\n";
    return Status::ok();
  }

 private:
  std::size_t simd_scratch_words() const { return (fast_->scratch_bytes(steps_) + 3) / 4; }

  IntegerLstmPart<Weight> part_;
  std::int32_t batch_;
  std::int32_t steps_;
  std::shared_ptr<const simd::PreparedLstm> fast_;
};

// One direction of a hybrid (DRQ) LSTM: int8 rows with per-row scales, float bias.
struct HybridLstmPart {
  std::int32_t input_size = 0;
  std::int32_t hidden_size = 0;
  PerChannelWeights<std::int8_t> input_weights;      // [4H, I]
  PerChannelWeights<std::int8_t> recurrent_weights;  // [4H, H]
  std::vector<float> bias;                           // [4H]
  Prepared<hybrid::LstmParams> prepared;

  hybrid::LstmWeights weights() const {
    const std::int32_t rows = kLstmGateCount * hidden_size;
    return hybrid::LstmWeights{
        TensorView<const std::int8_t>(input_weights.values.data(), Shape{rows, input_size}),
        TensorView<const std::int8_t>(recurrent_weights.values.data(), Shape{rows, hidden_size}),
        Span<const float>(input_weights.scales.data(), input_weights.scales.size()),
        Span<const float>(recurrent_weights.scales.data(), recurrent_weights.scales.size()),
        Span<const float>(bias.data(), bias.size())};
  }
  ParameterBytes parameter_bytes() const {
    ParameterBytes bytes;
    bytes.int8 = input_weights.values.size() + recurrent_weights.values.size();
    bytes.float32 = (bias.size() + input_weights.scales.size() + recurrent_weights.scales.size()) *
                    sizeof(float);
    return bytes;
  }
};

// Keras [depth, 4H] -> the kernels' gate rows [4H, depth].
inline std::vector<float> lstm_gate_rows(const std::vector<float>& keras, std::int32_t depth,
                                         std::int32_t rows) {
  std::vector<float> out(keras.size());
  for (std::int32_t r = 0; r < rows; ++r) {
    for (std::int32_t k = 0; k < depth; ++k) {
      out[static_cast<std::size_t>(r) * static_cast<std::size_t>(depth) +
          static_cast<std::size_t>(k)] =
          keras[static_cast<std::size_t>(k) * static_cast<std::size_t>(rows) +
                static_cast<std::size_t>(r)];
    }
  }
  return out;
}

inline Result<HybridLstmPart> make_hybrid_lstm_part(const std::vector<float>& kernel,
                                                    const std::vector<float>& recurrent_kernel,
                                                    const std::vector<float>& bias,
                                                    std::int32_t input_size,
                                                    std::int32_t hidden_size) {
  const std::int32_t rows = kLstmGateCount * hidden_size;
  HybridLstmPart part;
  part.input_size = input_size;
  part.hidden_size = hidden_size;
  auto input_weights = quantize_weights_per_channel<std::int8_t>(
      lstm_gate_rows(kernel, input_size, rows), {rows, input_size});
  if (!input_weights.is_ok()) return input_weights.status();
  auto recurrent_weights = quantize_weights_per_channel<std::int8_t>(
      lstm_gate_rows(recurrent_kernel, hidden_size, rows), {rows, hidden_size});
  if (!recurrent_weights.is_ok()) return recurrent_weights.status();
  part.input_weights = std::move(input_weights).value();
  part.recurrent_weights = std::move(recurrent_weights).value();
  part.bias = bias;
  auto prepared = hybrid::prepare_owned_lstm(part.weights());
  if (!prepared.is_ok()) return prepared.status();
  part.prepared = std::move(prepared).value();
  return part;
}

// Scratch of a hybrid window: float h and c per direction, one step's gates and quantized x, h.
constexpr std::size_t hybrid_lstm_scratch_bytes(std::int32_t batch, std::int32_t input,
                                                std::int32_t hidden, int directions) {
  const std::size_t states = static_cast<std::size_t>(directions) *
                             static_cast<std::size_t>(batch) * static_cast<std::size_t>(hidden);
  return 2 * scratch_bytes_for<float>(states) +
         scratch_bytes_for<float>(hybrid::lstm_gate_scratch_size(hidden)) +
         scratch_bytes_for<std::int8_t>(hybrid::lstm_quantized_scratch_size(input, hidden));
}

// hybrid::lstm_step over the window, recording the float z it leaves in its gate scratch and c.
inline Status hybrid_lstm_intermediates(const HybridLstmPart& part,
                                        const TensorView<const float>& input, bool reverse,
                                        const std::string& prefix, std::vector<Intermediate>& out) {
  TSQ_RETURN_IF_ERROR(check_intermediate_input(input.data() != nullptr && input.is_contiguous(),
                                               input.rank(), input.rank() == 3 ? input.dim(2) : 0,
                                               part.input_size));
  const std::int32_t batches = input.dim(0);
  const std::int32_t steps = input.dim(1);
  const std::int32_t hidden = part.hidden_size;
  const std::size_t first =
      add_lstm_intermediates(out, prefix, intermediate_at(batches, 0, steps, hidden), 0.0f, 0.0f);
  const auto h = static_cast<std::size_t>(hidden);
  std::vector<float> state(h), cell(h), z(hybrid::lstm_gate_scratch_size(hidden));
  std::vector<std::int8_t> quantized(hybrid::lstm_quantized_scratch_size(part.input_size, hidden));
  const hybrid::LstmWeights weights = part.weights();
  for (std::int32_t b = 0; b < batches; ++b) {
    std::fill(state.begin(), state.end(), 0.0f);
    std::fill(cell.begin(), cell.end(), 0.0f);
    for (std::int32_t s = 0; s < steps; ++s) {
      const std::int32_t t = reverse ? steps - 1 - s : s;
      TSQ_RETURN_IF_ERROR(hybrid::lstm_step(
          *part.prepared, weights,
          Span<const float>(&input(b, t, 0), static_cast<std::size_t>(part.input_size)),
          Span<float>(state), Span<float>(cell),
          hybrid::LstmScratch{Span<float>(z), Span<std::int8_t>(quantized)}));
      const std::size_t at = intermediate_at(b, t, steps, hidden);
      for (std::size_t g = 0; g < static_cast<std::size_t>(kLstmGateCount); ++g) {
        for (std::size_t j = 0; j < h; ++j) out[first + g].values[at + j] = z[g * h + j];
      }
      for (std::size_t j = 0; j < h; ++j) out[first + kLstmGateCount].values[at + j] = cell[j];
    }
  }
  return Status::ok();
}

// Runs the hybrid directions (forward, then time-reversed) into their halves of the output.
inline Status run_hybrid_lstm(const HybridLstmPart* const* directions, int direction_count,
                              std::int32_t batch, const TensorView<const float>& input,
                              const TensorView<float>& output, Span<std::byte> scratch) {
  const std::int32_t hidden = directions[0]->hidden_size;
  const std::size_t per_direction =
      static_cast<std::size_t>(batch) * static_cast<std::size_t>(hidden);
  const std::size_t states = static_cast<std::size_t>(direction_count) * per_direction;
  Span<float> h = take_scratch<float>(scratch, states);
  Span<float> c = take_scratch<float>(scratch, states);
  hybrid::LstmScratch step;
  step.gates = take_scratch<float>(scratch, hybrid::lstm_gate_scratch_size(hidden));
  step.quantized = take_scratch<std::int8_t>(
      scratch, hybrid::lstm_quantized_scratch_size(directions[0]->input_size, hidden));
  if (h.data() == nullptr || c.data() == nullptr || step.gates.data() == nullptr ||
      step.quantized.data() == nullptr) {
    return Status::error(ErrorCode::buffer_too_small, "LSTM scratch");
  }
  for (float& v : h) v = 0.0f;
  for (float& v : c) v = 0.0f;
  if (direction_count == 2) {
    TSQ_RETURN_IF_ERROR(tsq::detail::check_bidirectional_buffers(output, hidden, states, states));
  }
  for (int d = 0; d < direction_count; ++d) {
    const TensorView<float> half =
        direction_count == 1 ? output : tsq::detail::direction_half(output, hidden, d);
    const std::size_t at = static_cast<std::size_t>(d) * per_direction;
    TSQ_RETURN_IF_ERROR(hybrid::lstm(*directions[d]->prepared, directions[d]->weights(), input,
                                     half, h.subspan(at, per_direction),
                                     c.subspan(at, per_direction), step, d == 1));
  }
  return Status::ok();
}

class HybridLstmLayer final : public QuantizedLayer {
 public:
  HybridLstmLayer(HybridLstmPart part, std::int32_t batch)
      : part_(std::move(part)), batch_(batch) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<HybridLstmLayer>(*this);
  }
  std::size_t scratch_bytes() const override {
    return hybrid_lstm_scratch_bytes(batch_, part_.input_size, part_.hidden_size, 1);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> scratch) const override {
    const HybridLstmPart* parts[] = {&part_};
    return run_hybrid_lstm(parts, 1, batch_, inputs[0].view<const float>(), output.view<float>(),
                           scratch);
  }
  ParameterBytes parameter_bytes() const override { return part_.parameter_bytes(); }
  TensorQuantization output_quantization() const override {
    return TensorQuantization{DataType::float32, QuantParams{}};
  }
  Status intermediates(Span<const AnyTensor> inputs,
                       std::vector<Intermediate>& out) const override {
    out.clear();
    if (inputs.size() != 1) return Status::error(ErrorCode::invalid_argument, "LSTM: one input");
    return hybrid_lstm_intermediates(part_, inputs[0].view<const float>(), false, "", out);
  }

 private:
  HybridLstmPart part_;
  std::int32_t batch_;
};

}  // namespace detail

class Bidirectional;

class LSTM final : public Layer {
 public:
  LSTM(std::string name, std::int32_t units) : Layer(std::move(name)), units_(units) {}

  LSTM& return_sequences(bool sequences) {
    return_sequences_ = sequences;
    return *this;
  }
  LSTM& layout(WeightLayout layout) {
    layout_ = layout;
    return *this;
  }
  // |c| limit of the integer forms (0: none).
  LSTM& cell_clip(float clip) {
    cell_clip_ = clip;
    return *this;
  }
  // Weights given directly, in the declared layout: keras kernel (I, 4H), recurrent_kernel
  // (H, 4H); pytorch weight_ih (4H, I), weight_hh (4H, H); bias (4H; pytorch: b_ih + b_hh).
  Status set_weights(const std::vector<float>& kernel, const std::vector<float>& recurrent_kernel,
                     const std::vector<float>& bias) {
    if (input_size_ < 1)
      return layer_error(ErrorCode::invalid_argument, "add the layer to a model first");
    if (layout_ == WeightLayout::tflite) return tflite_layout_error();
    const auto rows = static_cast<std::size_t>(kLstmGateCount * units_);
    if (kernel.size() != rows * static_cast<std::size_t>(input_size_) ||
        recurrent_kernel.size() != rows * static_cast<std::size_t>(units_) || bias.size() != rows) {
      return layer_error(ErrorCode::shape_mismatch, "weights have the wrong number of values");
    }
    set_from(kernel.data(), recurrent_kernel.data(), bias.data(), nullptr);
    return Status::ok();
  }

  const char* kind() const override { return "LSTM"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<LSTM>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (units_ < 1) return layer_error(ErrorCode::invalid_argument, "units must be >= 1");
    if (input.rank() != 3) {
      return layer_error(ErrorCode::shape_mismatch, "input must be [1, time, features]");
    }
    const Status steps = tsq::detail::check_lstm_steps(input[1]);
    if (!steps.is_ok()) return with_layer(steps);
    if (input[2] < 1) return layer_error(ErrorCode::shape_mismatch, "input has no features");
    if (input_size_ > 0 && input[2] != input_size_ && loaded_) {
      return layer_error(ErrorCode::shape_mismatch, "input features differ from the weights'");
    }
    batch_ = input[0];
    steps_ = input[1];
    input_size_ = input[2];
    return return_sequences_ ? Shape{batch_, steps_, units_} : Shape{batch_, units_};
  }

  Status load_weights(const io::NpzFile& archive, const WeightNaming& naming) override {
    if (layout_ == WeightLayout::tflite) return tflite_layout_error();
    const auto in = static_cast<std::size_t>(input_size_);
    const auto h = static_cast<std::size_t>(units_);
    const std::size_t rows = static_cast<std::size_t>(kLstmGateCount) * h;
    const bool keras = layout_ == WeightLayout::keras;
    const Result<const io::NpyArray*> kernel = find_weight(
        archive, naming.member(name(), keras ? "kernel" : "weight_ih"),
        keras ? std::vector<std::size_t>{in, rows} : std::vector<std::size_t>{rows, in}, layout_);
    if (!kernel.is_ok()) return with_layer(kernel.status());
    const Result<const io::NpyArray*> recurrent = find_weight(
        archive, naming.member(name(), keras ? "recurrent_kernel" : "weight_hh"),
        keras ? std::vector<std::size_t>{h, rows} : std::vector<std::size_t>{rows, h}, layout_);
    if (!recurrent.is_ok()) return with_layer(recurrent.status());
    const Result<const io::NpyArray*> bias =
        find_weight(archive, naming.member(name(), keras ? "bias" : "bias_ih"), {rows}, layout_);
    if (!bias.is_ok()) return with_layer(bias.status());
    const float* second_bias = nullptr;
    if (!keras) {
      const Result<const io::NpyArray*> bias_hh =
          find_weight(archive, naming.member(name(), "bias_hh"), {rows}, layout_);
      if (!bias_hh.is_ok()) return with_layer(bias_hh.status());
      second_bias = (*bias_hh)->data<float>();
    }
    set_from((*kernel)->data<float>(), (*recurrent)->data<float>(), (*bias)->data<float>(),
             second_bias);
    return Status::ok();
  }
  bool weights_loaded() const override { return loaded_; }
  std::size_t parameter_count() const override {
    return kernel_.size() + recurrent_kernel_.size() + bias_.size() + kernel_half_.values.size() +
           recurrent_half_.values.size();
  }

  std::int32_t units() const { return units_; }
  std::int32_t input_size() const { return input_size_; }
  std::int32_t steps() const { return steps_; }
  bool returns_sequences() const { return return_sequences_; }
  float clip() const { return cell_clip_; }
  WeightLayout weight_layout() const { return layout_; }
  const std::vector<float>& kernel() const { return kernel_; }                      // (I, 4H)
  const std::vector<float>& recurrent_kernel() const { return recurrent_kernel_; }  // (H, 4H)
  const std::vector<float>& bias() const { return bias_; }                          // (4H)
  // The float kernel's view of the weights (float32 layers only, not the half twin).
  floating::LstmWeights float_weights() const {
    return weights_at(kernel_.data(), recurrent_kernel_.data());
  }

  std::size_t float_scratch_bytes(Span<const Shape> inputs) const override {
    const std::int32_t batch = inputs.size() > 0 && inputs[0].rank() == 3 ? inputs[0][0] : 0;
    const std::size_t state = static_cast<std::size_t>(batch > 0 ? batch : 0) *
                              static_cast<std::size_t>(units_ > 0 ? units_ : 0);
    const std::int32_t steps = inputs.size() > 0 && inputs[0].rank() == 3 ? inputs[0][1] : 0;
    std::size_t bytes = 2 * detail::scratch_bytes_for<float>(state) +
                        detail::scratch_bytes_for<float>(
                            detail::float_lstm_scratch_floats(steps > 0 ? steps : 0, units_));
    if (half_) {
      bytes += detail::scratch_bytes_for<float>(kernel_half_.values.size()) +
               detail::scratch_bytes_for<float>(recurrent_half_.values.size());
    }
    return bytes;
  }
  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> scratch, LayerCalibration* calibration) const override {
    // The model only hands a layer the record that layer made.
    LstmRangeObserver* observer =
        calibration == nullptr ? nullptr : &static_cast<LstmCalibration*>(calibration)->ranges;
    return run_direction(inputs[0], output, scratch, false, observer);
  }

  Status float_intermediates(Span<const TensorView<const float>> inputs,
                             std::vector<Intermediate>& out) const override {
    out.clear();
    if (inputs.size() != 1) return layer_error(ErrorCode::invalid_argument, "needs one input");
    return with_layer(direction_intermediates(inputs[0], false, "", out));
  }

  std::unique_ptr<LayerCalibration> make_calibration() const override {
    return std::make_unique<LstmCalibration>();
  }

  bool supports(Precision /*precision*/) const override { return true; }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;

  // The float16-weight twin: both kernels rounded to half and decoded at each run.
  LSTM with_half_weights() const {
    LSTM twin(*this);
    twin.kernel_half_ = HalfWeights::from(kernel_);
    twin.recurrent_half_ = HalfWeights::from(recurrent_kernel_);
    twin.half_ = true;
    twin.kernel_.clear();
    twin.recurrent_kernel_.clear();
    return twin;
  }
  ParameterBytes stored_parameter_bytes() const override {
    if (!half_) return Layer::stored_parameter_bytes();
    ParameterBytes bytes;
    bytes.float16 =
        (kernel_half_.values.size() + recurrent_half_.values.size()) * sizeof(std::uint16_t);
    bytes.float32 = bias_.size() * sizeof(float);
    return bytes;
  }

  // The same settings and weights under another name (the directions of a Bidirectional).
  LSTM renamed(std::string name) const {
    LSTM twin(std::move(name), units_);
    twin.return_sequences_ = return_sequences_;
    twin.layout_ = layout_;
    twin.cell_clip_ = cell_clip_;
    twin.loaded_ = loaded_;
    twin.batch_ = batch_;
    twin.steps_ = steps_;
    twin.input_size_ = input_size_;
    twin.kernel_ = kernel_;
    twin.recurrent_kernel_ = recurrent_kernel_;
    twin.bias_ = bias_;
    twin.half_ = half_;
    twin.kernel_half_ = kernel_half_;
    twin.recurrent_half_ = recurrent_half_;
    return twin;
  }

  // One pass over the window (time reversed for a Bidirectional's backward direction) into
  // `output`, which may be a strided half of a wider tensor. Zero initial state.
  Status run_direction(const TensorView<const float>& input, const TensorView<float>& output,
                       Span<std::byte> scratch, bool reverse, LstmRangeObserver* observer) const {
    const float* kernel = kernel_.data();
    const float* recurrent = recurrent_kernel_.data();
    if (half_) {
      Span<float> k = detail::take_scratch<float>(scratch, kernel_half_.values.size());
      Span<float> r = detail::take_scratch<float>(scratch, recurrent_half_.values.size());
      if (k.data() == nullptr || r.data() == nullptr) {
        return layer_error(ErrorCode::buffer_too_small, "scratch");
      }
      kernel_half_.decode(k.data());
      recurrent_half_.decode(r.data());
      kernel = k.data();
      recurrent = r.data();
    }
    const std::size_t state = static_cast<std::size_t>(input.rank() == 3 ? input.dim(0) : 0) *
                              static_cast<std::size_t>(units_);
    Span<float> hidden = detail::take_scratch<float>(scratch, state);
    Span<float> cell = detail::take_scratch<float>(scratch, state);
    const std::int32_t steps = input.rank() == 3 ? input.dim(1) : 0;
    Span<float> gates = detail::take_scratch<float>(
        scratch, detail::float_lstm_scratch_floats(steps > 0 ? steps : 0, units_));
    if (hidden.data() == nullptr || cell.data() == nullptr || gates.data() == nullptr) {
      return layer_error(ErrorCode::buffer_too_small, "scratch");
    }
    for (float& v : hidden) v = 0.0f;
    for (float& v : cell) v = 0.0f;
    return with_layer(detail::float_lstm(weights_at(kernel, recurrent), input, output, hidden, cell,
                                         gates, reverse, observer));
  }

 private:
  friend class Bidirectional;

  // One direction's intermediates appended to `out` (floating::lstm_step with the weights the
  // run uses: a float16 twin decodes its half kernels first).
  Status direction_intermediates(const TensorView<const float>& input, bool reverse,
                                 const std::string& prefix, std::vector<Intermediate>& out) const {
    if (!half_) {
      return detail::float_lstm_intermediates(float_weights(), input, reverse, prefix, out);
    }
    std::vector<float> kernel(kernel_half_.values.size());
    std::vector<float> recurrent(recurrent_half_.values.size());
    kernel_half_.decode(kernel.data());
    recurrent_half_.decode(recurrent.data());
    return detail::float_lstm_intermediates(weights_at(kernel.data(), recurrent.data()), input,
                                            reverse, prefix, out);
  }

  Status tflite_layout_error() const {
    return layer_error(ErrorCode::unsupported_format,
                       "weights come in keras or pytorch layout, not tflite");
  }
  floating::LstmWeights weights_at(const float* kernel, const float* recurrent) const {
    const std::int32_t gates = kLstmGateCount * units_;
    return floating::LstmWeights{TensorView<const float>(kernel, Shape{input_size_, gates}),
                                 TensorView<const float>(recurrent, Shape{units_, gates}),
                                 Span<const float>(bias_.data(), bias_.size())};
  }
  // Stores the weights in Keras layout; pytorch rows are transposed, its two biases summed.
  void set_from(const float* kernel, const float* recurrent, const float* bias,
                const float* second_bias) {
    const auto in = static_cast<std::size_t>(input_size_);
    const auto h = static_cast<std::size_t>(units_);
    const std::size_t rows = static_cast<std::size_t>(kLstmGateCount) * h;
    kernel_.assign(in * rows, 0.0f);
    recurrent_kernel_.assign(h * rows, 0.0f);
    bias_.assign(bias, bias + rows);
    if (second_bias != nullptr) {
      for (std::size_t r = 0; r < rows; ++r) bias_[r] += second_bias[r];
    }
    const bool keras = layout_ == WeightLayout::keras;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t k = 0; k < in; ++k)
        kernel_[k * rows + r] = keras ? kernel[k * rows + r] : kernel[r * in + k];
      for (std::size_t k = 0; k < h; ++k) {
        recurrent_kernel_[k * rows + r] = keras ? recurrent[k * rows + r] : recurrent[r * h + k];
      }
    }
    half_ = false;
    kernel_half_ = HalfWeights{};
    recurrent_half_ = HalfWeights{};
    loaded_ = true;
  }

  std::int32_t units_ = 0;
  bool return_sequences_ = false;
  WeightLayout layout_ = WeightLayout::keras;
  float cell_clip_ = 0.0f;
  bool loaded_ = false;
  std::int32_t batch_ = 0;
  std::int32_t steps_ = 0;
  std::int32_t input_size_ = 0;
  std::vector<float> kernel_;            // (I, 4H)
  std::vector<float> recurrent_kernel_;  // (H, 4H)
  std::vector<float> bias_;              // (4H)
  bool half_ = false;
  HalfWeights kernel_half_;
  HalfWeights recurrent_half_;
};

namespace detail {

inline Status needs_lstm_calibration(const LayerQuantizationRequest& request) {
  const auto* record = static_cast<const LstmCalibration*>(request.calibration);
  if (record == nullptr || record->ranges.input.count == 0) {
    return Status::error(ErrorCode::invalid_argument, "LSTM needs calibration");
  }
  return Status::ok();
}

inline LstmQuantizerOptions lstm_quantizer_options(Precision precision, RoundingMode rounding,
                                                   float cell_clip) {
  LstmQuantizerOptions options;
  options.activation_type =
      precision == Precision::int16_activations ? DataType::int16 : DataType::int8;
  options.rounding = rounding;
  options.cell_clip = cell_clip;
  return options;
}

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> LSTM::quantize(
    const LayerQuantizationRequest& request) const {
  TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
  if (request.inputs.size() != 1)
    return layer_error(ErrorCode::invalid_argument, "request needs one input");
  if (!loaded_ || half_) return layer_error(ErrorCode::invalid_argument, "has no weights");
  switch (request.precision) {
    case Precision::float32:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<LSTM>>(*this));
    case Precision::float16_weights:
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<FloatFallback<LSTM>>(with_half_weights()));
    case Precision::dynamic_int8: {
      auto part =
          detail::make_hybrid_lstm_part(kernel_, recurrent_kernel_, bias_, input_size_, units_);
      if (!part.is_ok()) return with_layer(part.status());
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<detail::HybridLstmLayer>(std::move(part).value(), batch_));
    }
    case Precision::int8:
    case Precision::int16_activations:
    case Precision::int16_weights: break;
  }
  const Status calibrated = detail::needs_lstm_calibration(request);
  if (!calibrated.is_ok()) return with_layer(calibrated);
  const LstmRangeObserver& ranges =
      static_cast<const LstmCalibration*>(request.calibration)->ranges;
  LstmQuantizerOptions options =
      detail::lstm_quantizer_options(request.precision, request.rounding, cell_clip_);
  // Data-aware rounding (GPTQ, in activation order: on the DeepConvLSTM's first LSTM it took
  // rmse/scale from 2.33 to 0.63, against 1.41 in input order) and bias correction need the
  // layer's float inputs that calibration kept.
  LstmRoundingData rounding_data;
  if (request.data_aware_rounding || request.bias_correction) {
    if (request.calibration_inputs == nullptr || request.calibration_inputs->empty()) {
      return layer_error(ErrorCode::invalid_argument,
                         "data-aware rounding needs the calibration inputs (keep_inputs)");
    }
    for (const std::vector<float>& window : *request.calibration_inputs) {
      TSQ_RETURN_IF_ERROR(with_layer(observe_lstm_rounding_data(
          float_weights(),
          TensorView<const float>(Span<const float>(window.data(), window.size()),
                                  Shape{batch_, steps_, input_size_}),
          rounding_data)));
    }
    options.data_aware_rounding = request.data_aware_rounding;
    options.bias_correction = request.bias_correction;
    options.weight_rounding.activation_order = true;
    options.rounding_data = &rounding_data;
  }
  const QuantParams& input = request.inputs[0].params;
  if (request.precision == Precision::int16_weights) {
    auto part =
        detail::make_integer_lstm_part<std::int16_t>(float_weights(), ranges, options, input);
    if (!part.is_ok()) return with_layer(part.status());
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<detail::QuantizedLstmLayer<std::int8_t, std::int16_t>>(
            std::move(part).value(), batch_, steps_));
  }
  auto part = detail::make_integer_lstm_part<std::int8_t>(float_weights(), ranges, options, input);
  if (!part.is_ok()) return with_layer(part.status());
  if (request.precision == Precision::int16_activations) {
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<detail::QuantizedLstmLayer<std::int16_t, std::int8_t>>(
            std::move(part).value(), batch_, steps_));
  }
  return std::unique_ptr<QuantizedLayer>(
      std::make_unique<detail::QuantizedLstmLayer<std::int8_t, std::int8_t>>(
          std::move(part).value(), batch_, steps_));
}

}  // namespace nn
}  // namespace tsq
