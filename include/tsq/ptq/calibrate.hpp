// SPDX-License-Identifier: Apache-2.0
// Calibration (host): run the float model over representative windows (the study used 100-300)
// and record the range of every tensor, with the observer of your choice, plus what layers
// record beyond their outputs (the LSTM's gate and cell ranges).
//
//   auto calibration = tsq::calibrate(model, windows);   // windows: window_count * input_size
//   floats
//
// A NaN or infinity in the data, or produced by a layer, is an error naming the window and the
// tensor. Runs of 100 windows or more print their progress on stderr (options.progress).
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/nn/model.hpp"
#include "tsq/ptq/observers.hpp"

namespace tsq {

struct CalibrationOptions {
  ObserverKind observer = ObserverKind::min_max;
  ObserverOptions observer_options;
  bool progress = true;  // print "calibration: k/n windows" on stderr for long runs
  // Keep up to this many windows of every layer's float input (for bias correction and the
  // error split); 0 keeps none.
  std::size_t keep_inputs = 0;
};

struct Calibration {
  std::vector<Range> ranges;                                  // per model tensor
  std::vector<std::unique_ptr<nn::LayerCalibration>> layers;  // per node (null: none)
  std::size_t window_count = 0;
  // Per node: flat float copies of input 0 for up to keep_inputs windows.
  std::vector<std::vector<std::vector<float>>> layer_inputs;
};

namespace detail {

class CalibrationObserver final : public nn::TensorObserver {
 public:
  CalibrationObserver(const nn::Model& model, std::vector<Observer>& observers,
                      std::vector<std::vector<std::vector<float>>>& layer_inputs,
                      std::size_t keep_inputs)
      : model_(model), observers_(observers), layer_inputs_(layer_inputs), keep_(keep_inputs) {}
  void set_window(std::size_t window) { window_ = window; }
  Status observe(nn::TensorId tensor, const nn::AnyTensor& value) override {
    const Span<const float> values = value.span<const float>();
    const Status status = observers_[static_cast<std::size_t>(tensor)].observe(values);
    if (!status.is_ok()) {
      return Status::error(status.code(), "calibration window ")
          .append(window_)
          .append(", tensor '")
          .append(model_.tensors()[static_cast<std::size_t>(tensor)].name.c_str())
          .append("': ")
          .append(status.message());
    }
    if (window_ < keep_) {
      for (std::size_t n = 0; n < model_.node_count(); ++n) {
        if (model_.node_inputs(n)[0] == tensor) {
          layer_inputs_[n].emplace_back(values.begin(), values.end());
        }
      }
    }
    return Status::ok();
  }

 private:
  const nn::Model& model_;
  std::vector<Observer>& observers_;
  std::vector<std::vector<std::vector<float>>>& layer_inputs_;
  std::size_t keep_;
  std::size_t window_ = 0;
};

}  // namespace detail

// `windows` holds window_count * model.input_size() floats, window after window.
inline Result<Calibration> calibrate(const nn::Model& model, Span<const float> windows,
                                     const CalibrationOptions& options = {}) {
  if (!model.is_built()) return Status::error(ErrorCode::invalid_argument, "model is not built");
  const std::size_t input_size = model.input_size();
  if (windows.empty()) {
    return Status::error(ErrorCode::invalid_argument, "calibration needs at least one window");
  }
  if (windows.size() % input_size != 0) {
    return Status::error(ErrorCode::shape_mismatch, "calibration data has ")
        .append(windows.size())
        .append(" values, not a multiple of the window size ")
        .append(input_size);
  }
  const std::size_t count = windows.size() / input_size;
  std::vector<Observer> observers;
  for (std::size_t t = 0; t < model.tensors().size(); ++t) {
    Result<Observer> observer = make_observer(options.observer, options.observer_options);
    if (!observer.is_ok()) return observer.status();
    observers.push_back(std::move(observer).value());
  }
  Calibration calibration;
  calibration.layers = model.make_calibrations();
  calibration.layer_inputs.resize(model.node_count());
  std::vector<nn::LayerCalibration*> records;
  for (const auto& record : calibration.layers) records.push_back(record.get());
  detail::CalibrationObserver observer(model, observers, calibration.layer_inputs,
                                       options.keep_inputs);
  std::vector<std::byte> arena(model.arena_bytes() + nn::kArenaAlignment);
  std::size_t offset = 0;
  while (reinterpret_cast<std::uintptr_t>(arena.data() + offset) % nn::kArenaAlignment != 0) {
    ++offset;
  }
  const Span<std::byte> aligned(arena.data() + offset, model.arena_bytes());
  std::vector<float> output(model.output_size());
  const bool show = options.progress && count >= 100;
  for (std::size_t w = 0; w < count; ++w) {
    observer.set_window(w);
    TSQ_RETURN_IF_ERROR(
        model.run(windows.subspan(w * input_size, input_size), output, aligned, &observer,
                  Span<nn::LayerCalibration* const>(records.data(), records.size())));
    if (show && ((w + 1) * 4 / count != w * 4 / count)) {
      std::fprintf(stderr, "calibration: %zu/%zu windows\n", w + 1, count);
    }
  }
  for (std::size_t n = 0; n < calibration.layers.size(); ++n) {
    if (calibration.layers[n] != nullptr) {
      const Status status = calibration.layers[n]->merge_error();
      if (!status.is_ok()) {
        return Status::error(status.code(), "calibration of layer '")
            .append(model.layer(n).name().c_str())
            .append("': ")
            .append(status.message());
      }
    }
  }
  for (const Observer& o : observers) {
    const Result<Range> range = o.range();
    if (!range.is_ok()) return range.status();
    calibration.ranges.push_back(range.value());
  }
  calibration.window_count = count;
  return calibration;
}

}  // namespace tsq
