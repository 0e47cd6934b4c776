// Fuzz target: the HTTP request path, up to where it needs sockets or the
// node. Input: one byte that seeds how the bytes arrive, then what a client
// sends on one connection (several pipelined requests are fine).
//
// Each request goes through Beast's request_parser set up exactly as
// net/http_session does (header and body limits: the defaults of
// --max-header and --max-body), read the way http::async_read reads it
// (into one flat_buffer kept across requests, in pieces), then through the
// pure handling that follows: the upgrade check, the path, proto::query
// with the parameters /poll, /sse, /api/v1/history and /api/v1/presence
// read (topic rule, offsets, Last-Event-ID, the name rule for an identity
// token), the push-key check, the codec for the POST bodies; and the answer is serialised as
// http_session sends it.
//
// api::http_api itself is not linked: it needs delivery, the shard pool,
// metrics and the bus, i.e. the whole node.
//
// Properties: no request is accepted over the limits; the parser's errors
// are ones http_session maps to a status; the answer serialises.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "fuzz_check.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "proto/query.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace proto = herald::proto;

namespace {

constexpr std::size_t max_header = 8 * 1024;  // config::options defaults
constexpr std::size_t max_body = 64 * 1024;
constexpr std::string_view push_key = "k";

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

struct wire {
  std::string_view bytes;
  std::size_t pos = 0;
  std::uint32_t rng;
  // One read_some: appends between 1 and 4096 bytes to `buffer`.
  bool read(beast::flat_buffer& buffer) {
    if (pos == bytes.size()) return false;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    const std::size_t n = std::min<std::size_t>(1 + rng % 4096, bytes.size() - pos);
    auto b = buffer.prepare(n);
    std::memcpy(b.data(), bytes.data() + pos, n);
    buffer.commit(n);
    pos += n;
    return true;
  }
};

// http::async_read's loop, minus the socket.
beast::error_code read_request(wire& in, beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser) {
  beast::error_code ec;
  bool got_some = false;
  bool need_more = buffer.size() == 0;
  while (!parser.is_done()) {
    if (need_more) {
      if (!in.read(buffer)) {
        if (!got_some && buffer.size() == 0) return http::error::end_of_stream;
        parser.put_eof(ec);
        return ec ? ec : beast::error_code{};
      }
      got_some = true;
    }
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) {
      ec = {};
      need_more = true;
      continue;
    }
    if (ec) return ec;
    need_more = buffer.size() == 0 || used == 0;
    if (used > 0) got_some = true;
  }
  return ec;
}

// http_session's status_for, for the errors a parser can produce.
bool mapped(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() ||
         ec == http::error::end_of_stream;
}

std::string_view path_of(const request& req) {
  std::string_view target(req.target().data(), req.target().size());
  return target.substr(0, target.find('?'));
}

response answer(const request& req, http::status status, std::string body) {
  response res{status, req.version()};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  return res;
}

bool authorized(const request& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view scheme = "Bearer ";
  return value.substr(0, scheme.size()) == scheme && value.substr(scheme.size()) == push_key;
}

// The parameters the held and history endpoints read, each checked as they check it.
http::status query_endpoint(const request& req, std::string_view path) {
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  bool since_ok = true, other_ok = true;
  auto topic = q.get("topic");
  if (topic && !topic->empty() && !proto::valid_topic(*topic)) return http::status::bad_request;
  if (topic) HERALD_FUZZ_CHECK(topic->empty() || topic->size() <= proto::max_topic_length);
  if (path == "/sse") {
    auto it = req.find("Last-Event-ID");
    if (it != req.end() && !it->value().empty()) {
      proto::query("?id=" + std::string(it->value().data(), it->value().size())).number("id", since_ok);
    }
  }
  q.number("since", since_ok);
  auto limit = q.number(path == "/poll" ? "timeout" : "limit", other_ok);
  if (!since_ok || !other_ok || (limit && *limit == 0)) return http::status::bad_request;
  // With no tokens file or JWT key a token is its user id, held to the name rule.
  if (auto token = q.get("token")) {
    if (!proto::valid_name(*token)) return http::status::unauthorized;
  }
  q.get("epoch");
  q.get("event");
  if (path == "/api/v1/presence" && topic && !proto::matches_any({"room:*"}, *topic)) return http::status::forbidden;
  return http::status::ok;
}

http::status body_endpoint(const request& req, std::string_view path, proto::codec& codec) {
  if (req.method() != http::verb::post) return http::status::method_not_allowed;
  if (path != "/api/v1/client-publish" && !authorized(req)) return http::status::unauthorized;
  bool ok = false;
  if (path == "/push") ok = bool(codec.parse_compat_push(req.body()));
  if (path == "/api/v1/publish") ok = bool(codec.parse_publish(req.body()));
  if (path == "/api/v1/push") ok = bool(codec.parse_user_push(req.body()));
  if (path == "/api/v1/client-publish") ok = bool(codec.parse_client_publish(req.body()));
  return ok ? http::status::ok : http::status::bad_request;
}

response handle(const request& req, proto::codec& codec) {
  const auto path = path_of(req);
  if (beast::websocket::is_upgrade(req)) {
    return answer(req, path == "/ws" ? http::status::switching_protocols : http::status::not_found, "");
  }
  if (path == "/poll" || path == "/sse" || path == "/api/v1/history" || path == "/api/v1/presence") {
    return answer(req, query_endpoint(req, path), "");
  }
  if (path == "/push" || path.starts_with("/api/v1/")) return answer(req, body_endpoint(req, path, codec), "");
  return answer(req, http::status::not_found, "not found");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static proto::codec codec;
  wire in{std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), 0,
          0x6c078965u ^ (static_cast<std::uint32_t>(data[0]) * 0x01010101u)};
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(max_header));
    parser.body_limit(max_body);
    const auto ec = read_request(in, buffer, parser);
    if (ec) {
      HERALD_FUZZ_CHECK(mapped(ec));
      return 0;
    }
    request req = parser.release();
    HERALD_FUZZ_CHECK(req.body().size() <= max_body);
    auto res = handle(req, codec);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    HERALD_FUZZ_CHECK(!out.str().empty());
    // An upgrade leaves for ws_session; a close ends the connection.
    if (beast::websocket::is_upgrade(req) || !req.keep_alive()) return 0;
  }
}
