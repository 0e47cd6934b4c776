#include "http_response_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace herald_bench {
namespace {

constexpr std::size_t max_head_bytes = 8192;
constexpr std::size_t max_body_bytes = 1 << 24;

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// One "Name: value" line into the head; false when a value cannot be understood.
bool read_header(std::string_view line, response_head& head) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  const auto name = line.substr(0, colon);
  const auto value = trim(line.substr(colon + 1));
  if (same_name(name, "content-length")) {
    std::size_t n = 0;
    auto r = std::from_chars(value.data(), value.data() + value.size(), n);
    if (r.ec != std::errc{} || r.ptr != value.data() + value.size()) return false;
    head.content_length = n;
  } else if (same_name(name, "transfer-encoding")) {
    head.chunked = value.find("chunked") != std::string_view::npos;
  }
  return true;
}

}  // namespace

std::optional<response_head> parse_response_head(std::string_view bytes, const char*& error) {
  error = nullptr;
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() > max_head_bytes) error = "response head too large";
    return std::nullopt;
  }
  response_head head;
  head.size = end + 4;
  auto rest = bytes.substr(0, end + 2);
  auto eol = rest.find("\r\n");
  const auto status_line = rest.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 ||
      std::from_chars(status_line.data() + 9, status_line.data() + 12, head.status).ec != std::errc{}) {
    error = "bad status line";
    return std::nullopt;
  }
  for (rest.remove_prefix(eol + 2); !rest.empty(); rest.remove_prefix(eol + 2)) {
    eol = rest.find("\r\n");
    if (!read_header(rest.substr(0, eol), head)) {
      error = "bad response header";
      return std::nullopt;
    }
  }
  return head;
}

http_response_reader::state http_response_reader::feed(std::string_view chunk) {
  if (pending_.empty()) {
    const auto s = parse(chunk);
    if (s == state::incomplete) pending_.assign(chunk);
    return s;
  }
  pending_.append(chunk);
  return parse(pending_);
}

http_response_reader::state http_response_reader::parse(std::string_view bytes) {
  const auto head = parse_response_head(bytes, error_);
  if (error_) return state::bad;
  if (!head) return state::incomplete;
  if (head->chunked || !head->content_length || *head->content_length > max_body_bytes) {
    error_ = "response without a usable Content-Length";
    return state::bad;
  }
  const auto total = head->size + *head->content_length;
  if (bytes.size() < total) return state::incomplete;
  if (bytes.size() > total) {
    error_ = "bytes after the response (the harness never pipelines)";
    return state::bad;
  }
  status_ = head->status;
  body_ = bytes.substr(head->size);
  return state::complete;
}

void http_response_reader::reset() {
  // Gives back the memory of a large split answer: a held request waits with none.
  if (pending_.capacity() > 1024) std::string{}.swap(pending_);
  pending_.clear();
  body_ = {};
  status_ = 0;
}

}  // namespace herald_bench
