#include "hub/registry.hpp"

#include <algorithm>
#include <cassert>

namespace herald::hub {

namespace {

// Removes the element at `it` in O(1); member order carries no meaning.
template <class V, class It>
void swap_erase(V& v, It it) {
  if (it != v.end() - 1) *it = std::move(v.back());
  v.pop_back();
}

}  // namespace

bool registry::member::has(std::string_view event) const {
  std::string_view rest(events);
  while (!rest.empty()) {
    auto end = rest.find('\n');
    if (rest.substr(0, end) == event) return true;
    rest.remove_prefix(end + 1);
  }
  return false;
}

void registry::deliver_to(subscriber* s, const local_frame& f, fanout_result& r) {
  if (s->deliver(f) == send_status::queued) {
    ++r.queued;
  } else {
    ++r.dropped;
  }
}

bool registry::bind(subscriber* s, std::string_view user, std::string_view event) {
  assert(!publishing_);
  auto it = users_.find(user);
  if (it == users_.end()) it = users_.emplace(std::string(user), std::vector<member>{}).first;
  auto& members = it->second;
  auto m = std::find_if(members.begin(), members.end(), [s](const member& x) { return x.sub == s; });
  if (m == members.end()) m = members.insert(members.end(), member{s, {}});
  if (m->has(event)) return false;
  m->events.append(event);
  m->events.push_back('\n');
  return true;
}

void registry::unbind_user(subscriber* s, std::string_view user) {
  assert(!publishing_);
  auto it = users_.find(user);
  if (it == users_.end()) return;
  auto& members = it->second;
  auto m = std::find_if(members.begin(), members.end(), [s](const member& x) { return x.sub == s; });
  if (m != members.end()) swap_erase(members, m);
  if (members.empty()) users_.erase(it);
}

bool registry::subscribe(subscriber* s, std::string_view topic) {
  assert(!publishing_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) it = topics_.emplace(std::string(topic), std::vector<subscriber*>{}).first;
  auto& subs = it->second;
  if (std::find(subs.begin(), subs.end(), s) != subs.end()) return false;
  subs.push_back(s);
  return true;
}

bool registry::unsubscribe(subscriber* s, std::string_view topic) {
  assert(!publishing_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return false;
  auto& subs = it->second;
  auto p = std::find(subs.begin(), subs.end(), s);
  if (p == subs.end()) return false;
  swap_erase(subs, p);
  if (subs.empty()) topics_.erase(it);
  return true;
}

fanout_result registry::publish_event(std::string_view user, std::string_view event, const local_frame& f) {
  fanout_result r;
  auto it = users_.find(user);
  if (it == users_.end()) return r;
  publishing_ = true;
  for (const member& m : it->second) {
    if (m.has(event)) deliver_to(m.sub, f, r);
  }
  publishing_ = false;
  return r;
}

fanout_result registry::publish_user(std::string_view user, const local_frame& f) {
  fanout_result r;
  auto it = users_.find(user);
  if (it == users_.end()) return r;
  publishing_ = true;
  for (const member& m : it->second) deliver_to(m.sub, f, r);
  publishing_ = false;
  return r;
}

fanout_result registry::publish_topic(std::string_view topic, const local_frame& f) {
  fanout_result r;
  auto it = topics_.find(topic);
  if (it == topics_.end()) return r;
  publishing_ = true;
  for (subscriber* s : it->second) deliver_to(s, f, r);
  publishing_ = false;
  return r;
}

std::size_t registry::subscribers_of(std::string_view topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second.size();
}

std::size_t registry::connections_of(std::string_view user) const {
  auto it = users_.find(user);
  return it == users_.end() ? 0 : it->second.size();
}

}  // namespace herald::hub
