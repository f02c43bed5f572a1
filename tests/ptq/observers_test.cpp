// SPDX-License-Identifier: Apache-2.0
// Calibration observers: exact min/max, PyTorch's moving average, histogram percentiles against
// sorted samples, and the MSE-optimal clipping range against min/max.
#include "tsq/ptq/observers.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quantize.hpp"

using tsq::BitWidth;
using tsq::ErrorCode;
using tsq::ObserverKind;
using tsq::ObserverOptions;
using tsq::QuantParams;
using tsq::Range;

namespace {

Range range_of(const tsq::Result<Range>& range) {
  INFO(range.status().message());
  REQUIRE(range.is_ok());
  REQUIRE(range->min <= range->max);
  return range.value();
}

// The exact quantization MSE of the samples, through tsq's own quantize/dequantize.
double quantization_mse(const std::vector<float>& values, const QuantParams& params) {
  double sum = 0.0;
  for (const float x : values) {
    const float back = tsq::dequantize(tsq::quantize_value(x, params), params);
    sum += (static_cast<double>(back) - x) * (static_cast<double>(back) - x);
  }
  return sum / static_cast<double>(values.size());
}

QuantParams params_for(const Range& range, BitWidth width, bool symmetric) {
  const auto params = symmetric ? tsq::choose_symmetric_quant_params(range.min, range.max, width)
                                : tsq::choose_quant_params(range.min, range.max, width);
  REQUIRE(params.is_ok());
  return params.value();
}

// Sample quantile: the smallest sample x with at least fraction * n samples <= x.
float sample_quantile(std::vector<float> values, double fraction) {
  std::sort(values.begin(), values.end());
  const double target = fraction * static_cast<double>(values.size());
  auto rank = static_cast<std::size_t>(std::ceil(target));
  rank = std::min(std::max(rank, std::size_t{1}), values.size());
  return values[rank - 1];
}

std::vector<float> normal_sample(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = normal(rng);
  return values;
}

// Feeds `values` in windows of `window` values.
template <typename O>
void observe_in_windows(O& observer, const std::vector<float>& values, std::size_t window) {
  for (std::size_t start = 0; start < values.size(); start += window) {
    const std::size_t count = std::min(window, values.size() - start);
    REQUIRE(observer.observe(tsq::Span<const float>(values.data() + start, count)).is_ok());
  }
}

}  // namespace

TEST_CASE("min/max observer: exact range over windows", "[ptq][observers]") {
  tsq::MinMaxObserver observer;
  CHECK(observer.range().status().code() == ErrorCode::invalid_range);
  REQUIRE(observer.observe(std::vector<float>{}).is_ok());  // empty: nothing observed yet
  CHECK_FALSE(observer.range().is_ok());
  REQUIRE(observer.observe(std::vector<float>{0.5f, -1.25f, 3.0f}).is_ok());
  REQUIRE(observer.observe(std::vector<float>{2.0f, 7.5f}).is_ok());
  REQUIRE(observer.observe(std::vector<float>{-0.0f}).is_ok());
  Range r = range_of(observer.range());
  CHECK(r.min == -1.25f);
  CHECK(r.max == 7.5f);
  CHECK(observer.count() == 6);
  observer.reset();
  CHECK_FALSE(observer.range().is_ok());
  REQUIRE(observer.observe(std::vector<float>{4.0f}).is_ok());
  r = range_of(observer.range());
  CHECK(r.min == 4.0f);
  CHECK(r.max == 4.0f);
}

TEST_CASE("moving average min/max follows PyTorch's update", "[ptq][observers]") {
  SECTION("constant 0.5, exact in float") {
    tsq::MovingAverageMinMaxObserver observer(0.5f);
    REQUIRE(observer.observe(std::vector<float>{-2.0f, 4.0f}).is_ok());  // first batch sets
    Range r = range_of(observer.range());
    CHECK(r.min == -2.0f);
    CHECK(r.max == 4.0f);
    REQUIRE(observer.observe(std::vector<float>{-6.0f, 0.0f, 2.0f}).is_ok());
    r = range_of(observer.range());
    CHECK(r.min == -4.0f);                                    // -2 + 0.5 * (-6 - -2)
    CHECK(r.max == 3.0f);                                     // 4 + 0.5 * (2 - 4)
    REQUIRE(observer.observe(std::vector<float>{}).is_ok());  // no batch
    CHECK(observer.batch_count() == 2);
  }
  SECTION("default 0.01 over many windows, in float32") {
    tsq::MovingAverageMinMaxObserver observer;
    CHECK(observer.averaging_constant() == 0.01f);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> spread(0.5f, 3.0f);
    float min = 0.0f, max = 0.0f;
    for (int window = 0; window < 200; ++window) {
      const std::vector<float> values = {-spread(rng), spread(rng), 0.1f};
      REQUIRE(observer.observe(values).is_ok());
      if (window == 0) {
        min = values[0];
        max = values[1];
      } else {
        min = min + 0.01f * (values[0] - min);
        max = max + 0.01f * (values[1] - max);
      }
    }
    const Range r = range_of(observer.range());
    CHECK(r.min == min);
    CHECK(r.max == max);
    observer.reset();
    CHECK_FALSE(observer.range().is_ok());
  }
  SECTION("averaging constant outside (0, 1]") {
    tsq::MovingAverageMinMaxObserver observer(0.0f);
    CHECK(observer.observe(std::vector<float>{1.0f}).code() == ErrorCode::invalid_argument);
    CHECK(observer.range().status().code() == ErrorCode::invalid_argument);
  }
}

