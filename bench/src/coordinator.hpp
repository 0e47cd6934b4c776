#pragma once
// The coordinator process: starts the worker processes, drives the phases of the
// chosen scenario, samples the server (/proc and /metrics) around the measured phase,
// sends the pushes, merges the workers' results and writes the report.
//
// Phases: start workers -> baseline sample -> ramp (longpoll/sse: until the server
// holds every request) -> scenario (idle hold, pushes, or churn with pushes) -> finish
// workers -> wait for the server's open-connection count (longpoll/sse: its held
// requests) to return to its baseline -> report. Every wait is bounded; a phase that fails is
// recorded as a failure and the run still ends with a report.
//
// Thread contract: everything runs on the coordinator's single io_context thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "options.hpp"
#include "push_driver.hpp"
#include "report.hpp"
#include "worker_process.hpp"
#include "worker_result.hpp"

namespace herald_bench {

class coordinator {
 public:
  using condition = std::function<bool()>;
  using progress_text = std::function<std::string()>;

  explicit coordinator(const bench_options& options);
  ~coordinator();

  // Runs the whole scenario; returns the process exit code (0 ok, 2 failures).
  int run();

 private:
  struct worker_state {
    std::unique_ptr<worker_process> process;
    std::uint64_t slice_count = 0;
    bool hello = false, ramped = false, has_result = false, ended = false;
    worker_result progress, ramp, result;
  };

  boost::asio::awaitable<void> flow();
  boost::asio::awaitable<bool> start_workers();
  boost::asio::awaitable<void> read_worker(worker_state& w);
  void on_worker_line(worker_state& w, const std::string& line);
  boost::asio::awaitable<bool> ramp();
  boost::asio::awaitable<void> wait_until_held();
  boost::asio::awaitable<void> idle_hold();
  boost::asio::awaitable<void> push_phase();
  boost::asio::awaitable<void> churn_phase();
  boost::asio::awaitable<void> run_pushes(push_summary& summary, std::uint64_t count, bool warmup);
  boost::asio::awaitable<void> finish_workers();
  boost::asio::awaitable<void> settle();
  boost::asio::awaitable<server_sample> sample_server();
  // Polls `done` every 20 ms until it holds (true) or timeout_s passes (false),
  // printing progress() to stderr once a second when it is set.
  boost::asio::awaitable<bool> wait_until(const condition& done, double timeout_s,
                                          const progress_text& progress);
  boost::asio::awaitable<void> sleep_for(double seconds, const progress_text& progress);
  worker_result progress_total() const;
  void broadcast(const std::string& command);
  void write_report();

  const bench_options& options_;
  boost::asio::io_context ctx_{1};
  std::vector<std::unique_ptr<worker_state>> workers_;
  std::unique_ptr<push_driver> pusher_;
  run_report report_;
};

}  // namespace herald_bench
