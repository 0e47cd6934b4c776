#pragma once
// Frames: an encoded server-to-client message, built once and shared by every
// receiver.
//
// A fan-out crosses shards as a shared_frame (one atomic reference per shard).
// Each shard wraps it once in a local_frame, whose copies use a plain,
// non-atomic count: delivering to ten thousand connections of one shard
// touches no cache line that another core writes.
#include <memory>
#include <string>

#include <boost/smart_ptr/local_shared_ptr.hpp>

namespace herald::hub {

using shared_frame = std::shared_ptr<const std::string>;
using local_frame = boost::local_shared_ptr<const std::string>;

inline shared_frame make_frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

// Wraps a cross-shard frame for use on one shard; the local copies keep the
// shared one alive through the deleter.
inline local_frame localize(const shared_frame& f) {
  return local_frame(f.get(), [keep = f](const std::string*) {});
}

}  // namespace herald::hub
