#pragma once
// One io_context and its thread inside a worker process, owning a share of the
// worker's connections: it ramps them up (a bounded number of opens in flight), keeps
// them reading, and in the churn scenario closes and reopens them at a fixed rate.
//
// Thread contract: shard-local. The public begin_*()/end_churn() functions may be
// called from any thread: they post to the shard. stats() counters may be read from
// any thread; everything else in stats() only after stop_and_join().
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "shard_stats.hpp"
#include "client_connection.hpp"

namespace herald_bench {

class client_shard {
 public:
  // on_ramped(done_ns) is called on the shard's thread once every assigned connection
  // has opened or failed to. configs holds one entry per target (--targets); connection
  // i uses configs[target_of_connection(i, configs.size())]. It must outlive the shard.
  client_shard(const std::vector<connection_config>& configs, std::vector<std::uint64_t> indices,
               int ramp_lanes, std::size_t tracked_messages,
               std::function<void(std::int64_t)> on_ramped);
  ~client_shard();

  void start();
  void begin_ramp();
  void begin_churn(double reconnects_per_second);
  void end_churn();
  void stop_and_join();

  const shard_stats& stats() const { return stats_; }

 private:
  boost::asio::awaitable<void> ramp_lane();
  boost::asio::awaitable<void> churn_loop(double per_second);
  boost::asio::awaitable<void> reopen(std::size_t slot);
  void spawn(boost::asio::awaitable<void> task);
  void note_settled();
  const connection_config& config_for(std::uint64_t index) const;

  boost::asio::io_context ctx_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  const std::vector<connection_config>& configs_;
  std::vector<std::uint64_t> indices_;
  std::vector<std::shared_ptr<client_connection>> slots_;
  int ramp_lanes_;
  std::size_t next_to_open_ = 0;
  std::size_t settled_ = 0;
  bool churning_ = false;
  std::uint64_t churn_generation_ = 0;
  shard_stats stats_;
  std::function<void(std::int64_t)> on_ramped_;
};

}  // namespace herald_bench
