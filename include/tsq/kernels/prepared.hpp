// SPDX-License-Identifier: Apache-2.0
// Prepared layers that own their storage (host).
//
// The prepare functions of FullyConnected, Conv2D, DepthwiseConv2D and the LSTM write per-channel
// multipliers (and folded biases) into caller storage and return params that point into it: the
// form for firmware, where storage and params are static and live forever. On a host, a struct
// that holds both and is copied would leave the copy's params pointing into the original's
// storage. `Prepared<Params>` removes that trap: it owns the storage, and copying or moving it
// re-points the params at its own copy. It converts to `const Params&`, so it is passed to the
// kernels as is:
//
//   auto layer = tsq::prepare_owned_fully_connected(q);            // Result<Prepared<...>>
//   tsq::reference::fully_connected(*layer, input, weights, bias, output);
//
// The hybrid (DRQ) params also copy the weight scales they were given, so a prepared hybrid
// layer depends on nothing of the caller's but the weight tensor passed at eval.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/kernels/hybrid/conv2d.hpp"
#include "tsq/kernels/hybrid/fully_connected.hpp"
#include "tsq/kernels/hybrid/lstm.hpp"
#include "tsq/kernels/reference/conv2d.hpp"
#include "tsq/kernels/reference/depthwise_conv2d.hpp"
#include "tsq/kernels/reference/fully_connected.hpp"
#include "tsq/kernels/reference/lstm.hpp"
#include "tsq/quant/multiplier.hpp"

namespace tsq {

// The storage a prepared layer's spans may point into.
struct PreparedStorage {
  std::vector<QuantizedMultiplier> multipliers;
  std::vector<std::int32_t> integers;
  std::vector<float> floats;
};

namespace detail {

template <typename T>
void repoint(Span<const T>& span, const std::vector<T>& from, const std::vector<T>& to) {
  if (span.data() == nullptr || from.empty()) return;
  const T* begin = from.data();
  if (span.data() >= begin && span.data() < begin + from.size()) {
    span = Span<const T>(to.data() + (span.data() - begin), span.size());
  }
}

// Re-points the spans of `params` from storage `from` to storage `to` (same contents).
inline void repoint_params(FullyConnectedParams& p, const PreparedStorage& from,
                           const PreparedStorage& to) {
  repoint(p.multipliers, from.multipliers, to.multipliers);
}
inline void repoint_params(Conv2DParams& p, const PreparedStorage& from,
                           const PreparedStorage& to) {
  repoint(p.multipliers, from.multipliers, to.multipliers);
}
inline void repoint_params(DepthwiseConv2DParams& p, const PreparedStorage& from,
                           const PreparedStorage& to) {
  repoint(p.multipliers, from.multipliers, to.multipliers);
}
inline void repoint_params(LstmParams& p, const PreparedStorage& from, const PreparedStorage& to) {
  repoint(p.input_multipliers, from.multipliers, to.multipliers);
  repoint(p.recurrent_multipliers, from.multipliers, to.multipliers);
  repoint(p.input_effective_bias, from.integers, to.integers);
  repoint(p.recurrent_effective_bias, from.integers, to.integers);
}
inline void repoint_params(hybrid::FullyConnectedParams& p, const PreparedStorage& from,
                           const PreparedStorage& to) {
  repoint(p.weight_scales, from.floats, to.floats);
  repoint(p.weight_row_sums, from.integers, to.integers);
}
inline void repoint_params(hybrid::Conv2DParams& p, const PreparedStorage& from,
                           const PreparedStorage& to) {
  repoint(p.filter_scales, from.floats, to.floats);
}
inline void repoint_params(hybrid::LstmParams& p, const PreparedStorage& from,
                           const PreparedStorage& to) {
  repoint(p.input_row_sums, from.integers, to.integers);
  repoint(p.recurrent_row_sums, from.integers, to.integers);
}

}  // namespace detail

// A prepared layer with its own storage. Copies and moves keep the params valid.
template <typename Params>
class Prepared {
 public:
  Prepared() = default;
  Prepared(PreparedStorage storage, const Params& params)
      : storage_(std::move(storage)), params_(params) {}
  Prepared(const Prepared& other) : storage_(other.storage_), params_(other.params_) {
    detail::repoint_params(params_, other.storage_, storage_);
  }
  Prepared& operator=(const Prepared& other) {
    if (this != &other) {
      storage_ = other.storage_;
      params_ = other.params_;
      detail::repoint_params(params_, other.storage_, storage_);
    }
    return *this;
  }
  // A moved vector keeps its buffer, so the params stay valid; the source is left empty.
  Prepared(Prepared&& other) noexcept
      : storage_(std::move(other.storage_)), params_(other.params_) {
    other.params_ = Params{};
  }
  Prepared& operator=(Prepared&& other) noexcept {
    if (this != &other) {
      storage_ = std::move(other.storage_);
      params_ = other.params_;
      other.params_ = Params{};
    }
    return *this;
  }
  ~Prepared() = default;

