// SPDX-License-Identifier: Apache-2.0
// Classification metrics on hand-computed confusion matrices. The expected values were also
// cross-checked with numpy re-implementations of scikit-learn's precision_recall_fscore_support
// (average=None / 'macro', zero_division=0), balanced_accuracy_score and cohen_kappa_score.
#include "tsq/debug/metrics.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

using tsq::ErrorCode;
using tsq::debug::ClassificationMetrics;
using tsq::debug::ConfusionMatrix;

namespace {

// Fills a matrix from its counts, one add() per sample.
ConfusionMatrix from_counts(const std::vector<std::vector<int>>& counts) {
  ConfusionMatrix matrix(counts.size());
  for (std::size_t l = 0; l < counts.size(); ++l) {
    for (std::size_t p = 0; p < counts[l].size(); ++p) {
      for (int i = 0; i < counts[l][p]; ++i) {
        REQUIRE(matrix.add(static_cast<std::int64_t>(l), static_cast<std::int64_t>(p)).is_ok());
      }
    }
  }
  return matrix;
}

ClassificationMetrics metrics_of(const ConfusionMatrix& matrix) {
  const tsq::Result<ClassificationMetrics> m = tsq::debug::compute_metrics(matrix);
  INFO(m.status().message());
  REQUIRE(m.is_ok());
  return m.value();
}

std::string read_all(std::FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[512];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  return text;
}

}  // namespace

TEST_CASE("3-class metrics computed by hand", "[debug][metrics]") {
  // rows = label, columns = prediction
  //            p0  p1  p2 | support
  //   l0        7   2   1 |  10
  //   l1        1   4   0 |   5
  //   l2        2   1   3 |   6
  //   predicted 10  7   4 |  21, correct 7 + 4 + 3 = 14
  // accuracy  = 14 / 21 = 2/3
  // precision = 7/10, 4/7, 3/4         -> macro (0.7 + 0.571428571 + 0.75) / 3 = 0.673809524
  // recall    = 7/10, 4/5, 3/6         -> macro (0.7 + 0.8 + 0.5) / 3 = 2/3
  // F1 = 2TP / (support + predicted) = 14/20, 8/12, 6/10 -> macro (0.7 + 0.6667 + 0.6) / 3
  //    = 0.655555556
  // balanced accuracy = mean recall over labelled classes = 2/3
  // kappa: p_o = 14/21, p_e = (10*10 + 5*7 + 6*4) / 21^2 = 159/441,
  //        (p_o - p_e) / (1 - p_e) = (294 - 159) / (441 - 159) = 135/282 = 0.478723404
  const ConfusionMatrix matrix = from_counts({{7, 2, 1}, {1, 4, 0}, {2, 1, 3}});
  CHECK(matrix.total() == 21);
  CHECK(matrix.correct() == 14);
  CHECK(matrix.support(0) == 10);
  CHECK(matrix.predicted(1) == 7);
  CHECK(matrix.count(2, 0) == 2);
  const ClassificationMetrics m = metrics_of(matrix);
  CHECK(m.sample_count == 21);
  CHECK(m.correct_count == 14);
  CHECK(m.accuracy == Approx(2.0 / 3.0));
  REQUIRE(m.per_class.size() == 3);
  CHECK(m.per_class[0].precision == Approx(0.7));
  CHECK(m.per_class[1].precision == Approx(4.0 / 7.0));
  CHECK(m.per_class[2].precision == Approx(0.75));
  CHECK(m.per_class[0].recall == Approx(0.7));
  CHECK(m.per_class[1].recall == Approx(0.8));
  CHECK(m.per_class[2].recall == Approx(0.5));
  CHECK(m.per_class[0].f1 == Approx(0.7));
  CHECK(m.per_class[1].f1 == Approx(2.0 / 3.0));
  CHECK(m.per_class[2].f1 == Approx(0.6));
  CHECK(m.per_class[2].support == 6);
  CHECK(m.per_class[2].predicted == 4);
  CHECK(m.macro_class_count == 3);
  CHECK(m.macro_precision == Approx(0.673809523810));
  CHECK(m.macro_recall == Approx(2.0 / 3.0));
  CHECK(m.macro_f1 == Approx(0.655555555556));
  CHECK(m.balanced_accuracy == Approx(2.0 / 3.0));
  CHECK(m.cohen_kappa == Approx(135.0 / 282.0));
}

