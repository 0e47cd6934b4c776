#pragma once
// ws_frame_parser: the server side of RFC 6455's framing, for the bytes a
// client sends after the handshake (Beast answers the handshake itself).
//
// Why not Beast's websocket::stream after the handshake: its state is
// ~2.6 KiB per connection, 1.5 KiB of it an inline read buffer, held for
// the connection's whole life; and each write goes through its composed
// write operation. A connection here reads into its shard's scratch buffer
// and keeps, while idle, only this parser's few bytes: a message is copied
// only when it spans reads.
//
// The parser unmasks in place and hands out whole messages and control
// frames; the caller answers them (pong, close, the close code of an
// error). What it refuses, with the code RFC 6455 gives:
//  - 1002: reserved bits (no extension is negotiated), an unknown opcode,
//    an unmasked frame, a fragmented or over-125-byte control frame, a
//    length not in its shortest form or with the top bit set, a
//    continuation with no message started or a new message inside one, a
//    close frame whose payload is 1 byte or whose code may not be sent;
//  - 1007: a close reason that is not UTF-8 (messages' UTF-8 is the
//    caller's check, on the whole message);
//  - 1009: a message over `max_message` bytes, refused at the header that
//    would pass it, before its payload is read.
// After an error every later byte is ignored.
//
// Thread contract: shard-local (one per connection).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace herald::net {

enum class ws_opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// The header of an unmasked server frame (FIN set) of `length` payload
// bytes into `out`; returns its size (2, 4 or 10).
std::size_t encode_frame_header(std::uint8_t (&out)[10], ws_opcode op, std::uint64_t length);

// A close frame's payload: the code (big-endian), then the reason.
std::string close_payload(std::uint16_t code, std::string_view reason);

class ws_frame_parser {
 public:
  enum class kind : std::uint8_t { none, message, ping, pong, close, error };
  struct event {
    kind what = kind::none;
    bool text = false;          // message: a text (not binary) message
    std::uint16_t code = 0;     // close: the peer's code (0: none given); error: the code to close with
    std::string_view payload;   // message, ping, pong: its bytes; close: the reason
    // Holds the payload when it was gathered over several reads; else it
    // points into the caller's buffer.
    std::unique_ptr<std::string> owned;
  };

  // `max_message` over 4 GiB - 1 counts as that (options refuse more).
  explicit ws_frame_parser(std::size_t max_message)
      : max_message_(static_cast<std::uint32_t>(std::min<std::size_t>(max_message, UINT32_MAX))) {}

  // Reads from the front of `in` (unmasking it in place) until one event is
  // complete, and drops what it read from `in`. kind::none: `in` is used
  // up and the event is not complete yet.
  event next(std::span<char>& in);

  // Closing: data frames' payloads are skipped, not gathered (control
  // frames still come out, so the peer's close frame is seen).
  void ignore_data() { ignore_data_ = true; }
  // Between frames, no message half read: a connection idles with nothing
  // held.
  bool idle() const { return have_ == 0 && left_ == 0 && msg_op_ == 0 && !partial_; }
  bool failed() const { return failed_; }

 private:
  event fail(std::uint16_t code);
  // Takes header bytes from `in`; true once the header is whole.
  bool take_header(std::span<char>& in);
  // Checks a whole header and starts its frame; an error event, or none.
  event start_frame();
  event payload(std::span<char>& in);
  event finish_frame(std::string_view bytes, event e);
  event finish_close(std::string_view bytes, event e);
  void unmask(char* p, std::size_t n);

  // What a frame or message spanning reads has gathered so far: the current
  // message's payload, or a control frame's (which may come between a
  // message's fragments, hence its own). Allocated only meanwhile.
  std::unique_ptr<std::string> partial_;
  std::unique_ptr<std::string> control_;
  std::uint64_t left_ = 0;        // payload bytes of the current frame still to come
  // 32 bits each: a session holds a parser, and these 8 bytes put an idle
  // connection in the pool's next smaller class (ws_session's static_assert).
  std::uint32_t max_message_;
  std::uint32_t msg_size_ = 0;    // payload bytes of the current message so far (≤ max_message_)
  std::uint8_t hdr_[14] = {};
  std::uint8_t have_ = 0;         // header bytes gathered
  std::uint8_t mask_[4] = {};
  std::uint8_t mask_at_ = 0;      // position in the mask of the next payload byte
  std::uint8_t op_ = 0;           // the current frame's opcode
  std::uint8_t msg_op_ = 0;       // the current message's (text or binary; 0 between messages)
  bool fin_ : 1 = false;
  bool in_frame_ : 1 = false;     // a header was taken and its payload is being read
  bool ignore_data_ : 1 = false;
  bool failed_ : 1 = false;
};

}  // namespace herald::net