TEST_CASE("every observer rejects NaN and infinity with the index", "[ptq][observers]") {
  for (const ObserverKind kind : {ObserverKind::min_max, ObserverKind::moving_average_min_max,
                                  ObserverKind::percentile, ObserverKind::mse}) {
    INFO(tsq::observer_kind_name(kind));
    auto made = tsq::make_observer(kind);
    REQUIRE(made.is_ok());
    tsq::Observer observer = made.value();
    CHECK(observer.kind() == kind);
    REQUIRE(observer.observe(std::vector<float>{-1.0f, 2.0f}).is_ok());
    tsq::Status s = observer.observe(std::vector<float>{0.0f, 5.0f, NAN, INFINITY});
    CHECK(s.code() == ErrorCode::non_finite_value);
    CHECK(std::string(s.message()) == "NaN at index 2");
    s = observer.observe(std::vector<float>{100.0f, -INFINITY});
    CHECK(s.code() == ErrorCode::non_finite_value);
    CHECK(std::string(s.message()) == "infinity at index 1");
    // The failed batches changed nothing (100 was not recorded).
    const Range r = range_of(observer.range());
    CHECK(r.min >= -1.0f);
    CHECK(r.max <= 2.0f);
    observer.reset();
    CHECK(observer.range().status().code() == ErrorCode::invalid_range);
  }
}

TEST_CASE("percentile observer on known distributions", "[ptq][observers]") {
  SECTION("evenly spaced values: percentiles within a bin") {
    // 1, 2, ..., 10000 and their negatives: the 99th percentile of |x| is 9900.
    std::vector<float> values;
    for (int i = 1; i <= 10000; ++i) {
      values.push_back(static_cast<float>(i));
      values.push_back(static_cast<float>(-i));
    }
    tsq::PercentileObserver magnitude(99.0);
    observe_in_windows(magnitude, values, 500);
    const double bin = 10000.0 / 2048.0;
    Range r = range_of(magnitude.range());
    CHECK(r.max == Approx(9900.0).margin(bin));
    CHECK(r.min == Approx(-9900.0).margin(bin));

    // Two tails of 0 .. 9999 (no negatives): the 2nd and 98th percentiles.
    std::vector<float> ramp;
    for (int i = 0; i < 10000; ++i) ramp.push_back(static_cast<float>(i));
    tsq::PercentileObserver tails(98.0, tsq::PercentileMode::two_tails);
    observe_in_windows(tails, ramp, 333);
    r = range_of(tails.range());
    CHECK(r.min == Approx(sample_quantile(ramp, 0.02)).margin(bin));
    CHECK(r.max == Approx(sample_quantile(ramp, 0.98)).margin(bin));

    // Magnitude of non-negative data: the range starts at the observed min, not at -a.
    tsq::PercentileObserver relu(99.0);
    observe_in_windows(relu, ramp, 1000);
    r = range_of(relu.range());
    CHECK(r.min == 0.0f);
    CHECK(r.max == Approx(9900.0).margin(bin));
  }
  SECTION("normal distribution over windows whose range grows") {
    // Windows of increasing spread: the histogram doubles its range many times on the way.
    std::vector<float> values = normal_sample(400000, 7);
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] *= 0.01f + 2.0f * static_cast<float>(i) / static_cast<float>(values.size());
    }
    tsq::PercentileObserver magnitude(99.99);
    tsq::PercentileObserver tails(99.9, tsq::PercentileMode::two_tails);
    observe_in_windows(magnitude, values, 1000);
    observe_in_windows(tails, values, 1000);
    std::vector<float> absolute = values;
    for (float& v : absolute) v = std::fabs(v);
    const float max_abs = *std::max_element(absolute.begin(), absolute.end());
    const double bin = 2.0 * max_abs / 2048.0;  // the widest a bin can be
    const Range m = range_of(magnitude.range());
    const float expected_magnitude = sample_quantile(absolute, 0.9999);
    CHECK(m.max == Approx(expected_magnitude).margin(bin));
    CHECK(m.min == Approx(-expected_magnitude).margin(bin));
    const Range t = range_of(tails.range());
    CHECK(t.min == Approx(sample_quantile(values, 0.001)).margin(bin));
    CHECK(t.max == Approx(sample_quantile(values, 0.999)).margin(bin));
    // The histogram's bins stay bounded.
    CHECK(magnitude.histogram().positive().bin_count() == 2048);
    CHECK(magnitude.histogram().total() == values.size());
  }
  SECTION("100th percentile is the observed min/max; all-zero data") {
    const std::vector<float> values = {-3.0f, 0.0f, 1.0f, 2.5f};
    tsq::PercentileObserver full(100.0, tsq::PercentileMode::two_tails);
    REQUIRE(full.observe(values).is_ok());
    Range r = range_of(full.range());
    CHECK(r.min == -3.0f);
    CHECK(r.max == 2.5f);
    tsq::PercentileObserver zeros;
    REQUIRE(zeros.observe(std::vector<float>(10, 0.0f)).is_ok());
    r = range_of(zeros.range());
    CHECK(r.min == 0.0f);
    CHECK(r.max == 0.0f);
  }
  SECTION("invalid options") {
    CHECK(tsq::PercentileObserver(40.0).observe(std::vector<float>{1.0f}).code() ==
          ErrorCode::invalid_argument);
    CHECK(
        tsq::PercentileObserver(99.0, tsq::PercentileMode::magnitude, 4).range().status().code() ==
        ErrorCode::invalid_argument);
  }
}

