#include "auth/failure.hpp"

namespace herald::auth {

std::string_view to_string(failure f) {
  switch (f) {
    case failure::none: return "none";
    case failure::unknown_token: return "unknown_token";
    case failure::malformed: return "malformed";
    case failure::bad_algorithm: return "bad_algorithm";
    case failure::bad_signature: return "bad_signature";
    case failure::expired: return "expired";
    case failure::not_yet_valid: return "not_yet_valid";
    case failure::bad_audience: return "bad_audience";
    case failure::bad_issuer: return "bad_issuer";
    case failure::bad_claims: return "bad_claims";
    case failure::wrong_channel: return "wrong_channel";
    case failure::wrong_user: return "wrong_user";
  }
  return "unknown";
}

std::string_view describe(failure f) {
  switch (f) {
    case failure::none: return "accepted";
    case failure::unknown_token: return "unknown token";
    case failure::malformed: return "malformed token";
    case failure::bad_algorithm: return "token algorithm not accepted";
    case failure::bad_signature: return "token signature does not verify";
    case failure::expired: return "token expired";
    case failure::not_yet_valid: return "token not valid yet (nbf or iat in the future)";
    case failure::bad_audience: return "token audience not accepted";
    case failure::bad_issuer: return "token issuer not accepted";
    case failure::bad_claims: return "token claims missing or mistyped (sub, exp, channels)";
    case failure::wrong_channel: return "subscription token is for another topic";
    case failure::wrong_user: return "subscription token is for another user";
  }
  return "refused";
}

}  // namespace herald::auth
