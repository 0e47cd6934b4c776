#include <boost/test/unit_test.hpp>

#include "bus/jetstream_replies.hpp"

using namespace herald::bus;

BOOST_AUTO_TEST_SUITE(bus_jetstream_replies)

BOOST_AUTO_TEST_CASE(a_publish_ack_gives_the_stream_sequence) {
  reply_reader r;
  auto ack = r.read_pub_ack(R"({"stream":"HERALD", "seq":42})");
  BOOST_TEST(!ack.error);
  BOOST_TEST(ack.seq == 42u);
}

BOOST_AUTO_TEST_CASE(a_publish_refused_by_jetstream_is_an_error_value) {
  reply_reader r;
  auto ack = r.read_pub_ack(
      R"({"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"HERALD","seq":0})");
  BOOST_REQUIRE(ack.error.has_value());
  BOOST_TEST(ack.error->code == 503);
  BOOST_TEST(ack.error->err_code == 10077);
  BOOST_TEST(ack.error->description == "maximum messages exceeded");
}

BOOST_AUTO_TEST_CASE(garbage_in_place_of_an_ack_is_malformed_not_a_crash) {
  reply_reader r;
  BOOST_TEST(r.read_pub_ack("").error.has_value());
  BOOST_TEST(r.read_pub_ack("{\"seq\":").error.has_value());
  BOOST_TEST(r.read_pub_ack("[1,2]").error.has_value());
  BOOST_TEST(r.read_pub_ack(R"({"stream":"HERALD"})").error.has_value());
}

BOOST_AUTO_TEST_CASE(stream_info_gives_creation_time_and_the_kept_range) {
  reply_reader r;
  auto st = r.read_stream_info(
      R"({"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"HERALD"},)"
      R"("created":"2026-12-01T21:33:30.364457651Z","state":{"messages":3,"bytes":10,"first_seq":5,)"
      R"("first_ts":"x","last_seq":7,"last_ts":"y","consumer_count":0}})");
  BOOST_TEST(!st.error);
  BOOST_TEST(st.created == "2026-12-01T21:33:30.364457651Z");
  BOOST_TEST(st.first_seq == 5u);
  BOOST_TEST(st.last_seq == 7u);
}

BOOST_AUTO_TEST_CASE(a_missing_stream_is_reported_with_its_code) {
  reply_reader r;
  auto st = r.read_stream_info(
      R"({"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"}})");
  BOOST_REQUIRE(st.error.has_value());
  BOOST_TEST(st.error->err_code == 10059);
}

BOOST_AUTO_TEST_CASE(the_epoch_is_the_same_for_the_same_stream_and_changes_with_a_new_one) {
  auto a = epoch_of("HERALD", "2026-12-01T21:33:30.364457651Z");
  BOOST_TEST(a.size() == 16u);
  BOOST_TEST(a == epoch_of("HERALD", "2026-12-01T21:33:30.364457651Z"));
  BOOST_TEST(a != epoch_of("HERALD", "2026-12-01T21:33:30.364457652Z"));
  BOOST_TEST(a != epoch_of("OTHER", "2026-12-01T21:33:30.364457651Z"));
}

BOOST_AUTO_TEST_SUITE_END()
