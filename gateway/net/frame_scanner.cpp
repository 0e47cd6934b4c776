#include "net/frame_scanner.hpp"

#include <algorithm>
#include <limits>

namespace herald::net {

std::size_t frame_scanner::header_size(std::uint8_t b1) {
  const auto len7 = b1 & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
}

std::uint8_t frame_scanner::byte_at(std::size_t i, std::span<const std::uint8_t> next) const {
  return i < have_ ? hdr_[i] : next[i - have_];
}

std::size_t frame_scanner::limit(std::span<const std::uint8_t> next, std::size_t want) const {
  if (left_ > 0) return static_cast<std::size_t>(std::min<std::uint64_t>(want, left_));
  const std::size_t have = have_;
  const std::size_t known = have + next.size();
  // Until the header's size is known, read no more than its two fixed bytes.
  if (known < 2) return std::min(want, 2 - have);
  const auto h = header_size(byte_at(1, next));
  if (known < h) return std::min(want, h - have);
  std::uint64_t payload = byte_at(1, next) & 0x7f;
  if (payload >= 126) {
    const std::size_t ext = payload == 126 ? 2 : 8;
    payload = 0;
    for (std::size_t i = 0; i < ext; ++i) payload = (payload << 8) | byte_at(2 + i, next);
  }
  // A length near 2^64 must not wrap the sum to a few bytes (or to none: the
  // reader would spin on empty reads); Beast refuses such a frame once it has
  // the whole header (it is over read_message_max).
  const std::uint64_t header_left = h - have;
  const std::uint64_t rest = payload > std::numeric_limits<std::uint64_t>::max() - header_left
                                 ? std::numeric_limits<std::uint64_t>::max()
                                 : header_left + payload;
  return static_cast<std::size_t>(std::min<std::uint64_t>(want, rest));
}

void frame_scanner::consume(const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    if (left_ > 0) {
      const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(n, left_));
      left_ -= k;
      p += k;
      n -= k;
      continue;
    }
    hdr_[have_++] = *p++;
    --n;
    if (have_ < 2 || have_ < header_size(hdr_[1])) continue;
    std::uint64_t payload = hdr_[1] & 0x7f;
    if (payload >= 126) {
      const std::size_t ext = payload == 126 ? 2 : 8;
      payload = 0;
      for (std::size_t i = 0; i < ext; ++i) payload = (payload << 8) | hdr_[2 + i];
    }
    left_ = payload;  // a frame with no payload leaves us at the next boundary
    have_ = 0;
  }
}

}  // namespace herald::net
