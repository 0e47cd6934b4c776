#pragma once
// Hang-up detection for held HTTP requests (long-polls, SSE streams): a
// vanished client is released at once instead of at its timeout.
//
// The held request waits on one timer (`wake`); watch_hangup() arms a
// read-readiness wait on the socket whose handler, on EOF or error, sets
// `hung_up` and cancels that timer. A peer that sends data instead
// (pipelining) is no longer watched. On TLS the readiness may be a record
// that is no data (a KeyUpdate, a partial record): the watch is armed again.
// Completion handlers, not
// awaitable_operators: g++ 12 miscompiles `co_await (a || b)` (a coroutine
// taking awaitables by value inside a co_await expression).
//
// Thread contract: shard-local.
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "net/transport.hpp"

namespace herald::net {

struct waker {
  explicit waker(executor_t ex) : wake(ex) {}
  asio::steady_timer wake;
  bool hung_up = false;
};

// The handler keeps `w` alive; cancel the socket's operations (or close it)
// when done holding, so the handler runs and lets go.
void watch_hangup(transport& t, std::shared_ptr<waker> w);

}  // namespace herald::net
