#pragma once
// fleet_presence: presence as the whole fleet sees it, for the topics an
// owner shard listens to on the bus: for each topic and user, the nodes
// where that user has a subscriber.
//
// Nodes announce their own joins and leaves (a user's first or last
// subscriber on that node) on the bus; every node, this one included, hears
// them and keeps this map. A join frame reaches local subscribers only when
// a user appears on a first node, a leave only when it is gone from the
// last, so a user connected to two nodes joins once. A node that starts
// listening seeds the map from a presence query; a node that leaves the
// fleet (goodbye, or silent past the heartbeat's limit) is dropped, and its
// users leave.
//
// Thread contract: shard-local (the owner shard's).
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace herald::hub {

class fleet_presence {
 public:
  // Return true when `user` thereby became present (join) or absent
  // (leave) on the fleet.
  bool join(const std::string& topic, const std::string& user, const std::string& node);
  bool leave(const std::string& topic, const std::string& user, const std::string& node);
  struct change {
    std::string user;
    bool join;
  };
  // What a presence query answered for `node`: from now on exactly `users`
  // are present there. Returns the users who thereby joined or left the
  // fleet (events this node missed).
  std::vector<change> seed(const std::string& topic, const std::string& node, const std::vector<std::string>& users);
  // Removes `node` everywhere; returns the (topic, user) pairs now absent.
  std::vector<std::pair<std::string, std::string>> drop_node(const std::string& node);
  void forget(const std::string& topic) { topics_.erase(topic); }
  bool present(const std::string& topic, const std::string& user) const;

 private:
  using users_t = std::map<std::string, std::set<std::string>>;  // user -> nodes
  std::unordered_map<std::string, users_t> topics_;
};

}  // namespace herald::hub
