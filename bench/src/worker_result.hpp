#pragma once
// What a worker process reports to the coordinator, and the line format that carries it.
//
// A worker writes lines on stdout: "hello", "progress <json>", "ramped <json>" and
// finally "result <json>". Progress and ramped lines carry the counters only; the
// result line adds the latency histogram and, for fanout, per-message arrays.
// Counters are totals since the worker started.
//
// Thread contract: plain value type; parse_worker_result() is a pure function.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"

namespace herald_bench {

struct worker_result {
  int worker = 0;
  std::uint64_t opened = 0;            // connections that finished register (ramp + churn)
  std::uint64_t open_failed = 0;       // connect, upgrade, register or timeout failures
  std::uint64_t unexpected_closes = 0; // open connections the server (or network) ended
  std::uint64_t received = 0;          // stamped measured messages
  std::uint64_t received_warmup = 0;
  std::uint64_t unparsed = 0;          // frames without a stamp (other than acks)
  std::uint64_t churn_opens = 0;
  std::uint64_t churn_closes = 0;
  std::uint64_t internal_errors = 0;   // exceptions in harness coroutines
  std::uint64_t duplicates = 0;        // longpoll/sse: messages a client had already seen
  std::uint64_t unrecovered = 0;       // longpoll/sse: answers saying our position was lost
  std::int64_t ramp_done_ns = 0;       // CLOCK_MONOTONIC when the last ramp open finished
  std::uint64_t cpu_us = 0;            // the worker's own user+sys CPU
  std::uint64_t rss_bytes = 0;         // the worker's own VmRSS when its ramp finished
  std::string first_error;
  histogram latency;                   // per delivery, ns from intended send time
  std::vector<std::int64_t> seq_max_ns;   // fanout: slowest receiver per message
  std::vector<std::uint32_t> seq_count;   // fanout: receivers per message

  // Adds another worker's figures (counters summed, histograms merged, per-message
  // arrays combined by max / sum).
  void merge(const worker_result& other);
};

std::string to_json(const worker_result& r, bool with_detail);

std::optional<worker_result> parse_worker_result(std::string_view json, std::string& error);

}  // namespace herald_bench
