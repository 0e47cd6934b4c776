#pragma once
// fleet_book: what an owner shard keeps about the keys it owns when the node
// is part of a fleet: the bus subscription of each key it listens to, and,
// per publication received from the bus, how many local receivers took it,
// until the publisher's count query has been answered.
//
// A count query can arrive before the publication it asks about has been
// delivered here (they travel on different subjects); it then waits in the
// entry and is answered when the fan-out finishes. Entries whose query never
// comes (the publisher died) expire after `ttl`.
//
// Thread contract: shard-local (the owner shard's).
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace herald::hub {

class fleet_book {
 public:
  using clock = std::chrono::steady_clock;
  explicit fleet_book(clock::duration ttl = std::chrono::seconds(2)) : ttl_(ttl) {}

  // Bus subscription handles, one per listened key.
  void set_handle(const std::string& key, void* handle) { handles_[key] = handle; }
  void* take_handle(const std::string& key);
  std::size_t listened() const { return handles_.size(); }
  std::vector<std::string> listened_keys() const;

  // A publication `id` is being delivered here.
  void begin(const std::string& id, clock::time_point now);
  // Its fan-out reached `count` receivers: returns the queries to answer
  // (reply subjects); an entry without waiters stays for a later query.
  std::vector<std::string> finish(const std::string& id, std::size_t count);

  enum class state { unknown, delivering, done };
  struct lookup {
    state st = state::unknown;
    std::size_t count = 0;
  };
  bool known(const std::string& id) const { return entries_.count(id) > 0; }
  // Looks a query up; a `done` entry is consumed (each publication is asked once per node).
  lookup answer(const std::string& id);
  // Parks a query until finish(id).
  void wait(const std::string& id, std::string reply_to, clock::time_point now);

  std::size_t entries() const { return entries_.size(); }

 private:
  struct entry {
    std::optional<std::size_t> count;
    std::vector<std::string> waiters;
  };
  entry& touch(const std::string& id, clock::time_point now);
  void expire(clock::time_point now);

  clock::duration ttl_;
  std::unordered_map<std::string, entry> entries_;
  std::deque<std::pair<clock::time_point, std::string>> order_;
  std::unordered_map<std::string, void*> handles_;
};

}  // namespace herald::hub
