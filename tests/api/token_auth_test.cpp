// Unit tests for api::token_auth: the identity default and the tokens file.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <unistd.h>

#include "api/token_auth.hpp"

using herald::api::token_auth;

namespace {

// A file under the temp directory holding `content`, removed on scope exit.
class temp_file {
 public:
  explicit temp_file(const std::string& content) {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("herald_tokens_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".txt"))
                .string();
    std::ofstream out(path_, std::ios::binary);
    out << content;
  }
  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// user_of as a printable string: "<none>" for an unknown token.
std::string user(const token_auth& auth, std::string_view token) {
  return auth.user_of(token).value_or("<none>");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(token_auth_mapping)

BOOST_AUTO_TEST_CASE(by_default_every_token_is_its_own_user_id) {
  token_auth auth;
  BOOST_TEST(user(auth, "alice") == "alice");
  BOOST_TEST(user(auth, "tok with spaces") == "tok with spaces");
  BOOST_TEST(user(auth, "élève") == "élève");
}

BOOST_AUTO_TEST_CASE(a_tokens_file_maps_tokens_to_users_skipping_comments_and_blank_lines) {
  temp_file f(
      "# tokens for the staging node\n"
      "\n"
      "t-alice alice\n"
      "   \n"
      "  t-bob    bob   # trailing comment\n"
      "\tt-carol\tcarol\n"
      "#t-dave dave\n"
      "t-erin erin");  // no final newline
  std::string error;
  auto auth = token_auth::from_file(f.path(), error);
  BOOST_TEST_REQUIRE(auth.has_value(), "error: " << error);
  BOOST_TEST(user(*auth, "t-alice") == "alice");
  BOOST_TEST(user(*auth, "t-bob") == "bob");
  BOOST_TEST(user(*auth, "t-carol") == "carol");
  BOOST_TEST(user(*auth, "t-erin") == "erin");
  BOOST_TEST(user(*auth, "t-dave") == "<none>");
  BOOST_TEST(user(*auth, "#t-dave") == "<none>");
}

BOOST_AUTO_TEST_CASE(with_a_tokens_file_an_unknown_token_is_refused) {
  temp_file f("t-alice alice\n");
  std::string error;
  auto auth = token_auth::from_file(f.path(), error);
  BOOST_TEST_REQUIRE(auth.has_value(), "error: " << error);
  BOOST_TEST(!auth->user_of("t-mallory").has_value());
  BOOST_TEST(!auth->user_of("alice").has_value());  // a user id is not a token
  BOOST_TEST(!auth->user_of("").has_value());
  BOOST_TEST(!auth->user_of("t-alice ").has_value());
}

BOOST_AUTO_TEST_CASE(a_tokens_file_with_only_comments_refuses_every_token) {
  temp_file f("# nobody yet\n\n");
  std::string error;
  auto auth = token_auth::from_file(f.path(), error);
  BOOST_TEST_REQUIRE(auth.has_value(), "error: " << error);
  BOOST_TEST(!auth->user_of("anything").has_value());
}

BOOST_AUTO_TEST_CASE(a_tokens_file_with_crlf_line_ends_yields_clean_user_ids) {
  temp_file f("t-alice alice\r\nt-bob bob # comment\r\n");
  std::string error;
  auto auth = token_auth::from_file(f.path(), error);
  BOOST_TEST_REQUIRE(auth.has_value(), "error: " << error);
  BOOST_TEST(user(*auth, "t-alice") == "alice");
  BOOST_TEST(user(*auth, "t-bob") == "bob");
}

BOOST_AUTO_TEST_CASE(a_line_with_a_token_but_no_user_is_an_error_naming_its_line) {
  temp_file f("# header\nt-alice alice\nt-lonely\nt-bob bob\n");
  std::string error;
  auto auth = token_auth::from_file(f.path(), error);
  BOOST_TEST(!auth.has_value());
  BOOST_TEST(error == f.path() + ":3: expected 'token userId'");
}

BOOST_AUTO_TEST_CASE(a_line_with_three_fields_is_an_error_naming_its_line) {
  temp_file f("t-alice alice\n\n\n\nt-bob bob extra\n");
  std::string error;
  auto auth = token_auth::from_file(f.path(), error);
  BOOST_TEST(!auth.has_value());
  BOOST_TEST(error.find(":5:") != std::string::npos, "error: " << error);
  BOOST_TEST(error.find(f.path()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_error_naming_the_path) {
  const std::string path = "/nonexistent-herald-dir/tokens.txt";
  std::string error;
  auto auth = token_auth::from_file(path, error);
  BOOST_TEST(!auth.has_value());
  BOOST_TEST(!error.empty());
  BOOST_TEST(error.find(path) != std::string::npos, "error: " << error);
}

// A directory opens as a stream on Linux but yields no lines; loading it must
// not silently produce a tokens table that refuses everyone.
BOOST_AUTO_TEST_CASE(a_directory_given_as_the_tokens_file_is_an_error) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  std::string error;
  auto auth = token_auth::from_file(dir, error);
  BOOST_TEST(!auth.has_value());
  BOOST_TEST(!error.empty());
}

BOOST_AUTO_TEST_SUITE_END()
