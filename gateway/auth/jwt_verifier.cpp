#include "auth/jwt_verifier.hpp"

#include <cmath>
#include <memory>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <simdjson.h>

#include "proto/names.hpp"

namespace herald::auth {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// Far above any real token (a few hundred bytes; a long channels list a few
// KiB), and a bound on the work an anonymous client can ask for.
constexpr std::size_t max_token_bytes = 8 * 1024;

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Unpadded base64url (RFC 7515 section 2); nothing for any other byte.
std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

struct parts {
  std::string_view header, payload, signature;
};

std::optional<parts> split(std::string_view token) {
  auto first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  return parts{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
}

// A JSON number as whole seconds (floats are truncated, as PyJWT and jose do).
std::optional<std::int64_t> seconds_of(element v) {
  std::int64_t i;
  if (v.get(i) == simdjson::SUCCESS) return i;
  double d;
  if (v.get(d) == simdjson::SUCCESS && std::isfinite(d) && std::fabs(d) < 9e15) return static_cast<std::int64_t>(d);
  return std::nullopt;
}

// Reads a NumericDate claim: `present` false when absent; nothing when mistyped.
std::optional<std::int64_t> date_claim(object obj, std::string_view key, bool& present) {
  element v;
  present = obj[key].get(v) == simdjson::SUCCESS;
  if (!present) return 0;
  return seconds_of(v);
}

bool audience_matches(element aud, std::string_view wanted) {
  std::string_view s;
  if (aud.get(s) == simdjson::SUCCESS) return s == wanted;
  simdjson::dom::array list;
  if (aud.get(list) != simdjson::SUCCESS) return false;
  for (element e : list) {
    if (e.get(s) == simdjson::SUCCESS && s == wanted) return true;
  }
  return false;
}

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct jwt_free_t {
  void operator()(jwt_t* j) const { jwt_free(j); }
};

}  // namespace

bool jwt_verifier::looks_like_jwt(std::string_view token) { return split(token).has_value(); }

std::optional<jwt_verifier> jwt_verifier::create(settings s, std::string& error) {
  if (s.hmac_secret.empty() && s.public_key_pem.empty()) {
    error = "no key: give --token-hmac-secret or --token-public-key";
    return std::nullopt;
  }
  key_type type = key_type::none;
  if (!s.public_key_pem.empty()) {
    std::unique_ptr<BIO, bio_free> bio(BIO_new_mem_buf(s.public_key_pem.data(), static_cast<int>(s.public_key_pem.size())));
    std::unique_ptr<EVP_PKEY, pkey_free> key(
        bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key) {
      error = "not a PEM public key (-----BEGIN PUBLIC KEY-----)";
      return std::nullopt;
    }
    const int id = EVP_PKEY_get_base_id(key.get());
    if (id == EVP_PKEY_RSA) {
      if (EVP_PKEY_get_bits(key.get()) < 2048) {
        error = "RSA public key under 2048 bits";
        return std::nullopt;
      }
      type = key_type::rsa;
    } else if (id == EVP_PKEY_EC) {
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_group_name(key.get(), group, sizeof group, &len) != 1 ||
          std::string_view(group, len) != "prime256v1") {
        error = "EC public key is not on P-256 (ES256)";
        return std::nullopt;
      }
      type = key_type::ec_p256;
    } else {
      error = "public key is neither RSA (RS256) nor EC P-256 (ES256)";
      return std::nullopt;
    }
  }
  return jwt_verifier(std::move(s), type);
}

