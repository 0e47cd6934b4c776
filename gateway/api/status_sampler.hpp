#pragma once
// status_sampler: feeds metrics::status_history, the last minute behind the
// /status page. Once a second it copies every shard's few figures (open
// WebSockets, held requests, deliveries, drops) by posting to each shard, as
// a scrape does, and adds them as one sample.
//
// Runs only when the status page is enabled (--status-page or --push-key).
//
// Thread contract: the coroutine runs on the executor it is spawned on (a
// shard's); it reads shard state only on the owning shards, through
// shard_pool::map_reduce. It ends when the pool stops (its frame goes with
// the io_context).
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace herald::metrics {
class status_history;
}
namespace herald::shard {
class shard_pool;
struct shard_state;
}  // namespace herald::shard

namespace herald::api {

boost::asio::awaitable<void> sample_status(shard::shard_pool& pool,
                                           std::vector<std::unique_ptr<shard::shard_state>>& states,
                                           metrics::status_history& history);

}  // namespace herald::api
