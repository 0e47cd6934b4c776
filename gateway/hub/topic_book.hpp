#pragma once
// topic_book: the topic logs one shard owns (each topic belongs to the shard
// hash(name) % shards), with the memory they may hold bounded: when the
// history of all owned topics passes `max_bytes`, the least recently used
// topic is forgotten whole (its next log gets a new epoch, so clients learn
// that their offsets are void instead of silently missing messages).
//
// Thread contract: shard-local.
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hub/topic_log.hpp"

namespace herald::hub {

class topic_book {
 public:
  topic_book(history_limits limits, std::size_t max_bytes) : limits_(limits), max_bytes_(max_bytes) {}

  // The log of `topic`, created (with a new epoch) if it has none.
  topic_log& log(const std::string& topic);

  // Appends `f` to `topic`'s log and enforces the memory bound.
  void append(const std::string& topic, shared_frame f, std::int64_t now_ms);

  const history_limits& limits() const { return limits_; }
  std::size_t topics() const { return logs_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::size_t messages() const;
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct entry {
    topic_log log;
    std::list<std::string>::iterator lru;
  };
  void touch(entry& e);
  void evict_over_budget(const std::string& keep);

  history_limits limits_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::uint64_t evictions_ = 0;
  std::unordered_map<std::string, entry> logs_;
  std::list<std::string> lru_;  // front: most recently used
};

}  // namespace herald::hub
