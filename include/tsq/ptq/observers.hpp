// SPDX-License-Identifier: Apache-2.0
// Calibration observers: they watch the float values of one tensor over many calibration windows
// and propose the real range [min, max] its quantization parameters are chosen from
// (choose_quant_params / choose_symmetric_quant_params). Host only: histograms live in
// std::vector.
//
//  MinMaxObserver               the exact running min and max (TFLite's and PyTorch's default).
//  MovingAverageMinMaxObserver  PyTorch's: the first batch sets min/max, every later batch moves
//                               them by averaging_constant * (batch min/max - min/max).
//  PercentileObserver           the p-th percentile of |x| (magnitude) or the (100 - p)-th and
//                               p-th percentiles of x (two tails), from a histogram.
//  MseObserver                  the clipping range whose quantization grid (for a given BitWidth,
//                               symmetric or asymmetric) has the smallest expected squared error
//                               over a histogram of the values, like the MSE calibrators of
//                               TensorRT and PyTorch.
//
// Every observer has the same interface: observe(values) -> Status, range() -> Result<Range>,
// reset(). A NaN or infinity makes observe() fail with non_finite_value and the index of the
// first bad value in its message ("NaN at index 17"; the caller adds window and tensor); the
// observer is then unchanged. An empty span is a no-op. range() fails with invalid_range while
// nothing has been observed. make_observer(kind, options) builds any of them behind one type,
// so that a calibration loop can hold one Observer per tensor.
//
// The histogram (PercentileObserver, MseObserver) keeps bin_count bins for the positive values
// and bin_count for the magnitudes of the negative ones, each over [0, top), plus the count of
// exact zeros and the exact min and max. top starts at the largest magnitude of the first batch
// and doubles (merging pairs of bins, exactly) whenever a larger value arrives, so memory is
// bounded however many windows are observed and the bins stay anchored at 0. Accuracy: a bin is
// top / bin_count wide and top < 2 * max|x| of that sign, so with 2048 bins a bin is narrower
// than 0.1% of the largest magnitude. Values are taken as spread evenly inside their bin (and the
// top bin ends at the exact max), so a percentile is exact to within about one bin width, and
// the MSE of a candidate grid is estimated by integrating the squared error over each bin.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tsq/core/span.hpp"
#include "tsq/core/status.hpp"
#include "tsq/quant/choose_params.hpp"
#include "tsq/quant/quant_params.hpp"

namespace tsq {

// A real range proposed by an observer, min <= max.
struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

namespace detail {

// Checked before anything is recorded, so that a failed observe() leaves the observer unchanged.
inline Status check_observable(Span<const float> values) {
  if (values.data() == nullptr && !values.empty()) {
    return Status::error(ErrorCode::invalid_argument, "observer: null data with a nonzero size");
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return Status::error(ErrorCode::non_finite_value,
                           std::isnan(values[i]) ? "NaN at index " : "infinity at index ")
          .append(i);
    }
  }
  return Status::ok();
}

inline Status nothing_observed() {
  return Status::error(ErrorCode::invalid_range, "observer: no value observed yet");
}

inline Status check_bin_count(std::size_t bin_count) {
  if (bin_count < 16 || bin_count > (std::size_t{1} << 20)) {
    return Status::error(ErrorCode::invalid_argument, "observer: bin count ")
        .append(bin_count)
        .append(" outside [16, 2^20]");
  }
  return Status::ok();
}

// Counts of magnitudes in (0, top), bin i = [i, i + 1) * top / bin_count; see the file comment.
class MagnitudeHistogram {
 public:
  MagnitudeHistogram() = default;
  explicit MagnitudeHistogram(std::size_t bin_count) : counts_(bin_count, 0) {}

  std::size_t bin_count() const { return counts_.size(); }
  std::uint64_t total() const { return total_; }
  std::uint64_t count(std::size_t bin) const { return counts_[bin]; }
  double top() const { return top_; }
  double max_magnitude() const { return max_magnitude_; }
  double bin_width() const { return top_ / static_cast<double>(counts_.size()); }

