#include "coordinator.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http_client.hpp"
#include "payload.hpp"
#include "server_probe.hpp"
#include "workload.hpp"

namespace herald_bench {

namespace asio = boost::asio;

namespace {

// g++ 12 mishandles temporaries with destructors inside co_await expressions (double
// destruction), so callbacks are named locals passed by reference.
const coordinator::progress_text no_progress;

double cpu_seconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The sum over `pids` of reader(pid); nullopt when there is none or one is unreadable.
std::optional<std::uint64_t> sum_over_pids(const std::vector<pid_t>& pids,
                                           std::optional<std::uint64_t> (*reader)(pid_t)) {
  if (pids.empty()) return std::nullopt;
  std::uint64_t total = 0;
  for (const auto pid : pids) {
    const auto v = reader(pid);
    if (!v) return std::nullopt;
    total += *v;
  }
  return total;
}

// Adds one node's scrape to the fleet's sum (the first scrape starts it).
void add_metrics(server_sample& total, const server_sample& one, bool first) {
  auto add = [first](std::optional<double>& t, const std::optional<double>& v) {
    if (first) t = v;
    else if (t && v) *t += *v;
    else t.reset();
  };
  add(total.connections_open, one.connections_open);
  add(total.delivered_total, one.delivered_total);
  add(total.accepted_total, one.accepted_total);
  add(total.slow_consumer_closes, one.slow_consumer_closes);
  add(total.messages_dropped, one.messages_dropped);
  add(total.held_requests, one.held_requests);
}

std::string fmt(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, a, b, c, d);
  return buf;
}

}  // namespace

coordinator::coordinator(const bench_options& options) : options_(options) {}

coordinator::~coordinator() = default;

int coordinator::run() {
  asio::co_spawn(ctx_, flow(), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        report_.failures.push_back(std::string{"harness error: "} + ex.what());
      }
    }
    // Ends the worker readers still waiting, so ctx_.run() can return.
    for (auto& w : workers_) w->process->kill_now();
  });
  ctx_.run();
  for (auto& w : workers_) report_.worker_exit_codes.push_back(w->process->wait());
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  report_.coordinator_cpu_s = cpu_seconds(self);
  report_.workers_cpu_s = cpu_seconds(children);
  evaluate(report_, options_);
  write_report();
  return report_.failures.empty() ? 0 : 2;
}

// No co_await inside switch or if-conditions here: g++ 12 miscompiles some of those.
asio::awaitable<void> coordinator::flow() {
  const bool started = co_await start_workers();
  if (started) {
    report_.baseline = co_await sample_server();
    const bool ramped = co_await ramp();
    if (ramped && options_.kind == scenario::idle) co_await idle_hold();
    if (ramped && options_.kind == scenario::churn) co_await churn_phase();
    const bool pushes = options_.kind == scenario::unicast || options_.kind == scenario::fanout ||
                        (options_.held() && !options_.memory_only);
    if (ramped && pushes) co_await push_phase();
  }
  co_await finish_workers();
  co_await settle();
}

// Worker w owns connections [w*N/K, (w+1)*N/K) and binds its own source address, so
// neither the per-process fd cap nor the per-address-pair port range is hit.
asio::awaitable<bool> coordinator::start_workers() {
  const auto n = options_.connections;
  const auto k = static_cast<std::uint64_t>(options_.workers);
  for (std::uint64_t w = 0; w < k; ++w) {
    const auto begin = w * n / k, end = (w + 1) * n / k;
    const auto& source = options_.source_addresses[w % options_.source_addresses.size()];
    auto argv = options_.argv;
    argv.push_back("--worker-slice");
    argv.push_back(std::to_string(w) + ":" + std::to_string(begin) + ":" + std::to_string(end - begin) + ":" + source);
    auto state = std::make_unique<worker_state>();
    state->process = std::make_unique<worker_process>(ctx_, argv);
    state->slice_count = end - begin;
    workers_.push_back(std::move(state));
    asio::co_spawn(ctx_, read_worker(*workers_.back()), asio::detached);
  }
  const condition all_hello = [this] {
    for (auto& w : workers_) if (!w->hello) return false;
    return true;
  };
  const progress_text waiting = [] { return std::string{"[start] waiting for workers"}; };
  const bool ok = co_await wait_until(all_hello, 15, waiting);
  if (!ok) report_.failures.push_back("workers did not start within 15 s");
  co_return ok;
}

