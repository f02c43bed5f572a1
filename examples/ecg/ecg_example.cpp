// SPDX-License-Identifier: Apache-2.0
// Heartbeat classification on the MIT-BIH beats (260 samples, AAMI classes N S V F Q) with the
// CNN after Acharya et al. 2017, two ways:
//   (a) the float model, read from its TFLite file as tsq layers, calibrated on 300 beats and
//       quantized by tsq with every scheme of the study plus automatic mixed precision;
//   (b) the full-integer TFLite file made by the TensorFlow converter, its own int8 weights,
//       biases, scales and zero points run by tsq's integer kernels in both rounding modes.
// Every row is evaluated as a classifier on all 18,282 beats, with its agreement (share of beats
// given the same class) with the float model; then the debugger's per-layer table of tsq's
// FIQ-INT8 model and of the converter's int8 model, each against its float twin.
//
// Usage: tsq_ecg_example [--data DIR] [--models DIR] [--out DIR] [--json PATH] [--quick]
//   DIR holds ecg-mitbih/beats.npy and labels.npy (default: $TSQ_DATA_DIR, else the repository's
//   data/); --models holds ecg_classifier_{float,int8}.tflite (default: the repository's
//   tests/data); --out receives the debugger's CSV and SVG files (default: the current folder).
//   --quick runs every 20th beat and fails unless the float accuracy is >= 0.97 and tsq's
//   FIQ-INT8 and the converter's int8 model (both rounding modes) agree with float on >= 98%.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "../common/scheme_table.hpp"
#include "tsq/debug/analyzer.hpp"
#include "tsq/import/tflite_model.hpp"
#include "tsq/io/npy.hpp"

