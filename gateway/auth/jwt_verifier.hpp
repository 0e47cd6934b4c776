#pragma once
// jwt_verifier: checks a JSON Web Token (compact JWS) and returns its claims.
// HS256 with the secret of --token-hmac-secret; RS256 (RSA, 2048 bits or
// more) or ES256 (EC P-256) with the PEM public key of --token-public-key.
// Signatures are verified by libjwt on OpenSSL; claims are read here.
//
// What verify() checks, in this order, stopping at the first failure:
//  1. the form: three base64url parts, the first two JSON objects
//     (malformed; also a token over 8 KiB);
//  2. the header's "alg" against the configured keys: "none", any other
//     algorithm, and an algorithm whose key is not configured are refused
//     before any signature work (bad_algorithm). So an HS256 token "signed"
//     with the public key's PEM text (algorithm confusion) never reaches a
//     verifier, and a key is only ever used with its own algorithm;
//  3. the signature (bad_signature);
//  4. the claims: "exp" is required and must be after `now` (expired); "nbf"
//     and "iat" must not be ahead of `now` by more than `leeway_s`
//     (not_yet_valid); "aud" must name the configured audience, and a token
//     naming an audience is refused when none is configured (RFC 7519
//     4.1.3); "iss" must be the configured issuer when one is; "sub" must be
//     a user id for a connection token and a string for a subscription
//     token, which must also carry a non-empty "channel"; "channels", when
//     present, a list of valid topic names (bad_claims).
//
// Errors are values (jwt_result::error); nothing throws. The token is never
// logged or kept.
//
// Thread contract: immutable after construction; verify() is const and may
// run on every shard at once.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/failure.hpp"

namespace herald::auth {

struct jwt_claims {
  std::string sub;                    // the user ("" allowed in a subscription token: an anonymous connection)
  std::int64_t exp = 0;               // Unix seconds
  std::vector<std::string> channels;  // connection token: topics it subscribes to and grants
  std::string channel;                // subscription token: the topic it grants
};

struct jwt_result {
  std::optional<jwt_claims> claims;
  failure error = failure::none;
  explicit operator bool() const { return claims.has_value(); }
};

enum class token_kind { connection, subscription };

class jwt_verifier {
 public:
  struct settings {
    std::string hmac_secret;     // HS256; empty: HS256 tokens are refused
    std::string public_key_pem;  // RS256 or ES256 by the key's type; empty: both refused
    std::string audience;        // empty: tokens with an "aud" are refused
    std::string issuer;          // empty: "iss" not checked
    std::int64_t leeway_s = 5;   // clock skew allowed for "nbf" and "iat" (not for "exp")
  };

  // Checks the settings: at least one key; the PEM must be an RSA key of at
  // least 2048 bits or an EC P-256 public key. On failure returns nothing
  // and says why in `error`.
  static std::optional<jwt_verifier> create(settings s, std::string& error);

  // Verifies `token` at `now_unix` (seconds since the epoch).
  jwt_result verify(std::string_view token, std::int64_t now_unix, token_kind kind = token_kind::connection) const;

  // Whether `token` has the shape of a JWT (two dots), without checking it:
  // tells a JWT from a --auth-tokens token.
  static bool looks_like_jwt(std::string_view token);

 private:
  enum class key_type { none, rsa, ec_p256 };
  jwt_verifier(settings s, key_type type) : settings_(std::move(s)), key_type_(type) {}
  failure check_claims(const std::string& payload_json, std::int64_t now, token_kind kind, jwt_claims& out) const;

  settings settings_;
  key_type key_type_;
};

}  // namespace herald::auth