  // Lower and upper edge of a bin; the top non-empty bin ends at the exact largest magnitude.
  double lower_edge(std::size_t bin) const { return static_cast<double>(bin) * bin_width(); }
  double upper_edge(std::size_t bin) const {
    return std::min(static_cast<double>(bin + 1) * bin_width(), max_magnitude_);
  }

  // Makes room for `magnitude` (> 0): doubles top as often as needed, merging 2^k bins into one.
  void grow_to(double magnitude) {
    if (top_ == 0.0) {
      top_ = magnitude;
      return;
    }
    unsigned doublings = 0;
    while (top_ < magnitude) {
      top_ *= 2.0;
      ++doublings;
    }
    if (doublings == 0) return;
    const std::size_t bins = counts_.size();
    for (std::size_t i = 0; i < bins; ++i) {
      const std::uint64_t c = counts_[i];
      counts_[i] = 0;
      const std::size_t target = doublings >= 64 ? 0 : static_cast<std::size_t>(i >> doublings);
      counts_[target] += c;
    }
  }

  // `magnitude` must be in (0, top]: call grow_to first.
  void add(double magnitude) {
    const auto bins = static_cast<double>(counts_.size());
    auto bin = static_cast<std::size_t>(std::min(magnitude / top_ * bins, bins - 1.0));
    ++counts_[bin];
    ++total_;
    max_magnitude_ = std::max(max_magnitude_, magnitude);
  }

  // How many magnitudes are <= m, values spread evenly inside each bin.
  double count_at_most(double m) const {
    if (total_ == 0 || m <= 0.0) return 0.0;
    if (m >= max_magnitude_) return static_cast<double>(total_);
    const double width = bin_width();
    const auto bin = std::min(static_cast<std::size_t>(m / width), counts_.size() - 1);
    double below = 0.0;
    for (std::size_t i = 0; i < bin; ++i) below += static_cast<double>(counts_[i]);
    const double lo = lower_edge(bin);
    const double hi = upper_edge(bin);
    const double fraction = hi > lo ? std::min(std::max((m - lo) / (hi - lo), 0.0), 1.0) : 1.0;
    return below + fraction * static_cast<double>(counts_[bin]);
  }

  void reset() {
    counts_.assign(counts_.size(), 0);
    total_ = 0;
    top_ = 0.0;
    max_magnitude_ = 0.0;
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  double top_ = 0.0;
  double max_magnitude_ = 0.0;
};

// Every observed value: exact min/max and zero count, histograms of each sign.
class ValueHistogram {
 public:
  ValueHistogram() = default;
  explicit ValueHistogram(std::size_t bin_count) : positive_(bin_count), negative_(bin_count) {}

  // `values` must have passed check_observable.
  void add(Span<const float> values) {
    if (values.empty()) return;
    const bool first = total() == 0;
    float batch_min = values[0];
    float batch_max = values[0];
    for (const float v : values) {
      batch_min = std::min(batch_min, v);
      batch_max = std::max(batch_max, v);
    }
    if (batch_max > 0.0f) positive_.grow_to(static_cast<double>(batch_max));
    if (batch_min < 0.0f) negative_.grow_to(-static_cast<double>(batch_min));
    for (const float v : values) {
      if (v > 0.0f) {
        positive_.add(static_cast<double>(v));
      } else if (v < 0.0f) {
        negative_.add(-static_cast<double>(v));
      } else {
        ++zeros_;
      }
    }
    min_ = first ? batch_min : std::min(min_, batch_min);
    max_ = first ? batch_max : std::max(max_, batch_max);
  }

  std::uint64_t total() const { return zeros_ + positive_.total() + negative_.total(); }
  std::uint64_t zeros() const { return zeros_; }
  float min() const { return min_; }
  float max() const { return max_; }
  const MagnitudeHistogram& positive() const { return positive_; }
  const MagnitudeHistogram& negative() const { return negative_; }

