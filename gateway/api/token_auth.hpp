#pragma once
// token_auth: who a client is, and what it may subscribe to.
//
// A token names a user in one of three ways, tried in this order:
//  - a line "token userId" of --auth-tokens FILE (no expiry, no grants);
//  - a JWT (--token-hmac-secret for HS256, --token-public-key for RS256 or
//    ES256; see auth::jwt_verifier): "sub" is the user, "exp" when it stops
//    being valid, "channels" topics it subscribes to and grants;
//  - with neither configured, the token itself (identity mapping: the node
//    is open, and main() says so at start).
// With a file or JWT keys configured, any other token is refused.
//
// Subscriptions follow auth::channel_policy (--subscribe-allow, private "$"
// topics, user-limited "#user" topics); a subscription token is a JWT with
// "sub", "channel" and "exp", verified with the same keys.
//
// Errors are values: a failure (metric label: auth::to_string) and, for the
// transports, an error code ("unauthorized", "forbidden") with its HTTP
// status. No token ever appears in a reason.
//
// Thread contract: immutable after construction; shared by all shards.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/channel_policy.hpp"
#include "auth/failure.hpp"
#include "auth/jwt_verifier.hpp"

namespace herald::config {
struct options;
}

namespace herald::api {

// Who a token names.
struct identity {
  std::string user;
  std::optional<std::int64_t> expires;  // Unix seconds (JWTs); none: never
  std::vector<std::string> channels;    // granted by the token ("channels")
};

struct identity_result {
  std::optional<identity> who;
  auth::failure error = auth::failure::none;
  explicit operator bool() const { return who.has_value(); }
};

// A refusal or an admission, in the words every transport uses.
struct decision {
  std::string_view code;  // empty: allowed; else proto::errc::unauthorized or ::forbidden
  std::string reason;     // for humans; never holds a token
  auth::failure failure = auth::failure::none;  // why, when unauthorized (for herald_auth_failures_total)
  // Allowed only by a subscription token: its exp (Unix seconds), after
  // which the subscription must end unless a fresh token renews it.
  std::optional<std::int64_t> grant_expires;
  bool ok() const { return code.empty(); }
  // 200 when allowed, 401 unauthorized, 403 forbidden.
  unsigned http_status() const;
};

// What /poll and /sse need to know before they hold a request (see authorize()).
struct authorization : decision {
  std::string user;                     // empty: no token (anonymous)
  std::optional<std::int64_t> expires;  // the token's exp, or the subscription token's when sooner (Unix seconds); none: never
};

class token_auth {
 public:
  // Identity mapping, every topic open: every token is accepted as its own user id.
  token_auth() = default;

  // Loads "token userId" lines ('#' starts a comment). Returns an error
  // message instead when the file cannot be read or a line is malformed.
  static std::optional<token_auth> from_file(const std::string& path, std::string& error);

  // Everything the options say: --auth-tokens, --token-hmac-secret,
  // --token-public-key (read here), --token-audience, --token-issuer,
  // --subscribe-allow. An unreadable file or an unusable key is an error.
  static std::optional<token_auth> from_options(const config::options& o, std::string& error);

  // The user for `token`, or nothing when refused. Kept for callers that
  // need no expiry or grants; same rules as authenticate() at this moment.
  std::optional<std::string> user_of(std::string_view token) const;

  // Who `token` names at `now_unix`, or why it is refused.
  identity_result authenticate(std::string_view token, std::int64_t now_unix) const;

  // Whether a connection of `user` (empty: anonymous) holding `channels`
  // may subscribe to `topic`, with `subscription_token` (empty: none).
  // A bad subscription token is unauthorized; a topic the rules refuse is
  // forbidden.
  decision may_subscribe(std::string_view user, std::span<const std::string> channels, std::string_view topic,
                         std::string_view subscription_token, std::int64_t now_unix) const;

  // One call for an HTTP subscriber (/poll, /sse): authenticates `token`
  // when given (nothing: anonymous), then, when `topic` is not empty,
  // checks the subscription as may_subscribe does.
  authorization authorize(std::optional<std::string_view> token, std::string_view topic,
                          std::string_view subscription_token, std::int64_t now_unix) const;

  // Identity mapping: no file and no JWT key; anyone is whoever they say.
  bool open() const { return identity_ && !jwt_; }
  bool verifies_jwt() const { return jwt_.has_value(); }

  // Seconds since the epoch now: the `now_unix` the callers pass.
  static std::int64_t now();

  // The steady-clock instant of the Unix time `exp` (a token's claim), to
  // the sub-second: counting from now() would truncate and fire up to a
  // second late. Far-future values (beyond a century) give max().
  static std::chrono::steady_clock::time_point steady_deadline(std::int64_t exp);

 private:
  bool identity_ = true;
  std::unordered_map<std::string, std::string> users_;
  std::optional<auth::jwt_verifier> jwt_;
  auth::channel_policy policy_;
};

}  // namespace herald::api
