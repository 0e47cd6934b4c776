// Unit tests for the pure parts of herald-bench: histogram, payload stamps, URLs,
// Prometheus parsing, options, the JSON writer and the HTTP/SSE/JSON readers of the
// longpoll and sse clients.
#define BOOST_TEST_MODULE herald_bench_unit_tests
#include <boost/test/included/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <unistd.h>

#include "envelope.hpp"
#include "histogram.hpp"
#include "http_response_reader.hpp"
#include "json_writer.hpp"
#include "options.hpp"
#include "payload.hpp"
#include "server_probe.hpp"
#include "sse_reader.hpp"
#include "url.hpp"
#include "worker_result.hpp"
#include "workload.hpp"

using namespace herald_bench;

BOOST_AUTO_TEST_CASE(histogram_buckets_are_contiguous_and_cover_every_value) {
  for (std::uint32_t i = 1; i < histogram::bucket_count(); ++i)
    BOOST_TEST(histogram::lowest_in(i) == histogram::highest_in(i - 1) + 1);
  for (std::int64_t v : {0LL, 1LL, 127LL, 128LL, 129LL, 1000LL, 123456789LL, 1LL << 39}) {
    BOOST_TEST(histogram::lowest_in(histogram::index_of(v)) <= v);
    BOOST_TEST(histogram::highest_in(histogram::index_of(v)) >= v);
  }
}

BOOST_AUTO_TEST_CASE(histogram_percentiles_stay_within_two_percent_of_exact_ones) {
  histogram h;
  std::vector<std::int64_t> values;
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(11.0, 1.5);  // ~60 us median, long tail
  for (int i = 0; i < 100000; ++i) {
    values.push_back(static_cast<std::int64_t>(dist(rng)));
    h.record(values.back());
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const auto exact = values[static_cast<std::size_t>(std::ceil(p / 100 * values.size())) - 1];
    const auto approx = h.value_at_percentile(p);
    BOOST_TEST(approx >= exact);
    BOOST_TEST(approx <= exact * 1.02 + 1);
  }
  BOOST_TEST(h.value_at_percentile(100) == values.back());
  BOOST_TEST(h.max() == values.back());
  BOOST_TEST(h.count() == 100000u);
}

BOOST_AUTO_TEST_CASE(histogram_rebuilt_from_sparse_buckets_gives_the_same_percentiles) {
  histogram a, b;
  for (int i = 1; i <= 5000; ++i) a.record(i * 997);
  for (auto [index, count] : a.nonzero_buckets()) b.add_bucket(index, count);
  b.set_extremes(a.min(), a.max(), a.sum());
  for (double p : {0.0, 50.0, 99.0, 100.0})
    BOOST_TEST(a.value_at_percentile(p) == b.value_at_percentile(p));
  histogram merged;
  merged.merge(a);
  merged.merge(b);
  BOOST_TEST(merged.count() == 10000u);
  BOOST_TEST(merged.value_at_percentile(50) == a.value_at_percentile(50));
}

BOOST_AUTO_TEST_CASE(an_empty_histogram_reports_zero) {
  histogram h;
  BOOST_TEST(h.value_at_percentile(99) == 0);
  BOOST_TEST(h.mean() == 0.0);
}

BOOST_AUTO_TEST_CASE(a_payload_stamp_survives_padding_and_a_json_envelope) {
  const stamp s{12345, 987654321012LL, false};
  const auto text = encode_payload(s, 64);
  BOOST_TEST(text.size() == 64u);
  const auto wrapped = R"({"op":"message","topic":"hh","data":")" + text + "\"}";
  const auto back = decode_payload(wrapped);
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->seq == s.seq);
  BOOST_TEST(back->intended_ns == s.intended_ns);
  BOOST_TEST(!back->warmup);
  BOOST_TEST(decode_payload(encode_payload({1, 2, true}, 10))->warmup);
}

BOOST_AUTO_TEST_CASE(a_frame_without_a_stamp_decodes_to_nothing) {
  BOOST_TEST(!decode_payload(R"({"op":"pong","id":7})").has_value());
  BOOST_TEST(!decode_payload("hb:12").has_value());
  BOOST_TEST(!decode_payload("").has_value());
}

