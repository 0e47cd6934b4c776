#pragma once
// subscriber: what the registry delivers to (a WebSocket session, later a
// long-poll or SSE stream). The hub knows nothing of sockets.
#include "hub/frame.hpp"

namespace herald::hub {

// Why a frame was or was not queued; backpressure is a status, not an error.
enum class send_status {
  queued,          // accepted into the subscriber's outbound queue
  dropped_slow,    // the queue was full: the subscriber is being closed as slow
  dropped_closed,  // the subscriber is already closing
};

class subscriber {
 public:
  // Queues `f` for sending. Called on the subscriber's shard only.
  // Must not call back into the registry (the registry may be iterating over
  // its members): a subscriber that must close does so asynchronously.
  virtual send_status deliver(const local_frame& f) = 0;

 protected:
  ~subscriber() = default;
};

}  // namespace herald::hub
