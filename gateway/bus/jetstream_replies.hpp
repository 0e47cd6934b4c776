#pragma once
// jetstream_replies: reads JetStream API answers (publish acks, stream info)
// into plain values. Expected failures (an error object, a malformed
// answer) are values, never exceptions.
//
// The epoch of Herald's history is derived from the stream's creation time:
// every node computes the same one, it survives node and server restarts
// (file storage keeps the stream), and it changes exactly when the stream is
// really lost and created again.
//
// Thread contract: a reply_reader is used by one thread (the bus thread);
// the free functions are stateless.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace herald::bus {

struct js_error {
  int code = 0;      // HTTP-like: 404, 503, ...
  int err_code = 0;  // JetStream's own: 10059 stream not found, ...
  std::string description;
};

struct pub_ack {
  std::uint64_t seq = 0;
  std::optional<js_error> error;  // set: not stored
};

struct stream_state {
  std::string created;  // RFC 3339 creation time of the stream
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::optional<js_error> error;
};

// 16 hex digits, stable for one stream's lifetime.
std::string epoch_of(std::string_view stream_name, std::string_view created);

class reply_reader {
 public:
  pub_ack read_pub_ack(std::string_view body);
  stream_state read_stream_info(std::string_view body);

 private:
  // Parses `body` as an object into `obj`; nothing when it is not one.
  std::optional<js_error> open(std::string_view body, simdjson::ondemand::object& obj);

  simdjson::ondemand::parser parser_;
  simdjson::padded_string buffer_;
  simdjson::ondemand::document doc_;  // the object open() hands out lives in it
};

}  // namespace herald::bus
