#include "report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "json_writer.hpp"

#ifndef HERALD_BENCH_SOURCE_DIR
#define HERALD_BENCH_SOURCE_DIR "."
#endif

namespace herald_bench {
namespace {

using maybe = std::optional<double>;

maybe diff(std::optional<std::uint64_t> later, std::optional<std::uint64_t> earlier) {
  if (!later || !earlier) return std::nullopt;
  return static_cast<double>(*later) - static_cast<double>(*earlier);
}

maybe diff(maybe later, maybe earlier) {
  if (!later || !earlier) return std::nullopt;
  return *later - *earlier;
}

maybe per(maybe amount, double divisor) {
  if (!amount || divisor <= 0) return std::nullopt;
  return *amount / divisor;
}

double seconds(std::int64_t from_ns, std::int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e9;
}

bool is_push_scenario(const bench_options& o) {
  return o.kind == scenario::unicast || o.kind == scenario::fanout || (o.held() && !o.memory_only);
}

// Figures of the held-request scenarios carry their own names, so a reader cannot take
// a waiting poll for a WebSocket connection.
const char* held_memory_figure(const bench_options& o) {
  return o.kind == scenario::sse ? "server_rss_bytes_per_sse_stream" : "server_rss_bytes_per_waiting_poll";
}

void ramp_figures(run_report& r) {
  const auto opened = static_cast<double>(r.at_ramp.opened);
  const double ramp_s = seconds(r.ramp_start_ns, r.at_ramp.ramp_done_ns);
  auto& f = r.figures;
  f["ramp_seconds"] = ramp_s;
  f["ramp_conns_per_s"] = per(opened, ramp_s);
  f["server_rss_bytes_per_conn"] = per(diff(r.after_ramp.rss_bytes, r.baseline.rss_bytes), opened);
  f["server_cpu_us_per_connect"] = per(diff(r.after_ramp.cpu_us, r.baseline.cpu_us), opened);
  f["server_rss_bytes_baseline"] = r.baseline.rss_bytes ? maybe(*r.baseline.rss_bytes) : std::nullopt;
  f["server_rss_bytes_after_ramp"] = r.after_ramp.rss_bytes ? maybe(*r.after_ramp.rss_bytes) : std::nullopt;
  f["server_connections_open_after_ramp"] = r.after_ramp.connections_open;
  // Includes each worker process's fixed overhead (a few MiB), so an upper bound.
  f["client_rss_bytes_per_conn"] = per(static_cast<double>(r.at_ramp.rss_bytes), opened);
}

void held_figures(run_report& r, const bench_options& o) {
  auto& f = r.figures;
  const auto held = diff(r.after_ramp.held_requests, r.baseline.held_requests);
  f["server_held_requests_after_ramp"] = held;
  f["hold_wait_seconds"] = r.hold_wait_s;
  // Divided by what the server holds (it equals the clients' count when all_held).
  f[held_memory_figure(o)] = per(diff(r.after_ramp.rss_bytes, r.baseline.rss_bytes), held.value_or(0));
  f["held_requests_leaked"] = diff(r.after_close.held_requests, r.baseline.held_requests);
  f["duplicate_deliveries"] = static_cast<double>(r.clients.duplicates);
  f["unrecovered_answers"] = static_cast<double>(r.clients.unrecovered);
}

void idle_figures(run_report& r) {
  const auto opened = static_cast<double>(r.at_ramp.opened);
  const double hold_s = seconds(r.measure_start.at_ns, r.measure_end.at_ns);
  auto& f = r.figures;
  f["hold_seconds"] = hold_s;
  f["server_cpu_us_per_conn_per_s"] =
      per(diff(r.measure_end.cpu_us, r.measure_start.cpu_us), opened * hold_s);
  f["server_rss_bytes_per_conn_after_hold"] =
      per(diff(r.measure_end.rss_bytes, r.baseline.rss_bytes), opened);
  if (r.measure_start.extra_cpu_us)
    f["extra_cpu_seconds_measured"] = per(diff(r.measure_end.extra_cpu_us, r.measure_start.extra_cpu_us), 1e6);
}

// The window is the planned schedule, stretched when replies came back late, so rates
// are not inflated by the time between the last send and its reply.
double push_window_seconds(const run_report& r, const bench_options& o) {
  const double planned = static_cast<double>(r.pushes.count) / o.effective_rate();
  return std::max(planned, seconds(r.pushes.start_ns, r.pushes.end_ns));
}

void push_figures(run_report& r, const bench_options& o) {
  auto& f = r.figures;
  const double window_s = push_window_seconds(r, o);
  const auto received = static_cast<double>(r.clients.received);
  const auto server_delivered = diff(r.measure_end.delivered_total, r.measure_start.delivered_total);
  const auto cpu_us = diff(r.measure_end.cpu_us, r.measure_start.cpu_us);
  const double deliveries = server_delivered && *server_delivered > 0 ? *server_delivered : received;
  f["push_window_seconds"] = window_s;
  f["pushes_sent"] = static_cast<double>(r.pushes.sent);
  f["pushes_per_s"] = per(static_cast<double>(r.pushes.ok), window_s);
  f["deliveries_received"] = received;
  f["deliveries_expected"] = is_push_scenario(o) ? maybe(static_cast<double>(r.expected_deliveries)) : std::nullopt;
  f["deliveries_per_s"] = per(received, window_s);
  f["server_delivered_delta"] = server_delivered;
  f["server_recipients_reported"] = static_cast<double>(r.pushes.server_recipients);
  f["push_replies_count_mismatch"] = static_cast<double>(r.pushes.count_mismatches);
  f["push_replies_count_short"] = static_cast<double>(r.pushes.count_short);
  f["push_replies_partial"] = static_cast<double>(r.pushes.partial_replies);
  f["server_cpu_seconds_measured"] = per(cpu_us, 1e6);
  f["server_cpu_us_per_delivery"] = per(cpu_us, deliveries);
  f["server_cpu_us_per_push"] = per(cpu_us, static_cast<double>(r.pushes.sent));
  // --extra-pids (e.g. nats-server): the same window, per delivery and per push, apart.
  if (!o.extra_pids.empty()) {
    const auto extra_us = diff(r.measure_end.extra_cpu_us, r.measure_start.extra_cpu_us);
    f["extra_cpu_seconds_measured"] = per(extra_us, 1e6);
    f["extra_cpu_us_per_delivery"] = per(extra_us, deliveries);
    f["extra_cpu_us_per_push"] = per(extra_us, static_cast<double>(r.pushes.sent));
  }
  // Several --server-pids: each one's share of the measured window (in list order).
  if (o.server_pids.size() > 1) {
    for (std::size_t i = 0; i < o.server_pids.size(); ++i) {
      const auto& a = r.measure_start.cpu_us_each;
      const auto& b = r.measure_end.cpu_us_each;
      if (i < a.size() && i < b.size())
        f["server" + std::to_string(i) + "_cpu_seconds_measured"] = per(diff(b[i], a[i]), 1e6);
    }
  }
  f["push_send_lag_p99_us"] = r.pushes.send_lag.value_at_percentile(99) / 1e3;
  f["push_reply_p50_us"] = r.pushes.reply_time.value_at_percentile(50) / 1e3;
  f["push_reply_p99_us"] = r.pushes.reply_time.value_at_percentile(99) / 1e3;
  const auto& lat = r.clients.latency;
  f["latency_p50_us"] = lat.value_at_percentile(50) / 1e3;
  f["latency_p90_us"] = lat.value_at_percentile(90) / 1e3;
  f["latency_p99_us"] = lat.value_at_percentile(99) / 1e3;
  f["latency_p999_us"] = lat.value_at_percentile(99.9) / 1e3;
  f["latency_max_us"] = lat.max() / 1e3;
}

void fanout_figures(run_report& r, const bench_options& o) {
  const auto& c = r.clients;
  r.last_receiver.reset();
  r.incomplete_messages = 0;
  for (std::size_t i = 0; i < c.seq_count.size(); ++i) {
    if (c.seq_count[i] < o.connections) ++r.incomplete_messages;
    if (c.seq_count[i] > 0) r.last_receiver.record(c.seq_max_ns[i]);
  }
  auto& f = r.figures;
  f["last_receiver_p50_us"] = r.last_receiver.value_at_percentile(50) / 1e3;
  f["last_receiver_p99_us"] = r.last_receiver.value_at_percentile(99) / 1e3;
  f["last_receiver_max_us"] = r.last_receiver.max() / 1e3;
  f["incomplete_messages"] = static_cast<double>(r.incomplete_messages);
}

void churn_figures(run_report& r, const bench_options& o) {
  auto& f = r.figures;
  const double window_s = push_window_seconds(r, o);
  f["churn_reconnects"] = static_cast<double>(r.clients.churn_opens);
  f["churn_reconnects_per_s"] = per(static_cast<double>(r.clients.churn_opens), window_s);
  f["churn_open_failures"] = static_cast<double>(r.clients.open_failed - r.at_ramp.open_failed);
}

void common_figures(run_report& r) {
  auto& f = r.figures;
  f["connections_open_baseline"] = r.baseline.connections_open;
  f["connections_open_after_close"] = r.after_close.connections_open;
  f["connections_leaked"] = diff(r.after_close.connections_open, r.baseline.connections_open);
  f["server_slow_consumer_closes"] = diff(r.after_close.slow_consumer_closes, r.baseline.slow_consumer_closes);
  f["server_messages_dropped"] = diff(r.after_close.messages_dropped, r.baseline.messages_dropped);
  f["server_cpu_seconds_total"] = per(diff(r.after_close.cpu_us, r.baseline.cpu_us), 1e6);
  if (r.baseline.extra_cpu_us || r.after_close.extra_cpu_us)
    f["extra_cpu_seconds_total"] = per(diff(r.after_close.extra_cpu_us, r.baseline.extra_cpu_us), 1e6);
  f["client_cpu_seconds"] = r.coordinator_cpu_s + r.workers_cpu_s;
  f["client_cpu_seconds_coordinator"] = r.coordinator_cpu_s;
  f["client_cpu_seconds_workers"] = r.workers_cpu_s;
  f["unexpected_closes"] = static_cast<double>(r.clients.unexpected_closes);
}

void check_connections(run_report& r, const bench_options& o) {
  const auto& c = r.clients;
  if (r.at_ramp.opened < o.connections) {
    r.failures.push_back("only " + std::to_string(r.at_ramp.opened) + " of " + std::to_string(o.connections) +
                         " connections opened (first error: " + c.first_error + ")");
  }
  if (c.open_failed > r.at_ramp.open_failed)
    r.failures.push_back(std::to_string(c.open_failed - r.at_ramp.open_failed) + " reconnects failed");
  if (c.unexpected_closes > 0)
    r.failures.push_back(std::to_string(c.unexpected_closes) + " connections closed unexpectedly (first error: " +
                         c.first_error + ")");
  if (c.internal_errors > 0)
    r.failures.push_back(std::to_string(c.internal_errors) + " harness errors: " + c.first_error);
  if (c.unparsed > 0) r.warnings.push_back(std::to_string(c.unparsed) + " frames without a timestamp");
  for (std::size_t i = 0; i < r.worker_exit_codes.size(); ++i)
    if (r.worker_exit_codes[i] != 0)
      r.failures.push_back("worker " + std::to_string(i) + " exited with " + std::to_string(r.worker_exit_codes[i]));
}

void check_deliveries(run_report& r, const bench_options& o) {
  for (const auto* p : {&r.warmup, &r.pushes})
    if (p->failed > 0)
      r.failures.push_back(std::to_string(p->failed) + " of " + std::to_string(p->sent) +
                           (p == &r.warmup ? " warm-up" : "") + " pushes failed (first error: " +
                           p->first_error + ")");
  if (r.pushes.sent < r.pushes.count)
    r.failures.push_back("only " + std::to_string(r.pushes.sent) + " of " + std::to_string(r.pushes.count) + " pushes sent");
  if (!is_push_scenario(o)) return;
  const auto received = r.clients.received;
  if (received < r.expected_deliveries) {
    r.failures.push_back("delivered " + std::to_string(received) + " of " +
                         std::to_string(r.expected_deliveries) + " expected (" +
                         std::to_string(r.expected_deliveries - received) + " missing)");
  } else if (received > r.expected_deliveries) {
    r.warnings.push_back(std::to_string(received - r.expected_deliveries) + " more deliveries than expected (duplicates?)");
  }
  if (r.incomplete_messages > 0)
    r.failures.push_back(std::to_string(r.incomplete_messages) + " messages did not reach every subscriber");
  if (r.clients.duplicates > 0)
    r.failures.push_back(std::to_string(r.clients.duplicates) + " messages reached a client that had already seen them");
  // Latency counts from the intended send time, so a late harness inflates it: say so.
  const auto lag_p99_us = r.pushes.send_lag.value_at_percentile(99) / 1e3;
  if (lag_p99_us > 500)
    r.warnings.push_back("the harness sent 1% of pushes more than " + std::to_string(static_cast<long>(lag_p99_us)) +
                         " us late (client short of CPU?): latency figures include that delay");
  // Every connection was open and every push reached it, so the server's own count of
  // recipients should match; long-polls between two polls and churn legitimately differ.
  if ((o.kind == scenario::unicast || o.kind == scenario::fanout) && r.pushes.count_mismatches > 0)
    r.warnings.push_back(std::to_string(r.pushes.count_mismatches) + " of " + std::to_string(r.pushes.ok) +
                         " push replies gave a recipient count other than the connections it must reach (" +
                         std::to_string(r.pushes.count_short) + " below; " +
                         std::to_string(r.pushes.partial_replies) + " said partial; first: " +
                         r.pushes.first_mismatch + ")");
  if (r.pushes.server_recipients + r.warmup.server_recipients == 0 && r.pushes.ok > 0)
    r.warnings.push_back("push replies reported no recipients (reply format not understood?)");
}

void check_pids(run_report& r, const bench_options& o) {
  if (o.server_pids.empty()) r.warnings.push_back("no --server-pid: server CPU and RSS figures unavailable");
  for (std::size_t i = 0; i < o.server_pids.size(); ++i)
    if (i >= r.baseline.cpu_us_each.size() || !r.baseline.cpu_us_each[i])
      r.warnings.push_back("cannot read /proc/" + std::to_string(o.server_pids[i]));
  // A server that died during the run must not pass as a quiet one.
  for (std::size_t i = 0; i < o.server_pids.size(); ++i)
    if (i < r.baseline.cpu_us_each.size() && r.baseline.cpu_us_each[i] &&
        (i >= r.after_close.cpu_us_each.size() || !r.after_close.cpu_us_each[i]))
      r.failures.push_back("server process " + std::to_string(o.server_pids[i]) + " is gone after the run");
  if (!o.extra_pids.empty() && !r.baseline.extra_cpu_us)
    r.warnings.push_back("cannot read the CPU of every --extra-pids process");
}

void check_server_state(run_report& r, const bench_options& o) {
  const auto held = diff(r.after_ramp.connections_open, r.baseline.connections_open);
  if (held && *held < static_cast<double>(r.at_ramp.opened))
    r.warnings.push_back("after the ramp the server reports " + std::to_string(static_cast<long long>(*held)) +
                         " new open connections, the clients hold " + std::to_string(r.at_ramp.opened));
  check_pids(r, o);
  const auto leaked = diff(r.after_close.connections_open, r.baseline.connections_open);
  if (!leaked) {
    r.warnings.push_back("herald_connections_open unavailable: connection leak not checked");
  } else if (*leaked != 0) {
    r.failures.push_back("server reports " + std::to_string(static_cast<long long>(*leaked)) +
                         " connections more than its baseline after all clients closed (leak?)");
  }
}

// longpoll/sse: the held-request gauge plays the part herald_connections_open plays for
// WebSockets (it does not count HTTP connections).
void check_held(run_report& r, const bench_options& o) {
  check_pids(r, o);
  const auto held = diff(r.after_ramp.held_requests, r.baseline.held_requests);
  if (!held) {
    r.warnings.push_back("herald_held_requests unavailable: memory per held request and leaks not checked");
    return;
  }
  if (!r.all_held)
    r.failures.push_back("after the ramp the server held " + std::to_string(static_cast<long long>(*held)) +
                         " requests, the clients opened " + std::to_string(r.at_ramp.opened));
  // Only a claim: Herald also says so when the message it could not find in history
  // reached the waiting poll anyway. Whether anything was lost is what the counts say.
  if (r.clients.unrecovered > 0)
    r.warnings.push_back(std::to_string(r.clients.unrecovered) +
                         " answers said \"recovered\":false (missing deliveries, if any, are listed as failures)");
  const auto leaked = diff(r.after_close.held_requests, r.baseline.held_requests);
  if (leaked && *leaked != 0)
    r.failures.push_back("server still holds " + std::to_string(static_cast<long long>(*leaked)) +
                         " requests more than its baseline after all clients closed (leak?)");
}

}  // namespace

void evaluate(run_report& r, const bench_options& o) {
  ramp_figures(r);
  const bool pushes = o.kind != scenario::idle && !o.memory_only;
  if (o.kind == scenario::idle) idle_figures(r);
  if (pushes) push_figures(r, o);
  if (o.kind == scenario::fanout || (o.held() && pushes)) fanout_figures(r, o);
  if (o.kind == scenario::churn) churn_figures(r, o);
  if (o.held()) held_figures(r, o);
  common_figures(r);
  check_connections(r, o);
  if (pushes) check_deliveries(r, o);
  if (o.held()) check_held(r, o);
  else check_server_state(r, o);
}

namespace {

std::string git_commit() {
  const std::string cmd = "git -C '" + std::string{HERALD_BENCH_SOURCE_DIR} + "' rev-parse --short HEAD 2>/dev/null";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[128];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

void write_machine(json_writer& w) {
  utsname u{};
  ::uname(&u);
  w.key("machine").begin_object()
      .field("cores", static_cast<std::int64_t>(::sysconf(_SC_NPROCESSORS_ONLN)))
      .field("kernel", std::string{u.sysname} + " " + u.release)
      .field("arch", u.machine)
      .field("compiler", __VERSION__)
#ifdef NDEBUG
      .field("optimized", true)
#else
      .field("optimized", false)
#endif
      .field("git_commit", git_commit())
      .end_object();
}

// Percentiles at 1 - 2^(-k/4): evenly spaced on the log "nines" axis HdrHistogram plots use.
void write_latency(json_writer& w, const char* name, const histogram& h) {
  w.key(name).begin_object()
      .field("count", h.count())
      .field("p50_us", h.value_at_percentile(50) / 1e3)
      .field("p90_us", h.value_at_percentile(90) / 1e3)
      .field("p99_us", h.value_at_percentile(99) / 1e3)
      .field("p999_us", h.value_at_percentile(99.9) / 1e3)
      .field("max_us", h.max() / 1e3)
      .field("mean_us", h.mean() / 1e3);
  w.key("spectrum").begin_array();
  for (int k = 0; h.count() > 0; ++k) {
    const double pct = 100.0 * (1.0 - std::pow(2.0, -k / 4.0));
    w.begin_array().value(pct).value(h.value_at_percentile(pct) / 1e3).end_array();
    if ((1.0 - pct / 100.0) * static_cast<double>(h.count()) < 1.0 || k > 120) break;
  }
  w.begin_array().value(100.0).value(h.max() / 1e3).end_array();
  w.end_array().end_object();
}

void write_counts(json_writer& w, const run_report& r) {
  const auto& c = r.clients;
  w.key("counts").begin_object()
      .field("opened", c.opened).field("opened_in_ramp", r.at_ramp.opened)
      .field("open_failed", c.open_failed).field("unexpected_closes", c.unexpected_closes)
      .field("received", c.received).field("received_warmup", c.received_warmup)
      .field("unparsed_frames", c.unparsed).field("churn_opens", c.churn_opens)
      .field("churn_closes", c.churn_closes).field("internal_errors", c.internal_errors)
      .field("duplicates", c.duplicates).field("unrecovered", c.unrecovered)
      .field("expected_deliveries", r.expected_deliveries)
      .field("pushes_planned", r.pushes.count).field("pushes_sent", r.pushes.sent)
      .field("pushes_ok", r.pushes.ok).field("pushes_failed", r.pushes.failed)
      .field("warmup_pushes_sent", r.warmup.sent).field("warmup_pushes_failed", r.warmup.failed)
      .field("server_recipients_reported", r.pushes.server_recipients)
      .field("push_replies_count_mismatch", r.pushes.count_mismatches)
      .field("push_replies_partial", r.pushes.partial_replies)
      .field("first_client_error", c.first_error)
      .end_object();
}

void write_sample(json_writer& w, const char* name, const server_sample& s) {
  auto opt = [&](const char* key, auto v) {
    w.key(key);
    if (v) w.value(static_cast<double>(*v)); else w.null();
  };
  w.key(name).begin_object();
  opt("cpu_us", s.cpu_us);
  opt("rss_bytes", s.rss_bytes);
  opt("connections_open", s.connections_open);
  opt("delivered_total", s.delivered_total);
  opt("accepted_total", s.accepted_total);
  opt("slow_consumer_closes", s.slow_consumer_closes);
  opt("messages_dropped", s.messages_dropped);
  opt("held_requests", s.held_requests);
  opt("extra_cpu_us", s.extra_cpu_us);
  w.key("cpu_us_each").begin_array();
  for (const auto& v : s.cpu_us_each) {
    if (v) w.value(static_cast<double>(*v)); else w.null();
  }
  w.end_array();
  w.end_object();
}

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

std::string render_report(const run_report& r, const bench_options& o) {
  json_writer w;
  w.begin_object().field("tool", "herald-bench").field("scenario", o.scenario_name())
      .field("finished_at", utc_now()).field("ok", r.failures.empty());
  w.key("failures").begin_array();
  for (const auto& f : r.failures) w.value(f);
  w.end_array().key("warnings").begin_array();
  for (const auto& f : r.warnings) w.value(f);
  w.end_array();
  w.key("parameters");
  o.write_json(w);
  write_machine(w);
  w.key("figures").begin_object();
  for (const auto& [name, v] : r.figures) {
    w.key(name);
    if (v) w.value(*v); else w.null();
  }
  w.end_object();
  w.key("latency").begin_object();
  write_latency(w, "per_delivery", r.clients.latency);
  if (o.kind == scenario::fanout || o.held()) write_latency(w, "last_receiver", r.last_receiver);
  write_latency(w, "push_send_lag", r.pushes.send_lag);
  write_latency(w, "push_reply", r.pushes.reply_time);
  w.end_object();
  write_counts(w, r);
  w.key("server").begin_object();
  write_sample(w, "baseline", r.baseline);
  write_sample(w, "after_ramp", r.after_ramp);
  write_sample(w, "measure_start", r.measure_start);
  write_sample(w, "measure_end", r.measure_end);
  write_sample(w, "after_close", r.after_close);
  w.end_object().end_object();
  return w.str();
}

std::string summary_text(const run_report& r, const bench_options& o) {
  std::ostringstream s;
  auto fig = [&](const char* name) -> std::string {
    const auto it = r.figures.find(name);
    if (it == r.figures.end() || !it->second) return "n/a";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", *it->second);
    return buf;
  };
  s << "herald-bench " << o.scenario_name() << " (" << o.api_name() << ") N=" << o.connections
    << ": " << (r.failures.empty() ? "OK" : "FAILED") << "\n";
  s << "  ramp " << fig("ramp_conns_per_s") << " conns/s, server RSS/conn " << fig("server_rss_bytes_per_conn")
    << " B, server CPU/connect " << fig("server_cpu_us_per_connect") << " us\n";
  if (o.held())
    s << "  server held " << fig("server_held_requests_after_ramp") << ", RSS per held request "
      << fig(held_memory_figure(o)) << " B, leaked " << fig("held_requests_leaked") << ", duplicates "
      << fig("duplicate_deliveries") << "\n";
  if (o.kind == scenario::idle) {
    s << "  idle server CPU " << fig("server_cpu_us_per_conn_per_s") << " us/conn/s\n";
  } else if (!o.memory_only) {
    s << "  pushes " << fig("pushes_per_s") << "/s, deliveries " << fig("deliveries_received") << "/"
      << fig("deliveries_expected") << " (" << fig("deliveries_per_s") << "/s)\n"
      << "  server CPU " << fig("server_cpu_us_per_delivery") << " us/delivery, "
      << fig("server_cpu_us_per_push") << " us/push\n"
      << "  latency us p50 " << fig("latency_p50_us") << " p90 " << fig("latency_p90_us") << " p99 "
      << fig("latency_p99_us") << " p99.9 " << fig("latency_p999_us") << " max " << fig("latency_max_us") << "\n";
  }
  if (o.kind == scenario::fanout || (o.held() && !o.memory_only))
    s << "  last receiver us p50 " << fig("last_receiver_p50_us") << " p99 " << fig("last_receiver_p99_us") << "\n";
  if (!o.extra_pids.empty())
    s << "  extra processes CPU " << fig("extra_cpu_seconds_measured") << " s in the window ("
      << fig("extra_cpu_us_per_delivery") << " us/delivery)\n";
  s << "  connections open: baseline " << fig("connections_open_baseline") << ", after close "
    << fig("connections_open_after_close") << "; client CPU " << fig("client_cpu_seconds") << " s\n";
  for (const auto& f : r.failures) s << "  FAILURE: " << f << "\n";
  for (const auto& w : r.warnings) s << "  warning: " << w << "\n";
  return s.str();
}

}  // namespace herald_bench