BOOST_AUTO_TEST_CASE(urls_outside_loopback_are_refused) {
  BOOST_TEST(parse_url("ws://127.0.0.1:8080/ws").value.has_value());
  BOOST_TEST(parse_url("ws://localhost:9/ws").value->host == "127.0.0.1");
  BOOST_TEST(parse_url("http://[::1]:80/push").value->port == 80);
  BOOST_TEST(parse_url("http://127.3.4.5/push").value->port == 80);
  BOOST_TEST(!parse_url("ws://10.0.0.1:8080/ws").value.has_value());
  BOOST_TEST(!parse_url("ws://example.com/ws").value.has_value());
  BOOST_TEST(!parse_url("https://127.0.0.1/").value.has_value());
  const auto u = *parse_url("ws://127.0.0.1:8080/ws?x=1").value;
  BOOST_TEST(u.target == "/ws?x=1");
  BOOST_TEST(with_path(u, "http", "/metrics").to_string() == "http://127.0.0.1:8080/metrics");
}

BOOST_AUTO_TEST_CASE(prometheus_samples_are_summed_over_labels) {
  const std::string text =
      "# HELP herald_connections_open open\n"
      "# TYPE herald_connections_open gauge\n"
      "herald_connections_open{shard=\"0\"} 3\n"
      "herald_connections_open{shard=\"1\"} 4.0\n"
      "herald_connections_open_total 100\n"
      "herald_messages_delivered_total 1.5e+06 1700000000\n";
  BOOST_TEST(*prometheus_sum(text, "herald_connections_open") == 7.0);
  BOOST_TEST(*prometheus_sum(text, "herald_messages_delivered_total") == 1.5e6);
  BOOST_TEST(!prometheus_sum(text, "herald_missing").has_value());
  BOOST_TEST(*prometheus_sum(text, "herald_connections_open", "shard=\"1\"") == 4.0);
  BOOST_TEST(!prometheus_sum(text, "herald_connections_open", "shard=\"9\"").has_value());
}

BOOST_AUTO_TEST_CASE(the_process_reads_its_own_cpu_and_rss) {
  BOOST_TEST(read_process_rss_bytes(getpid()).value_or(0) > 0u);
  BOOST_TEST(read_process_cpu_us(getpid()).has_value());
  BOOST_TEST(!read_process_cpu_us(0).has_value());
}

BOOST_AUTO_TEST_CASE(options_derive_workers_sources_and_push_url) {
  const char* argv[] = {"herald-bench", "--scenario", "fanout", "--api", "native",
                        "--connections", "15000", "--target", "ws://127.0.0.1:9000/ws"};
  auto r = parse_options(9, const_cast<char**>(argv));
  BOOST_REQUIRE(r.value.has_value());
  BOOST_TEST(r.value->workers == 3);
  BOOST_TEST(r.value->source_addresses.size() == 3u);
  BOOST_TEST(r.value->source_addresses[0] == "127.0.0.2");
  BOOST_TEST(r.value->push_url.to_string() == "http://127.0.0.1:9000/api/v1/publish");
  BOOST_TEST(r.value->effective_users() == 1u);
}

BOOST_AUTO_TEST_CASE(a_single_target_keeps_the_old_defaults) {
  const char* argv[] = {"herald-bench", "--scenario", "unicast", "--target", "ws://127.0.0.1:9000/ws",
                        "--server-pid", "42"};
  auto o = *parse_options(7, const_cast<char**>(argv)).value;
  BOOST_TEST(o.targets.size() == 1u);
  BOOST_TEST(o.targets[0].to_string() == "ws://127.0.0.1:9000/ws");
  BOOST_TEST(o.metrics_urls.size() == 1u);
  BOOST_TEST(o.metrics_url->to_string() == "http://127.0.0.1:9000/metrics");
  BOOST_TEST(o.server_pid == 42);
  BOOST_TEST((o.server_pids == std::vector<pid_t>{42}));
  BOOST_TEST(o.extra_pids.empty());
  BOOST_TEST(target_of_connection(5, 1) == 0u);
}

