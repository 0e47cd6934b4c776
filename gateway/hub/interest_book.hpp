#pragma once
// interest_book: for each topic or user a shard owns, which shards have at
// least one local subscriber for it, so a publication is posted only to
// those shards instead of to all of them. A unicast push then crosses to
// the one shard holding the user's connection (or to none), which is what
// its cost on a quiet node is made of: waking another thread.
//
// Shards announce a key when their first subscriber for it appears and
// withdraw it when the last one goes; both are posted to the owner, in
// order, before any history request of the same subscriber, so the owner
// always knows a subscriber before it can be asked to serve it.
//
// Thread contract: shard-local (the owner shard's).
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace herald::hub {

class interest_book {
 public:
  using mask = std::uint64_t;  // bit i: shard i; a node has at most 64 shards

  void add(const std::string& key, std::size_t shard) { masks_[key] |= bit(shard); }
  void remove(const std::string& key, std::size_t shard) {
    auto it = masks_.find(key);
    if (it == masks_.end()) return;
    it->second &= ~bit(shard);
    if (it->second == 0) masks_.erase(it);
  }
  mask of(const std::string& key) const {
    auto it = masks_.find(key);
    return it == masks_.end() ? 0 : it->second;
  }

 private:
  static mask bit(std::size_t shard) { return mask{1} << shard; }
  std::unordered_map<std::string, mask> masks_;
};

}  // namespace herald::hub
