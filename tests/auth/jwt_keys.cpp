#include "auth/jwt_keys.hpp"

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace herald::test {

namespace {

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

key_pair pem_of(EVP_PKEY* key) {
  if (!key) throw std::runtime_error("key generation failed");
  key_pair out;
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  out.private_pem = bio_text(priv);
  out.public_pem = bio_text(pub);
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

jwt_alg_t alg_of(std::string_view alg) {
  if (alg == "HS256") return JWT_ALG_HS256;
  if (alg == "HS512") return JWT_ALG_HS512;
  if (alg == "RS256") return JWT_ALG_RS256;
  if (alg == "RS512") return JWT_ALG_RS512;
  if (alg == "ES256") return JWT_ALG_ES256;
  if (alg == "ES384") return JWT_ALG_ES384;
  throw std::invalid_argument("unknown alg");
}

}  // namespace

const key_pair& rsa_keys() {
  static const key_pair k = pem_of(EVP_RSA_gen(2048));
  return k;
}
const key_pair& rsa_keys_b() {
  static const key_pair k = pem_of(EVP_RSA_gen(2048));
  return k;
}
const key_pair& ec_keys() {
  static const key_pair k = pem_of(EVP_EC_gen("P-256"));
  return k;
}
const key_pair& ec_p384_keys() {
  static const key_pair k = pem_of(EVP_EC_gen("P-384"));
  return k;
}

std::string sign(std::string_view alg, std::string_view key, const std::string& claims_json) {
  jwt_t* j = nullptr;
  if (jwt_new(&j) != 0) throw std::runtime_error("jwt_new");
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> owned(j, jwt_free);
  if (jwt_add_grants_json(j, claims_json.c_str()) != 0) throw std::runtime_error("bad claims json");
  if (jwt_set_alg(j, alg_of(alg), reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size())) != 0) {
    throw std::runtime_error("jwt_set_alg");
  }
  char* text = jwt_encode_str(j);
  if (!text) throw std::runtime_error("jwt_encode_str");
  std::string out(text);
  std::free(text);
  return out;
}

std::string base64url(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::string unsigned_token(const std::string& claims_json) {
  return base64url(R"({"alg":"none","typ":"JWT"})") + "." + base64url(claims_json) + ".";
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace herald::test