TEST_CASE("absent and predicted-only classes in the averages", "[debug][metrics]") {
  // 5 declared classes; class 2 is predicted (4 times) but never a label, class 4 never occurs.
  //            p0 p1 p2 p3 p4 | support
  //   l0        6  1  1  0  0 |  8
  //   l1        0  3  2  1  0 |  6
  //   l2        0  0  0  0  0 |  0
  //   l3        1  0  1  4  0 |  6
  //   l4        0  0  0  0  0 |  0
  //   predicted 7  4  4  5  0 | 20, correct 13
  // precision 6/7, 3/4, 0, 4/5; recall 6/8, 3/6, 0 (no support), 4/6; F1 12/15, 6/10, 0, 8/11.
  // Macro over the 4 classes present (0..3): class 2 counts with zeros, class 4 is left out.
  // Balanced accuracy over the labelled classes 0, 1, 3: (0.75 + 0.5 + 0.6667) / 3 = 0.638888889.
  // kappa: p_o = 13/20, p_e = (8*7 + 6*4 + 0*4 + 6*5) / 400 = 110/400 -> (0.65 - 0.275) / 0.725.
  const ConfusionMatrix matrix =
      from_counts({{6, 1, 1, 0, 0}, {0, 3, 2, 1, 0}, {0, 0, 0, 0, 0}, {1, 0, 1, 4, 0}, {0}});
  const ClassificationMetrics m = metrics_of(matrix);
  CHECK(m.accuracy == Approx(0.65));
  CHECK(m.macro_class_count == 4);
  CHECK(m.per_class[2].present);
  CHECK_FALSE(m.per_class[4].present);
  CHECK(m.per_class[2].precision == 0.0);
  CHECK(m.per_class[2].recall == 0.0);
  CHECK(m.per_class[4].f1 == 0.0);
  CHECK(m.macro_precision == Approx(0.601785714286));
  CHECK(m.macro_recall == Approx(0.479166666667));
  CHECK(m.macro_f1 == Approx(0.531818181818));
  CHECK(m.balanced_accuracy == Approx(0.638888888889));
  CHECK(m.cohen_kappa == Approx(0.517241379310));
}

