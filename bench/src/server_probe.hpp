#pragma once
// What the harness learns about the server without asking it over the network:
// /proc/<pid>/stat CPU ticks and /proc/<pid>/status VmRSS, plus a parser for the
// Prometheus text the server exposes on GET /metrics.
//
// Every reader returns nullopt when the figure is unavailable (no pid, process gone,
// metric absent); callers report that as "unavailable", never as zero.
//
// Thread contract: pure functions (they only read /proc).
#include <cstdint>
#include <optional>
#include <string_view>
#include <sys/types.h>

namespace herald_bench {

// user + system CPU time of the whole process (all threads), in microseconds.
std::optional<std::uint64_t> read_process_cpu_us(pid_t pid);

// Resident set size in bytes.
std::optional<std::uint64_t> read_process_rss_bytes(pid_t pid);

// Sum of every sample of metric `name` over all label sets (or only those whose label
// text contains `label`, e.g. reason="slow_consumer"); nullopt if none is present.
std::optional<double> prometheus_sum(std::string_view exposition, std::string_view name,
                                     std::string_view label = {});

}  // namespace herald_bench
