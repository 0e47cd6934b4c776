// Unit tests for auth::jwt_verifier: HS256, RS256 and ES256 tokens signed by
// libjwt with keys made by OpenSSL, and every way a token is refused.
#include <boost/test/unit_test.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "auth/jwt_keys.hpp"
#include "auth/jwt_verifier.hpp"

namespace herald::auth {
// Readable failures in test logs.
inline std::ostream& operator<<(std::ostream& os, failure f) { return os << to_string(f); }
}  // namespace herald::auth

using herald::auth::failure;
using herald::auth::jwt_verifier;
using herald::auth::token_kind;
namespace t = herald::test;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";
constexpr std::int64_t now = 1'800'000'000;

jwt_verifier::settings key_only(std::string pem) {
  jwt_verifier::settings s;
  s.public_key_pem = std::move(pem);
  return s;
}

jwt_verifier make(const std::string& hmac, const std::string& pem, std::string aud = {}, std::string iss = {}) {
  std::string error;
  jwt_verifier::settings s;
  s.hmac_secret = hmac;
  s.public_key_pem = pem;
  s.audience = std::move(aud);
  s.issuer = std::move(iss);
  auto v = jwt_verifier::create(std::move(s), error);
  BOOST_TEST_REQUIRE(v.has_value(), "create: " << error);
  return *v;
}

std::string claims(const std::string& extra = {}) {
  return R"({"sub":"alice","exp":)" + std::to_string(now + 60) + (extra.empty() ? "" : "," + extra) + "}";
}

failure error_of(const jwt_verifier& v, const std::string& token, token_kind kind = token_kind::connection) {
  return v.verify(token, now, kind).error;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(jwt_verifier_checks)

BOOST_AUTO_TEST_CASE(an_hs256_token_with_the_right_secret_names_its_subject_and_expiry) {
  auto v = make(secret, {});
  auto r = v.verify(t::sign("HS256", secret, claims()), now);
  BOOST_TEST_REQUIRE(bool(r), "failure " << herald::auth::to_string(r.error));
  BOOST_TEST(r.claims->sub == "alice");
  BOOST_TEST(r.claims->exp == now + 60);
  BOOST_TEST(r.claims->channels.empty());
}

BOOST_AUTO_TEST_CASE(an_rs256_token_verifies_with_the_rsa_public_key) {
  auto v = make({}, t::rsa_keys().public_pem);
  auto r = v.verify(t::sign("RS256", t::rsa_keys().private_pem, claims()), now);
  BOOST_TEST_REQUIRE(bool(r), "failure " << herald::auth::to_string(r.error));
  BOOST_TEST(r.claims->sub == "alice");
}

BOOST_AUTO_TEST_CASE(an_es256_token_verifies_with_the_p256_public_key) {
  auto v = make({}, t::ec_keys().public_pem);
  auto r = v.verify(t::sign("ES256", t::ec_keys().private_pem, claims()), now);
  BOOST_TEST_REQUIRE(bool(r), "failure " << herald::auth::to_string(r.error));
  BOOST_TEST(r.claims->sub == "alice");
}

BOOST_AUTO_TEST_CASE(with_both_a_secret_and_a_public_key_each_algorithm_uses_its_own_key) {
  auto v = make(secret, t::rsa_keys().public_pem);
  BOOST_TEST(bool(v.verify(t::sign("HS256", secret, claims()), now)));
  BOOST_TEST(bool(v.verify(t::sign("RS256", t::rsa_keys().private_pem, claims()), now)));
}

BOOST_AUTO_TEST_CASE(an_expired_token_is_refused_and_exp_equal_to_now_counts_as_expired) {
  auto v = make(secret, {});
  auto past = R"({"sub":"alice","exp":)" + std::to_string(now - 1) + "}";
  auto edge = R"({"sub":"alice","exp":)" + std::to_string(now) + "}";
  BOOST_TEST(error_of(v, t::sign("HS256", secret, past)) == failure::expired);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, edge)) == failure::expired);
}