  const Params& params() const { return params_; }
  operator const Params&() const { return params_; }  // NOLINT(google-explicit-constructor)
  const Params* operator->() const { return &params_; }
  const Params& operator*() const { return params_; }
  const PreparedStorage& storage() const { return storage_; }

 private:
  PreparedStorage storage_;
  Params params_;
};

namespace detail {

template <typename Params>
Result<Prepared<Params>> make_prepared(PreparedStorage storage, const Result<Params>& params) {
  if (!params.is_ok()) return params.status();
  return Prepared<Params>(std::move(storage), params.value());
}

}  // namespace detail

inline Result<Prepared<FullyConnectedParams>> prepare_owned_fully_connected(
    const FullyConnectedQuantization& q) {
  PreparedStorage storage;
  storage.multipliers.resize(q.weight_scales.size());
  const Result<FullyConnectedParams> params = prepare_fully_connected(q, storage.multipliers);
  return detail::make_prepared(std::move(storage), params);
}

inline Result<Prepared<Conv2DParams>> prepare_owned_conv2d(const Conv2DQuantization& q) {
  PreparedStorage storage;
  storage.multipliers.resize(q.filter_scales.size());
  const Result<Conv2DParams> params = prepare_conv2d(q, storage.multipliers);
  return detail::make_prepared(std::move(storage), params);
}

inline Result<Prepared<DepthwiseConv2DParams>> prepare_owned_depthwise_conv2d(
    const DepthwiseConv2DQuantization& q) {
  PreparedStorage storage;
  storage.multipliers.resize(q.filter_scales.size());
  const Result<DepthwiseConv2DParams> params = prepare_depthwise_conv2d(q, storage.multipliers);
  return detail::make_prepared(std::move(storage), params);
}

template <typename Weight>
Result<Prepared<LstmParams>> prepare_owned_lstm(const LstmQuantization& q,
                                                const LstmIntegerWeights<Weight>& weights) {
  PreparedStorage storage;
  const std::int32_t hidden_size =
      weights.recurrent_weights.rank() == 2 ? weights.recurrent_weights.dim(1) : 0;
  storage.multipliers.resize(lstm_prepare_storage_size(hidden_size));
  storage.integers.resize(lstm_prepare_storage_size(hidden_size));
  const Result<LstmParams> params = prepare_lstm(q, weights, storage.multipliers, storage.integers);
  return detail::make_prepared(std::move(storage), params);
}

namespace hybrid {

inline Result<Prepared<FullyConnectedParams>> prepare_owned_fully_connected(
    TensorView<const std::int8_t> weights, Span<const float> weight_scales,
    FusedActivation activation) {
  PreparedStorage storage;
  storage.floats.assign(weight_scales.begin(), weight_scales.end());
  storage.integers.resize(
      weights.rank() == 2 && weights.dim(0) > 0 ? static_cast<std::size_t>(weights.dim(0)) : 0);
  const Result<FullyConnectedParams> params =
      prepare_fully_connected(weights, storage.floats, activation, storage.integers);
  return tsq::detail::make_prepared(std::move(storage), params);
}

inline Result<Prepared<Conv2DParams>> prepare_owned_conv2d(const Shape& input_shape,
                                                           const Shape& filter_shape,
                                                           Span<const float> filter_scales,
                                                           const Conv2DOptions& options) {
  PreparedStorage storage;
  storage.floats.assign(filter_scales.begin(), filter_scales.end());
  const Result<Conv2DParams> params =
      prepare_conv2d(input_shape, filter_shape, storage.floats, options);
  return tsq::detail::make_prepared(std::move(storage), params);
}

inline Result<Prepared<LstmParams>> prepare_owned_lstm(const LstmWeights& weights) {
  PreparedStorage storage;
  const std::int32_t hidden_size =
      weights.recurrent_weights.rank() == 2 ? weights.recurrent_weights.dim(1) : 0;
  storage.integers.resize(2 * lstm_gate_scratch_size(hidden_size));
  const Result<LstmParams> params = prepare_lstm(weights, storage.integers);
  return tsq::detail::make_prepared(std::move(storage), params);
}

}  // namespace hybrid
}  // namespace tsq
