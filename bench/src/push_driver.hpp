#pragma once
// Sends pushes on a fixed schedule over several keep-alive HTTP connections.
//
// Push i of a window is *intended* at start_ns + i / rate and carries that time in its
// payload; receivers measure latency from it, which corrects coordinated omission: a
// stalled request delays later sends, and that delay shows up in the latency instead
// of silently thinning the load. Lanes (one per connection) take the next push index
// when free, so one slow reply does not stall the schedule while others are idle.
//
// Thread contract: shard-local to the executor it was made with (the coordinator's
// single thread).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "histogram.hpp"
#include "http_client.hpp"
#include "options.hpp"

namespace herald_bench {

struct push_window {
  std::int64_t start_ns = 0;  // CLOCK_MONOTONIC of push 0
  std::uint64_t count = 0;
  bool warmup = false;
};

struct push_outcome {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;                 // 2xx replies
  std::uint64_t failed = 0;             // transport errors and non-2xx replies
  std::uint64_t server_recipients = 0;  // sum of N in the replies
  std::uint64_t count_mismatches = 0;   // 2xx replies whose N differs from the push's expected recipients
  std::uint64_t count_short = 0;        // ... of them, N below it
  std::uint64_t partial_replies = 0;    // 2xx replies saying "partial":true (a fleet node did not report)
  std::string first_mismatch;           // e.g. "push 12: 4000 of 5000"

  histogram send_lag;                   // actual send time - intended send time (ns)
  histogram reply_time;                 // request written -> reply read (ns)
  std::string first_error;
  std::int64_t end_ns = 0;              // when the last reply arrived
};

class push_driver {
 public:
  push_driver(boost::asio::any_io_executor executor, const bench_options& options);

  boost::asio::awaitable<push_outcome> run(push_window window);
  std::uint64_t replies() const { return replies_; }  // of the running window
  void close();
  // Sends nothing more and aborts the requests in flight; run() then completes.
  void stop();

 private:
  boost::asio::awaitable<void> lane(http_client& client, const push_window& window,
                                    push_outcome& out);
  void record(const http_reply& reply, std::uint64_t seq, push_outcome& out);

  boost::asio::any_io_executor executor_;
  const bench_options& options_;
  std::vector<std::unique_ptr<http_client>> clients_;
  double period_ns_;
  std::uint64_t next_ = 0;
  std::uint64_t replies_ = 0;
  std::size_t running_ = 0;
  bool stopped_ = false;
  std::unique_ptr<boost::asio::steady_timer> all_done_;
};

}  // namespace herald_bench
