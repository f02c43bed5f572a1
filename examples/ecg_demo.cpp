// SPDX-License-Identifier: Apache-2.0
// tsq's main job on a real model: the float MIT-BIH heartbeat CNN (Conv1D x 3, Dense x 3),
// composed with tsq's layers, calibrated on 300 beats, quantized to full integer (int8 weights
// and activations, int32 biases) in both rounding modes, debugged layer by layer against its
// float twin and evaluated as a classifier on every beat.
//
// Usage: tsq_ecg_demo [--data DIR] [--model FILE]   (DIR holds ecg-mitbih/beats.npy, labels.npy;
// default: the environment variable TSQ_DATA_DIR, else the repository's data/ folder)
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tsq/debug/analyzer.hpp"
#include "tsq/debug/debugger.hpp"
#include "tsq/debug/metrics.hpp"
#include "tsq/io/npy.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/depthwise_conv.hpp"
#include "tsq/nn/layers/pooling.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"
#include "tsq/ptq/quantize_model.hpp"

namespace {

namespace nn = tsq::nn;
const std::vector<std::string> kClassNames = {"N", "S", "V", "F", "Q"};  // AAMI classes

int fail(const char* what, const tsq::Status& status) {
  std::fprintf(stderr, "error: %s: %s (%s)\n", what, status.message(),
               tsq::error_code_name(status.code()));
  return 1;
}

// The Keras model as its TFLite file stores it: a Conv1D with one input channel is a depthwise
// conv (multiplier 5), and the numbered tensors of the converted file are renamed to layers.
nn::Model ecg_model() {
  nn::Model model;
  model.input("beat", tsq::Shape{260, 1});
  model.add(
      nn::DepthwiseConv1D("conv1d", 3).depth_multiplier(5).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::MaxPool1D("max_pooling1d", 2));
  model.add(nn::Conv1D("conv1d_1", 10, 4).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::MaxPool1D("max_pooling1d_1", 2));
  model.add(nn::Conv1D("conv1d_2", 20, 4).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::MaxPool1D("max_pooling1d_2", 2));
  model.add(nn::Flatten("flatten"));
  model.add(nn::Dense("dense", 30).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::Dense("dense_1", 20).relu().layout(nn::WeightLayout::tflite));
  model.add(nn::Dense("dense_2", 5).layout(nn::WeightLayout::tflite));
  model.add(nn::Softmax("softmax"));
  return model;
}

nn::WeightNaming tflite_tensor_names() {
  nn::WeightNaming naming;
  const char* pairs[][2] = {
      {"conv1d.kernel", "t4"},  {"conv1d.bias", "t5"},      {"conv1d_1.kernel", "t8"},
      {"conv1d_1.bias", "t10"}, {"conv1d_2.kernel", "t13"}, {"conv1d_2.bias", "t15"},
      {"dense.kernel", "t16"},  {"dense.bias", "t17"},      {"dense_1.kernel", "t18"},
      {"dense_1.bias", "t19"},  {"dense_2.kernel", "t21"},  {"dense_2.bias", "t22"}};
  for (const auto& pair : pairs) naming.members[pair[0]] = pair[1];
  return naming;
}

struct Evaluation {
  tsq::debug::ConfusionMatrix confusion{5};
  std::vector<std::size_t> predictions;
};

// Classifies every beat with `run(beat, scores)`.
template <typename Run>
tsq::Status evaluate(const std::vector<float>& beats, const std::vector<std::uint8_t>& labels,
                     Run run, Evaluation& result) {
  std::vector<float> scores(5);
  for (std::size_t b = 0; b < labels.size(); ++b) {
    TSQ_RETURN_IF_ERROR(run(tsq::Span<const float>(beats.data() + 260 * b, 260), scores));
    const std::size_t predicted = tsq::debug::argmax(scores).value();
    result.predictions.push_back(predicted);
    TSQ_RETURN_IF_ERROR(result.confusion.add(labels[b], predicted));
  }
  return tsq::Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  // The repository's copy (data/); TSQ_DATA_DIR or --data may name a larger set, same layout.
  std::string data =
      std::getenv("TSQ_DATA_DIR") != nullptr ? std::getenv("TSQ_DATA_DIR") : TSQ_SOURCE_DIR "/data";
  std::string weights = TSQ_SOURCE_DIR "/tests/data/ecg_classifier_float.npz";
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if ((flag != "--data" && flag != "--model") || i + 1 == argc) {
      std::fprintf(stderr,
                   "usage: %s [--data DIR] [--model FILE]\n"
                   "  DIR holds ecg-mitbih/beats.npy and labels.npy (default: $TSQ_DATA_DIR, "
                   "else %s)\n",
                   argv[0], TSQ_SOURCE_DIR "/data");
      return 2;
    }
    (flag == "--data" ? data : weights) = argv[i + 1];
  }
  auto beats_file = tsq::io::load_npy(data + "/ecg-mitbih/beats.npy");
  auto labels_file = tsq::io::load_npy(data + "/ecg-mitbih/labels.npy");
  if (!beats_file.is_ok()) return fail("beats", beats_file.status());
  if (!labels_file.is_ok()) return fail("labels", labels_file.status());
  const std::vector<float> beats(beats_file->data<float>(),
                                 beats_file->data<float>() + beats_file->element_count());
  const std::vector<std::uint8_t> labels(
      labels_file->data<std::uint8_t>(),
      labels_file->data<std::uint8_t>() + labels_file->element_count());

