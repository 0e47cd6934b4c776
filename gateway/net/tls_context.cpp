#include "net/tls_context.hpp"

#include <stdexcept>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace herald::net {

namespace {

// Mozilla's "intermediate" TLS 1.2 list: forward secrecy and AEAD only.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's error queue as one line (and emptied), for a start-up or reload error.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

[[noreturn]] void fail(const std::string& what, const std::string& file) {
  throw std::runtime_error(what + " " + file + ": " + openssl_errors());
}

// An encrypted key would make OpenSSL prompt on the terminal for its
// passphrase, and a SIGHUP reload would then hang the main thread: refuse it.
int no_passphrase(char*, int, int, void*) { return 0; }

void apply_defaults(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // IGNORE_UNEXPECTED_EOF: clients (browsers) often close TCP without
  // close_notify; HTTP and WebSocket carry their own framing, so that is a
  // plain end of stream (eof) rather than a TLS error.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_cipher_list(ctx, tls12_ciphers);
  // RELEASE_BUFFERS: no record buffers while idle. PARTIAL_WRITE and
  // MOVING_WRITE_BUFFER: a write may return after one record (write_some
  // semantics) and be retried from a re-gathered copy (net::transport).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
}

}  // namespace

void ssl_free::operator()(ssl_st* s) const noexcept { SSL_free(s); }

tls_context::tls_context(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), ctx_(load(cert_file_, key_file_)) {}

std::shared_ptr<ssl_ctx_st> tls_context::load(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) fail("cannot create a TLS context for", cert_file);
  apply_defaults(ctx.get());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1) {
    fail("cannot load the certificate chain --tls-cert", cert_file);
  }
  // OpenSSL checks the key against the certificate as it loads it.
  const bool loaded = SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  if (!loaded && ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
    fail("the key --tls-key " + key_file + " does not match the certificate in --tls-cert", cert_file);
  }
  if (!loaded) fail("cannot load the private key --tls-key", key_file);
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    fail("the key --tls-key " + key_file + " does not match the certificate in --tls-cert", cert_file);
  }
  return ctx;
}

ssl_ptr tls_context::new_ssl() const {
  std::lock_guard lock(mutex_);
  return ssl_ptr(SSL_new(ctx_.get()));
}

std::optional<std::string> tls_context::reload() {
  try {
    auto fresh = load(cert_file_, key_file_);
    std::lock_guard lock(mutex_);
    ctx_ = std::move(fresh);  // the old SSL_CTX lives on in the connections made from it
    return std::nullopt;
  } catch (const std::runtime_error& e) {
    return std::string(e.what());
  }
}

std::string tls_context::describe() const {
  std::shared_ptr<SSL_CTX> ctx;
  {
    std::lock_guard lock(mutex_);
    ctx = ctx_;
  }
  X509* cert = SSL_CTX_get0_certificate(ctx.get());
  if (cert == nullptr) return {};
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  std::string out = subject;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr && ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    out += ", expires " + std::string(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  return out;
}

}  // namespace herald::net
