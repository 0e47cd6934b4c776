#pragma once
// frame_scanner: follows the WebSocket frames a client sends, byte by byte
// as they are read, so the reader can stop exactly at the end of a frame.
// Pure; see frame_bounded_socket for why.
//
// Client frames: 2 header bytes (FIN/opcode, MASK/length), 2 or 8 bytes of
// extended length when the 7-bit length is 126 or 127, 4 bytes of mask key
// when MASK is set, then the payload.
//
// Thread contract: shard-local (one per connection).
#include <cstddef>
#include <cstdint>
#include <span>

namespace herald::net {

class frame_scanner {
 public:
  // How many bytes may be read next without passing the end of the current
  // frame, at most `want`. `next` are the bytes next on the wire as far as
  // known (a peek; may be empty): inside a header they tell its size.
  std::size_t limit(std::span<const std::uint8_t> next, std::size_t want) const;
  // `n` bytes were read.
  void consume(const std::uint8_t* p, std::size_t n);
  // `n` payload bytes were dropped unread; at most what limit() allows
  // outside a header.
  void skip(std::size_t n) { left_ -= n < left_ ? n : left_; }

  bool in_header() const { return left_ == 0; }
  // Between two frames: no byte of a frame has been read but not all of it.
  bool at_boundary() const { return left_ == 0 && have_ == 0; }

 private:
  std::uint8_t byte_at(std::size_t i, std::span<const std::uint8_t> next) const;
  static std::size_t header_size(std::uint8_t b1);

  std::uint64_t left_ = 0;  // payload bytes of the current frame not read yet
  std::uint8_t hdr_[14] = {};
  // Header bytes read so far (at most 14). One byte, not a size_t: the
  // scanner is part of every WebSocket, and with it 24 bytes instead of 32
  // make room for transport's TLS pointer at no cost to plain connections.
  std::uint8_t have_ = 0;
};

}  // namespace herald::net
