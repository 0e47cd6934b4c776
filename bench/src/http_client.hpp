#pragma once
// A keep-alive HTTP/1.1 client connection for pushes and metrics scrapes.
//
// request() connects lazily and reuses the connection while the server keeps it open.
// A failed request is reported in the reply (ok == false) and drops the connection;
// the next request reconnects. It never retries by itself: a retried POST could push
// twice.
//
// Thread contract: shard-local to the executor it was made with; one request at a
// time per client (use several clients for concurrency).
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "url.hpp"

namespace herald_bench {

struct http_reply {
  bool ok = false;        // a complete response arrived (any status)
  unsigned status = 0;
  std::string body;
  std::string error;      // transport error when !ok
};

class http_client {
 public:
  http_client(boost::asio::any_io_executor executor, url server);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  boost::asio::awaitable<http_reply> post(std::string_view target, std::string body);
  boost::asio::awaitable<http_reply> get(std::string_view target);
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace herald_bench
