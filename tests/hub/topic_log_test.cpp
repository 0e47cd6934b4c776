#include <boost/test/unit_test.hpp>

#include "hub/topic_book.hpp"
#include "hub/topic_log.hpp"

using namespace herald::hub;

namespace {

shared_frame stamped(std::uint64_t offset, std::int64_t ts_ms, std::size_t size = 10) {
  message m;
  m.kind = frame_kind::topic_message;
  m.offset = offset;
  m.ts_ms = ts_ms;
  m.text = std::string(size, 'x');
  return make_frame(std::move(m));
}

// Appends `n` messages stamped with the log's next offsets at time `ts`.
void fill(topic_log& log, int n, const history_limits& limits, std::int64_t ts = 0) {
  for (int i = 0; i < n; ++i) log.append(stamped(log.next_offset(), ts), limits, ts);
}

std::vector<std::uint64_t> offsets(const history_slice& s) {
  std::vector<std::uint64_t> out;
  for (const auto& f : s.messages) out.push_back(f->offset);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(topic_history)

BOOST_AUTO_TEST_CASE(offsets_start_at_one_and_history_keeps_only_the_newest_messages) {
  topic_log log("e1");
  history_limits limits{3, std::chrono::milliseconds(0)};
  BOOST_TEST(log.next_offset() == 1u);
  fill(log, 5, limits);
  BOOST_TEST(log.last_offset() == 5u);
  BOOST_TEST(log.history_size() == 3u);
  auto s = log.since(2, 100, "e1", 0, limits);
  BOOST_TEST(offsets(s) == (std::vector<std::uint64_t>{3, 4, 5}), boost::test_tools::per_element());
  BOOST_TEST(s.recovered);
  BOOST_TEST(s.offset == 5u);
}

BOOST_AUTO_TEST_CASE(a_position_older_than_the_history_is_not_recovered) {
  topic_log log("e1");
  history_limits limits{3, std::chrono::milliseconds(0)};
  fill(log, 5, limits);
  auto s = log.since(1, 100, "", 0, limits);  // offset 2 is gone
  BOOST_TEST(!s.recovered);
  BOOST_TEST(!s.epoch_changed);
  BOOST_TEST(offsets(s) == (std::vector<std::uint64_t>{3, 4, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(another_epoch_is_not_recovered_and_gets_everything_kept) {
  topic_log log("e1");
  history_limits limits{3, std::chrono::milliseconds(0)};
  fill(log, 4, limits);
  auto s = log.since(3, 100, "old-epoch", 0, limits);
  BOOST_TEST(!s.recovered);
  BOOST_TEST(s.epoch_changed);
  BOOST_TEST(s.epoch == "e1");
  BOOST_TEST(offsets(s) == (std::vector<std::uint64_t>{2, 3, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_position_ahead_of_the_log_is_left_for_the_caller_to_refuse) {
  topic_log log("e1");
  history_limits limits{3, std::chrono::milliseconds(0)};
  fill(log, 2, limits);
  auto s = log.since(9, 100, "e1", 0, limits);
  BOOST_TEST(s.messages.empty());
  BOOST_TEST(s.offset == 2u);  // the caller compares and answers bad_since
}

BOOST_AUTO_TEST_CASE(the_limit_caps_a_history_answer_oldest_first) {
  topic_log log("e1");
  history_limits limits{10, std::chrono::milliseconds(0)};
  fill(log, 6, limits);
  auto s = log.since(0, 2, "", 0, limits);
  BOOST_TEST(offsets(s) == (std::vector<std::uint64_t>{1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(messages_older_than_the_ttl_leave_the_history) {
  topic_log log("e1");
  history_limits limits{10, std::chrono::milliseconds(1000)};
  fill(log, 2, limits, 0);       // offsets 1, 2 at t=0
  fill(log, 1, limits, 1500);    // offset 3 at t=1.5 s expires 1 and 2
  BOOST_TEST(log.history_size() == 1u);
  auto s = log.since(0, 100, "", 1500, limits);
  BOOST_TEST(offsets(s) == (std::vector<std::uint64_t>{3}), boost::test_tools::per_element());
  BOOST_TEST(!s.recovered);
  // Expiry also applies on read, before the next append.
  auto later = log.since(2, 100, "", 5000, limits);
  BOOST_TEST(later.messages.empty());
  BOOST_TEST(!later.recovered);
  BOOST_TEST(log.expire(5000, limits) > 0);
  BOOST_TEST(log.history_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(the_book_forgets_the_least_recently_used_topic_when_over_its_byte_bound) {
  history_limits limits{10, std::chrono::milliseconds(0)};
  const std::size_t per_message = 100 + sizeof(message);
  topic_book book(limits, 2 * per_message);
  book.append("a", stamped(book.log("a").next_offset(), 0, 100), 0);
  const std::string epoch_a = book.log("a").epoch();
  book.append("b", stamped(book.log("b").next_offset(), 0, 100), 0);
  BOOST_TEST(book.bytes() == 2 * per_message);
  BOOST_TEST(book.evictions() == 0u);
  book.append("c", stamped(book.log("c").next_offset(), 0, 100), 0);  // "a" is the least recently used
  BOOST_TEST(book.evictions() == 1u);
  BOOST_TEST(book.bytes() == 2 * per_message);
  BOOST_TEST(book.topics() == 2u);
  // A forgotten topic starts over with a new epoch: clients learn their
  // offsets are void instead of silently missing messages.
  auto& reborn = book.log("a");
  BOOST_TEST(reborn.epoch() != epoch_a);
  BOOST_TEST(reborn.next_offset() == 1u);
}

BOOST_AUTO_TEST_CASE(the_book_never_evicts_the_topic_being_written) {
  history_limits limits{10, std::chrono::milliseconds(0)};
  topic_book book(limits, 50);  // smaller than one message
  book.append("only", stamped(1, 0, 100), 0);
  BOOST_TEST(book.topics() == 1u);
  BOOST_TEST(book.messages() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
