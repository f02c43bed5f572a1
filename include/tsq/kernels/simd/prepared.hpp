// SPDX-License-Identifier: Apache-2.0
// Host-only owners of SIMD layers: the reference prepare, the SIMD params and the packed weights
// in storage of their own (the only place where packing allocates). Copies and moves keep the
// packed view pointing at the owner's own storage, as tsq::Prepared does for the reference
// params. Eval (run) allocates nothing; the caller passes the scratch:
//
//   auto layer = tsq::simd::PreparedFullyConnected::create(q, weights, bias);   // Result<..>
//   std::vector<std::int8_t> scratch(layer->scratch_size(batches));
//   layer->run(input, output, scratch);
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/kernels/simd/conv2d.hpp"
#include "tsq/kernels/simd/fully_connected.hpp"
#include "tsq/kernels/simd/lstm.hpp"
#include "tsq/kernels/simd/packed_weights.hpp"
#include "tsq/quant/multiplier.hpp"
#include "tsq/tensor/tensor_view.hpp"

namespace tsq {
namespace simd {

// Packed weights in owned storage, the values 64-byte aligned (one tile line per cache line).
class OwnedPackedWeights {
 public:
  OwnedPackedWeights() = default;
  OwnedPackedWeights(const OwnedPackedWeights& other) { copy_from(other); }
  OwnedPackedWeights& operator=(const OwnedPackedWeights& other) {
    if (this != &other) copy_from(other);
    return *this;
  }
  // Moved vectors keep their buffers, so the view stays valid; the source is left empty.
  OwnedPackedWeights(OwnedPackedWeights&& other) noexcept
      : buffer_(std::move(other.buffer_)),
        tiles_(std::move(other.tiles_)),
        value_count_(other.value_count_),
        view_(other.view_) {
    other.value_count_ = 0;
    other.view_ = PackedWeights{};
  }
  OwnedPackedWeights& operator=(OwnedPackedWeights&& other) noexcept {
    if (this != &other) {
      buffer_ = std::move(other.buffer_);
      tiles_ = std::move(other.tiles_);
      value_count_ = other.value_count_;
      view_ = other.view_;
      other.value_count_ = 0;
      other.view_ = PackedWeights{};
    }
    return *this;
  }
  ~OwnedPackedWeights() = default;

  // Storage for `size`, to pack into; then adopt() the result.
  void allocate(const PackedWeightsSize& size) {
    buffer_.assign(size.values + kAlignment - 1, 0);
    tiles_.assign(size.tiles, TileRequantization{});
    value_count_ = size.values;
    view_ = PackedWeights{};
  }
  Span<std::int8_t> value_storage() { return Span<std::int8_t>(aligned_values(), value_count_); }
  Span<TileRequantization> tile_storage() { return Span<TileRequantization>(tiles_); }
  void adopt(const PackedWeights& packed) { view_ = packed; }

  const PackedWeights& view() const { return view_; }

 private:
  static constexpr std::size_t kAlignment = 64;

  std::int8_t* aligned_values() {
    if (buffer_.empty()) return nullptr;
    const auto address = reinterpret_cast<std::uintptr_t>(buffer_.data());
    return buffer_.data() + (kAlignment - address % kAlignment) % kAlignment;
  }

  void copy_from(const OwnedPackedWeights& other) {
    allocate(PackedWeightsSize{other.value_count_, other.tiles_.size()});
    view_ = other.view_;
    if (other.view_.prepared.is_set()) {
      const std::int8_t* source = other.view_.values.data();
      std::memcpy(aligned_values(), source, other.view_.values.size());
      tiles_ = other.tiles_;
      view_.values = Span<const std::int8_t>(aligned_values(), other.view_.values.size());
      view_.requantization = Span<const TileRequantization>(tiles_.data(), tiles_.size());
    }
  }

