// Unit tests for metrics::exposition and the per-shard counters it sums:
// the rendered text is parsed back and checked sample by sample.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "metrics/exposition.hpp"
#include "metrics/shard_stats.hpp"

namespace metrics = herald::metrics;
using metrics::close_reason;

namespace {

// One sample line of the text format: series (name plus labels) and value.
struct sample {
  std::string series;
  double value;
};

struct parsed_exposition {
  std::vector<sample> samples;                // in order of appearance
  std::map<std::string, std::string> types;   // family name -> TYPE

  // The value of `series`, or -1 when it is absent (every metric here is >= 0).
  double value(const std::string& series) const {
    for (const auto& s : samples) {
      if (s.series == series) return s.value;
    }
    return -1;
  }
  std::size_t count_with_prefix(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& s : samples) n += s.series.rfind(prefix, 0) == 0;
    return n;
  }
};

parsed_exposition parse(const std::string& text) {
  parsed_exposition out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type;
      f >> name >> type;
      out.types[name] = type;
      continue;
    }
    if (line[0] == '#') continue;
    auto space = line.rfind(' ');
    BOOST_TEST_REQUIRE(space != std::string::npos, "sample line without a value: " << line);
    out.samples.push_back({line.substr(0, space), std::stod(line.substr(space + 1))});
  }
  return out;
}

// The family a sample belongs to: its name without labels.
std::string name_of(const std::string& series) { return series.substr(0, series.find('{')); }

// Two shard snapshots with distinct, easily summed values.
std::vector<metrics::shard_stats> two_shards() {
  std::vector<metrics::shard_stats> shards(2);
  auto& a = shards[0];
  a.connections_accepted = 3;
  a.websocket_sessions = 2;
  a.connections_open = 2;
  a.frames_received = 10;
  a.messages_delivered = 100;
  a.dropped_slow = 1;
  a.dropped_closed = 2;
  a.pings_sent = 5;
  a.count_close(close_reason::peer);
  a.count_close(close_reason::slow_consumer);
  a.client_errors["bad_json"] = 2;
  a.http_requests[{"push", 200}] = 3;
  a.push_latency["push"].observe(0.00005);
  a.push_latency["push"].observe(0.003);
  a.users = 4;
  a.topics = 1;

  auto& b = shards[1];
  b.connections_accepted = 4;
  b.websocket_sessions = 3;
  b.connections_open = 5;
  b.frames_received = 1;
  b.messages_delivered = 50;
  b.dropped_slow = 3;
  b.pings_sent = 1;
  b.count_close(close_reason::slow_consumer);
  b.count_close(close_reason::slow_consumer);
  b.count_close(close_reason::shutdown);
  b.client_errors["bad_json"] = 1;
  b.client_errors["bad_topic"] = 4;
  b.http_requests[{"push", 200}] = 2;
  b.http_requests[{"publish", 400}] = 1;
  b.push_latency["push"].observe(2.0);
  b.push_latency["publish"].observe(0.0001);
  b.users = 1;
  b.topics = 6;
  return shards;
}