BOOST_AUTO_TEST_CASE(a_token_without_exp_or_sub_is_refused_as_bad_claims) {
  auto v = make(secret, {});
  BOOST_TEST(error_of(v, t::sign("HS256", secret, R"({"sub":"alice"})")) == failure::bad_claims);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, R"({"exp":)" + std::to_string(now + 60) + "}")) ==
             failure::bad_claims);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, R"({"sub":"alice","exp":"tomorrow"})")) == failure::bad_claims);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, R"({"sub":42,"exp":)" + std::to_string(now + 60) + "}")) ==
             failure::bad_claims);
}

BOOST_AUTO_TEST_CASE(nbf_or_iat_in_the_future_is_not_yet_valid_beyond_the_leeway) {
  auto v = make(secret, {});
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims(R"("nbf":)" + std::to_string(now + 3600)))) ==
             failure::not_yet_valid);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims(R"("iat":)" + std::to_string(now + 3600)))) ==
             failure::not_yet_valid);
  // Within the 5 s leeway for clock skew, and in the past: accepted.
  BOOST_TEST(bool(v.verify(t::sign("HS256", secret, claims(R"("nbf":)" + std::to_string(now + 3))), now)));
  BOOST_TEST(bool(v.verify(t::sign("HS256", secret, claims(R"("iat":)" + std::to_string(now - 10))), now)));
}

BOOST_AUTO_TEST_CASE(a_token_signed_with_another_secret_or_key_has_a_bad_signature) {
  BOOST_TEST(error_of(make(secret, {}), t::sign("HS256", "another secret of enough length!!", claims())) ==
             failure::bad_signature);
  BOOST_TEST(error_of(make({}, t::rsa_keys().public_pem), t::sign("RS256", t::rsa_keys_b().private_pem, claims())) ==
             failure::bad_signature);
}

BOOST_AUTO_TEST_CASE(a_payload_changed_after_signing_has_a_bad_signature) {
  auto v = make(secret, {});
  auto token = t::sign("HS256", secret, claims());
  auto first = token.find('.'), second = token.find('.', first + 1);
  auto forged = token.substr(0, first + 1) + t::base64url(R"({"sub":"mallory","exp":)" + std::to_string(now + 60) + "}") +
                token.substr(second);
  BOOST_TEST(error_of(v, forged) == failure::bad_signature);
}

BOOST_AUTO_TEST_CASE(alg_none_is_refused_with_or_without_a_signature) {
  auto v = make(secret, t::rsa_keys().public_pem);
  BOOST_TEST(error_of(v, t::unsigned_token(claims())) == failure::bad_algorithm);
  BOOST_TEST(error_of(v, t::unsigned_token(claims()) + "c2ln") == failure::bad_algorithm);
}

BOOST_AUTO_TEST_CASE(an_hs256_token_keyed_with_the_public_key_text_is_refused_when_only_a_public_key_is_set) {
  // Algorithm confusion: the attacker knows the public key and uses its PEM as an HMAC secret.
  auto v = make({}, t::rsa_keys().public_pem);
  BOOST_TEST(error_of(v, t::sign("HS256", t::rsa_keys().public_pem, claims())) == failure::bad_algorithm);
  auto ec = make({}, t::ec_keys().public_pem);
  BOOST_TEST(error_of(ec, t::sign("HS256", t::ec_keys().public_pem, claims())) == failure::bad_algorithm);
}

BOOST_AUTO_TEST_CASE(an_algorithm_that_does_not_fit_the_key_is_refused) {
  // RS256 against an EC key, ES256 against an RSA key, and algorithms not accepted at all.
  BOOST_TEST(error_of(make({}, t::ec_keys().public_pem), t::sign("RS256", t::rsa_keys().private_pem, claims())) ==
             failure::bad_algorithm);
  BOOST_TEST(error_of(make({}, t::rsa_keys().public_pem), t::sign("ES256", t::ec_keys().private_pem, claims())) ==
             failure::bad_algorithm);
  BOOST_TEST(error_of(make(secret, {}), t::sign("HS512", secret, claims())) == failure::bad_algorithm);
  BOOST_TEST(error_of(make(secret, {}), t::sign("RS256", t::rsa_keys().private_pem, claims())) ==
             failure::bad_algorithm);
}

