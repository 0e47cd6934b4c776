#include "test_node.hpp"

#include "util/log.hpp"

namespace herald::test {

config::options test_options() {
  config::options o;
  o.listen_host = "127.0.0.1";
  o.listen_port = 0;
  o.threads = 2;
  o.drain_timeout = config::seconds_d(3);
  // Tests that drain close everything at once unless they ask otherwise.
  o.drain_grace = config::seconds_d(0);
  o.drain_spread = config::seconds_d(0);
  o.log_level = "warn";
  return o;
}

test_node::test_node(config::options opts, api::token_auth auth) {
  util::set_log_level(opts.log_level);
  server_ = std::make_unique<herald::server>(std::move(opts), std::move(auth));
  port_ = server_->start();
}

test_node::~test_node() { server_->stop(); }

}  // namespace herald::test
