// SPDX-License-Identifier: Apache-2.0
// A Keras model imported: ST's activity recognition CNN (st_har_model.h5, converted by
// tools/keras_h5_to_npz.py into data/har-st/st_har_model.npz), rebuilt with tsq's layers from
// the converter's layer list and run in float. Its outputs must equal a float64 numpy forward
// pass of the .h5 weights (data/har-st/st_har_reference.npz, written by tools/derive_data.py
// from the .h5 directly, not through the converter) within 1e-5, and over all 6,900 frames of
// the recordings it must classify as that pass does (98.91%, the figure of the original data set).
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tsq/io/npy.hpp"
#include "tsq/io/npz.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/dropout.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"
#include "tsq/nn/model.hpp"

using tsq::Span;
using tsq::nn::Model;

namespace {

namespace nn = tsq::nn;

constexpr std::size_t kFrame = 26;  // samples per frame, hop 13, milli-g / 4000
constexpr std::size_t kHop = 13;
constexpr std::size_t kAxes = 3;
constexpr std::size_t kClasses = 3;

std::string har_file(const char* name) { return std::string(TSQ_DATA_DIR) + "/har-st/" + name; }

tsq::io::NpzFile load_npz(const char* name) {
  auto file = tsq::io::load_npz(har_file(name));
  INFO(file.status().message());
  REQUIRE(file.is_ok());
  return std::move(file).value();
}

template <typename T>
std::vector<T> values_of(const tsq::io::NpyArray* array, const char* what) {
  INFO(what);
  REQUIRE(array != nullptr);
  REQUIRE(array->data<T>() != nullptr);
  return std::vector<T>(array->data<T>(), array->data<T>() + array->element_count());
}

// The Sequential model of st_har_model.layers.json, layer by layer. Keras' Dense(3, softmax) is
// tsq's Dense followed by Softmax; Dropout is removed at build.
Model st_har_model() {
  Model model;
  model.input("frame", tsq::Shape{26, 3});
  model.add(nn::Conv1D("conv1d", 16, 3).padding(tsq::Padding::valid).relu());
  model.add(nn::Conv1D("conv1d_1", 8, 3).padding(tsq::Padding::valid).relu());
  model.add(nn::Dropout("dropout", 0.5f));
  model.add(nn::Flatten("flatten"));
  model.add(nn::Dense("dense", 64).relu());
  model.add(nn::Dense("dense_1", 3));
  model.add(nn::Softmax("softmax"));
  return model;
}

Model loaded_model() {
  Model model = st_har_model();
  tsq::Status status = model.build();
  if (status.is_ok()) status = model.load_weights(har_file("st_har_model.npz"));
  INFO(status.message());
  REQUIRE(status.is_ok());
  return model;
}

std::size_t argmax(const std::array<float, kClasses>& scores) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < kClasses; ++c) best = scores[c] > scores[best] ? c : best;
  return best;
}

}  // namespace

TEST_CASE("ST HAR import: the converter's layer list", "[nn][har_import]") {
  const tsq::io::NpzFile archive = load_npz("st_har_model.npz");
  const std::vector<std::uint8_t> bytes =
      values_of<std::uint8_t>(archive.find("model.layers"), "member model.layers");
  const std::string layers(bytes.begin(), bytes.end());
  INFO(layers);
  // The layers in order, each with the options the model above uses.
  const char* expected[] = {"\"input_shape\": [26, 3]",
                            "\"class_name\": \"Conv1D\", \"name\": \"conv1d\"",
                            "\"filters\": 16",
                            "\"kernel_size\": [3]",
                            "\"padding\": \"valid\"",
                            "\"activation\": \"relu\"",
                            "\"name\": \"conv1d_1\"",
                            "\"filters\": 8",
                            "\"class_name\": \"Dropout\"",
                            "\"rate\": 0.5",
                            "\"class_name\": \"Flatten\"",
                            "\"class_name\": \"Dense\", \"name\": \"dense\"",
                            "\"units\": 64",
                            "\"activation\": \"relu\"",
                            "\"name\": \"dense_1\"",
                            "\"units\": 3",
                            "\"activation\": \"softmax\""};
  std::size_t at = 0;
  for (const char* fragment : expected) {
    INFO("next: " << fragment);
    const std::size_t found = layers.find(fragment, at);
    REQUIRE(found != std::string::npos);
    at = found;
  }
  // Weights under tsq's names, in Keras' layout; 12,075 parameters as the .h5 has.
  Model model = loaded_model();
  CHECK(model.parameter_count() == 12075);
  CHECK(archive.find("conv1d.kernel")->shape() == std::vector<std::size_t>{3, 3, 16});
  CHECK(archive.find("dense.kernel")->shape() == std::vector<std::size_t>{176, 64});
}

