#include "worker.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <iostream>

#include "server_probe.hpp"
#include "workload.hpp"

namespace herald_bench {

namespace asio = boost::asio;

worker::worker(const bench_options& options) : options_(options), slice_(*options.slice) {
  for (const auto& target : options.targets) {
    connection_config config;
    config.server = {asio::ip::make_address(target.host), target.port};
    if (!slice_.source_address.empty()) config.source = asio::ip::make_address(slice_.source_address);
    config.host_header = target.authority();
    config.path = target.target;
    config.open_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.open_timeout_s * 1000));
    config.options = &options_;
    configs_.push_back(std::move(config));
  }
  build_shards();
}

worker::~worker() {
  for (auto& s : shards_) s->stop_and_join();
}

// Connections are dealt round-robin so each shard gets an even share of every user.
void worker::build_shards() {
  const auto count = static_cast<std::size_t>(options_.client_threads);
  std::vector<std::vector<std::uint64_t>> indices(count);
  for (std::uint64_t i = 0; i < slice_.count; ++i) indices[i % count].push_back(slice_.begin + i);
  const int lanes = (options_.ramp_concurrency + options_.client_threads - 1) / options_.client_threads;
  // Per-message arrays (who got message i, and how late the last one) for one-to-many.
  const bool one_to_many = options_.kind == scenario::fanout || (options_.held() && !options_.memory_only);
  const std::size_t tracked = one_to_many ? measured_push_count(options_) : 0;
  for (auto& slice_indices : indices) {
    shards_.push_back(std::make_unique<client_shard>(
        configs_, std::move(slice_indices), lanes, tracked,
        [this](std::int64_t done_ns) { asio::post(control_, [this, done_ns] { on_shard_ramped(done_ns); }); }));
  }
}

int worker::run() {
  for (auto& s : shards_) s->start();
  asio::co_spawn(control_, read_commands(), asio::detached);
  asio::co_spawn(control_, report_progress(), asio::detached);
  emit("hello");
  control_.run();
  return 0;
}

void worker::emit(const std::string& line) {
  const std::string text = line + "\n";
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

asio::awaitable<void> worker::read_commands() {
  asio::posix::stream_descriptor in(control_, ::dup(STDIN_FILENO));
  asio::streambuf buf;
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(in, buf, '\n', asio::as_tuple(asio::use_awaitable));
    if (ec) break;  // the coordinator is gone: nothing left to do
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n - 1);
    buf.consume(n);
    handle(line);
    if (finished_) co_return;
  }
  if (!finished_) std::_Exit(3);
}

void worker::handle(const std::string& command) {
  if (command == "ramp") {
    for (auto& s : shards_) s->begin_ramp();
  } else if (command.starts_with("churn ")) {
    const double total = std::stod(command.substr(6));
    for (auto& s : shards_) s->begin_churn(total / static_cast<double>(shards_.size()));
  } else if (command == "stop_churn") {
    for (auto& s : shards_) s->end_churn();
  } else if (command == "finish") {
    finish();
  } else {
    std::cerr << "herald-bench worker " << slice_.index << ": unknown command '" << command << "'\n";
  }
}

void worker::on_shard_ramped(std::int64_t done_ns) {
  ramp_done_ns_ = std::max(ramp_done_ns_, done_ns);
  if (++ramped_shards_ == shards_.size()) {
    auto r = snapshot();
    r.ramp_done_ns = ramp_done_ns_;
    r.rss_bytes = read_process_rss_bytes(::getpid()).value_or(0);
    emit("ramped " + to_json(r, false));
  }
}

asio::awaitable<void> worker::report_progress() {
  asio::steady_timer timer(control_);
  while (!finished_) {
    timer.expires_after(std::chrono::milliseconds(200));
    co_await timer.async_wait(asio::use_awaitable);
    if (!finished_) emit("progress " + to_json(snapshot(), false));
  }
}

worker_result worker::snapshot() const {
  worker_result r;
  r.worker = slice_.index;
  for (const auto& s : shards_) s->stats().add_progress_to(r);
  return r;
}

void worker::finish() {
  finished_ = true;
  for (auto& s : shards_) s->stop_and_join();
  auto r = snapshot();
  r.ramp_done_ns = ramp_done_ns_;
  for (const auto& s : shards_) s->stats().add_detail_to(r);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.cpu_us = static_cast<std::uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000 +
             static_cast<std::uint64_t>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  emit("result " + to_json(r, true));
  control_.stop();
}

}  // namespace herald_bench