  nn::Model model = ecg_model();
  tsq::Status status = model.build();
  if (status.is_ok()) status = model.load_weights(weights, tflite_tensor_names());
  if (!status.is_ok()) return fail("model", status);

  // 300 calibration beats drawn with a fixed seed, as the study's 100-300 representative windows.
  std::mt19937 rng(2024);
  std::vector<float> calibration_beats;
  for (int i = 0; i < 300; ++i) {
    const std::size_t b = rng() % labels.size();
    calibration_beats.insert(calibration_beats.end(), beats.begin() + 260 * b,
                             beats.begin() + 260 * (b + 1));
  }
  std::printf("tsq: full-integer post-training quantization of the MIT-BIH heartbeat CNN\n");
  std::printf("%zu beats of 260 samples; calibration on 300 of them (seed 2024)\n\n",
              labels.size());
  auto calibration = tsq::calibrate(model, calibration_beats);
  if (!calibration.is_ok()) return fail("calibration", calibration.status());
  auto int8 = tsq::quantize(model, calibration.value(), tsq::Scheme::fiq_float32());
  auto int8_single =
      tsq::quantize(model, calibration.value(),
                    tsq::Scheme::fiq_float32().with_rounding(tsq::RoundingMode::single_rounding));
  if (!int8.is_ok()) return fail("quantization", int8.status());
  if (!int8_single.is_ok()) return fail("quantization", int8_single.status());

  std::printf("== model (fiq: int8 inside, float input and output)\n");
  tsq::debug::print_summary(stdout, tsq::debug::summarize(int8.value()));
  std::printf("\n== tensors: calibrated range, int8 scale and zero point\n");
  tsq::debug::print_tensor_table(stdout, int8.value());
  // Every 6th beat (3,047): the per-layer statistics are settled long before, at a sixth of the
  // time.
  std::vector<float> debug_beats;
  for (std::size_t b = 0; b < labels.size(); b += 6) {
    debug_beats.insert(debug_beats.end(), beats.begin() + 260 * b, beats.begin() + 260 * (b + 1));
  }
  std::printf(
      "\n== per-layer error against the float model on every 6th beat (the quantization "
      "debugger)\n");
  auto report = tsq::debug::debug_model(int8.value(), debug_beats);
  if (!report.is_ok()) return fail("debugger", report.status());
  tsq::debug::print_debug_report(stdout, report.value());

  std::printf("\n== classification of all %zu beats\n", labels.size());
  std::vector<std::byte> float_arena(model.arena_bytes()), arena(int8->arena_bytes());
  Evaluation float_eval, double_eval, single_eval;
  status = evaluate(
      beats, labels, [&](auto beat, auto& s) { return model.run(beat, s, float_arena); },
      float_eval);
  if (status.is_ok())
    status = evaluate(
        beats, labels, [&](auto beat, auto& s) { return int8->run(beat, s, arena); }, double_eval);
  if (status.is_ok())
    status = evaluate(
        beats, labels, [&](auto beat, auto& s) { return int8_single->run(beat, s, arena); },
        single_eval);
  if (!status.is_ok()) return fail("evaluation", status);
  std::printf("%-28s %9s %9s %12s\n", "model", "accuracy", "macro F1", "agreement");
  for (const auto& row : {std::make_pair("float32", &float_eval),
                          std::make_pair("int8, double rounding", &double_eval),
                          std::make_pair("int8, single rounding", &single_eval)}) {
    const auto metrics = tsq::debug::compute_metrics(row.second->confusion).value();
    std::size_t same = 0;
    for (std::size_t b = 0; b < labels.size(); ++b)
      same += row.second->predictions[b] == float_eval.predictions[b];
    std::printf("%-28s %8.3f%% %9.4f %11.3f%%\n", row.first, 100.0 * metrics.accuracy,
                metrics.macro_f1,
                100.0 * static_cast<double>(same) / static_cast<double>(labels.size()));
  }
  std::printf("\n== int8, double rounding: ");
  return tsq::debug::print_classification_report(stdout, double_eval.confusion, kClassNames).is_ok()
             ? 0
             : 1;
}
