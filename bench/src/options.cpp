#include "options.hpp"

#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "json_writer.hpp"

namespace herald_bench {

std::string usage_text() {
  return R"(herald-bench: load harness for Herald (and any server of its compat API)

usage: herald-bench --scenario idle|unicast|fanout|churn|longpoll|sse [options]

  --scenario S          idle | unicast | fanout | churn | longpoll | sse (required)
  --api A               compat (POST /push, register frame) | native (/api/v1/...)  [compat]
                        (longpoll and sse always use native: GET /poll, GET /sse, publish)
  --connections N       WebSocket connections (longpoll: waiting polls, sse: streams) [1000]
  --users U             unicast/churn: users the connections are spread over [N]
  --rate P              pushes (publishes) per second
                        [unicast 1000, fanout 5, churn 100, longpoll 2, sse 2]
  --duration D          measured seconds (idle: hold time)                   [10]
  --warmup W            seconds of pushes before measuring (not recorded)    [1]
  --message-size B      bytes of each pushed message                         [64]
  --target URL          ws://127.0.0.1:8080/ws; "{user}" in the path is replaced by each
                        connection's user (per-user channels: ws://.../sub/{user})
  --targets LIST        comma list of WebSocket URLs (nodes of a fleet): connection i
                        opens to the (i mod count)-th; the first is --target
  --push-url URL        default: http://<target host:port>/push (native: /api/v1/push|publish);
                        "{user}" in the path is replaced by each push's user (.../pub/{user})
  --push-body B         json (the API's body) | raw (the message alone, for publish
                        endpoints such as Nchan's /pub/<id>)                     [json]
  --metrics-url URL     default: http://<target host:port>/metrics; "none" disables
  --metrics-urls LIST   comma list of /metrics URLs whose counters are summed
                        [each target's /metrics]
  --server-pid PID      server process for CPU (/proc/PID/stat) and RSS figures
  --server-pids LIST    comma list of server processes: CPU and RSS summed over them
  --extra-pids LIST     comma list of other processes (e.g. nats-server) whose CPU is
                        reported apart (extra_cpu_* figures)
  --workers K           client processes             [max(2, ceil(N / 6000))]
  --client-threads T    io_context threads per worker process               [2]
  --source-addrs LIST   comma list of loopback source addresses, one per worker
                        [127.0.0.2,127.0.0.3,...]; "none": kernel chooses
  --push-connections C  keep-alive HTTP connections for pushes              [8]
  --ramp-concurrency L  connection opens in flight per worker               [64]
  --churn-rate R        churn: reconnects per second in total               [50]
  --drain-timeout S     wait for in-flight deliveries after the last push   [5]
  --settle-timeout S    churn: wait for herald_connections_open to return   [10]
  --open-timeout S      connect + handshake + register deadline per conn    [10]
  --poll-timeout S      longpoll: timeout= of every poll, 1..60 s            [30]
  --memory-only         longpoll/sse: stop after the memory phase (no publishes)
  --no-register-ack     do not confirm registration with {"op":"ping"} (for servers
                        that only speak the compat register frame)
  --no-register         send no frame after the upgrade (the URL names the channel,
                        e.g. --target ws://.../sub/{user}); implies --no-register-ack
  --event E             compat event name                                   [bench]
  --out FILE            also write the JSON report to FILE
  --label TEXT          free text stored in the report
  --help

Loads only loopback addresses. Prints progress on stderr, the JSON report on stdout.
Exit status: 0 ok, 2 the run has failures (see "failures" in the report), 1 usage error.
)";
}

std::uint64_t bench_options::effective_users() const {
  if (kind == scenario::fanout) return 1;
  return users ? users : connections;
}

double bench_options::effective_rate() const {
  if (rate > 0) return rate;
  switch (kind) {
    case scenario::unicast: return 1000;
    case scenario::fanout: return 5;
    case scenario::churn: return 100;
    case scenario::longpoll:
    case scenario::sse: return 2;
    case scenario::idle: return 0;
  }
  return 0;
}

const char* bench_options::scenario_name() const {
  switch (kind) {
    case scenario::idle: return "idle";
    case scenario::unicast: return "unicast";
    case scenario::fanout: return "fanout";
    case scenario::churn: return "churn";
    case scenario::longpoll: return "longpoll";
    case scenario::sse: return "sse";
  }
  return "?";
}

const char* bench_options::api_name() const {
  return api == api_kind::compat ? "compat" : "native";
}

namespace {

double to_double(const std::string& text) {
  std::size_t used = 0;
  const double v = std::stod(text, &used);
  if (used != text.size() || !std::isfinite(v) || v < 0) throw std::invalid_argument(text);
  return v;
}

std::uint64_t to_count(const std::string& text) {
  std::uint64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size()) throw std::invalid_argument(text);
  return v;
}

url to_url(const std::string& text) {
  auto r = parse_url(text);
  if (!r.value) throw std::invalid_argument(r.error);
  return *r.value;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// --worker-slice INDEX:BEGIN:COUNT:ADDRESS (internal, set by the coordinator).
worker_slice to_slice(const std::string& text) {
  auto parts = text;
  worker_slice s;
  std::stringstream ss(parts);
  std::string a, b, c;
  if (!std::getline(ss, a, ':') || !std::getline(ss, b, ':') || !std::getline(ss, c, ':'))
    throw std::invalid_argument("bad --worker-slice " + text);
  std::getline(ss, s.source_address);
  s.index = static_cast<int>(to_count(a));
  s.begin = to_count(b);
  s.count = to_count(c);
  return s;
}

std::vector<url> to_urls(const std::string& text) {
  std::vector<url> out;
  for (const auto& item : split_commas(text)) out.push_back(to_url(item));
  if (out.empty()) throw std::invalid_argument("empty list");
  return out;
}

std::vector<pid_t> to_pids(const std::string& text) {
  std::vector<pid_t> out;
  for (const auto& item : split_commas(text)) out.push_back(static_cast<pid_t>(to_count(item)));
  if (out.empty()) throw std::invalid_argument("empty list");
  return out;
}

using setter = std::function<void(bench_options&, const std::string&)>;

const std::map<std::string, setter>& setters() {
  static const std::map<std::string, setter> table = {
      {"--scenario", [](bench_options& o, const std::string& v) {
         if (v == "idle") o.kind = scenario::idle;
         else if (v == "unicast") o.kind = scenario::unicast;
         else if (v == "fanout") o.kind = scenario::fanout;
         else if (v == "churn") o.kind = scenario::churn;
         else if (v == "longpoll") o.kind = scenario::longpoll;
         else if (v == "sse") o.kind = scenario::sse;
         else throw std::invalid_argument("unknown scenario " + v);
       }},
      {"--api", [](bench_options& o, const std::string& v) {
         if (v == "compat") o.api = api_kind::compat;
         else if (v == "native") o.api = api_kind::native;
         else throw std::invalid_argument("unknown api " + v);
       }},
      {"--connections", [](bench_options& o, const std::string& v) { o.connections = to_count(v); }},
      {"--users", [](bench_options& o, const std::string& v) { o.users = to_count(v); }},
      {"--rate", [](bench_options& o, const std::string& v) { o.rate = to_double(v); }},
      {"--duration", [](bench_options& o, const std::string& v) { o.duration_s = to_double(v); }},
      {"--warmup", [](bench_options& o, const std::string& v) { o.warmup_s = to_double(v); }},
      {"--message-size", [](bench_options& o, const std::string& v) { o.message_size = to_count(v); }},
      {"--target", [](bench_options& o, const std::string& v) { o.target = to_url(v); }},
      {"--targets", [](bench_options& o, const std::string& v) { o.targets = to_urls(v); }},
      {"--metrics-urls", [](bench_options& o, const std::string& v) { o.metrics_urls = to_urls(v); }},
      {"--server-pids", [](bench_options& o, const std::string& v) { o.server_pids = to_pids(v); }},
      {"--extra-pids", [](bench_options& o, const std::string& v) { o.extra_pids = to_pids(v); }},
      {"--push-url", [](bench_options& o, const std::string& v) { o.push_url = to_url(v); }},
      {"--metrics-url", [](bench_options& o, const std::string& v) {
         if (v == "none") o.metrics_url.reset();
         else o.metrics_url = to_url(v);
       }},
      {"--server-pid", [](bench_options& o, const std::string& v) { o.server_pid = static_cast<pid_t>(to_count(v)); }},
      {"--workers", [](bench_options& o, const std::string& v) { o.workers = static_cast<int>(to_count(v)); }},
      {"--client-threads", [](bench_options& o, const std::string& v) { o.client_threads = static_cast<int>(to_count(v)); }},
      {"--source-addrs", [](bench_options& o, const std::string& v) {
         o.source_addresses = v == "none" ? std::vector<std::string>{} : split_commas(v);
         if (v == "none") o.source_addresses.push_back("");
       }},
      {"--push-connections", [](bench_options& o, const std::string& v) { o.push_connections = static_cast<int>(to_count(v)); }},
      {"--ramp-concurrency", [](bench_options& o, const std::string& v) { o.ramp_concurrency = static_cast<int>(to_count(v)); }},
      {"--churn-rate", [](bench_options& o, const std::string& v) { o.churn_rate = to_double(v); }},
      {"--drain-timeout", [](bench_options& o, const std::string& v) { o.drain_timeout_s = to_double(v); }},
      {"--settle-timeout", [](bench_options& o, const std::string& v) { o.settle_timeout_s = to_double(v); }},
      {"--open-timeout", [](bench_options& o, const std::string& v) { o.open_timeout_s = to_double(v); }},
      {"--poll-timeout", [](bench_options& o, const std::string& v) {
         o.poll_timeout_s = static_cast<int>(to_count(v));
         if (o.poll_timeout_s < 1 || o.poll_timeout_s > 60) throw std::invalid_argument("1..60 seconds");
       }},
      {"--event", [](bench_options& o, const std::string& v) { o.event = v; }},
      {"--push-body", [](bench_options& o, const std::string& v) {
         if (v == "json") o.raw_push_body = false;
         else if (v == "raw") o.raw_push_body = true;
         else throw std::invalid_argument("json or raw");
       }},
      {"--out", [](bench_options& o, const std::string& v) { o.out_path = v; }},
      {"--label", [](bench_options& o, const std::string& v) { o.label = v; }},
      {"--worker-slice", [](bench_options& o, const std::string& v) { o.slice = to_slice(v); }},
  };
  return table;
}

std::string default_push_target(const bench_options& o) {
  if (o.held()) return "/api/v1/publish";  // topic scenarios: native publish only
  if (o.api == api_kind::compat) return "/push";
  return o.kind == scenario::fanout ? "/api/v1/publish" : "/api/v1/push";
}

// Fills what depends on other options, and rejects combinations that cannot work.
std::string finish(bench_options& o, bool push_url_given, bool metrics_given) {
  if (o.held()) o.api = api_kind::native;  // topics and /api/v1/publish exist only there
  if (o.targets.empty()) o.targets.push_back(o.target);
  else o.target = o.targets.front();
  if (!push_url_given) o.push_url = with_path(o.target, "http", default_push_target(o));
  // --metrics-url (or "none") wins over --metrics-urls; without either, every target.
  if (metrics_given) {
    o.metrics_urls.clear();
    if (o.metrics_url) o.metrics_urls.push_back(*o.metrics_url);
  } else if (o.metrics_urls.empty()) {
    for (const auto& t : o.targets) o.metrics_urls.push_back(with_path(t, "http", "/metrics"));
  }
  if (o.metrics_urls.empty()) o.metrics_url.reset();
  else o.metrics_url = o.metrics_urls.front();
  // --server-pid P and --server-pids P,Q,... both fill the list; the first is server_pid.
  if (o.server_pids.empty() && o.server_pid > 0) o.server_pids.push_back(o.server_pid);
  o.server_pid = o.server_pids.empty() ? 0 : o.server_pids.front();
  if (o.workers == 0)
    o.workers = static_cast<int>(std::max<std::uint64_t>(2, (o.connections + 5999) / 6000));
  o.workers = static_cast<int>(std::min<std::uint64_t>(o.workers, std::max<std::uint64_t>(1, o.connections)));
  if (o.source_addresses.empty())
    for (int i = 0; i < o.workers; ++i) o.source_addresses.push_back("127.0.0." + std::to_string(2 + i % 250));
  for (const auto& a : o.source_addresses)
    if (!a.empty() && !is_loopback_host(a)) return "source address " + a + " is not loopback";
  if (o.connections / o.workers > 18000) return "more than 18000 connections per worker: raise --workers";
  if (o.client_threads < 1 || o.push_connections < 1 || o.ramp_concurrency < 1) return "counts must be >= 1";
  if (o.duration_s > 3600 || o.warmup_s > 600) return "runs are bounded: --duration <= 3600, --warmup <= 600";
  if (o.memory_only && !o.held()) return "--memory-only is for the longpoll and sse scenarios";
  if (o.held() && (!o.register_frame || o.raw_push_body))
    return "--no-register and --push-body raw are for WebSocket scenarios";
  if (o.message_size < 40) o.message_size = 40;  // room for the stamp
  return {};
}

}  // namespace

options_result parse_options(int argc, char** argv) {
  bench_options o;
  o.target = *parse_url("ws://127.0.0.1:8080/ws").value;
  bool scenario_given = false, push_url_given = false, metrics_given = false;
  for (int i = 0; i < argc; ++i) o.argv.emplace_back(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--help" || name == "-h") return {std::nullopt, usage_text(), true};
    if (name == "--no-register-ack") { o.register_ack = false; continue; }
    if (name == "--memory-only") { o.memory_only = true; continue; }
    if (name == "--no-register") { o.register_frame = false; o.register_ack = false; continue; }
    auto it = setters().find(name);
    if (it == setters().end()) return {std::nullopt, "unknown option " + name, false};
    if (i + 1 >= argc) return {std::nullopt, name + " needs a value", false};
    try {
      it->second(o, argv[++i]);
    } catch (const std::exception& e) {
      return {std::nullopt, name + ": " + e.what(), false};
    }
    scenario_given |= name == "--scenario";
    push_url_given |= name == "--push-url";
    metrics_given |= name == "--metrics-url";
  }
  if (!scenario_given) return {std::nullopt, "--scenario is required (try --help)", false};
  if (auto error = finish(o, push_url_given, metrics_given); !error.empty())
    return {std::nullopt, error, false};
  return {o, {}, false};
}

void bench_options::write_json(json_writer& out) const {
  out.begin_object()
      .field("scenario", scenario_name())
      .field("api", api_name())
      .field("connections", connections)
      .field("users", effective_users())
      .field("rate_per_s", effective_rate())
      .field("duration_s", duration_s)
      .field("warmup_s", warmup_s)
      .field("message_size", static_cast<std::uint64_t>(message_size))
      .field("target", target.to_string())
      .field("push_url", push_url.to_string());
  out.key("targets").begin_array();
  for (const auto& t : targets) out.value(t.to_string());
  out.end_array();
  out.key("metrics_url");
  if (metrics_url) out.value(metrics_url->to_string()); else out.null();
  out.key("metrics_urls").begin_array();
  for (const auto& m : metrics_urls) out.value(m.to_string());
  out.end_array();
  out.key("server_pids").begin_array();
  for (const auto p : server_pids) out.value(static_cast<std::int64_t>(p));
  out.end_array();
  out.key("extra_pids").begin_array();
  for (const auto p : extra_pids) out.value(static_cast<std::int64_t>(p));
  out.end_array();
  out.field("server_pid", static_cast<std::int64_t>(server_pid))
      .field("workers", workers)
      .field("client_threads", client_threads)
      .field("push_connections", push_connections)
      .field("ramp_concurrency", ramp_concurrency)
      .field("churn_rate_per_s", churn_rate)
      .field("drain_timeout_s", drain_timeout_s)
      .field("settle_timeout_s", settle_timeout_s)
      .field("register_ack", register_ack)
      .field("register_frame", register_frame)
      .field("push_body", raw_push_body ? "raw" : "json")
      .field("poll_timeout_s", poll_timeout_s)
      .field("memory_only", memory_only)
      .field("event", event)
      .field("label", label);
  out.key("source_addresses").begin_array();
  for (const auto& a : source_addresses) out.value(a);
  out.end_array().end_object();
}

}  // namespace herald_bench
