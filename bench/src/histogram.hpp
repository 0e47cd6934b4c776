#pragma once
// Log-linear latency histogram in the spirit of HdrHistogram.
//
// Values (nanoseconds, but any non-negative integer works) below 128 are kept exactly;
// above that every power of two is split into 64 equal buckets, so a reported value is
// at most ~1.6% above the true one. Values above 2^40 (~18 minutes in ns) are clamped.
// Memory is fixed (~18 KiB), recording is O(1) and allocation-free.
//
// Thread contract: single owner. Each client thread owns its histograms; results from
// several threads or processes are combined with merge() / add_bucket().
#include <cstdint>
#include <utility>
#include <vector>

namespace herald_bench {

class histogram {
 public:
  static constexpr std::int64_t max_trackable = std::int64_t{1} << 40;

  histogram();

  void record(std::int64_t value, std::uint64_t count = 1);
  void merge(const histogram& other);
  void reset();

  std::uint64_t count() const { return total_; }
  std::int64_t min() const { return total_ ? min_ : 0; }
  std::int64_t max() const { return max_; }
  double mean() const;

  // Smallest recorded value v such that `percent` % of all values are <= v, reported
  // as the highest value of its bucket (clamped to the exact max). percent in [0, 100].
  std::int64_t value_at_percentile(double percent) const;

  // Sparse form for shipping between processes: (bucket index, count) for non-empty
  // buckets, plus the exact min/max/sum carried separately by the caller.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> nonzero_buckets() const;
  void add_bucket(std::uint32_t index, std::uint64_t count);
  void set_extremes(std::int64_t min, std::int64_t max, double sum);
  double sum() const { return sum_; }

  static std::uint32_t index_of(std::int64_t value);
  static std::int64_t lowest_in(std::uint32_t index);
  static std::int64_t highest_in(std::uint32_t index);
  static std::uint32_t bucket_count();

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace herald_bench
