#pragma once
// shard_state: the data one shard owns apart from its connections: the
// registry of users and topics, the JSON codec (one simdjson parser per
// shard) and the shard's counters.
//
// Thread contract: shard-local. Only the shard's own thread touches it; other
// shards reach it through shard_pool::post_to / map.
#include <cstddef>

#include "hub/registry.hpp"
#include "metrics/shard_stats.hpp"
#include "proto/codec.hpp"

namespace herald::shard {

struct shard_state {
  explicit shard_state(std::size_t i) : index(i) {}
  std::size_t index;
  hub::registry registry;
  proto::codec codec;
  metrics::shard_stats stats;
};

}  // namespace herald::shard
