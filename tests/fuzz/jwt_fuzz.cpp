// Fuzz target: the JWT path (gateway/auth/jwt_verifier), what an anonymous
// client reaches with `token` or `?token=`. The verifier is set up with an
// HS256 secret and an ES256 public key, an audience and an issuer, so every
// check is live.
//
// Input: a mode byte, then
// - mode bit 0 clear: the token as a client sends it (form, algorithm,
//   signature checks; mutations almost never carry a valid signature);
// - mode bit 0 set: "<header JSON>\n<payload JSON>", which this target
//   encodes and signs with the HS256 secret, so the claim checks see
//   fuzzer-chosen JSON behind a valid signature.
// Mode bit 1 picks a subscription token instead of a connection token.
//
// Properties: a verdict is claims or a failure, never both; a failure is
// one with a name; "alg" other than HS256/ES256 (none included) never
// verifies; an accepted connection token's "exp" is after now.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/hmac.h>

#include "auth/jwt_keys.hpp"  // tests/: the unit tests' base64url
#include "auth/jwt_verifier.hpp"
#include "fuzz_check.hpp"

namespace auth = herald::auth;
using herald::test::base64url;

namespace {

constexpr std::string_view secret = "fuzz-secret-0123456789abcdef0123";
constexpr std::int64_t now = 1'800'000'000;

// A throwaway P-256 key made for this target; its private half was discarded.
constexpr std::string_view public_pem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5HgXFJaO5M1X+WG9JXCc6sn5s3gv\n"
    "ZSp8sAuPh/VNs0q7i1rDq+lH41W5fsiI4m4oUB5AEiZD3YWwxdoG9ezerw==\n"
    "-----END PUBLIC KEY-----\n";

std::string signed_token(std::string_view header, std::string_view payload) {
  std::string input = base64url(header) + "." + base64url(payload);
  unsigned char mac[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

const auth::jwt_verifier& verifier() {
  static const auth::jwt_verifier v = [] {
    std::string error;
    auto made = auth::jwt_verifier::create({std::string(secret), std::string(public_pem), "herald", "https://issuer", 5},
                                           error);
    if (!made) {
      std::fprintf(stderr, "jwt_fuzz: %s\n", error.c_str());
      std::abort();
    }
    return std::move(*made);
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string token;
  if (mode & 1) {
    const auto cut = rest.find('\n');
    token = signed_token(rest.substr(0, cut), cut == std::string_view::npos ? "" : rest.substr(cut + 1));
  } else {
    token.assign(rest);
  }
  const auto kind = (mode & 2) ? auth::token_kind::subscription : auth::token_kind::connection;
  const auto r = verifier().verify(token, now, kind);
  HERALD_FUZZ_CHECK(r.claims.has_value() == (r.error == auth::failure::none));
  if (!r) {
    HERALD_FUZZ_CHECK(!auth::to_string(r.error).empty() && !auth::describe(r.error).empty());
  } else {
    HERALD_FUZZ_CHECK(auth::jwt_verifier::looks_like_jwt(token));
    if (kind == auth::token_kind::connection) HERALD_FUZZ_CHECK(r.claims->exp > now);
  }
  return 0;
}
