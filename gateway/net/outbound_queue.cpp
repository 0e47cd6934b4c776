#include "net/outbound_queue.hpp"

#include <cassert>
#include <new>
#include <utility>

namespace herald::net {

void outbound_queue::release::operator()(state* s) const noexcept {
  s->~state();
  frame_pool::deallocate(s, sizeof(state));
}

bool outbound_queue::push(hub::local_frame f, const queue_limits& limits) {
  const std::size_t n = f->text.size();
  if (size() >= limits.max_messages) return false;
  if (!empty() && s_->bytes + n > limits.max_bytes) return false;
  if (!s_) s_.reset(new (frame_pool::allocate(sizeof(state))) state());
  if (s_->head > 0 && s_->items.size() == s_->items.capacity()) compact();
  s_->items.push_back(std::move(f));
  s_->bytes += static_cast<std::uint32_t>(n);
  return true;
}

hub::local_frame outbound_queue::pop() {
  assert(!empty());
  hub::local_frame f = std::move(s_->items[s_->head]);
  ++s_->head;
  s_->bytes -= static_cast<std::uint32_t>(f->text.size());
  if (s_->head == s_->items.size()) s_.reset();  // back to the pool: an idle connection keeps nothing
  return f;
}

std::size_t outbound_queue::clear() {
  std::size_t n = size();
  s_.reset();
  return n;
}

// Moves the live frames to the front instead of growing, so a queue that
// never fully drains still stays within its bound.
void outbound_queue::compact() {
  s_->items.erase(s_->items.begin(), s_->items.begin() + s_->head);
  s_->head = 0;
}

}  // namespace herald::net
