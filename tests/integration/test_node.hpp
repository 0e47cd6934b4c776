#pragma once
// test_node: a real herald node in this process, listening on a free
// loopback port, with settings small enough for tests.
#include <cstdint>
#include <memory>
#include <string>

#include "config/options.hpp"
#include "server.hpp"

namespace herald::test {

config::options test_options();

class test_node {
 public:
  explicit test_node(config::options opts = test_options(), api::token_auth auth = {});
  ~test_node();
  std::uint16_t port() const { return port_; }
  herald::server& server() { return *server_; }

 private:
  std::unique_ptr<herald::server> server_;
  std::uint16_t port_ = 0;
};

}  // namespace herald::test