  // How many values are <= t.
  double count_at_most(double t) const {
    if (t < 0.0) {
      return static_cast<double>(negative_.total()) - negative_.count_at_most(-t);
    }
    return static_cast<double>(negative_.total() + zeros_) + positive_.count_at_most(t);
  }
  // How many |values| are <= a.
  double count_magnitude_at_most(double a) const {
    if (a < 0.0) return 0.0;
    return static_cast<double>(zeros_) + positive_.count_at_most(a) + negative_.count_at_most(a);
  }

  // The smallest t in [lo, hi] with count(t) >= fraction * total, by bisection (count is
  // monotone and piecewise linear).
  template <typename Count>
  double invert(Count count, double fraction, double lo, double hi) const {
    const double target = fraction * static_cast<double>(total());
    if (count(lo) >= target) return lo;
    for (int iteration = 0; iteration < 200; ++iteration) {
      const double mid = lo + 0.5 * (hi - lo);
      if (mid <= lo || mid >= hi) break;
      if (count(mid) >= target) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    return hi;
  }

  void reset() {
    positive_.reset();
    negative_.reset();
    zeros_ = 0;
    min_ = 0.0f;
    max_ = 0.0f;
  }

 private:
  MagnitudeHistogram positive_;
  MagnitudeHistogram negative_;
  std::uint64_t zeros_ = 0;
  float min_ = 0.0f;
  float max_ = 0.0f;
};

}  // namespace detail

class MinMaxObserver {
 public:
  Status observe(Span<const float> values) {
    TSQ_RETURN_IF_ERROR(detail::check_observable(values));
    for (const float v : values) {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
    count_ += values.size();
    return Status::ok();
  }
  Result<Range> range() const {
    if (count_ == 0) return detail::nothing_observed();
    return Range{min_, max_};
  }
  void reset() { *this = MinMaxObserver(); }
  std::uint64_t count() const { return count_; }  // values observed

 private:
  float min_ = std::numeric_limits<float>::infinity();
  float max_ = -std::numeric_limits<float>::infinity();
  std::uint64_t count_ = 0;
};

// min += c * (batch_min - min), max likewise, in float32 as PyTorch computes it; the first
// non-empty batch sets min and max. Smooths out single windows with unusual extremes.
class MovingAverageMinMaxObserver {
 public:
  explicit MovingAverageMinMaxObserver(float averaging_constant = 0.01f)
      : averaging_constant_(averaging_constant) {
    if (!(averaging_constant > 0.0f && averaging_constant <= 1.0f)) {
      options_ = Status::error(ErrorCode::invalid_argument,
                               "observer: averaging constant must be in (0, 1]");
    }
  }

  Status options_status() const { return options_; }
  float averaging_constant() const { return averaging_constant_; }

  Status observe(Span<const float> values) {
    TSQ_RETURN_IF_ERROR(options_);
    TSQ_RETURN_IF_ERROR(detail::check_observable(values));
    if (values.empty()) return Status::ok();
    float batch_min = values[0];
    float batch_max = values[0];
    for (const float v : values) {
      batch_min = std::min(batch_min, v);
      batch_max = std::max(batch_max, v);
    }
    if (batch_count_ == 0) {
      min_ = batch_min;
      max_ = batch_max;
    } else {
      min_ = min_ + averaging_constant_ * (batch_min - min_);
      max_ = max_ + averaging_constant_ * (batch_max - max_);
    }
    ++batch_count_;
    return Status::ok();
  }
  Result<Range> range() const {
    TSQ_RETURN_IF_ERROR(options_);
    if (batch_count_ == 0) return detail::nothing_observed();
    return Range{min_, max_};
  }
  void reset() {
    min_ = 0.0f;
    max_ = 0.0f;
    batch_count_ = 0;
  }
  std::uint64_t batch_count() const { return batch_count_; }  // non-empty batches observed

