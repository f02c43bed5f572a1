// SPDX-License-Identifier: Apache-2.0
// Human activity recognition on ST's har-st recordings (3-axis accelerometer, 26 Hz; stationary,
// walking, running): three models composed with tsq's layers, each calibrated on 200 training
// frames, quantized with every scheme of the study plus automatic mixed precision, evaluated as a
// classifier and debugged layer by layer under FIQ-INT8.
//   st         ST's Keras CNN (st_har_model.npz), on all 6,900 frames (most were in its training
//              set, so its table measures agreement more than generalisation)
//   conv_lstm  a Conv+LSTM in the spirit of DeepConvLSTM, trained by tools/train_har.py
//   cnn        a small CNN in the spirit of the SmartWatch model, trained by the same script
// The two trained models are evaluated on the test recordings of split.npy (split by recording).
//
// Usage: tsq_har_example [--data DIR] [--out DIR] [--json PATH] [--quick]
//   DIR holds har-st/ (default: $TSQ_DATA_DIR, else the repository's data/); --out receives the
//   debugger's CSV and SVG files (default: the current folder). --quick runs every 10th evaluation
//   frame with 100 calibration frames and fails unless the ST model's float accuracy is >= 0.95
//   and FIQ-INT8 agrees with float on >= 97% of the frames of every model.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "har_models.hpp"

namespace har = examples::har;
using examples::fail;

int main(int argc, char** argv) {
  std::string data =
      std::getenv("TSQ_DATA_DIR") != nullptr ? std::getenv("TSQ_DATA_DIR") : TSQ_SOURCE_DIR "/data";
  std::string out_dir = ".", json;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--quick") {
      quick = true;
    } else if ((flag == "--data" || flag == "--out" || flag == "--json") && i + 1 < argc) {
      (flag == "--data" ? data : flag == "--out" ? out_dir : json) = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--data DIR] [--out DIR] [--json PATH] [--quick]\n", argv[0]);
      return 2;
    }
  }
  const std::string har_dir = data + "/har-st/";
  auto loaded = har::load_frames(har_dir);
  if (!loaded.is_ok()) return fail(har_dir, loaded.status());
  const har::Frames& frames = loaded.value();
  // Calibration frames from the training recordings only, drawn with a fixed seed.
  const std::size_t calibration_count = quick ? 100 : 200;
  const examples::Windows calibration = har::calibration_frames(frames, calibration_count);
  const tsq::Span<const float> calibration_windows(calibration.values);

  std::printf("tsq: HAR on the har-st recordings (frames of %zu x %zu, hop %zu)%s\n", har::kFrame,
              har::kAxes, har::kHop,
              quick ? " -- quick: every 10th frame, 100 calibration frames" : "");
  std::printf(
      "%zu frames; split by recording: %zu training, %zu test frames; calibration on %zu "
      "training frames (seed 2024)\n",
      frames.all.count(), frames.training.count(), frames.testing.count(), calibration_count);

  std::vector<examples::ModelResult> results;
  bool checks_pass = true;
  for (const har::ModelSpec& spec : har::kModels) {
    auto model = har::load_model(spec, har_dir);
    if (!model.is_ok()) return fail(spec.name, model.status());
    const examples::Windows windows =
        (spec.all_frames ? frames.all : frames.testing).every(quick ? 10 : 1);
    std::printf("\n==== %s (%s, %zu parameters): %zu %s frames\n", spec.name, spec.weights,
                model->parameter_count(), windows.count(), spec.all_frames ? "(all)" : "test");

    tsq::CalibrationOptions options;
    options.progress = false;
    auto calibrated = tsq::calibrate(model.value(), calibration_windows, options);
    if (!calibrated.is_ok()) return fail("calibration", calibrated.status());

    examples::ModelResult result;
    result.name = spec.name;
    tsq::Status status = examples::evaluate_schemes(
        model.value(), calibrated.value(), calibration_windows, windows, har::kClasses, result);
    if (!status.is_ok()) return fail(spec.name, status);
    std::printf("\n");
    examples::print_table(result);

    // The debugger on at most ~700 of the evaluation frames: its statistics settle long before.
    status = examples::debug_int8(result, windows.every(windows.count() / 700 + 1),
                                  out_dir + "/har_" + spec.name + "_fiq_int8");
    if (!status.is_ok()) return fail("debugger", status);

    if (quick) {
      const double accuracy = result.find("float")->metrics.accuracy;
      const double agreement = result.find("fiq_int8")->agreement;
      if (spec.all_frames && accuracy < 0.95) {
        std::printf("CHECK FAILED: %s float accuracy %.4f < 0.95\n", spec.name, accuracy);
        checks_pass = false;
      }
      if (agreement < 0.97) {
        std::printf("CHECK FAILED: %s fiq_int8 agrees with float on %.4f < 0.97 of the frames\n",
                    spec.name, agreement);
        checks_pass = false;
      }
    }
    results.push_back(std::move(result));
  }
  if (!json.empty()) {
    if (!examples::write_json(json, results)) {
      std::fprintf(stderr, "error: cannot write %s\n", json.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", json.c_str());
  }
  if (quick) std::printf("\nquick checks: %s\n", checks_pass ? "passed" : "FAILED");
  return checks_pass ? 0 : 1;
}
