#include "shard_stats.hpp"

#include <algorithm>


namespace herald_bench {

shard_stats::shard_stats(std::size_t tracked_messages)
    : seq_max_ns_(tracked_messages, -1), seq_count_(tracked_messages, 0) {}

void shard_stats::remember(std::string_view why) {
  if (first_error_.empty()) first_error_ = std::string{why};
}

void shard_stats::count_open_failure(std::string_view why) {
  bump(open_failed_);
  remember(why);
}

void shard_stats::count_unexpected_close(std::string_view why) {
  bump(unexpected_closes_);
  remember(why);
}

void shard_stats::count_internal_error(std::string_view why) {
  bump(internal_errors_);
  remember(why);
}

void shard_stats::on_frame(std::string_view frame, std::int64_t now_ns) {
  on_stamp(decode_payload(frame), now_ns);
}

void shard_stats::on_stamp(const std::optional<stamp>& s, std::int64_t now_ns) {
  if (!s) {
    bump(unparsed_);
    return;
  }
  if (s->warmup) {
    bump(received_warmup_);
    return;
  }
  bump(received_);
  const std::int64_t latency = now_ns - s->intended_ns;
  latency_.record(latency);
  if (s->seq < seq_count_.size()) {
    seq_max_ns_[s->seq] = std::max(seq_max_ns_[s->seq], latency);
    ++seq_count_[s->seq];
  }
}

std::uint64_t shard_stats::settled_opens() const {
  return opened_.load(std::memory_order_relaxed) + open_failed_.load(std::memory_order_relaxed);
}

void shard_stats::add_progress_to(worker_result& r) const {
  constexpr auto relaxed = std::memory_order_relaxed;
  r.opened += opened_.load(relaxed);
  r.open_failed += open_failed_.load(relaxed);
  r.unexpected_closes += unexpected_closes_.load(relaxed);
  r.received += received_.load(relaxed);
  r.received_warmup += received_warmup_.load(relaxed);
  r.unparsed += unparsed_.load(relaxed);
  r.churn_opens += churn_opens_.load(relaxed);
  r.churn_closes += churn_closes_.load(relaxed);
  r.internal_errors += internal_errors_.load(relaxed);
  r.duplicates += duplicates_.load(relaxed);
  r.unrecovered += unrecovered_.load(relaxed);
}

void shard_stats::add_detail_to(worker_result& r) const {
  worker_result mine;
  mine.latency = latency_;
  mine.seq_max_ns = seq_max_ns_;
  mine.seq_count = seq_count_;
  mine.first_error = first_error_;
  r.merge(mine);
}

}  // namespace herald_bench
