#pragma once
// delivery: publishes to topics and users across all shards, and answers
// questions only a topic's owner can (history, presence).
//
// Every topic, and every user's personal log, is owned by one shard
// (hash(name) % shards). A publication is stamped on the thread that
// received it, under the owner's owned_mutex: it takes the next offset, is
// kept in history, and its fan-out is posted to the interested shards
// before the mutex is released. Posts made under one mutex reach each
// io_context in that mutex's order, so every subscriber sees a topic's
// offsets in order, and a history snapshot taken under it lines up exactly
// with the live stream (see hub::catch_up). Each shard then delivers from
// its own registry without locks. The frame is encoded once and shared.
// (Stamping on the owner's thread instead cost a hop there and back per
// push: ~20 % of /push's CPU in task switches, issue 8.)
// In a fleet (attach(bus)) the stream is the sequencer instead: a
// publication goes to JetStream, which gives it its offset and republishes
// it to every node listening to the key, this one included; on each node
// the key's owner shard takes it from the bus exactly as it takes a local
// one, encodes it once and fans it out (fleet_delivery.cpp). History comes
// from the stream, so every node answers alike. The owners' interest
// (interest_book) decides which keys a node listens to on the bus.
//
// None of the awaitable functions is a coroutine (see shard_pool::map_reduce);
// each returns the awaitable of its operation.
//
// Thread contract: thread-safe. It holds only references; the work runs on
// the shards. Calls complete on the caller's executor (or on the executor
// given to the callback forms).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "bus/bus_types.hpp"
#include "hub/frame.hpp"
#include "hub/registry.hpp"
#include "hub/topic_log.hpp"

namespace herald::shard {
class shard_pool;
struct shard_state;
}  // namespace herald::shard

namespace herald::bus {
class nats_bus;
}

namespace herald::api {

struct publish_result {
  std::uint64_t offset = 0;  // the offset the owner (or the fleet's stream) assigned
  std::size_t queued = 0;    // receivers that accepted the frame (fleet: summed over nodes)
  std::size_t dropped = 0;   // receivers that refused it (slow or closing)
  // Fleet only:
  bool stored = true;        // false: JetStream did not confirm it (answer 503)
  std::string error;         // why not stored
  std::size_t nodes = 1;     // nodes that reported a count
  bool partial = false;      // some node did not report within --bus-ack-timeout
};

struct presence_info {
  bool known = false;
  std::vector<std::string> users;
  std::size_t connections = 0;
};

class delivery : public bus::sink {
 public:
  delivery(shard::shard_pool& pool, std::vector<std::unique_ptr<shard::shard_state>>& states);

  // Joins a fleet: from now on publications, history and counts go through
  // `b`. Called once, before the node starts.
  // `presence` are the topic patterns with presence (--presence).
  void attach(bus::nats_bus* b, std::string node_name, std::vector<std::string> presence);
  bool in_fleet() const { return bus_ != nullptr; }

  // bus::sink: called on a NATS thread; each posts to the key's owner shard.
  void on_record(bus::record r) override;
  void on_count_query(std::string key, std::string id, std::string reply_to) override;
  void on_presence_query(std::string key, std::string reply_to) override;
  void on_node_left(std::string node) override;
  void on_resync() override;

  // The key of `user`'s personal log; it can never collide with a topic name.
  static std::string user_key(std::string_view user);
  std::size_t owner_of(std::string_view key) const;

  // A topic message stamped with offset, epoch and time; `from` is the
  // publishing user for client publications ("" for the backend).
  boost::asio::awaitable<publish_result> publish(std::string topic, std::string data, std::string from);
  // wserver /push: `message` as a raw text frame to `user`'s connections
  // registered for `event`; kept in the user's personal log.
  boost::asio::awaitable<publish_result> push_event(std::string user, std::string event, std::string message);
  // /api/v1/push: an envelope to every connection of `user`.
  boost::asio::awaitable<publish_result> push_user(std::string user, std::string data);

