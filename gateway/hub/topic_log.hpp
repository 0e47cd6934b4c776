#pragma once
// topic_log: the ordered record of one topic: the next offset, the epoch,
// and the last few messages (the history a late or reconnecting subscriber
// recovers from).
//
// Offsets start at 1 and increase by one per message, so a subscriber that
// knows the last offset it saw can tell exactly what it missed. The epoch is
// a random string fixed when the log is created; a log that is lost (node
// restart, eviction) comes back with a new epoch, which tells clients their
// offsets no longer mean anything.
//
// Thread contract: shard-local: each topic is owned by one shard, which
// alone appends to and reads its log.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "hub/frame.hpp"

namespace herald::hub {

struct history_limits {
  std::size_t max_messages = 10;
  std::chrono::milliseconds max_age{0};  // 0: no age limit
};

struct history_slice {
  std::string epoch;
  std::uint64_t offset = 0;     // last offset assigned in this topic
  bool recovered = true;        // false: what was asked for is no longer kept
  bool epoch_changed = false;   // the caller's epoch is not this log's
  bool unavailable = false;     // fleet: the bus could not answer (no position known)
  std::vector<shared_frame> messages;
};

class topic_log {
 public:
  explicit topic_log(std::string epoch) : epoch_(std::move(epoch)) {}

  const std::string& epoch() const { return epoch_; }
  std::uint64_t last_offset() const { return next_offset_ - 1; }
  std::uint64_t next_offset() const { return next_offset_; }

  // Records `f` (built with offset next_offset()) and advances the offset.
  // Returns the bytes the history grew by (negative when it shrank).
  std::int64_t append(shared_frame f, const history_limits& limits, std::int64_t now_ms);

  // Messages with offset > since (at most `limit`, the oldest first).
  // `recovered` is false when some message after `since` was already
  // dropped from history, or `epoch` is non-empty and not ours. A `since`
  // ahead of last_offset() is left for the caller to refuse (bad_since).
  history_slice since(std::uint64_t since, std::size_t limit, const std::string& epoch, std::int64_t now_ms,
                      const history_limits& limits) const;

  // Drops messages older than the age limit; returns the bytes freed.
  std::int64_t expire(std::int64_t now_ms, const history_limits& limits);

  std::size_t history_size() const { return history_.size(); }
  std::size_t history_bytes() const { return bytes_; }

 private:
  std::string epoch_;
  std::uint64_t next_offset_ = 1;
  std::deque<shared_frame> history_;
  std::size_t bytes_ = 0;
};

// A fresh random epoch (16 hex digits).
std::string make_epoch();

}  // namespace herald::hub
