// ws_session, part two: what a client may ask over its connection
// (wserver registration, auth, subscribe with recovery, unsubscribe,
// publish, ping). The connection's life — handshake, read and write loops,
// close — is in ws_session.cpp.
#include <algorithm>

#include <boost/asio/co_spawn.hpp>

#include "api/delivery.hpp"
#include "api/token_auth.hpp"
#include "config/options.hpp"
#include "net/shard_context.hpp"
#include "net/unexpected.hpp"
#include "net/ws_session.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

void ws_session::handle_text(std::string_view text) {
  auto parsed = ctx_.state.codec.parse_client(text);
  if (!parsed) {
    reply_error(parsed.error.code, std::move(parsed.error.reason), std::move(parsed.error.id));
    return;
  }
  handle_request(*parsed.value);
}

void ws_session::handle_request(proto::client_request& req) {
  switch (req.op) {
    case proto::client_op::register_compat: handle_register(req); break;
    case proto::client_op::auth: handle_auth(req); break;
    case proto::client_op::subscribe: handle_subscribe(req); break;
    case proto::client_op::unsubscribe: handle_unsubscribe(req); break;
    case proto::client_op::ping: reply(proto::encode_reply("pong", {}, req.id)); break;
    case proto::client_op::publish: handle_publish(req); break;
  }
}

bool ws_session::under_subscription_limit(const std::string& id) {
  if (bindings_ + topics_.size() < ctx_.opts.max_subscriptions) return true;
  reply_error(proto::errc::too_many_subscriptions, "subscription limit reached", id);
  return false;
}

// wserver compat: binds (userId(token), event). The seed sent no reply, and
// compat clients may treat any frame as a message, so only a request that
// carries an "id" (a native client's) is acknowledged.
void ws_session::handle_register(proto::client_request& req) {
  auto user = ctx_.auth.user_of(req.token);
  if (!user) {
    reply_error(proto::errc::unauthorized, "unknown token", req.id);
    return;
  }
  if (!proto::valid_name(*user)) {  // the same rule /push applies, so every registration is reachable
    reply_error(proto::errc::bad_request, "user ids are 1-256 bytes without control characters", req.id);
    return;
  }
  if (!under_subscription_limit(req.id)) return;
  bind(*user, req.event, [this, id = req.id] {
    if (!id.empty()) reply(proto::encode_reply("registered", {}, id));
  });
}

void ws_session::handle_auth(proto::client_request& req) {
  auto user = ctx_.auth.user_of(req.token);
  if (!user) {
    reply_error(proto::errc::unauthorized, "unknown token", req.id);
    return;
  }
  if (!proto::valid_name(*user)) {
    reply_error(proto::errc::bad_request, "user ids are 1-256 bytes without control characters", req.id);
    return;
  }
  if (!under_subscription_limit(req.id)) return;
  bind(*user, {}, [this, user = *user, id = req.id] { reply(proto::encode_authed(user, id)); });
}

// Binds and then runs `then`. When this connection is the shard's first
// for `user`, the user's owner shard must learn it before pushes can reach
// it: reading pauses until the owner acknowledges, so anything the client
// does next (even a ping) is answered only once pushes reach it.
void ws_session::bind(const std::string& user, std::string_view event, std::function<void()> then) {
  if (std::find(users_.begin(), users_.end(), user) == users_.end()) users_.push_back(user);
  auto outcome = ctx_.bind(this, user, event, [self = shared_from_this(), then = std::move(then)] {
    if (!self->read_paused_) {  // reachable at once: we are still in on_read
      then();
      return;
    }
    self->read_paused_ = false;
    if (self->open_) then();
    self->resume_reader();  // its next read ends it if the socket is gone
  });
  if (outcome.new_binding) ++bindings_;
  if (outcome.deferred) read_paused_ = true;
}

// Leaves `topic` (registry, owner's interest, presence). Returns false when
// this connection was not subscribed.
bool ws_session::leave_topic(const std::string& topic) {
  if (!ctx_.unsubscribe(this, topic)) return false;
  if (presence_on(topic)) ctx_.delivery.presence(topic, presence_user(), false);
  return true;
}

std::string ws_session::presence_user() const { return users_.empty() ? std::string() : users_.front(); }

bool ws_session::presence_on(const std::string& topic) const {
  return proto::matches_any(ctx_.opts.presence, topic);
}