TEST_CASE("MSE observer: full range for uniform data", "[ptq][observers]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-1.0f, 3.0f);
  std::vector<float> values(200000);
  for (float& v : values) v = uniform(rng);
  for (const bool symmetric : {false, true}) {
    INFO("symmetric " << symmetric);
    tsq::MseObserver observer(BitWidth{8, true, false}, symmetric);
    observe_in_windows(observer, values, 4096);
    const Range r = range_of(observer.range());
    tsq::MinMaxObserver min_max;
    REQUIRE(min_max.observe(values).is_ok());
    const Range full = range_of(min_max.range());
    if (!symmetric) CHECK(r.min == Approx(full.min).epsilon(0.01));
    CHECK(r.max == Approx(full.max).epsilon(0.01));
  }
}

TEST_CASE("MSE observer clips rare outliers", "[ptq][observers]") {
  // 10^6 normal values and two at +-30: one value in 500,000 is not worth a 7x coarser grid.
  std::vector<float> values = normal_sample(1000000, 11);
  values[1234] = 30.0f;
  values[777777] = -30.0f;
  for (const bool symmetric : {false, true}) {
    INFO("symmetric " << symmetric);
    const BitWidth width{8, true, false};
    tsq::MseObserver observer(width, symmetric);
    observe_in_windows(observer, values, 10000);
    const Range r = range_of(observer.range());
    CHECK(r.max > 3.0f);
    CHECK(r.max < 10.0f);
    CHECK(r.min < -3.0f);
    CHECK(r.min > -10.0f);
    const double clipped = quantization_mse(values, params_for(r, width, symmetric));
    const double full =
        quantization_mse(values, params_for(Range{-30.0f, 30.0f}, width, symmetric));
    CHECK(clipped < 0.5 * full);
  }
  // Outliers that are common enough are kept.
  std::vector<float> frequent = normal_sample(100000, 12);
  for (std::size_t i = 0; i < frequent.size(); i += 1000)
    frequent[i] = i % 2000 == 0 ? 30.0f : -30.0f;
  tsq::MseObserver keeps(BitWidth{8, true, false}, true);
  REQUIRE(keeps.observe(frequent).is_ok());
  CHECK(range_of(keeps.range()).max == Approx(30.0f).epsilon(0.01));
}

TEST_CASE("MSE observer beats min/max on heavy tails", "[ptq][observers]") {
  std::mt19937 rng(13);
  std::student_t_distribution<float> heavy(3.0f);  // finite variance, max ~ 50x the std
  std::vector<float> values(300000);
  for (float& v : values) v = heavy(rng) + 0.5f;
  tsq::MinMaxObserver min_max;
  REQUIRE(min_max.observe(values).is_ok());
  const Range full = range_of(min_max.range());
  const BitWidth widths[] = {{8, true, false}, {8, false, false}, {4, true, false}};
  for (const BitWidth width : widths) {
    for (const bool symmetric : {false, true}) {
      if (symmetric && !width.is_signed) continue;
      INFO("bits " << width.bits << (width.is_signed ? " signed" : " unsigned") << ", symmetric "
                   << symmetric);
      tsq::MseObserver observer(width, symmetric);
      observe_in_windows(observer, values, 3000);
      const Range r = range_of(observer.range());
      const QuantParams mse_params = params_for(r, width, symmetric);
      const QuantParams full_params = params_for(full, width, symmetric);
      const double mse = quantization_mse(values, mse_params);
      const double baseline = quantization_mse(values, full_params);
      // Coarser grids gain more from clipping.
      CHECK(mse < (width.bits == 4 ? 0.25 : 0.75) * baseline);
      // The histogram estimate agrees with the exact error of the samples.
      CHECK(observer.estimated_mse(mse_params).value() == Approx(mse).epsilon(0.05));
      CHECK(observer.estimated_mse(full_params).value() == Approx(baseline).epsilon(0.05));
    }
  }
}

