#include "api/delivery.hpp"

#include <chrono>
#include <mutex>

#include "bus/nats_bus.hpp"
#include "proto/codec.hpp"
#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"

namespace herald::api {

namespace {

using states_t = std::vector<std::unique_ptr<shard::shard_state>>;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}


// Stamps `m` with the next offset of `key`'s log, encodes it with `encode`
// and records it. Runs under the owner's owned_mutex, on any thread.
template <class Encode>
shard::targeted<hub::shared_frame> stamp(shard::shard_state& owner, const std::string& key, hub::message m,
                                         Encode encode) {
  auto& log = owner.topics.log(key);
  m.offset = log.next_offset();
  m.ts_ms = now_ms();
  m.text = encode(m, log.epoch());
  auto f = hub::make_frame(std::move(m));
  owner.topics.append(key, f, f->ts_ms);
  // Only the shards that announced a subscriber of `key` get the frame.
  return {std::move(f), owner.interest.of(key)};
}

}  // namespace

publish_result delivery::start_of(const hub::shared_frame& f) {
  publish_result r;
  r.offset = f->offset;
  return r;
}

void delivery::add_counts(publish_result& total, const hub::fanout_result& r) {
  total.queued += r.queued;
  total.dropped += r.dropped;
}

hub::fanout_result delivery::fan_each::operator()(std::size_t shard, const hub::shared_frame& f) const {
  auto& registry = (*states)[shard]->registry;
  if (f->kind != hub::frame_kind::user_message) return registry.publish_topic(f->topic, hub::localize(f));
  if (!f->event.empty()) return registry.publish_event(f->topic, f->event, hub::localize(f));
  return registry.publish_user(f->topic, hub::localize(f));
}

delivery::delivery(shard::shard_pool& pool, states_t& states) : pool_(pool), states_(states) {}

std::string delivery::user_key(std::string_view user) {
  // Built by hand: g++ 12 warns (-Wrestrict, a false positive) on "\x01" + string.
  std::string key;
  key.reserve(user.size() + 1);
  key.push_back('\x01');
  key.append(user);
  return key;
}

std::size_t delivery::owner_of(std::string_view key) const {
  return std::hash<std::string_view>{}(key) % states_.size();
}

boost::asio::awaitable<publish_result> delivery::publish(std::string topic, std::string data, std::string from) {
  if (bus_) return via_bus(std::move(topic), {'t', now_ms(), std::move(from), {}}, std::move(data));
  auto* states = &states_;
  const auto owner = owner_of(topic);
  auto prepare = [states, owner, topic = std::move(topic), data = std::move(data), from = std::move(from)] {
    hub::message m;
    m.kind = hub::frame_kind::topic_message;
    m.topic = topic;
    m.data = data;
    return stamp(*(*states)[owner], topic, std::move(m), [&](const hub::message& x, const std::string& epoch) {
      return proto::encode_topic_message(x.topic, {x.offset, epoch, x.ts_ms}, from, x.data);
    });
  };
  return pool_.sequenced_under<publish_result>(states_[owner]->owned_mutex, std::move(prepare), start_of,
                                               fan_each{states}, add_counts);
}

boost::asio::awaitable<publish_result> delivery::push_event(std::string user, std::string event, std::string message) {
  if (bus_) return via_bus(user_key(user), {'e', now_ms(), {}, std::move(event)}, std::move(message));
  auto* states = &states_;
  const auto key = user_key(user);
  const auto owner = owner_of(key);
  auto prepare = [states, owner, key, user = std::move(user), event = std::move(event), text = std::move(message)] {
    hub::message m;
    m.kind = hub::frame_kind::user_message;
    m.topic = user;
    m.event = event;
    return stamp(*(*states)[owner], key, std::move(m), [&](const hub::message&, const std::string&) { return text; });
  };
  return pool_.sequenced_under<publish_result>(states_[owner]->owned_mutex, std::move(prepare), start_of,
                                               fan_each{states}, add_counts);
}

