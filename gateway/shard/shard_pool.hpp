#pragma once
// shard_pool: N io_contexts, one thread each. Every connection lives on
// exactly one shard (chosen by its id) and all of its state is touched only by
// that shard's thread, so the delivery path needs no locks: work that concerns
// another shard's data is posted there ("move the operation to the data").
//
// Thread contract: the pool object is immutable after construction except for
// run()/stop()/join(), which the owner calls from one thread. post_to() and
// map() are thread-safe.
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace herald::shard {

namespace asio = boost::asio;

class shard_pool {
 public:
  explicit shard_pool(std::size_t shards);
  ~shard_pool();
  shard_pool(const shard_pool&) = delete;
  shard_pool& operator=(const shard_pool&) = delete;

  std::size_t size() const { return contexts_.size(); }
  asio::io_context& context(std::size_t shard) { return *contexts_[shard]; }
  asio::io_context::executor_type executor(std::size_t shard) { return contexts_[shard]->get_executor(); }
  std::size_t shard_of(std::uint64_t connection_id) const { return connection_id % contexts_.size(); }

  // Starts one thread per shard; each runs its io_context until stop().
  void run();
  // Makes every io_context return from run(), abandoning queued work.
  void stop();
  void join();
  // Destroys the io_contexts, and with them every handler and coroutine
  // frame still queued. Only after join(), and after every io object that
  // lives outside those frames (timers, acceptors) is gone.
  void destroy();

  template <class F>
  void post_to(std::size_t shard, F&& f) {
    asio::post(*contexts_[shard], std::forward<F>(f));
  }

  // Like post_to, but in one order for all callers: the order of the calls,
  // whichever threads make them (a per-shard strand). A plain post from a
  // shard's own thread waits in a thread-private queue until the running
  // handler returns, so a post another thread makes meanwhile overtakes it;
  // what is sequenced under a mutex (sequenced_under) must not be.
  // Counts what it has queued for the shard until it ran (ordered_pending_),
  // so sequenced_under can tell when nothing ordered waits there.
  template <class F>
  void post_ordered(std::size_t shard, F&& f) {
    ordered_pending_[shard].n.fetch_add(1, std::memory_order_relaxed);
    asio::post(ordered_[shard], [this, shard, f = std::forward<F>(f)]() mutable {
      f();
      ordered_pending_[shard].n.fetch_sub(1, std::memory_order_relaxed);
    });
  }

  // The shard of this pool whose thread calls, or -1 on any other thread
  // (another pool's too: a test process runs several nodes).
  int current_shard() const;

  // Like post_to, but runs `f` at once when called on that shard's thread.
  template <class F>
  void dispatch_to(std::size_t shard, F&& f) {
    asio::dispatch(*contexts_[shard], std::forward<F>(f));
  }

  // Runs f(shard_index) on every shard, folds the results with
  // `reduce(acc, result)` in shard order, and completes with the total on the
  // caller's executor. `f` runs concurrently on different threads, so it must
  // only read what it captured.
  //
  // Deliberately not a coroutine: g++ 12 destroys a non-trivial by-value
  // coroutine argument twice when the call sits inside a co_await
  // expression, so callables are taken by an ordinary function that returns
  // the awaitable.
  template <class R, class F, class Reduce>
  asio::awaitable<R> map_reduce(F f, R init, Reduce reduce);

  // Runs `prepare()` on shard `owner`, which returns a targeted<P>; then,
  // posting from that shard, `each(i, value)` on every shard in `shards`;
  // completes on the caller's executor with `start(value)` folded by
  // `reduce` over those shards' results.
  // Posts from one thread reach each io_context in order, so everything one
  // owner sequences (a topic's offsets) is seen in that order everywhere.
  // `token` is use_awaitable by default; the bus's receive path passes a
  // handler bound to the owner's executor instead, so a publication from
  // another node costs no coroutine frame.
  template <class R, class Prepare, class Start, class Each, class Reduce,
            class Token = decltype(asio::use_awaitable)>
  auto sequenced(std::size_t owner, Prepare prepare, Start start, Each each, Reduce reduce, Token token = {});

  // Like sequenced, but `prepare()` runs on the calling thread under
  // `guard` (the mutex of what it touches), which also covers the posts of
  // `each`: they leave in the guard's order, so every shard sees that order,
  // as it sees an owner's (post_ordered). The caller's own shard runs its
  // `each` inline, after the guard is released, when nothing ordered is
  // queued for it (a frame another thread prepared earlier would be, and
  // must come first); else it is posted to like the others. Inline is still
  // in order: whatever is posted to this shard after the guard is released
  // runs after the caller returns to its loop.
  // It saves the hop to the owner and back: a push nobody here listens to
  // completes with no other thread woken, one to receivers on other shards
  // wakes only those (issue 8's profile: ~20 % of /push was these hops).
  // When the caller's shard finishes it (no target, or the inline run was
  // the last), the caller is resumed at once rather than posted behind the
  // other connections' work: measured +7 % /push req/s at --threads 1.
  template <class R, class Prepare, class Start, class Each, class Reduce>
  asio::awaitable<R> sequenced_under(std::mutex& guard, Prepare prepare, Start start, Each each, Reduce reduce);

  // Runs `f()` on shard `owner` and completes with its result.
  template <class R, class F>
  asio::awaitable<R> run_on(std::size_t owner, F f);

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::thread> threads_;
  std::vector<asio::strand<asio::io_context::executor_type>> ordered_;  // one per shard, for post_ordered
  // Per shard: posted by post_ordered, not yet run. A line each: a shard's
  // thread counts its own down while others count theirs.
  struct alignas(64) pending_count {
    std::atomic<std::size_t> n{0};
  };
  std::unique_ptr<pending_count[]> ordered_pending_;
};

// What a sequenced fan-out's prepare step returns: the value to fan out and
// the shards to send it to (bit i: shard i).
template <class P>
struct targeted {
  P value;
  std::uint64_t shards;
};

template <class R, class F, class Reduce>
asio::awaitable<R> shard_pool::map_reduce(F f, R init, Reduce reduce) {
  using result_t = decltype(f(std::size_t{}));
  auto initiate = [this, f = std::move(f), init = std::move(init), reduce = std::move(reduce)](auto handler) mutable {
    using handler_t = decltype(handler);
    struct state {
      state(F fn_, R init_, Reduce red_, std::size_t n, handler_t h)
          : fn(std::move(fn_)), acc(std::move(init_)), red(std::move(red_)), results(n), left(n),
            handler(std::move(h)) {}
      F fn;
      R acc;
      Reduce red;
      std::vector<result_t> results;
      std::atomic<std::size_t> left;
      handler_t handler;
    };
    auto st = std::make_shared<state>(std::move(f), std::move(init), std::move(reduce), size(), std::move(handler));
    for (std::size_t i = 0; i < size(); ++i) {
      post_to(i, [st, i] {
        st->results[i] = st->fn(i);
        if (st->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        // The last shard folds and resumes the caller on its own executor.
        for (auto& r : st->results) st->red(st->acc, std::move(r));
        auto ex = asio::get_associated_executor(st->handler);
        asio::post(ex, [st]() mutable { std::move(st->handler)(std::move(st->acc)); });
      });
    }
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(std::move(initiate), asio::use_awaitable);
}

namespace detail {

// The shared state of one sequenced fan-out (see shard_pool::sequenced).
// `results` has a slot per shard; only the targeted ones are filled.
template <class R, class P, class Each, class Reduce, class Result, class Handler>
struct sequenced_state {
  sequenced_state(P p, R a, Each e, Reduce r, std::size_t n, std::uint64_t targets, Handler h)
      : prepared(std::move(p)), acc(std::move(a)), each(std::move(e)), red(std::move(r)), results(n),
        left(static_cast<std::size_t>(std::popcount(targets))), targets(targets), handler(std::move(h)) {}
  P prepared;
  R acc;
  Each each;
  Reduce red;
  std::vector<Result> results;
  std::atomic<std::size_t> left;
  std::uint64_t targets;
  Handler handler;

  // Runs `prepare()` and builds the state for its targets (possibly none:
  // the caller then finishes it).
  template <class Prepare, class Start>
  static std::shared_ptr<sequenced_state> begin(Prepare& prepare, Start& start, Each each, Reduce red,
                                                std::size_t shards, Handler h) {
    auto [value, targets] = prepare();
    R init = start(value);
    return std::make_shared<sequenced_state>(std::move(value), std::move(init), std::move(each), std::move(red),
                                             shards, targets, std::move(h));
  }

  // How the caller is resumed: `posted` to its executor, or `at_once` when
  // this thread is its executor's and the initiation has nothing left to do
  // (every post of the fan-out made, no lock held): the caller's frames are
  // then freed before the next connection's request is read, instead of
  // 64 requests' frames waiting behind each other in the queue (and out of
  // glibc's 7-deep per-thread cache).
  enum class resume { posted, at_once };

  // Runs `each` for shard `i`; the last of the targets finishes.
  static void run(const std::shared_ptr<sequenced_state>& st, std::size_t i, std::size_t shards,
                  resume how = resume::posted) {
    st->results[i] = st->each(i, st->prepared);
    if (st->left.fetch_sub(1, std::memory_order_acq_rel) == 1) finish(st, shards, how);
  }

  // Folds the targeted results and resumes the caller on its executor; the
  // completion keeps the state alive until it has run.
  static void finish(std::shared_ptr<sequenced_state> st, std::size_t shards, resume how = resume::posted) {
    for (std::size_t i = 0; i < shards; ++i) {
      if (st->targets & (std::uint64_t{1} << i)) st->red(st->acc, std::move(st->results[i]));
    }
    auto ex = asio::get_associated_executor(st->handler);
    auto done = [st]() mutable { std::move(st->handler)(std::move(st->acc)); };
    if (how == resume::at_once) {
      asio::dispatch(ex, std::move(done));
    } else {
      asio::post(ex, std::move(done));
    }
  }
};

}  // namespace detail

template <class R, class Prepare, class Start, class Each, class Reduce, class Token>
auto shard_pool::sequenced(std::size_t owner, Prepare prepare, Start start, Each each, Reduce reduce, Token token) {
  using prepared_t = decltype(std::invoke_result_t<Prepare&>::value);
  using result_t = std::invoke_result_t<Each&, std::size_t, const prepared_t&>;
  auto initiate = [this, owner, prepare = std::move(prepare), start = std::move(start), each = std::move(each),
                   reduce = std::move(reduce)](auto handler) mutable {
    using state_t = detail::sequenced_state<R, prepared_t, Each, Reduce, result_t, decltype(handler)>;
    // dispatch: a publication whose owner is the caller's own shard is
    // prepared right away; the owner delivers to itself inline too, and
    // posts to the others, so each shard still sees the owner's order.
    dispatch_to(owner, [this, owner, prepare = std::move(prepare), start = std::move(start), each = std::move(each),
                        reduce = std::move(reduce), handler = std::move(handler)]() mutable {
      const std::size_t n = size();
      auto st = state_t::begin(prepare, start, std::move(each), std::move(reduce), n, std::move(handler));
      if (st->targets == 0) return state_t::finish(std::move(st), n);
      for (std::size_t i = 0; i < n; ++i) {
        if (!(st->targets & (std::uint64_t{1} << i))) continue;
        if (i == owner) {
          state_t::run(st, i, n);
        } else {
          post_to(i, [st, i, n] { state_t::run(st, i, n); });
        }
      }
    });
  };
  return asio::async_initiate<Token, void(R)>(std::move(initiate), token);
}

template <class R, class Prepare, class Start, class Each, class Reduce>
asio::awaitable<R> shard_pool::sequenced_under(std::mutex& guard, Prepare prepare, Start start, Each each,
                                               Reduce reduce) {
  using prepared_t = decltype(std::invoke_result_t<Prepare&>::value);
  using result_t = std::invoke_result_t<Each&, std::size_t, const prepared_t&>;
  auto initiate = [this, &guard, prepare = std::move(prepare), start = std::move(start), each = std::move(each),
                   reduce = std::move(reduce)](auto handler) mutable {
    using state_t = detail::sequenced_state<R, prepared_t, Each, Reduce, result_t, decltype(handler)>;
    const std::size_t n = size();
    const int here = current_shard();
    std::unique_lock lock(guard);
    auto st = state_t::begin(prepare, start, std::move(each), std::move(reduce), n, std::move(handler));
    bool run_here = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!(st->targets & (std::uint64_t{1} << i))) continue;
      if (static_cast<int>(i) == here && ordered_pending_[i].n.load(std::memory_order_relaxed) == 0) {
        run_here = true;
      } else {
        post_ordered(i, [st, i, n] { state_t::run(st, i, n); });
      }
    }
    lock.unlock();
    // The last step of the initiation, touching nothing of it after: a
    // caller resumed at once may free it (its frame holds this lambda).
    if (st->targets == 0) return state_t::finish(std::move(st), n, state_t::resume::at_once);
    if (run_here) state_t::run(st, static_cast<std::size_t>(here), n, state_t::resume::at_once);
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(std::move(initiate), asio::use_awaitable);
}

template <class R, class F>
asio::awaitable<R> shard_pool::run_on(std::size_t owner, F f) {
  auto initiate = [this, owner, f = std::move(f)](auto handler) mutable {
    post_to(owner, [f = std::move(f), handler = std::move(handler)]() mutable {
      R result = f();
      auto ex = asio::get_associated_executor(handler);
      asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
      });
    });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(std::move(initiate), asio::use_awaitable);
}

}  // namespace herald::shard
