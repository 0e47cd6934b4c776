#pragma once
// failure: why a token or a subscription was refused. The vocabulary shared
// by jwt_verifier, channel_policy and api::token_auth; its names are the
// `reason` label of herald_auth_failures_total and never carry the token.
//
// Thread contract: pure values and functions; thread-safe.
#include <cstdint>
#include <string_view>

namespace herald::auth {

enum class failure : std::uint8_t {
  none,
  unknown_token,   // not in --auth-tokens, and not a JWT although JWTs are configured
  malformed,       // not a compact JWS of base64url JSON
  bad_algorithm,   // "none", an unsupported algorithm, or one no configured key is for
  bad_signature,   // the signature does not verify with the configured key
  expired,         // "exp" is not after now
  not_yet_valid,   // "nbf" or "iat" is in the future
  bad_audience,    // "aud" does not name --token-audience (or names one none is configured for)
  bad_issuer,      // "iss" is not --token-issuer
  bad_claims,      // "sub" or "exp" missing or mistyped, "channels" not a list of topic names
  wrong_channel,   // a subscription token for another topic
  wrong_user,      // a subscription token for another user
};

// The metric label ("bad_signature").
std::string_view to_string(failure f);
// One sentence for the error frame or HTTP body ("the token's signature does not verify").
std::string_view describe(failure f);

}  // namespace herald::auth
