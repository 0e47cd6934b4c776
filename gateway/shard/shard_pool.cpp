#include "shard/shard_pool.hpp"

namespace herald::shard {

namespace {
// Set by each shard's thread.
thread_local const shard_pool* this_pool = nullptr;
thread_local int this_shard = -1;
}  // namespace

int shard_pool::current_shard() const { return this_pool == this ? this_shard : -1; }

shard_pool::shard_pool(std::size_t shards) : ordered_pending_(new pending_count[shards]) {
  contexts_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) {
    // Concurrency hint 1: each io_context is driven by exactly one thread,
    // which spares Asio's scheduler some work. It keeps its locking (only the
    // BOOST_ASIO_CONCURRENCY_HINT_UNSAFE* hints drop it in Boost 1.81), and
    // must: other shards, the bus and the main thread post into it.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    ordered_.push_back(asio::make_strand(contexts_.back()->get_executor()));
  }
}

shard_pool::~shard_pool() {
  stop();
  join();
}

void shard_pool::run() {
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([this, c = contexts_[i].get(), i] {
      this_pool = this;
      this_shard = static_cast<int>(i);
      auto guard = asio::make_work_guard(*c);
      c->run();
    });
  }
}

void shard_pool::stop() {
  for (auto& ctx : contexts_) ctx->stop();
}

// The strands first: each one's state locks a mutex of its io_context's
// strand service when it goes (TSan caught the other order).
void shard_pool::destroy() {
  ordered_.clear();
  contexts_.clear();
}

void shard_pool::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace herald::shard
