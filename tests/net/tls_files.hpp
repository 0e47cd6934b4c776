#pragma once
// Test helper: self-signed certificates and keys made at test time with the
// `openssl` command (Debian's openssl package), in a temporary directory
// that is removed with the object. EC P-256 keys: quick to make.
#include <string>

namespace herald::test {

class tls_files {
 public:
  tls_files();  // throws std::runtime_error when openssl cannot make them
  ~tls_files();
  tls_files(const tls_files&) = delete;
  tls_files& operator=(const tls_files&) = delete;

  // A new certificate (CN=`name`) and key, as `name`.crt and `name`.key.
  void make(const std::string& name);
  // A key encrypted with a passphrase, as `name`.key.
  void make_encrypted_key(const std::string& name);
  std::string cert(const std::string& name) const { return dir_ + "/" + name + ".crt"; }
  std::string key(const std::string& name) const { return dir_ + "/" + name + ".key"; }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  // Copies file `from` over file `to` (both in the directory).
  void copy(const std::string& from, const std::string& to) const;
  void write(const std::string& file, const std::string& text) const;

 private:
  std::string dir_;
};

// The CN of the certificate an SSL object (or SSL_CTX) would present.
std::string common_name(const void* x509);

}  // namespace herald::test