  std::vector<std::int8_t> buffer_;
  std::vector<TileRequantization> tiles_;
  std::size_t value_count_ = 0;
  PackedWeights view_;
};

// A FullyConnected int8 layer ready for simd::fully_connected.
class PreparedFullyConnected {
 public:
  // Runs tsq::prepare_fully_connected (same errors) and packs `weights` [units, input_depth]
  // and `bias` (empty: none).
  static Result<PreparedFullyConnected> create(const FullyConnectedQuantization& q,
                                               TensorView<const std::int8_t> weights,
                                               Span<const std::int32_t> bias) {
    std::vector<QuantizedMultiplier> multipliers(q.weight_scales.size());
    const Result<FullyConnectedParams> params = tsq::prepare_fully_connected(q, multipliers);
    if (!params.is_ok()) return params.status();
    return from_reference(*params, weights, bias);
  }
  // From the reference's prepared params (which need not outlive the result: the SIMD params
  // hold no pointers into them, the multipliers live in the packed tiles).
  static Result<PreparedFullyConnected> from_reference(const FullyConnectedParams& params,
                                                       TensorView<const std::int8_t> weights,
                                                       Span<const std::int32_t> bias) {
    PreparedFullyConnected layer;
    const Result<SimdFullyConnectedParams> simd_params = prepare_fully_connected(params);
    if (!simd_params.is_ok()) return simd_params.status();
    layer.params_ = *simd_params;
    layer.packed_.allocate(fully_connected_packed_size(layer.params_));
    const Result<PackedWeights> packed = pack_fully_connected(
        params, weights, bias, layer.packed_.value_storage(), layer.packed_.tile_storage());
    if (!packed.is_ok()) return packed.status();
    layer.packed_.adopt(*packed);
    return layer;
  }

  const SimdFullyConnectedParams& params() const { return params_; }
  const PackedWeights& weights() const { return packed_.view(); }
  std::size_t scratch_size(std::int32_t batches) const {
    return fully_connected_scratch_size(params_, batches);
  }
  Status run(TensorView<const std::int8_t> input, TensorView<std::int8_t> output,
             Span<std::int8_t> scratch) const {
    return fully_connected(params_, input, packed_.view(), output, scratch);
  }

 private:
  SimdFullyConnectedParams params_;
  OwnedPackedWeights packed_;
};

// A Conv2D int8 layer ready for simd::conv2d.
class PreparedConv2D {
 public:
  // Runs tsq::prepare_conv2d (same errors) and packs `filter` [C_out, KH, KW, C_in / G] and
  // `bias` (empty: none).
  static Result<PreparedConv2D> create(const Conv2DQuantization& q,
                                       TensorView<const std::int8_t> filter,
                                       Span<const std::int32_t> bias) {
    std::vector<QuantizedMultiplier> multipliers(q.filter_scales.size());
    const Result<Conv2DParams> params = tsq::prepare_conv2d(q, multipliers);
    if (!params.is_ok()) return params.status();
    return from_reference(*params, filter, bias);
  }
  // From the reference's prepared params (see PreparedFullyConnected::from_reference).
  static Result<PreparedConv2D> from_reference(const Conv2DParams& params,
                                               TensorView<const std::int8_t> filter,
                                               Span<const std::int32_t> bias) {
    PreparedConv2D layer;
    const Result<SimdConv2DParams> simd_params = prepare_conv2d(params);
    if (!simd_params.is_ok()) return simd_params.status();
    layer.params_ = *simd_params;
    layer.packed_.allocate(conv2d_packed_size(layer.params_));
    const Result<PackedWeights> packed = pack_conv2d(
        params, filter, bias, layer.packed_.value_storage(), layer.packed_.tile_storage());
    if (!packed.is_ok()) return packed.status();
    layer.packed_.adopt(*packed);
    return layer;
  }

  const SimdConv2DParams& params() const { return params_; }
  const PackedWeights& filter() const { return packed_.view(); }
  std::size_t scratch_size() const { return conv2d_scratch_size(params_); }
  Status run(TensorView<const std::int8_t> input, TensorView<std::int8_t> output,
             Span<std::int8_t> scratch) const {
    return conv2d(params_, input, packed_.view(), output, scratch);
  }

 private:
  SimdConv2DParams params_;
  OwnedPackedWeights packed_;
};

// An int8 LSTM layer ready for simd::lstm. It holds its own copy of the reference's params
// (their per-row spans point into the owner's storage), so the reference's Prepared need not
// outlive it.
class PreparedLstm {
 public:
  PreparedLstm() = default;  // empty: run() refuses it (not_prepared)