BOOST_AUTO_TEST_CASE(targets_spread_connections_round_robin_and_their_metrics_are_all_scraped) {
  const char* argv[] = {"herald-bench", "--scenario", "fanout", "--connections", "15000",
                        "--targets", "ws://127.0.0.1:9001/ws,ws://127.0.0.1:9002/ws,ws://127.0.0.1:9003/ws",
                        "--server-pids", "11,12,13", "--extra-pids", "99"};
  auto o = *parse_options(11, const_cast<char**>(argv)).value;
  BOOST_TEST(o.targets.size() == 3u);
  BOOST_TEST(o.target.port == 9001);  // the first target stands for --target
  BOOST_TEST(o.push_url.to_string() == "http://127.0.0.1:9001/push");
  BOOST_REQUIRE(o.metrics_urls.size() == 3u);
  BOOST_TEST(o.metrics_urls[2].to_string() == "http://127.0.0.1:9003/metrics");
  BOOST_TEST(o.server_pid == 11);
  BOOST_TEST(o.server_pids.size() == 3u);
  BOOST_TEST((o.extra_pids == std::vector<pid_t>{99}));
  BOOST_TEST(target_of_connection(0, 3) == 0u);
  BOOST_TEST(target_of_connection(4, 3) == 1u);
  BOOST_TEST(target_of_connection(14999, 3) == 2u);
}

BOOST_AUTO_TEST_CASE(metrics_url_lists_and_none_override_the_targets) {
  const char* a[] = {"herald-bench", "--scenario", "unicast", "--target", "ws://127.0.0.1:9002/ws",
                     "--push-url", "http://127.0.0.1:9001/push",
                     "--metrics-urls", "http://127.0.0.1:9001/metrics,http://127.0.0.1:9002/metrics"};
  auto o = *parse_options(9, const_cast<char**>(a)).value;
  BOOST_TEST(o.metrics_urls.size() == 2u);
  BOOST_TEST(o.metrics_url->port == 9001);
  const char* b[] = {"herald-bench", "--scenario", "unicast",
                     "--targets", "ws://127.0.0.1:9001/ws,ws://127.0.0.1:9002/ws", "--metrics-url", "none"};
  auto n = *parse_options(7, const_cast<char**>(b)).value;
  BOOST_TEST(n.metrics_urls.empty());
  BOOST_TEST(!n.metrics_url.has_value());
  const char* c[] = {"herald-bench", "--scenario", "idle", "--targets", "ws://127.0.0.1:1/ws,ws://10.0.0.1:2/ws"};
  BOOST_TEST(!parse_options(5, const_cast<char**>(c)).value.has_value());
  const char* d[] = {"herald-bench", "--scenario", "idle", "--server-pids", "1,x"};
  BOOST_TEST(!parse_options(5, const_cast<char**>(d)).value.has_value());
}

BOOST_AUTO_TEST_CASE(options_reject_unknown_flags_and_remote_targets) {
  const char* a[] = {"herald-bench", "--scenario", "idle", "--bogus", "1"};
  BOOST_TEST(!parse_options(5, const_cast<char**>(a)).value.has_value());
  const char* b[] = {"herald-bench", "--scenario", "idle", "--target", "ws://8.8.8.8/ws"};
  BOOST_TEST(!parse_options(5, const_cast<char**>(b)).value.has_value());
}

BOOST_AUTO_TEST_CASE(the_json_writer_places_commas_and_escapes) {
  json_writer w;
  w.begin_object().field("a", 1).field("b", "x\"y");
  w.key("c").begin_array().value(1.5).null().begin_object().end_object().end_array();
  w.end_object();
  BOOST_TEST(w.str() == R"({"a":1,"b":"x\"y","c":[1.5,null,{}]})");
}

