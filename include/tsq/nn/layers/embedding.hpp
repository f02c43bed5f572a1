// SPDX-License-Identifier: Apache-2.0
// Embedding: token ids [1, T] -> vectors [1, T, D], row id of the table. The ids arrive as float
// values (the model's input is float): each must be an exact integer in [0, vocabulary), else
// the run fails (invalid_argument) rather than reading outside the table.
//
// Weight: "embeddings" (vocabulary, D) in every layout (Keras' Embedding.embeddings; PyTorch's
// nn.Embedding.weight has the same shape: save it under "<name>.embeddings").
//
// The input stays float32 in every precision, so a quantized request carries a float32 input
// even where activation_type(precision) is an integer type (check_request_types would refuse
// it: the layer checks its request itself). Quantized forms:
//   int8               the table quantized per tensor, asymmetric, from its own min/max; rows
//                      are copied, so the output parameters are the table's (not the
//                      request's): output_quantization() reports them
//   int16_activations  the same with a symmetric int16 table (zero point 0)
//   float16_weights    the table stored as IEEE half, rows decoded into the output
//   float32, dynamic_int8  the float table
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tsq/nn/layer.hpp"
#include "tsq/nn/weights.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

namespace tsq {
namespace nn {

namespace detail {

// The table row of one id, or why there is none.
inline Status embedding_row(float id, std::int32_t vocabulary, std::size_t step, std::size_t& row) {
  if (!std::isfinite(id) || id != std::floor(id) || id < 0.0f ||
      id >= static_cast<float>(vocabulary)) {
    return Status::error(ErrorCode::invalid_argument, "token id at step ")
        .append(step)
        .append(" is not an integer in [0, ")
        .append(vocabulary)
        .append(")");
  }
  row = static_cast<std::size_t>(id);
  return Status::ok();
}

// Checks every id before writing anything, then copies the rows (`copy_row(row, step)`).
// `ids` is null when the tensor is not float32.
template <typename CopyRow>
Status gather_rows(Span<const float> ids, std::int32_t vocabulary, CopyRow copy_row) {
  if (ids.data() == nullptr) {
    return Status::error(ErrorCode::unsupported_type, "Embedding ids must be float32");
  }
  std::size_t row = 0;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    TSQ_RETURN_IF_ERROR(embedding_row(ids[t], vocabulary, t, row));
  }
  for (std::size_t t = 0; t < ids.size(); ++t) {
    row = static_cast<std::size_t>(ids[t]);
    copy_row(row, t);
  }
  return Status::ok();
}

}  // namespace detail

class Embedding final : public Layer {
 public:
  Embedding(std::string name, std::int32_t vocabulary, std::int32_t dimension)
      : Layer(std::move(name)), vocabulary_(vocabulary), dimension_(dimension) {}

  // The table given directly: (vocabulary, D), row-major.
  Status set_weights(const std::vector<float>& embeddings) {
    if (embeddings.size() != table_size()) {
      return layer_error(ErrorCode::shape_mismatch,
                         "table must hold vocabulary * dimension values");
    }
    table_ = embeddings;
    half_ = false;
    table_half_ = HalfWeights{};
    loaded_ = true;
    return Status::ok();
  }

  const char* kind() const override { return "Embedding"; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Embedding>(*this); }

  Result<Shape> configure(Span<const Shape> inputs) override {
    const Shape& input = inputs[0];
    if (vocabulary_ < 1 || dimension_ < 1) {
      return layer_error(ErrorCode::invalid_argument, "vocabulary and dimension must be >= 1");
    }
    if (input.rank() != 2 || input[1] < 1) {
      return layer_error(ErrorCode::shape_mismatch, "input must be token ids [1, time]");
    }
    return Shape{input[0], input[1], dimension_};
  }

  Status load_weights(const io::NpzFile& archive, const WeightNaming& naming) override {
    const Result<const io::NpyArray*> table =
        find_weight(archive, naming.member(name(), "embeddings"),
                    {static_cast<std::size_t>(vocabulary_), static_cast<std::size_t>(dimension_)},
                    WeightLayout::keras);
    if (!table.is_ok()) return with_layer(table.status());
    return set_weights(
        std::vector<float>((*table)->data<float>(), (*table)->data<float>() + table_size()));
  }
  bool weights_loaded() const override { return loaded_; }
  std::size_t parameter_count() const override { return table_size(); }

  std::int32_t vocabulary() const { return vocabulary_; }
  std::int32_t dimension() const { return dimension_; }
  const std::vector<float>& embeddings() const { return table_; }

  Status run_float(Span<const TensorView<const float>> inputs, const TensorView<float>& output,
                   Span<std::byte> /*scratch*/, LayerCalibration* /*calibration*/) const override {
    const TensorView<const float>& ids = inputs[0];
    if (!ids.is_valid() || !ids.is_contiguous()) {
      return layer_error(ErrorCode::unsupported_type, "ids must be a float32 [1, time] tensor");
    }
    const auto d = static_cast<std::size_t>(dimension_);
    if (!output.is_valid() || !output.is_contiguous() ||
        output.element_count() != ids.element_count() * d) {
      return layer_error(ErrorCode::shape_mismatch, "output must be [1, time, dimension]");
    }
    float* out = output.data();
    return with_layer(detail::gather_rows(
        Span<const float>(ids.data(), ids.element_count()), vocabulary_,
        [&](std::size_t row, std::size_t t) {
          if (half_) {
            for (std::size_t i = 0; i < d; ++i) {
              out[t * d + i] = half_to_float(table_half_.values[row * d + i]);
            }
          } else {
            std::memcpy(out + t * d, table_.data() + row * d, d * sizeof(float));
          }
        }));
  }

