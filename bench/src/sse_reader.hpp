#pragma once
// Splits a text/event-stream body into events, the part of the SSE format Herald
// uses: "id:" and "data:" fields (several data lines join with '\n'), comment lines
// (": ping") and a blank line ending each event. Other fields are ignored.
//
// feed() takes whatever the socket delivered and calls on_event(id, data) for each
// completed event; a line split over chunks is kept until its end arrives, everything
// else is read in place.
//
// Thread contract: single owner (one connection).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald_bench {

class sse_reader {
 public:
  template <typename OnEvent>
  void feed(std::string_view bytes, OnEvent&& on_event) {
    std::string_view line;
    while (next_line(bytes, line)) {
      if (!line.empty()) {
        read_field(line);
        continue;
      }
      if (has_data_) on_event(id_, std::string_view{data_});
      end_event();
    }
  }

  std::uint64_t comments() const { return comments_; }  // heartbeats, mostly

 private:
  bool next_line(std::string_view& bytes, std::string_view& line);
  void read_field(std::string_view line);
  void end_event();

  std::string tail_;  // an incomplete line
  std::string data_;
  std::optional<std::uint64_t> id_;
  std::uint64_t comments_ = 0;
  bool has_data_ = false;
  bool tail_is_line_ = false;  // tail_ was handed out as the last line: drop it next
};

}  // namespace herald_bench
