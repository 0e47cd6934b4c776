#pragma once
// Who is who in a run: which user each connection registers as, which user each push
// goes to, and the exact frames and request bodies the harness sends.
//
// Connection i (a global index over all workers) belongs to user "u<i % users>";
// push number s goes to user "u<s % users>". In fanout every connection belongs to
// user "fan" (compat) or subscribes to topic "fan" (native); in longpoll and sse every
// client waits on topic "lp" or "sse", where every publish goes. Because the mapping is
// arithmetic, the coordinator knows how many deliveries each push must produce.
//
// Thread contract: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"

namespace herald_bench {

inline constexpr std::string_view fanout_name = "fan";

// longpoll and sse: every client waits on one topic, every publish goes to it.
std::string_view held_topic(const bench_options& o);

// Request target of a long-poll (without `since`: the first request, a history read that
// answers at once with the topic's offset) or of an SSE stream.
std::string poll_target(const bench_options& o, std::optional<std::uint64_t> since);
std::string sse_target(const bench_options& o);

// What push number `seq` carries: the text stamp, or its JSON form for longpoll/sse.
std::string push_payload(const bench_options& o, std::uint64_t seq, std::int64_t intended_ns, bool warmup);

std::string user_name(std::uint64_t user_index);
// Which of `targets` WebSocket targets (--targets) connection `index` opens to:
// round-robin, so every node gets an even share of the connections (of every worker).
std::size_t target_of_connection(std::uint64_t index, std::size_t targets);
std::uint64_t user_of_push(std::uint64_t seq, std::uint64_t users);
std::uint64_t connections_of_user(std::uint64_t user, std::uint64_t connections, std::uint64_t users);

// Connections push number `seq` must reach if every connection is open: what the
// server's "message sent to N clients" / {"delivered":N} should say.
std::uint64_t expected_recipients(const bench_options& o, std::uint64_t seq);

// Deliveries that pushes [0, count) must produce if every connection is open.
std::uint64_t expected_deliveries(const bench_options& o, std::uint64_t count);

// "{user}" in a WebSocket path or push target stands for the user of the connection or
// the push (per-user channels, e.g. Nchan's /sub/<id> and /pub/<id>); without it the
// path is returned unchanged.
inline constexpr std::string_view user_placeholder = "{user}";
bool has_user_placeholder(std::string_view path);
std::string connection_path(const bench_options& o, std::string_view path, std::uint64_t connection);
std::string push_target(const bench_options& o, std::string_view target, std::uint64_t seq);

// Text frames a connection sends right after the upgrade, in order (none with --no-register).
std::vector<std::string> register_frames(const bench_options& o, std::uint64_t connection);

// Substring of the server's frame that confirms registration; empty: do not wait.
std::string_view register_ack_marker(const bench_options& o);

// Body of the HTTP request for push number `seq` carrying `payload` (the payload itself
// with --push-body raw).
std::string push_body(const bench_options& o, std::uint64_t seq, std::string_view payload);

// Recipients the server claims in its reply ("message sent to N clients",
// {"delivered":N}, or Nchan's "active subscribers: N"); nullopt when the body holds
// no number.
std::optional<std::uint64_t> parse_recipients(std::string_view reply_body);

}  // namespace herald_bench

namespace herald_bench {

// Pushes in the measured window and in the warm-up window before it.
std::uint64_t measured_push_count(const bench_options& o);
std::uint64_t warmup_push_count(const bench_options& o);

}  // namespace herald_bench