BOOST_AUTO_TEST_CASE(unicast_expectations_count_every_connection_of_each_pushed_user) {
  const char* argv[] = {"herald-bench", "--scenario", "unicast", "--connections", "10", "--users", "4"};
  auto o = *parse_options(7, const_cast<char**>(argv)).value;
  // users u0,u1 have 3 connections (0,4,8 and 1,5,9), u2,u3 have 2.
  BOOST_TEST(connections_of_user(0, 10, 4) == 3u);
  BOOST_TEST(connections_of_user(3, 10, 4) == 2u);
  BOOST_TEST(expected_deliveries(o, 4) == 10u);
  BOOST_TEST(expected_deliveries(o, 6) == 16u);
  BOOST_TEST(register_frames(o, 5).front() == R"({"token":"u1","event":"bench"})");
  BOOST_TEST(push_body(o, 5, "hb:1:2:") == R"({"userId":"u1","event":"bench","message":"hb:1:2:"})");
}

BOOST_AUTO_TEST_CASE(each_push_expects_the_connections_of_its_user) {
  const char* argv[] = {"herald-bench", "--scenario", "unicast", "--connections", "10", "--users", "4"};
  auto o = *parse_options(7, const_cast<char**>(argv)).value;
  BOOST_TEST(expected_recipients(o, 0) == 3u);  // u0: connections 0, 4, 8
  BOOST_TEST(expected_recipients(o, 7) == 2u);  // u3: connections 3, 7
  const char* f[] = {"herald-bench", "--scenario", "fanout", "--connections", "15000"};
  BOOST_TEST(expected_recipients(*parse_options(5, const_cast<char**>(f)).value, 9) == 15000u);
}

BOOST_AUTO_TEST_CASE(native_fanout_subscribes_and_publishes_to_one_topic) {
  const char* argv[] = {"herald-bench", "--scenario", "fanout", "--api", "native", "--connections", "7"};
  auto o = *parse_options(7, const_cast<char**>(argv)).value;
  BOOST_TEST(register_frames(o, 3).size() == 1u);
  BOOST_TEST(register_ack_marker(o) == "\"subscribed\"");
  BOOST_TEST(push_body(o, 9, "p") == R"({"topic":"fan","data":"p"})");
  BOOST_TEST(expected_deliveries(o, 3) == 21u);
}

BOOST_AUTO_TEST_CASE(server_replies_yield_their_recipient_count) {
  BOOST_TEST(*parse_recipients("message sent to 12 clients") == 12u);
  BOOST_TEST(*parse_recipients(R"({"delivered":3})") == 3u);
  BOOST_TEST(!parse_recipients("ok").has_value());
  // Nchan's publisher reply: the subscriber line, not the queued-messages count first.
  BOOST_TEST(*parse_recipients("queued messages: 4\r\nlast requested: 0 sec. ago\r\n"
                               "active subscribers: 1\r\nlast message id: 1:0\r\n") == 1u);
}

BOOST_AUTO_TEST_CASE(per_user_channels_name_the_user_in_the_urls_and_send_no_frame) {
  const char* argv[] = {"herald-bench", "--scenario", "unicast", "--connections", "10", "--users", "4",
                        "--target", "ws://127.0.0.1:9/sub/{user}", "--push-url", "http://127.0.0.1:9/pub/{user}",
                        "--no-register", "--push-body", "raw"};
  auto o = *parse_options(14, const_cast<char**>(argv)).value;
  BOOST_TEST(connection_path(o, o.target.target, 5) == "/sub/u1");
  BOOST_TEST(push_target(o, o.push_url.target, 7) == "/pub/u3");
  BOOST_TEST(register_frames(o, 5).empty());
  BOOST_TEST(register_ack_marker(o).empty());
  BOOST_TEST(push_body(o, 7, "hb:7:2:") == "hb:7:2:");
  // Without the placeholder a path is the same for every connection and push.
  const char* plain[] = {"herald-bench", "--scenario", "fanout", "--connections", "3"};
  auto p = *parse_options(5, const_cast<char**>(plain)).value;
  BOOST_TEST(connection_path(p, "/ws", 2) == "/ws");
  BOOST_TEST(push_target(p, "/push", 2) == "/push");
  BOOST_TEST(register_frames(p, 2).size() == 2u);  // register + ping
}

