#include "envelope.hpp"

#include <simdjson.h>

namespace herald_bench {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// The parser keeps its buffers between calls: one allocation per thread, not per answer.
simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

std::optional<stamp> read_stamp(element data) {
  stamp s;
  if (data["t"].get(s.intended_ns) != simdjson::SUCCESS) return std::nullopt;
  if (data["seq"].get(s.seq) != simdjson::SUCCESS) return std::nullopt;
  bool warmup = false;
  if (data["warmup"].get(warmup) == simdjson::SUCCESS) s.warmup = warmup;
  return s;
}

std::optional<envelope> read_envelope(element e, std::string& error) {
  envelope out;
  std::string_view op;
  if (e["op"].get(op) != simdjson::SUCCESS) {
    error = "envelope without op";
    return std::nullopt;
  }
  out.op = std::string{op};
  if (e["offset"].get(out.offset) != simdjson::SUCCESS) {
    error = "envelope without offset";
    return std::nullopt;
  }
  element data;
  if (e["data"].get(data) == simdjson::SUCCESS) out.stamped = read_stamp(data);
  return out;
}

std::optional<element> parse(std::string_view json, std::string& error) {
  element root;
  if (auto ec = thread_parser().parse(json.data(), json.size()).get(root); ec) {
    error = std::string{"not JSON: "} + simdjson::error_message(ec);
    return std::nullopt;
  }
  return root;
}

}  // namespace

std::optional<envelope> parse_envelope(std::string_view json, std::string& error) {
  auto root = parse(json, error);
  if (!root) return std::nullopt;
  return read_envelope(*root, error);
}

std::optional<poll_answer> parse_poll_answer(std::string_view json, std::string& error) {
  auto root = parse(json, error);
  if (!root) return std::nullopt;
  poll_answer out;
  simdjson::dom::array messages;
  if ((*root)["offset"].get(out.offset) != simdjson::SUCCESS ||
      (*root)["messages"].get(messages) != simdjson::SUCCESS) {
    error = "poll answer without offset or messages";
    return std::nullopt;
  }
  bool recovered = true;
  if ((*root)["recovered"].get(recovered) == simdjson::SUCCESS) out.recovered = recovered;
  for (element m : messages) {
    auto e = read_envelope(m, error);
    if (!e) return std::nullopt;
    out.messages.push_back(std::move(*e));
  }
  return out;
}

}  // namespace herald_bench
