#pragma once
// Assembles HTTP/1.1 responses from the chunks a socket delivers: the smallest parser
// that reads Herald's answers (a status line, headers, a Content-Length body), so a
// client holding thousands of requests pays a few dozen bytes each for it.
//
// The harness never pipelines, so bytes after a complete response are an error, and so
// is a chunked body. When a response arrives in one chunk (the usual case) body()
// points into that chunk and nothing is copied; only a split response is buffered.
//
// Thread contract: single owner (one connection).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald_bench {

struct response_head {
  unsigned status = 0;
  std::optional<std::size_t> content_length;
  bool chunked = false;
  std::size_t size = 0;  // bytes of the head, including the blank line
};

// nullopt and error == nullptr: the head is not complete yet.
std::optional<response_head> parse_response_head(std::string_view bytes, const char*& error);

class http_response_reader {
 public:
  enum class state { incomplete, complete, bad };

  // Adds the next chunk. After `complete`, status() and body() describe the response
  // until reset(); body() may point into `chunk`, so use it before reusing that buffer.
  state feed(std::string_view chunk);
  void reset();

  unsigned status() const { return status_; }
  std::string_view body() const { return body_; }
  const char* error() const { return error_; }

 private:
  state parse(std::string_view bytes);

  std::string pending_;  // a response split over chunks, until it is complete
  std::string_view body_;
  const char* error_ = nullptr;
  unsigned status_ = 0;
};

}  // namespace herald_bench