BOOST_AUTO_TEST_CASE(a_worker_result_survives_the_trip_through_json) {
  worker_result a;
  a.worker = 2;
  a.opened = 10;
  a.received = 5;
  a.first_error = "connect: refused \"x\"";
  for (int i = 1; i <= 5; ++i) a.latency.record(i * 100000);
  a.seq_max_ns = {500000, -1};
  a.seq_count = {5, 0};
  std::string error;
  auto b = parse_worker_result(to_json(a, true), error);
  BOOST_REQUIRE_MESSAGE(b.has_value(), error);
  BOOST_TEST(b->worker == 2);
  BOOST_TEST(b->opened == 10u);
  BOOST_TEST(b->first_error == a.first_error);
  BOOST_TEST(b->latency.count() == 5u);
  BOOST_TEST(b->latency.max() == 500000);
  BOOST_TEST(b->latency.value_at_percentile(50) == a.latency.value_at_percentile(50));
  BOOST_TEST(b->seq_max_ns == a.seq_max_ns);
  worker_result total;
  total.merge(*b);
  total.merge(*b);
  BOOST_TEST(total.opened == 20u);
  BOOST_TEST(total.seq_count[0] == 10u);
  BOOST_TEST(total.seq_max_ns[1] == -1);
}

namespace {
bench_options held_options(const char* kind, const char* connections) {
  const char* argv[] = {"herald-bench", "--scenario", kind, "--connections", connections,
                        "--target", "ws://127.0.0.1:9000/ws", "--message-size", "64"};
  auto r = parse_options(9, const_cast<char**>(argv));
  BOOST_REQUIRE_MESSAGE(r.value.has_value(), r.message);
  return *r.value;
}
}  // namespace

BOOST_AUTO_TEST_CASE(longpoll_publishes_a_json_stamp_to_topic_lp_and_expects_it_at_every_client) {
  const auto o = held_options("longpoll", "30");
  BOOST_TEST(o.push_url.to_string() == "http://127.0.0.1:9000/api/v1/publish");
  BOOST_TEST(std::string{o.api_name()} == "native");
  BOOST_TEST(o.effective_rate() == 2.0);
  BOOST_TEST(poll_target(o, std::nullopt) == "/api/v1/history?topic=lp&limit=1");
  BOOST_TEST(poll_target(o, 17) == "/poll?topic=lp&since=17&timeout=30");
  BOOST_TEST(expected_deliveries(o, 4) == 120u);
  const auto payload = push_payload(o, 3, 12345, false);
  BOOST_TEST(payload.size() == 64u);
  BOOST_TEST(push_body(o, 3, payload) == R"({"topic":"lp","data":)" + payload + "}");
  BOOST_TEST(sse_target(held_options("sse", "5")) == "/sse?topic=sse");
}

BOOST_AUTO_TEST_CASE(memory_only_is_refused_outside_the_held_scenarios) {
  const char* a[] = {"herald-bench", "--scenario", "fanout", "--memory-only"};
  BOOST_TEST(!parse_options(4, const_cast<char**>(a)).value.has_value());
  const char* b[] = {"herald-bench", "--scenario", "longpoll", "--poll-timeout", "61"};
  BOOST_TEST(!parse_options(5, const_cast<char**>(b)).value.has_value());
}

BOOST_AUTO_TEST_CASE(a_poll_answer_yields_its_offset_and_each_message_stamp) {
  const auto data = encode_json_stamp({4, 987654321, false}, 10);
  const auto warm = encode_json_stamp({1, 5, true}, 80);
  const std::string body = R"({"topic":"lp","epoch":"e1","offset":9,"recovered":true,"messages":[)"
                           R"({"op":"message","topic":"lp","offset":8,"epoch":"e1","ts":1,"data":)" + data + "},"
                           R"({"op":"message","topic":"lp","offset":9,"epoch":"e1","ts":2,"data":)" + warm + "}]}";
  std::string error;
  const auto a = parse_poll_answer(body, error);
  BOOST_REQUIRE_MESSAGE(a.has_value(), error);
  BOOST_TEST(a->offset == 9u);
  BOOST_TEST(a->recovered);
  BOOST_REQUIRE(a->messages.size() == 2u);
  BOOST_TEST(a->messages[0].offset == 8u);
  BOOST_TEST(a->messages[0].stamped->seq == 4u);
  BOOST_TEST(a->messages[0].stamped->intended_ns == 987654321);
  BOOST_TEST(!a->messages[0].stamped->warmup);
  BOOST_TEST(a->messages[1].stamped->warmup);
}

