#include "server_probe.hpp"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace herald_bench {
namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<std::uint64_t> read_process_cpu_us(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto text = slurp("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // The command name may contain spaces and parentheses: fields restart after the last ')'.
  const auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text->substr(close + 2));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  // After ')' come field 3 (state) ... field 14 utime, field 15 stime.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  const long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) return std::nullopt;
  return (utime + stime) * 1'000'000ULL / static_cast<std::uint64_t>(hz);
}

std::optional<std::uint64_t> read_process_rss_bytes(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto text = slurp("/proc/" + std::to_string(pid) + "/status");
  if (!text) return std::nullopt;
  const auto pos = text->find("VmRSS:");
  if (pos == std::string::npos) return std::nullopt;
  return std::strtoull(text->c_str() + pos + 6, nullptr, 10) * 1024ULL;  // kB
}

std::optional<double> prometheus_sum(std::string_view exposition, std::string_view name,
                                     std::string_view label) {
  std::optional<double> total;
  while (!exposition.empty()) {
    const auto eol = exposition.find('\n');
    auto line = exposition.substr(0, eol);
    exposition = eol == std::string_view::npos ? std::string_view{} : exposition.substr(eol + 1);
    if (line.empty() || line.front() == '#' || !line.starts_with(name)) continue;
    auto rest = line.substr(name.size());
    if (rest.empty() || (rest.front() != '{' && rest.front() != ' ')) continue;
    std::string_view labels;
    if (rest.front() == '{') {
      const auto close = rest.find('}');
      if (close == std::string_view::npos) continue;
      labels = rest.substr(0, close + 1);
      rest = rest.substr(close + 1);
    }
    if (!label.empty() && labels.find(label) == std::string_view::npos) continue;
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) continue;
    rest = rest.substr(start);
    const auto stop = rest.find(' ');  // an optional timestamp may follow
    const std::string number{rest.substr(0, stop)};
    char* end = nullptr;
    const double v = std::strtod(number.c_str(), &end);
    if (end == number.c_str()) continue;
    total = total.value_or(0) + v;
  }
  return total;
}

}  // namespace herald_bench
