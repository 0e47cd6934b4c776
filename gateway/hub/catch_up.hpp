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

 private:
  std::string topic_;
  std::optional<std::uint64_t> since_;
  std::vector<local_frame> buffered_;
};

}  // namespace herald::hub