TEST_CASE("MSE observer degenerate data and options", "[ptq][observers]") {
  tsq::MseObserver observer;
  CHECK(observer.range().status().code() == ErrorCode::invalid_range);
  CHECK(observer.estimated_mse(tsq::make_quant_params(0.1f, 0, tsq::DataType::int8))
            .status()
            .code() == ErrorCode::invalid_range);
  REQUIRE(observer.observe(std::vector<float>(5, 2.5f)).is_ok());
  Range r = range_of(observer.range());
  CHECK(r.min == 2.5f);
  CHECK(r.max == 2.5f);
  observer.reset();
  REQUIRE(observer.observe(std::vector<float>{0.0f, 0.0f}).is_ok());
  r = range_of(observer.range());
  CHECK(r.min == 0.0f);
  CHECK(r.max == 0.0f);
  // Non-negative data keeps its min; the search only moves the max.
  observer.reset();
  std::vector<float> relu = normal_sample(50000, 17);
  for (float& v : relu) v = std::max(v, 0.0f);
  REQUIRE(observer.observe(relu).is_ok());
  r = range_of(observer.range());
  CHECK(r.min == 0.0f);
  CHECK(r.max > 2.0f);

  CHECK(tsq::MseObserver(BitWidth{8, false, false}, true).options_status().code() ==
        ErrorCode::unsupported_type);
  CHECK(tsq::MseObserver(BitWidth{40, true, false}).observe(relu).code() ==
        ErrorCode::unsupported_type);
}

TEST_CASE("make_observer: one observer per tensor in a calibration loop", "[ptq][observers]") {
  ObserverOptions options;
  options.percentile = 99.0;
  options.averaging_constant = 0.5f;
  std::vector<tsq::Observer> observers;
  for (const ObserverKind kind : {ObserverKind::min_max, ObserverKind::moving_average_min_max,
                                  ObserverKind::percentile, ObserverKind::mse}) {
    auto made = tsq::make_observer(kind, options);
    REQUIRE(made.is_ok());
    observers.push_back(std::move(made).value());
  }
  CHECK(observers[2].get_if<tsq::PercentileObserver>() != nullptr);
  CHECK(observers[2].get_if<tsq::PercentileObserver>()->percentile() == 99.0);
  CHECK(observers[2].get_if<tsq::MinMaxObserver>() == nullptr);
  CHECK(observers[1].get_if<tsq::MovingAverageMinMaxObserver>()->averaging_constant() == 0.5f);
  CHECK(tsq::Observer().kind() == ObserverKind::min_max);

  const std::vector<float> first = {-1.0f, 0.0f, 1.0f};
  const std::vector<float> second = {-3.0f, 5.0f};
  for (tsq::Observer& o : observers) {
    REQUIRE(o.observe(first).is_ok());
    REQUIRE(o.observe(second).is_ok());
  }
  Range r = range_of(observers[0].range());
  CHECK(r.min == -3.0f);
  CHECK(r.max == 5.0f);
  r = range_of(observers[1].range());
  CHECK(r.min == -2.0f);
  CHECK(r.max == 3.0f);
  // A copy observes on its own.
  tsq::Observer copy = observers[0];
  REQUIRE(copy.observe(std::vector<float>{9.0f}).is_ok());
  CHECK(range_of(observers[0].range()).max == 5.0f);
  CHECK(range_of(copy.range()).max == 9.0f);

  ObserverOptions bad;
  bad.averaging_constant = 2.0f;
  CHECK(tsq::make_observer(ObserverKind::moving_average_min_max, bad).status().code() ==
        ErrorCode::invalid_argument);
  CHECK(tsq::make_observer(ObserverKind::min_max, bad).is_ok());  // not its option
  bad = ObserverOptions{};
  bad.percentile = 101.0;
  CHECK_FALSE(tsq::make_observer(ObserverKind::percentile, bad).is_ok());
  bad = ObserverOptions{};
  bad.bin_count = 0;
  CHECK_FALSE(tsq::make_observer(ObserverKind::mse, bad).is_ok());
  bad = ObserverOptions{};
  bad.symmetric = true;
  bad.width = BitWidth{8, false, false};
  CHECK(tsq::make_observer(ObserverKind::mse, bad).status().code() == ErrorCode::unsupported_type);
}
