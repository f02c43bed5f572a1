// SPDX-License-Identifier: Apache-2.0
// Whole models per inference through the model API: the float model (the float forms run Eigen
// where tsq_bench links it, kernels/eigen/, else the scalar twins) against its FIQ-INT8 twin
// (int8 input and output, the integer kernels), on real windows of the examples' data:
//   model/float/<model>, model/int8/<model>    har_cnn, har_conv_lstm, har_st, ecg_cnn
// One inference = one window in, the class scores out; the arena is allocated once, outside.
#include <cstdint>
#include <string>
#include <vector>

#include "../examples/har/har_models.hpp"
#include "bench_util.hpp"
#include "tsq/import/tflite_model.hpp"

namespace tsq_bench {
namespace {

struct ModelSpec {
  std::string name;
};

struct ModelCase {
  explicit ModelCase(const ModelSpec& spec);

  tsq::nn::Model model;
  tsq::QuantizedModel int8;
  std::vector<float> window;
  std::vector<std::int8_t> window_int8;
  std::vector<float> scores;
  std::vector<std::int8_t> scores_int8;
  std::vector<std::byte> float_arena, int8_arena;
};

// The data and models of the examples (the repository's data/ and tests/data/).
ModelCase::ModelCase(const ModelSpec& spec) {
  namespace har = examples::har;
  std::vector<float> calibration;
  if (spec.name == "ecg_cnn") {
    model = take(tsq::load_tflite_float(TSQ_SOURCE_DIR "/tests/data/ecg_classifier_float.tflite"),
                 "ECG model");
    const auto beats =
        take(tsq::io::load_npy(TSQ_SOURCE_DIR "/data/ecg-mitbih/beats.npy"), "ECG beats");
    const float* values = beats.data<float>();
    calibration.assign(values, values + 100 * 260);
    window.assign(values + 500 * 260, values + 501 * 260);
  } else {
    const std::string dir = TSQ_SOURCE_DIR "/data/har-st/";
    const auto frames = take(har::load_frames(dir), "HAR frames");
    const std::string wanted = spec.name.substr(4);  // har_<name>
    const har::ModelSpec* found = nullptr;
    for (const har::ModelSpec& m : har::kModels) {
      if (wanted == m.name) found = &m;
    }
    if (found == nullptr) throw SetupError("no HAR model " + wanted);
    model = take(har::load_model(*found, dir), spec.name);
    calibration = har::calibration_frames(frames, 100).values;
    window.assign(frames.testing.values.begin(),
                  frames.testing.values.begin() + static_cast<std::ptrdiff_t>(har::kFrameValues));
  }
  tsq::CalibrationOptions options;
  options.progress = false;
  const auto calibrated = take(tsq::calibrate(model, calibration, options), "calibration");
  int8 = take(tsq::quantize(model, calibrated, tsq::Scheme::fiq_int8()), "quantization");
  window_int8.resize(window.size());
  check(tsq::quantize(tsq::Span<const float>(window), tsq::Span<std::int8_t>(window_int8),
                      int8.input_quantization().params),
        "input");
  scores.resize(model.output_size());
  scores_int8.resize(model.output_size());
  float_arena.resize(model.arena_bytes());
  int8_arena.resize(int8.arena_bytes());
}

const ModelSpec kModels[] = {{"har_cnn"}, {"har_conv_lstm"}, {"har_st"}, {"ecg_cnn"}};

}  // namespace

void register_models() {
  for (const ModelSpec& spec : kModels) {
    add("model", "float", spec.name, [spec](benchmark::State& state) {
      ModelCase& c = cached<ModelCase>(spec);
      time_eval(state, Work{0, static_cast<double>(c.scores.size()), 0}, [&] {
        return c.model.run(tsq::Span<const float>(c.window), tsq::Span<float>(c.scores),
                           c.float_arena);
      });
    });
    add("model", "int8", spec.name, [spec](benchmark::State& state) {
      ModelCase& c = cached<ModelCase>(spec);
      time_eval(state, Work{0, static_cast<double>(c.scores_int8.size()), 0}, [&] {
        return c.int8.run(tsq::Span<const std::int8_t>(c.window_int8),
                          tsq::Span<std::int8_t>(c.scores_int8), c.int8_arena);
      });
    });
  }
}

}  // namespace tsq_bench
