#pragma once
// delivery: sends one encoded frame to a user, a (user, event) pair or a
// topic on every shard, and says how many connections took it.
//
// A user's connections may sit on any shard (connections are sharded by id),
// so each fan-out is posted to every shard, where the shard's own registry
// delivers it without locks. The frame is encoded once by the caller and
// shared; each shard wraps it once (hub::localize) for its receivers.
// This is the seam where a cross-node bus will hook in: a publication that
// arrives from the bus takes the same path.
//
// None of these is a coroutine (see shard_pool::map_reduce); each returns
// the awaitable of the fan-out.
//
// Thread contract: thread-safe. It holds only references; the work runs on
// the shards. Calls complete on the caller's executor.
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "hub/frame.hpp"
#include "hub/registry.hpp"

namespace herald::shard {
class shard_pool;
struct shard_state;
}  // namespace herald::shard

namespace herald::api {

class delivery {
 public:
  delivery(shard::shard_pool& pool, std::vector<std::unique_ptr<shard::shard_state>>& states);

  // wserver /push: connections of `user` registered for `event`.
  boost::asio::awaitable<hub::fanout_result> to_event(std::string user, std::string event, hub::shared_frame f);
  // Every connection of `user`.
  boost::asio::awaitable<hub::fanout_result> to_user(std::string user, hub::shared_frame f);
  // Every subscriber of `topic`.
  boost::asio::awaitable<hub::fanout_result> to_topic(std::string topic, hub::shared_frame f);

 private:
  template <class Publish>
  boost::asio::awaitable<hub::fanout_result> fan_out(Publish publish);

  shard::shard_pool& pool_;
  std::vector<std::unique_ptr<shard::shard_state>>& states_;
};

}  // namespace herald::api
