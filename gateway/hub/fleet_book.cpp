#include "hub/fleet_book.hpp"

namespace herald::hub {

void* fleet_book::take_handle(const std::string& key) {
  auto it = handles_.find(key);
  if (it == handles_.end()) return nullptr;
  void* h = it->second;
  handles_.erase(it);
  return h;
}

std::vector<std::string> fleet_book::listened_keys() const {
  std::vector<std::string> keys;
  keys.reserve(handles_.size());
  for (const auto& kv : handles_) keys.push_back(kv.first);
  return keys;
}

fleet_book::entry& fleet_book::touch(const std::string& id, clock::time_point now) {
  expire(now);
  auto [it, added] = entries_.try_emplace(id);
  if (added) order_.emplace_back(now, id);
  return it->second;
}

void fleet_book::expire(clock::time_point now) {
  while (!order_.empty() && now - order_.front().first > ttl_) {
    entries_.erase(order_.front().second);
    order_.pop_front();
  }
}

void fleet_book::begin(const std::string& id, clock::time_point now) {
  if (!id.empty()) touch(id, now);
}

std::vector<std::string> fleet_book::finish(const std::string& id, std::size_t count) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  it->second.count = count;
  auto waiters = std::move(it->second.waiters);
  // Answered queries are done with; the order_ slot expires harmlessly.
  if (!waiters.empty()) entries_.erase(it);
  return waiters;
}

fleet_book::lookup fleet_book::answer(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  if (!it->second.count) return {state::delivering, 0};
  lookup l{state::done, *it->second.count};
  entries_.erase(it);
  return l;
}

void fleet_book::wait(const std::string& id, std::string reply_to, clock::time_point now) {
  touch(id, now).waiters.push_back(std::move(reply_to));
}

}  // namespace herald::hub
