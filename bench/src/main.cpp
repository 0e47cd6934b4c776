// herald-bench: one binary that is both the coordinator (what the user starts) and
// its worker processes (started by the coordinator with --worker-slice).
#include <csignal>
#include <exception>
#include <iostream>

#include "coordinator.hpp"
#include "options.hpp"
#include "worker.hpp"

int main(int argc, char** argv) {
  // A worker that died must not take the coordinator down through a pipe write.
  std::signal(SIGPIPE, SIG_IGN);
  const auto parsed = herald_bench::parse_options(argc, argv);
  if (!parsed.value) {
    (parsed.help ? std::cout : std::cerr) << parsed.message << (parsed.help ? "" : "\n");
    return parsed.help ? 0 : 1;
  }
  try {
    if (parsed.value->slice) return herald_bench::worker(*parsed.value).run();
    return herald_bench::coordinator(*parsed.value).run();
  } catch (const std::exception& e) {
    std::cerr << "herald-bench: " << e.what() << "\n";
    return 1;
  }
}
