#pragma once
// Naming rules for topics, users and events. Pure; thread-safe.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace herald::proto {

inline constexpr std::size_t max_topic_length = 200;

// What every refusal of a topic name says, wherever the name arrived.
inline constexpr std::string_view topic_rule =
    "topic names are 1-200 bytes of [A-Za-z0-9_.:@/=+-], optionally starting with '$' (private) and ending with "
    "'#' and a user id of the same characters (user-limited)";
inline constexpr std::size_t max_name_length = 256;

// A topic name is 1..200 bytes of [A-Za-z0-9_.:@/=+-], optionally with a
// leading '$' (a private topic) and one '#' before a non-empty last part (a
// user-limited topic: "notes#alice"), both as Centrifugo spells them. The set
// keeps names safe inside URLs (where '#' is written %23), Prometheus labels
// and the NATS subject mapping (bus/subjects escapes '$' and '#'), and
// leaves '*' and '>' free for patterns.
bool valid_topic(std::string_view topic);

// "$news" is private: subscribing needs a grant (auth::channel_policy).
bool private_topic(std::string_view topic);

// The user a "notes#alice" topic is limited to ("alice"), or empty.
std::string_view topic_owner(std::string_view topic);

// A user id or event name (wserver compat) is any 1..256 bytes without
// control characters: the compat API never restricted them further.
bool valid_name(std::string_view name);

// True when `text` is valid UTF-8 (simdjson's validator: GB/s, cheap per
// message).
bool valid_utf8(std::string_view text);

// Shell-style pattern with '*' matching any run of bytes ("room:*").
bool glob_match(std::string_view pattern, std::string_view name);

// Whether any of `patterns` matches `name` (--client-publish, --presence).
bool matches_any(const std::vector<std::string>& patterns, std::string_view name);

}  // namespace herald::proto