 private:
  float averaging_constant_ = 0.01f;
  Status options_;
  float min_ = 0.0f;
  float max_ = 0.0f;
  std::uint64_t batch_count_ = 0;
};

enum class PercentileMode : std::uint8_t {
  magnitude,  // a = p-th percentile of |x|; range [-a, a] cut to the observed [min, max]
  two_tails,  // range [(100 - p)-th percentile of x, p-th percentile of x]
};

// Ignores the rarest extremes: e.g. 99.99 keeps 1 value in 10,000 outside the range.
class PercentileObserver {
 public:
  explicit PercentileObserver(double percentile = 99.99,
                              PercentileMode mode = PercentileMode::magnitude,
                              std::size_t bin_count = 2048)
      : percentile_(percentile), mode_(mode), histogram_(bin_count) {
    options_ = detail::check_bin_count(bin_count);
    if (!(percentile >= 50.0 && percentile <= 100.0)) {
      options_ =
          Status::error(ErrorCode::invalid_argument, "observer: percentile must be in [50, 100]");
    }
  }

  Status options_status() const { return options_; }
  double percentile() const { return percentile_; }
  PercentileMode mode() const { return mode_; }
  const detail::ValueHistogram& histogram() const { return histogram_; }

  Status observe(Span<const float> values) {
    TSQ_RETURN_IF_ERROR(options_);
    TSQ_RETURN_IF_ERROR(detail::check_observable(values));
    histogram_.add(values);
    return Status::ok();
  }

  Result<Range> range() const {
    TSQ_RETURN_IF_ERROR(options_);
    if (histogram_.total() == 0) return detail::nothing_observed();
    const double min = histogram_.min();
    const double max = histogram_.max();
    const double fraction = percentile_ / 100.0;
    double lo = min;
    double hi = max;
    if (mode_ == PercentileMode::magnitude) {
      const double magnitude =
          histogram_.invert([this](double a) { return histogram_.count_magnitude_at_most(a); },
                            fraction, 0.0, std::max(-min, max));
      lo = std::max(min, -magnitude);
      hi = std::min(max, magnitude);
    } else {
      const auto count = [this](double t) { return histogram_.count_at_most(t); };
      lo = histogram_.invert(count, 1.0 - fraction, min, max);
      hi = histogram_.invert(count, fraction, min, max);
    }
    // Interpolation inside a bin can cross the other end when all values are close together.
    hi = std::max(hi, lo);
    return Range{static_cast<float>(lo), static_cast<float>(hi)};
  }

  void reset() { histogram_.reset(); }