BOOST_AUTO_TEST_CASE(an_envelope_with_foreign_data_has_no_stamp_and_garbage_is_an_error) {
  std::string error;
  const auto e = parse_envelope(R"({"op":"message","offset":3,"data":"hello"})", error);
  BOOST_REQUIRE(e.has_value());
  BOOST_TEST(e->op == "message");
  BOOST_TEST(!e->stamped.has_value());
  BOOST_TEST(parse_envelope(R"({"op":"subscribed","topic":"sse","offset":0})", error)->offset == 0u);
  BOOST_TEST(!parse_envelope("not json", error).has_value());
  BOOST_TEST(!parse_poll_answer(R"({"offset":1})", error).has_value());
  BOOST_TEST(!parse_poll_answer(R"({"offset":1,"messages":[],"recovered":false})", error)->recovered);
}

BOOST_AUTO_TEST_CASE(a_response_in_one_chunk_is_read_in_place_and_a_split_one_is_reassembled) {
  const std::string whole = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}";
  http_response_reader r;
  BOOST_TEST((r.feed(whole) == http_response_reader::state::complete));
  BOOST_TEST(r.status() == 200u);
  BOOST_TEST(r.body() == "{\"a\":1}");
  BOOST_TEST(r.body().data() == whole.data() + whole.size() - 7);  // no copy
  r.reset();
  for (std::size_t cut : {5ul, 40ul, whole.size() - 1}) {
    BOOST_TEST((r.feed(std::string_view{whole}.substr(0, cut)) == http_response_reader::state::incomplete));
    BOOST_TEST((r.feed(std::string_view{whole}.substr(cut)) == http_response_reader::state::complete));
    BOOST_TEST(r.body() == "{\"a\":1}");
    r.reset();
  }
}

BOOST_AUTO_TEST_CASE(chunked_pipelined_or_malformed_responses_are_refused) {
  http_response_reader r;
  BOOST_TEST((r.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == http_response_reader::state::bad));
  r.reset();
  BOOST_TEST((r.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy") == http_response_reader::state::bad));
  r.reset();
  BOOST_TEST((r.feed("SMTP 200\r\n\r\n") == http_response_reader::state::bad));
  const char* error = nullptr;
  BOOST_TEST(parse_response_head("HTTP/1.1 503 Busy\r\n\r\n", error)->status == 503u);
  BOOST_TEST(!parse_response_head("HTTP/1.1 200 OK\r\nContent-Le", error).has_value());
  BOOST_TEST(error == nullptr);
}

BOOST_AUTO_TEST_CASE(sse_events_are_found_across_any_chunking_and_pings_are_counted) {
  const std::string stream = "data: {\"op\":\"subscribed\"}\n\n: ping\n\nid: 7\r\ndata: a\ndata: b\n\nevent: x\ndata: c\n\n";
  for (std::size_t step : {1ul, 3ul, 7ul, stream.size()}) {
    sse_reader reader;
    std::vector<std::pair<std::optional<std::uint64_t>, std::string>> events;
    for (std::size_t at = 0; at < stream.size(); at += step)
      reader.feed(std::string_view{stream}.substr(at, step),
                  [&](const std::optional<std::uint64_t>& id, std::string_view data) {
                    events.emplace_back(id, std::string{data});
                  });
    BOOST_REQUIRE(events.size() == 3u);
    BOOST_TEST(!events[0].first.has_value());
    BOOST_TEST(events[0].second == "{\"op\":\"subscribed\"}");
    BOOST_TEST(*events[1].first == 7u);
    BOOST_TEST(events[1].second == "a\nb");
    BOOST_TEST(events[2].second == "c");
    BOOST_TEST(reader.comments() == 1u);
  }
}
