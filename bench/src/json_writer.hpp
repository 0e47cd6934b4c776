#pragma once
// Minimal streaming JSON writer for result lines and reports.
//
// Commas and nesting are tracked for the caller; it does not validate that keys are
// only used inside objects. Non-finite doubles are written as null (JSON has no NaN).
//
// Thread contract: single owner.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald_bench {

class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view name);

  json_writer& value(std::string_view text);
  json_writer& value(const char* text) { return value(std::string_view{text}); }
  json_writer& value(const std::string& text) { return value(std::string_view{text}); }
  json_writer& value(double number);
  json_writer& value(std::int64_t number);
  json_writer& value(std::uint64_t number);
  json_writer& value(int number) { return value(std::int64_t{number}); }
  json_writer& value(unsigned number) { return value(std::uint64_t{number}); }
  json_writer& value(bool flag);
  json_writer& null();
  // Inserts an already-serialised JSON value verbatim.
  json_writer& raw(std::string_view json);

  template <typename T>
  json_writer& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  const std::string& str() const { return out_; }

 private:
  void before_value();

  std::string out_;
  std::vector<bool> first_in_scope_;
  bool after_key_ = false;
};

std::string json_escape(std::string_view text);

}  // namespace herald_bench
