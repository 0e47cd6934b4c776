#include "net/tls_files.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <openssl/x509.h>

namespace herald::test {

namespace {

void run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("failed: " + command);
}

}  // namespace

tls_files::tls_files() {
  char pattern[] = "/tmp/herald-tls-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
}

tls_files::~tls_files() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void tls_files::make(const std::string& name) {
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" + name +
      " -keyout " + key(name) + " -out " + cert(name));
}

void tls_files::make_encrypted_key(const std::string& name) {
  run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -aes256 -pass pass:secret -out " +
      key(name));
}

void tls_files::copy(const std::string& from, const std::string& to) const {
  std::filesystem::copy_file(path(from), path(to), std::filesystem::copy_options::overwrite_existing);
}

void tls_files::write(const std::string& file, const std::string& text) const {
  std::ofstream(path(file), std::ios::trunc) << text;
}

std::string common_name(const void* x509) {
  if (x509 == nullptr) return {};
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(static_cast<const X509*>(x509)), NID_commonName, cn, sizeof cn);
  return cn;
}

}  // namespace herald::test