  // Token ids stay float32 whatever the precision: the model converts nothing in front of it.
  DataType input_type(std::size_t /*index*/, Precision /*precision*/) const override {
    return DataType::float32;
  }
  bool supports(Precision precision) const override {
    return precision != Precision::int16_weights;
  }
  Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const override;

  // The float16 twin: the table kept as IEEE half.
  Embedding with_half_weights() const {
    Embedding twin(*this);
    twin.table_half_ = HalfWeights::from(table_);
    twin.table_.clear();
    twin.half_ = true;
    return twin;
  }
  ParameterBytes stored_parameter_bytes() const override {
    if (!half_) return Layer::stored_parameter_bytes();
    ParameterBytes bytes;
    bytes.float16 = table_half_.values.size() * sizeof(std::uint16_t);
    return bytes;
  }

 private:
  std::size_t table_size() const {
    return static_cast<std::size_t>(vocabulary_ > 0 ? vocabulary_ : 0) *
           static_cast<std::size_t>(dimension_ > 0 ? dimension_ : 0);
  }

  std::int32_t vocabulary_ = 0;
  std::int32_t dimension_ = 0;
  bool loaded_ = false;
  std::vector<float> table_;  // (vocabulary, D)
  bool half_ = false;
  HalfWeights table_half_;
};

namespace detail {

template <typename T>
class QuantizedEmbedding final : public QuantizedLayer {
 public:
  QuantizedEmbedding(std::vector<T> table, std::int32_t vocabulary, std::int32_t dimension,
                     TensorQuantization output)
      : table_(std::move(table)), vocabulary_(vocabulary), dimension_(dimension), output_(output) {}
  std::unique_ptr<QuantizedLayer> clone() const override {
    return std::make_unique<QuantizedEmbedding>(*this);
  }
  Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
             Span<std::byte> /*scratch*/) const override {
    const Span<T> out = output.span<T>();
    const std::size_t steps = inputs[0].shape.element_count();
    const auto d = static_cast<std::size_t>(dimension_);
    if (out.data() == nullptr || out.size() != steps * d) {
      return Status::error(ErrorCode::shape_mismatch, "Embedding output must be ")
          .append(data_type_name(output_.type))
          .append(" [1, time, dimension]");
    }
    return gather_rows(inputs[0].span<const float>(), vocabulary_,
                       [&](std::size_t row, std::size_t t) {
                         std::memcpy(out.data() + t * d, table_.data() + row * d, d * sizeof(T));
                       });
  }
  ParameterBytes parameter_bytes() const override {
    ParameterBytes bytes;
    (sizeof(T) == 1 ? bytes.int8 : bytes.int16) = table_.size() * sizeof(T);
    return bytes;
  }
  TensorQuantization output_quantization() const override { return output_; }
  const std::vector<T>& table() const { return table_; }

 private:
  std::vector<T> table_;
  std::int32_t vocabulary_;
  std::int32_t dimension_;
  TensorQuantization output_;
};

template <typename T>
Result<std::unique_ptr<QuantizedLayer>> quantize_embedding_table(const std::vector<float>& table,
                                                                 std::int32_t vocabulary,
                                                                 std::int32_t dimension) {
  float low = table[0], high = table[0];
  for (const float v : table) {
    if (!std::isfinite(v)) return Status::error(ErrorCode::non_finite_value, "Embedding table");
    low = v < low ? v : low;
    high = v > high ? v : high;
  }
  const Result<QuantParams> params =
      sizeof(T) == 1 ? choose_quant_params(low, high)
                     : choose_symmetric_quant_params(low, high, BitWidth{16, true, true});
  if (!params.is_ok()) return params.status();
  std::vector<T> quantized(table.size());
  TSQ_RETURN_IF_ERROR(quantize<T>(Span<const float>(table.data(), table.size()),
                                  Span<T>(quantized.data(), quantized.size()), params.value()));
  return std::unique_ptr<QuantizedLayer>(std::make_unique<QuantizedEmbedding<T>>(
      std::move(quantized), vocabulary, dimension,
      TensorQuantization{data_type_of_v<T>, params.value()}));
}

}  // namespace detail

inline Result<std::unique_ptr<QuantizedLayer>> Embedding::quantize(
    const LayerQuantizationRequest& request) const {
  if (!supports(request.precision)) {
    return layer_error(ErrorCode::unsupported_type, "cannot run as ")
        .append(precision_name(request.precision));
  }
  // Not check_request_types: the ids stay float32 whatever the precision.
  if (request.inputs.size() != 1 || request.inputs[0].type != DataType::float32) {
    return layer_error(ErrorCode::unsupported_type, "takes float32 token ids in every precision");
  }
  if (!loaded_ || half_) return layer_error(ErrorCode::invalid_argument, "has no weights");
  Result<std::unique_ptr<QuantizedLayer>> quantized = Status::ok();
  switch (request.precision) {
    case Precision::float32:
    case Precision::dynamic_int8:
      return std::unique_ptr<QuantizedLayer>(std::make_unique<FloatFallback<Embedding>>(*this));
    case Precision::float16_weights:
      return std::unique_ptr<QuantizedLayer>(
          std::make_unique<FloatFallback<Embedding>>(with_half_weights()));
    case Precision::int8:
      quantized = detail::quantize_embedding_table<std::int8_t>(table_, vocabulary_, dimension_);
      break;
    case Precision::int16_activations:
      quantized = detail::quantize_embedding_table<std::int16_t>(table_, vocabulary_, dimension_);
      break;
    case Precision::int16_weights:
      return layer_error(ErrorCode::unsupported_type,
                         "int16 weights are not supported by Embedding");
  }
  if (!quantized.is_ok()) return with_layer(quantized.status());
  return quantized;
}

}  // namespace nn
}  // namespace tsq
