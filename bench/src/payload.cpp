#include "payload.hpp"

#include <charconv>
#include <ctime>

namespace herald_bench {

std::string encode_payload(const stamp& s, std::size_t size) {
  std::string out = s.warmup ? "hw:" : "hb:";
  out += std::to_string(s.seq);
  out += ':';
  out += std::to_string(s.intended_ns);
  out += ':';
  if (out.size() < size) out.append(size - out.size(), 'x');
  return out;
}

std::string encode_json_stamp(const stamp& s, std::size_t size) {
  std::string out = "{\"t\":" + std::to_string(s.intended_ns) + ",\"seq\":" + std::to_string(s.seq);
  if (s.warmup) out += ",\"warmup\":true";
  constexpr std::string_view pad_open = ",\"pad\":\"", pad_close = "\"}";
  const auto bare = out.size() + pad_open.size() + pad_close.size();
  if (bare < size) {
    out += pad_open;
    out.append(size - bare, 'x');
    out += pad_close;
  } else {
    out += '}';
  }
  return out;
}

namespace {

// Parses "<seq>:<ns>:" at the start of `rest`.
std::optional<stamp> parse_numbers(std::string_view rest, bool warmup) {
  stamp s;
  s.warmup = warmup;
  const char* end = rest.data() + rest.size();
  auto r1 = std::from_chars(rest.data(), end, s.seq);
  if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ':') return std::nullopt;
  auto r2 = std::from_chars(r1.ptr + 1, end, s.intended_ns);
  if (r2.ec != std::errc{} || r2.ptr == end || *r2.ptr != ':') return std::nullopt;
  return s;
}

}  // namespace

std::optional<stamp> decode_payload(std::string_view frame) {
  for (std::size_t pos = frame.find('h'); pos != std::string_view::npos;
       pos = frame.find('h', pos + 1)) {
    if (frame.size() - pos < 3 || frame[pos + 2] != ':') continue;
    const char kind = frame[pos + 1];
    if (kind != 'b' && kind != 'w') continue;
    if (auto s = parse_numbers(frame.substr(pos + 3), kind == 'w')) return s;
  }
  return std::nullopt;
}

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace herald_bench
