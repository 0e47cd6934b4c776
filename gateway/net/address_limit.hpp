#pragma once
// address_limit: how many connections each client address holds open, for
// --max-connections-per-ip, across all shards.
//
// What counts is a lease: acquire() hands one out unless the address is at
// the limit; the lease gives its place back when it is destroyed (or
// reset), so whatever way a connection ends, its count goes with it. A
// WebSocket session holds its lease for its life; a waiting long-poll and an
// open SSE stream hold theirs while they are held (http_session acquires
// them; a plain HTTP request holds none). The address is the client's: the
// socket's peer, or the one a PROXY v2 header named. IPv4-mapped IPv6
// addresses count as their IPv4 address.
//
// Cost: one table entry per address with a lease out (none with the limit
// off); a lease is one pointer. The table is touched once when a connection
// opens and once when it closes, never per message.
//
// Thread contract: thread-safe (one table for the whole node, guarded by
// `mutex_`; a lease may be released on any thread). Leases must not outlive
// the table (the server destroys the shards, and with them every session,
// first).
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include <boost/asio/ip/address.hpp>

namespace herald::net {

class address_limit {
  struct slot;
  using entry = std::pair<const boost::asio::ip::address, slot>;

 public:
  class lease {
   public:
    lease() = default;
    lease(lease&& o) noexcept : entry_(std::exchange(o.entry_, nullptr)) {}
    lease& operator=(lease&& o) noexcept {
      if (this != &o) {
        reset();
        entry_ = std::exchange(o.entry_, nullptr);
      }
      return *this;
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { reset(); }
    // Gives the place back (nothing for an empty lease).
    void reset();
    // False for the lease of a node without the limit (nothing counted).
    bool counted() const { return entry_ != nullptr; }

   private:
    friend class address_limit;
    explicit lease(entry* e) : entry_(e) {}
    entry* entry_ = nullptr;
  };

  // `per_address`: the most leases one address may hold; 0 = no limit
  // (acquire() then counts nothing and always succeeds).
  explicit address_limit(std::size_t per_address) : max_(per_address) {}
  address_limit(const address_limit&) = delete;
  address_limit& operator=(const address_limit&) = delete;

  // A lease for one more connection from `a`, or nothing when `a` already
  // holds the limit.
  std::optional<lease> acquire(const boost::asio::ip::address& a);

  // Leases `a` holds now (tests, logs).
  std::size_t open_from(const boost::asio::ip::address& a) const;
  // Addresses holding at least one lease.
  std::size_t addresses() const;

 private:
  struct slot {
    address_limit* owner;
    std::uint32_t open;
  };
  void release(entry* e);

  const std::size_t max_;
  mutable std::mutex mutex_;
  // Node-based: an entry does not move when the table grows, so a lease can
  // point at it.
  std::unordered_map<boost::asio::ip::address, slot> open_;
};

}  // namespace herald::net