 private:
  double percentile_ = 99.99;
  PercentileMode mode_ = PercentileMode::magnitude;
  Status options_;
  detail::ValueHistogram histogram_;
};

namespace detail {

// Integral of (v - round(v))^2 from -1/2 to u: 1/12 per whole integer cell, plus the part of the
// last cell.
inline double rounding_error_integral(double u) {
  const double w = u + 0.5;
  const double cells = std::floor(w);
  const double f = w - cells - 0.5;
  return cells / 12.0 + (f * f * f + 0.125) / 3.0;
}

// The real-valued grid of a QuantParams: multiples of scale between the clipping bounds.
struct Grid {
  double scale = 1.0;
  double low = 0.0;   // scale * (quant_min - zero_point)
  double high = 0.0;  // scale * (quant_max - zero_point)
};

inline Grid grid_of(const QuantParams& params) {
  const auto scale = static_cast<double>(params.scale);
  return Grid{scale, scale * (params.quant_min - params.zero_point),
              scale * (params.quant_max - params.zero_point)};
}

inline double squared_error(double x, const Grid& grid) {
  if (x < grid.low) return (x - grid.low) * (x - grid.low);
  if (x > grid.high) return (x - grid.high) * (x - grid.high);
  const double q = grid.scale * std::round(x / grid.scale);
  return (x - q) * (x - q);
}

// Integral over [a, b] of the squared quantization error: clipping below and above the grid,
// rounding inside it.
inline double squared_error_integral(double a, double b, const Grid& grid) {
  double sum = 0.0;
  if (a < grid.low) {
    const double end = std::min(b, grid.low);
    const double from = a - grid.low;
    const double to = end - grid.low;
    sum += (to * to * to - from * from * from) / 3.0;
  }
  if (b > grid.high) {
    const double start = std::max(a, grid.high);
    const double from = start - grid.high;
    const double to = b - grid.high;
    sum += (to * to * to - from * from * from) / 3.0;
  }
  const double lo = std::max(a, grid.low);
  const double hi = std::min(b, grid.high);
  if (hi > lo) {
    const double s = grid.scale;
    sum += s * s * s * (rounding_error_integral(hi / s) - rounding_error_integral(lo / s));
  }
  return sum;
}

// One non-empty histogram bin as a real interval [lo, hi] holding `count` values.
struct MassInterval {
  double lo = 0.0;
  double hi = 0.0;
  double count = 0.0;
};

inline std::vector<MassInterval> mass_intervals(const ValueHistogram& histogram) {
  std::vector<MassInterval> intervals;
  if (histogram.zeros() > 0) {
    intervals.push_back({0.0, 0.0, static_cast<double>(histogram.zeros())});
  }
  const MagnitudeHistogram* sides[] = {&histogram.positive(), &histogram.negative()};
  for (int side = 0; side < 2; ++side) {
    const MagnitudeHistogram& h = *sides[side];
    for (std::size_t i = 0; i < h.bin_count(); ++i) {
      if (h.count(i) == 0) continue;
      const double lo = h.lower_edge(i);
      const double hi = std::max(h.upper_edge(i), lo);
      const auto count = static_cast<double>(h.count(i));
      intervals.push_back(side == 0 ? MassInterval{lo, hi, count} : MassInterval{-hi, -lo, count});
    }
  }
  return intervals;
}

// Mean squared quantization error of the values, each bin's mass spread evenly over its interval.
inline double mean_squared_error(const std::vector<MassInterval>& intervals, double total,
                                 const Grid& grid) {
  double sum = 0.0;
  for (const MassInterval& m : intervals) {
    if (m.hi > m.lo) {
      sum += m.count / (m.hi - m.lo) * squared_error_integral(m.lo, m.hi, grid);
    } else {
      sum += m.count * squared_error(m.lo, grid);
    }
  }
  return sum / total;
}

}  // namespace detail

// Chooses the clipping range whose quantization has the smallest mean squared error. `width` and
// `symmetric` say how the range will be turned into parameters: range() evaluates exactly the
// QuantParams that choose_quant_params(range.min, range.max, width) (asymmetric) or
// choose_symmetric_quant_params(range.min, range.max, width) (symmetric) return for its result.
// Candidates: the clipping magnitude of each sign in steps of 1/1024 of the observed extreme,
// searched every 8th step and then step by step around the best; the asymmetric search starts
// from the best of a 16 x 16 grid of (min, max) and then moves one end at a time until neither
// move helps. With few outliers far out, clipping them costs less than the coarser steps a full
// range would need; for evenly spread values the result stays within a fraction of a percent of
// [min, max]. range() runs the search each time it is called (a few milliseconds symmetric, tens
// asymmetric).
class MseObserver {
 public:
  static constexpr std::size_t kCandidates = 1024;  // clipping steps per sign
  static constexpr std::size_t kStride = 8;         // first pass of a line search
  static constexpr std::size_t kGridStride = 64;    // asymmetric start: 16 x 16 grid

  explicit MseObserver(BitWidth width = BitWidth{}, bool symmetric = false,
                       std::size_t bin_count = 2048)
      : width_(width), symmetric_(symmetric), histogram_(bin_count) {
    options_ = detail::check_bin_count(bin_count);
    const Result<IntegerRange> range = integer_range(width);
    if (!range.is_ok()) options_ = range.status();
    if (symmetric && !width.is_signed) {
      options_ = Status::error(ErrorCode::unsupported_type,
                               "observer: symmetric quantization needs a signed type");
    }
  }

  Status options_status() const { return options_; }
  BitWidth width() const { return width_; }
  bool symmetric() const { return symmetric_; }
  const detail::ValueHistogram& histogram() const { return histogram_; }

  Status observe(Span<const float> values) {
    TSQ_RETURN_IF_ERROR(options_);
    TSQ_RETURN_IF_ERROR(detail::check_observable(values));
    histogram_.add(values);
    return Status::ok();
  }

