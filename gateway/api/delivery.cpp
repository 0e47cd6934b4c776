#include "api/delivery.hpp"

#include "shard/shard_pool.hpp"
#include "shard/shard_state.hpp"

namespace herald::api {

delivery::delivery(shard::shard_pool& pool, std::vector<std::unique_ptr<shard::shard_state>>& states)
    : pool_(pool), states_(states) {}

template <class Publish>
boost::asio::awaitable<hub::fanout_result> delivery::fan_out(Publish publish) {
  auto* states = &states_;
  return pool_.map_reduce(
      [states, publish = std::move(publish)](std::size_t i) { return publish((*states)[i]->registry); },
      hub::fanout_result{}, [](hub::fanout_result& total, const hub::fanout_result& r) {
        total.queued += r.queued;
        total.dropped += r.dropped;
      });
}

boost::asio::awaitable<hub::fanout_result> delivery::to_event(std::string user, std::string event,
                                                              hub::shared_frame f) {
  return fan_out([user = std::move(user), event = std::move(event), f](hub::registry& r) {
    return r.publish_event(user, event, hub::localize(f));
  });
}

boost::asio::awaitable<hub::fanout_result> delivery::to_user(std::string user, hub::shared_frame f) {
  return fan_out(
      [user = std::move(user), f](hub::registry& r) { return r.publish_user(user, hub::localize(f)); });
}

boost::asio::awaitable<hub::fanout_result> delivery::to_topic(std::string topic, hub::shared_frame f) {
  return fan_out(
      [topic = std::move(topic), f](hub::registry& r) { return r.publish_topic(topic, hub::localize(f)); });
}

}  // namespace herald::api
