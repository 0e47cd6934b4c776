#pragma once
// presence_book: who is subscribed to the topics one shard owns, counted
// per user across every shard's connections (subscribers post their
// arrivals and departures to the owner).
//
// Thread contract: shard-local.
#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace herald::hub {

class presence_book {
 public:
  // Counts one more connection of `user` ("" for an anonymous one) on
  // `topic`. Returns true when it is that user's first (a "join").
  bool add(const std::string& topic, const std::string& user);
  // Returns true when it was that user's last connection (a "leave").
  bool remove(const std::string& topic, const std::string& user);

  std::vector<std::string> users(const std::string& topic) const;
  std::size_t connections(const std::string& topic) const;
  bool known(const std::string& topic) const { return topics_.count(topic) > 0; }

 private:
  struct topic_presence {
    std::map<std::string, std::size_t> users;  // sorted: answers list users in order
    std::size_t connections = 0;
  };
  std::unordered_map<std::string, topic_presence> topics_;
};

}  // namespace herald::hub
