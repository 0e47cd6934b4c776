#include "hub/topic_book.hpp"

namespace herald::hub {

topic_log& topic_book::log(const std::string& topic) {
  auto it = logs_.find(topic);
  if (it == logs_.end()) {
    lru_.push_front(topic);
    it = logs_.emplace(topic, entry{topic_log(make_epoch()), lru_.begin()}).first;
  } else {
    touch(it->second);
  }
  return it->second.log;
}

void topic_book::touch(entry& e) { lru_.splice(lru_.begin(), lru_, e.lru); }

void topic_book::append(const std::string& topic, shared_frame f, std::int64_t now_ms) {
  auto& l = log(topic);
  bytes_ = static_cast<std::size_t>(static_cast<std::int64_t>(bytes_) + l.append(std::move(f), limits_, now_ms));
  evict_over_budget(topic);
}

// Forgets whole topics, least recently used first, never the one being
// written (a single topic's history is bounded by max_messages already).
void topic_book::evict_over_budget(const std::string& keep) {
  while (max_bytes_ > 0 && bytes_ > max_bytes_ && lru_.size() > 1) {
    const std::string victim = lru_.back();
    if (victim == keep) break;
    auto it = logs_.find(victim);
    bytes_ -= it->second.log.history_bytes();
    lru_.pop_back();
    logs_.erase(it);
    ++evictions_;
  }
}

std::size_t topic_book::messages() const {
  std::size_t n = 0;
  for (const auto& [name, e] : logs_) n += e.log.history_size();
  return n;
}

}  // namespace herald::hub
