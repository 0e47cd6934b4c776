#define BOOST_TEST_MODULE herald integration tests
#include <csignal>

#include <boost/test/unit_test.hpp>

// Peers that vanish mid-write must not kill the test process.
struct ignore_sigpipe {
  ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }
};
BOOST_GLOBAL_FIXTURE(ignore_sigpipe);
