#pragma once
// Reads what Herald sends to HTTP clients of a topic: a long-poll answer
//   {"topic":T,"epoch":E,"offset":LAST,"recovered":B,"messages":[<envelope>...]}
// and the data of an SSE event, one envelope
//   {"op":"message","topic":T,"offset":N,"epoch":E,"ts":MS,"data":<json>}
// (or {"op":"subscribed",...,"offset":N} first). A message's stamp is the JSON object
// encode_json_stamp() made ({"t":NS,"seq":I}); data of any other shape has no stamp.
//
// Errors (not JSON, fields missing or of the wrong type) come back as nullopt plus a
// short text; they are never thrown.
//
// Thread contract: pure functions; each thread parses with its own thread_local
// simdjson parser, so calls from any thread are safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "payload.hpp"

namespace herald_bench {

struct envelope {
  std::string op;                // "message", "subscribed", ...
  std::uint64_t offset = 0;      // the message's offset (subscribed: the start offset)
  std::optional<stamp> stamped;  // nullopt: data is not a harness stamp
};

struct poll_answer {
  std::uint64_t offset = 0;  // the `since` of the next poll
  bool recovered = true;     // false: the server could not continue from our since
  std::vector<envelope> messages;
};

std::optional<envelope> parse_envelope(std::string_view json, std::string& error);

std::optional<poll_answer> parse_poll_answer(std::string_view json, std::string& error);

}  // namespace herald_bench