jwt_result jwt_verifier::verify(std::string_view token, std::int64_t now_unix, token_kind kind) const {
  auto refuse = [](failure f) { return jwt_result{std::nullopt, f}; };
  if (token.size() > max_token_bytes) return refuse(failure::malformed);
  auto p = split(token);
  if (!p || p->header.empty() || p->payload.empty()) return refuse(failure::malformed);
  auto header = base64url_decode(p->header);
  auto payload = base64url_decode(p->payload);
  if (!header || !payload || !base64url_decode(p->signature)) return refuse(failure::malformed);

  simdjson::dom::parser parser;
  object head;
  if (parser.parse(*header).get(head) != simdjson::SUCCESS) return refuse(failure::malformed);
  std::string_view alg_text;
  if (head["alg"].get(alg_text) != simdjson::SUCCESS) return refuse(failure::malformed);
  const std::string alg(alg_text);  // the parser's buffer is reused for the payload below
  element crit;
  if (head["crit"].get(crit) == simdjson::SUCCESS) return refuse(failure::malformed);  // extensions we cannot honour
  object body;
  if (parser.parse(*payload).get(body) != simdjson::SUCCESS) return refuse(failure::malformed);

  // The algorithm picks the key, and each key serves exactly one algorithm.
  jwt_alg_t expected;
  const std::string* key;
  if (alg == "HS256" && !settings_.hmac_secret.empty()) {
    expected = JWT_ALG_HS256;
    key = &settings_.hmac_secret;
  } else if (alg == "RS256" && key_type_ == key_type::rsa) {
    expected = JWT_ALG_RS256;
    key = &settings_.public_key_pem;
  } else if (alg == "ES256" && key_type_ == key_type::ec_p256) {
    expected = JWT_ALG_ES256;
    key = &settings_.public_key_pem;
  } else {
    return refuse(failure::bad_algorithm);
  }
  if (p->signature.empty()) return refuse(failure::bad_signature);

  jwt_t* raw = nullptr;
  const std::string text(token);  // libjwt wants a C string
  const int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key->data()),
                            static_cast<int>(key->size()));
  std::unique_ptr<jwt_t, jwt_free_t> decoded(raw);
  if (rc != 0 || !decoded || jwt_get_alg(decoded.get()) != expected) return refuse(failure::bad_signature);

  // The payload bytes libjwt verified are the ones decoded above: read the
  // claims from them.
  jwt_claims claims;
  if (auto f = check_claims(*payload, now_unix, kind, claims); f != failure::none) return refuse(f);
  return jwt_result{std::move(claims), failure::none};
}

failure jwt_verifier::check_claims(const std::string& payload_json, std::int64_t now, token_kind kind,
                                   jwt_claims& out) const {
  simdjson::dom::parser parser;
  object obj;
  if (parser.parse(payload_json).get(obj) != simdjson::SUCCESS) return failure::malformed;

  bool present = false;
  auto exp = date_claim(obj, "exp", present);
  if (!present || !exp) return failure::bad_claims;
  if (*exp <= now) return failure::expired;
  for (const char* name : {"nbf", "iat"}) {
    auto t = date_claim(obj, name, present);
    if (!t) return failure::bad_claims;
    if (present && *t > now + settings_.leeway_s) return failure::not_yet_valid;
  }
  out.exp = *exp;

  element aud;
  if (obj["aud"].get(aud) == simdjson::SUCCESS) {
    if (settings_.audience.empty() || !audience_matches(aud, settings_.audience)) return failure::bad_audience;
  } else if (!settings_.audience.empty()) {
    return failure::bad_audience;
  }
  if (!settings_.issuer.empty()) {
    std::string_view iss;
    if (obj["iss"].get(iss) != simdjson::SUCCESS || iss != settings_.issuer) return failure::bad_issuer;
  }

  std::string_view sub;
  if (obj["sub"].get(sub) != simdjson::SUCCESS) return failure::bad_claims;
  if (kind == token_kind::connection && !proto::valid_name(sub)) return failure::bad_claims;
  out.sub.assign(sub);

  element channels;
  if (obj["channels"].get(channels) == simdjson::SUCCESS) {
    simdjson::dom::array list;
    if (channels.get(list) != simdjson::SUCCESS) return failure::bad_claims;
    for (element e : list) {
      std::string_view topic;
      if (e.get(topic) != simdjson::SUCCESS || !proto::valid_topic(topic)) return failure::bad_claims;
      out.channels.emplace_back(topic);
    }
  }
  if (kind == token_kind::subscription) {
    std::string_view channel;
    if (obj["channel"].get(channel) != simdjson::SUCCESS || channel.empty()) return failure::bad_claims;
    out.channel.assign(channel);
  }
  return failure::none;
}

}  // namespace herald::auth