boost::asio::awaitable<publish_result> delivery::push_user(std::string user, std::string data) {
  if (bus_) return via_bus(user_key(user), {'u', now_ms(), {}, {}}, std::move(data));
  auto* states = &states_;
  const auto key = user_key(user);
  const auto owner = owner_of(key);
  auto prepare = [states, owner, key, user = std::move(user), data = std::move(data)] {
    hub::message m;
    m.kind = hub::frame_kind::user_message;
    m.topic = user;
    m.data = data;
    return stamp(*(*states)[owner], key, std::move(m), [&](const hub::message& x, const std::string&) {
      return proto::encode_user_message(x.topic, x.offset, x.ts_ms, x.data);
    });
  };
  return pool_.sequenced_under<publish_result>(states_[owner]->owned_mutex, std::move(prepare), start_of,
                                               fan_each{states}, add_counts);
}

namespace {

// The owner's answer to "what came after `since`?" for `key`; without
// `since` it holds no messages and tells the current position. Creating the
// log here gives a topic its epoch at first sight, so it stays stable.
// Under the owner's owned_mutex.
hub::history_slice snapshot(shard::shard_state& owner, const std::string& key, std::optional<std::uint64_t> since,
                            std::size_t limit, const std::string& epoch) {
  auto& log = owner.topics.log(key);
  return log.since(since.value_or(log.last_offset()), limit, epoch, now_ms(), owner.topics.limits());
}

}  // namespace

boost::asio::awaitable<hub::history_slice> delivery::history(std::string key, std::optional<std::uint64_t> since,
                                                             std::size_t limit, std::string epoch) {
  if (bus_) {
    auto initiate = [this, key = std::move(key), since, limit, epoch = std::move(epoch)](auto handler) mutable {
      auto back = boost::asio::get_associated_executor(handler);
      auto h = std::make_shared<decltype(handler)>(std::move(handler));
      bus_history(std::move(key), since, std::move(epoch), limit, back,
                  [h](hub::history_slice s) { std::move (*h)(std::move(s)); });
    };
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(hub::history_slice)>(
        std::move(initiate), boost::asio::use_awaitable);
  }
  auto* states = &states_;
  const auto owner = owner_of(key);
  return pool_.run_on<hub::history_slice>(owner, [states, owner, key = std::move(key), since, limit,
                                                  epoch = std::move(epoch)] {
    std::lock_guard lock((*states)[owner]->owned_mutex);
    return snapshot(*(*states)[owner], key, since, limit, epoch);
  });
}

void delivery::fetch_history(std::string key, std::optional<std::uint64_t> since, std::string epoch,
                             std::size_t limit, std::size_t back, std::function<void(hub::history_slice)> done) {
  if (bus_) {
    bus_history(std::move(key), since, std::move(epoch), limit, pool_.executor(back), std::move(done));
    return;
  }
  // On the owner, after this shard's interest in `key` (posted earlier);
  // the slice leaves under the lock, in the order of the stamps.
  const auto owner = owner_of(key);
  pool_.post_to(owner, [this, owner, key = std::move(key), since, epoch = std::move(epoch), limit, back,
                        done = std::move(done)]() mutable {
    auto& st = *states_[owner];
    std::lock_guard lock(st.owned_mutex);
    auto slice = snapshot(st, key, since, limit, epoch);
    pool_.post_ordered(back, [slice = std::move(slice), done = std::move(done)]() mutable { done(std::move(slice)); });
  });
}

