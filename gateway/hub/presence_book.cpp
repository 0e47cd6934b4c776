#include "hub/presence_book.hpp"

namespace herald::hub {

bool presence_book::add(const std::string& topic, const std::string& user) {
  auto& t = topics_[topic];
  ++t.connections;
  if (user.empty()) return false;
  return ++t.users[user] == 1;
}

bool presence_book::remove(const std::string& topic, const std::string& user) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return false;
  auto& t = it->second;
  if (t.connections > 0) --t.connections;
  bool left = false;
  if (!user.empty()) {
    auto u = t.users.find(user);
    if (u != t.users.end() && --u->second == 0) {
      t.users.erase(u);
      left = true;
    }
  }
  if (t.connections == 0) topics_.erase(it);
  return left;
}

std::vector<std::string> presence_book::users(const std::string& topic) const {
  std::vector<std::string> out;
  auto it = topics_.find(topic);
  if (it == topics_.end()) return out;
  for (const auto& [user, n] : it->second.users) out.push_back(user);
  return out;
}

std::size_t presence_book::connections(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second.connections;
}

}  // namespace herald::hub
