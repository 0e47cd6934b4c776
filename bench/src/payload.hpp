#pragma once
// The timestamp a push carries to its receivers.
//
// Text form: "hb:<seq>:<intended_ns>:" (or "hw:" for warm-up pushes) padded with 'x'
// to the requested size. It is plain ASCII without quotes or backslashes, so it can be
// sent as the raw compat message and as a JSON string in the native API, and found
// again inside whatever envelope the server wraps around it.
// intended_ns is the *scheduled* send time on CLOCK_MONOTONIC (coordinated omission).
//
// The topic scenarios read by HTTP clients (longpoll, sse) publish a JSON object
// instead, {"t":<intended_ns>,"seq":<seq>} plus "warmup":true for warm-up publishes and
// a "pad" string up to the requested size; envelope.hpp reads it back.
//
// Thread contract: pure functions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald_bench {

struct stamp {
  std::uint64_t seq = 0;
  std::int64_t intended_ns = 0;
  bool warmup = false;
};

std::string encode_payload(const stamp& s, std::size_t size);

// The JSON object form (a JSON value, to be embedded as "data" unquoted).
std::string encode_json_stamp(const stamp& s, std::size_t size);

// Finds the first stamp anywhere in `frame`; nullopt when there is none.
std::optional<stamp> decode_payload(std::string_view frame);

// CLOCK_MONOTONIC in nanoseconds; the same clock in every process on this host.
std::int64_t monotonic_ns();

}  // namespace herald_bench
