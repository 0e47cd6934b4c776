// delivery's fleet half: publications through the bus, what arrives from
// it, count queries and history read from the stream. See delivery.hpp.
#include <chrono>
#include <mutex>
#include <set>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/delivery.hpp"
#include "bus/nats_bus.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"

namespace herald::api {

namespace {

namespace asio = boost::asio;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The frame every receiver of `r` gets: built once per node, byte for byte
// what a standalone node would send (the epoch is the stream's).
hub::message message_of(const bus::record& r) {
  static const std::string no_epoch;
  const std::string& epoch = r.epoch ? *r.epoch : no_epoch;
  hub::message m;
  m.offset = r.offset;
  m.prev = r.prev;
  m.ts_ms = r.ts_ms;
  if (r.kind == 't') {
    m.kind = hub::frame_kind::topic_message;
    m.topic = r.key;
    m.data = r.data;
    m.text = proto::encode_topic_message(m.topic, {m.offset, epoch, m.ts_ms}, r.from, m.data);
    return m;
  }
  m.kind = hub::frame_kind::user_message;
  m.topic = r.key.substr(1);  // user_key() is '\x01' + user
  if (r.kind == 'e') {
    m.event = r.event;
    m.text = r.data;  // compat: the message text itself
  } else {
    m.data = r.data;
    m.text = proto::encode_user_message(m.topic, m.offset, m.ts_ms, m.data);
  }
  return m;
}


publish_result result_of(const bus::publish_outcome& o) {
  publish_result r;
  r.offset = o.offset;
  r.queued = o.delivered;
  r.stored = o.stored;
  r.error = o.error;
  r.nodes = o.nodes;
  r.partial = o.partial;
  return r;
}

// What a history read from the stream means for a subscriber at `since`.
hub::history_slice slice_of(bus::history_outcome o, std::optional<std::uint64_t> since) {
  hub::history_slice s;
  if (!o.available) {
    s.unavailable = true;
    s.recovered = false;
    s.offset = since.value_or(0);
    return s;
  }
  s.epoch = std::move(o.epoch);
  s.offset = o.last;
  s.epoch_changed = o.epoch_changed;
  const std::uint64_t from = o.epoch_changed ? 0 : since.value_or(o.last);
  // The stream drops its oldest messages first (limits, DiscardOld), so
  // nothing after `from` is lost while its oldest kept sequence is at most
  // from + 1. Offsets are not contiguous per key, so that is the only proof.
  const bool nothing_dropped = o.first_seq == 0 || o.first_seq <= from + 1;
  s.recovered = !o.epoch_changed && o.complete && (from >= o.last ? true : nothing_dropped);
  if (from > o.last && o.first_seq > from) {
    // The key has nothing kept at or after `from` and the stream has moved
    // past it: messages after `from` may have been dropped.
    s.recovered = false;
    s.offset = from;
  }
  for (auto& r : o.records) s.messages.push_back(hub::make_frame(message_of(r)));
  return s;
}

}  // namespace

void delivery::attach(bus::nats_bus* b, std::string node_name, std::vector<std::string> presence) {
  bus_ = b;
  node_name_ = std::move(node_name);
  presence_patterns_ = std::move(presence);
}

boost::asio::awaitable<publish_result> delivery::via_bus(std::string key, bus::envelope env, std::string data) {
  auto initiate = [this, key = std::move(key), env = std::move(env), data = std::move(data)](auto handler) mutable {
    auto back = asio::get_associated_executor(handler);
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    auto complete = [h](publish_result r) { std::move(*h)(std::move(r)); };
    // Kept for the case the publication never leaves the node (bus down):
    // local receivers still get it then, unsequenced.
    bus_->publish(key, env, data, back,
                  [this, key, env, data, back, complete](bus::publish_outcome o) mutable {
                    if (o.sent) {
                      complete(result_of(o));
                      return;
                    }
                    deliver_unsequenced(std::move(key), std::move(env), std::move(data), back,
                                        [complete, o](publish_result local) {
                                          local.stored = false;
                                          local.error = o.error;
                                          complete(std::move(local));
                                        });
                  });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(publish_result)>(std::move(initiate),
                                                                                   asio::use_awaitable);
}

void delivery::deliver_unsequenced(std::string key, bus::envelope env, std::string data, asio::any_io_executor back,
                                   std::function<void(publish_result)> done) {
  auto* states = &states_;
  const auto owner = owner_of(key);
  bus::record r;
  r.kind = env.kind;
  r.ts_ms = env.ts_ms;
  r.from = std::move(env.from);
  r.event = std::move(env.event);
  r.data = std::move(data);
  r.key = std::move(key);
  r.epoch = bus_->epoch();  // offset 0 says "in no history"; the epoch stays the stream's
  auto prepare = [states, owner, r = std::move(r)] {
    return shard::targeted<hub::shared_frame>{hub::make_frame(message_of(r)), (*states)[owner]->interest.of(r.key)};
  };
  pool_.sequenced<publish_result>(owner, std::move(prepare), start_of, fan_each{states}, add_counts,
                                  asio::bind_executor(back, std::move(done)));
}

void delivery::on_record(bus::record r) {
  const auto owner = owner_of(r.key);
  pool_.post_to(owner, [this, owner, r = std::move(r)]() mutable { receive(owner, std::move(r)); });
}

void delivery::receive(std::size_t owner, bus::record r) {
  if (r.kind == 'j' || r.kind == 'l') {
    receive_presence(owner, r);
    return;
  }
  auto& st = *states_[owner];
  ++st.stats.bus_received;
  if (r.ts_ms > 0) st.stats.bus_lag.observe(static_cast<double>(std::max<std::int64_t>(0, wall_ms() - r.ts_ms)) / 1e3);
  auto& order = st.bus_order[r.key];
  const auto now = std::chrono::steady_clock::now();
  if (order.stale(r)) {
    // Delivered already (read back to fill a gap), or from before this
    // node listened: nobody here takes it, which is the count to report.
    if (!r.id.empty() && !st.fleet.known(r.id)) {
      st.fleet.begin(r.id, now);
      for (auto& to : st.fleet.finish(r.id, 0)) bus_->reply(to, node_name_ + " 0");
    }
    return;
  }
  st.fleet.begin(r.id, now);  // a count query waits while it is held
  auto key = r.key;
  for (auto& ready : order.offer(std::move(r))) fan_out(owner, std::move(ready));
  if (order.waiting() && !order.gap_timer_armed) arm_gap_timer(owner, key);
}

void delivery::fan_out(std::size_t owner, bus::record r) {
  auto& st = *states_[owner];
  auto* states = &states_;
  auto prepare = [f = hub::make_frame(message_of(r)), targets = st.interest.of(r.key)] {
    return shard::targeted<hub::shared_frame>{f, targets};
  };
  auto counted = [this, owner, id = std::move(r.id)](publish_result res) {
    if (id.empty()) return;
    for (auto& to : states_[owner]->fleet.finish(id, res.queued)) {
      bus_->reply(to, node_name_ + " " + std::to_string(res.queued));
    }
  };
  pool_.sequenced<publish_result>(owner, std::move(prepare), start_of, fan_each{states}, add_counts,
                                  asio::bind_executor(pool_.executor(owner), std::move(counted)));
}

// How long a publication waits for its predecessor before the gap is read
// from the stream. Reordering seen on loopback is microseconds; this only
// bounds the rare case of a message this node never got.
constexpr auto gap_wait = std::chrono::milliseconds(50);

void delivery::arm_gap_timer(std::size_t owner, const std::string& key) {
  states_[owner]->bus_order[key].gap_timer_armed = true;
  auto t = std::make_shared<asio::steady_timer>(pool_.executor(owner), gap_wait);
  t->async_wait([this, owner, key, t](boost::system::error_code) { fill_gap(owner, key); });
}

void delivery::fill_gap(std::size_t owner, const std::string& key) {
  auto& st = *states_[owner];
  auto it = st.bus_order.find(key);
  if (it == st.bus_order.end()) return;  // no longer listened
  if (!it->second.waiting()) {
    it->second.gap_timer_armed = false;
    return;
  }
  ++st.stats.bus_order_gaps;
  const auto [after, before] = it->second.gap();
  const auto limit = static_cast<std::size_t>(std::min<std::uint64_t>(before - after, 1000));
  bus_->history(key, after, {}, limit, pool_.executor(owner), [this, owner, key](bus::history_outcome o) {
    auto& st = *states_[owner];
    auto it = st.bus_order.find(key);
    if (it == st.bus_order.end()) return;
    it->second.gap_timer_armed = false;
    // The bus could not answer: try again for a while before giving up on
    // the missing ones (the held ones then go out, in order, without them).
    if (!o.available && ++it->second.gap_reads_failed < 20) {
      arm_gap_timer(owner, key);
      return;
    }
    it->second.gap_reads_failed = 0;
    const auto now = std::chrono::steady_clock::now();
    for (auto& ready : it->second.fill(std::move(o.records))) {
      if (!ready.id.empty() && !st.fleet.known(ready.id)) st.fleet.begin(ready.id, now);
      fan_out(owner, std::move(ready));
    }
  });
}

void delivery::on_count_query(std::string key, std::string id, std::string reply_to) {
  const auto owner = owner_of(key);
  pool_.post_to(owner, [this, owner, key = std::move(key), id = std::move(id), reply_to = std::move(reply_to)]() mutable {
    answer_count(owner, key, id, std::move(reply_to));
  });
}

void delivery::answer_count(std::size_t owner, const std::string& key, const std::string& id, std::string reply_to) {
  auto& st = *states_[owner];
  auto l = st.fleet.answer(id);
  if (l.st == hub::fleet_book::state::done) {
    bus_->reply(reply_to, node_name_ + " " + std::to_string(l.count));
  } else if (l.st == hub::fleet_book::state::unknown && st.interest.of(key) == 0) {
    bus_->reply(reply_to, node_name_ + " 0");  // nobody here listens to the key
  } else {
    // The publication is on its way or being delivered: answer when done.
    st.fleet.wait(id, std::move(reply_to), std::chrono::steady_clock::now());
  }
}

void delivery::bus_history(std::string key, std::optional<std::uint64_t> since, std::string epoch, std::size_t limit,
                           asio::any_io_executor back, std::function<void(hub::history_slice)> done) {
  const auto owner = owner_of(key);
  // Through the owner, so the read leaves after this key's interest
  // announcements: the bus subscription is on the wire before the read, and
  // whatever the read misses arrives live (hub::catch_up merges both).
  pool_.post_to(owner, [this, key = std::move(key), since, epoch = std::move(epoch), limit, back = std::move(back),
                        done = std::move(done)]() mutable {
    bus_->history(std::move(key), since, std::move(epoch), limit, back,
                  [since, done = std::move(done)](bus::history_outcome o) { done(slice_of(std::move(o), since)); });
  });
}

// --- presence ------------------------------------------------------------

void delivery::receive_presence(std::size_t owner, const bus::record& r) {
  auto& fp = states_[owner]->fleet_presence;
  const bool join = r.kind == 'j';
  const bool changed = join ? fp.join(r.key, r.from, r.node) : fp.leave(r.key, r.from, r.node);
  if (changed) send_presence_frame(owner, r.key, r.from, join);
}

void delivery::seed_presence(std::size_t owner, const std::string& topic, bool report) {
  if (!proto::matches_any(presence_patterns_, topic)) return;
  auto seeded = [this, owner, topic, report](std::vector<bus::presence_answer> answers, bool) {
    auto& fp = states_[owner]->fleet_presence;
    for (const auto& a : answers) {
      for (const auto& c : fp.seed(topic, a.node, a.users)) {
        if (report) send_presence_frame(owner, topic, c.user, c.join);
      }
    }
  };
  bus_->presence_query(topic, pool_.executor(owner), std::move(seeded));
}

void delivery::on_presence_query(std::string key, std::string reply_to) {
  const auto owner = owner_of(key);
  pool_.post_to(owner, [this, owner, key = std::move(key), reply_to = std::move(reply_to)] {
    std::lock_guard lock(states_[owner]->owned_mutex);
    auto& book = states_[owner]->presence;
    std::string body = node_name_ + "\n" + std::to_string(book.connections(key));
    for (const auto& u : book.users(key)) body += "\n" + u;
    bus_->reply(reply_to, body);
  });
}

void delivery::on_node_left(std::string node) {
  for (std::size_t i = 0; i < states_.size(); ++i) {
    pool_.post_to(i, [this, i, node] {
      for (const auto& [topic, user] : states_[i]->fleet_presence.drop_node(node)) {
        send_presence_frame(i, topic, user, false);
      }
    });
  }
}

void delivery::on_resync() {
  if (presence_patterns_.empty()) return;
  for (std::size_t i = 0; i < states_.size(); ++i) {
    pool_.post_to(i, [this, i] {
      for (const auto& key : states_[i]->fleet.listened_keys()) seed_presence(i, key, true);
    });
  }
}

boost::asio::awaitable<presence_info> delivery::fleet_presence_of(std::string topic) {
  auto initiate = [this, topic = std::move(topic)](auto handler) mutable {
    auto back = asio::get_associated_executor(handler);
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    bus_->presence_query(std::move(topic), back, [h](std::vector<bus::presence_answer> answers, bool) {
      presence_info info;
      std::set<std::string> users;
      for (auto& a : answers) {
        info.connections += a.connections;
        users.insert(a.users.begin(), a.users.end());
      }
      info.known = info.connections > 0 || !users.empty();
      info.users.assign(users.begin(), users.end());
      std::move(*h)(std::move(info));
    });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(presence_info)>(std::move(initiate),
                                                                                 asio::use_awaitable);
}

}  // namespace herald::api
