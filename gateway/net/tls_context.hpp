#pragma once
// tls_context: the node's TLS server settings and its certificate (--tls-cert,
// --tls-key), as one OpenSSL SSL_CTX that every shard makes its connections'
// SSL objects from.
//
// Defaults: TLS 1.2 at least; for 1.2 only ECDHE key exchange with AEAD
// ciphers, in the server's order of preference; TLS 1.3's default suites;
// no compression, no renegotiation; stateless session tickets, no
// server-side session cache (it would keep ~1 KiB per client for minutes).
// SSL_MODE_RELEASE_BUFFERS makes an idle connection give its ~34 KiB of
// record buffers back to the allocator (see net::transport).
//
// reload() (on SIGHUP) reads the same two files again into a new SSL_CTX and
// swaps it in: connections made from then on use the new certificate; an
// open connection keeps the SSL_CTX it was made from (its SSL object holds a
// reference), so nothing is dropped. A reload that fails keeps the old one.
//
// Thread contract: thread-safe. new_ssl() is called by every shard as it
// accepts, reload() by the main thread; the current SSL_CTX pointer is
// guarded by `mutex_` (SSL_new from one SSL_CTX on several threads is safe
// in OpenSSL).
#include <memory>
#include <mutex>
#include <optional>
#include <string>

struct ssl_st;
struct ssl_ctx_st;

namespace herald::net {

struct ssl_free {
  void operator()(ssl_st* s) const noexcept;
};
// One connection's TLS state (OpenSSL's SSL), owned.
using ssl_ptr = std::unique_ptr<ssl_st, ssl_free>;

class tls_context {
 public:
  // Loads the PEM certificate chain and private key. Throws
  // std::runtime_error naming the file and OpenSSL's reason when a file is
  // unreadable or not PEM, or when the key does not match the certificate.
  tls_context(std::string cert_file, std::string key_file);

  // A server-side SSL for one new connection, from the current SSL_CTX.
  // Null only when OpenSSL is out of memory.
  ssl_ptr new_ssl() const;

  // Reads both files again. Empty on success (the new certificate serves the
  // connections accepted from now on), else why it failed (the previous
  // certificate stays).
  std::optional<std::string> reload();

  // The subject and expiry of the certificate in use, for the log.
  std::string describe() const;

  const std::string& cert_file() const { return cert_file_; }

 private:
  static std::shared_ptr<ssl_ctx_st> load(const std::string& cert_file, const std::string& key_file);

  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mutex_;
  std::shared_ptr<ssl_ctx_st> ctx_;
};

}  // namespace herald::net
