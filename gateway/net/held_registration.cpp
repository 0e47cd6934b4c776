#include "net/held_registration.hpp"

#include "api/delivery.hpp"
#include "net/shard_context.hpp"
#include "shard/shard_state.hpp"

namespace herald::net {

held_registration::held_registration(shard_context& ctx, hub::subscriber& sub, held_request& held,
                                     std::uint64_t& gauge, held_target target)
    : ctx_(ctx), sub_(sub), held_(held), gauge_(gauge), target_(std::move(target)) {
  // Announced to the owner before the caller asks it for history (same
  // owner, handled in order), so every later publication reaches us.
  auto& registry = ctx_.state.registry;
  const auto shard = ctx_.state.index;
  if (!target_.topic.empty()) {
    registry.subscribe(&sub_, target_.topic);
    if (registry.subscribers_of(target_.topic) == 1) ctx_.delivery.interest(target_.topic, shard, true);
  }
  if (!target_.user.empty()) {
    registry.bind(&sub_, target_.user, target_.event);
    if (registry.connections_of(target_.user) == 1) {
      ctx_.delivery.interest(api::delivery::user_key(target_.user), shard, true);
    }
  }
  ctx_.add_held(&held_);
  ++gauge_;
  if (target_.presence_user) ctx_.delivery.presence(target_.topic, *target_.presence_user, true);
}

held_registration::~held_registration() {
  if (ctx_.stopped()) return;
  auto& registry = ctx_.state.registry;
  const auto shard = ctx_.state.index;
  if (!target_.topic.empty()) {
    registry.unsubscribe(&sub_, target_.topic);
    if (registry.subscribers_of(target_.topic) == 0) ctx_.delivery.interest(target_.topic, shard, false);
  }
  if (!target_.user.empty()) {
    registry.unbind_user(&sub_, target_.user);
    if (registry.connections_of(target_.user) == 0) {
      ctx_.delivery.interest(api::delivery::user_key(target_.user), shard, false);
    }
  }
  ctx_.remove_held(&held_);
  --gauge_;
  if (target_.presence_user) ctx_.delivery.presence(target_.topic, *target_.presence_user, false);
}

}  // namespace herald::net
