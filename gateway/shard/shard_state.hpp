#pragma once
// shard_state: the data one shard owns apart from its connections: the
// registry of local subscribers, the logs and presence of the topics it owns
// (topic -> shard by hash), the JSON codec (one simdjson parser per shard)
// and the shard's counters.
//
// Thread contract: shard-local, except for the keys this shard owns:
//   - `topics` (their logs) and `presence` are touched by any thread,
//     under `owned_mutex`: a push or publish is stamped, and a join or
//     leave recorded, on the thread that received it;
//   - `interest` is written under `owned_mutex`: by any thread on a single
//     node, only by this shard's thread in a fleet (which may then read it
//     without the mutex; every other read holds it).
// Everything else is touched only by the shard's own thread; other shards
// reach it through shard_pool::post_to / map. What must stay ordered with
// the stamps of a key (an interest answer, a history snapshot's delivery)
// is posted while `owned_mutex` is held.
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "bus/key_order.hpp"
#include "hub/fleet_book.hpp"
#include "hub/fleet_presence.hpp"
#include "hub/interest_book.hpp"
#include "hub/presence_book.hpp"
#include "hub/presence_leases.hpp"
#include "hub/registry.hpp"
#include "hub/topic_book.hpp"
#include "metrics/shard_stats.hpp"
#include "proto/codec.hpp"

namespace herald::shard {

struct shard_state {
  shard_state(std::size_t i, hub::history_limits limits, std::size_t history_bytes)
      : index(i), topics(limits, history_bytes) {}
  std::size_t index;
  hub::registry registry;
  std::mutex owned_mutex;      // see the thread contract: guards topics, presence, and interest's writes
  hub::topic_book topics;      // logs of the topics this shard owns
  hub::presence_book presence; // presence of the topics this shard owns (under owned_mutex)
  hub::presence_leases poll_presence;  // long-pollers kept present between polls (any topic, this shard's polls)
  hub::interest_book interest; // which shards subscribe to the keys this shard owns
  hub::fleet_book fleet;       // fleet: bus subscriptions and per-publication counts of owned keys
  hub::fleet_presence fleet_presence;  // fleet: who is present on which node, for owned listened topics
  std::unordered_map<std::string, bus::key_order> bus_order;  // fleet: stream order per listened key
  proto::codec codec;
  metrics::shard_stats stats;
};

}  // namespace herald::shard
