#include "net/held_registration.hpp"

#include <chrono>

#include "api/delivery.hpp"
#include "config/options.hpp"
#include "net/shard_context.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

held_registration::held_registration(shard_context& ctx, hub::subscriber& sub, held_request& held,
                                     std::uint64_t& gauge, held_target target)
    : ctx_(ctx), sub_(sub), held_(held), gauge_(gauge), target_(std::move(target)) {
  if (!target_.topic.empty()) ctx_.subscribe(&sub_, target_.topic);
  if (!target_.user.empty()) ctx_.bind(&sub_, target_.user, target_.event);
  ctx_.add_held(&held_);
  ++gauge_;
  if (!target_.presence_user) return;
  // A lease already running (the user's previous poll) is still counted.
  if (!target_.lease || ctx_.state.poll_presence.begin(target_.topic, *target_.presence_user)) {
    ctx_.delivery.presence(target_.topic, *target_.presence_user, true);
  }
}

held_registration::~held_registration() {
  if (ctx_.stopped()) return;
  if (!target_.topic.empty()) ctx_.unsubscribe(&sub_, target_.topic);
  if (!target_.user.empty()) ctx_.unbind_user(&sub_, target_.user);
  ctx_.remove_held(&held_);
  --gauge_;
  if (!target_.presence_user) return;
  if (!target_.lease) {
    ctx_.delivery.presence(target_.topic, *target_.presence_user, false);
    return;
  }
  // The lease ends in shard_context's sweep unless the next poll comes first.
  using clock = std::chrono::steady_clock;
  const auto window = std::chrono::duration_cast<clock::duration>(ctx_.opts.poll_presence_window);
  ctx_.state.poll_presence.end(target_.topic, *target_.presence_user, clock::now() + window);
}

void held_history::operator()(std::function<void(hub::history_slice)> done) const {
  ctx.delivery.fetch_history(key, since, epoch, ctx.opts.history_size, ctx.state.index, std::move(done));
}

}  // namespace herald::net
