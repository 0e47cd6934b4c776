#include "sse_reader.hpp"

#include <charconv>

namespace herald_bench {

bool sse_reader::next_line(std::string_view& bytes, std::string_view& line) {
  if (tail_is_line_) {
    tail_.clear();
    tail_is_line_ = false;
  }
  const auto eol = bytes.find('\n');
  if (eol == std::string_view::npos) {
    tail_.append(bytes);
    bytes = {};
    return false;
  }
  if (tail_.empty()) {
    line = bytes.substr(0, eol);
  } else {
    tail_.append(bytes.substr(0, eol));
    line = tail_;
    tail_is_line_ = true;
  }
  bytes.remove_prefix(eol + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

void sse_reader::read_field(std::string_view line) {
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  const auto colon = line.find(':');
  const auto name = line.substr(0, colon);
  auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (name == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (name == "id") {
    std::uint64_t id = 0;
    auto r = std::from_chars(value.data(), value.data() + value.size(), id);
    if (r.ec == std::errc{} && r.ptr == value.data() + value.size()) id_ = id;
  }
}

void sse_reader::end_event() {
  // A stream idles between events: do not keep a large one's buffer around.
  if (data_.capacity() > 1024) std::string{}.swap(data_);
  data_.clear();
  id_.reset();
  has_data_ = false;
}

}  // namespace herald_bench