namespace {

constexpr std::size_t kBeat = 260;
constexpr std::size_t kClasses = 5;
using examples::fail;

tsq::Result<examples::Windows> load_beats(const std::string& dir) {
  auto beats = tsq::io::load_npy(dir + "beats.npy");  // float16 on disk, float32 when read
  if (!beats.is_ok()) return beats.status();
  auto labels = tsq::io::load_npy(dir + "labels.npy");
  if (!labels.is_ok()) return labels.status();
  const float* values = beats->data<float>();
  const std::uint8_t* label = labels->data<std::uint8_t>();
  if (values == nullptr || label == nullptr || beats->shape().size() != 2 ||
      beats->shape()[1] != kBeat || labels->element_count() != beats->shape()[0]) {
    return tsq::Status::error(tsq::ErrorCode::shape_mismatch,
                              "ecg-mitbih: expected beats [n, 260] and n labels");
  }
  examples::Windows windows{kBeat, {}, {}};
  windows.values.assign(values, values + beats->element_count());
  windows.labels.assign(label, label + labels->element_count());
  return windows;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data =
      std::getenv("TSQ_DATA_DIR") != nullptr ? std::getenv("TSQ_DATA_DIR") : TSQ_SOURCE_DIR "/data";
  std::string models = TSQ_SOURCE_DIR "/tests/data", out_dir = ".", json;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--quick") {
      quick = true;
    } else if ((flag == "--data" || flag == "--models" || flag == "--out" || flag == "--json") &&
               i + 1 < argc) {
      (flag == "--data"     ? data
       : flag == "--models" ? models
       : flag == "--out"    ? out_dir
                            : json) = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: %s [--data DIR] [--models DIR] [--out DIR] [--json PATH] [--quick]\n",
                   argv[0]);
      return 2;
    }
  }
  auto loaded = load_beats(data + "/ecg-mitbih/");
  if (!loaded.is_ok()) return fail(data + "/ecg-mitbih", loaded.status());
  const examples::Windows beats = loaded->every(quick ? 20 : 1);

  // (a) The float model as tsq layers (TFLite's Conv1D over one channel is a depthwise conv).
  const std::string float_file = models + "/ecg_classifier_float.tflite";
  auto model = tsq::load_tflite_float(float_file);
  if (!model.is_ok()) return fail(float_file, model.status());

  // 300 calibration beats drawn with a fixed seed, as the study's 100-300 representative windows.
  std::mt19937 rng(2024);
  examples::Windows calibration{kBeat, {}, {}};
  for (int i = 0; i < 300; ++i) calibration.add(loaded.value(), rng() % loaded->count());
  const tsq::Span<const float> calibration_windows(calibration.values);

  std::printf("tsq: heartbeat classification on the MIT-BIH beats (260 samples, 5 classes)%s\n",
              quick ? " -- quick: every 20th beat" : "");
  std::printf("%zu beats; calibration on 300 of them (seed 2024); float model %s\n\n",
              beats.count(), float_file.c_str());
  tsq::CalibrationOptions options;
  options.progress = false;
  auto calibrated = tsq::calibrate(model.value(), calibration_windows, options);
  if (!calibrated.is_ok()) return fail("calibration", calibrated.status());

  examples::ModelResult result;
  result.name = "ecg_cnn";
  tsq::Status status = examples::evaluate_schemes(model.value(), calibrated.value(),
                                                  calibration_windows, beats, kClasses, result);
  if (!status.is_ok()) return fail("schemes", status);

  // (b) The converter's int8 file, float input and output as the file has them.
  const std::string int8_file = models + "/ecg_classifier_int8.tflite";
  std::vector<tsq::QuantizedModel> converted;
  for (const auto& [name, rounding] :
       {std::make_pair("tflite_int8", tsq::RoundingMode::double_rounding),
        std::make_pair("tflite_int8_single", tsq::RoundingMode::single_rounding)}) {
    tsq::TfliteImportOptions import_options;
    import_options.rounding = rounding;
    auto q = tsq::load_tflite_int8(int8_file, import_options);
    if (!q.is_ok()) return fail(int8_file, q.status());
    auto e = examples::evaluate(q.value(), beats, kClasses);
    if (!e.is_ok()) return fail(name, e.status());
    result.schemes.emplace_back(name, std::move(e).value());
    converted.push_back(std::move(q).value());
  }
  result.set_agreement();

  std::printf("\n== tsq's FIQ-INT8 model\n");
  tsq::debug::print_summary(stdout, tsq::debug::summarize(result.int8));
  std::printf(
      "\n== every scheme on %zu beats (tflite_int8*: the converter's int8 file run by tsq, "
      "double and single rounding)\n",
      beats.count());
  examples::print_table(result);

  // The debuggers on every 6th beat: the per-layer statistics settle long before.
  const examples::Windows debug_beats = beats.every(quick ? 1 : 6);
  status = examples::debug_int8(result, debug_beats, out_dir + "/ecg_cnn_fiq_int8");
  if (!status.is_ok()) return fail("debugger", status);
  auto converted_report = tsq::debug::debug_model(converted.front(), debug_beats.values);
  if (!converted_report.is_ok()) return fail("debugger", converted_report.status());
  std::printf("\n== the converter's int8 file: per-layer error against its dequantized twin\n");
  tsq::debug::print_debug_report(stdout, converted_report.value());

  if (!json.empty()) {
    if (!examples::write_json(json, {result})) {
      std::fprintf(stderr, "error: cannot write %s\n", json.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", json.c_str());
  }
  if (!quick) return 0;
  bool pass = true;
  const double accuracy = result.find("float")->metrics.accuracy;
  if (accuracy < 0.97) {
    std::printf("CHECK FAILED: float accuracy %.4f < 0.97\n", accuracy);
    pass = false;
  }
  for (const char* scheme : {"fiq_int8", "tflite_int8", "tflite_int8_single"}) {
    const double agreement = result.find(scheme)->agreement;
    if (agreement < 0.98) {
      std::printf("CHECK FAILED: %s agrees with float on %.4f < 0.98 of the beats\n", scheme,
                  agreement);
      pass = false;
    }
  }
  std::printf("\nquick checks: %s\n", pass ? "passed" : "FAILED");
  return pass ? 0 : 1;
}
