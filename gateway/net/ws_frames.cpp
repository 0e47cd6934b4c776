#include "net/ws_frames.hpp"

#include <algorithm>
#include <cstring>

#include "proto/names.hpp"

namespace herald::net {

namespace {

// Codes a peer may send in a close frame (RFC 6455 7.4 and IANA's
// registry): never 1004-1006 or 1015, nothing below 1000, and 1016-2999
// are reserved.
bool sendable_close_code(std::uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

std::uint64_t big_endian(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

}  // namespace

std::size_t encode_frame_header(std::uint8_t (&out)[10], ws_opcode op, std::uint64_t length) {
  out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
  if (length < 126) {
    out[1] = static_cast<std::uint8_t>(length);
    return 2;
  }
  const std::size_t bytes = length <= 0xffff ? 2 : 8;
  out[1] = bytes == 2 ? 126 : 127;
  for (std::size_t i = 0; i < bytes; ++i) out[2 + i] = static_cast<std::uint8_t>(length >> (8 * (bytes - 1 - i)));
  return 2 + bytes;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string p;
  p.reserve(2 + reason.size());
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return p;
}

ws_frame_parser::event ws_frame_parser::next(std::span<char>& in) {
  if (failed_) {
    in = {};
    return {};
  }
  // A zero-length frame completes with no byte left in `in`.
  while (!in.empty() || (in_frame_ && left_ == 0)) {
    if (!in_frame_) {
      if (!take_header(in)) return {};
      if (auto e = start_frame(); e.what != kind::none) return e;
    }
    if (auto e = payload(in); e.what != kind::none) return e;
  }
  return {};
}

ws_frame_parser::event ws_frame_parser::fail(std::uint16_t code) {
  failed_ = true;
  partial_.reset();
  control_.reset();
  event e;
  e.what = kind::error;
  e.code = code;
  return e;
}

bool ws_frame_parser::take_header(std::span<char>& in) {
  auto size = [this] {
    const std::size_t ext = (hdr_[1] & 0x7f) == 126 ? 2 : (hdr_[1] & 0x7f) == 127 ? 8 : 0;
    return 2 + ext + ((hdr_[1] & 0x80) ? 4 : 0);
  };
  while (!in.empty()) {
    const std::size_t need = have_ < 2 ? 2 : size();
    const std::size_t take = std::min(need - have_, in.size());
    std::memcpy(hdr_ + have_, in.data(), take);
    have_ = static_cast<std::uint8_t>(have_ + take);
    in = in.subspan(take);
    if (have_ >= 2 && have_ == size()) return true;
  }
  return false;
}

ws_frame_parser::event ws_frame_parser::start_frame() {
  const std::uint8_t b0 = hdr_[0];
  const std::uint8_t b1 = hdr_[1];
  have_ = 0;
  if ((b0 & 0x70) != 0 || (b1 & 0x80) == 0) return fail(1002);  // extension bits; unmasked
  op_ = b0 & 0x0f;
  fin_ = (b0 & 0x80) != 0;
  std::uint64_t len = b1 & 0x7f;
  std::size_t at = 2;
  if (len == 126) {
    len = big_endian(hdr_ + 2, 2);
    at = 4;
    if (len < 126) return fail(1002);
  } else if (len == 127) {
    len = big_endian(hdr_ + 2, 8);
    at = 10;
    if (len >> 63 || len <= 0xffff) return fail(1002);
  }
  std::memcpy(mask_, hdr_ + at, 4);
  mask_at_ = 0;
  const bool data = op_ < 8;
  if (op_ == 0 ? msg_op_ == 0 : op_ <= 2 ? msg_op_ != 0 : op_ < 8 || op_ > 10) return fail(1002);
  if (!data && (!fin_ || len > 125)) return fail(1002);
  if (data && !ignore_data_) {
    if (len > max_message_ - msg_size_) return fail(1009);
    msg_size_ += static_cast<std::uint32_t>(len);
  }
  if (op_ == 1 || op_ == 2) msg_op_ = op_;
  left_ = len;
  in_frame_ = true;
  return {};
}

ws_frame_parser::event ws_frame_parser::payload(std::span<char>& in) {
  const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size()));
  char* p = in.data();
  const bool data = op_ < 8;
  const bool skip = data && ignore_data_;
  if (!skip) unmask(p, take);
  left_ -= take;
  in = in.subspan(take);
  const std::string_view chunk(p, take);
  auto& gathered = data ? partial_ : control_;
  if (!skip && (left_ > 0 || (data && !fin_))) {  // more of it to come
    if (!gathered) gathered = std::make_unique<std::string>();
    gathered->append(chunk);
  }
  if (left_ > 0) return {};
  in_frame_ = false;
  if (data && !fin_) return {};
  event e;
  if (data) {
    e.text = msg_op_ == 1;  // a message's type is its first frame's
    msg_op_ = 0;
    msg_size_ = 0;
  }
  if (skip) {
    partial_.reset();  // what the message gathered before ignore_data()
    return {};
  }
  e.owned = std::move(gathered);
  if (e.owned) e.owned->append(chunk);
  const std::string_view whole = e.owned ? std::string_view(*e.owned) : chunk;  // before e moves
  return finish_frame(whole, std::move(e));
}

ws_frame_parser::event ws_frame_parser::finish_frame(std::string_view bytes, event e) {
  e.payload = bytes;
  switch (static_cast<ws_opcode>(op_)) {
    case ws_opcode::ping: e.what = kind::ping; return e;
    case ws_opcode::pong: e.what = kind::pong; return e;
    case ws_opcode::close: return finish_close(bytes, std::move(e));
    default:
      e.what = kind::message;
      return e;
  }
}

ws_frame_parser::event ws_frame_parser::finish_close(std::string_view bytes, event e) {
  e.what = kind::close;
  e.payload = {};
  if (bytes.empty()) return e;
  if (bytes.size() == 1) return fail(1002);
  e.code = static_cast<std::uint16_t>(big_endian(reinterpret_cast<const std::uint8_t*>(bytes.data()), 2));
  if (!sendable_close_code(e.code)) return fail(1002);
  e.payload = bytes.substr(2);
  if (!proto::valid_utf8(e.payload)) return fail(1007);
  return e;
}

void ws_frame_parser::unmask(char* p, std::size_t n) {
  // Eight bytes at a time with the mask rotated to where this piece starts.
  std::uint8_t m[8];
  for (std::size_t i = 0; i < 8; ++i) m[i] = mask_[(mask_at_ + i) & 3];
  std::uint64_t word;
  std::memcpy(&word, m, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= word;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ m[i & 7]);
  mask_at_ = static_cast<std::uint8_t>((mask_at_ + n) & 3);
}

}  // namespace herald::net
