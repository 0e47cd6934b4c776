#pragma once
// http_api: answers every plain HTTP request (everything but the WebSocket
// upgrade): the push API, /metrics, /healthz, /readyz.
//
//   POST /push                  wserver compat  -> "message sent to N clients"
//   POST /api/v1/publish        {"topic","data"} -> {"delivered":N,"offset":O}
//   POST /api/v1/push           {"user","data"}  -> {"delivered":N,"offset":O}
//   POST /api/v1/client-publish {"token","topic","data"} (browsers off WebSocket)
//   GET  /api/v1/history /api/v1/presence
//   GET  /status /api/v1/status  the status page and its JSON (--status-page,
//                                or behind --push-key when one is set)
//   GET  /metrics /healthz /readyz, and static files from --www-dir
// (/poll and /sse hold their connection and live in net/.)
//
// Thread contract: thread-safe. It holds immutable settings and thread-safe
// collaborators; each call runs on the shard that read the request and uses
// that shard's state (its codec and counters) only.
#include <atomic>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "auth/push_keys.hpp"

namespace herald::bus {
class nats_bus;
}
namespace herald::config {
struct options;
}
namespace herald::metrics {
class exposition;
class status_history;
}  // namespace herald::metrics
namespace herald::proto {
class query;
}
namespace herald::shard {
class shard_pool;
struct shard_state;
}  // namespace herald::shard

namespace herald::api {

class delivery;
class token_auth;
namespace http = boost::beast::http;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// A plain-text answer; used for errors found before a request is routed too.
response text_response(http::status status, std::string body, unsigned version);
response json_response(http::status status, std::string body, unsigned version);
// {"error":code,"reason":...} with `status`.
response json_error(http::status status, std::string_view code, std::string_view reason, unsigned version);

class http_api {
 public:
  http_api(const config::options& opts, const token_auth& auth, delivery& deliver, shard::shard_pool& pool,
           std::vector<std::unique_ptr<shard::shard_state>>& states, metrics::exposition& exposition,
           const std::atomic<bool>& ready, const bus::nats_bus* bus = nullptr,
           const metrics::status_history* status = nullptr);

  // `req` must outlive the returned awaitable (it lives in the caller's frame).
  boost::asio::awaitable<response> handle(const request& req, shard::shard_state& local);

 private:
  // One of the four publication endpoints: its path, its metric name, what
  // answers it, and whether it asks for the push key (client-publish is
  // authorised by the client's own token instead).
  struct publication_endpoint {
    std::string_view path;
    const char* name;
    boost::asio::awaitable<response> (http_api::*run)(const request&, shard::shard_state&);
    bool needs_push_key;
  };
  // The endpoint at `path`, or nullptr for every other path.
  static const publication_endpoint* publication_endpoint_of(std::string_view path);
  // 405 when not a POST, 401 without a push key where one is needed.
  std::optional<response> refuse_publication(const request& req, const publication_endpoint& endpoint) const;
  // Everything but publications: health, metrics, history, status, files.
  boost::asio::awaitable<response> handle_other(const request& req, shard::shard_state& local,
                                                std::string_view path);
  boost::asio::awaitable<response> compat_push(const request& req, shard::shard_state& local);
  boost::asio::awaitable<response> publish(const request& req, shard::shard_state& local);
  boost::asio::awaitable<response> user_push(const request& req, shard::shard_state& local);
  boost::asio::awaitable<response> client_publish(const request& req, shard::shard_state& local);
  boost::asio::awaitable<response> history(const request& req, shard::shard_state& local);
  boost::asio::awaitable<response> presence(const request& req, shard::shard_state& local);
  // 401/403 when the caller may not read `topic` (see the .cpp); nothing when it may.
  std::optional<response> refuse_reader(const request& req, const proto::query& q, std::string_view topic,
                                        shard::shard_state& local) const;
  boost::asio::awaitable<response> scrape(const request& req);
  // /status and /api/v1/status: 404 while the page is off; the JSON asks
  // for the push key when one is set.
  response status_page(const request& req, std::string_view path) const;
  response static_file(const request& req, std::string_view path) const;
  bool authorized(const request& req) const;
  // The JSON answer to a publication: 200 with the counts, or 503 when the
  // fleet's stream did not store it.
  response delivered(const struct publish_result& r, unsigned version) const;

  const config::options& opts_;
  const token_auth& auth_;
  delivery& deliver_;
  shard::shard_pool& pool_;
  std::vector<std::unique_ptr<shard::shard_state>>& states_;
  metrics::exposition& exposition_;
  const std::atomic<bool>& ready_;
  const bus::nats_bus* bus_;
  const metrics::status_history* status_;  // null: no status page
  auth::push_keys push_keys_;
};

}  // namespace herald::api
