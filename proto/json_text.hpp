#pragma once
// JSON text building helpers for server-to-client frames.
// Pure functions; thread-safe (no state).
#include <string>
#include <string_view>

namespace herald::proto {

// Appends `s` to `out` as a JSON string literal (with quotes), escaping
// control characters, quotes and backslashes. Bytes >= 0x80 are copied as
// they are: inputs reach us as validated UTF-8 (simdjson or Beast checked them).
void append_json_string(std::string& out, std::string_view s);

// Returns `s` as a JSON string literal.
std::string json_string(std::string_view s);

}  // namespace herald::proto