// The bucket samples of one histogram series, in order: (le, cumulative count).
std::vector<std::pair<std::string, double>> buckets_of(const parsed_exposition& p, const std::string& name,
                                                       const std::string& endpoint) {
  std::vector<std::pair<std::string, double>> out;
  const std::string prefix = name + "_bucket{endpoint=\"" + endpoint + "\",le=\"";
  for (const auto& s : p.samples) {
    if (s.series.rfind(prefix, 0) != 0) continue;
    std::string le = s.series.substr(prefix.size());
    out.emplace_back(le.substr(0, le.find('"')), s.value);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(exposition_render)

BOOST_AUTO_TEST_CASE(counters_are_summed_over_shards) {
  metrics::exposition expo("1.2.3");
  auto p = parse(expo.render(two_shards()));
  BOOST_TEST(p.value("herald_connections_accepted_total") == 7.0);
  BOOST_TEST(p.value("herald_websocket_sessions_total") == 5.0);
  BOOST_TEST(p.value("herald_frames_received_total") == 11.0);
  BOOST_TEST(p.value("herald_messages_delivered_total") == 150.0);
  BOOST_TEST(p.value("herald_pings_sent_total") == 6.0);
  BOOST_TEST(p.value(R"(herald_messages_dropped_total{reason="slow_consumer"})") == 4.0);
  BOOST_TEST(p.value(R"(herald_messages_dropped_total{reason="closed"})") == 2.0);
  BOOST_TEST(p.value("herald_slow_consumer_closes_total") == 3.0);
  BOOST_TEST(p.value("herald_users") == 5.0);
  BOOST_TEST(p.value("herald_topics") == 7.0);
}

BOOST_AUTO_TEST_CASE(closes_are_summed_per_reason_with_every_reason_present) {
  metrics::exposition expo("1.2.3");
  auto p = parse(expo.render(two_shards()));
  BOOST_TEST(p.value(R"(herald_connections_closed_total{reason="peer"})") == 1.0);
  BOOST_TEST(p.value(R"(herald_connections_closed_total{reason="slow_consumer"})") == 3.0);
  BOOST_TEST(p.value(R"(herald_connections_closed_total{reason="shutdown"})") == 1.0);
  BOOST_TEST(p.value(R"(herald_connections_closed_total{reason="idle_timeout"})") == 0.0);
  BOOST_TEST(p.value(R"(herald_connections_closed_total{reason="too_big"})") == 0.0);
  BOOST_TEST(p.value(R"(herald_connections_closed_total{reason="bad_utf8"})") == 0.0);
  BOOST_TEST(p.value(R"(herald_connections_closed_total{reason="protocol_error"})") == 0.0);
  BOOST_TEST(p.count_with_prefix("herald_connections_closed_total{") ==
             static_cast<std::size_t>(close_reason::count_));
}

BOOST_AUTO_TEST_CASE(labelled_counters_are_merged_by_label_across_shards) {
  metrics::exposition expo("1.2.3");
  auto p = parse(expo.render(two_shards()));
  BOOST_TEST(p.value(R"(herald_client_errors_total{code="bad_json"})") == 3.0);
  BOOST_TEST(p.value(R"(herald_client_errors_total{code="bad_topic"})") == 4.0);
  BOOST_TEST(p.count_with_prefix("herald_client_errors_total{") == 2u);
  BOOST_TEST(p.value(R"(herald_push_requests_total{endpoint="push",status="200"})") == 5.0);
  BOOST_TEST(p.value(R"(herald_push_requests_total{endpoint="publish",status="400"})") == 1.0);
  BOOST_TEST(p.count_with_prefix("herald_push_requests_total{") == 2u);
}

BOOST_AUTO_TEST_CASE(open_connections_are_reported_per_shard) {
  metrics::exposition expo("1.2.3");
  auto p = parse(expo.render(two_shards()));
  BOOST_TEST(p.types["herald_connections_open"] == "gauge");
  BOOST_TEST(p.value(R"(herald_connections_open{shard="0"})") == 2.0);
  BOOST_TEST(p.value(R"(herald_connections_open{shard="1"})") == 5.0);
  BOOST_TEST(p.count_with_prefix("herald_connections_open") == 2u);
}

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_and_end_with_plus_inf) {
  metrics::exposition expo("1.2.3");
  auto p = parse(expo.render(two_shards()));
  BOOST_TEST(p.types["herald_push_duration_seconds"] == "histogram");

  auto push = buckets_of(p, "herald_push_duration_seconds", "push");
  BOOST_TEST_REQUIRE(push.size() == metrics::latency_histogram::bounds.size() + 1);
  BOOST_TEST(push.back().first == "+Inf");
  for (std::size_t i = 1; i < push.size(); ++i) {
    BOOST_TEST_CONTEXT("bucket " << i) { BOOST_TEST(push[i].second >= push[i - 1].second); }
  }
  for (std::size_t i = 0; i + 1 < push.size(); ++i) {
    BOOST_TEST_CONTEXT("bucket " << i) {
      BOOST_TEST(std::stod(push[i].first) == metrics::latency_histogram::bounds[i]);
    }
  }
  BOOST_TEST(push[0].second == 1.0);   // 0.00005 sits exactly on the first bound
  BOOST_TEST(push[5].second == 1.0);   // le 0.0025
  BOOST_TEST(push[6].second == 2.0);   // le 0.005 holds 0.003 too
  BOOST_TEST(push[13].second == 2.0);  // le 1: 2.0 s is only in +Inf
  BOOST_TEST(push[14].second == 3.0);
  BOOST_TEST(p.value(R"(herald_push_duration_seconds_count{endpoint="push"})") == 3.0);
  double sum = p.value(R"(herald_push_duration_seconds_sum{endpoint="push"})");
  BOOST_TEST(std::abs(sum - 2.00305) < 1e-9);

  auto publish = buckets_of(p, "herald_push_duration_seconds", "publish");
  BOOST_TEST_REQUIRE(publish.size() == metrics::latency_histogram::bounds.size() + 1);
  BOOST_TEST(publish[0].second == 0.0);
  BOOST_TEST(publish[1].second == 1.0);
  BOOST_TEST(publish.back().second == 1.0);
}

BOOST_AUTO_TEST_CASE(every_counter_family_is_named_with_a_total_suffix) {
  metrics::exposition expo("1.2.3");
  auto p = parse(expo.render(two_shards()));
  std::size_t counters = 0;
  for (const auto& [name, type] : p.types) {
    if (type != "counter") continue;
    ++counters;
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(name.size() > 6u);
      BOOST_TEST(name.compare(name.size() - 6, 6, "_total") == 0);
      BOOST_TEST(name.find("_total_total") == std::string::npos);
    }
  }
  BOOST_TEST(counters >= 9u);
  // Every sample belongs to a declared family, under its exact name.
  std::set<std::string> families;
  for (const auto& [name, type] : p.types) families.insert(name);
  for (const auto& s : p.samples) {
    std::string n = name_of(s.series);
    for (const char* suffix : {"_bucket", "_count", "_sum"}) {
      std::string sx(suffix);
      if (!families.count(n) && n.size() > sx.size() && n.compare(n.size() - sx.size(), sx.size(), sx) == 0) {
        n.resize(n.size() - sx.size());
      }
    }
    BOOST_TEST_CONTEXT(s.series) { BOOST_TEST(families.count(n) == 1u); }
  }
}

