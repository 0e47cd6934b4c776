#include "net/loop.hpp"

#include <array>
#include <atomic>
#include <new>
#include <mutex>
#include <vector>

#include "net/unexpected.hpp"

namespace herald::net {

namespace {

constexpr std::size_t granule = 16;
constexpr std::size_t classes = 128;  // up to 2 KiB
// Blocks are carved from slabs rather than malloc'd one by one: no
// allocator header per block, and a connection's blocks do not leave holes
// between the long-lived objects of others. Freed blocks go back to their
// class's free list and are reused. Slabs are never freed: a block may come
// back after its thread ended (an io_context destroyed after its shard's
// thread joined returns its pending operations' memory on the main thread),
// and a process keeps its peak of blocks anyway. They stay registered in
// one global list, so leak checkers see them as reachable.
constexpr std::size_t slab_bytes = 64 * 1024;

void* new_slab() {
  static std::mutex mutex;
  static auto* all = new std::vector<void*>();  // never destroyed, on purpose
  void* s = ::operator new(slab_bytes);
  std::lock_guard lock(mutex);
  all->push_back(s);
  return s;
}

struct free_frame {
  free_frame* next;
};

struct pool_state {
  std::array<free_frame*, classes> heads{};
  std::array<std::size_t, classes> counts{};
  char* cursor = nullptr;
  std::size_t left = 0;
  void* carve(std::size_t bytes) {
    if (left < bytes) {
      cursor = static_cast<char*>(new_slab());
      left = slab_bytes;  // the tail of the previous slab (< one block) is given up
    }
    void* p = cursor;
    cursor += bytes;
    left -= bytes;
    return p;
  }
};

thread_local pool_state pool;
std::atomic<std::size_t> exceptions_seen{0};

std::size_t class_of(std::size_t n) { return (n + granule - 1) / granule - 1; }

}  // namespace

void* frame_pool::allocate(std::size_t n) {
  const auto c = class_of(n);
  if (c >= classes) return ::operator new(n);
  if (auto* f = pool.heads[c]) {
    pool.heads[c] = f->next;
    --pool.counts[c];
    return f;
  }
  return pool.carve((c + 1) * granule);
}

void frame_pool::deallocate(void* p, std::size_t n) noexcept {
  const auto c = class_of(n);
  if (c >= classes) {
    ::operator delete(p);
    return;
  }
  auto* f = static_cast<free_frame*>(p);
  f->next = pool.heads[c];
  pool.heads[c] = f;
  ++pool.counts[c];
}

std::size_t frame_pool::cached() {
  std::size_t total = 0;
  for (auto n : pool.counts) total += n;
  return total;
}

void loop_unhandled(std::exception_ptr e) noexcept {
  exceptions_seen.fetch_add(1, std::memory_order_relaxed);
  log_unexpected{"connection loop"}(e);
}

std::size_t loop_exceptions_seen() { return exceptions_seen.load(std::memory_order_relaxed); }

}  // namespace herald::net
