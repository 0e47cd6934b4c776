#include "hub/topic_log.hpp"

#include <random>

namespace herald::hub {

namespace {
std::size_t cost_of(const shared_frame& f) { return f->text.size() + sizeof(message); }
}  // namespace

std::string make_epoch() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::uint64_t v = rng();
  std::string s(16, '0');
  for (auto& c : s) {
    c = hex[v & 0xf];
    v >>= 4;
  }
  return s;
}

std::int64_t topic_log::append(shared_frame f, const history_limits& limits, std::int64_t now_ms) {
  std::int64_t delta = 0;
  ++next_offset_;
  if (limits.max_messages > 0) {
    delta += static_cast<std::int64_t>(cost_of(f));
    bytes_ += cost_of(f);
    history_.push_back(std::move(f));
    while (history_.size() > limits.max_messages) {
      delta -= static_cast<std::int64_t>(cost_of(history_.front()));
      bytes_ -= cost_of(history_.front());
      history_.pop_front();
    }
  }
  return delta - expire(now_ms, limits);
}

std::int64_t topic_log::expire(std::int64_t now_ms, const history_limits& limits) {
  std::int64_t freed = 0;
  if (limits.max_age.count() <= 0) return 0;
  while (!history_.empty() && now_ms - history_.front()->ts_ms > limits.max_age.count()) {
    freed += static_cast<std::int64_t>(cost_of(history_.front()));
    bytes_ -= cost_of(history_.front());
    history_.pop_front();
  }
  return freed;
}

history_slice topic_log::since(std::uint64_t since, std::size_t limit, const std::string& epoch, std::int64_t now_ms,
                               const history_limits& limits) const {
  history_slice out;
  out.epoch = epoch_;
  out.offset = last_offset();
  if (!epoch.empty() && epoch != epoch_) {
    out.recovered = false;
    out.epoch_changed = true;
    since = 0;  // offsets of another epoch mean nothing here: offer what we have
  }
  // The oldest offset still available (expired entries count as gone).
  std::uint64_t first_kept = next_offset_;
  for (const auto& f : history_) {
    if (limits.max_age.count() > 0 && now_ms - f->ts_ms > limits.max_age.count()) continue;
    first_kept = std::min(first_kept, f->offset);
    if (f->offset > since && out.messages.size() < limit) out.messages.push_back(f);
  }
  if (since + 1 < first_kept && since < last_offset()) out.recovered = false;
  // A `since` beyond last_offset() (same epoch) is the caller's to refuse:
  // it is a client error, not a lost history.
  return out;
}

}  // namespace herald::hub
