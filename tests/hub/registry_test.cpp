// Unit tests for hub::registry, driven through a fake subscriber that records
// what it is given and answers with a chosen send_status.
#include <boost/test/unit_test.hpp>

#include <string>
#include <type_traits>
#include <vector>

#include "hub/frame.hpp"
#include "hub/registry.hpp"
#include "hub/subscriber.hpp"

namespace hub = herald::hub;

namespace {

// The bytes a receiver gets, whether a frame is a bare string or a message
// carrying its text alongside other facts.
template <class M>
const std::string& text_of(const M& m) {
  if constexpr (std::is_same_v<M, std::string>) {
    return m;
  } else {
    return m.text;
  }
}

class fake_subscriber final : public hub::subscriber {
 public:
  explicit fake_subscriber(hub::send_status answer = hub::send_status::queued) : answer_(answer) {}

  hub::send_status deliver(const hub::local_frame& f) override {
    frames_.push_back(f);
    return answer_;
  }

  void answer(hub::send_status s) { answer_ = s; }
  std::size_t count() const { return frames_.size(); }
  const std::vector<hub::local_frame>& frames() const { return frames_; }
  std::string last() const { return frames_.empty() ? std::string("<none>") : text_of(*frames_.back()); }

 private:
  hub::send_status answer_;
  std::vector<hub::local_frame> frames_;
};

hub::local_frame frame(std::string text) { return hub::localize(hub::make_frame(std::move(text))); }

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_users)

BOOST_AUTO_TEST_CASE(an_event_push_reaches_only_connections_bound_to_that_event) {
  hub::registry reg;
  fake_subscriber news, sport, other_user;
  BOOST_TEST(reg.bind(&news, "alice", "news"));
  BOOST_TEST(reg.bind(&sport, "alice", "sport"));
  BOOST_TEST(reg.bind(&other_user, "bob", "news"));

  auto r = reg.publish_event("alice", "news", frame("n1"));
  BOOST_TEST(r.queued == 1u);
  BOOST_TEST(r.dropped == 0u);
  BOOST_TEST(news.count() == 1u);
  BOOST_TEST(news.last() == "n1");
  BOOST_TEST(sport.count() == 0u);
  BOOST_TEST(other_user.count() == 0u);
}

BOOST_AUTO_TEST_CASE(event_names_match_whole_names_only) {
  hub::registry reg;
  fake_subscriber s;
  reg.bind(&s, "alice", "news");
  reg.bind(&s, "alice", "ab");
  for (const char* e : {"new", "ews", "news\n", "a", "b", "abnews", "", "newsab"}) {
    BOOST_TEST_CONTEXT(e) { BOOST_TEST(reg.publish_event("alice", e, frame("x")).queued == 0u); }
  }
  BOOST_TEST(s.count() == 0u);
  BOOST_TEST(reg.publish_event("alice", "ab", frame("y")).queued == 1u);
  BOOST_TEST(reg.publish_event("alice", "news", frame("z")).queued == 1u);
}

BOOST_AUTO_TEST_CASE(a_connection_can_bind_several_events_of_one_user) {
  hub::registry reg;
  fake_subscriber s;
  BOOST_TEST(reg.bind(&s, "alice", "news"));
  BOOST_TEST(reg.bind(&s, "alice", "sport"));
  BOOST_TEST(reg.bind(&s, "alice", "weather"));
  BOOST_TEST(reg.connections_of("alice") == 1u);

  BOOST_TEST(reg.publish_event("alice", "sport", frame("s")).queued == 1u);
  BOOST_TEST(reg.publish_event("alice", "weather", frame("w")).queued == 1u);
  BOOST_TEST(reg.publish_event("alice", "news", frame("n")).queued == 1u);
  BOOST_TEST(reg.publish_event("alice", "music", frame("m")).queued == 0u);
  BOOST_TEST_REQUIRE(s.count() == 3u);
  BOOST_TEST(text_of(*s.frames()[0]) == "s");
  BOOST_TEST(text_of(*s.frames()[1]) == "w");
  BOOST_TEST(text_of(*s.frames()[2]) == "n");
}

