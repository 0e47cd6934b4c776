#include "api/token_auth.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace herald::api {

std::optional<token_auth> token_auth::from_file(const std::string& path, std::string& error) {
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(path, fs_error)) {
    error = "not a readable file: " + path;
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  token_auth auth;
  auth.identity_ = false;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string token, user, extra;
    if (!(fields >> token)) continue;
    if (!(fields >> user) || (fields >> extra)) {
      error = path + ":" + std::to_string(n) + ": expected 'token userId'";
      return std::nullopt;
    }
    auth.users_[token] = user;
  }
  return auth;
}

std::optional<std::string> token_auth::user_of(std::string_view token) const {
  if (identity_) return std::string(token);
  auto it = users_.find(std::string(token));
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

}  // namespace herald::api
