#pragma once
// A worker process: holds one slice of the run's connections, spread over
// --client-threads client_shards, and obeys the coordinator's commands on stdin.
//
// Protocol (one line each): commands "ramp", "churn <per second>", "stop_churn",
// "finish" on stdin; reports "hello", "progress <json>", "ramped <json>",
// "result <json>" on stdout (see worker_result.hpp). End of stdin means the
// coordinator is gone: the worker exits at once.
//
// Thread contract: the worker object lives on the process's main thread, which runs
// the control io_context; shards run on their own threads and post back to it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "client_shard.hpp"
#include "options.hpp"

namespace herald_bench {

class worker {
 public:
  explicit worker(const bench_options& options);
  ~worker();
  int run();

 private:
  void build_shards();
  boost::asio::awaitable<void> read_commands();
  boost::asio::awaitable<void> report_progress();
  void handle(const std::string& command);
  void on_shard_ramped(std::int64_t done_ns);
  void finish();
  worker_result snapshot() const;
  static void emit(const std::string& line);

  const bench_options& options_;
  worker_slice slice_;
  boost::asio::io_context control_{1};
  std::vector<connection_config> configs_;  // one per target, built before the shards
  std::vector<std::unique_ptr<client_shard>> shards_;
  std::size_t ramped_shards_ = 0;
  std::int64_t ramp_done_ns_ = 0;
  bool finished_ = false;
};

}  // namespace herald_bench
