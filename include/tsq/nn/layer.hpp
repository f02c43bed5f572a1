// SPDX-License-Identifier: Apache-2.0
// The layer interface of tsq's model API (host): a layer owns its float weights, checks its input
// shapes, runs its float32 twin and makes a quantized form of itself on request.
//
// Axis convention. Every tensor of a model has a leading batch axis of 1: a window is [1, T, C]
// (time, then channels), an image [1, H, W, C], a vector [1, N]. The 1-D layers (Conv1D,
// DepthwiseConv1D, MaxPool1D, AvgPool1D) run the 2-D kernels on the window read as NHWC
// [1, T, 1, C]: time is the height axis, width is 1, and a Conv1D kernel of size K is a K x 1
// filter. No copy is made; a user never places time on an axis by hand.
//
// Running never allocates: inputs, output and scratch are views into the caller's arena, laid out
// by the model before the run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tsq/core/data_type.hpp"
#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/export/code_writer.hpp"
#include "tsq/io/npz.hpp"
#include "tsq/kernels/common.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/quant/quant_params.hpp"
#include "tsq/tensor/shape.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace nn {

// The layout a layer's weights are stored in on disk.
//   keras:   Conv1D (K, C_in, C_out), Conv2D (KH, KW, C_in, C_out), DepthwiseConv (K.., C_in, m),
//            Dense (in, out), LSTM kernel (I, 4H), recurrent (H, 4H), gates i, f, c, o
//   pytorch: Conv1d (C_out, C_in, K), Conv2d (C_out, C_in, KH, KW), depthwise (C_in * m, 1, K..),
//            Linear (out, in), LSTM weight_ih (4H, I), weight_hh (4H, H), b_ih + b_hh, gates i, f,
//            g, o
//   tflite:  Conv OHWI (C_out, KH, KW, C_in), depthwise (1, KH, KW, C_in * m), FullyConnected
//            (out, in); a TFLite Conv1D is (C_out, 1, K, C_in): time on the width axis
enum class WeightLayout : std::uint8_t { keras, pytorch, tflite };

constexpr const char* weight_layout_name(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::keras: return "keras";
    case WeightLayout::pytorch: return "pytorch";
    case WeightLayout::tflite: return "tflite";
  }
  return "unknown";
}

// The form a layer takes in a quantized model.
enum class Precision : std::uint8_t {
  float32,            // float weights and activations (the study's selective quantization)
  float16_weights,    // weights stored as IEEE half, float compute
  dynamic_int8,       // DRQ: int8 per-channel weights, float activations quantized on the fly
  int8,               // int8 activations, int8 weights, int32 bias (FIQ)
  int16_activations,  // int16 activations, int8 weights, int64 bias (TFLite's 16x8)
  int16_weights,      // int8 activations, int16 weights (LSTM only: wide-range inputs)
};

constexpr const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::float32: return "float32";
    case Precision::float16_weights: return "float16 weights";
    case Precision::dynamic_int8: return "dynamic int8";
    case Precision::int8: return "int8";
    case Precision::int16_activations: return "int16 activations";
    case Precision::int16_weights: return "int16 weights";
  }
  return "unknown";
}

constexpr bool is_integer_precision(Precision precision) {
  return precision == Precision::int8 || precision == Precision::int16_activations ||
         precision == Precision::int16_weights;
}

// The activation element type of a precision.
constexpr DataType activation_type(Precision precision) {
  switch (precision) {
    case Precision::int8:
    case Precision::int16_weights: return DataType::int8;
    case Precision::int16_activations: return DataType::int16;
    default: return DataType::float32;
  }
}

// A tensor in the arena, of any element type.
struct AnyTensor {
  void* data = nullptr;
  Shape shape;
  DataType type = DataType::float32;

  std::size_t bytes() const { return shape.element_count() * data_type_size(type); }

