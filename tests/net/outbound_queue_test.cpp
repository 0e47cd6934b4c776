// Unit tests for net::outbound_queue, the per-connection bound that turns a
// slow reader into a slow consumer.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <deque>
#include <string>
#include <type_traits>

#include "hub/frame.hpp"
#include "net/outbound_queue.hpp"

namespace hub = herald::hub;
using herald::net::outbound_queue;
using herald::net::queue_limits;

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

hub::local_frame frame(std::string text) { return hub::localize(hub::make_frame(std::move(text))); }
hub::local_frame frame_of_size(std::size_t n, char fill = 'x') { return frame(std::string(n, fill)); }

constexpr queue_limits roomy{1000, 1 << 20};

}  // namespace

BOOST_AUTO_TEST_SUITE(outbound_queue_policy)

BOOST_AUTO_TEST_CASE(a_new_queue_is_empty) {
  outbound_queue q;
  BOOST_TEST(q.empty());
  BOOST_TEST(q.size() == 0u);
  BOOST_TEST(q.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(frames_come_out_in_the_order_they_went_in) {
  outbound_queue q;
  for (const char* s : {"one", "two", "three", "four"}) BOOST_TEST(q.push(frame(s), roomy));
  BOOST_TEST(q.size() == 4u);
  for (const char* s : {"one", "two", "three", "four"}) {
    BOOST_TEST_REQUIRE(!q.empty());
    BOOST_TEST(text_of(*q.pop()) == s);
  }
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(pop_returns_the_very_frame_that_was_pushed) {
  outbound_queue q;
  auto f = frame("shared");
  BOOST_TEST(q.push(f, roomy));
  BOOST_TEST(q.pop().get() == f.get());
}

BOOST_AUTO_TEST_CASE(a_queue_at_its_message_limit_refuses_and_keeps_nothing) {
  outbound_queue q;
  const queue_limits limits{2, 1000};
  BOOST_TEST(q.push(frame("a"), limits));
  BOOST_TEST(q.push(frame("bb"), limits));
  auto refused = frame("ccc");
  BOOST_TEST(!q.push(refused, limits));
  BOOST_TEST(q.size() == 2u);
  BOOST_TEST(q.bytes() == 3u);
  BOOST_TEST(refused.local_use_count() == 1);  // the queue kept no copy
  BOOST_TEST(text_of(*q.pop()) == "a");
  BOOST_TEST(text_of(*q.pop()) == "bb");
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(a_frame_that_would_pass_the_byte_limit_is_refused) {
  outbound_queue q;
  const queue_limits limits{100, 10};
  BOOST_TEST(q.push(frame_of_size(6), limits));
  BOOST_TEST(!q.push(frame_of_size(5), limits));
  BOOST_TEST(q.size() == 1u);
  BOOST_TEST(q.bytes() == 6u);
  BOOST_TEST(q.push(frame_of_size(4), limits));  // exactly at the limit is fine
  BOOST_TEST(q.bytes() == 10u);
  BOOST_TEST(!q.push(frame_of_size(1), limits));
  BOOST_TEST(q.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_frame_larger_than_the_byte_limit_is_accepted_into_an_empty_queue_only) {
  outbound_queue q;
  const queue_limits limits{100, 10};
  BOOST_TEST(q.push(frame_of_size(50), limits));
  BOOST_TEST(q.size() == 1u);
  BOOST_TEST(q.bytes() == 50u);
  BOOST_TEST(!q.push(frame_of_size(1), limits));
  BOOST_TEST(!q.push(frame_of_size(50), limits));
  BOOST_TEST(text_of(*q.pop()).size() == 50u);
  BOOST_TEST(q.bytes() == 0u);

  BOOST_TEST(q.push(frame_of_size(1), limits));
  BOOST_TEST(!q.push(frame_of_size(50), limits));
  BOOST_TEST(q.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_zero_message_limit_refuses_even_an_empty_queue) {
  outbound_queue q;
  BOOST_TEST(!q.push(frame("x"), queue_limits{0, 1000}));
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(pop_gives_back_the_bytes_of_the_frame) {
  outbound_queue q;
  q.push(frame_of_size(7), roomy);
  q.push(frame_of_size(3), roomy);
  BOOST_TEST(q.bytes() == 10u);
  q.pop();
  BOOST_TEST(q.bytes() == 3u);
  BOOST_TEST(q.size() == 1u);
  q.pop();
  BOOST_TEST(q.bytes() == 0u);
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(clear_drops_everything_and_returns_how_many_frames_it_dropped) {
  outbound_queue q;
  for (int i = 0; i < 5; ++i) q.push(frame_of_size(4), roomy);
  q.pop();
  BOOST_TEST(q.clear() == 4u);
  BOOST_TEST(q.empty());
  BOOST_TEST(q.size() == 0u);
  BOOST_TEST(q.bytes() == 0u);
  BOOST_TEST(q.clear() == 0u);

  BOOST_TEST(q.push(frame("again"), roomy));
  BOOST_TEST(text_of(*q.pop()) == "again");
}

BOOST_AUTO_TEST_CASE(a_queue_kept_between_one_and_two_frames_for_ten_thousand_operations_stays_correct) {
  outbound_queue q;
  const queue_limits limits{2, 64};
  std::uint64_t next_in = 0, next_out = 0;
  auto push_next = [&] { return q.push(frame(std::to_string(next_in)), limits); };

  BOOST_TEST_REQUIRE(push_next());
  ++next_in;
  // The queue never drains, so its head keeps advancing and it must compact
  // rather than grow; the third push each round proves the limit still holds.
  for (int round = 0; round < 5000; ++round) {
    BOOST_TEST_REQUIRE(push_next());
    ++next_in;
    BOOST_TEST_REQUIRE(q.size() == 2u);
    BOOST_TEST_REQUIRE(!q.push(frame("refused"), limits));
    BOOST_TEST_REQUIRE(text_of(*q.pop()) == std::to_string(next_out));
    ++next_out;
    BOOST_TEST_REQUIRE(q.size() == 1u);
    BOOST_TEST_REQUIRE(q.bytes() == std::to_string(next_out).size());
  }
  BOOST_TEST(text_of(*q.pop()) == std::to_string(next_out));
  BOOST_TEST(q.empty());
  BOOST_TEST(q.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(random_pushes_and_pops_match_a_simple_model_of_the_policy) {
  outbound_queue q;
  std::deque<std::string> model;
  std::size_t model_bytes = 0;
  const queue_limits limits{8, 100};
  std::uint32_t seed = 12345;
  auto rnd = [&seed] {
    seed = seed * 1664525u + 1013904223u;  // deterministic LCG
    return seed >> 8;
  };

  for (int op = 0; op < 10000; ++op) {
    if (rnd() % 5 < 3) {
      std::string text = std::to_string(op) + std::string(rnd() % 40, '.');
      bool fits = model.size() < limits.max_messages &&
                  (model.empty() || model_bytes + text.size() <= limits.max_bytes);
      BOOST_TEST_REQUIRE(q.push(frame(text), limits) == fits);
      if (fits) {
        model_bytes += text.size();
        model.push_back(std::move(text));
      }
    } else if (!model.empty()) {
      BOOST_TEST_REQUIRE(text_of(*q.pop()) == model.front());
      model_bytes -= model.front().size();
      model.pop_front();
    }
    BOOST_TEST_REQUIRE(q.size() == model.size());
    BOOST_TEST_REQUIRE(q.bytes() == model_bytes);
    BOOST_TEST_REQUIRE(q.empty() == model.empty());
    BOOST_TEST_REQUIRE(q.size() <= limits.max_messages);
    BOOST_TEST_REQUIRE(q.bytes() <= limits.max_bytes);
  }
}

BOOST_AUTO_TEST_SUITE_END()
