#include "hub/fleet_presence.hpp"

namespace herald::hub {

bool fleet_presence::join(const std::string& topic, const std::string& user, const std::string& node) {
  auto& nodes = topics_[topic][user];
  const bool first = nodes.empty();
  nodes.insert(node);
  return first;
}

bool fleet_presence::leave(const std::string& topic, const std::string& user, const std::string& node) {
  auto t = topics_.find(topic);
  if (t == topics_.end()) return false;
  auto u = t->second.find(user);
  if (u == t->second.end() || u->second.erase(node) == 0) return false;
  if (!u->second.empty()) return false;
  t->second.erase(u);
  if (t->second.empty()) topics_.erase(t);
  return true;
}

std::vector<fleet_presence::change> fleet_presence::seed(const std::string& topic, const std::string& node,
                                                         const std::vector<std::string>& users) {
  std::vector<change> changes;
  std::set<std::string> now(users.begin(), users.end());
  auto& t = topics_[topic];
  for (auto u = t.begin(); u != t.end();) {
    if (now.count(u->first) || !u->second.erase(node) || !u->second.empty()) {
      ++u;
      continue;
    }
    changes.push_back({u->first, false});
    u = t.erase(u);
  }
  for (const auto& u : now) {
    auto& nodes = t[u];
    if (nodes.empty()) changes.push_back({u, true});
    nodes.insert(node);
  }
  if (t.empty()) topics_.erase(topic);
  return changes;
}

std::vector<std::pair<std::string, std::string>> fleet_presence::drop_node(const std::string& node) {
  std::vector<std::pair<std::string, std::string>> gone;
  for (auto t = topics_.begin(); t != topics_.end();) {
    for (auto u = t->second.begin(); u != t->second.end();) {
      if (u->second.erase(node) && u->second.empty()) {
        gone.emplace_back(t->first, u->first);
        u = t->second.erase(u);
      } else {
        ++u;
      }
    }
    t = t->second.empty() ? topics_.erase(t) : std::next(t);
  }
  return gone;
}

bool fleet_presence::present(const std::string& topic, const std::string& user) const {
  auto t = topics_.find(topic);
  return t != topics_.end() && t->second.count(user) > 0;
}

}  // namespace herald::hub