BOOST_AUTO_TEST_CASE(push_to_a_user_reaches_every_connection_of_that_user_once) {
  hub::registry reg;
  fake_subscriber phone, laptop, stranger;
  reg.bind(&phone, "alice", "news");
  reg.bind(&phone, "alice", "sport");
  reg.bind(&phone, "alice", "chat");
  reg.bind(&laptop, "alice", "news");
  reg.bind(&stranger, "bob", "news");

  auto r = reg.publish_user("alice", frame("hello"));
  BOOST_TEST(r.queued == 2u);
  BOOST_TEST(r.dropped == 0u);
  BOOST_TEST(phone.count() == 1u);
  BOOST_TEST(laptop.count() == 1u);
  BOOST_TEST(stranger.count() == 0u);
  BOOST_TEST(laptop.last() == "hello");
}

BOOST_AUTO_TEST_CASE(binding_the_same_event_twice_returns_false_and_still_delivers_once) {
  hub::registry reg;
  fake_subscriber s;
  BOOST_TEST(reg.bind(&s, "alice", "news"));
  BOOST_TEST(!reg.bind(&s, "alice", "news"));
  BOOST_TEST(reg.connections_of("alice") == 1u);
  BOOST_TEST(reg.publish_event("alice", "news", frame("x")).queued == 1u);
  BOOST_TEST(s.count() == 1u);
}

BOOST_AUTO_TEST_CASE(the_same_event_for_two_users_or_two_connections_is_not_a_duplicate) {
  hub::registry reg;
  fake_subscriber a, b;
  BOOST_TEST(reg.bind(&a, "alice", "news"));
  BOOST_TEST(reg.bind(&a, "bob", "news"));
  BOOST_TEST(reg.bind(&b, "alice", "news"));
  BOOST_TEST(reg.user_count() == 2u);
  BOOST_TEST(reg.publish_event("alice", "news", frame("x")).queued == 2u);
}

BOOST_AUTO_TEST_CASE(unbinding_a_user_removes_all_its_events_for_that_connection_only) {
  hub::registry reg;
  fake_subscriber leaving, staying;
  reg.bind(&leaving, "alice", "news");
  reg.bind(&leaving, "alice", "sport");
  reg.bind(&leaving, "bob", "news");
  reg.bind(&staying, "alice", "news");

  reg.unbind_user(&leaving, "alice");
  BOOST_TEST(reg.connections_of("alice") == 1u);
  BOOST_TEST(reg.publish_event("alice", "news", frame("n")).queued == 1u);
  BOOST_TEST(reg.publish_event("alice", "sport", frame("s")).queued == 0u);
  BOOST_TEST(reg.publish_user("alice", frame("u")).queued == 1u);
  BOOST_TEST(leaving.count() == 0u);
  BOOST_TEST(staying.count() == 2u);

  // The connection's binding to another user is untouched.
  BOOST_TEST(reg.publish_event("bob", "news", frame("b")).queued == 1u);
  BOOST_TEST(leaving.last() == "b");
}

BOOST_AUTO_TEST_CASE(a_connection_may_bind_again_after_unbinding) {
  hub::registry reg;
  fake_subscriber s;
  reg.bind(&s, "alice", "news");
  reg.unbind_user(&s, "alice");
  BOOST_TEST(reg.bind(&s, "alice", "news"));
  BOOST_TEST(reg.publish_event("alice", "news", frame("x")).queued == 1u);
}

BOOST_AUTO_TEST_CASE(the_last_unbind_erases_the_user) {
  hub::registry reg;
  fake_subscriber a, b;
  reg.bind(&a, "alice", "news");
  reg.bind(&b, "alice", "news");
  reg.bind(&a, "bob", "news");
  BOOST_TEST(reg.user_count() == 2u);
  BOOST_TEST(reg.connections_of("alice") == 2u);

  reg.unbind_user(&a, "alice");
  BOOST_TEST(reg.user_count() == 2u);
  BOOST_TEST(reg.connections_of("alice") == 1u);
  reg.unbind_user(&b, "alice");
  BOOST_TEST(reg.user_count() == 1u);
  BOOST_TEST(reg.connections_of("alice") == 0u);
  reg.unbind_user(&a, "bob");
  BOOST_TEST(reg.user_count() == 0u);
  BOOST_TEST(reg.publish_user("alice", frame("x")).queued == 0u);
}

