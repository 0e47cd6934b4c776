#pragma once
// The one boundary where unexpected exceptions are caught: every coroutine is
// spawned with this completion handler, which logs what escaped. Expected
// failures (a peer that vanished, a bad frame) are error codes handled in the
// coroutines themselves and never reach it.
#include <exception>
#include <string>

#include "util/log.hpp"

namespace herald::net {

struct log_unexpected {
  const char* where;
  void operator()(std::exception_ptr e) const {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      util::log(util::log_level::error, "unexpected exception", {{"where", where}, {"what", x.what()}});
    } catch (...) {
      util::log(util::log_level::error, "unexpected exception", {{"where", where}});
    }
  }
};

}  // namespace herald::net
