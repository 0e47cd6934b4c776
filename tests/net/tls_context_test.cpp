// Unit tests for net::tls_context: --tls-cert / --tls-key loading and the
// SIGHUP reload, with certificates made by the openssl command at test time.
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>

#include <openssl/ssl.h>

#include "net/tls_context.hpp"
#include "net/tls_files.hpp"

using herald::net::tls_context;
using herald::test::common_name;
using herald::test::tls_files;

namespace {

// The CN of the certificate a new connection from `ctx` presents.
std::string served_name(const tls_context& ctx) {
  auto ssl = ctx.new_ssl();
  return ssl ? common_name(SSL_get_certificate(ssl.get())) : std::string();
}

// The message of the exception `make` throws, or "" when it throws none.
template <class F>
std::string refusal_of(F make) {
  try {
    make();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

struct two_certificates {
  tls_files files;
  two_certificates() {
    files.make("alpha");
    files.make("beta");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tls_context_files, two_certificates)

BOOST_AUTO_TEST_CASE(a_certificate_and_its_key_load_and_new_connections_present_it) {
  tls_context ctx(files.cert("alpha"), files.key("alpha"));
  BOOST_TEST(served_name(ctx) == "alpha");
  BOOST_TEST(ctx.describe().find("alpha") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_key_that_does_not_match_the_certificate_is_refused_with_a_reason) {
  const auto why = refusal_of([&] { tls_context(files.cert("alpha"), files.key("beta")); });
  BOOST_TEST(why.find("does not match") != std::string::npos, why);
  BOOST_TEST(why.find(files.cert("alpha")) != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(a_missing_or_non_pem_file_is_refused_naming_it) {
  const auto missing = refusal_of([&] { tls_context(files.path("none.crt"), files.key("alpha")); });
  BOOST_TEST(missing.find(files.path("none.crt")) != std::string::npos, missing);
  files.write("junk.key", "not a key\n");
  const auto junk = refusal_of([&] { tls_context(files.cert("alpha"), files.path("junk.key")); });
  BOOST_TEST(junk.find("--tls-key " + files.path("junk.key")) != std::string::npos, junk);
}

BOOST_AUTO_TEST_CASE(an_encrypted_key_is_refused_instead_of_asking_for_its_passphrase) {
  files.make_encrypted_key("locked");
  const auto why = refusal_of([&] { tls_context(files.cert("alpha"), files.key("locked")); });
  BOOST_TEST(!why.empty());
}

BOOST_AUTO_TEST_CASE(a_reload_serves_the_new_certificate_to_new_connections_only) {
  files.copy("alpha.crt", "live.crt");
  files.copy("alpha.key", "live.key");
  tls_context ctx(files.path("live.crt"), files.path("live.key"));
  auto open = ctx.new_ssl();
  files.copy("beta.crt", "live.crt");
  files.copy("beta.key", "live.key");
  BOOST_TEST(served_name(ctx) == "alpha");  // nothing changes before the reload
  BOOST_TEST(!ctx.reload().has_value());
  BOOST_TEST(served_name(ctx) == "beta");
  BOOST_TEST(common_name(SSL_get_certificate(open.get())) == "alpha");  // the open one keeps its own
}

BOOST_AUTO_TEST_CASE(a_reload_that_fails_keeps_the_certificate_in_use) {
  files.copy("alpha.crt", "live.crt");
  files.copy("alpha.key", "live.key");
  tls_context ctx(files.path("live.crt"), files.path("live.key"));
  files.write("live.crt", "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
  const auto broken = ctx.reload();
  BOOST_TEST(broken.has_value());
  BOOST_TEST(served_name(ctx) == "alpha");
  files.copy("beta.crt", "live.crt");  // a key of another certificate: refused as well
  BOOST_TEST(ctx.reload().value_or("").find("does not match") != std::string::npos);
  BOOST_TEST(served_name(ctx) == "alpha");
}

BOOST_AUTO_TEST_SUITE_END()
