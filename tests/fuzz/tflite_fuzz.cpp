// SPDX-License-Identifier: Apache-2.0
// Fuzz target of tsq::io::parse_tflite and of the import above it: any byte string gives a model
// or an error Status, never a crash, an out-of-bounds access or undefined behaviour. An accepted
// model must hold what the reader promises (indices in range, buffers the size of their tensors);
// it is then imported as a float and as an int8 model, and an imported model small enough to
// run quickly runs once on a zero input, so that shapes and parameters a file can state are
// checked all the way down to the kernels.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "tsq/import/tflite_model.hpp"
#include "tsq/io/tflite.hpp"

namespace {

// A run is tried when its arena is small and a bound on its operations stays in the tens of
// millions, far from libFuzzer's time limit even under the sanitizers. The bound per layer is
// its output size times its parameter count or (for pooling and the like, whose windows are
// clipped to the input) its input size.
constexpr std::size_t kMaxArenaBytes = 16 * 1024;
constexpr std::size_t kMaxOperations = std::size_t{1} << 25;

bool cheap_to_run(const tsq::nn::Model& model, std::size_t arena_bytes) {
  if (arena_bytes > kMaxArenaBytes) return false;
  std::size_t operations = 0;
  for (std::size_t n = 0; n < model.node_count(); ++n) {
    const std::size_t outputs =
        model.tensors()[static_cast<std::size_t>(model.node_output(n))].shape.element_count();
    std::size_t per_output = model.layer(n).parameter_count();
    for (const tsq::nn::TensorId input : model.node_inputs(n)) {
      const std::size_t size =
          model.tensors()[static_cast<std::size_t>(input)].shape.element_count();
      per_output = per_output > size ? per_output : size;
    }
    if (per_output != 0 && outputs > kMaxOperations / per_output) return false;
    operations += outputs * per_output;
    if (operations > kMaxOperations) return false;
  }
  return true;
}

void check_model(const tsq::io::TfliteModel& model) {
  const std::size_t tensors = model.tensors.size();
  for (const tsq::io::TfliteOperator& op : model.operators) {
    TSQ_FUZZ_CHECK(op.opcode_index < model.operator_codes.size());
    for (const std::int32_t i : op.inputs)
      TSQ_FUZZ_CHECK(i >= -1 && i < static_cast<std::int32_t>(tensors));
    for (const std::int32_t i : op.outputs)
      TSQ_FUZZ_CHECK(i >= 0 && i < static_cast<std::int32_t>(tensors));
    TSQ_FUZZ_CHECK(tsq::io::tflite_builtin_name(op.opcode) != nullptr);
  }
  for (const std::int32_t i : model.inputs)
    TSQ_FUZZ_CHECK(i >= 0 && i < static_cast<std::int32_t>(tensors));
  for (std::size_t i = 0; i < tensors; ++i) {
    const tsq::io::TfliteTensor& tensor = model.tensors[i];
    TSQ_FUZZ_CHECK(tensor.quantization.scale.size() == tensor.quantization.zero_point.size());
    const std::size_t size = tsq::io::tflite_tensor_type_size(tensor.type);
    if (model.has_data(i) && size != 0) {
      TSQ_FUZZ_CHECK(model.tensor_bytes(i).size() == tensor.element_count() * size);
    }
  }
}

void run_float(const tsq::nn::Model& model) {
  if (!cheap_to_run(model, model.arena_bytes())) return;
  std::vector<float> input(model.input_size(), 0.0f), output(model.output_size());
  std::vector<std::byte> arena(model.arena_bytes());
  const tsq::Status status = model.run(input, output, arena);
  if (!status.is_ok()) tsq_fuzz::check_error(status);
}

void run_quantized(const tsq::QuantizedModel& model) {
  if (!cheap_to_run(model.float_model(), model.arena_bytes())) return;
  std::vector<std::byte> arena(model.arena_bytes());
  tsq::Status status;
  if (model.input_quantization().type == tsq::DataType::float32) {
    std::vector<float> input(model.input_size(), 0.0f), output(model.output_size());
    status = model.run(input, output, arena);
  } else {
    std::vector<std::int8_t> input(model.input_size(), 0), output(model.output_size());
    status = model.run(tsq::Span<const std::int8_t>(input), tsq::Span<std::int8_t>(output), arena);
  }
  if (!status.is_ok()) tsq_fuzz::check_error(status);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const tsq::Result<tsq::io::TfliteModel> model = tsq::io::parse_tflite(data, size);
  if (!model.is_ok()) {
    tsq_fuzz::check_error(model.status());
    return 0;
  }
  check_model(model.value());
  const tsq::Result<tsq::nn::Model> float_model = tsq::import_tflite_float(model.value());
  if (float_model.is_ok()) {
    run_float(float_model.value());
  } else {
    tsq_fuzz::check_error(float_model.status());
  }
  const tsq::Result<tsq::QuantizedModel> int8_model = tsq::import_tflite_int8(model.value());
  if (int8_model.is_ok()) {
    run_quantized(int8_model.value());
  } else {
    tsq_fuzz::check_error(int8_model.status());
  }
  return 0;
}