void delivery::presence(std::string topic, std::string user, bool arrived) {
  const auto owner = owner_of(topic);
  auto record = [this, owner, topic = std::move(topic), user = std::move(user), arrived] {
    auto& st = *states_[owner];
    std::lock_guard lock(st.owned_mutex);
    if (!(arrived ? st.presence.add(topic, user) : st.presence.remove(topic, user))) return;
    // In a fleet the event goes round the bus and comes back to every node,
    // this one included, which decides there whether the fleet changed.
    if (bus_) {
      bus_->presence_event(topic, user, arrived);
    } else {
      send_presence_frame(owner, topic, user, arrived);
    }
  };
  // On a single node here, under the owner's lock, like a publication: what
  // the same connection publishes next is stamped after its join, so every
  // receiver sees the join first (posted to the owner, the join could be
  // overtaken by that publication, stamped at once).
  if (bus_) {
    pool_.post_to(owner, std::move(record));
  } else {
    record();
  }
}

void delivery::send_presence_frame(std::size_t owner, const std::string& topic, const std::string& user, bool join) {
  const auto targets = states_[owner]->interest.of(topic);
  hub::message m;
  m.kind = hub::frame_kind::presence;
  m.topic = topic;
  m.text = proto::encode_presence(join, topic, user);
  auto f = hub::make_frame(std::move(m));
  for (std::size_t i = 0; i < states_.size(); ++i) {
    if (!(targets & (std::uint64_t{1} << i))) continue;
    pool_.post_ordered(i, [each = fan_each{&states_}, i, f] { each(i, f); });
  }
}

// The owner is computed before the call: argument evaluation order is
// unspecified, and the lambda below moves `key` away.
void delivery::interest(std::string key, std::size_t shard, bool add) {
  const auto owner = owner_of(key);
  if (!bus_) {
    set_interest(owner, key, shard, add);
    return;
  }
  pool_.post_to(owner, [this, owner, key = std::move(key), shard, add] { update_interest(owner, key, shard, add); });
}

// Without a bus the interest is only the owner's bitmask, set here under
// its lock: a join or a publication this shard makes next (both stamped
// under the same lock) already sees it, so a subscriber gets its own join.
void delivery::set_interest(std::size_t owner, const std::string& key, std::size_t shard, bool add) {
  auto& st = *states_[owner];
  std::lock_guard lock(st.owned_mutex);
  add ? st.interest.add(key, shard) : st.interest.remove(key, shard);
}

void delivery::update_interest(std::size_t owner, const std::string& key, std::size_t shard, bool add) {
  auto& st = *states_[owner];
  const bool before = st.interest.of(key) != 0;
  set_interest(owner, key, shard, add);
  const bool after = st.interest.of(key) != 0;
  if (!bus_ || before == after) return;
  if (after) {
    st.fleet.set_handle(key, bus_->listen(key));
    seed_presence(owner, key, false);
  } else {
    bus_->unlisten(st.fleet.take_handle(key));
    st.fleet_presence.forget(key);
    st.bus_order.erase(key);
  }
}

void delivery::interest(std::string key, std::size_t shard, boost::asio::any_io_executor back,
                        std::function<void()> done) {
  const auto owner = owner_of(key);
  if (!bus_) {
    set_interest(owner, key, shard, true);
    pool_.post_ordered(shard, std::move(done));
    return;
  }
  // In a fleet, pushes reach this node once NATS has our subscription.
  pool_.post_to(owner, [this, owner, key = std::move(key), shard, back = std::move(back),
                        done = std::move(done)]() mutable {
    update_interest(owner, key, shard, true);
    bus_->barrier(std::move(back), std::move(done));
  });
}

boost::asio::awaitable<presence_info> delivery::presence_of(std::string topic) {
  if (bus_) return fleet_presence_of(std::move(topic));
  auto* states = &states_;
  const auto owner = owner_of(topic);
  return pool_.run_on<presence_info>(owner, [states, owner, topic = std::move(topic)] {
    std::lock_guard lock((*states)[owner]->owned_mutex);
    auto& book = (*states)[owner]->presence;
    return presence_info{book.known(topic), book.users(topic), book.connections(topic)};
  });
}

}  // namespace herald::api
