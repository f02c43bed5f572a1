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
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tsq/debug/debugger.hpp"
#include "tsq/debug/metrics.hpp"
#include "tsq/io/npy.hpp"
#include "tsq/nn/layers/conv.hpp"
#include "tsq/nn/layers/dense.hpp"
#include "tsq/nn/layers/dropout.hpp"
#include "tsq/nn/layers/lstm.hpp"
#include "tsq/nn/layers/pooling.hpp"
#include "tsq/nn/layers/reshape.hpp"
#include "tsq/nn/layers/softmax.hpp"
#include "tsq/ptq/mixed_precision.hpp"
#include "tsq/ptq/quantize_model.hpp"
#include "tsq/quant/quantize.hpp"

namespace {

namespace nn = tsq::nn;
constexpr std::size_t kFrame = 26;  // samples per frame, hop 13, milli-g / 4000 (the ST model's)
constexpr std::size_t kHop = 13;
constexpr std::size_t kAxes = 3;
constexpr std::size_t kClasses = 3;
constexpr std::size_t kFrameValues = kFrame * kAxes;

int fail(const std::string& what, const tsq::Status& status) {
  std::fprintf(stderr, "error: %s: %s (%s)\n", what.c_str(), status.message(),
               tsq::error_code_name(status.code()));
  return 1;
}

// ST's Sequential model (st_har_model.layers.json): Keras' Dense(3, softmax) is Dense + Softmax.
nn::Model st_model() {
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
nn::Model conv_lstm_model() {
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

nn::Model cnn_model() {
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

// Frames cut from the recordings, already scaled.
struct Frames {
  std::vector<float> values;  // count * kFrameValues
  std::vector<std::uint8_t> labels;
  std::size_t count() const { return labels.size(); }
  Frames every(std::size_t step) const {
    Frames out;
    for (std::size_t f = 0; f < count(); f += step) out.add(*this, f);
    return out;
  }
  void add(const Frames& from, std::size_t f) {
    values.insert(values.end(), from.values.begin() + static_cast<std::ptrdiff_t>(f * kFrameValues),
                  from.values.begin() + static_cast<std::ptrdiff_t>((f + 1) * kFrameValues));
    labels.push_back(from.labels[f]);
  }
};

Frames cut_frames(const tsq::io::NpyArray& recordings, const std::uint8_t* labels,
                  const std::function<bool(std::size_t)>& keep) {
  const std::size_t samples = recordings.shape()[1];
  const std::int16_t* milli_g = recordings.data<std::int16_t>();
  Frames frames;
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

struct Evaluation {
  tsq::debug::ClassificationMetrics metrics;
  std::vector<std::size_t> predictions;
  std::size_t size_bytes = 0;
  double agreement = 1.0;  // share of frames predicted as the float model does
};

// Integer I/O: the caller quantizes the frame and reads the integer scores (argmax is the same
// before and after dequantization, the scale being positive).
template <typename T>
tsq::Status run_integer(const tsq::QuantizedModel& q, tsq::Span<const float> frame,
                        std::vector<float>& scores, std::vector<std::byte>& arena) {
  std::vector<T> in(frame.size()), out(scores.size());
  TSQ_RETURN_IF_ERROR(
      tsq::quantize(frame, tsq::Span<T>(in.data(), in.size()), q.input_quantization().params));
  TSQ_RETURN_IF_ERROR(
      q.run(tsq::Span<const T>(in.data(), in.size()), tsq::Span<T>(out.data(), out.size()), arena));
  return tsq::dequantize(tsq::Span<const T>(out.data(), out.size()),
                         tsq::Span<float>(scores.data(), scores.size()),
                         q.output_quantization().params);
}

tsq::Result<Evaluation> evaluate(const tsq::QuantizedModel& q, const Frames& frames) {
  Evaluation result;
  tsq::debug::ConfusionMatrix confusion(kClasses);
  std::vector<std::byte> arena(q.arena_bytes());
  std::vector<float> scores(kClasses);
  const tsq::DataType io = q.input_quantization().type;
  for (std::size_t f = 0; f < frames.count(); ++f) {
    const tsq::Span<const float> frame(frames.values.data() + f * kFrameValues, kFrameValues);
    tsq::Status status =
        io == tsq::DataType::int8    ? run_integer<std::int8_t>(q, frame, scores, arena)
        : io == tsq::DataType::uint8 ? run_integer<std::uint8_t>(q, frame, scores, arena)
                                     : q.run(frame, tsq::Span<float>(scores), arena);
    TSQ_RETURN_IF_ERROR(status);
    const std::size_t predicted = tsq::debug::argmax(tsq::Span<const float>(scores)).value();
    result.predictions.push_back(predicted);
    TSQ_RETURN_IF_ERROR(confusion.add(frames.labels[f], static_cast<std::int64_t>(predicted)));
  }
  auto metrics = tsq::debug::compute_metrics(confusion);
  if (!metrics.is_ok()) return metrics.status();
  result.metrics = metrics.value();
  result.size_bytes = q.parameter_bytes().total();
  return result;
}

struct ModelSpec {
  const char* name;
  const char* weights;
  nn::Model (*compose)();
  bool all_frames;  // all 6,900 frames, else the test recordings
};

struct ModelResult {
  std::string name;
  std::vector<std::pair<std::string, Evaluation>> schemes;
  tsq::debug::DebugReport int8_report;
};

void print_table(const ModelResult& m) {
  std::printf("%-12s %9s %9s %9s %9s %9s %9s %8s %10s\n", "scheme", "accuracy", "precision",
              "recall", "F1", "bal. acc", "kappa", "bytes", "agreement");
  for (const auto& [scheme, e] : m.schemes) {
    const auto& x = e.metrics;
    std::printf("%-12s %8.2f%% %9.4f %9.4f %9.4f %9.4f %9.4f %8zu %9.2f%%\n", scheme.c_str(),
                100.0 * x.accuracy, x.macro_precision, x.macro_recall, x.macro_f1,
                x.balanced_accuracy, x.cohen_kappa, e.size_bytes, 100.0 * e.agreement);
  }
}

bool write_json(const std::string& path, const std::vector<ModelResult>& models) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return false;
  std::fprintf(out, "{\"models\": [");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const ModelResult& m = models[i];
    std::fprintf(out, "%s\n  {\"name\": \"%s\", \"schemes\": {", i ? "," : "", m.name.c_str());
    for (std::size_t s = 0; s < m.schemes.size(); ++s) {
      const auto& x = m.schemes[s].second.metrics;
      std::fprintf(out,
                   "%s\n    \"%s\": {\"accuracy\": %.6f, \"precision\": %.6f, \"recall\": %.6f, "
                   "\"f1\": %.6f, \"balanced_accuracy\": %.6f, \"kappa\": %.6f, \"size_bytes\": "
                   "%zu, \"agreement\": %.6f}",
                   s ? "," : "", m.schemes[s].first.c_str(), x.accuracy, x.macro_precision,
                   x.macro_recall, x.macro_f1, x.balanced_accuracy, x.cohen_kappa,
                   m.schemes[s].second.size_bytes, m.schemes[s].second.agreement);
    }
    std::fprintf(out, "},\n   \"layers\": [");
    for (std::size_t l = 0; l < m.int8_report.layers.size(); ++l) {
      std::fprintf(out, "%s{\"name\": \"%s\", \"rmse_over_scale\": %.6f}", l ? ", " : "",
                   m.int8_report.layers[l].name.c_str(), m.int8_report.layers[l].rmse_over_scale());
    }
    std::fprintf(out, "]}");
  }
  std::fprintf(out, "\n]}\n");
  return std::fclose(out) == 0;
}

}  // namespace

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
  const std::string har = data + "/har-st/";
  auto recordings = tsq::io::load_npy(har + "recordings.npy");
  auto labels = tsq::io::load_npy(har + "labels.npy");
  auto split = tsq::io::load_npy(har + "split.npy");  // per recording: 0 train, 1 test
  if (!recordings.is_ok()) return fail("recordings", recordings.status());
  if (!labels.is_ok()) return fail("labels", labels.status());
  if (!split.is_ok()) return fail("split", split.status());
  const std::uint8_t* test = split->data<std::uint8_t>();
  if (recordings->data<std::int16_t>() == nullptr || recordings->shape().size() != 3 ||
      recordings->shape()[2] != kAxes || labels->data<std::uint8_t>() == nullptr ||
      test == nullptr || labels->element_count() != recordings->shape()[0] ||
      split->element_count() != recordings->shape()[0]) {
    std::fprintf(stderr, "error: %s: unexpected shapes or types\n", har.c_str());
    return 1;
  }
  const Frames all =
      cut_frames(*recordings, labels->data<std::uint8_t>(), [](auto) { return true; });
  const Frames training =
      cut_frames(*recordings, labels->data<std::uint8_t>(), [&](auto r) { return test[r] == 0; });
  const Frames testing =
      cut_frames(*recordings, labels->data<std::uint8_t>(), [&](auto r) { return test[r] != 0; });

  // Calibration frames from the training recordings only, drawn with a fixed seed.
  const std::size_t calibration_count = quick ? 100 : 200;
  std::mt19937 rng(2024);
  Frames calibration;
  for (std::size_t i = 0; i < calibration_count; ++i)
    calibration.add(training, rng() % training.count());
  const tsq::Span<const float> calibration_windows(calibration.values);

  std::printf("tsq: HAR on the har-st recordings (frames of %zu x %zu, hop %zu)%s\n", kFrame, kAxes,
              kHop, quick ? " -- quick: every 10th frame, 100 calibration frames" : "");
  std::printf(
      "%zu frames; split by recording: %zu training, %zu test frames; calibration on %zu "
      "training frames (seed 2024)\n",
      all.count(), training.count(), testing.count(), calibration_count);

  const ModelSpec specs[] = {{"st", "st_har_model.npz", st_model, true},
                             {"conv_lstm", "conv_lstm_model.npz", conv_lstm_model, false},
                             {"cnn", "cnn_model.npz", cnn_model, false}};
  std::vector<ModelResult> results;
  bool checks_pass = true;
  for (const ModelSpec& spec : specs) {
    nn::Model model = spec.compose();
    tsq::Status status = model.build();
    if (status.is_ok()) status = model.load_weights(har + spec.weights);
    if (!status.is_ok()) return fail(spec.name, status);
    const Frames frames = (spec.all_frames ? all : testing).every(quick ? 10 : 1);
    std::printf("\n==== %s (%s, %zu parameters): %zu %s frames\n", spec.name, spec.weights,
                model.parameter_count(), frames.count(), spec.all_frames ? "(all)" : "test");

    tsq::CalibrationOptions options;
    options.progress = false;
    auto calibrated = tsq::calibrate(model, calibration_windows, options);
    if (!calibrated.is_ok()) return fail("calibration", calibrated.status());

    ModelResult result{spec.name, {}, {}};
    const std::pair<const char*, tsq::Scheme> schemes[] = {
        {"float", tsq::Scheme::float32()},     {"drq", tsq::Scheme::drq()},
        {"float16", tsq::Scheme::float16()},   {"fiq_float32", tsq::Scheme::fiq_float32()},
        {"fiq_int8", tsq::Scheme::fiq_int8()}, {"fiq_uint8", tsq::Scheme::fiq_uint8()}};
    tsq::QuantizedModel int8;
    for (const auto& [name, scheme] : schemes) {
      auto q = tsq::quantize(model, calibrated.value(), scheme);
      if (!q.is_ok()) return fail(name, q.status());
      auto e = evaluate(q.value(), frames);
      if (!e.is_ok()) return fail(name, e.status());
      result.schemes.emplace_back(name, std::move(e).value());
      if (std::string(name) == "fiq_int8") int8 = std::move(q).value();
    }
    // Mixed precision: searched on the calibration frames (never the test split).
    tsq::MixedPrecisionOptions mixed_options;
    mixed_options.threshold = 0.45;
    mixed_options.base = tsq::Scheme::fiq_float32();
    auto mixed = tsq::quantize_mixed_precision(model, calibrated.value(), calibration_windows,
                                               mixed_options);
    if (!mixed.is_ok()) return fail("mixed precision", mixed.status());
    std::printf("mixed precision (threshold 0.45, base fiq_float32):%s\n",
                mixed->log.empty() ? " every integer layer already under the threshold" : "");
    for (const std::string& line : mixed->log) std::printf("  %s\n", line.c_str());
    auto e = evaluate(mixed->model, frames);
    if (!e.is_ok()) return fail("mixed", e.status());
    result.schemes.emplace_back("mixed", std::move(e).value());

    const std::vector<std::size_t>& reference = result.schemes.front().second.predictions;
    for (auto& entry : result.schemes) {
      std::size_t same = 0;
      for (std::size_t f = 0; f < frames.count(); ++f)
        same += entry.second.predictions[f] == reference[f];
      entry.second.agreement = static_cast<double>(same) / static_cast<double>(frames.count());
    }
    std::printf("\n");
    print_table(result);

    // The debugger on at most ~700 of the evaluation frames: its statistics settle long before.
    const Frames debug_frames = frames.every(frames.count() / 700 + 1);
    auto report = tsq::debug::debug_model(int8, debug_frames.values);
    if (!report.is_ok()) return fail("debugger", report.status());
    std::printf("\n== %s, fiq_int8: per-layer error against the float model on %zu frames\n",
                spec.name, debug_frames.count());
    tsq::debug::print_debug_report(stdout, report.value());
    const std::string prefix = out_dir + "/har_" + spec.name + "_fiq_int8";
    status = tsq::debug::write_debug_csv(report.value(), prefix + ".csv");
    if (!status.is_ok()) return fail(prefix + ".csv", status);
    auto plots = tsq::debug::write_debug_plots(report.value(), prefix);
    if (!plots.is_ok()) return fail(prefix + " plots", plots.status());
    std::printf("wrote %s.csv and %zu plots %s_*.svg\n", prefix.c_str(), plots->size(),
                prefix.c_str());
    result.int8_report = std::move(report).value();

    if (quick) {
      const double accuracy = result.schemes[0].second.metrics.accuracy;
      const double agreement = result.schemes[4].second.agreement;
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
    if (!write_json(json, results)) {
      std::fprintf(stderr, "error: cannot write %s\n", json.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", json.c_str());
  }
  if (quick) std::printf("\nquick checks: %s\n", checks_pass ? "passed" : "FAILED");
  return checks_pass ? 0 : 1;
}