asio::awaitable<void> coordinator::read_worker(worker_state& w) {
  for (;;) {
    const auto line = co_await w.process->read_line();
    if (!line) break;
    on_worker_line(w, *line);
  }
  w.ended = true;
}

void coordinator::on_worker_line(worker_state& w, const std::string& line) {
  const auto space = line.find(' ');
  const std::string kind = line.substr(0, space);
  if (kind == "hello") {
    w.hello = true;
    return;
  }
  std::string error;
  auto parsed = parse_worker_result(space == std::string::npos ? "" : line.substr(space + 1), error);
  if (!parsed) {
    report_.failures.push_back("unreadable worker line '" + line.substr(0, 80) + "': " + error);
    return;
  }
  w.progress = *parsed;
  if (kind == "ramped") {
    w.ramp = *parsed;
    w.ramped = true;
  } else if (kind == "result") {
    w.result = std::move(*parsed);
    w.has_result = true;
  }
}

worker_result coordinator::progress_total() const {
  worker_result total;
  for (const auto& w : workers_) total.merge(w->progress);
  return total;
}

void coordinator::broadcast(const std::string& command) {
  for (auto& w : workers_) w->process->send(command);
}

asio::awaitable<bool> coordinator::ramp() {
  report_.ramp_start_ns = monotonic_ns();
  broadcast("ramp");
  const double limit = std::max(30.0, 2 * options_.open_timeout_s + static_cast<double>(options_.connections) / 1000);
  const auto start = report_.ramp_start_ns;
  const condition all_ramped = [this] {
    for (auto& w : workers_) if (!w->ramped) return false;
    return true;
  };
  const progress_text text = [this, start] {
    const auto p = progress_total();
    const double s = static_cast<double>(monotonic_ns() - start) / 1e9;
    return fmt("[ramp] %.0f open, %.0f failed, %.0f conn/s", static_cast<double>(p.opened),
               static_cast<double>(p.open_failed), static_cast<double>(p.opened) / s);
  };
  const bool ok = co_await wait_until(all_ramped, limit, text);
  for (auto& w : workers_) report_.at_ramp.merge(w->ramped ? w->ramp : w->progress);
  if (!ok) {
    report_.failures.push_back(fmt("ramp did not finish within %.0f s", limit));
    report_.at_ramp.ramp_done_ns = monotonic_ns();
  }
  if (ok && options_.held()) co_await wait_until_held();
  report_.after_ramp = co_await sample_server();
  co_return ok;
}

