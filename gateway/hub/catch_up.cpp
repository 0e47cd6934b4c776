#include "hub/catch_up.hpp"

#include <algorithm>

namespace herald::hub {

std::vector<local_frame> catch_up::merge(const history_slice& slice) const {
  std::vector<local_frame> out;
  // Without `since` the subscriber starts after the snapshot's position.
  std::uint64_t last = since_ ? *since_ : slice.offset;
  if (since_) {
    for (const auto& f : slice.messages) {
      if (f->offset <= last) continue;
      out.push_back(localize(f));
      last = f->offset;
    }
  }
  for (const auto& f : buffered_) {
    if (f->offset == 0) {
      out.push_back(f);
    } else if (f->offset > last) {
      out.push_back(f);
      last = f->offset;
    }
  }
  return out;
}

bool catch_up::recovered(const history_slice& slice, const std::vector<local_frame>& merged) const {
  if (slice.recovered || slice.epoch_changed || !since_) return slice.recovered;
  for (const auto& f : merged) {
    // The first message follows on: its known predecessor is `since`, or
    // (offsets without gaps, or unknown predecessor) it is since + 1.
    if (f->offset != 0) return f->prev != 0 ? f->prev == *since_ : f->offset == *since_ + 1;
  }
  return false;
}

std::uint64_t catch_up::position(const history_slice& slice, const std::vector<local_frame>& merged) const {
  std::uint64_t at = since_ ? (slice.epoch_changed ? 0 : *since_) : slice.offset;
  for (const auto& f : merged) at = std::max(at, f->offset);
  return at;
}

}  // namespace herald::hub