TEST_CASE("degenerate confusion matrices", "[debug][metrics]") {
  SECTION("one class, all correct: kappa undefined") {
    const ClassificationMetrics m = metrics_of(from_counts({{9}}));
    CHECK(m.accuracy == 1.0);
    CHECK(m.macro_f1 == 1.0);
    CHECK(m.balanced_accuracy == 1.0);
    CHECK(std::isnan(m.cohen_kappa));
  }
  SECTION("everything wrong: kappa below 0") {
    // p_o = 0, p_e = (3*2 + 2*3) / 25 = 12/25: kappa = -12/13
    const ClassificationMetrics m = metrics_of(from_counts({{0, 3}, {2, 0}}));
    CHECK(m.accuracy == 0.0);
    CHECK(m.macro_f1 == 0.0);
    CHECK(m.balanced_accuracy == 0.0);
    CHECK(m.cohen_kappa == Approx(-12.0 / 13.0));
  }
  SECTION("empty matrix: no metrics") {
    const ConfusionMatrix matrix(4);
    CHECK(matrix.total() == 0);
    const auto m = tsq::debug::compute_metrics(matrix);
    CHECK(m.status().code() == ErrorCode::invalid_argument);
    CHECK(tsq::debug::compute_metrics(ConfusionMatrix()).status().code() ==
          ErrorCode::invalid_argument);
  }
  SECTION("labels and predictions out of range") {
    ConfusionMatrix matrix(3);
    tsq::Status s = matrix.add(3, 0);
    CHECK(s.code() == ErrorCode::invalid_argument);
    CHECK(std::string(s.message()) == "label 3 outside [0, 3)");
    s = matrix.add(0, -1);
    CHECK(std::string(s.message()) == "prediction -1 outside [0, 3)");
    CHECK(matrix.total() == 0);
    CHECK(ConfusionMatrix().add(0, 0).code() == ErrorCode::invalid_argument);
  }
  SECTION("span add is all or nothing") {
    ConfusionMatrix matrix(3);
    const std::vector<std::int32_t> labels = {0, 1, 2, 1};
    const std::vector<std::int32_t> good = {0, 1, 1, 2};
    const std::vector<std::int32_t> bad = {0, 1, 7, 2};
    const tsq::Status s = matrix.add(labels, bad);
    CHECK(s.code() == ErrorCode::invalid_argument);
    CHECK(std::string(s.message()) == "confusion matrix: sample 2 has prediction 7 outside [0, 3)");
    CHECK(matrix.total() == 0);
    CHECK(matrix
              .add(tsq::Span<const std::int32_t>(labels),
                   tsq::Span<const std::int32_t>(good.data(), 1))
              .code() == ErrorCode::shape_mismatch);
    REQUIRE(matrix.add(labels, good).is_ok());
    CHECK(matrix.total() == 4);
    CHECK(matrix.correct() == 2);
    matrix.reset();
    CHECK(matrix.total() == 0);
    CHECK(matrix.count(0, 0) == 0);
    CHECK(matrix.class_count() == 3);
  }
}

TEST_CASE("argmax takes the first largest score", "[debug][metrics]") {
  CHECK(tsq::debug::argmax(std::vector<float>{0.1f, 0.7f, 0.7f, 0.2f}).value() == 1);
  CHECK(tsq::debug::argmax(std::vector<float>{-3.0f}).value() == 0);
  CHECK(tsq::debug::argmax(std::vector<float>{-INFINITY, -1e30f}).value() == 1);
  CHECK(tsq::debug::argmax(std::vector<std::int8_t>{-128, 5, 127, 127}).value() == 2);
  const float row[] = {0.5f, 0.2f, 0.9f};
  CHECK(tsq::debug::argmax(tsq::Span<const float>(row)).value() == 2);
  CHECK(tsq::debug::argmax(std::vector<float>{}).status().code() == ErrorCode::invalid_argument);
  const tsq::Status nan = tsq::debug::argmax(std::vector<float>{0.0f, NAN}).status();
  CHECK(nan.code() == ErrorCode::non_finite_value);
  CHECK(std::string(nan.message()) == "argmax: NaN score at index 1");
}

TEST_CASE("binary accuracy of multi-label outputs", "[debug][metrics]") {
  // output > 0.5 -> 1, 0, 0, 1, 0, 1 against 1, 0, 1, 1, 0, 0: 4 of 6 match.
  const std::vector<float> outputs = {0.9f, 0.2f, 0.5f, 0.51f, 0.0f, 1.0f};
  const std::vector<float> targets = {1.0f, 0.0f, 1.0f, 1.0f, 0.0f, 0.0f};
  CHECK(tsq::debug::binary_accuracy(outputs, targets).value() == Approx(4.0 / 6.0));
  // Threshold 0.4: 0.5 counts as 1 now (5 of 6).
  CHECK(tsq::debug::binary_accuracy(outputs, targets, 0.4f).value() == Approx(5.0 / 6.0));
  CHECK(tsq::debug::binary_accuracy(outputs, std::vector<float>{1.0f}).status().code() ==
        ErrorCode::shape_mismatch);
  CHECK(tsq::debug::binary_accuracy({}, {}).status().code() == ErrorCode::invalid_argument);
  const std::vector<float> soft_targets = {1.0f, 0.0f, 0.7f, 1.0f, 0.0f, 0.0f};
  CHECK(tsq::debug::binary_accuracy(outputs, soft_targets).status().code() ==
        ErrorCode::invalid_argument);
  const std::vector<float> nan_outputs = {0.9f, NAN, 0.5f, 0.51f, 0.0f, 1.0f};
  CHECK(tsq::debug::binary_accuracy(nan_outputs, targets).status().code() ==
        ErrorCode::non_finite_value);
}

