#include "workload.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "json_writer.hpp"
#include "payload.hpp"

namespace herald_bench {

std::string user_name(std::uint64_t user_index) {
  std::string name{"u"};  // not "u" + to_string(): g++ 12 warns falsely (-Wrestrict)
  name += std::to_string(user_index);
  return name;
}

std::size_t target_of_connection(std::uint64_t index, std::size_t targets) {
  return targets > 1 ? static_cast<std::size_t>(index % targets) : 0;
}

std::uint64_t user_of_push(std::uint64_t seq, std::uint64_t users) {
  return users ? seq % users : 0;
}

std::uint64_t connections_of_user(std::uint64_t user, std::uint64_t connections,
                                  std::uint64_t users) {
  if (users == 0 || user >= users) return 0;
  return connections / users + (user < connections % users ? 1 : 0);
}

std::uint64_t expected_recipients(const bench_options& o, std::uint64_t seq) {
  if (o.kind == scenario::fanout || o.held()) return o.connections;
  const auto users = o.effective_users();
  return connections_of_user(user_of_push(seq, users), o.connections, users);
}

std::uint64_t expected_deliveries(const bench_options& o, std::uint64_t count) {
  if (o.kind == scenario::fanout || o.held()) return count * o.connections;
  const auto users = o.effective_users();
  // Whole rounds over all users deliver to every connection once per round.
  std::uint64_t total = (count / users) * o.connections;
  for (std::uint64_t s = count - count % users; s < count; ++s)
    total += connections_of_user(user_of_push(s, users), o.connections, users);
  return total;
}

namespace {

std::string replace_user(std::string_view path, std::string_view user) {
  std::string out{path};
  for (auto pos = out.find(user_placeholder); pos != std::string::npos;
       pos = out.find(user_placeholder, pos + user.size()))
    out.replace(pos, user_placeholder.size(), user);
  return out;
}

std::string connection_user(const bench_options& o, std::uint64_t connection) {
  return o.kind == scenario::fanout ? std::string{fanout_name} : user_name(connection % o.effective_users());
}

std::string push_user(const bench_options& o, std::uint64_t seq) {
  return o.kind == scenario::fanout ? std::string{fanout_name} : user_name(user_of_push(seq, o.effective_users()));
}

}  // namespace

bool has_user_placeholder(std::string_view path) {
  return path.find(user_placeholder) != std::string_view::npos;
}

std::string connection_path(const bench_options& o, std::string_view path, std::uint64_t connection) {
  if (!has_user_placeholder(path)) return std::string{path};
  return replace_user(path, connection_user(o, connection));
}

std::string push_target(const bench_options& o, std::string_view target, std::uint64_t seq) {
  if (!has_user_placeholder(target)) return std::string{target};
  return replace_user(target, push_user(o, seq));
}

std::vector<std::string> register_frames(const bench_options& o, std::uint64_t connection) {
  if (!o.register_frame) return {};
  const bool fan = o.kind == scenario::fanout;
  if (fan && o.api == api_kind::native) {
    return {R"({"op":"subscribe","topic":")" + std::string{fanout_name} + R"(","id":1})"};
  }
  const std::string user = connection_user(o, connection);
  json_writer frame;
  frame.begin_object().field("token", user).field("event", o.event).end_object();
  std::vector<std::string> frames{frame.str()};
  if (o.register_ack) frames.emplace_back(R"({"op":"ping","id":7})");
  return frames;
}

std::string_view register_ack_marker(const bench_options& o) {
  if (!o.register_frame) return {};
  if (o.kind == scenario::fanout && o.api == api_kind::native) return "\"subscribed\"";
  return o.register_ack ? std::string_view{"\"pong\""} : std::string_view{};
}

std::string_view held_topic(const bench_options& o) {
  return o.kind == scenario::sse ? "sse" : "lp";
}

std::string poll_target(const bench_options& o, std::optional<std::uint64_t> since) {
  // The starting position comes from history: a /poll without `since` waits
  // for the next message. The answer has the poll's shape.
  if (!since) return "/api/v1/history?topic=" + std::string{held_topic(o)} + "&limit=1";
  return "/poll?topic=" + std::string{held_topic(o)} + "&since=" + std::to_string(*since) +
         "&timeout=" + std::to_string(o.poll_timeout_s);
}

std::string sse_target(const bench_options& o) {
  return "/sse?topic=" + std::string{held_topic(o)};
}

std::string push_payload(const bench_options& o, std::uint64_t seq, std::int64_t intended_ns, bool warmup) {
  const stamp s{seq, intended_ns, warmup};
  return o.held() ? encode_json_stamp(s, o.message_size) : encode_payload(s, o.message_size);
}

std::string push_body(const bench_options& o, std::uint64_t seq, std::string_view payload) {
  // The JSON stamp is a value of its own, so it goes in unquoted.
  if (o.held()) return R"({"topic":")" + std::string{held_topic(o)} + R"(","data":)" + std::string{payload} + "}";
  if (o.raw_push_body) return std::string{payload};
  const bool fan = o.kind == scenario::fanout;
  const std::string user = push_user(o, seq);
  json_writer body;
  body.begin_object();
  if (o.api == api_kind::compat) {
    body.field("userId", user).field("event", o.event).field("message", payload);
  } else if (fan) {
    body.field("topic", fanout_name).field("data", payload);
  } else {
    body.field("user", user).field("data", payload);
  }
  body.end_object();
  return body.str();
}

std::optional<std::uint64_t> parse_recipients(std::string_view reply_body) {
  // Nchan's publisher reply starts with "queued messages: Q": its subscriber line counts.
  constexpr std::string_view nchan_subscribers = "active subscribers: ";
  if (const auto at = reply_body.find(nchan_subscribers); at != std::string_view::npos)
    reply_body.remove_prefix(at + nchan_subscribers.size());
  const auto digit = std::find_if(reply_body.begin(), reply_body.end(),
                                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (digit == reply_body.end()) return std::nullopt;
  std::uint64_t n = 0;
  const char* first = reply_body.data() + (digit - reply_body.begin());
  if (std::from_chars(first, reply_body.data() + reply_body.size(), n).ec != std::errc{})
    return std::nullopt;
  return n;
}

}  // namespace herald_bench

namespace herald_bench {

std::uint64_t measured_push_count(const bench_options& o) {
  if (o.kind == scenario::idle) return 0;
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(o.effective_rate() * o.duration_s)));
}

std::uint64_t warmup_push_count(const bench_options& o) {
  if (o.kind == scenario::idle) return 0;
  return static_cast<std::uint64_t>(std::llround(o.effective_rate() * o.warmup_s));
}

}  // namespace herald_bench