BOOST_AUTO_TEST_CASE(malformed_tokens_are_refused_as_malformed) {
  auto v = make(secret, {});
  const std::vector<std::string> tokens = {"", "alice", "a.b", "a.b.c.d", "...", "!!!.e30.", "e30.!!!.", "bm90IGpzb24.e30.",
                                          t::base64url(R"(["alg"])") + ".e30.", t::base64url(R"({"typ":"JWT"})") + ".e30.",
                                          std::string(9000, 'a') + ".e30."};
  for (const auto& bad : tokens) {
    BOOST_TEST_CONTEXT(bad.substr(0, 40)) { BOOST_TEST(error_of(v, bad) == failure::malformed); }
  }
}

BOOST_AUTO_TEST_CASE(a_configured_audience_must_be_named_and_an_unexpected_one_is_refused) {
  auto v = make(secret, {}, "herald");
  BOOST_TEST(bool(v.verify(t::sign("HS256", secret, claims(R"("aud":"herald")")), now)));
  BOOST_TEST(bool(v.verify(t::sign("HS256", secret, claims(R"("aud":["other","herald"])")), now)));
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims(R"("aud":"other")"))) == failure::bad_audience);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims())) == failure::bad_audience);
  // Without --token-audience a token meant for some audience is not for us (RFC 7519 4.1.3).
  BOOST_TEST(error_of(make(secret, {}), t::sign("HS256", secret, claims(R"("aud":"herald")"))) ==
             failure::bad_audience);
}

BOOST_AUTO_TEST_CASE(a_configured_issuer_must_match) {
  auto v = make(secret, {}, {}, "backend");
  BOOST_TEST(bool(v.verify(t::sign("HS256", secret, claims(R"("iss":"backend")")), now)));
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims(R"("iss":"mallory")"))) == failure::bad_issuer);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims())) == failure::bad_issuer);
}

BOOST_AUTO_TEST_CASE(the_channels_claim_lists_topics_and_a_bad_topic_name_refuses_the_token) {
  auto v = make(secret, {});
  auto r = v.verify(t::sign("HS256", secret, claims(R"("channels":["news","$private","notes#alice"])")), now);
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.claims->channels == (std::vector<std::string>{"news", "$private", "notes#alice"}));
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims(R"("channels":["a b"])"))) == failure::bad_claims);
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims(R"("channels":"news")"))) == failure::bad_claims);
}

BOOST_AUTO_TEST_CASE(a_subscription_token_needs_a_channel_and_may_be_for_an_anonymous_connection) {
  auto v = make(secret, {});
  auto exp = std::to_string(now + 60);
  auto r = v.verify(t::sign("HS256", secret, R"({"sub":"","channel":"$news","exp":)" + exp + "}"), now,
                    token_kind::subscription);
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.claims->channel == "$news");
  BOOST_TEST(r.claims->sub.empty());
  BOOST_TEST(error_of(v, t::sign("HS256", secret, claims()), token_kind::subscription) == failure::bad_claims);
}

BOOST_AUTO_TEST_CASE(unusable_keys_are_refused_at_creation_with_a_reason) {
  std::string error;
  BOOST_TEST(!jwt_verifier::create({}, error).has_value());
  BOOST_TEST(!error.empty());
  BOOST_TEST(!jwt_verifier::create(key_only("not a pem"), error).has_value());
  BOOST_TEST(!jwt_verifier::create(key_only(t::rsa_keys().private_pem), error).has_value());  // a private key is not a public one
  BOOST_TEST(!jwt_verifier::create(key_only(t::ec_p384_keys().public_pem), error).has_value());
  BOOST_TEST(error.find("P-256") != std::string::npos, "error: " << error);
}

BOOST_AUTO_TEST_CASE(looks_like_jwt_tells_a_jwt_shape_from_a_plain_token) {
  BOOST_TEST(jwt_verifier::looks_like_jwt("a.b.c"));
  BOOST_TEST(jwt_verifier::looks_like_jwt("a.b."));
  BOOST_TEST(!jwt_verifier::looks_like_jwt("t-alice"));
  BOOST_TEST(!jwt_verifier::looks_like_jwt("a.b"));
}

BOOST_AUTO_TEST_SUITE_END()