TEST_CASE("ST HAR import: float outputs equal numpy's forward pass", "[nn][har_import]") {
  const tsq::io::NpzFile reference = load_npz("st_har_reference.npz");
  const std::vector<float> frames = values_of<float>(reference.find("frames"), "frames");
  const std::vector<float> expected =
      values_of<float>(reference.find("probabilities"), "probabilities");
  const std::vector<std::int32_t> index =
      values_of<std::int32_t>(reference.find("frame_index"), "frame_index");
  const std::size_t count = index.size();
  REQUIRE(count == 20);
  REQUIRE(frames.size() == count * kFrame * kAxes);
  REQUIRE(expected.size() == count * kClasses);

  // The fixture's frames are the recordings' frames as the C++ side cuts them.
  auto recordings = tsq::io::load_npy(har_file("recordings.npy"));
  REQUIRE(recordings.is_ok());
  const std::int16_t* milli_g = recordings->data<std::int16_t>();
  REQUIRE(milli_g != nullptr);
  const std::size_t per_recording = (1000 - kFrame) / kHop + 1;
  for (std::size_t f = 0; f < count; ++f) {
    const auto frame = static_cast<std::size_t>(index[f]);
    const std::size_t start =
        (frame / per_recording) * 1000 * kAxes + (frame % per_recording) * kHop * kAxes;
    for (std::size_t i = 0; i < kFrame * kAxes; ++i) {
      REQUIRE(frames[f * kFrame * kAxes + i] == static_cast<float>(milli_g[start + i]) / 4000.0f);
    }
  }

  const Model model = loaded_model();
  std::vector<std::byte> arena(model.arena_bytes());
  float worst = 0.0f;
  for (std::size_t f = 0; f < count; ++f) {
    std::array<float, kClasses> probabilities{};
    const tsq::Status status =
        model.run(Span<const float>(frames.data() + f * kFrame * kAxes, kFrame * kAxes),
                  Span<float>(probabilities.data(), kClasses), arena);
    INFO(status.message());
    REQUIRE(status.is_ok());
    for (std::size_t c = 0; c < kClasses; ++c) {
      INFO("frame " << index[f] << ", class " << c);
      const float error = std::fabs(probabilities[c] - expected[f * kClasses + c]);
      CHECK(error <= 1e-5f);
      worst = std::fmax(worst, error);
    }
  }
  std::printf("ST HAR import: 20 frames, worst |tsq - numpy| %.2e\n", static_cast<double>(worst));
}

TEST_CASE("ST HAR import: all 6,900 frames of the recordings", "[nn][har_import]") {
  auto recordings = tsq::io::load_npy(har_file("recordings.npy"));
  auto labels_file = tsq::io::load_npy(har_file("labels.npy"));
  REQUIRE(recordings.is_ok());
  REQUIRE(labels_file.is_ok());
  REQUIRE(recordings->shape() == std::vector<std::size_t>{92, 1000, 3});
  const std::int16_t* milli_g = recordings->data<std::int16_t>();
  const std::uint8_t* labels = labels_file->data<std::uint8_t>();
  REQUIRE(milli_g != nullptr);
  REQUIRE(labels != nullptr);

  const Model model = loaded_model();
  std::vector<std::byte> arena(model.arena_bytes());
  std::array<std::size_t, kClasses> correct{}, total{};
  std::vector<float> frame(kFrame * kAxes);
  for (std::size_t r = 0; r < 92; ++r) {
    for (std::size_t start = 0; start + kFrame <= 1000; start += kHop) {
      for (std::size_t i = 0; i < frame.size(); ++i) {
        frame[i] = static_cast<float>(milli_g[(r * 1000 + start) * kAxes + i]) / 4000.0f;
      }
      std::array<float, kClasses> probabilities{};
      REQUIRE(model
                  .run(Span<const float>(frame.data(), frame.size()),
                       Span<float>(probabilities.data(), kClasses), arena)
                  .is_ok());
      ++total[labels[r]];
      correct[labels[r]] += argmax(probabilities) == labels[r];
    }
  }
  // numpy's float64 pass: 6,825 of 6,900 (98.91%); per class 2,651 / 2,902 / 1,272.
  CHECK(total == std::array<std::size_t, kClasses>{2700, 2925, 1275});
  CHECK(correct == std::array<std::size_t, kClasses>{2651, 2902, 1272});
}