BOOST_AUTO_TEST_CASE(ready_is_one_by_default_and_follows_set_ready) {
  metrics::exposition expo("1.2.3");
  BOOST_TEST(parse(expo.render({})).value("herald_ready") == 1.0);
  expo.set_ready(false);
  BOOST_TEST(parse(expo.render({})).value("herald_ready") == 0.0);
  expo.set_ready(true);
  BOOST_TEST(parse(expo.render({})).value("herald_ready") == 1.0);
}

BOOST_AUTO_TEST_CASE(build_info_carries_the_version_label) {
  metrics::exposition expo("9.8.7-test");
  auto p = parse(expo.render({}));
  BOOST_TEST(p.value(R"(herald_build_info{version="9.8.7-test"})") == 1.0);
}

BOOST_AUTO_TEST_CASE(build_info_carries_the_commit_and_the_node_beside_the_version) {
  metrics::exposition expo("9.8.7", "n1", "0123456789ab-dirty");
  auto p = parse(expo.render({}));
  BOOST_TEST(p.value(R"(herald_build_info{commit="0123456789ab-dirty",node="n1",version="9.8.7"})") == 1.0);
}

BOOST_AUTO_TEST_CASE(a_render_without_shards_reports_zero_and_no_per_shard_series) {
  metrics::exposition expo("1.2.3");
  auto p = parse(expo.render({}));
  BOOST_TEST(p.value("herald_connections_accepted_total") == 0.0);
  BOOST_TEST(p.value("herald_messages_delivered_total") == 0.0);
  BOOST_TEST(p.count_with_prefix("herald_connections_open") == 0u);
  BOOST_TEST(p.count_with_prefix("herald_push_duration_seconds_bucket") == 0u);
}

BOOST_AUTO_TEST_CASE(large_counters_are_rendered_without_losing_digits) {
  std::vector<metrics::shard_stats> shards(1);
  shards[0].messages_delivered = 123456789012;
  metrics::exposition expo("1.2.3");
  BOOST_TEST(parse(expo.render(shards)).value("herald_messages_delivered_total") == 123456789012.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shard_stats_counters)

BOOST_AUTO_TEST_CASE(a_latency_on_a_bound_counts_in_that_bucket_and_above_the_last_in_plus_inf) {
  metrics::latency_histogram h;
  h.observe(0.001);   // exactly bound 4
  h.observe(0.0011);  // just above: bound 5 (0.0025)
  h.observe(0.0);     // below every bound: bucket 0
  h.observe(5.0);     // above 1 s: the +Inf slot
  const auto& c = h.counts();
  BOOST_TEST(c[0] == 1u);
  BOOST_TEST(c[4] == 1u);
  BOOST_TEST(c[5] == 1u);
  BOOST_TEST(c.back() == 1u);
  std::uint64_t total = 0;
  for (auto n : c) total += n;
  BOOST_TEST(total == 4u);
  BOOST_TEST(std::abs(h.sum() - 5.0021) < 1e-12);
}

BOOST_AUTO_TEST_CASE(merging_histograms_adds_counts_and_sums) {
  metrics::latency_histogram a, b;
  a.observe(0.01);
  b.observe(0.01);
  b.observe(0.3);
  a.merge(b);
  BOOST_TEST(a.counts()[7] == 2u);   // le 0.01
  BOOST_TEST(a.counts()[12] == 1u);  // le 0.5
  BOOST_TEST(std::abs(a.sum() - 0.32) < 1e-12);
  BOOST_TEST(b.counts()[7] == 1u);   // the source is unchanged
}

BOOST_AUTO_TEST_CASE(every_close_reason_has_a_distinct_name) {
  std::set<std::string> names;
  for (std::size_t r = 0; r < static_cast<std::size_t>(close_reason::count_); ++r) {
    std::string n = metrics::to_string(static_cast<close_reason>(r));
    BOOST_TEST_CONTEXT(r) { BOOST_TEST(n != "unknown"); }
    names.insert(n);
  }
  BOOST_TEST(names.size() == static_cast<std::size_t>(close_reason::count_));
  BOOST_TEST(std::string(metrics::to_string(close_reason::slow_consumer)) == "slow_consumer");
}

BOOST_AUTO_TEST_CASE(count_close_increments_only_its_reason) {
  metrics::shard_stats s;
  s.count_close(close_reason::too_big);
  s.count_close(close_reason::too_big);
  for (std::size_t r = 0; r < s.closes.size(); ++r) {
    BOOST_TEST_CONTEXT(r) {
      BOOST_TEST(s.closes[r] == (r == static_cast<std::size_t>(close_reason::too_big) ? 2u : 0u));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
