#pragma once
// Test helpers: keys made with OpenSSL and tokens signed with libjwt, so the
// verifier is checked against tokens it did not make itself. Keys are made
// once per test run (RSA generation takes a while).
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::test {

struct key_pair {
  std::string private_pem;
  std::string public_pem;
};

const key_pair& rsa_keys();    // RSA 2048
const key_pair& rsa_keys_b();  // another RSA 2048, for "signed by someone else"
const key_pair& ec_keys();     // EC P-256
const key_pair& ec_p384_keys();

// A compact JWS of `claims_json` signed with `alg` ("HS256", "RS256",
// "ES256", ...) and `key` (an HMAC secret or a private key PEM).
std::string sign(std::string_view alg, std::string_view key, const std::string& claims_json);
// An unsigned token: header {"alg":"none","typ":"JWT"}, empty signature.
std::string unsigned_token(const std::string& claims_json);
std::string base64url(std::string_view bytes);

std::int64_t unix_now();

}  // namespace herald::test
