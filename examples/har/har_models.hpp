// SPDX-License-Identifier: Apache-2.0
// The HAR example's three models and its frames, shared with the firmware generator.
//   st         ST's Keras CNN (st_har_model.npz)
//   conv_lstm  a Conv+LSTM in the spirit of DeepConvLSTM, trained by tools/train_har.py
//   cnn        a small CNN in the spirit of the SmartWatch model, trained by the same script
// Frames: 26 samples x 3 axes (26 Hz), hop 13, milli-g / 4000 (the ST model's input scaling).
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "../common/scheme_table.hpp"
#include "tsq/io/npy.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/dropout.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/layers/pooling.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"

namespace examples {
namespace har {

namespace nn = tsq::nn;
constexpr std::size_t kFrame = 26;
constexpr std::size_t kHop = 13;
constexpr std::size_t kAxes = 3;
constexpr std::size_t kClasses = 3;  // stationary, walking, running
constexpr std::size_t kFrameValues = kFrame * kAxes;

// ST's Sequential model (st_har_model.layers.json): Keras' Dense(3, softmax) is Dense + Softmax.
inline nn::Model st_model() {
  nn::Model model;
  model.input("frame", tsq::Shape{kFrame, kAxes});
  model.add(nn::Conv1D("conv1d", 16, 3).relu());
  model.add(nn::Conv1D("conv1d_1", 8, 3).relu());
  model.add(nn::Dropout("dropout", 0.5f));
  model.add(nn::Flatten("flatten"));
  model.add(nn::Dense("dense", 64).relu());
  model.add(nn::Dense("dense_1", 3));
  model.add(nn::Softmax("softmax"));
  return model;
}

// tools/train_har.py's models, PyTorch layout.
inline nn::Model conv_lstm_model() {
  const auto torch = nn::WeightLayout::pytorch;
  nn::Model model;
  model.input("frame", tsq::Shape{kFrame, kAxes});
  model.add(nn::Conv1D("conv1", 16, 5).relu().layout(torch));
  model.add(nn::Conv1D("conv2", 32, 5).relu().layout(torch));
  model.add(nn::LSTM("lstm", 32).layout(torch));  // the last step
  model.add(nn::Dense("dense", 3).layout(torch));
  model.add(nn::Softmax("softmax"));
  return model;
}

inline nn::Model cnn_model() {
  const auto torch = nn::WeightLayout::pytorch;
  nn::Model model;
  model.input("frame", tsq::Shape{kFrame, kAxes});
  model.add(nn::Conv1D("conv1", 16, 5).relu().layout(torch));
  model.add(nn::MaxPool1D("pool1", 2));
  model.add(nn::Conv1D("conv2", 32, 5).relu().layout(torch));
  model.add(nn::MaxPool1D("pool2", 2));
  model.add(nn::Flatten("flatten"));  // time-major, as the script flattens
  model.add(nn::Dense("dense1", 32).relu().layout(torch));
  model.add(nn::Dense("dense2", 3).layout(torch));
  model.add(nn::Softmax("softmax"));
  return model;
}

struct ModelSpec {
  const char* name;
  const char* weights;  // in har-st/
  nn::Model (*compose)();
  bool all_frames;  // evaluated on all 6,900 frames, else on the test recordings
};

inline const ModelSpec kModels[] = {{"st", "st_har_model.npz", st_model, true},
                                    {"conv_lstm", "conv_lstm_model.npz", conv_lstm_model, false},
                                    {"cnn", "cnn_model.npz", cnn_model, false}};

// A model of kModels composed, built and loaded from `har_dir` (ending in '/').
inline tsq::Result<nn::Model> load_model(const ModelSpec& spec, const std::string& har_dir) {
  nn::Model model = spec.compose();
  TSQ_RETURN_IF_ERROR(model.build());
  TSQ_RETURN_IF_ERROR(model.load_weights(har_dir + spec.weights));
  return model;
}

struct Frames {
  Windows all, training, testing;  // testing: the test recordings of split.npy (by recording)
};

inline Windows cut_frames(const tsq::io::NpyArray& recordings, const std::uint8_t* labels,
                          const std::function<bool(std::size_t)>& keep) {
  const std::size_t samples = recordings.shape()[1];
  const std::int16_t* milli_g = recordings.data<std::int16_t>();
  Windows frames{kFrameValues, {}, {}};
  for (std::size_t r = 0; r < recordings.shape()[0]; ++r) {
    if (!keep(r)) continue;
    for (std::size_t start = 0; start + kFrame <= samples; start += kHop) {
      for (std::size_t i = 0; i < kFrameValues; ++i)
        frames.values.push_back(static_cast<float>(milli_g[(r * samples + start) * kAxes + i]) /
                                4000.0f);
      frames.labels.push_back(labels[r]);
    }
  }
  return frames;
}

// recordings.npy (int16 milli-g, [recordings, samples, 3]), labels.npy and split.npy (per
// recording: 0 training, 1 test) of `har_dir`.
inline tsq::Result<Frames> load_frames(const std::string& har_dir) {
  auto recordings = tsq::io::load_npy(har_dir + "recordings.npy");
  if (!recordings.is_ok()) return recordings.status();
  auto labels = tsq::io::load_npy(har_dir + "labels.npy");
  if (!labels.is_ok()) return labels.status();
  auto split = tsq::io::load_npy(har_dir + "split.npy");
  if (!split.is_ok()) return split.status();
  const std::uint8_t* test = split->data<std::uint8_t>();
  const std::uint8_t* label = labels->data<std::uint8_t>();
  if (recordings->data<std::int16_t>() == nullptr || recordings->shape().size() != 3 ||
      recordings->shape()[2] != kAxes || label == nullptr || test == nullptr ||
      labels->element_count() != recordings->shape()[0] ||
      split->element_count() != recordings->shape()[0]) {
    return tsq::Status::error(tsq::ErrorCode::shape_mismatch, "har-st: unexpected shapes or types");
  }
  Frames frames;
  frames.all = cut_frames(*recordings, label, [](std::size_t) { return true; });
  frames.training = cut_frames(*recordings, label, [&](std::size_t r) { return test[r] == 0; });
  frames.testing = cut_frames(*recordings, label, [&](std::size_t r) { return test[r] != 0; });
  return frames;
}

// `count` calibration frames drawn from the training recordings with a fixed seed.
inline Windows calibration_frames(const Frames& frames, std::size_t count) {
  std::mt19937 rng(2024);
  Windows calibration{kFrameValues, {}, {}};
  for (std::size_t i = 0; i < count; ++i)
    calibration.add(frames.training, rng() % frames.training.count());
  return calibration;
}

}  // namespace har
}  // namespace examples
