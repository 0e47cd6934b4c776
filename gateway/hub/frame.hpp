#pragma once
// Frames: an encoded server-to-client message, built once and shared by every
// receiver, with the few facts receivers need besides its bytes.
//
// A fan-out crosses shards as a shared_frame (one atomic reference per shard).
// Each shard wraps it once in a local_frame, whose copies use a plain,
// non-atomic count: delivering to ten thousand connections of one shard
// touches no cache line that another core writes.
#include <cstdint>
#include <memory>
#include <string>

#include <boost/smart_ptr/local_shared_ptr.hpp>

namespace herald::hub {

enum class frame_kind : std::uint8_t {
  topic_message,  // {"op":"message","topic":..,"offset":..}: has topic and offset
  user_message,   // a push to a user: has user (in `topic`), offset, event
  presence,       // join/leave: has topic, no offset, not kept in history
  reply,          // an answer to one connection's request
};

struct message {
  std::string text;         // what a WebSocket receiver gets, byte for byte
  frame_kind kind = frame_kind::reply;
  std::string topic;        // topic name, or the user for user_message
  std::uint64_t offset = 0; // 0: not part of a topic's sequence
  std::uint64_t prev = 0;   // the key's previous offset, when known (fleet: from the stream; 0 unknown)
  std::int64_t ts_ms = 0;   // server time of publication, Unix ms
  std::string event;        // compat pushes: the wserver event
  std::string data;         // the JSON payload (long-poll/SSE re-encode from it)
};

using shared_frame = std::shared_ptr<const message>;
using local_frame = boost::local_shared_ptr<const message>;

inline shared_frame make_frame(message m) { return std::make_shared<const message>(std::move(m)); }

// A frame that is only its bytes (replies, compat messages without history).
inline shared_frame make_frame(std::string text) {
  message m;
  m.text = std::move(text);
  return make_frame(std::move(m));
}

// Wraps a cross-shard frame for use on one shard; the local copies keep the
// shared one alive through the deleter.
inline local_frame localize(const shared_frame& f) {
  return local_frame(f.get(), [keep = f](const message*) {});
}

}  // namespace herald::hub
