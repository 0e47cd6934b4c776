#pragma once
// bus_types: the values that cross between the bus and the rest of the node
// (a stored publication, what a publish or a history read came to) and the
// sink interface through which the bus hands inbound traffic over. No NATS
// and no Asio here, so api/ can implement the sink cheaply.
//
// Thread contract: plain values; a sink's functions are called on a NATS
// delivery thread and must only hand the work over (post) and return.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace herald::bus {

// One stored publication, as the stream republished it or as read back.
struct record {
  std::string key;
  // 't' topic message, 'e' compat event push, 'u' user push (all stored);
  // 'j' / 'l' a user's join / leave on node `node` (not stored, offset 0).
  char kind = 't';
  std::uint64_t offset = 0;    // the stream's sequence
  std::uint64_t prev = 0;      // previous sequence of the same key (0: none or unknown)
  std::int64_t ts_ms = 0;      // publisher's clock
  std::string from;            // client publications: the publishing user
  std::string event;           // compat pushes: the wserver event
  std::string id;              // the publication's id, for counting
  std::string data;            // JSON payload, or the compat message text
  std::string node;            // presence events: the node where it happened
  std::shared_ptr<const std::string> epoch;
};

// One node's answer to a presence query.
struct presence_answer {
  std::string node;
  std::size_t connections = 0;
  std::vector<std::string> users;
};

struct envelope {
  char kind = 't';
  std::int64_t ts_ms = 0;
  std::string from;
  std::string event;
};

struct publish_outcome {
  bool sent = false;            // it left this node (false: safe to deliver locally instead)
  bool stored = false;
  std::string error;            // why not stored
  std::uint64_t offset = 0;
  std::size_t delivered = 0;    // summed over the nodes that reported
  std::size_t nodes = 0;        // nodes that reported
  bool partial = false;         // a node seen on the fleet did not report in time
};

struct history_outcome {
  bool available = false;       // false: the bus could not answer
  std::string epoch;
  std::uint64_t first_seq = 0;  // the stream's oldest kept sequence
  std::uint64_t last = 0;       // the key's last offset (0: none)
  std::vector<record> records;  // after `since`, oldest first
  bool complete = true;         // false: cut by the limit before `last`
  bool epoch_changed = false;   // the caller's epoch is not the stream's: read from the start
};

// What the bus hands inbound traffic to. Called on a NATS delivery thread;
// implementations post the work to a shard and return.
class sink {
 public:
  virtual ~sink() = default;
  virtual void on_record(record r) = 0;
  virtual void on_count_query(std::string key, std::string id, std::string reply_to) = 0;
  virtual void on_presence_query(std::string key, std::string reply_to) = 0;
  // `node` left the fleet (said goodbye, or went silent). Called on the bus thread.
  virtual void on_node_left(std::string node) = 0;
  // A node (re)appeared, or this one reconnected: events may have been
  // missed, so fleet-wide views (presence) are rebuilt. Bus thread.
  virtual void on_resync() = 0;
};

}  // namespace herald::bus
