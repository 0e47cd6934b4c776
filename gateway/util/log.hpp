#pragma once
// log: structured one-line logs in logfmt (`ts=... level=info msg=... k=v`).
//
// Thread contract: thread-safe; each line is written with one fwrite under a
// mutex, so lines from different shards never interleave. Logging is for
// rare events (start, stop, errors, debug traces), never per message.
// Never pass a token or a push key as a field.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace herald::util {

enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

void set_log_level(std::string_view level);
bool log_enabled(log_level level);

using log_field = std::pair<std::string_view, std::string>;
void log(log_level level, std::string_view msg, std::initializer_list<log_field> fields = {});

}  // namespace herald::util
