#include "net/held_registration.hpp"

#include "api/delivery.hpp"
#include "net/shard_context.hpp"

namespace herald::net {

held_registration::held_registration(shard_context& ctx, hub::subscriber& sub, held_request& held,
                                     std::uint64_t& gauge, held_target target)
    : ctx_(ctx), sub_(sub), held_(held), gauge_(gauge), target_(std::move(target)) {
  if (!target_.topic.empty()) ctx_.subscribe(&sub_, target_.topic);
  if (!target_.user.empty()) ctx_.bind(&sub_, target_.user, target_.event);
  ctx_.add_held(&held_);
  ++gauge_;
  if (target_.presence_user) ctx_.delivery.presence(target_.topic, *target_.presence_user, true);
}

held_registration::~held_registration() {
  if (ctx_.stopped()) return;
  if (!target_.topic.empty()) ctx_.unsubscribe(&sub_, target_.topic);
  if (!target_.user.empty()) ctx_.unbind_user(&sub_, target_.user);
  ctx_.remove_held(&held_);
  --gauge_;
  if (target_.presence_user) ctx_.delivery.presence(target_.topic, *target_.presence_user, false);
}

}  // namespace herald::net
