#include "api/http_api.hpp"

#include <chrono>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "api/delivery.hpp"
#include "config/options.hpp"
#include "hub/frame.hpp"
#include "metrics/exposition.hpp"
#include "proto/codec.hpp"
#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"

namespace herald::api {

namespace {

using clock = std::chrono::steady_clock;

response json_response(http::status status, std::string body, unsigned version) {
  response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

response method_not_allowed(const request& req, std::string_view allow) {
  auto res = text_response(http::status::method_not_allowed, "method not allowed", req.version());
  res.set(http::field::allow, allow);
  return res;
}

std::string_view path_of(const request& req) {
  std::string_view target(req.target().data(), req.target().size());
  return target.substr(0, target.find('?'));
}

// Compares without an early exit, so response timing does not reveal how
// much of the key a caller guessed.
bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void count(shard::shard_state& local, const char* endpoint, const response& res, clock::time_point start) {
  auto& stats = local.stats;
  ++stats.http_requests[{endpoint, static_cast<int>(res.result_int())}];
  stats.push_latency[endpoint].observe(std::chrono::duration<double>(clock::now() - start).count());
}

}  // namespace

response text_response(http::status status, std::string_view body, unsigned version) {
  response res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body().assign(body.data(), body.size());
  return res;
}

http_api::http_api(const config::options& opts, delivery& deliver, shard::shard_pool& pool,
                   std::vector<std::unique_ptr<shard::shard_state>>& states, metrics::exposition& exposition,
                   const std::atomic<bool>& ready)
    : opts_(opts), deliver_(deliver), pool_(pool), states_(states), exposition_(exposition), ready_(ready) {}

boost::asio::awaitable<response> http_api::handle(const request& req, shard::shard_state& local) {
  const auto path = path_of(req);
  const auto start = clock::now();
  const char* endpoint = path == "/push" ? "push"
                         : path == "/api/v1/publish" ? "publish"
                         : path == "/api/v1/push"    ? "user_push"
                                                     : nullptr;
  if (endpoint) {
    response res;
    if (req.method() != http::verb::post) {
      res = method_not_allowed(req, "POST");
    } else if (!authorized(req)) {
      res = text_response(http::status::unauthorized, "missing or wrong push key", req.version());
      res.set(http::field::www_authenticate, "Bearer");
    } else if (path == "/push") {
      res = co_await compat_push(req, local);
    } else if (path == "/api/v1/publish") {
      res = co_await publish(req, local);
    } else {
      res = co_await user_push(req, local);
    }
    count(local, endpoint, res, start);
    co_return res;
  }
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
  if (path == "/ws") co_return text_response(http::status::upgrade_required, "WebSocket upgrade required", req.version());
  co_return text_response(http::status::not_found, "not found", req.version());
}

bool http_api::authorized(const request& req) const {
  if (opts_.push_key.empty()) return true;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view scheme = "Bearer ";
  if (value.substr(0, scheme.size()) != scheme) return false;
  return equal_constant_time(value.substr(scheme.size()), opts_.push_key);
}

boost::asio::awaitable<response> http_api::compat_push(const request& req, shard::shard_state& local) {
  auto parsed = local.codec.parse_compat_push(req.body());
  if (!parsed) co_return text_response(http::status::bad_request, "request data illegal", req.version());
  auto& p = *parsed.value;
  auto frame = hub::make_frame(std::move(p.message));
  auto r = co_await deliver_.to_event(std::move(p.user), std::move(p.event), std::move(frame));
  co_return text_response(http::status::ok, "message sent to " + std::to_string(r.queued) + " clients",
                          req.version());
}

boost::asio::awaitable<response> http_api::publish(const request& req, shard::shard_state& local) {
  auto parsed = local.codec.parse_publish(req.body());
  if (!parsed) {
    co_return json_response(http::status::bad_request, proto::encode_api_error(parsed.error.code, parsed.error.reason),
                            req.version());
  }
  auto& p = *parsed.value;
  auto frame = hub::make_frame(proto::encode_topic_message(p.topic, p.data));
  auto r = co_await deliver_.to_topic(std::move(p.topic), std::move(frame));
  co_return json_response(http::status::ok, proto::encode_delivered(r.queued), req.version());
}

boost::asio::awaitable<response> http_api::user_push(const request& req, shard::shard_state& local) {
  auto parsed = local.codec.parse_user_push(req.body());
  if (!parsed) {
    co_return json_response(http::status::bad_request, proto::encode_api_error(parsed.error.code, parsed.error.reason),
                            req.version());
  }
  auto& p = *parsed.value;
  auto frame = hub::make_frame(proto::encode_user_message(p.user, p.data));
  auto r = co_await deliver_.to_user(std::move(p.user), std::move(frame));
  co_return json_response(http::status::ok, proto::encode_delivered(r.queued), req.version());
}

boost::asio::awaitable<response> http_api::scrape(const request& req) {
  auto* states = &states_;
  auto snapshots = co_await pool_.map_reduce(
      [states](std::size_t i) {
        auto& st = *(*states)[i];
        metrics::shard_stats copy = st.stats;
        copy.users = st.registry.user_count();
        copy.topics = st.registry.topic_count();
        return copy;
      },
      std::vector<metrics::shard_stats>{},
      [](std::vector<metrics::shard_stats>& all, metrics::shard_stats&& s) { all.push_back(std::move(s)); });
  response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = exposition_.render(snapshots);
  co_return res;
}

}  // namespace herald::api
