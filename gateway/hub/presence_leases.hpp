#pragma once
// presence_leases: keeps a long-poller in a topic's presence between its
// polls. A long-poll is one request per message, with a short gap between
// an answer and the next poll; counting only the held request would make the
// user leave and join again around every message. A lease begins with the
// user's first poll on this shard, stays while polls keep coming, and ends
// `window` after the last one was answered with no new one (the client went
// away: a closed tab, a lost network).
//
// Keyed by (topic, user): two pollers of one user on one shard share a lease,
// so presence counts them as one connection. Anonymous polls are not leased
// (nothing tells two of them apart between polls).
//
// Pure bookkeeping: the caller announces the joins and leaves it returns
// (api::delivery::presence) and calls expire() periodically.
//
// Thread contract: shard-local.
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace herald::hub {

class presence_leases {
 public:
  using clock = std::chrono::steady_clock;
  using key = std::pair<std::string, std::string>;  // (topic, user)

  // A poll of `user` on `topic` is now held. True when it starts a lease:
  // the caller counts the user in the topic's presence.
  bool begin(const std::string& topic, const std::string& user);
  // That poll ended (answered, timed out, hung up); the lease lasts until
  // `until` unless another poll begins first.
  void end(const std::string& topic, const std::string& user, clock::time_point until);
  // Ends the leases with no poll held whose time ran out by `now`; the
  // caller takes each user out of the topic's presence.
  std::vector<key> expire(clock::time_point now);

  std::size_t size() const { return leases_.size(); }

 private:
  struct lease {
    std::size_t held = 0;        // polls of this (topic, user) waiting now
    clock::time_point until{};   // meaningful when held == 0
  };
  std::map<key, lease> leases_;
};

}  // namespace herald::hub
