#pragma once
// subjects: how Herald's keys map to NATS subjects. Pure functions.
//
// A key is a topic name, or '\x01' + user id for a user's personal log (see
// api::delivery::user_key). On the bus each key has two subjects:
//   herald.h.<class>.<token>  where a node publishes; the JetStream stream
//                             stores it (the stream's sequence is the offset)
//   herald.d.<class>.<token>  where the stream republishes it once stored,
//                             with Nats-Sequence; nodes with local receivers
//                             of the key subscribe here (interest routing)
// <class> is 't' (topic) or 'u' (user). <token> is the name with every byte
// outside [A-Za-z0-9_:-] written as ~XX (hex), so '.', '*', '>' and spaces,
// which mean something to NATS, never reach a subject.
//
// Thread contract: stateless.
#include <optional>
#include <string>
#include <string_view>

namespace herald::bus {

inline constexpr std::string_view stored_prefix = "herald.h.";
inline constexpr std::string_view delivery_prefix = "herald.d.";
inline constexpr std::string_view stored_wildcard = "herald.h.>";
inline constexpr std::string_view delivery_wildcard = "herald.d.>";
inline constexpr std::string_view count_subject = "herald.n";       // "how many did you deliver?"
inline constexpr std::string_view heartbeat_subject = "herald.fleet.hb";
inline constexpr std::string_view goodbye_subject = "herald.fleet.bye";
inline constexpr std::string_view presence_event_prefix = "herald.p.";  // join/leave, not stored
inline constexpr std::string_view presence_query_subject = "herald.pq";

std::string encode_token(std::string_view name);
std::optional<std::string> decode_token(std::string_view token);

// "t.<token>" or "u.<token>" for `key`.
std::string key_suffix(std::string_view key);
// The key back from a "t.<token>" / "u.<token>" suffix; nothing if malformed.
std::optional<std::string> key_of_suffix(std::string_view suffix);

inline std::string stored_subject(std::string_view key) { return std::string(stored_prefix) + key_suffix(key); }
inline std::string delivery_subject(std::string_view key) { return std::string(delivery_prefix) + key_suffix(key); }

// The key of a subject under `prefix` (e.g. a republished delivery subject).
std::optional<std::string> key_of_subject(std::string_view subject, std::string_view prefix);

}  // namespace herald::bus
