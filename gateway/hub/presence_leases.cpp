#include "hub/presence_leases.hpp"

namespace herald::hub {

bool presence_leases::begin(const std::string& topic, const std::string& user) {
  auto [it, fresh] = leases_.try_emplace({topic, user});
  ++it->second.held;
  return fresh;
}

void presence_leases::end(const std::string& topic, const std::string& user, clock::time_point until) {
  auto it = leases_.find({topic, user});
  if (it == leases_.end() || it->second.held == 0) return;
  if (--it->second.held == 0) it->second.until = until;
}

std::vector<presence_leases::key> presence_leases::expire(clock::time_point now) {
  std::vector<key> ended;
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (it->second.held == 0 && it->second.until <= now) {
      ended.push_back(it->first);
      it = leases_.erase(it);
    } else {
      ++it;
    }
  }
  return ended;
}

}  // namespace herald::hub
