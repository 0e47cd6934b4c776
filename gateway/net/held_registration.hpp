#pragma once
// held_registration: keeps a held request's subscriber registered exactly
// while it lives — in the shard's registry (a topic, or a user and event),
// in the shard's table of held requests (for drain), in a gauge, and in the
// topic's presence when asked — also when its coroutine is destroyed
// mid-wait. During server::stop it does nothing: the node is going away.
// A long-poll's presence is a lease (hub::presence_leases): it outlives the
// request by --poll-presence-window, so a user who keeps polling stays
// present between polls, and leaves when the next poll does not come.
//
// Thread contract: shard-local.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "hub/topic_log.hpp"

namespace herald::hub {
class subscriber;
}

namespace herald::net {

class held_request;
class shard_context;

struct held_target {
  std::string topic;                         // subscribe to this topic, or
  std::string user;                          // bind to this user ...
  std::string event;                         // ... and event
  std::optional<std::string> presence_user;  // count in the topic's presence as this user
  bool lease = false;                        // ... past this request, while polls keep coming
};

class held_registration {
 public:
  held_registration(shard_context& ctx, hub::subscriber& sub, held_request& held, std::uint64_t& gauge,
                    held_target target);
  ~held_registration();
  held_registration(const held_registration&) = delete;
  held_registration& operator=(const held_registration&) = delete;

 private:
  shard_context& ctx_;
  hub::subscriber& sub_;
  held_request& held_;
  std::uint64_t& gauge_;
  held_target target_;
};

// The history a held request reads once registered (so nothing published
// in between is missed): `co_await callback<hub::history_slice>(held_history{...})`
// in its loop. Holds references only, to keep the loop's frame small.
struct held_history {
  shard_context& ctx;
  const std::string& key;
  const std::optional<std::uint64_t>& since;
  const std::string& epoch;
  void operator()(std::function<void(hub::history_slice)> done) const;
};

}  // namespace herald::net
