#pragma once
// catch_up: joins a history snapshot and the live frames that arrived while
// it was being fetched into one gap-free, duplicate-free sequence.
//
// A subscriber registers for live frames first, then asks the topic's owner
// shard for history. Frames the owner sends after the snapshot reach the
// subscriber after the snapshot does (posts from one shard to another keep
// their order), so: replay the snapshot's messages after `since`, then the
// buffered live frames with a higher offset. Presence frames (offset 0) are
// kept in arrival order after the replay.
//
// Thread contract: shard-local (owned by one subscriber).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hub/frame.hpp"
#include "hub/topic_log.hpp"

namespace herald::hub {

class catch_up {
 public:
  // `since`: the last offset the subscriber has; nothing means "from now on".
  catch_up(std::string topic, std::optional<std::uint64_t> since) : topic_(std::move(topic)), since_(since) {}

  const std::string& topic() const { return topic_; }
  void buffer(const local_frame& f) { buffered_.push_back(f); }

  // The frames to deliver, in order, once `slice` has arrived.
  std::vector<local_frame> merge(const history_slice& slice) const;

  // Whether `merged` (what merge() returned) holds everything after
  // `since`: the snapshot alone may have lost the gap while the live frames
  // buffered meanwhile cover it. Never true across an epoch change.
  bool recovered(const history_slice& slice, const std::vector<local_frame>& merged) const;

  // Where the subscriber stands once `merged` is delivered: its `since`
  // (nothing, across an epoch change) or, without one, the snapshot's
  // position; raised by what was replayed. A replay cut short raises it
  // only as far as it went, so no live message after it is hidden.
  std::uint64_t position(const history_slice& slice, const std::vector<local_frame>& merged) const;

  // The live frames after the merge pass here: a sequenced frame at or
  // below `floor` is a copy of one the subscriber has (in a fleet the stream
  // may republish a message after the history read that already held it)
  // and is refused; any other raises `floor`. Unsequenced frames pass.
  static bool admit(std::uint64_t& floor, const message& f) {
    if (f.offset == 0) return true;
    if (f.offset <= floor) return false;
    floor = f.offset;
    return true;
  }

 private:
  std::string topic_;
  std::optional<std::uint64_t> since_;
  std::vector<local_frame> buffered_;
};

}  // namespace herald::hub
