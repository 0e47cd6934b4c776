#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace herald_bench {
namespace {

constexpr int sub_bits = 6;                              // 64 buckets per power of two
constexpr std::int64_t exact_below = std::int64_t{2} << sub_bits;  // 128

}  // namespace

histogram::histogram() : counts_(bucket_count(), 0) {}

std::uint32_t histogram::bucket_count() {
  return index_of(max_trackable) + 1;
}

// Values >= 128 are written as mantissa (in [64,128)) << shift; the index is then
// 64 * shift + mantissa, which is contiguous with the exact range below 128.
std::uint32_t histogram::index_of(std::int64_t value) {
  value = std::clamp<std::int64_t>(value, 0, max_trackable);
  if (value < exact_below) return static_cast<std::uint32_t>(value);
  const int shift = std::bit_width(static_cast<std::uint64_t>(value)) - (sub_bits + 1);
  return static_cast<std::uint32_t>((std::int64_t{shift} << sub_bits) + (value >> shift));
}

std::int64_t histogram::lowest_in(std::uint32_t index) {
  if (index < exact_below) return index;
  const int shift = static_cast<int>(index >> sub_bits) - 1;
  const std::int64_t mantissa = index - (std::int64_t{shift} << sub_bits);
  return mantissa << shift;
}

std::int64_t histogram::highest_in(std::uint32_t index) {
  if (index < exact_below) return index;
  const int shift = static_cast<int>(index >> sub_bits) - 1;
  const std::int64_t mantissa = index - (std::int64_t{shift} << sub_bits);
  return ((mantissa + 1) << shift) - 1;
}

void histogram::record(std::int64_t value, std::uint64_t count) {
  value = std::clamp<std::int64_t>(value, 0, max_trackable);
  counts_[index_of(value)] += count;
  if (total_ == 0 || value < min_) min_ = value;
  if (value > max_) max_ = value;
  total_ += count;
  sum_ += static_cast<double>(value) * static_cast<double>(count);
}

void histogram::merge(const histogram& other) {
  if (other.total_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = total_ ? std::min(min_, other.min_) : other.min_;
  max_ = std::max(max_, other.max_);
  total_ += other.total_;
  sum_ += other.sum_;
}

void histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
}

double histogram::mean() const {
  return total_ ? sum_ / static_cast<double>(total_) : 0.0;
}

std::int64_t histogram::value_at_percentile(double percent) const {
  if (total_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  auto wanted = static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(total_)));
  wanted = std::clamp<std::uint64_t>(wanted, 1, total_);
  std::uint64_t seen = 0;
  for (std::uint32_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= wanted) return std::min(highest_in(i), max_);
  }
  return max_;
}

std::vector<std::pair<std::uint32_t, std::uint64_t>> histogram::nonzero_buckets() const {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
  for (std::uint32_t i = 0; i < counts_.size(); ++i)
    if (counts_[i]) out.emplace_back(i, counts_[i]);
  return out;
}

// Rebuilding from the sparse form: min/max/sum are approximated from the buckets and
// then overwritten by set_extremes() with the exact values shipped alongside.
void histogram::add_bucket(std::uint32_t index, std::uint64_t count) {
  if (index >= counts_.size() || count == 0) return;
  counts_[index] += count;
  const auto low = lowest_in(index);
  const auto high = highest_in(index);
  if (total_ == 0 || low < min_) min_ = low;
  if (high > max_) max_ = high;
  total_ += count;
  sum_ += static_cast<double>(low) * static_cast<double>(count);
}

void histogram::set_extremes(std::int64_t min, std::int64_t max, double sum) {
  min_ = min;
  max_ = max;
  sum_ = sum;
}

}  // namespace herald_bench