  static Result<PreparedLstm> from_reference(const LstmParams& params,
                                             const LstmWeightsInt8& weights) {
    TSQ_RETURN_IF_ERROR(detail::check_simd_lstm_params(params));  // before sizes are computed
    PreparedLstm layer;
    layer.params_ = params;
    layer.rows_.assign(params.input_multipliers.begin(), params.input_multipliers.end());
    layer.rows_.insert(layer.rows_.end(), params.recurrent_multipliers.begin(),
                       params.recurrent_multipliers.end());
    layer.biases_.assign(params.input_effective_bias.begin(), params.input_effective_bias.end());
    layer.biases_.insert(layer.biases_.end(), params.recurrent_effective_bias.begin(),
                         params.recurrent_effective_bias.end());
    layer.repoint();
    const PackedLstmSize size = lstm_packed_size(params);
    layer.input_.allocate(size.input);
    layer.recurrent_.allocate(size.recurrent);
    layer.recurrent_bias_.assign(size.recurrent_bias, 0);
    const Result<PackedLstmWeights> packed =
        pack_lstm(layer.params_, weights, layer.input_.value_storage(), layer.input_.tile_storage(),
                  layer.recurrent_.value_storage(), layer.recurrent_.tile_storage(),
                  Span<std::int32_t>(layer.recurrent_bias_));
    if (!packed.is_ok()) return packed.status();
    layer.input_.adopt(packed->input);
    layer.recurrent_.adopt(packed->recurrent);
    layer.prepared_ = packed->prepared;
    return layer;
  }

  PreparedLstm(const PreparedLstm& other) { *this = other; }
  PreparedLstm& operator=(const PreparedLstm& other) {
    if (this != &other) {
      params_ = other.params_;
      rows_ = other.rows_;
      biases_ = other.biases_;
      input_ = other.input_;
      recurrent_ = other.recurrent_;
      recurrent_bias_ = other.recurrent_bias_;
      prepared_ = other.prepared_;
      repoint();
    }
    return *this;
  }
  // Moved vectors keep their buffers, so the views stay valid; the source is left unprepared
  // (its run() refuses it instead of reading the target's storage).
  PreparedLstm(PreparedLstm&& other) noexcept { *this = std::move(other); }
  PreparedLstm& operator=(PreparedLstm&& other) noexcept {
    if (this != &other) {
      params_ = other.params_;
      rows_ = std::move(other.rows_);
      biases_ = std::move(other.biases_);
      input_ = std::move(other.input_);
      recurrent_ = std::move(other.recurrent_);
      recurrent_bias_ = std::move(other.recurrent_bias_);
      prepared_ = other.prepared_;
      other.params_ = LstmParams{};
      other.prepared_ = PreparedMark{};
    }
    return *this;
  }
  ~PreparedLstm() = default;

  const LstmParams& params() const { return params_; }
  PackedLstmWeights weights() const {
    PackedLstmWeights packed;
    packed.input = input_.view();
    packed.recurrent = recurrent_.view();
    packed.recurrent_bias = Span<const std::int32_t>(recurrent_bias_);
    packed.prepared = prepared_;
    return packed;
  }
  std::size_t scratch_bytes(std::int32_t steps) const { return lstm_scratch_bytes(params_, steps); }
  template <typename State>
  Status run(TensorView<const std::int8_t> input, TensorView<std::int8_t> output, Span<State> state,
             Span<std::int16_t> cell, Span<std::int8_t> scratch, bool reverse = false) const {
    return lstm<State>(params_, weights(), input, output, state, cell, scratch, reverse);
  }

 private:
  void repoint() {
    const std::size_t n = rows_.size() / 2;
    params_.input_multipliers = Span<const QuantizedMultiplier>(rows_.data(), n);
    params_.recurrent_multipliers = Span<const QuantizedMultiplier>(rows_.data() + n, n);
    params_.input_effective_bias = Span<const std::int32_t>(biases_.data(), n);
    params_.recurrent_effective_bias = Span<const std::int32_t>(biases_.data() + n, n);
  }

  LstmParams params_;
  std::vector<QuantizedMultiplier> rows_;  // input then recurrent multipliers
  std::vector<std::int32_t> biases_;       // input then recurrent effective biases
  OwnedPackedWeights input_;
  OwnedPackedWeights recurrent_;
  std::vector<std::int32_t> recurrent_bias_;
  PreparedMark prepared_;
};

}  // namespace simd
}  // namespace tsq
