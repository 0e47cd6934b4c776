#pragma once
// Counters and latency data of one client shard (one io_context thread of a worker).
//
// Thread contract: written only by its shard's thread. The counters are atomics so the
// worker's control thread may read them for progress lines while the shard runs
// (relaxed loads: a progress line may be slightly stale). The histogram, per-message
// arrays and first error are read only after the shard's thread has been joined.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"
#include "payload.hpp"
#include "worker_result.hpp"

namespace herald_bench {

class shard_stats {
 public:
  // tracked_messages: per-message arrays are kept for seq < tracked_messages (fanout).
  explicit shard_stats(std::size_t tracked_messages);

  void count_open() { bump(opened_); }
  void count_open_failure(std::string_view why);
  void count_unexpected_close(std::string_view why);
  void count_churn_open() { bump(churn_opens_); }
  void count_churn_close() { bump(churn_closes_); }
  void count_internal_error(std::string_view why);

  // Records a frame received at now_ns: stamped messages feed the latency figures.
  void on_frame(std::string_view frame, std::int64_t now_ns);
  // The same for a message whose stamp was already read (longpoll, sse); nullopt:
  // a message without a stamp.
  void on_stamp(const std::optional<stamp>& s, std::int64_t now_ns);
  // longpoll/sse: a message at or below the offset the client had already seen.
  void count_duplicate() { bump(duplicates_); }
  // longpoll/sse: the server could not continue from the client's position.
  void count_unrecovered() { bump(unrecovered_); }

  std::uint64_t settled_opens() const;  // opened + failed, for ramp completion
  void add_progress_to(worker_result& r) const;
  void add_detail_to(worker_result& r) const;  // only after the shard thread stopped

 private:
  using counter = std::atomic<std::uint64_t>;
  // Single writer: a load and a store avoid a locked read-modify-write.
  static void bump(counter& c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void remember(std::string_view why);

  counter opened_{0}, open_failed_{0}, unexpected_closes_{0}, received_{0};
  counter received_warmup_{0}, unparsed_{0}, churn_opens_{0}, churn_closes_{0};
  counter internal_errors_{0}, duplicates_{0}, unrecovered_{0};
  histogram latency_;
  std::vector<std::int64_t> seq_max_ns_;
  std::vector<std::uint32_t> seq_count_;
  std::string first_error_;
};

}  // namespace herald_bench
