#include "worker_result.hpp"

#include <algorithm>
#include <simdjson.h>

#include "json_writer.hpp"

namespace herald_bench {

void worker_result::merge(const worker_result& o) {
  opened += o.opened;
  open_failed += o.open_failed;
  unexpected_closes += o.unexpected_closes;
  received += o.received;
  received_warmup += o.received_warmup;
  unparsed += o.unparsed;
  churn_opens += o.churn_opens;
  churn_closes += o.churn_closes;
  internal_errors += o.internal_errors;
  duplicates += o.duplicates;
  unrecovered += o.unrecovered;
  ramp_done_ns = std::max(ramp_done_ns, o.ramp_done_ns);
  cpu_us += o.cpu_us;
  rss_bytes += o.rss_bytes;
  if (first_error.empty()) first_error = o.first_error;
  latency.merge(o.latency);
  if (seq_max_ns.size() < o.seq_max_ns.size()) seq_max_ns.resize(o.seq_max_ns.size(), -1);
  if (seq_count.size() < o.seq_count.size()) seq_count.resize(o.seq_count.size(), 0);
  for (std::size_t i = 0; i < o.seq_max_ns.size(); ++i)
    seq_max_ns[i] = std::max(seq_max_ns[i], o.seq_max_ns[i]);
  for (std::size_t i = 0; i < o.seq_count.size(); ++i) seq_count[i] += o.seq_count[i];
}

namespace {

void write_detail(json_writer& w, const worker_result& r) {
  w.key("latency").begin_object()
      .field("min", r.latency.min())
      .field("max", r.latency.max())
      .field("sum", r.latency.sum());
  w.key("buckets").begin_array();
  for (auto [index, count] : r.latency.nonzero_buckets())
    w.begin_array().value(std::uint64_t{index}).value(count).end_array();
  w.end_array().end_object();
  w.key("seq_max_ns").begin_array();
  for (auto v : r.seq_max_ns) w.value(v);
  w.end_array();
  w.key("seq_count").begin_array();
  for (auto v : r.seq_count) w.value(std::uint64_t{v});
  w.end_array();
}

}  // namespace

std::string to_json(const worker_result& r, bool with_detail) {
  json_writer w;
  w.begin_object()
      .field("worker", r.worker)
      .field("opened", r.opened)
      .field("open_failed", r.open_failed)
      .field("unexpected_closes", r.unexpected_closes)
      .field("received", r.received)
      .field("received_warmup", r.received_warmup)
      .field("unparsed", r.unparsed)
      .field("churn_opens", r.churn_opens)
      .field("churn_closes", r.churn_closes)
      .field("internal_errors", r.internal_errors)
      .field("duplicates", r.duplicates)
      .field("unrecovered", r.unrecovered)
      .field("ramp_done_ns", r.ramp_done_ns)
      .field("cpu_us", r.cpu_us)
      .field("rss_bytes", r.rss_bytes)
      .field("first_error", r.first_error);
  if (with_detail) write_detail(w, r);
  w.end_object();
  return w.str();
}

namespace {

using simdjson::dom::element;

std::uint64_t get_u64(element obj, const char* key) {
  std::uint64_t v = 0;
  if (obj[key].get(v) != simdjson::SUCCESS) {
    std::int64_t s = 0;
    if (obj[key].get(s) == simdjson::SUCCESS && s > 0) v = static_cast<std::uint64_t>(s);
  }
  return v;
}

std::int64_t get_i64(element obj, const char* key) {
  std::int64_t v = 0;
  if (obj[key].get(v) != simdjson::SUCCESS) v = 0;
  return v;
}

void read_detail(element obj, worker_result& r) {
  element lat;
  if (obj["latency"].get(lat) != simdjson::SUCCESS) return;
  simdjson::dom::array buckets;
  if (lat["buckets"].get(buckets) == simdjson::SUCCESS) {
    for (element pair : buckets) {
      std::uint64_t index = 0, count = 0;
      if (pair.at(0).get(index) == simdjson::SUCCESS && pair.at(1).get(count) == simdjson::SUCCESS)
        r.latency.add_bucket(static_cast<std::uint32_t>(index), count);
    }
  }
  double sum = 0;
  if (lat["sum"].get(sum) != simdjson::SUCCESS) sum = 0;
  if (r.latency.count()) r.latency.set_extremes(get_i64(lat, "min"), get_i64(lat, "max"), sum);
  simdjson::dom::array arr;
  if (obj["seq_max_ns"].get(arr) == simdjson::SUCCESS)
    for (element v : arr) r.seq_max_ns.push_back(v.get_int64().value_unsafe());
  if (obj["seq_count"].get(arr) == simdjson::SUCCESS)
    for (element v : arr) r.seq_count.push_back(static_cast<std::uint32_t>(v.get_uint64().value_unsafe()));
}

}  // namespace

std::optional<worker_result> parse_worker_result(std::string_view json, std::string& error) {
  simdjson::dom::parser parser;
  element obj;
  if (auto ec = parser.parse(json.data(), json.size()).get(obj); ec) {
    error = simdjson::error_message(ec);
    return std::nullopt;
  }
  worker_result r;
  r.worker = static_cast<int>(get_i64(obj, "worker"));
  r.opened = get_u64(obj, "opened");
  r.open_failed = get_u64(obj, "open_failed");
  r.unexpected_closes = get_u64(obj, "unexpected_closes");
  r.received = get_u64(obj, "received");
  r.received_warmup = get_u64(obj, "received_warmup");
  r.unparsed = get_u64(obj, "unparsed");
  r.churn_opens = get_u64(obj, "churn_opens");
  r.churn_closes = get_u64(obj, "churn_closes");
  r.internal_errors = get_u64(obj, "internal_errors");
  r.duplicates = get_u64(obj, "duplicates");
  r.unrecovered = get_u64(obj, "unrecovered");
  r.ramp_done_ns = get_i64(obj, "ramp_done_ns");
  r.cpu_us = get_u64(obj, "cpu_us");
  r.rss_bytes = get_u64(obj, "rss_bytes");
  std::string_view first;
  if (obj["first_error"].get(first) == simdjson::SUCCESS) r.first_error = std::string{first};
  read_detail(obj, r);
  return r;
}

}  // namespace herald_bench
