#include "api/token_auth.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "config/options.hpp"
#include "proto/codec.hpp"

namespace herald::api {

namespace {

bool read_whole(const std::string& path, std::string& out, std::string& error) {
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(path, fs_error)) {
    error = "not a readable file: " + path;
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

decision unauthorized(auth::failure f) {
  return {proto::errc::unauthorized, std::string(auth::describe(f)), f, std::nullopt};
}

}  // namespace

unsigned decision::http_status() const {
  if (ok()) return 200;
  return code == proto::errc::unauthorized ? 401 : 403;
}

std::int64_t token_auth::now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::chrono::steady_clock::time_point token_auth::steady_deadline(std::int64_t exp) {
  using namespace std::chrono;
  constexpr std::int64_t century = 100LL * 365 * 24 * 3600;  // beyond it, never (and no overflow)
  const auto wall_now = system_clock::now();
  const std::int64_t now_s = duration_cast<seconds>(wall_now.time_since_epoch()).count();
  if (exp >= now_s + century) return steady_clock::time_point::max();
  if (exp <= now_s) return steady_clock::now();  // due (and no overflow for absurd values)
  const auto left = system_clock::time_point(seconds(exp)) - wall_now;
  return steady_clock::now() + duration_cast<steady_clock::duration>(left);
}

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

std::optional<token_auth> token_auth::from_options(const config::options& o, std::string& error) {
  token_auth auth;
  if (!o.auth_tokens_file.empty()) {
    auto loaded = from_file(o.auth_tokens_file, error);
    if (!loaded) return std::nullopt;
    auth = std::move(*loaded);
  }
  if (!o.token_hmac_secret.empty() || !o.token_public_key_file.empty()) {
    auth::jwt_verifier::settings s;
    s.hmac_secret = o.token_hmac_secret;
    s.audience = o.token_audience;
    s.issuer = o.token_issuer;
    if (!o.token_public_key_file.empty() && !read_whole(o.token_public_key_file, s.public_key_pem, error)) {
      error = "--token-public-key: " + error;
      return std::nullopt;
    }
    auto verifier = auth::jwt_verifier::create(std::move(s), error);
    if (!verifier) {
      if (!o.token_public_key_file.empty()) error = "--token-public-key " + o.token_public_key_file + ": " + error;
      return std::nullopt;
    }
    auth.jwt_ = std::move(*verifier);
  }
  auth.policy_ = auth::channel_policy(o.subscribe_allow);
  return auth;
}

std::optional<std::string> token_auth::user_of(std::string_view token) const {
  auto r = authenticate(token, now());
  if (!r) return std::nullopt;
  return std::move(r.who->user);
}

identity_result token_auth::authenticate(std::string_view token, std::int64_t now_unix) const {
  if (open()) return {identity{std::string(token), std::nullopt, {}}, auth::failure::none};
  if (!identity_) {
    auto it = users_.find(std::string(token));
    if (it != users_.end()) return {identity{it->second, std::nullopt, {}}, auth::failure::none};
  }
  if (!jwt_ || !auth::jwt_verifier::looks_like_jwt(token)) return {std::nullopt, auth::failure::unknown_token};
  auto r = jwt_->verify(token, now_unix, auth::token_kind::connection);
  if (!r) return {std::nullopt, r.error};
  return {identity{std::move(r.claims->sub), r.claims->exp, std::move(r.claims->channels)}, auth::failure::none};
}

decision token_auth::may_subscribe(std::string_view user, std::span<const std::string> channels,
                                   std::string_view topic, std::string_view subscription_token,
                                   std::int64_t now_unix) const {
  bool granted = false;
  std::int64_t grant_exp = 0;
  if (!subscription_token.empty()) {
    // Without keys nothing can vouch for a subscription token.
    if (!jwt_) return unauthorized(auth::failure::unknown_token);
    auto r = jwt_->verify(subscription_token, now_unix, auth::token_kind::subscription);
    if (!r) return unauthorized(r.error);
    if (r.claims->channel != topic) return unauthorized(auth::failure::wrong_channel);
    if (r.claims->sub != user) return unauthorized(auth::failure::wrong_user);
    granted = true;
    grant_exp = r.claims->exp;
  }
  auto v = policy_.may_subscribe({user, topic, channels, granted});
  if (v == auth::verdict::allowed) {
    decision d;
    // The token's exp binds the subscription only if it was needed.
    if (granted && policy_.may_subscribe({user, topic, channels, false}) != auth::verdict::allowed) {
      d.grant_expires = grant_exp;
    }
    return d;
  }
  return {proto::errc::forbidden, std::string(auth::describe(v)), auth::failure::none, std::nullopt};
}

authorization token_auth::authorize(std::optional<std::string_view> token, std::string_view topic,
                                    std::string_view subscription_token, std::int64_t now_unix) const {
  authorization out;
  identity who;
  if (token) {
    auto r = authenticate(*token, now_unix);
    if (!r) {
      static_cast<decision&>(out) = unauthorized(r.error);
      return out;
    }
    who = std::move(*r.who);
  }
  out.expires = who.expires;
  if (!topic.empty()) {
    auto d = may_subscribe(who.user, who.channels, topic, subscription_token, now_unix);
    if (!d.ok()) {
      static_cast<decision&>(out) = std::move(d);
      return out;
    }
    // A held request ends at whichever expires first.
    if (d.grant_expires && (!out.expires || *d.grant_expires < *out.expires)) out.expires = d.grant_expires;
  }
  out.user = std::move(who.user);
  return out;
}

}  // namespace herald::api
