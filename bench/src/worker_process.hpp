#pragma once
// A worker child process as seen by the coordinator: started with posix_spawn, its
// stdin and stdout connected to pipes, its stderr shared with ours.
//
// read_line() returns nullopt at end of output (the child exited or closed stdout).
// send() writes one command line; a failed write (child gone) is ignored because the
// reader will see the end of output. wait() reaps the child and returns its exit code
// (128 + signal when it was killed).
//
// Thread contract: shard-local to the coordinator's io_context thread.
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/streambuf.hpp>

namespace herald_bench {

class worker_process {
 public:
  worker_process(boost::asio::io_context& ctx, const std::vector<std::string>& argv);
  ~worker_process();
  worker_process(const worker_process&) = delete;
  worker_process& operator=(const worker_process&) = delete;

  boost::asio::awaitable<std::optional<std::string>> read_line();
  void send(std::string_view line);
  int wait();
  void kill_now();
  pid_t pid() const { return pid_; }

 private:
  boost::asio::posix::stream_descriptor out_;
  boost::asio::streambuf buffer_;
  int in_fd_ = -1;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace herald_bench