  // The mean squared error quantizing the observed values with `params` would have, estimated
  // from the histogram.
  Result<double> estimated_mse(const QuantParams& params) const {
    TSQ_RETURN_IF_ERROR(options_);
    if (histogram_.total() == 0) return detail::nothing_observed();
    TSQ_RETURN_IF_ERROR(validate(params));
    return detail::mean_squared_error(detail::mass_intervals(histogram_),
                                      static_cast<double>(histogram_.total()),
                                      detail::grid_of(params));
  }

  Result<Range> range() const {
    TSQ_RETURN_IF_ERROR(options_);
    if (histogram_.total() == 0) return detail::nothing_observed();
    const float min = histogram_.min();
    const float max = histogram_.max();
    if (min == max) return Range{min, max};
    const std::vector<detail::MassInterval> intervals = detail::mass_intervals(histogram_);
    const auto total = static_cast<double>(histogram_.total());
    // A range the parameter choice rejects (float32 scale overflow) is never chosen.
    const auto error_of = [&](const Result<QuantParams>& params) {
      if (!params.is_ok()) return std::numeric_limits<double>::infinity();
      return detail::mean_squared_error(intervals, total, detail::grid_of(params.value()));
    };
    if (symmetric_) {
      const float extreme = std::max(-min, max);
      const auto error = [&](std::size_t k) {
        return error_of(choose_symmetric_quant_params(candidate(extreme, k), width_));
      };
      Best best{kCandidates, error(kCandidates)};
      line_search(error, best);
      const float magnitude = candidate(extreme, best.k);
      return Range{std::max(min, -magnitude), std::min(max, magnitude)};
    }
    // Asymmetric: an end on the far side of 0 stays where it is (the parameters widen the range
    // to 0 anyway). Indices i (low end) and j (high end) count steps of min and max.
    const bool search_low = min < 0.0f;
    const bool search_high = max > 0.0f;
    const auto low = [&](std::size_t i) { return search_low ? candidate(min, i) : min; };
    const auto high = [&](std::size_t j) { return search_high ? candidate(max, j) : max; };
    const auto error = [&](std::size_t i, std::size_t j) {
      return error_of(choose_quant_params(low(i), high(j), width_));
    };
    std::size_t i = kCandidates;
    std::size_t j = kCandidates;
    double best_error = error(i, j);
    // The best of a coarse grid first, so that moving one end at a time starts near the optimum.
    for (std::size_t gi = search_low ? kGridStride : kCandidates; gi <= kCandidates;
         gi += kGridStride) {
      for (std::size_t gj = search_high ? kGridStride : kCandidates; gj <= kCandidates;
           gj += kGridStride) {
        const double e = error(gi, gj);
        if (e < best_error) {
          best_error = e;
          i = gi;
          j = gj;
        }
      }
    }
    for (int round = 0; round < 32; ++round) {
      const std::size_t previous_i = i;
      const std::size_t previous_j = j;
      if (search_high) {
        Best best{j, best_error};
        line_search([&](std::size_t k) { return error(i, k); }, best);
        j = best.k;
        best_error = best.error;
      }
      if (search_low) {
        Best best{i, best_error};
        line_search([&](std::size_t k) { return error(k, j); }, best);
        i = best.k;
        best_error = best.error;
      }
      if (i == previous_i && j == previous_j) break;
    }
    return Range{low(i), high(j)};
  }

  void reset() { histogram_.reset(); }

 private:
  struct Best {
    std::size_t k = kCandidates;
    double error = 0.0;
  };

  // Step k of `extreme`, rounded to float32 as the returned Range will be.
  static float candidate(float extreme, std::size_t k) {
    return static_cast<float>(static_cast<double>(extreme) * static_cast<double>(k) /
                              static_cast<double>(kCandidates));
  }

