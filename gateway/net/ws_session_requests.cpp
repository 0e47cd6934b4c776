// ws_session, part two: what a client may ask over its connection
// (wserver registration, auth, subscribe with recovery, unsubscribe,
// publish, ping), and who it is: tokens on the upgrade and in frames, their
// expiry, channel permissions. The connection's life — handshake, read and
// write loops, close — is in ws_session.cpp.
#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/write.hpp>

#include "api/delivery.hpp"
#include "api/http_api.hpp"
#include "api/token_auth.hpp"
#include "config/options.hpp"
#include "net/shard_context.hpp"
#include "net/unexpected.hpp"
#include "net/ws_session.hpp"
#include "proto/codec.hpp"
#include "proto/names.hpp"
#include "proto/query.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

namespace {

// "10" or "2.5": a setting as its user wrote it.
std::string seconds_text(config::seconds_d s) {
  auto text = std::to_string(s.count());
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

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
  auto r = ctx_.auth.authenticate(req.token, api::token_auth::now());
  if (!r) {
    refuse_token(r.error, req.id);
    return;
  }
  if (!proto::valid_name(r.who->user)) {  // the same rule /push applies, so every registration is reachable
    reply_error(proto::errc::bad_request, "user ids are 1-256 bytes without control characters", req.id);
    return;
  }
  if (!under_subscription_limit(req.id)) return;
  take_identity(std::move(*r.who), req.event, [this, id = req.id] {
    if (!id.empty()) reply(proto::encode_reply("registered", {}, id));
  });
}

// Also how a connection renews a token before (or after) it expires.
void ws_session::handle_auth(proto::client_request& req) {
  auto r = ctx_.auth.authenticate(req.token, api::token_auth::now());
  if (!r) {
    refuse_token(r.error, req.id);
    return;
  }
  if (!proto::valid_name(r.who->user)) {
    reply_error(proto::errc::bad_request, "user ids are 1-256 bytes without control characters", req.id);
    return;
  }
  const bool bound = std::find(users_.begin(), users_.end(), r.who->user) != users_.end();
  if (!bound && !under_subscription_limit(req.id)) return;
  auto user = r.who->user;
  take_identity(std::move(*r.who), {}, [this, user, id = req.id] { reply(proto::encode_authed(user, id)); });
}

void ws_session::refuse_token(auth::failure why, std::string id) {
  ++ctx_.state.stats.auth_failures[std::string(auth::to_string(why))];
  reply_error(proto::errc::unauthorized, std::string(auth::describe(why)), std::move(id));
}

asio::awaitable<bool> ws_session::admit_upgrade(const request& req, std::optional<api::identity>& who) {
  proto::query q(std::string_view(req.target().data(), req.target().size()));
  auto token = q.get("token");
  if (!token) co_return true;
  auto r = ctx_.auth.authenticate(*token, api::token_auth::now());
  if (r && proto::valid_name(r.who->user)) {
    who = std::move(r.who);
    co_return true;
  }
  // Refused before the handshake, so a client never holds a connection it
  // may not have. The token is not logged.
  api::response res;
  if (r) {
    res = api::json_error(http::status::bad_request, proto::errc::bad_request,
                          "user ids are 1-256 bytes without control characters", req.version());
  } else {
    ++ctx_.state.stats.auth_failures[std::string(auth::to_string(r.error))];
    res = api::json_error(http::status::unauthorized, proto::errc::unauthorized, auth::describe(r.error),
                          req.version());
    res.set(http::field::www_authenticate, "Bearer");
  }
  res.keep_alive(false);
  res.prepare_payload();
  co_await http::async_write(sock_, res, asio::as_tuple(asio::use_awaitable));
  co_return false;
}

// A connection's deadline is its token's "exp". A token for the
// connection's only user replaces it (renewal; a token without expiry
// clears it); one for another user can only bring it closer, so binding a
// second user never extends the first one's credentials.
void ws_session::take_identity(api::identity who, std::string_view event, std::function<void()> then) {
  const bool sole_user = std::all_of(users_.begin(), users_.end(), [&](const std::string& u) { return u == who.user; });
  const auto deadline = who.expires ? api::token_auth::steady_deadline(*who.expires) : clock::time_point::max();
  if (who.expires || !who.channels.empty() || credential_) {
    if (!credential_) credential_ = std::make_unique<credential>();
    auto& c = *credential_;
    c.expires_at = sole_user ? deadline : std::min(c.expires_at, deadline);
    if (c.expires_at > clock::now()) c.warned = false;
    for (auto& ch : who.channels) {
      if (std::find(c.channels.begin(), c.channels.end(), ch) == c.channels.end()) c.channels.push_back(ch);
    }
  }
  // The granted channels are subscribed once the binding is reachable, so
  // the client sees its reply (authed, registered) before their subscribed.
  bind(who.user, event, [this, then = std::move(then), channels = std::move(who.channels)] {
    then();
    for (const auto& topic : channels) {
      if (find_topic(topic) || !under_subscription_limit({})) continue;
      start_subscription(topic, std::nullopt, {}, {});
    }
  });
}

// The grace runs from the error frame, not from "exp": however late the
// sweep notices, the client gets all of it to renew.
bool ws_session::token_expired(clock::time_point now) {
  auto& c = *credential_;
  if (!c.warned) {
    c.warned = true;
    c.expires_at = now;
    reply_error(proto::errc::token_expired,
                "token expired: send auth with a fresh token within " + seconds_text(ctx_.opts.token_expiry_grace) +
                    " s or the connection closes (4001)",
                {});
    return false;
  }
  if (now - c.expires_at < std::chrono::duration_cast<clock::duration>(ctx_.opts.token_expiry_grace)) return false;
  close(metrics::close_reason::token_expired, true);  // the error frame, if still queued, goes first
  return true;
}

void ws_session::track_grant(const std::string& topic, std::optional<std::int64_t> expires) {
  if (!expires && (!credential_ || credential_->grants.empty())) return;
  if (!credential_) credential_ = std::make_unique<credential>();
  auto& grants = credential_->grants;
  auto it = std::find_if(grants.begin(), grants.end(), [&](const credential::grant& g) { return g.topic == topic; });
  if (!expires) {
    if (it != grants.end()) grants.erase(it);
    return;
  }
  const auto at = api::token_auth::steady_deadline(*expires);
  if (it == grants.end()) it = grants.insert(grants.end(), {topic, at});
  it->expires_at = at;
  it->warned = false;
}

// Like the connection's token: the grace runs from the error frame.
void ws_session::expire_grants(clock::time_point now) {
  auto& grants = credential_->grants;
  const auto grace = std::chrono::duration_cast<clock::duration>(ctx_.opts.token_expiry_grace);
  for (std::size_t i = 0; i < grants.size();) {
    auto& g = grants[i];
    if (g.expires_at > now) {
      ++i;
    } else if (!g.warned) {
      g.warned = true;
      g.expires_at = now + grace;
      ++ctx_.state.stats.client_errors[std::string(proto::errc::token_expired)];
      reply(proto::encode_topic_error(proto::errc::token_expired, g.topic,
                                      "subscription token expired: subscribe again with a fresh sub_token within " +
                                          seconds_text(ctx_.opts.token_expiry_grace) + " s or the subscription ends"));
      ++i;
    } else {
      const auto topic = std::move(g.topic);
      grants.erase(grants.begin() + static_cast<std::ptrdiff_t>(i));
      if (end_subscription(topic)) reply(proto::encode_reply("unsubscribed", topic, {}));
    }
  }
}

// The user a topic is asked for: the one it is limited to when this
// connection is bound to that user, else the connection's first user.
bool ws_session::may_subscribe(const std::string& topic, std::string_view subscription_token, const std::string& id,
                               std::optional<std::int64_t>& grant_expires) {
  const std::string first = presence_user();
  std::string_view user = first;
  const auto owner = proto::topic_owner(topic);
  if (!owner.empty() && std::find(users_.begin(), users_.end(), owner) != users_.end()) user = owner;
  std::span<const std::string> channels;
  if (credential_) channels = credential_->channels;
  auto d = ctx_.auth.may_subscribe(user, channels, topic, subscription_token, api::token_auth::now());
  if (d.ok()) {
    grant_expires = d.grant_expires;
    return true;
  }
  if (d.failure != auth::failure::none) ++ctx_.state.stats.auth_failures[std::string(auth::to_string(d.failure))];
  reply_error(d.code, std::move(d.reason), id);
  return false;
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

bool ws_session::end_subscription(const std::string& topic) {
  if (!leave_topic(topic)) return false;
  std::erase_if(topics_, [&](const topic_sub& t) { return t.name == topic; });
  if (credential_) std::erase_if(credential_->grants, [&](const credential::grant& g) { return g.topic == topic; });
  return true;
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

// A topic already subscribed passed its check then: subscribing again
// (to recover with since) asks nothing more.
void ws_session::handle_subscribe(proto::client_request& req) {
  const bool fresh = find_topic(req.topic) == nullptr;
  // Subscribing again with a subscription token renews the subscription's
  // expiry (a refused one leaves the subscription as it was); without one
  // it only resumes.
  std::optional<std::int64_t> until;
  if ((fresh || !req.token.empty()) && !may_subscribe(req.topic, req.token, req.id, until)) return;
  if (fresh && !under_subscription_limit(req.id)) return;
  if (fresh || !req.token.empty()) track_grant(req.topic, until);
  start_subscription(req.topic, req.since, req.epoch, req.id);
}

void ws_session::start_subscription(const std::string& topic, std::optional<std::uint64_t> since,
                                    const std::string& epoch, const std::string& id) {
  if (!find_topic(topic)) {
    ctx_.subscribe(this, topic);  // before the history request below
    topics_.push_back({topic, 0});
    if (presence_on(topic)) ctx_.delivery.presence(topic, presence_user(), true);
  }
  if (!recovering_) recovering_ = std::make_unique<std::vector<hub::catch_up>>();
  recovering_->emplace_back(topic, since);
  ctx_.delivery.fetch_history(topic, since, epoch, ctx_.opts.history_size, ctx_.state.index,
                              [self = shared_from_this(), topic, id, since](hub::history_slice slice) {
                                self->on_history(topic, id, since, std::move(slice));
                              });
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
    end_subscription(topic);
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
  if (!end_subscription(req.topic)) {
    reply_error(proto::errc::not_subscribed, "not subscribed to this topic", req.id);
    return;
  }
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
  // A publisher must be one who may subscribe (a subscribed topic passed that).
  std::optional<std::int64_t> unused;  // no subscription token here
  if (!find_topic(req.topic) && !may_subscribe(req.topic, {}, req.id, unused)) return;
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
