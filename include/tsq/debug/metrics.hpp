// SPDX-License-Identifier: Apache-2.0
// Classification metrics of a quantized model against its labels, as the study reports them:
// confusion matrix, accuracy, per-class precision / recall / F1 and their macro averages,
// balanced accuracy, Cohen's kappa, and the multi-label binary accuracy. Host only (allocates).
//
// The definitions are scikit-learn's defaults, so that numbers can be compared with a Python
// evaluation of the float model:
//  - precision_c = TP / (TP + FP), recall_c = TP / (TP + FN), F1_c = 2 TP / (2 TP + FP + FN);
//    a ratio whose denominator is 0 is 0 (sklearn's zero_division=0; its default "warn" gives 0
//    too);
//  - macro averages (average='macro') run over the classes that appear in the labels *or* the
//    predictions (sklearn's unique_labels(y_true, y_pred)); a class that never appears in either
//    has precision = recall = F1 = 0 in `per_class` and is left out of the averages, so that
//    declaring unused classes does not change the result;
//  - balanced accuracy (balanced_accuracy_score, adjusted=False) is the mean recall over the
//    classes present in the labels: a class that is only predicted has no recall and is left out;
//  - Cohen's kappa (cohen_kappa_score, unweighted) = (p_o - p_e) / (1 - p_e); it is undefined
//    (NaN, as in sklearn) when only one class occurs in labels and predictions together.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"

namespace tsq {
namespace debug {

// counts[label][prediction]: rows are the true labels, columns the predictions.
class ConfusionMatrix {
 public:
  ConfusionMatrix() = default;
  explicit ConfusionMatrix(std::size_t class_count)
      : class_count_(class_count), counts_(class_count * class_count, 0) {}

  std::size_t class_count() const { return class_count_; }

  // Signed arguments so that a -1 label is reported as -1, not as a huge unsigned number.
  Status add(std::int64_t label, std::int64_t prediction) {
    if (label < 0 || static_cast<std::uint64_t>(label) >= class_count_) {
      return Status::error(ErrorCode::invalid_argument, "label ")
          .append(label)
          .append(" outside [0, ")
          .append(class_count_)
          .append(")");
    }
    if (prediction < 0 || static_cast<std::uint64_t>(prediction) >= class_count_) {
      return Status::error(ErrorCode::invalid_argument, "prediction ")
          .append(prediction)
          .append(" outside [0, ")
          .append(class_count_)
          .append(")");
    }
    ++counts_[static_cast<std::size_t>(label) * class_count_ +
              static_cast<std::size_t>(prediction)];
    ++total_;
    return Status::ok();
  }

  // Pairs labels[i], predictions[i]; all or nothing: on an error (size mismatch, a value out of
  // range, with its index) the matrix is unchanged.
  template <typename Label>
  Status add(Span<const Label> labels, Span<const Label> predictions) {
    static_assert(std::is_integral<Label>::value, "labels are integers");
    if (labels.size() != predictions.size()) {
      return Status::error(ErrorCode::shape_mismatch, "confusion matrix: ")
          .append(labels.size())
          .append(" labels, ")
          .append(predictions.size())
          .append(" predictions");
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (!in_range(labels[i]) || !in_range(predictions[i])) {
        return Status::error(ErrorCode::invalid_argument, "confusion matrix: sample ")
            .append(i)
            .append(in_range(labels[i]) ? " has prediction " : " has label ")
            .append(static_cast<std::int64_t>(in_range(labels[i]) ? predictions[i] : labels[i]))
            .append(" outside [0, ")
            .append(class_count_)
            .append(")");
      }
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      TSQ_RETURN_IF_ERROR(
          add(static_cast<std::int64_t>(labels[i]), static_cast<std::int64_t>(predictions[i])));
    }
    return Status::ok();
  }

  template <typename Label>
  Status add(const std::vector<Label>& labels, const std::vector<Label>& predictions) {
    return add(Span<const Label>(labels.data(), labels.size()),
               Span<const Label>(predictions.data(), predictions.size()));
  }

