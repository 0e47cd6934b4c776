#include "api/http_api.hpp"

#include <cctype>
#include <chrono>
#include <fstream>
#include <mutex>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "api/delivery.hpp"
#include "api/token_auth.hpp"
#include "bus/nats_bus.hpp"
#include "config/options.hpp"
#include "hub/frame.hpp"
#include "metrics/exposition.hpp"
#include "metrics/status_history.hpp"
#include "proto/codec.hpp"
#include "proto/json_text.hpp"
#include "proto/names.hpp"
#include "proto/query.hpp"
#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"
#include "util/build_info.hpp"

namespace herald::api {

namespace {

using clock = std::chrono::steady_clock;

response method_not_allowed(const request& req, std::string_view allow) {
  auto res = text_response(http::status::method_not_allowed, "method not allowed", req.version());
  res.set(http::field::allow, allow);
  return res;
}

std::string_view path_of(const request& req) {
  std::string_view target(req.target().data(), req.target().size());
  return target.substr(0, target.find('?'));
}

void count(shard::shard_state& local, const char* endpoint, const response& res, clock::time_point start) {
  auto& stats = local.stats;
  ++stats.http_requests[{endpoint, static_cast<int>(res.result_int())}];
  stats.push_latency[endpoint].observe(std::chrono::duration<double>(clock::now() - start).count());
}

}  // namespace

response json_response(http::status status, std::string body, unsigned version) {
  response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

response json_error(http::status status, std::string_view code, std::string_view reason, unsigned version) {
  return json_response(status, proto::encode_api_error(code, reason), version);
}

response text_response(http::status status, std::string body, unsigned version) {
  response res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  return res;
}

http_api::http_api(const config::options& opts, const token_auth& auth, delivery& deliver, shard::shard_pool& pool,
                   std::vector<std::unique_ptr<shard::shard_state>>& states, metrics::exposition& exposition,
                   const std::atomic<bool>& ready, const bus::nats_bus* bus,
                   const metrics::status_history* status)
    : opts_(opts),
      auth_(auth),
      deliver_(deliver),
      pool_(pool),
      states_(states),
      exposition_(exposition),
      ready_(ready),
      bus_(bus),
      status_(status),
      push_keys_(opts.push_keys) {}

// Every request's path goes through handle's frame, so it holds only what
// a publication needs: Asio recycles coroutine frames of at most 1020 bytes
// (thread_info_base: 255 chunks of 4) and g++ 12 gives each temporary of
// each branch its own slot. With every endpoint's branch in one coroutine
// the frame was 1,360 bytes: a malloc and free per request, and a large one
// (it made glibc consolidate its fast bins), evicting a cached frame too.
boost::asio::awaitable<response> http_api::handle(const request& req, shard::shard_state& local) {
  const auto path = path_of(req);
  const publication_endpoint* endpoint = publication_endpoint_of(path);
  if (endpoint == nullptr) co_return co_await handle_other(req, local, path);
  const auto start = clock::now();
  response res;
  if (auto refusal = refuse_publication(req, *endpoint)) {
    res = std::move(*refusal);
  } else {
    res = co_await (this->*endpoint->run)(req, local);
  }
  count(local, endpoint->name, res, start);
  co_return res;
}

const http_api::publication_endpoint* http_api::publication_endpoint_of(std::string_view path) {
  static constexpr publication_endpoint endpoints[] = {
      {"/push", "push", &http_api::compat_push, true},
      {"/api/v1/publish", "publish", &http_api::publish, true},
      {"/api/v1/push", "user_push", &http_api::user_push, true},
      {"/api/v1/client-publish", "client_publish", &http_api::client_publish, false},  // the client's own token
  };
  for (const auto& e : endpoints) {
    if (path == e.path) return &e;
  }
  return nullptr;
}

std::optional<response> http_api::refuse_publication(const request& req, const publication_endpoint& endpoint) const {
  if (req.method() != http::verb::post) return method_not_allowed(req, "POST");
  if (!endpoint.needs_push_key || authorized(req)) return std::nullopt;
  auto res = text_response(http::status::unauthorized, "missing or wrong push key", req.version());
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

boost::asio::awaitable<response> http_api::handle_other(const request& req, shard::shard_state& local,
                                                        std::string_view path) {
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    if (!get) co_return method_not_allowed(req, "GET, HEAD");
    if (path == "/healthz") co_return text_response(http::status::ok, "ok", req.version());
    if (path == "/readyz") {
      co_return ready_.load() ? text_response(http::status::ok, "ready", req.version())
                              : text_response(http::status::service_unavailable, "draining", req.version());
    }
    co_return co_await scrape(req);
  }
  if (path == "/api/v1/history" || path == "/api/v1/presence") {
    if (!get) co_return method_not_allowed(req, "GET, HEAD");
    if (path == "/api/v1/history") co_return co_await history(req, local);
    co_return co_await presence(req, local);
  }
  if (path == "/status" || path == "/api/v1/status") {
    if (!get) co_return method_not_allowed(req, "GET, HEAD");
    co_return status_page(req, path);
  }
  if (path == "/ws") co_return text_response(http::status::upgrade_required, "WebSocket upgrade required", req.version());
  if (get && !opts_.www_dir.empty()) co_return static_file(req, path);
  co_return text_response(http::status::not_found, "not found", req.version());
}

// Any one of the --push-key values, each compared in constant time.
bool http_api::authorized(const request& req) const {
  if (push_keys_.open()) return true;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  return push_keys_.authorizes(std::string_view(it->value().data(), it->value().size()));
}

boost::asio::awaitable<response> http_api::compat_push(const request& req, shard::shard_state& local) {
  auto parsed = local.codec.parse_compat_push(req.body());
  if (!parsed) co_return text_response(http::status::bad_request, "request data illegal", req.version());
  auto& p = *parsed.value;
  auto r = co_await deliver_.push_event(std::move(p.user), std::move(p.event), std::move(p.message));
  if (!r.stored) {
    co_return text_response(http::status::service_unavailable,
                            "bus unavailable: message not stored (" + r.error + "); delivered to " +
                                std::to_string(r.queued) + " clients on this node",
                            req.version());
  }
  // One allocation: a concatenation grows its temporary, then is copied.
  std::string text;
  text.reserve(40);
  text.append("message sent to ").append(std::to_string(r.queued)).append(" clients");
  auto res = text_response(http::status::ok, std::move(text), req.version());
  // The compat body has no room for it: a fleet says how complete N is in headers.
  if (deliver_.in_fleet()) {
    res.set("Herald-Nodes", std::to_string(r.nodes));
    if (r.partial) res.set("Herald-Partial", "true");
  }
  co_return res;
}

boost::asio::awaitable<response> http_api::publish(const request& req, shard::shard_state& local) {
  auto parsed = local.codec.parse_publish(req.body());
  if (!parsed) {
    co_return json_response(http::status::bad_request, proto::encode_api_error(parsed.error.code, parsed.error.reason),
                            req.version());
  }
  auto& p = *parsed.value;
  auto r = co_await deliver_.publish(std::move(p.topic), std::move(p.data), {});
  co_return delivered(r, req.version());
}

boost::asio::awaitable<response> http_api::user_push(const request& req, shard::shard_state& local) {
  auto parsed = local.codec.parse_user_push(req.body());
  if (!parsed) {
    co_return json_response(http::status::bad_request, proto::encode_api_error(parsed.error.code, parsed.error.reason),
                            req.version());
  }
  auto& p = *parsed.value;
  auto r = co_await deliver_.push_user(std::move(p.user), std::move(p.data));
  co_return delivered(r, req.version());
}

boost::asio::awaitable<response> http_api::client_publish(const request& req, shard::shard_state& local) {
  auto parsed = local.codec.parse_client_publish(req.body());
  if (!parsed) co_return json_error(http::status::bad_request, parsed.error.code, parsed.error.reason, req.version());
  auto& p = *parsed.value;
  const auto now = token_auth::now();
  auto who = auth_.authenticate(p.token, now);
  if (!who) {
    ++local.stats.auth_failures[std::string(auth::to_string(who.error))];
    co_return json_error(http::status::unauthorized, proto::errc::unauthorized, auth::describe(who.error),
                         req.version());
  }
  if (!proto::matches_any(opts_.client_publish, p.topic)) {
    co_return json_error(http::status::forbidden, proto::errc::forbidden, "clients may not publish to this topic",
                         req.version());
  }
  // A publisher must also be one who may subscribe to the topic.
  auto allowed = auth_.may_subscribe(who.who->user, who.who->channels, p.topic, {}, now);
  if (!allowed.ok()) {
    co_return json_error(http::status::forbidden, proto::errc::forbidden, allowed.reason, req.version());
  }
  auto r = co_await deliver_.publish(std::move(p.topic), std::move(p.data), std::move(who.who->user));
  co_return delivered(r, req.version());
}

// A topic's history and presence are read as its subscribers would see
// them: a backend with a push key reads any topic; anyone else needs what a
// subscriber needs (?token=, ?sub_token=; see token_auth::authorize).
std::optional<response> http_api::refuse_reader(const request& req, const proto::query& q, std::string_view topic,
                                                shard::shard_state& local) const {
  if (!push_keys_.open() && authorized(req)) return std::nullopt;
  auto token = q.get("token");
  auto a = auth_.authorize(token ? std::optional<std::string_view>(*token) : std::nullopt, topic,
                           q.get("sub_token").value_or(""), token_auth::now());
  if (a.ok()) return std::nullopt;
  if (a.failure != auth::failure::none) ++local.stats.auth_failures[std::string(auth::to_string(a.failure))];
  return json_error(static_cast<http::status>(a.http_status()), a.code, a.reason, req.version());
}

boost::asio::awaitable<response> http_api::history(const request& req, shard::shard_state& local) {
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  auto topic = q.get("topic");
  if (!topic || topic->empty()) {
    co_return json_error(http::status::bad_request, proto::errc::bad_request, "topic is required", req.version());
  }
  if (!proto::valid_topic(*topic)) {
    co_return json_error(http::status::bad_request, proto::errc::bad_topic, proto::topic_rule, req.version());
  }
  if (auto refusal = refuse_reader(req, q, *topic, local)) co_return std::move(*refusal);
  bool since_ok = true, limit_ok = true;
  auto since = q.number("since", since_ok);
  auto limit = q.number("limit", limit_ok);
  if (!since_ok || !limit_ok || (limit && (*limit == 0 || *limit > 1000))) {
    co_return json_error(http::status::bad_request, proto::errc::bad_request,
                         "since must be an offset and limit 1-1000", req.version());
  }
  auto slice = co_await deliver_.history(*topic, since.value_or(0), limit.value_or(1000), q.get("epoch").value_or(""));
  if (slice.unavailable) {
    co_return json_error(http::status::service_unavailable, "bus_unavailable", "the fleet's history cannot be read now",
                         req.version());
  }
  if (since && *since > slice.offset && slice.recovered) {
    co_return json_error(http::status::bad_request, "bad_since", "since is ahead of the topic's offset", req.version());
  }
  std::vector<std::string_view> texts;
  for (const auto& f : slice.messages) texts.push_back(f->text);
  co_return json_response(http::status::ok,
                          proto::encode_history(*topic, slice.epoch, slice.offset, slice.recovered, texts),
                          req.version());
}

boost::asio::awaitable<response> http_api::presence(const request& req, shard::shard_state& local) {
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  auto topic = q.get("topic");
  if (!topic || topic->empty()) {
    co_return json_error(http::status::bad_request, proto::errc::bad_request, "topic is required", req.version());
  }
  if (!proto::valid_topic(*topic)) {
    co_return json_error(http::status::bad_request, proto::errc::bad_topic, proto::topic_rule, req.version());
  }
  if (auto refusal = refuse_reader(req, q, *topic, local)) co_return std::move(*refusal);
  if (!proto::matches_any(opts_.presence, *topic)) {
    co_return json_error(http::status::forbidden, proto::errc::forbidden, "presence is not enabled for this topic",
                         req.version());
  }
  auto info = co_await deliver_.presence_of(*topic);
  if (!info.known) co_return json_error(http::status::not_found, "unknown_topic", "nobody is subscribed", req.version());
  std::string body = R"({"topic":)" + proto::json_string(*topic) + R"(,"users":[)";
  for (std::size_t i = 0; i < info.users.size(); ++i) body += (i ? "," : "") + proto::json_string(info.users[i]);
  body += R"(],"connections":)" + std::to_string(info.connections) + "}";
  co_return json_response(http::status::ok, std::move(body), req.version());
}

namespace {

// The bus's figures (zeros on a standalone node).
metrics::bus_snapshot bus_snapshot_of(const bus::nats_bus* b) {
  metrics::bus_snapshot s;
  if (!b) return s;
  const auto& c = b->counters();
  s.enabled = true;
  s.connected = b->connected();
  s.reconnects = c.reconnects.load();
  s.disconnects = c.disconnects.load();
  s.failed_disconnected = c.publish_failed_disconnected.load();
  s.failed_timeout = c.publish_failed_timeout.load();
  s.failed_rejected = c.publish_failed_rejected.load();
  s.partial_answers = c.partial_answers.load();
  s.history_failures = c.history_failures.load();
  s.slow_consumer_errors = c.slow_consumer_errors.load();
  s.fleet_nodes = b->fleet_nodes();
  return s;
}

}  // namespace

boost::asio::awaitable<response> http_api::scrape(const request& req) {
  auto* states = &states_;
  auto snapshots = co_await pool_.map_reduce(
      [states](std::size_t i) {
        auto& st = *(*states)[i];
        metrics::shard_stats copy = st.stats;
        copy.users = st.registry.user_count();
        std::lock_guard lock(st.owned_mutex);  // other threads stamp into `topics`
        copy.history_topics = st.topics.topics();
        copy.history_messages = st.topics.messages();
        copy.history_bytes = st.topics.bytes();
        copy.history_evictions = st.topics.evictions();
        copy.topics = st.registry.topic_count();
        copy.bus_listened = st.fleet.listened();
        return copy;
      },
      std::vector<metrics::shard_stats>{},
      [](std::vector<metrics::shard_stats>& all, metrics::shard_stats&& s) { all.push_back(std::move(s)); });
  response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = exposition_.render(snapshots, bus_snapshot_of(bus_));
  co_return res;
}

namespace {

const char* content_type_of(std::string_view name) {
  auto dot = name.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

// Only plain names directly in --www-dir: no '/', no leading '.', so no
// request can leave the directory.
bool safe_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.size() > 128) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

response http_api::status_page(const request& req, std::string_view path) const {
  if (!status_) {
    constexpr std::string_view why = "the status page is off (start herald with --status-page)";
    return path == "/status" ? text_response(http::status::not_found, std::string(why), req.version())
                             : json_error(http::status::not_found, "not_found", why, req.version());
  }
  if (path == "/status") return static_file(req, "/status.html");
  if (!authorized(req)) {
    auto res = json_error(http::status::unauthorized, proto::errc::unauthorized, "the status needs the push key",
                          req.version());
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  }
  metrics::status_identity who{std::string(util::version()), std::string(util::commit()), opts_.node_name,
                               status_->started_unix_ms(), ready_.load()};
  auto res = json_response(http::status::ok,
                           metrics::render_status_json(who, bus_snapshot_of(bus_), status_->samples()), req.version());
  res.set(http::field::cache_control, "no-store");
  return res;
}

response http_api::delivered(const publish_result& r, unsigned version) const {
  if (!r.stored) {
    return json_response(http::status::service_unavailable,
                         proto::encode_bus_unavailable(r.error, r.queued), version);
  }
  if (!deliver_.in_fleet()) return json_response(http::status::ok, proto::encode_delivered(r.queued, r.offset), version);
  return json_response(http::status::ok, proto::encode_fleet_delivered(r.queued, r.offset, r.nodes, r.partial), version);
}

response http_api::static_file(const request& req, std::string_view path) const {
  std::string_view name = path == "/" ? std::string_view("index.html") : path.substr(1);
  if (!safe_name(name)) return text_response(http::status::not_found, "not found", req.version());
  std::ifstream in(opts_.www_dir + "/" + std::string(name), std::ios::binary);
  if (!in) return text_response(http::status::not_found, "not found", req.version());
  response res{http::status::ok, req.version()};
  res.set(http::field::content_type, content_type_of(name));
  res.set(http::field::cache_control, "no-cache");
  res.body().assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return res;
}

}  // namespace herald::api
