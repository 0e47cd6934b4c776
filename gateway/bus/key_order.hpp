#pragma once
// key_order: puts one key's publications, as they come from the bus, back
// into stream order.
//
// JetStream 2.9 republishes the messages of different publishers (different
// connections) in the order their handlers finish, which is not always the
// order of their sequences: 26 was seen before 25 under concurrent
// publishes. Every republished message names the previous sequence of its
// own subject (Nats-Last-Sequence), so a node can tell when one arrives
// before its predecessor: it is held until the predecessor comes, or, if
// that takes too long (the node lost it, e.g. NATS dropped it for a slow
// consumer), until the missing ones are read back from the stream. Nothing
// is skipped silently and nothing goes out of order.
//
// The first message after the node starts listening sets the position: its
// predecessor and everything before it came before this node listened (its
// subscribers got those from history, if they asked).
//
// Thread contract: shard-local (the key's owner shard).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bus/bus_types.hpp"

namespace herald::bus {

class key_order {
 public:
  // True when `r` was delivered already (or precedes where this node began).
  bool stale(const record& r) const;
  // Takes `r`; returns what can be delivered now, in order (empty: held).
  std::vector<record> offer(record r);

  bool waiting() const { return !held_.empty(); }
  // The sequences still missing: after `first`, before `second`.
  std::pair<std::uint64_t, std::uint64_t> gap() const;
  // The missing records as read from the stream (any order, possibly none
  // when the read failed): delivers them and every held record, in order;
  // whatever could not be found is given up on.
  std::vector<record> fill(std::vector<record> missing);

  std::uint64_t last() const { return last_; }
  bool gap_timer_armed = false;  // set by the owner while it waits to fill a gap
  int gap_reads_failed = 0;      // the owner's retries of a gap read the bus could not answer

 private:
  void restart(const record& r);
  void release(std::vector<record>& out);

  bool started_ = false;
  std::uint64_t last_ = 0;  // the last sequence delivered here
  std::shared_ptr<const std::string> epoch_;
  std::map<std::uint64_t, record> held_;  // by sequence
};

}  // namespace herald::bus