  // Improves `best` over k in [1, kCandidates]: every kStride-th k, then every k around the best.
  // Larger k first and only strict improvements: on equal error the wider range wins.
  template <typename Error>
  static void line_search(Error error, Best& best) {
    const auto consider = [&](std::size_t k) {
      const double e = error(k);
      if (e < best.error) best = Best{k, e};
    };
    for (std::size_t k = kCandidates; k >= kStride; k -= kStride) {
      if (k != best.k) consider(k);
    }
    const std::size_t center = best.k;
    const std::size_t first = center > kStride ? center - kStride + 1 : 1;
    const std::size_t last = std::min(center + kStride - 1, kCandidates);
    for (std::size_t k = last; k >= first; --k) {
      if (k != center) consider(k);
    }
  }

  BitWidth width_;
  bool symmetric_ = false;
  Status options_;
  detail::ValueHistogram histogram_;
};

enum class ObserverKind : std::uint8_t { min_max, moving_average_min_max, percentile, mse };

constexpr const char* observer_kind_name(ObserverKind kind) {
  switch (kind) {
    case ObserverKind::min_max: return "min_max";
    case ObserverKind::moving_average_min_max: return "moving_average_min_max";
    case ObserverKind::percentile: return "percentile";
    case ObserverKind::mse: return "mse";
  }
  return "unknown";
}

// Options of every kind; each kind reads only its own.
struct ObserverOptions {
  float averaging_constant = 0.01f;                            // moving_average_min_max
  double percentile = 99.99;                                   // percentile, in [50, 100]
  PercentileMode percentile_mode = PercentileMode::magnitude;  // percentile
  BitWidth width = BitWidth{};   // mse: the integer grid whose error is minimised
  bool symmetric = false;        // mse: zero point 0 (choose_symmetric_quant_params)
  std::size_t bin_count = 2048;  // percentile, mse: histogram bins per sign, in [16, 2^20]
};

// Any observer behind one value type (copyable; a std::variant, no virtual calls, no RTTI).
class Observer {
 public:
  using Variant =
      std::variant<MinMaxObserver, MovingAverageMinMaxObserver, PercentileObserver, MseObserver>;

  Observer() = default;  // a MinMaxObserver
  template <typename Concrete,
            typename = std::enable_if_t<!std::is_same<std::decay_t<Concrete>, Observer>::value>>
  explicit Observer(Concrete observer) : observer_(std::move(observer)) {}

  ObserverKind kind() const { return static_cast<ObserverKind>(observer_.index()); }

  Status observe(Span<const float> values) {
    return std::visit([values](auto& o) { return o.observe(values); }, observer_);
  }
  Result<Range> range() const {
    return std::visit([](const auto& o) { return o.range(); }, observer_);
  }
  void reset() {
    std::visit([](auto& o) { o.reset(); }, observer_);
  }

  // The concrete observer, or nullptr if it is of another kind.
  template <typename Concrete>
  Concrete* get_if() {
    return std::get_if<Concrete>(&observer_);
  }
  template <typename Concrete>
  const Concrete* get_if() const {
    return std::get_if<Concrete>(&observer_);
  }

 private:
  Variant observer_;
};

// invalid_argument (or unsupported_type) when the options of that kind are not usable.
inline Result<Observer> make_observer(ObserverKind kind,
                                      const ObserverOptions& options = ObserverOptions{}) {
  switch (kind) {
    case ObserverKind::min_max: return Observer(MinMaxObserver());
    case ObserverKind::moving_average_min_max: {
      MovingAverageMinMaxObserver observer(options.averaging_constant);
      TSQ_RETURN_IF_ERROR(observer.options_status());
      return Observer(observer);
    }
    case ObserverKind::percentile: {
      PercentileObserver observer(options.percentile, options.percentile_mode, options.bin_count);
      TSQ_RETURN_IF_ERROR(observer.options_status());
      return Observer(std::move(observer));
    }
    case ObserverKind::mse: {
      MseObserver observer(options.width, options.symmetric, options.bin_count);
      TSQ_RETURN_IF_ERROR(observer.options_status());
      return Observer(std::move(observer));
    }
  }
  return Status::error(ErrorCode::invalid_argument, "unknown observer kind");
}

}  // namespace tsq