  // Unchecked reads: label, prediction and c must be < class_count().
  std::size_t count(std::size_t label, std::size_t prediction) const {
    return counts_[label * class_count_ + prediction];
  }
  std::size_t total() const { return total_; }
  std::size_t correct() const {
    std::size_t n = 0;
    for (std::size_t c = 0; c < class_count_; ++c) n += count(c, c);
    return n;
  }
  std::size_t support(std::size_t c) const {  // samples labelled c (row sum)
    std::size_t n = 0;
    for (std::size_t p = 0; p < class_count_; ++p) n += count(c, p);
    return n;
  }
  std::size_t predicted(std::size_t c) const {  // samples predicted as c (column sum)
    std::size_t n = 0;
    for (std::size_t l = 0; l < class_count_; ++l) n += count(l, c);
    return n;
  }

  void reset() {
    counts_.assign(counts_.size(), 0);
    total_ = 0;
  }

 private:
  template <typename Label>
  bool in_range(Label value) const {
    const auto wide = static_cast<std::int64_t>(value);
    return wide >= 0 && static_cast<std::uint64_t>(wide) < class_count_;
  }

  std::size_t class_count_ = 0;
  std::size_t total_ = 0;
  std::vector<std::size_t> counts_;  // row-major [label][prediction]
};

struct ClassMetrics {
  std::size_t support = 0;    // samples labelled with this class
  std::size_t predicted = 0;  // samples predicted as this class
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  bool present = false;  // in the labels or the predictions: counted in the macro averages
};

struct ClassificationMetrics {
  std::size_t sample_count = 0;
  std::size_t correct_count = 0;
  double accuracy = 0.0;
  std::vector<ClassMetrics> per_class;
  std::size_t macro_class_count = 0;  // classes present in labels or predictions
  double macro_precision = 0.0;
  double macro_recall = 0.0;
  double macro_f1 = 0.0;
  double balanced_accuracy = 0.0;  // mean recall over the classes present in the labels
  double cohen_kappa = 0.0;        // NaN when undefined (a single class in all of the data)
};

namespace detail {
inline double ratio_or_zero(double part, double whole) { return whole == 0.0 ? 0.0 : part / whole; }
}  // namespace detail

// invalid_argument if the matrix holds no sample (no metric is defined then).
inline Result<ClassificationMetrics> compute_metrics(const ConfusionMatrix& matrix) {
  if (matrix.total() == 0) {
    return Status::error(ErrorCode::invalid_argument, "metrics of an empty confusion matrix");
  }
  ClassificationMetrics m;
  const std::size_t classes = matrix.class_count();
  m.sample_count = matrix.total();
  m.correct_count = matrix.correct();
  const auto n = static_cast<double>(m.sample_count);
  m.accuracy = static_cast<double>(m.correct_count) / n;
  m.per_class.resize(classes);
  std::size_t labelled_classes = 0;
  double recall_sum_over_labelled = 0.0;
  double expected_agreement = 0.0;  // sum_c support_c * predicted_c (n times the expected count)
  for (std::size_t c = 0; c < classes; ++c) {
    ClassMetrics& k = m.per_class[c];
    const auto tp = static_cast<double>(matrix.count(c, c));
    k.support = matrix.support(c);
    k.predicted = matrix.predicted(c);
    const auto support = static_cast<double>(k.support);
    const auto predicted = static_cast<double>(k.predicted);
    k.precision = detail::ratio_or_zero(tp, predicted);
    k.recall = detail::ratio_or_zero(tp, support);
    k.f1 = detail::ratio_or_zero(2.0 * tp, support + predicted);
    k.present = k.support > 0 || k.predicted > 0;
    if (k.present) {
      ++m.macro_class_count;
      m.macro_precision += k.precision;
      m.macro_recall += k.recall;
      m.macro_f1 += k.f1;
    }
    if (k.support > 0) {
      ++labelled_classes;
      recall_sum_over_labelled += k.recall;
    }
    expected_agreement += support * predicted;
  }
  // total() > 0 means at least one class is present and one is labelled.
  const auto present = static_cast<double>(m.macro_class_count);
  m.macro_precision /= present;
  m.macro_recall /= present;
  m.macro_f1 /= present;
  m.balanced_accuracy = recall_sum_over_labelled / static_cast<double>(labelled_classes);
  // kappa = 1 - observed disagreement / expected disagreement (sklearn's formula).
  const double observed_disagreement = n - static_cast<double>(m.correct_count);
  const double expected_disagreement = n - expected_agreement / n;
  m.cohen_kappa = expected_disagreement == 0.0
                      ? std::numeric_limits<double>::quiet_NaN()
                      : 1.0 - observed_disagreement / expected_disagreement;
  return m;
}

// Index of the largest score, the first one on ties (numpy's argmax). invalid_argument if
// `scores` is empty, non_finite_value (with the index) for a NaN, which has no order.
template <typename T>
Result<std::size_t> argmax(Span<const T> scores) {
  if (scores.empty()) return Status::error(ErrorCode::invalid_argument, "argmax of no scores");
  std::size_t best = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if constexpr (std::is_floating_point<T>::value) {
      if (std::isnan(scores[i])) {
        return Status::error(ErrorCode::non_finite_value, "argmax: NaN score at index ").append(i);
      }
    }
    if (scores[i] > scores[best]) best = i;
  }
  return best;
}

template <typename T>
Result<std::size_t> argmax(const std::vector<T>& scores) {
  return argmax(Span<const T>(scores.data(), scores.size()));
}

// Multi-label accuracy as Keras' binary_accuracy: an output counts as 1 when output > threshold,
// targets must be exactly 0 or 1, and the result is the fraction of matching elements over all
// outputs (= Keras' mean over labels then samples, as every sample has the same label count).
inline Result<double> binary_accuracy(Span<const float> outputs, Span<const float> targets,
                                      float threshold = 0.5f) {
  if (outputs.size() != targets.size()) {
    return Status::error(ErrorCode::shape_mismatch, "binary_accuracy: ")
        .append(outputs.size())
        .append(" outputs, ")
        .append(targets.size())
        .append(" targets");
  }
  if (outputs.empty())
    return Status::error(ErrorCode::invalid_argument, "binary_accuracy: no data");
  if (std::isnan(threshold)) {
    return Status::error(ErrorCode::invalid_argument, "binary_accuracy: threshold is NaN");
  }
  std::size_t matches = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (std::isnan(outputs[i])) {
      return Status::error(ErrorCode::non_finite_value, "binary_accuracy: NaN output at index ")
          .append(i);
    }
    if (targets[i] != 0.0f && targets[i] != 1.0f) {
      return Status::error(ErrorCode::invalid_argument, "binary_accuracy: target at index ")
          .append(i)
          .append(" is not 0 or 1");
    }
    if ((outputs[i] > threshold) == (targets[i] == 1.0f)) ++matches;
  }
  return static_cast<double>(matches) / static_cast<double>(outputs.size());
}

