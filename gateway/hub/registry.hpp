#pragma once
// registry: one shard's index of who listens to what.
//   users:  user id -> connections bound to that user, each with the set of
//           wserver "events" it registered for
//   topics: topic   -> connections subscribed to it
//
// Thread contract: shard-local. Each shard owns one registry and only its
// thread touches it; a fan-out reaches the other shards by posting there.
// Fan-out never allocates per receiver: every member gets the same frame.
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/frame.hpp"
#include "hub/subscriber.hpp"

namespace herald::hub {

struct fanout_result {
  std::size_t queued = 0;   // receivers that accepted the frame
  std::size_t dropped = 0;  // receivers that refused it (slow or closing)
};

class registry {
 public:
  // Binds `s` to (user, event). Returns false if it was bound already.
  bool bind(subscriber* s, std::string_view user, std::string_view event);
  // Removes every binding of `s` to `user`.
  void unbind_user(subscriber* s, std::string_view user);

  // Returns false if `s` was subscribed already.
  bool subscribe(subscriber* s, std::string_view topic);
  // Returns false if `s` was not subscribed.
  bool unsubscribe(subscriber* s, std::string_view topic);

  // Every connection of `user` bound to `event` (wserver /push).
  fanout_result publish_event(std::string_view user, std::string_view event, const local_frame& f);
  // Every connection of `user`, once each whatever its events.
  fanout_result publish_user(std::string_view user, const local_frame& f);
  // Every subscriber of `topic`.
  fanout_result publish_topic(std::string_view topic, const local_frame& f);

  std::size_t user_count() const { return users_.size(); }
  std::size_t topic_count() const { return topics_.size(); }
  std::size_t subscribers_of(std::string_view topic) const;
  std::size_t connections_of(std::string_view user) const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // A connection's events for one user, each followed by '\n' (names never
  // hold control characters). One short string instead of a vector of
  // strings: most connections register one short event, which then fits in
  // the string's inline buffer and costs no allocation.
  struct member {
    subscriber* sub;
    std::string events;
    bool has(std::string_view event) const;
  };
  template <class V>
  using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

  static void deliver_to(subscriber* s, const local_frame& f, fanout_result& r);

  string_map<std::vector<member>> users_;
  string_map<std::vector<subscriber*>> topics_;
  bool publishing_ = false;  // guards the "deliver never re-enters" contract
};

}  // namespace herald::hub
