#include "bus/jetstream_replies.hpp"

namespace herald::bus {

namespace {

// Reads {"error":{"code":..,"err_code":..,"description":..}} if present.
template <class Object>
std::optional<js_error> error_of(Object& obj) {
  auto e = obj["error"];
  if (e.error()) return std::nullopt;
  js_error out;
  std::int64_t v = 0;
  if (!e["code"].get_int64().get(v)) out.code = static_cast<int>(v);
  if (!e["err_code"].get_int64().get(v)) out.err_code = static_cast<int>(v);
  std::string_view d;
  if (!e["description"].get_string().get(d)) out.description = std::string(d);
  return out;
}

js_error malformed() { return {0, 0, "malformed JetStream answer"}; }

}  // namespace

std::string epoch_of(std::string_view stream_name, std::string_view created) {
  // FNV-1a over "<stream>@<created>": a fixed, portable hash.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(stream_name);
  mix("@");
  mix(created);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = hex[h & 0xf];
  return out;
}

std::optional<js_error> reply_reader::open(std::string_view body, simdjson::ondemand::object& obj) {
  buffer_ = simdjson::padded_string(body);
  if (parser_.iterate(buffer_).get(doc_) || doc_.get_object().get(obj)) return malformed();
  auto e = error_of(obj);
  obj.reset();
  return e;
}

pub_ack reply_reader::read_pub_ack(std::string_view body) {
  pub_ack out;
  simdjson::ondemand::object obj;
  if ((out.error = open(body, obj))) return out;
  std::uint64_t seq = 0;
  if (obj["seq"].get_uint64().get(seq) || seq == 0) {
    out.error = malformed();
    return out;
  }
  out.seq = seq;
  return out;
}

stream_state reply_reader::read_stream_info(std::string_view body) {
  stream_state out;
  simdjson::ondemand::object obj;
  if ((out.error = open(body, obj))) return out;
  std::string_view created;
  if (obj["created"].get_string().get(created)) {
    out.error = malformed();
    return out;
  }
  out.created = std::string(created);
  obj.reset();
  auto state = obj["state"];
  if (state.error() || state["first_seq"].get_uint64().get(out.first_seq) ||
      state["last_seq"].get_uint64().get(out.last_seq)) {
    out.error = malformed();
  }
  return out;
}

}  // namespace herald::bus
