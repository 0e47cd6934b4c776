#pragma once
// held_request: an HTTP request the node keeps open (a waiting long-poll,
// an SSE stream). The shard keeps a table of them so that a drain can
// release every one: a long-poll answers with what it has, a stream ends.
//
// Thread contract: shard-local.
#include <cstdint>

namespace herald::net {

class held_request {
 public:
  virtual void release() = 0;
  std::uint32_t held_index = 0;  // position in shard_context's table

 protected:
  ~held_request() = default;
};

}  // namespace herald::net