// A client knows its request was written, not that the server holds it: the memory
// figure is read only once herald_held_requests counts every one.
asio::awaitable<void> coordinator::wait_until_held() {
  const auto start = monotonic_ns();
  const auto deadline = start + static_cast<std::int64_t>(std::max(10.0, options_.open_timeout_s) * 1e9);
  const double base = report_.baseline.held_requests.value_or(0);
  const double wanted = base + static_cast<double>(report_.at_ramp.opened);
  asio::steady_timer timer(ctx_);
  auto next_print = start + 1'000'000'000;
  for (;;) {
    const auto s = co_await sample_server();
    if (!s.held_requests) co_return;  // no metrics: reported as a warning
    if (*s.held_requests >= wanted) {
      report_.all_held = true;
      break;
    }
    const auto now = monotonic_ns();
    if (now > deadline) break;
    if (now >= next_print) {
      std::cerr << "[herald-bench] [hold] server holds " << *s.held_requests - base << " of "
                << report_.at_ramp.opened << std::endl;
      next_print += 1'000'000'000;
    }
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  report_.hold_wait_s = static_cast<double>(monotonic_ns() - start) / 1e9;
}

asio::awaitable<void> coordinator::idle_hold() {
  report_.measure_start = co_await sample_server();
  const progress_text text = [this] {
    const auto p = progress_total();
    return fmt("[idle] holding %.0f connections, %.0f unexpected closes", static_cast<double>(p.opened),
               static_cast<double>(p.unexpected_closes));
  };
  co_await sleep_for(options_.duration_s, text);
  report_.measure_end = co_await sample_server();
}

asio::awaitable<void> coordinator::push_phase() {
  pusher_ = std::make_unique<push_driver>(ctx_.get_executor(), options_);
  if (const auto warm = warmup_push_count(options_); warm > 0) {
    co_await run_pushes(report_.warmup, warm, true);
    co_await sleep_for(0.2, no_progress);  // let warm-up deliveries drain before measuring
  }
  const auto count = measured_push_count(options_);
  report_.expected_deliveries = expected_deliveries(options_, count);
  report_.measure_start = co_await sample_server();
  co_await run_pushes(report_.pushes, count, false);
  const auto expected = report_.expected_deliveries;
  const condition all_delivered = [this, expected] { return progress_total().received >= expected; };
  const progress_text text = [this, expected] {
    return fmt("[drain] %.0f of %.0f delivered", static_cast<double>(progress_total().received),
               static_cast<double>(expected));
  };
  co_await wait_until(all_delivered, options_.drain_timeout_s, text);
  report_.measure_end = co_await sample_server();
  pusher_->close();
}

asio::awaitable<void> coordinator::churn_phase() {
  pusher_ = std::make_unique<push_driver>(ctx_.get_executor(), options_);
  report_.measure_start = co_await sample_server();
  for (auto& w : workers_) {
    const double share = static_cast<double>(w->slice_count) / static_cast<double>(options_.connections);
    w->process->send(fmt("churn %.6f", options_.churn_rate * share));
  }
  const auto count = measured_push_count(options_);
  co_await run_pushes(report_.pushes, count, false);
  broadcast("stop_churn");
  co_await sleep_for(1.0, no_progress);  // reopens already started finish their register
  report_.measure_end = co_await sample_server();
  pusher_->close();
}

asio::awaitable<void> coordinator::run_pushes(push_summary& summary, std::uint64_t count, bool warmup) {
  push_window window{monotonic_ns() + 20'000'000, count, warmup};
  summary.count = count;
  summary.start_ns = window.start_ns;
  // Shared, not on this frame: the driver may outlive a timed-out wait below.
  auto state = std::make_shared<std::pair<bool, push_outcome>>();
  auto& outcome = state->second;
  asio::co_spawn(ctx_, pusher_->run(window), [state](std::exception_ptr e, push_outcome o) {
    state->second = std::move(o);
    if (e) state->second.first_error = "push driver crashed";
    state->first = true;
  });
  const double planned_s = static_cast<double>(count) / options_.effective_rate();
  const std::string label = warmup ? "[warmup]" : options_.kind == scenario::churn ? "[churn]" : "[push]";
  const condition finished = [state] { return state->first; };
  const progress_text text = [this, count, label] {
    const auto p = progress_total();
    return label + fmt(" %.0f/%.0f pushes answered, %.0f delivered, %.0f reconnects",
                       static_cast<double>(pusher_->replies()), static_cast<double>(count),
                       static_cast<double>(p.received), static_cast<double>(p.churn_opens));
  };
  const bool in_time = co_await wait_until(finished, planned_s + 30, text);
  if (!in_time) {
    report_.failures.push_back("pushes did not finish in time: server too slow for the requested rate");
    pusher_->stop();
    co_await wait_until(finished, 60, no_progress);
  }
  summary.sent = outcome.sent;
  summary.ok = outcome.ok;
  summary.failed = outcome.failed;
  summary.server_recipients = outcome.server_recipients;
  summary.count_mismatches = outcome.count_mismatches;
  summary.count_short = outcome.count_short;
  summary.partial_replies = outcome.partial_replies;
  summary.first_mismatch = outcome.first_mismatch;
  summary.end_ns = outcome.end_ns ? outcome.end_ns : monotonic_ns();
  summary.send_lag = outcome.send_lag;
  summary.reply_time = outcome.reply_time;
  summary.first_error = outcome.first_error;
}

asio::awaitable<void> coordinator::finish_workers() {
  broadcast("finish");
  const condition all_results = [this] {
    for (auto& w : workers_) if (!w->has_result && !w->ended) return false;
    return true;
  };
  const condition all_ended = [this] {
    for (auto& w : workers_) if (!w->ended) return false;
    return true;
  };
  const progress_text text = [] { return std::string{"[finish] collecting results"}; };
  co_await wait_until(all_results, 60, text);
  // A worker exits right after its result; its output then ends.
  co_await wait_until(all_ended, 10, no_progress);
  for (auto& w : workers_) {
    if (!w->has_result) {
      report_.failures.push_back("worker " + std::to_string(w->progress.worker) + " sent no result");
      report_.clients.merge(w->progress);
    } else {
      report_.clients.merge(w->result);
    }
    w->process->kill_now();  // no-op for workers that already exited
  }
  co_await wait_until(all_ended, 5, no_progress);
}

// Closing every client must bring the server back to the connection count (longpoll,
// sse: held requests) it had before the run; anything else is a leak (or a very slow
// close path).
asio::awaitable<void> coordinator::settle() {
  const auto deadline = monotonic_ns() + static_cast<std::int64_t>(options_.settle_timeout_s * 1e9);
  asio::steady_timer timer(ctx_);
  for (;;) {
    report_.after_close = co_await sample_server();
    const bool held = options_.held();
    const auto now_open = held ? report_.after_close.held_requests : report_.after_close.connections_open;
    const auto base = held ? report_.baseline.held_requests : report_.baseline.connections_open;
    if (!now_open || !base) break;
    if (*now_open == *base) {
      report_.settled = true;
      break;
    }
    if (monotonic_ns() > deadline) break;
    timer.expires_after(std::chrono::milliseconds(200));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<server_sample> coordinator::sample_server() {
  server_sample s;
  s.at_ns = monotonic_ns();
  s.cpu_us = sum_over_pids(options_.server_pids, read_process_cpu_us);
  s.rss_bytes = sum_over_pids(options_.server_pids, read_process_rss_bytes);
  for (const auto pid : options_.server_pids) s.cpu_us_each.push_back(read_process_cpu_us(pid));
  if (!options_.extra_pids.empty()) s.extra_cpu_us = sum_over_pids(options_.extra_pids, read_process_cpu_us);
  // Every node's /metrics, summed; a figure stays unavailable unless every node has it.
  bool first = true;
  for (const auto& metrics : options_.metrics_urls) {
    // A fresh connection per scrape, closed right after, so the scrape itself never
    // shows up as a leaked connection.
    http_client client(ctx_.get_executor(), metrics);
    const auto reply = co_await client.get(metrics.target);
    client.close();
    if (!reply.ok || reply.status != 200) {
      s.connections_open = s.delivered_total = s.accepted_total = std::nullopt;
      s.slow_consumer_closes = s.messages_dropped = s.held_requests = std::nullopt;
      co_return s;
    }
    server_sample one;
    one.connections_open = prometheus_sum(reply.body, "herald_connections_open");
    one.delivered_total = prometheus_sum(reply.body, "herald_messages_delivered_total");
    one.accepted_total = prometheus_sum(reply.body, "herald_connections_accepted_total");
    // Both spellings: the documented counter and Herald's closed-by-reason family.
    one.slow_consumer_closes = prometheus_sum(reply.body, "herald_slow_consumer_closes_total");
    if (!one.slow_consumer_closes)
      one.slow_consumer_closes = prometheus_sum(reply.body, "herald_connections_closed_total", "reason=\"slow_consumer\"");
    one.messages_dropped = prometheus_sum(reply.body, "herald_messages_dropped_total");
    if (options_.held()) {
      const auto kind = options_.kind == scenario::sse ? "kind=\"sse\"" : "kind=\"poll\"";
      one.held_requests = prometheus_sum(reply.body, "herald_held_requests", kind);
    }
    add_metrics(s, one, first);
    first = false;
  }
  co_return s;
}

asio::awaitable<bool> coordinator::wait_until(const condition& done, double timeout_s,
                                              const progress_text& progress) {
  const auto start = monotonic_ns();
  const auto deadline = start + static_cast<std::int64_t>(timeout_s * 1e9);
  auto next_print = start + 1'000'000'000;
  asio::steady_timer timer(ctx_);
  while (!done()) {
    const auto now = monotonic_ns();
    if (now > deadline) co_return false;
    if (progress && now >= next_print) {
      std::cerr << "[herald-bench] " << progress() << std::endl;
      next_print += 1'000'000'000;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return true;
}

asio::awaitable<void> coordinator::sleep_for(double seconds, const progress_text& progress) {
  const auto until = monotonic_ns() + static_cast<std::int64_t>(seconds * 1e9);
  const condition elapsed = [until] { return monotonic_ns() >= until; };
  co_await wait_until(elapsed, seconds + 1, progress);
}

void coordinator::write_report() {
  const auto json = render_report(report_, options_);
  std::cout << json << std::endl;
  if (!options_.out_path.empty()) {
    std::ofstream out(options_.out_path);
    out << json << "\n";
    if (!out) std::cerr << "[herald-bench] cannot write " << options_.out_path << "\n";
  }
  std::cerr << summary_text(report_, options_);
}

}  // namespace herald_bench