namespace detail {

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
inline void
append_format(std::string& text, const char* format, ...) {
  char buffer[256];
  std::va_list args;
  va_start(args, format);
  const int length = std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  if (length < 0) return;
  if (static_cast<std::size_t>(length) < sizeof buffer) {
    text.append(buffer, static_cast<std::size_t>(length));
    return;
  }
  // A long class name: format again into a buffer of the right size.
  std::vector<char> large(static_cast<std::size_t>(length) + 1);
  va_start(args, format);
  std::vsnprintf(large.data(), large.size(), format, args);
  va_end(args);
  text.append(large.data(), static_cast<std::size_t>(length));
}

inline int text_width(const std::string& text) { return static_cast<int>(text.size()); }

}  // namespace detail

// The confusion matrix and the metrics as aligned text tables. `class_names` is empty (classes
// are numbered) or has one name per class. Errors: a name count that does not match, or an
// empty matrix.
inline Result<std::string> format_classification_report(
    const ConfusionMatrix& matrix, const std::vector<std::string>& class_names = {}) {
  const std::size_t classes = matrix.class_count();
  if (!class_names.empty() && class_names.size() != classes) {
    return Status::error(ErrorCode::shape_mismatch, "report: ")
        .append(class_names.size())
        .append(" class names for ")
        .append(classes)
        .append(" classes");
  }
  const Result<ClassificationMetrics> metrics_or = compute_metrics(matrix);
  if (!metrics_or.is_ok()) return metrics_or.status();
  const ClassificationMetrics& m = metrics_or.value();

  std::vector<std::string> names(classes);
  for (std::size_t c = 0; c < classes; ++c) {
    names[c] = class_names.empty() ? std::to_string(c) : class_names[c];
  }
  // Row labels as wide as the widest name (or "predicted"); count columns as wide as the widest
  // name or count, plus one space.
  int name_width = detail::text_width("predicted");
  for (const std::string& name : names) name_width = std::max(name_width, detail::text_width(name));
  int count_width = detail::text_width("support") + 1;
  count_width = std::max(count_width, detail::text_width(std::to_string(m.sample_count)) + 1);
  for (const std::string& name : names) {
    count_width = std::max(count_width, detail::text_width(name) + 1);
  }

  std::string text;
  detail::append_format(text, "confusion matrix (rows: label, columns: prediction)\n");
  detail::append_format(text, "%-*s", name_width, "label");
  for (std::size_t p = 0; p < classes; ++p) {
    detail::append_format(text, "%*s", count_width, names[p].c_str());
  }
  detail::append_format(text, "%*s\n", count_width, "support");
  for (std::size_t l = 0; l < classes; ++l) {
    detail::append_format(text, "%-*s", name_width, names[l].c_str());
    for (std::size_t p = 0; p < classes; ++p) {
      detail::append_format(text, "%*zu", count_width, matrix.count(l, p));
    }
    detail::append_format(text, "%*zu\n", count_width, m.per_class[l].support);
  }
  detail::append_format(text, "%-*s", name_width, "predicted");
  for (std::size_t p = 0; p < classes; ++p) {
    detail::append_format(text, "%*zu", count_width, m.per_class[p].predicted);
  }
  detail::append_format(text, "%*zu\n\n", count_width, m.sample_count);

  detail::append_format(text, "%-*s %10s %10s %10s %10s\n", name_width, "class", "precision",
                        "recall", "F1", "support");
  for (std::size_t c = 0; c < classes; ++c) {
    const ClassMetrics& k = m.per_class[c];
    detail::append_format(text, "%-*s %10.4f %10.4f %10.4f %10zu%s\n", name_width, names[c].c_str(),
                          k.precision, k.recall, k.f1, k.support,
                          k.present ? "" : "  (absent: not averaged)");
  }
  detail::append_format(text, "%-*s %10.4f %10.4f %10.4f %10zu  (over %zu of %zu classes)\n\n",
                        name_width, "macro avg", m.macro_precision, m.macro_recall, m.macro_f1,
                        m.sample_count, m.macro_class_count, classes);
  detail::append_format(text, "%-18s %.4f (%zu of %zu)\n", "accuracy", m.accuracy, m.correct_count,
                        m.sample_count);
  detail::append_format(text, "%-18s %.4f\n", "balanced accuracy", m.balanced_accuracy);
  detail::append_format(text, "%-18s %.4f\n", "Cohen's kappa", m.cohen_kappa);
  return text;
}

// Writes format_classification_report() to `out`. Errors: those of the formatting, a null
// stream (invalid_argument) or a failed write (io_error).
inline Status print_classification_report(std::FILE* out, const ConfusionMatrix& matrix,
                                          const std::vector<std::string>& class_names = {}) {
  if (out == nullptr) return Status::error(ErrorCode::invalid_argument, "report: null FILE*");
  const Result<std::string> text = format_classification_report(matrix, class_names);
  if (!text.is_ok()) return text.status();
  if (std::fwrite(text->data(), 1, text->size(), out) != text->size() || std::fflush(out) != 0) {
    return Status::error(ErrorCode::io_error, "report: writing to the stream failed");
  }
  return Status::ok();
}

}  // namespace debug
}  // namespace tsq
