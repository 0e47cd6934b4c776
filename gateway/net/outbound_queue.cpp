#include "net/outbound_queue.hpp"

#include <cassert>
#include <utility>

namespace herald::net {

bool outbound_queue::push(hub::local_frame f, const queue_limits& limits) {
  const std::size_t n = f->text.size();
  if (size() >= limits.max_messages) return false;
  if (!empty() && bytes_ + n > limits.max_bytes) return false;
  if (head_ > 0 && items_.size() == items_.capacity()) compact();
  items_.push_back(std::move(f));
  bytes_ += static_cast<std::uint32_t>(n);
  return true;
}

hub::local_frame outbound_queue::pop() {
  assert(!empty());
  hub::local_frame f = std::move(items_[head_]);
  ++head_;
  bytes_ -= static_cast<std::uint32_t>(f->text.size());
  if (empty()) {
    items_ = {};  // back to the pool: an idle connection keeps no storage
    head_ = 0;
  }
  return f;
}

std::size_t outbound_queue::clear() {
  std::size_t n = size();
  items_ = {};
  head_ = 0;
  bytes_ = 0;
  return n;
}

// Moves the live frames to the front instead of growing, so a queue that
// never fully drains still stays within its bound.
void outbound_queue::compact() {
  items_.erase(items_.begin(), items_.begin() + head_);
  head_ = 0;
}

}  // namespace herald::net
