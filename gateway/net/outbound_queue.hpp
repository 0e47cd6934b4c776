#pragma once
// outbound_queue: one connection's bounded queue of frames waiting to be
// written. The bound (messages and bytes) is what turns a slow client into a
// "slow consumer" that gets closed, instead of memory that grows without end
// or a fan-out that waits for the slowest reader.
//
// Thread contract: shard-local (owned by one session).
// Memory: an empty queue is one null pointer (8 bytes in every session).
// Its state and storage come from the shard's frame pool (net::frame_pool),
// so giving them back after each drain and taking them again for the next
// frame costs free-list pops, not mallocs, while idle connections keep
// nothing.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "hub/frame.hpp"
#include "net/loop.hpp"

namespace herald::net {

struct queue_limits {
  std::size_t max_messages;
  std::size_t max_bytes;
};

class outbound_queue {
 public:
  // Appends `f`. Returns false (and keeps nothing) when the queue is at its
  // message limit or `f` would take it over the byte limit. A single frame
  // larger than max_bytes is still accepted into an empty queue, so one large
  // message never condemns a connection that keeps up.
  bool push(hub::local_frame f, const queue_limits& limits);

  bool empty() const { return !s_; }
  std::size_t size() const { return s_ ? s_->items.size() - s_->head : 0; }
  std::size_t bytes() const { return s_ ? s_->bytes : 0; }

  // Removes and returns the oldest frame. Precondition: !empty().
  hub::local_frame pop();

  // Drops everything; returns how many frames were dropped.
  std::size_t clear();

 private:
  struct state {
    std::vector<hub::local_frame, pool_allocator<hub::local_frame>> items;
    std::uint32_t head = 0;
    std::uint32_t bytes = 0;
  };
  struct release {
    void operator()(state* s) const noexcept;
  };
  void compact();

  std::unique_ptr<state, release> s_;  // null while empty
};

}  // namespace herald::net