  // A typed view; a defective view (null data) when the type differs, which kernels refuse.
  template <typename T>
  TensorView<T> view() const {
    using Value = std::remove_cv_t<T>;
    if (data_type_of_v<Value> != type) return TensorView<T>(static_cast<T*>(nullptr), shape);
    return TensorView<T>(static_cast<T*>(data), shape);
  }
  template <typename T>
  Span<T> span() const {
    using Value = std::remove_cv_t<T>;
    if (data_type_of_v<Value> != type) return Span<T>();
    return Span<T>(static_cast<T*>(data), shape.element_count());
  }
};

// What a quantized tensor holds: its element type and, for integer types, its parameters.
struct TensorQuantization {
  DataType type = DataType::float32;
  QuantParams params;  // meaningful for integer types only
};

// A per-layer record that calibration fills while the float model runs (e.g. the LSTM's gate
// ranges). The layer that made it is the only one that reads it.
class LayerCalibration {
 public:
  virtual ~LayerCalibration() = default;
  virtual Status merge_error() const { return Status::ok(); }
};

// Parameter storage of a quantized layer, by element type (the analyzer's tables).
struct ParameterBytes {
  std::size_t float32 = 0;
  std::size_t float16 = 0;
  std::size_t int8 = 0;
  std::size_t int16 = 0;
  std::size_t int32 = 0;
  std::size_t int64 = 0;
  std::size_t total() const { return float32 + float16 + int8 + int16 + int32 + int64; }
  ParameterBytes& operator+=(const ParameterBytes& other) {
    float32 += other.float32;
    float16 += other.float16;
    int8 += other.int8;
    int16 += other.int16;
    int32 += other.int32;
    int64 += other.int64;
    return *this;
  }
};

// Everything a layer needs to make its quantized form.
struct LayerQuantizationRequest {
  Precision precision = Precision::int8;
  std::vector<TensorQuantization> inputs;  // one per input, as the model decided
  TensorQuantization output;               // as the model decided (may be overridden, below)
  RoundingMode rounding = RoundingMode::double_rounding;
  const LayerCalibration* calibration = nullptr;  // from make_calibration(), or null
  // Calibration inputs for data-aware choices (bias correction): the layer's float input
  // windows, each a flat [element_count] copy of input 0; may be empty.
  const std::vector<std::vector<float>>* calibration_inputs = nullptr;
  bool bias_correction = false;
  // Data-aware weight rounding (GPTQ, ptq/weight_rounding.hpp) on calibration_inputs.
  bool data_aware_rounding = false;
};

// A quantity inside a layer over one window (the LSTM's gate pre-activations and cell state), in
// real units, so that the debugger can compare a quantized form with its float twin where the
// output alone hides the cause. `scale` is the step of its integer storage (2^-12 for Q3.12 gate
// pre-activations, S_c for the cell); 0 in float forms.
struct Intermediate {
  std::string name;
  std::vector<float> values;
  float scale = 0.0f;
};

class QuantizedLayer {
 public:
  virtual ~QuantizedLayer() = default;
  virtual std::unique_ptr<QuantizedLayer> clone() const = 0;
  // Bytes of scratch a run needs (taken from the arena).
  virtual std::size_t scratch_bytes() const { return 0; }
  virtual Status run(Span<const AnyTensor> inputs, const AnyTensor& output,
                     Span<std::byte> scratch) const = 0;
  virtual ParameterBytes parameter_bytes() const { return {}; }
  // The output parameters this layer really produces (fixed by some ops: Softmax, Logistic).
  virtual TensorQuantization output_quantization() const = 0;
  // True when every multiplier of the layer flushed to zero (its output is constant).
  virtual bool multipliers_flush_to_zero() const { return false; }
  // Firmware export (export/firmware_model.hpp): the layer's constants and the reference-kernel
  // calls that run it, integers only. Layers that cannot run on integers alone say so.
  virtual Status emit(codegen::LayerCode& /*code*/) const {
    return Status::error(ErrorCode::unsupported_format, "this layer form has no firmware export");
  }
  // Layers that only move data, when their output is the input's elements [offset, offset + n):
  // the offset, so that the exported model reads the input in place instead of copying it.
  virtual std::optional<std::size_t> output_aliases_input() const { return std::nullopt; }
  // Scratch bytes the exported code needs (the host forms may need more, e.g. SIMD row buffers).
  virtual std::size_t exported_scratch_bytes() const { return scratch_bytes(); }
  // The layer's intermediates over the window `inputs` (host only, allocates; runs the layer
  // again): the same names and value order as Layer::float_intermediates. None by default.
  virtual Status intermediates(Span<const AnyTensor> /*inputs*/,
                               std::vector<Intermediate>& out) const {
    out.clear();
    return Status::ok();
  }
};

