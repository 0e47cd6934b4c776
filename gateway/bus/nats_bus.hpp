#pragma once
// nats_bus: this node's link to the rest of the fleet, on NATS and JetStream.
//
// What goes over it:
//  - publications: a node publishes to herald.h.<key> (see subjects.hpp);
//    the JetStream stream stores it, its sequence becomes the offset, and
//    the stream republishes it on herald.d.<key>, where every node with
//    local receivers of the key listens (interest routing). Every node,
//    this one included, delivers what comes back from the stream, so all
//    receivers everywhere see one order: the stream's.
//  - counts: right after a publication the publisher asks every node
//    (herald.n) how many receivers it reached; a node answers once its own
//    fan-out of that publication is done. The publisher waits for every node
//    it has seen on the fleet heartbeat, or for --bus-ack-timeout (then the
//    answer is partial). No fixed sleep: it answers when the last node does.
//  - history: read back from the stream with Direct Get (no consumers).
//  - the fleet heartbeat (herald.fleet.hb), from which nodes know each other.
//
// Requests (publish acks, counts, Direct Get, stream info) share one inbox
// subscription, _INBOX.<nonce>.*, and are tracked on the bus's own thread
// with one steady_timer each; NATS callbacks only post there, or, for
// publications and count queries, hand them to the sink (api::delivery),
// which posts them to the key's owner shard.
//
// Thread contract: thread-safe. Public functions may be called from any
// thread; request state lives on the bus thread only; counters are atomics
// touched once per publish or state change, never per delivery.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include "bus/bus_types.hpp"

namespace herald::bus {

struct bus_counters {
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<std::uint64_t> publish_failed_disconnected{0};
  std::atomic<std::uint64_t> publish_failed_timeout{0};
  std::atomic<std::uint64_t> publish_failed_rejected{0};
  std::atomic<std::uint64_t> partial_answers{0};
  std::atomic<std::uint64_t> history_failures{0};
  std::atomic<std::uint64_t> slow_consumer_errors{0};
};

class nats_bus {
 public:
  struct settings {
    std::vector<std::string> urls;
    std::string node;
    std::string stream = "HERALD";
    int replicas = 1;
    double ack_timeout_s = 0.5;
    std::uint64_t max_bytes = 0;   // stream byte bound (0: none)
    double max_age_s = 0;          // stream age bound (0: none)
  };

  explicit nats_bus(settings s);
  ~nats_bus();
  nats_bus(const nats_bus&) = delete;
  nats_bus& operator=(const nats_bus&) = delete;

  // Starts the bus thread and connects (retrying in the background until a
  // server answers). Inbound traffic goes to `s` from then on.
  void start(sink& s);
  // Tells the fleet this node leaves, closes the connection and waits
  // (bounded) until no NATS callback can run any more. Idempotent.
  void stop();

  const std::string& node() const { return settings_.node; }
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  std::size_t fleet_nodes() const { return fleet_nodes_.load(std::memory_order_relaxed); }
  const bus_counters& counters() const { return counters_; }
  std::shared_ptr<const std::string> epoch() const;

  // Interest: called by the key's owner shard when it gains its first or
  // loses its last local receiver of `key`. The handle is opaque.
  void* listen(const std::string& key);
  void unlisten(void* handle);
  // Runs `done` on `back` once the server has processed everything this
  // connection sent before (an asynchronous flush): after listen(), it means
  // publications of the key now reach this node.
  void barrier(boost::asio::any_io_executor back, std::function<void()> done);

  void publish(std::string key, envelope env, std::string data, boost::asio::any_io_executor back,
               std::function<void(publish_outcome)> done);
  // The key's records after `since` (at most `limit`); without `since` only
  // the position (`last`). A non-empty `epoch` that is not the stream's
  // reads from the start instead (the caller's offsets mean nothing here).
  void history(std::string key, std::optional<std::uint64_t> since, std::string epoch, std::size_t limit,
               boost::asio::any_io_executor back, std::function<void(history_outcome)> done);
  // Answers a count or presence query (from any thread).
  void reply(const std::string& to, const std::string& body);

  // Tells every node listening to `key` that `user` joined or left here.
  void presence_event(const std::string& key, const std::string& user, bool join);
  // Asks every node who is subscribed to `key`; completes on `back` with
  // the answers when every node seen has answered or the ack timeout passed.
  void presence_query(std::string key, boost::asio::any_io_executor back,
                      std::function<void(std::vector<presence_answer>, bool partial)> done);

 private:
  struct impl;
  settings settings_;
  std::atomic<bool> connected_{false};
  std::atomic<std::size_t> fleet_nodes_{1};
  bus_counters counters_;
  std::unique_ptr<impl> impl_;
};

}  // namespace herald::bus
