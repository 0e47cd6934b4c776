#include <boost/test/unit_test.hpp>

#include "hub/catch_up.hpp"

using namespace herald::hub;

namespace {

local_frame frame(std::uint64_t offset, frame_kind kind = frame_kind::topic_message) {
  message m;
  m.kind = kind;
  m.topic = "t";
  m.offset = offset;
  m.text = "m" + std::to_string(offset);
  return localize(make_frame(std::move(m)));
}

history_slice slice_of(std::uint64_t last, std::vector<std::uint64_t> kept, bool recovered = true) {
  history_slice s;
  s.epoch = "e";
  s.offset = last;
  s.recovered = recovered;
  for (auto o : kept) {
    message m;
    m.offset = o;
    m.text = "m" + std::to_string(o);
    s.messages.push_back(make_frame(std::move(m)));
  }
  return s;
}

std::vector<std::uint64_t> offsets(const std::vector<local_frame>& frames) {
  std::vector<std::uint64_t> out;
  for (const auto& f : frames) out.push_back(f->offset);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(catch_up_merge)

BOOST_AUTO_TEST_CASE(history_then_buffered_frames_give_each_offset_once_in_order) {
  catch_up c("t", 2);
  c.buffer(frame(4));  // arrived live while the snapshot was being taken
  c.buffer(frame(5));
  auto merged = c.merge(slice_of(4, {2, 3, 4}));
  BOOST_TEST(offsets(merged) == (std::vector<std::uint64_t>{3, 4, 5}), boost::test_tools::per_element());
  BOOST_TEST(c.recovered(slice_of(4, {2, 3, 4}), merged));
}

BOOST_AUTO_TEST_CASE(without_since_only_what_follows_the_snapshot_is_delivered) {
  catch_up c("t", std::nullopt);
  c.buffer(frame(7));
  c.buffer(frame(8));
  auto merged = c.merge(slice_of(7, {5, 6, 7}));
  BOOST_TEST(offsets(merged) == (std::vector<std::uint64_t>{8}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(presence_frames_without_offsets_are_kept_in_arrival_order) {
  catch_up c("t", 1);
  c.buffer(frame(0, frame_kind::presence));
  c.buffer(frame(3));
  auto merged = c.merge(slice_of(2, {2}));
  BOOST_TEST(offsets(merged) == (std::vector<std::uint64_t>{2, 0, 3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_gap_in_history_covered_by_live_frames_is_still_recovered) {
  // History keeps nothing, but the message after `since` arrived live.
  catch_up c("t", 3);
  c.buffer(frame(4));
  auto slice = slice_of(4, {}, false);
  auto merged = c.merge(slice);
  BOOST_TEST(c.recovered(slice, merged));
}

BOOST_AUTO_TEST_CASE(a_real_gap_or_another_epoch_is_not_recovered) {
  catch_up c("t", 3);
  c.buffer(frame(6));
  auto gap = slice_of(6, {6}, false);
  BOOST_TEST(!c.recovered(gap, c.merge(gap)));
  catch_up d("t", 3);
  d.buffer(frame(4));
  auto other = slice_of(4, {}, false);
  other.epoch_changed = true;
  BOOST_TEST(!d.recovered(other, d.merge(other)));
}

BOOST_AUTO_TEST_CASE(after_a_replay_the_subscriber_stands_at_the_last_replayed_offset) {
  catch_up c("t", 3);
  auto slice = slice_of(9, {4, 7, 9});
  BOOST_TEST(c.position(slice, c.merge(slice)) == 9u);
  catch_up cut("t", 3);  // a replay cut short stops where it went, not at the topic's end
  auto partial = slice_of(20, {4, 7}, false);
  BOOST_TEST(cut.position(partial, cut.merge(partial)) == 7u);
  catch_up fresh("t", std::nullopt);  // without since: from the snapshot's position on
  auto now = slice_of(12, {});
  BOOST_TEST(fresh.position(now, fresh.merge(now)) == 12u);
  catch_up moved("t", 50);  // another epoch: the old position means nothing
  auto other = slice_of(2, {1, 2}, false);
  other.epoch_changed = true;
  BOOST_TEST(moved.position(other, {}) == 0u);
  BOOST_TEST(moved.position(other, {frame(1), frame(2)}) == 2u);
}

BOOST_AUTO_TEST_CASE(a_late_copy_of_a_replayed_message_is_refused_and_later_ones_pass) {
  std::uint64_t floor = 155;
  BOOST_TEST(!catch_up::admit(floor, *frame(155)));  // republished after the history read had it
  BOOST_TEST(!catch_up::admit(floor, *frame(150)));
  BOOST_TEST(catch_up::admit(floor, *frame(160)));
  BOOST_TEST(floor == 160u);
  BOOST_TEST(catch_up::admit(floor, *frame(0, frame_kind::presence)));  // unsequenced: always
  BOOST_TEST(floor == 160u);
}

BOOST_AUTO_TEST_SUITE_END()