  // History of a topic or personal log (`key`), from its owner. With no
  // `since` it holds no messages and tells the current position.
  boost::asio::awaitable<hub::history_slice> history(std::string key, std::optional<std::uint64_t> since,
                                                     std::size_t limit, std::string epoch);
  // The same for callers that are not coroutines: `done(slice)` runs on
  // shard `back`, before any frame of `key` stamped after the snapshot.
  void fetch_history(std::string key, std::optional<std::uint64_t> since, std::string epoch, std::size_t limit,
                     std::size_t back, std::function<void(hub::history_slice)> done);

  // Counts a subscriber arriving on (or leaving) `topic` at the owner; when
  // `user` thereby joins or leaves, the topic's subscribers are told.
  void presence(std::string topic, std::string user, bool arrived);

  // Tells `key`'s owner that `shard` has gained its first (add) or lost its
  // last subscriber of `key` (a topic, or user_key(user)). Publications go
  // only to shards that announced the key, so a shard announces before it
  // asks the owner for history, and a connection that registers without a
  // history request waits for the acknowledgement (the second form, which
  // adds and then runs `done` on `shard`, or in a fleet on `back` once the
  // bus has the subscription) before it reads on. On a single node both
  // take effect at once, under the owner's lock (set_interest).
  void interest(std::string key, std::size_t shard, bool add);
  void interest(std::string key, std::size_t shard, boost::asio::any_io_executor back, std::function<void()> done);
  boost::asio::awaitable<presence_info> presence_of(std::string topic);

 private:
  // A fan-out's result before any shard counted, and one shard's count added.
  static publish_result start_of(const hub::shared_frame& f);
  static void add_counts(publish_result& total, const hub::fanout_result& r);
  // One shard's part of any fan-out, local or from the bus: the registry
  // call that fits the frame (a topic, a user's event, a user).
  struct fan_each {
    std::vector<std::unique_ptr<shard::shard_state>>* states;
    hub::fanout_result operator()(std::size_t shard, const hub::shared_frame& f) const;
  };

  // Fleet paths (fleet_delivery.cpp).
  boost::asio::awaitable<publish_result> via_bus(std::string key, bus::envelope env, std::string data);
  void deliver_unsequenced(std::string key, bus::envelope env, std::string data, boost::asio::any_io_executor back,
                           std::function<void(publish_result)> done);
  void receive(std::size_t owner, bus::record r);
  void fan_out(std::size_t owner, bus::record r);
  void arm_gap_timer(std::size_t owner, const std::string& key);
  void fill_gap(std::size_t owner, const std::string& key);
  void answer_count(std::size_t owner, const std::string& key, const std::string& id, std::string reply_to);
  void receive_presence(std::size_t owner, const bus::record& r);
  void send_presence_frame(std::size_t owner, const std::string& topic, const std::string& user, bool join);
  // Asks the fleet who is on `topic`; with `report`, local subscribers are
  // told of the joins and leaves that this node had missed.
  void seed_presence(std::size_t owner, const std::string& topic, bool report);
  boost::asio::awaitable<presence_info> fleet_presence_of(std::string topic);
  void bus_history(std::string key, std::optional<std::uint64_t> since, std::string epoch, std::size_t limit,
                   boost::asio::any_io_executor back, std::function<void(hub::history_slice)> done);
  // In a fleet, on `owner`: records `shard`'s interest in `key` and listens
  // to the key on the bus while any shard is interested.
  void update_interest(std::size_t owner, const std::string& key, std::size_t shard, bool add);
  // Records `shard`'s interest in `key` under the owner's lock (any thread).
  void set_interest(std::size_t owner, const std::string& key, std::size_t shard, bool add);

  shard::shard_pool& pool_;
  std::vector<std::unique_ptr<shard::shard_state>>& states_;
  bus::nats_bus* bus_ = nullptr;
  std::string node_name_;
  std::vector<std::string> presence_patterns_;
};

}  // namespace herald::api
