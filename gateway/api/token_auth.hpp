#pragma once
// token_auth: maps a client token to a user id (the wserver AuthToken hook).
// Default: the token is the user id. With a tokens file, unknown tokens are
// refused.
//
// Thread contract: immutable after construction; shared by all shards.
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace herald::api {

class token_auth {
 public:
  // Identity mapping: every token is accepted as its own user id.
  token_auth() = default;

  // Loads "token userId" lines ('#' starts a comment). Returns an error
  // message instead when the file cannot be read or a line is malformed.
  static std::optional<token_auth> from_file(const std::string& path, std::string& error);

  // The user for `token`, or nothing when the token is unknown.
  std::optional<std::string> user_of(std::string_view token) const;

 private:
  bool identity_ = true;
  std::unordered_map<std::string, std::string> users_;
};

}  // namespace herald::api
