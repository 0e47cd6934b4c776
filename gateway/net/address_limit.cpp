#include "net/address_limit.hpp"

namespace herald::net {

namespace {

boost::asio::ip::address canonical(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

}  // namespace

void address_limit::lease::reset() {
  if (entry_ == nullptr) return;
  entry_->second.owner->release(std::exchange(entry_, nullptr));
}

std::optional<address_limit::lease> address_limit::acquire(const boost::asio::ip::address& a) {
  if (max_ == 0) return lease{};
  std::lock_guard lock(mutex_);
  auto [it, added] = open_.try_emplace(canonical(a), slot{this, 0});
  if (it->second.open >= max_) return std::nullopt;
  ++it->second.open;
  return lease{&*it};
}

void address_limit::release(entry* e) {
  std::lock_guard lock(mutex_);
  if (--e->second.open > 0) return;
  const auto key = e->first;  // erase() must not read the key of the node it frees
  open_.erase(key);
}

std::size_t address_limit::open_from(const boost::asio::ip::address& a) const {
  std::lock_guard lock(mutex_);
  auto it = open_.find(canonical(a));
  return it == open_.end() ? 0 : it->second.open;
}

std::size_t address_limit::addresses() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

}  // namespace herald::net