TEST_CASE("classification report is an aligned text table", "[debug][metrics]") {
  const ConfusionMatrix matrix =
      from_counts({{6, 1, 1, 0, 0}, {0, 3, 2, 1, 0}, {0, 0, 0, 0, 0}, {1, 0, 1, 4, 0}, {0}});
  const std::vector<std::string> names = {"N", "S", "V", "F", "Q"};
  const auto text = tsq::debug::format_classification_report(matrix, names);
  REQUIRE(text.is_ok());
  const std::string& t = text.value();
  CHECK_THAT(t, Catch::Contains("confusion matrix (rows: label, columns: prediction)"));
  CHECK_THAT(t, Catch::StartsWith("confusion matrix (rows: label, columns: prediction)\n"
                                  "label           N       S       V       F       Q support\n"
                                  "N               6       1       1       0       0       8\n"));
  CHECK_THAT(t, Catch::Contains("predicted       7       4       4       5       0      20\n"));
  CHECK_THAT(t, Catch::Contains("N             0.8571     0.7500     0.8000          8\n"));
  CHECK_THAT(t, Catch::Contains("Q             0.0000     0.0000     0.0000          0"
                                "  (absent: not averaged)\n"));
  CHECK_THAT(t, Catch::Contains("macro avg     0.6018     0.4792     0.5318         20"
                                "  (over 4 of 5 classes)\n"));
  CHECK_THAT(t, Catch::Contains("accuracy           0.6500 (13 of 20)\n"));
  CHECK_THAT(t, Catch::Contains("balanced accuracy  0.6389\n"));
  CHECK_THAT(t, Catch::Contains("Cohen's kappa      0.5172\n"));

  // Every line of the matrix has the same width.
  std::size_t line_start = 0;
  std::size_t first_width = t.find('\n', t.find('\n') + 1) - t.find('\n') - 1;
  for (int line = 0; line < 7; ++line) {
    const std::size_t end = t.find('\n', line_start);
    if (line > 0) CHECK(end - line_start == first_width);
    line_start = end + 1;
  }

  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  REQUIRE(tsq::debug::print_classification_report(file, matrix, names).is_ok());
  CHECK(read_all(file) == t);
  std::fclose(file);

  // Numbered classes, long names widen the columns.
  const auto numbered = tsq::debug::format_classification_report(from_counts({{2, 1}, {0, 3}}));
  REQUIRE(numbered.is_ok());
  CHECK_THAT(numbered.value(), Catch::Contains("label           0       1 support\n"));
  const auto long_names = tsq::debug::format_classification_report(from_counts({{2, 1}, {0, 3}}),
                                                                   {"walking_upstairs", "b"});
  REQUIRE(long_names.is_ok());
  CHECK_THAT(long_names.value(),
             Catch::Contains("walking_upstairs                2                1"));

  CHECK(tsq::debug::format_classification_report(matrix, {"a"}).status().code() ==
        ErrorCode::shape_mismatch);
  CHECK(tsq::debug::print_classification_report(nullptr, matrix).code() ==
        ErrorCode::invalid_argument);
  std::FILE* empty_file = std::tmpfile();
  REQUIRE(empty_file != nullptr);
  CHECK(tsq::debug::print_classification_report(empty_file, ConfusionMatrix(2)).code() ==
        ErrorCode::invalid_argument);
  std::fclose(empty_file);
}