// Names a weight inside a weights file: "<layer><separator><weight>", e.g. "conv1.kernel" or,
// with separator "_", "conv1_kernel".
// `members` renames single weights, e.g. {"conv1d.kernel", "t4"} for a file whose arrays are
// numbered (a converted TFLite model) rather than named after layers.
struct WeightNaming {
  std::string separator = ".";
  std::map<std::string, std::string> members;
  std::string member(const std::string& layer, const char* weight) const {
    std::string name = layer + separator + weight;
    const auto renamed = members.find(name);
    return renamed == members.end() ? name : renamed->second;
  }
};

// A weight read from a file with every dimension checked against what the layer expects.
inline Result<const io::NpyArray*> find_weight(const io::NpzFile& archive,
                                               const std::string& member,
                                               const std::vector<std::size_t>& expected_shape,
                                               WeightLayout layout) {
  const io::NpyArray* array = archive.find(member);
  if (array == nullptr) {
    return Status::error(ErrorCode::not_found, "weight '")
        .append(member.c_str())
        .append("' missing");
  }
  if (array->dtype() != DataType::float32) {
    return Status::error(ErrorCode::unsupported_type, "weight '")
        .append(member.c_str())
        .append("' is ")
        .append(data_type_name(array->dtype()))
        .append(", expected float32");
  }
  if (array->shape() != expected_shape) {
    Status status = Status::error(ErrorCode::shape_mismatch, "weight '");
    status.append(member.c_str()).append("' has shape (");
    for (std::size_t i = 0; i < array->shape().size(); ++i) {
      status.append(i == 0 ? "" : ", ").append(array->shape()[i]);
    }
    status.append("), expected (");
    for (std::size_t i = 0; i < expected_shape.size(); ++i) {
      status.append(i == 0 ? "" : ", ").append(expected_shape[i]);
    }
    return status.append(") in ").append(weight_layout_name(layout)).append(" layout");
  }
  return array;
}

class Layer {
 public:
  explicit Layer(std::string name) : name_(std::move(name)) {}
  virtual ~Layer() = default;

  const std::string& name() const { return name_; }
  virtual const char* kind() const = 0;
  virtual std::unique_ptr<Layer> clone() const = 0;
  virtual int input_count() const { return 1; }

  // Called once when the layer is added: remembers the input shapes (batch 1 leading) and returns
  // the output shape, or why the inputs do not fit.
  virtual Result<Shape> configure(Span<const Shape> inputs) = 0;
  Result<Shape> attach(Span<const Shape> inputs) {
    input_shapes_.assign(inputs.begin(), inputs.end());
    const Result<Shape> shape = configure(inputs);
    if (shape.is_ok()) output_shape_ = shape.value();
    return shape;
  }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  const Shape& output_shape() const { return output_shape_; }
  std::size_t configured_float_scratch_bytes() const {
    return float_scratch_bytes(Span<const Shape>(input_shapes_.data(), input_shapes_.size()));
  }

  // Weights: reading them from a file in the declared layout, and how many there are.
  virtual Status load_weights(const io::NpzFile& /*archive*/, const WeightNaming& /*naming*/) {
    return Status::ok();
  }
  virtual bool weights_loaded() const { return true; }
  virtual std::size_t parameter_count() const { return 0; }
  // Bytes of the parameters as this layer stores them (float32; float16 twins override).
  virtual ParameterBytes stored_parameter_bytes() const {
    ParameterBytes bytes;
    bytes.float32 = parameter_count() * sizeof(float);
    return bytes;
  }

