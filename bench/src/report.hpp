#pragma once
// The run's raw observations, the figures derived from them, the pass/fail checks,
// and the JSON report written at the end of every run.
//
// The coordinator fills run_report with samples and counts; evaluate() turns them into
// figures and failures (a delivered count below the expected one, connections that did
// not open, leaked connections ...). Failures are listed in the report, never hidden.
//
// Thread contract: plain data and pure functions, used on the coordinator's thread.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "options.hpp"
#include "worker_result.hpp"

namespace herald_bench {

// What the server looked like at one instant (each field nullopt when unavailable).
struct server_sample {
  std::int64_t at_ns = 0;
  std::optional<std::uint64_t> cpu_us;     // summed over --server-pids (nullopt if one is unreadable)
  std::optional<std::uint64_t> rss_bytes;  // summed likewise
  std::vector<std::optional<std::uint64_t>> cpu_us_each;  // per server pid, in --server-pids order
  std::optional<std::uint64_t> extra_cpu_us;              // summed over --extra-pids
  std::optional<double> connections_open;
  std::optional<double> delivered_total;
  std::optional<double> accepted_total;
  std::optional<double> slow_consumer_closes;
  std::optional<double> messages_dropped;
  std::optional<double> held_requests;  // longpoll/sse: herald_held_requests of that kind
};

struct push_summary {
  std::uint64_t count = 0, sent = 0, ok = 0, failed = 0, server_recipients = 0;
  std::uint64_t count_mismatches = 0, count_short = 0, partial_replies = 0;
  std::string first_mismatch;
  std::int64_t start_ns = 0, end_ns = 0;
  histogram send_lag, reply_time;
  std::string first_error;
};

struct run_report {
  server_sample baseline, after_ramp, measure_start, measure_end, after_close;
  std::int64_t ramp_start_ns = 0;
  worker_result at_ramp;   // worker counters when the ramp finished
  worker_result clients;   // final merged worker results
  push_summary warmup, pushes;
  std::uint64_t expected_deliveries = 0;
  bool settled = false;    // connections_open (longpoll/sse: held requests) back at the baseline
  bool all_held = false;   // longpoll/sse: the server held every request after the ramp
  double hold_wait_s = 0;  // longpoll/sse: ramped by the clients -> held by the server
  double coordinator_cpu_s = 0, workers_cpu_s = 0;
  std::vector<int> worker_exit_codes;
  std::vector<std::string> failures, warnings;

  // Filled by evaluate():
  std::map<std::string, std::optional<double>> figures;
  histogram last_receiver;  // fanout: slowest receiver of each message
  std::uint64_t incomplete_messages = 0;
};

// Derives figures and adds failures/warnings from the raw observations.
void evaluate(run_report& r, const bench_options& o);

// The full JSON document (one line).
std::string render_report(const run_report& r, const bench_options& o);

// A few human-readable lines for stderr.
std::string summary_text(const run_report& r, const bench_options& o);

}  // namespace herald_bench
