// SPDX-License-Identifier: Apache-2.0
// Writes the firmware models (host): each quantized on the host and exported as one integer-only
// C++ header, with a test-data header of real windows and the outputs the host computed.
//   har_cnn        the HAR example's small CNN, FIQ-INT8 (int8 input and output)
//   har_conv_lstm  the HAR example's Conv+LSTM, FIQ-INT8
//   ecg_cnn        the converter's int8 heartbeat CNN (ecg_classifier_int8.tflite) as the file has
//                  it, with int8 input and output
// Usage: tsq_firmware_models OUT_DIR [--windows N] [--data DIR] [--models DIR]
//   N test windows per model (default 24): HAR test frames and ECG beats spread over the data.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "../har/har_models.hpp"
#include "tsq/export/firmware_model.hpp"
#include "tsq/import/tflite_model.hpp"

namespace {

using examples::fail;

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out.flush());
}

int export_model(const tsq::QuantizedModel& q, const std::string& name,
                 const std::string& description, const examples::Windows& windows,
                 const std::string& out_dir) {
  tsq::codegen::FirmwareExportOptions options{name, description};
  auto model = tsq::codegen::export_firmware_model(q, options);
  if (!model.is_ok()) return fail(name, model.status());
  auto data = tsq::codegen::export_test_data(q, name, windows.values);
  if (!data.is_ok()) return fail(name + " test data", data.status());
  if (!write_file(out_dir + "/" + name + ".hpp", model->text) ||
      !write_file(out_dir + "/" + name + "_testdata.hpp", data.value())) {
    std::fprintf(stderr, "error: cannot write into %s\n", out_dir.c_str());
    return 1;
  }
  std::printf("%-14s input %zu, output %zu, arena %zu B (host plan %zu B), %zu test windows\n",
              name.c_str(), model->input_size, model->output_size, model->arena_bytes,
              q.arena_bytes(), windows.count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [--windows N] [--data DIR] [--models DIR]\n", argv[0]);
    return 2;
  }
  const std::string out_dir = argv[1];
  std::string data = TSQ_SOURCE_DIR "/data", models = TSQ_SOURCE_DIR "/tests/data";
  std::size_t count = 24;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--windows") {
      count = static_cast<std::size_t>(std::strtoul(argv[i + 1], nullptr, 10));
    } else if (flag == "--data") {
      data = argv[i + 1];
    } else if (flag == "--models") {
      models = argv[i + 1];
    }
  }
  if (count == 0) count = 1;

  namespace har = examples::har;
  const std::string har_dir = data + "/har-st/";
  auto frames = har::load_frames(har_dir);
  if (!frames.is_ok()) return fail(har_dir, frames.status());
  const examples::Windows calibration = har::calibration_frames(frames.value(), 200);
  const examples::Windows har_windows =
      frames->testing.every(frames->testing.count() / count).every(1);
  examples::Windows har_test{har::kFrameValues, {}, {}};
  for (std::size_t i = 0; i < count && i < har_windows.count(); ++i) har_test.add(har_windows, i);

  tsq::CalibrationOptions calibration_options;
  calibration_options.progress = false;
  for (const har::ModelSpec& spec : har::kModels) {
    const std::string name = std::string("har_") + spec.name;
    if (name == "har_st") continue;  // the ST model's Dropout and CNN add nothing the others lack
    auto model = har::load_model(spec, har_dir);
    if (!model.is_ok()) return fail(spec.name, model.status());
    auto calibrated = tsq::calibrate(model.value(), calibration.values, calibration_options);
    if (!calibrated.is_ok()) return fail(spec.name, calibrated.status());
    auto q = tsq::quantize(model.value(), calibrated.value(), tsq::Scheme::fiq_int8());
    if (!q.is_ok()) return fail(spec.name, q.status());
    if (export_model(q.value(), name,
                     std::string("HAR (har-st): ") + spec.weights +
                         ", FIQ-INT8, 200 calibration "
                         "frames (seed 2024).",
                     har_test, out_dir) != 0)
      return 1;
  }

  // The ECG beats: every n-th of the 18,282.
  auto beats = tsq::io::load_npy(data + "/ecg-mitbih/beats.npy");
  if (!beats.is_ok()) return fail("beats", beats.status());
  examples::Windows ecg_test{260, {}, {}};
  const std::size_t beat_count = beats->shape()[0];
  for (std::size_t i = 0; i < count; ++i) {
    const float* beat = beats->data<float>() + (i * (beat_count / count)) * 260;
    ecg_test.values.insert(ecg_test.values.end(), beat, beat + 260);
    ecg_test.labels.push_back(0);
  }
  tsq::TfliteImportOptions import_options;
  import_options.io = tsq::IoType::int8;
  const std::string ecg_file = models + "/ecg_classifier_int8.tflite";
  auto ecg = tsq::load_tflite_int8(ecg_file, import_options);
  if (!ecg.is_ok()) return fail(ecg_file, ecg.status());
  return export_model(
      ecg.value(), "ecg_cnn",
      "MIT-BIH heartbeat CNN: the converter's int8 file ecg_classifier_int8.tflite.", ecg_test,
      out_dir);
}
