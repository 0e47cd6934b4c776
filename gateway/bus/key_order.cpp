#include "bus/key_order.hpp"

namespace herald::bus {

namespace {
bool other_epoch(const record& r, const std::shared_ptr<const std::string>& epoch) {
  return r.epoch && epoch && *r.epoch != *epoch;
}
}  // namespace

void key_order::restart(const record& r) {
  // First message, or the stream was created anew (sequences start over).
  started_ = true;
  last_ = r.prev;
  epoch_ = r.epoch;
  held_.clear();
}

bool key_order::stale(const record& r) const {
  return started_ && !other_epoch(r, epoch_) && r.offset <= last_;
}

std::vector<record> key_order::offer(record r) {
  std::vector<record> out;
  if (!started_ || other_epoch(r, epoch_)) restart(r);
  if (r.offset <= last_) return out;
  if (r.prev > last_) {  // its predecessor has not come yet
    held_.emplace(r.offset, std::move(r));
    return out;
  }
  last_ = r.offset;
  out.push_back(std::move(r));
  release(out);
  return out;
}

void key_order::release(std::vector<record>& out) {
  while (!held_.empty() && held_.begin()->second.prev <= last_) {
    auto node = held_.extract(held_.begin());
    if (node.key() <= last_) continue;
    last_ = node.key();
    out.push_back(std::move(node.mapped()));
  }
}

std::pair<std::uint64_t, std::uint64_t> key_order::gap() const {
  return {last_, held_.empty() ? last_ : held_.begin()->first};
}

std::vector<record> key_order::fill(std::vector<record> missing) {
  std::vector<record> out;
  std::map<std::uint64_t, record> found;
  const auto upto = gap().second;
  for (auto& r : missing) {
    if (r.offset > last_ && r.offset < upto) found.emplace(r.offset, std::move(r));
  }
  for (auto& [seq, r] : found) {
    last_ = seq;
    out.push_back(std::move(r));
  }
  release(out);
  // Whatever is still held waits for a predecessor the stream does not
  // have (deleted by its limits): give up on it and go on in order.
  while (!held_.empty()) {
    auto node = held_.extract(held_.begin());
    last_ = node.key();
    out.push_back(std::move(node.mapped()));
    release(out);
  }
  return out;
}

}  // namespace herald::bus
