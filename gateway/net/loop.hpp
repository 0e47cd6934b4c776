#pragma once
// loop: the coroutine type of a connection's loops (a WebSocket's reader and
// writer), lean enough that the design card's shape — each connection runs
// co_await read and write loops — costs next to nothing per idle connection.
//
// Why not asio::awaitable: a parked awaitable keeps co_spawn's entry frame
// (~470 B), its own frame and use_awaitable's per-operation frame alive;
// measured here at +1.8 to +2.2 KiB per idle connection. A loop instead:
//  - starts running at once when called and owns itself: its frame is freed
//    when the body returns (no spawn, no handle to keep, no result);
//  - takes its frame from a per-thread pool of size classes, so starting a
//    writer per burst of deliveries is a free-list pop, not a malloc;
//  - awaits Asio operations through `io()`, whose completion handler holds
//    only the awaiter's address and the coroutine handle (16 bytes): Asio's
//    per-operation memory stays in its small-block recycling cache.
// Errors of the operations are values (`auto [ec, n] = co_await io(...)`);
// closing the socket completes pending operations with operation_aborted,
// which is how a loop is cancelled. An exception that escapes a loop body is
// caught at one boundary, the promise's unhandled_exception, which logs it;
// the body's locals (scope guards included) are destroyed on the way out.
//
// Thread contract: a loop runs on the thread that resumes it, its shard's;
// frames go back to the pool of the thread that took them, which holds
// because a connection never leaves its shard.
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <utility>

#include <boost/system/error_code.hpp>

namespace herald::net {

// Per-thread free lists of coroutine frames and of the Asio operations loops
// start (and of outbound queues' storage), in 16-byte size classes up to
// 2 KiB carved from 64 KiB slabs (larger blocks go to the global
// allocator). A thread keeps what it freed, for its next connections: the
// pool is as large as the shard's peak of blocks in use. Exact classes matter: Asio's own recycling cache hands
// a small operation whatever larger block was freed last, so a parked 100 B
// wait could hold an 800 B block for as long as the connection idles.
class frame_pool {
 public:
  static void* allocate(std::size_t n);
  static void deallocate(void* p, std::size_t n) noexcept;
  // Frames currently cached by this thread (for tests and metrics).
  static std::size_t cached();
};

// What escapes a loop body ends here (logged with util::log); tests may
// watch it.
void loop_unhandled(std::exception_ptr e) noexcept;
std::size_t loop_exceptions_seen();

// The associated allocator of a loop's completion handlers: Asio (and Beast's
// composed operations) allocate operation state through it, from the pool.
template <class T>
struct pool_allocator {
  using value_type = T;
  pool_allocator() noexcept = default;
  template <class U>
  pool_allocator(const pool_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(frame_pool::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { frame_pool::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const pool_allocator<U>&) const noexcept { return true; }
};

struct loop {
  struct promise_type {
    static void* operator new(std::size_t n) { return frame_pool::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_pool::deallocate(p, n); }
    loop get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { loop_unhandled(std::current_exception()); }
  };
};

struct io_result {
  boost::system::error_code ec;
  std::size_t bytes = 0;
};

// The completion handler of every operation a loop awaits: all it keeps of
// the loop is where to put the outcome and whom to resume (16 bytes).
struct io_handler {
  io_result* into;
  std::coroutine_handle<> h;
  using allocator_type = pool_allocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }
  void operator()(boost::system::error_code ec, std::size_t n = 0) {
    *into = {ec, n};
    h.resume();
  }
};

// co_await io(result, [&](auto handler) { stream.async_x(..., std::move(handler)); })
// starts the operation and resumes the loop once it completed, its outcome
// in `result`. A loop keeps one io_result for all its operations, so each
// suspension point costs its frame only a pointer and the lambda's captures.
template <class Initiate>
class io_awaiter {
 public:
  io_awaiter(io_result& into, Initiate init) : into_(&into), init_(std::move(init)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { init_(io_handler{into_, h}); }
  void await_resume() const noexcept {}

 private:
  io_result* into_;
  Initiate init_;
};

template <class Initiate>
io_awaiter<Initiate> io(io_result& into, Initiate init) {
  return io_awaiter<Initiate>(into, std::move(init));
}

// co_await callback<T>([&](auto done) { api.fetch(..., std::move(done)); })
// starts work that reports once through a callback taking a T (our own
// asynchronous services, e.g. api::delivery::fetch_history) and resumes the
// loop with that T. `done` holds only the awaiter's address and the
// coroutine handle, so it fits std::function's inline storage. The callback
// must run on the loop's thread (the services take an executor to post back to).
template <class T, class Initiate>
class callback_awaiter {
 public:
  explicit callback_awaiter(Initiate init) : init_(std::move(init)) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    init_([this, h](T value) {
      out_.emplace(std::move(value));
      h.resume();
    });
  }
  T await_resume() { return std::move(*out_); }

 private:
  Initiate init_;
  std::optional<T> out_;
};

template <class T, class Initiate>
callback_awaiter<T, Initiate> callback(Initiate init) {
  return callback_awaiter<T, Initiate>(std::move(init));
}

}  // namespace herald::net
