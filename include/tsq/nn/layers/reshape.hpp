// SPDX-License-Identifier: Apache-2.0
// Layers that move elements without changing them, for every element type (float, int8,
// int16) and every precision; a quantized tensor keeps its scale and zero point
// (passes_quantization_through()).
//   Reshape("r", {a, -1})  [1, ...] -> [1, a, n / a]: the target excludes the batch axis, as in
//                          Keras; one -1 is inferred from the element count
//   Flatten("f")           [1, d1, ..., dn] -> [1, d1 * ... * dn]
//   LastStep("s")          [1, T, C] -> [1, C]: the last time step (e.g. after an LSTM with
//                          return_sequences, where Keras would slice x[:, -1, :])
// Each copies its bytes into the output tensor (the model gives every tensor its own place).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/kernels/reference/reshape.hpp"
#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"

namespace tsq {
namespace nn {

namespace detail {

// Which input elements go to the output, in order: `blocks` runs of `block` elements, run b
// read from offset + b * stride (a reshape is one run of every element).
struct CopyPlan {
  std::size_t input_elements = 0;
  std::size_t output_elements = 0;
  std::size_t blocks = 0;
  std::size_t block = 0;
  std::size_t offset = 0;
  std::size_t stride = 0;
};

inline CopyPlan whole_copy(const Shape& input) {
  const std::size_t count = input.element_count();
  return CopyPlan{count, count, 1, count, 0, 0};
}

inline Status copy_elements(const CopyPlan& plan, const void* input, DataType input_type,
                            std::size_t input_count, void* output, DataType output_type,
                            std::size_t output_count) {
  if (input == nullptr || output == nullptr) {
    return Status::error(ErrorCode::invalid_argument, "copy: null tensor");
  }
  if (input_type != output_type) {
    return Status::error(ErrorCode::unsupported_type, "copy: input is ")
        .append(data_type_name(input_type))
        .append(", output ")
        .append(data_type_name(output_type));
  }
  if (input_count != plan.input_elements || output_count != plan.output_elements) {
    return Status::error(ErrorCode::shape_mismatch, "copy: tensor sizes differ from the layer's");
  }
  const std::size_t size = data_type_size(input_type);
  const auto* from = static_cast<const std::byte*>(input);
  auto* to = static_cast<std::byte*>(output);
  for (std::size_t b = 0; b < plan.blocks; ++b) {
    // memmove: a model may place a reshape's output over its input.
    std::memmove(to + b * plan.block * size, from + (plan.offset + b * plan.stride) * size,
                 plan.block * size);
  }
  return Status::ok();
}

// The quantized form of every copying layer: the output is the input's type and parameters.
class QuantizedCopy final : public QuantizedLayer {
 public:
  QuantizedCopy(const CopyPlan& plan, TensorQuantization output) : plan_(plan), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedCopy>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    if (inputs[0].type != output_.type) {
      return Status::error(ErrorCode::unsupported_type, "copy: input is not ")
          .append(data_type_name(output_.type));
    }
    return copy_elements(plan_, inputs[0].data, inputs[0].type, inputs[0].shape.element_count(),
                         output.data, output.type, output.shape.element_count());
  }
  TensorQuantization output_quantization() const override { return output_; }
  // One block (Reshape, Flatten, LastStep): the output is a run of the input's elements.
  std::optional<std::size_t> output_aliases_input() const override {
    if (plan_.blocks != 1) return std::nullopt;
    return plan_.offset;
  }

 private:
  CopyPlan plan_;
  TensorQuantization output_;
};

// What Reshape, Flatten and LastStep share: float run, quantize, precisions.
class CopyLayer : public Layer {
 public:
  using Layer::Layer;

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    if (!inputs[0].is_contiguous() || !output.is_contiguous()) {
      return layer_error(ErrorCode::invalid_argument, "needs contiguous tensors");
    }
    return with_layer(copy_elements(plan_, inputs[0].data(), DataType::float32,
                                    inputs[0].element_count(), output.data(), DataType::float32,
                                    output.element_count()));
  }
  bool supports(Precision /*precision*/) const override { return true; }
  bool passes_quantization_through() const override { return true; }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override {
    TSQ_RETURN_IF_ERROR(check_request_types(*this, request));
    if (request.inputs.size() != 1) {
      return layer_error(ErrorCode::invalid_argument, "request needs one input");
    }
    return std::unique_ptr<QuantizedLayer>(
        std::make_unique<QuantizedCopy>(plan_, request.inputs[0]));
  }

 protected:
  CopyPlan plan_;
};

}  // namespace detail

class Reshape final : public detail::CopyLayer {
 public:
  // `target`: the dimensions after the batch axis, at most one -1.
  Reshape(std::string name, std::vector<std::int32_t> target)
      : CopyLayer(std::move(name)), target_(std::move(target)) {}

  const char* kind() const override { return "Reshape"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Reshape>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (input.rank() < 1) return layer_error(ErrorCode::shape_mismatch, "input has no batch axis");
    std::vector<std::int32_t> dims = {input[0]};
    dims.insert(dims.end(), target_.begin(), target_.end());
    const Result<Shape> shape =
        reshape_output_shape(input, Span<const std::int32_t>(dims.data(), dims.size()));
    if (!shape.is_ok()) return with_layer(shape.status());
    plan_ = detail::whole_copy(input);
    return shape;
  }

  const std::vector<std::int32_t>& target() const { return target_; }

 private:
  std::vector<std::int32_t> target_;
};

class Flatten final : public detail::CopyLayer {
 public:
  explicit Flatten(std::string name) : CopyLayer(std::move(name)) {}

  const char* kind() const override { return "Flatten"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Flatten>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Result<Shape> shape = flatten_output_shape(inputs[0]);
    if (!shape.is_ok()) return with_layer(shape.status());
    plan_ = detail::whole_copy(inputs[0]);
    return shape;
  }
};

class LastStep final : public detail::CopyLayer {
 public:
  explicit LastStep(std::string name) : CopyLayer(std::move(name)) {}

  const char* kind() const override { return "LastStep"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<LastStep>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (input.rank() != 3)
      return layer_error(ErrorCode::shape_mismatch, "input must be [1, time, channels]");
    if (input[1] < 1) return layer_error(ErrorCode::shape_mismatch, "input has no time step");
    const auto batch = static_cast<std::size_t>(input[0]);
    const auto steps = static_cast<std::size_t>(input[1]);
    const auto channels = static_cast<std::size_t>(input[2]);
    plan_ = detail::CopyPlan{input.element_count(),  batch * channels, batch, channels,
                             (steps - 1) * channels, steps * channels};
    return Shape{input[0], input[2]};
  }
};

}  // namespace nn
}  // namespace tsq
