#pragma once
// status_history: the last minute of a node's figures, one sample a second,
// for the /status page; and the JSON /api/v1/status answers with.
//
// A sample holds cumulative counters (as /metrics does), so rates are the
// difference between two samples over their time apart: a late or missed
// sample widens one interval instead of distorting the rate.
//
// Thread contract: status_history is thread-safe (guarded by `mutex_`): the
// sampler adds on one shard, requests read it on any. render_status_json()
// is pure.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/exposition.hpp"

namespace herald::metrics {

struct status_sample {
  std::int64_t unix_ms = 0;                 // when it was taken
  std::vector<std::uint64_t> connections;   // open WebSockets, per shard
  std::uint64_t held_polls = 0;             // long-polls waiting now
  std::uint64_t sse_streams = 0;            // SSE streams open now
  std::uint64_t delivered = 0;              // cumulative: messages written to clients
  std::uint64_t dropped_slow = 0;           // cumulative: refused, queue full
  std::uint64_t dropped_closed = 0;         // cumulative: refused, connection closing
};

class status_history {
 public:
  // Keeps the latest `keep` samples (61 one a second: 60 intervals).
  // Construction is the node's start, as far as the page is concerned.
  explicit status_history(std::size_t keep = 61);

  void add(status_sample s);
  std::vector<status_sample> samples() const;
  std::int64_t started_unix_ms() const { return started_unix_ms_; }

 private:
  mutable std::mutex mutex_;
  std::deque<status_sample> samples_;
  std::size_t keep_;
  std::int64_t started_unix_ms_;
};

// Now, in Unix milliseconds (what samples and the page's clock use).
std::int64_t unix_now_ms();

// Who is answering: the build and the node.
struct status_identity {
  std::string version;
  std::string commit;
  std::string node;
  std::int64_t started_unix_ms = 0;
  bool ready = true;  // false while draining
};

// {"node","version","commit","started_ms","ready","bus":{...},"samples":[...]},
// oldest sample first. Each sample: {"t":MS,"connections":[per shard],
// "polls":N,"sse":N,"delivered":N,"dropped":{"slow_consumer":N,"closed":N}}.
std::string render_status_json(const status_identity& who, const bus_snapshot& bus,
                               const std::vector<status_sample>& samples);

}  // namespace herald::metrics
