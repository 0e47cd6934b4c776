#include "util/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace herald::util {

namespace {

std::atomic<int> g_level{static_cast<int>(log_level::info)};
std::mutex g_mutex;

const char* name_of(log_level l) {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "info";
}

// logfmt values are quoted when they hold spaces, quotes or '='.
void append_value(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=\t") != std::string_view::npos;
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n') ? ' ' : c;
  }
  out += '"';
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];  // room for any int the compiler imagines in each field
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

void set_log_level(std::string_view level) {
  log_level l = log_level::info;
  if (level == "debug") l = log_level::debug;
  if (level == "warn") l = log_level::warn;
  if (level == "error") l = log_level::error;
  g_level.store(static_cast<int>(l), std::memory_order_relaxed);
}

bool log_enabled(log_level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void log(log_level level, std::string_view msg, std::initializer_list<log_field> fields) {
  if (!log_enabled(level)) return;
  std::string line = "ts=" + timestamp() + " level=" + name_of(level) + " msg=";
  append_value(line, msg);
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    append_value(line, v);
  }
  line += '\n';
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace herald::util