// Registers for live frames first, then asks the topic's owner for history;
// frames arriving in between are buffered and merged (hub::catch_up), so the
// client gets the reply, then what it missed, then live frames: no gap, no
// duplicate.
ws_session::topic_sub* ws_session::find_topic(std::string_view name) {
  for (auto& t : topics_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void ws_session::handle_subscribe(proto::client_request& req) {
  const bool fresh = find_topic(req.topic) == nullptr;
  if (fresh && !under_subscription_limit(req.id)) return;
  if (fresh) {
    ctx_.subscribe(this, req.topic);  // before the history request below
    topics_.push_back({req.topic, 0});
    if (presence_on(req.topic)) ctx_.delivery.presence(req.topic, presence_user(), true);
  }
  if (!recovering_) recovering_ = std::make_unique<std::vector<hub::catch_up>>();
  recovering_->emplace_back(req.topic, req.since);
  ctx_.delivery.fetch_history(req.topic, req.since, req.epoch, ctx_.opts.history_size, ctx_.executor,
                              [self = shared_from_this(), topic = req.topic, id = req.id, since = req.since](
                                  hub::history_slice slice) { self->on_history(topic, id, since, std::move(slice)); });
}

void ws_session::on_history(const std::string& topic, const std::string& id, std::optional<std::uint64_t> since,
                            hub::history_slice slice) {
  if (!recovering_) return;
  auto it = std::find_if(recovering_->begin(), recovering_->end(),
                         [&](const hub::catch_up& c) { return c.topic() == topic; });
  if (it == recovering_->end()) return;
  auto frames = it->merge(slice);
  const bool recovered_all = it->recovered(slice, frames);
  const auto position = it->position(slice, frames);
  recovering_->erase(it);
  if (recovering_->empty()) recovering_.reset();
  if (!open_) return;
  if (since && *since > slice.offset && slice.recovered) {
    // A position this topic never reached: refuse the subscription.
    leave_topic(topic);
    std::erase_if(topics_, [&](const topic_sub& t) { return t.name == topic; });
    reply_error("bad_since", "since is ahead of the topic's offset " + std::to_string(slice.offset), id);
    return;
  }
  std::optional<bool> recovered;
  if (since) recovered = recovered_all;
  reply(proto::encode_subscribed(topic, id, slice.epoch, slice.offset, recovered));
  if (auto* t = find_topic(topic)) t->last = std::max(t->last, position);
  for (auto& f : frames) enqueue(std::move(f));
}

bool ws_session::buffer_if_recovering(const hub::local_frame& f) {
  if (!recovering_ || f->kind == hub::frame_kind::reply || f->kind == hub::frame_kind::user_message) return false;
  for (auto& c : *recovering_) {
    if (c.topic() == f->topic) {
      c.buffer(f);
      return true;
    }
  }
  return false;
}

void ws_session::handle_unsubscribe(proto::client_request& req) {
  if (!leave_topic(req.topic)) {
    reply_error(proto::errc::not_subscribed, "not subscribed to this topic", req.id);
    return;
  }
  std::erase_if(topics_, [&](const topic_sub& t) { return t.name == req.topic; });
  reply(proto::encode_reply("unsubscribed", req.topic, req.id));
}

void ws_session::handle_publish(proto::client_request& req) {
  if (!proto::matches_any(ctx_.opts.client_publish, req.topic)) {
    reply_error(proto::errc::forbidden, "clients may not publish to this topic", req.id);
    return;
  }
  if (users_.empty()) {
    reply_error(proto::errc::forbidden, "authenticate (op auth) before publishing", req.id);
    return;
  }
  asio::co_spawn(ctx_.executor, publish_task(shared_from_this(), std::move(req.topic), std::move(req.data), req.id),
                 log_unexpected{"ws_session publish"});
}

asio::awaitable<void> ws_session::publish_task(std::shared_ptr<ws_session> self, std::string topic, std::string data,
                                               std::string id) {
  auto r = co_await self->ctx_.delivery.publish(topic, std::move(data), self->users_.front());
  if (!r.stored) {
    // A fleet whose stream did not store it: the client may retry.
    self->reply_error("bus_unavailable", "not stored: " + r.error, id);
    co_return;
  }
  self->reply(proto::encode_published(topic, r.offset, id));
}

}  // namespace herald::net