BOOST_AUTO_TEST_CASE(unbinding_an_unknown_user_or_connection_changes_nothing) {
  hub::registry reg;
  fake_subscriber a, stranger;
  reg.bind(&a, "alice", "news");
  reg.unbind_user(&a, "nobody");
  reg.unbind_user(&stranger, "alice");
  BOOST_TEST(reg.user_count() == 1u);
  BOOST_TEST(reg.connections_of("alice") == 1u);
  BOOST_TEST(reg.publish_event("alice", "news", frame("x")).queued == 1u);
}

BOOST_AUTO_TEST_CASE(a_push_to_an_unknown_user_reaches_nobody) {
  hub::registry reg;
  fake_subscriber a;
  reg.bind(&a, "alice", "news");
  auto r = reg.publish_user("bob", frame("x"));
  BOOST_TEST(r.queued == 0u);
  BOOST_TEST(r.dropped == 0u);
  BOOST_TEST(reg.publish_event("bob", "news", frame("x")).queued == 0u);
  BOOST_TEST(reg.connections_of("bob") == 0u);
  BOOST_TEST(a.count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registry_topics)

BOOST_AUTO_TEST_CASE(a_topic_publish_reaches_every_subscriber_of_that_topic_only) {
  hub::registry reg;
  fake_subscriber a, b, c;
  BOOST_TEST(reg.subscribe(&a, "news"));
  BOOST_TEST(reg.subscribe(&b, "news"));
  BOOST_TEST(reg.subscribe(&c, "sport"));

  auto r = reg.publish_topic("news", frame("headline"));
  BOOST_TEST(r.queued == 2u);
  BOOST_TEST(r.dropped == 0u);
  BOOST_TEST(a.last() == "headline");
  BOOST_TEST(b.last() == "headline");
  BOOST_TEST(c.count() == 0u);
  BOOST_TEST(reg.publish_topic("weather", frame("x")).queued == 0u);
}

BOOST_AUTO_TEST_CASE(subscribing_twice_returns_false_and_delivers_once) {
  hub::registry reg;
  fake_subscriber a;
  BOOST_TEST(reg.subscribe(&a, "news"));
  BOOST_TEST(!reg.subscribe(&a, "news"));
  BOOST_TEST(reg.subscribers_of("news") == 1u);
  BOOST_TEST(reg.publish_topic("news", frame("x")).queued == 1u);
  BOOST_TEST(a.count() == 1u);
}

BOOST_AUTO_TEST_CASE(unsubscribing_stops_delivery_and_reports_whether_it_was_subscribed) {
  hub::registry reg;
  fake_subscriber a, b;
  reg.subscribe(&a, "news");
  reg.subscribe(&b, "news");
  BOOST_TEST(reg.unsubscribe(&a, "news"));
  BOOST_TEST(!reg.unsubscribe(&a, "news"));
  BOOST_TEST(!reg.unsubscribe(&a, "never"));
  BOOST_TEST(reg.publish_topic("news", frame("x")).queued == 1u);
  BOOST_TEST(a.count() == 0u);
  BOOST_TEST(b.count() == 1u);
}

BOOST_AUTO_TEST_CASE(the_last_unsubscribe_erases_the_topic) {
  hub::registry reg;
  fake_subscriber a, b;
  reg.subscribe(&a, "news");
  reg.subscribe(&b, "news");
  reg.subscribe(&a, "sport");
  BOOST_TEST(reg.topic_count() == 2u);
  BOOST_TEST(reg.subscribers_of("news") == 2u);

  reg.unsubscribe(&b, "news");
  BOOST_TEST(reg.topic_count() == 2u);
  BOOST_TEST(reg.subscribers_of("news") == 1u);
  reg.unsubscribe(&a, "news");
  BOOST_TEST(reg.topic_count() == 1u);
  BOOST_TEST(reg.subscribers_of("news") == 0u);
  reg.unsubscribe(&a, "sport");
  BOOST_TEST(reg.topic_count() == 0u);
  BOOST_TEST(reg.subscribers_of("sport") == 0u);
}

BOOST_AUTO_TEST_CASE(a_subscriber_removed_from_the_middle_leaves_the_others_subscribed) {
  hub::registry reg;
  std::vector<fake_subscriber> subs(5);
  for (auto& s : subs) reg.subscribe(&s, "t");
  reg.unsubscribe(&subs[1], "t");
  reg.unsubscribe(&subs[3], "t");
  BOOST_TEST(reg.subscribers_of("t") == 3u);
  BOOST_TEST(reg.publish_topic("t", frame("x")).queued == 3u);
  const std::vector<std::size_t> expected = {1, 0, 1, 0, 1};
  for (std::size_t i = 0; i < subs.size(); ++i) {
    BOOST_TEST_CONTEXT("subscriber " << i) { BOOST_TEST(subs[i].count() == expected[i]); }
  }
}

BOOST_AUTO_TEST_CASE(topics_and_user_bindings_are_independent) {
  hub::registry reg;
  fake_subscriber a;
  reg.bind(&a, "alice", "news");
  reg.subscribe(&a, "news");
  BOOST_TEST(reg.user_count() == 1u);
  BOOST_TEST(reg.topic_count() == 1u);

  reg.unbind_user(&a, "alice");
  BOOST_TEST(reg.user_count() == 0u);
  BOOST_TEST(reg.publish_topic("news", frame("t")).queued == 1u);
  BOOST_TEST(reg.unsubscribe(&a, "news"));
  BOOST_TEST(reg.topic_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registry_fanout)

BOOST_AUTO_TEST_CASE(a_fanout_counts_queued_and_dropped_receivers_apart) {
  hub::registry reg;
  fake_subscriber ok1, ok2, slow(hub::send_status::dropped_slow), closing(hub::send_status::dropped_closed);
  for (auto* s : {&ok1, &slow, &ok2, &closing}) {
    reg.subscribe(s, "news");
    reg.bind(s, "alice", "news");
  }

  auto topic = reg.publish_topic("news", frame("t"));
  BOOST_TEST(topic.queued == 2u);
  BOOST_TEST(topic.dropped == 2u);
  auto user = reg.publish_user("alice", frame("u"));
  BOOST_TEST(user.queued == 2u);
  BOOST_TEST(user.dropped == 2u);
  auto event = reg.publish_event("alice", "news", frame("e"));
  BOOST_TEST(event.queued == 2u);
  BOOST_TEST(event.dropped == 2u);
  // A refusing subscriber was still offered the frame.
  BOOST_TEST(slow.count() == 3u);
  BOOST_TEST(closing.count() == 3u);
}

BOOST_AUTO_TEST_CASE(a_dropping_subscriber_stays_registered_until_it_leaves) {
  hub::registry reg;
  fake_subscriber s(hub::send_status::dropped_slow);
  reg.subscribe(&s, "news");
  BOOST_TEST(reg.publish_topic("news", frame("1")).dropped == 1u);
  BOOST_TEST(reg.subscribers_of("news") == 1u);
  s.answer(hub::send_status::queued);
  BOOST_TEST(reg.publish_topic("news", frame("2")).queued == 1u);
}

BOOST_AUTO_TEST_CASE(every_receiver_gets_the_same_encoded_frame_object) {
  hub::registry reg;
  std::vector<fake_subscriber> subs(4);
  for (auto& s : subs) {
    reg.subscribe(&s, "news");
    reg.bind(&s, "alice", "e");
  }
  const hub::shared_frame shared = hub::make_frame(R"({"op":"message"})");
  const hub::local_frame local = hub::localize(shared);

  reg.publish_topic("news", local);
  reg.publish_user("alice", local);
  reg.publish_event("alice", "e", local);
  for (auto& s : subs) {
    BOOST_TEST_REQUIRE(s.count() == 3u);
    for (const auto& f : s.frames()) BOOST_TEST(f.get() == shared.get());
  }
  BOOST_TEST(local.local_use_count() == 1 + 3 * static_cast<long>(subs.size()));
}

BOOST_AUTO_TEST_CASE(a_localized_frame_keeps_the_shared_text_alive) {
  hub::local_frame local;
  decltype(hub::shared_frame().get()) object = nullptr;
  {
    hub::shared_frame shared = hub::make_frame("payload");
    object = shared.get();
    local = hub::localize(shared);
    BOOST_TEST(shared.use_count() == 2);  // the local wrapper holds one reference
  }
  BOOST_TEST(local.get() == object);
  BOOST_TEST(text_of(*local) == "payload");
}

BOOST_AUTO_TEST_SUITE_END()