  // Float32 run.
  virtual std::size_t float_scratch_bytes(Span<const Shape> /*inputs*/) const { return 0; }
  virtual Status run_float(Span<const TensorView<const float>> inputs,
                           const TensorView<float>& output, Span<std::byte> scratch,
                           LayerCalibration* calibration) const = 0;

  // The float run's intermediates over one window (host only, allocates), named and ordered as
  // the quantized forms' QuantizedLayer::intermediates. None by default.
  virtual Status float_intermediates(Span<const TensorView<const float>> /*inputs*/,
                                     std::vector<Intermediate>& out) const {
    out.clear();
    return Status::ok();
  }

  // The same layer with its weights rounded as `precision` stores them and dequantized (int8
  // per-channel, int16, half): the debugger's measure of what weight rounding alone costs. Null
  // for layers without weights.
  virtual std::unique_ptr<Layer> with_rounded_weights(Precision /*precision*/) const {
    return nullptr;
  }

  // Calibration records beyond the output tensor's range (null: none).
  virtual std::unique_ptr<LayerCalibration> make_calibration() const { return nullptr; }

  // The element type input `index` must arrive in at `precision` (an Embedding reads float token
  // ids in every precision; everything else reads its precision's activation type).
  virtual DataType input_type(std::size_t /*index*/, Precision precision) const {
    return activation_type(precision);
  }
  // Which precisions this layer can take.
  virtual bool supports(Precision precision) const { return precision == Precision::float32; }
  // Layers whose integer output must keep the input's parameters (pooling, reshapes).
  virtual bool passes_quantization_through() const { return false; }
  virtual Result<std::unique_ptr<QuantizedLayer>> quantize(
      const LayerQuantizationRequest& request) const = 0;

  // A following BatchNormalization folded into this layer's weights (Conv, Dense): scale[c] and
  // shift[c] per output channel. False when the layer cannot absorb it.
  virtual bool can_fold_batch_norm() const { return false; }
  virtual Status fold_batch_norm(Span<const float> /*scale*/, Span<const float> /*shift*/) {
    return Status::error(ErrorCode::invalid_argument, "layer cannot absorb a BatchNormalization");
  }
  // BatchNormalization: its per-channel affine form y = x * scale + shift, once its weights are
  // loaded (false for every other layer).
  virtual bool batch_norm_affine(std::vector<float>& /*scale*/,
                                 std::vector<float>& /*shift*/) const {
    return false;
  }
  // Dropout and similar: removed from the model when it is built.
  virtual bool is_identity() const { return false; }

 protected:
  Layer(const Layer&) = default;
  Layer& operator=(const Layer&) = default;

  // "<kind> '<name>': " in front of a message.
  Status layer_error(ErrorCode code, const char* message) const {
    Status status = Status::error(code, kind());
    status.append(" '").append(name_.c_str()).append("': ").append(message);
    return status;
  }
  Status with_layer(const Status& status) const {
    if (status.is_ok()) return status;
    return layer_error(status.code(), status.message());
  }

 private:
  std::string name_;
  std::vector<Shape> input_shapes_;
  Shape output_shape_;
};

namespace detail {

// Scratch views carved from a byte span, aligned for T.
template <typename T>
Span<T> take_scratch(Span<std::byte>& scratch, std::size_t count) {
  const auto address = reinterpret_cast<std::uintptr_t>(scratch.data());
  const std::size_t pad = (alignof(T) - address % alignof(T)) % alignof(T);
  const std::size_t bytes = count * sizeof(T);
  if (scratch.size() < pad + bytes) return Span<T>();
  Span<T> taken(reinterpret_cast<T*>(scratch.data() + pad), count);
  scratch = Span<std::byte>(scratch.data() + pad + bytes, scratch.size() - pad - bytes);
  return taken;
}

// Bytes for `count` values of T taken by take_scratch (with worst-case alignment padding).
template <typename T>
constexpr std::size_t scratch_bytes_for(std::size_t count) {
  return count * sizeof(T) + alignof(T);
}

}  // namespace detail

}  // namespace nn
}  // namespace tsq
