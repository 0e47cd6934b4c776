#pragma once
// Command-line options of herald-bench, shared by the coordinator and its workers.
//
// The coordinator re-executes itself with its own arguments plus --worker-slice, so a
// worker sees exactly the options the user gave. parse_options() never exits: it
// returns an error text (or the help text) for main() to print.
//
// Thread contract: immutable after parsing.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "url.hpp"

namespace herald_bench {

class json_writer;

enum class scenario { idle, unicast, fanout, churn, longpoll, sse };

// longpoll and sse hold plain HTTP requests instead of WebSockets (see held_connection.hpp).
inline bool is_held_scenario(scenario s) { return s == scenario::longpoll || s == scenario::sse; }
enum class api_kind { compat, native };

// The part of the run one worker process owns: global connection indices
// [begin, begin + count) opened from one source address.
struct worker_slice {
  int index = 0;
  std::uint64_t begin = 0;
  std::uint64_t count = 0;
  std::string source_address;  // empty: let the kernel choose
};

struct bench_options {
  scenario kind = scenario::idle;
  api_kind api = api_kind::compat;
  std::uint64_t connections = 1000;
  std::uint64_t users = 0;        // 0: one user per connection (unicast, churn)
  double rate = 0;                // pushes per second; 0: scenario default
  double duration_s = 10;
  double warmup_s = 1;
  std::size_t message_size = 64;
  url target;                      // the first of `targets`
  std::vector<url> targets;        // --targets: connection i opens to targets[i % size]
  url push_url;
  std::optional<url> metrics_url;  // nullopt: --metrics-url none; else the first of metrics_urls
  std::vector<url> metrics_urls;   // every /metrics scraped; counters are summed over them
  pid_t server_pid = 0;            // the first of server_pids (0: none)
  std::vector<pid_t> server_pids;  // CPU and RSS are summed over these processes
  std::vector<pid_t> extra_pids;   // --extra-pids: CPU reported apart (e.g. nats-server)
  int workers = 0;                 // 0: derived from connections
  int client_threads = 2;
  std::vector<std::string> source_addresses;  // one per worker, reused round-robin
  int push_connections = 8;
  int ramp_concurrency = 64;       // connection opens in flight per worker
  double churn_rate = 50;          // reconnects per second over all workers
  double drain_timeout_s = 5;
  double settle_timeout_s = 10;
  double open_timeout_s = 10;
  int poll_timeout_s = 30;         // longpoll: the timeout= each poll asks for (1..60)
  bool memory_only = false;        // longpoll/sse: hold the requests, measure memory, no pushes
  bool register_ack = true;        // confirm registration with op:ping / op:subscribe
  bool register_frame = true;      // --no-register: send no frame at all (the URL says who)
  bool raw_push_body = false;      // --push-body raw: the body is the message itself
  std::string event = "bench";
  std::string out_path;
  std::string label;
  std::optional<worker_slice> slice;  // set in worker processes only
  std::vector<std::string> argv;       // as given, to re-execute workers

  std::uint64_t effective_users() const;
  double effective_rate() const;
  const char* scenario_name() const;
  const char* api_name() const;
  bool held() const { return is_held_scenario(kind); }
  void write_json(json_writer& out) const;
};

struct options_result {
  std::optional<bench_options> value;
  std::string message;  // error text, or help text when value is empty and ok_to_exit
  bool help = false;
};

options_result parse_options(int argc, char** argv);

std::string usage_text();

}  // namespace herald_bench
