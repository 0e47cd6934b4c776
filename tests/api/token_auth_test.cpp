// Unit tests for api::token_auth: the identity default, the tokens file, JWTs
// beside them, subscription decisions and authorize() for /poll and /sse.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include <unistd.h>

#include "api/token_auth.hpp"
#include "auth/jwt_keys.hpp"
#include "config/options.hpp"

using herald::api::token_auth;
namespace hauth = herald::auth;
namespace ht = herald::test;

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

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";

// A token_auth from options (HS256 with `secret`, the file when given).
token_auth with_jwt(herald::config::options o = {}) {
  o.token_hmac_secret = secret;
  std::string error;
  auto auth = token_auth::from_options(o, error);
  BOOST_TEST_REQUIRE(auth.has_value(), "error: " << error);
  return std::move(*auth);
}

std::string connection_token(const std::string& sub, const std::string& extra = {}) {
  return ht::sign("HS256", secret,
                  R"({"sub":")" + sub + R"(","exp":)" + std::to_string(ht::unix_now() + 60) +
                      (extra.empty() ? "" : "," + extra) + "}");
}

std::string subscription_token(const std::string& sub, const std::string& channel, std::int64_t exp_in = 60) {
  return ht::sign("HS256", secret,
                  R"({"sub":")" + sub + R"(","channel":")" + channel + R"(","exp":)" +
                      std::to_string(ht::unix_now() + exp_in) + "}");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(token_auth_with_jwts)

BOOST_AUTO_TEST_CASE(with_a_jwt_key_plain_tokens_are_no_longer_user_ids) {
  auto auth = with_jwt();
  BOOST_TEST(!auth.open());
  BOOST_TEST(!auth.user_of("alice").has_value());
  auto r = auth.authenticate("alice", ht::unix_now());
  BOOST_TEST((r.error == hauth::failure::unknown_token));
  BOOST_TEST(user(auth, connection_token("alice")) == "alice");
}

BOOST_AUTO_TEST_CASE(a_tokens_file_and_jwts_work_side_by_side) {
  temp_file f("t-bob bob\n");
  herald::config::options o;
  o.auth_tokens_file = f.path();
  auto auth = with_jwt(o);
  BOOST_TEST(user(auth, "t-bob") == "bob");
  BOOST_TEST(user(auth, connection_token("alice")) == "alice");
  BOOST_TEST(user(auth, "t-mallory") == "<none>");
}

BOOST_AUTO_TEST_CASE(authenticate_returns_the_expiry_and_the_granted_channels) {
  auto auth = with_jwt();
  auto r = auth.authenticate(connection_token("alice", R"("channels":["$ops","news"])"), ht::unix_now());
  BOOST_TEST_REQUIRE(bool(r));
  BOOST_TEST(r.who->expires.has_value());
  BOOST_TEST(r.who->channels == (std::vector<std::string>{"$ops", "news"}));
}

BOOST_AUTO_TEST_CASE(without_file_or_keys_the_node_is_open) {
  std::string error;
  auto auth = token_auth::from_options({}, error);
  BOOST_TEST_REQUIRE(auth.has_value());
  BOOST_TEST(auth->open());
  BOOST_TEST(user(*auth, "anyone") == "anyone");
}

BOOST_AUTO_TEST_CASE(an_unreadable_public_key_file_is_an_error_naming_the_flag) {
  herald::config::options o;
  o.token_public_key_file = "/nonexistent-herald-dir/key.pem";
  std::string error;
  BOOST_TEST(!token_auth::from_options(o, error).has_value());
  BOOST_TEST(error.find("--token-public-key") != std::string::npos, "error: " << error);
}

BOOST_AUTO_TEST_CASE(a_private_topic_is_allowed_with_a_subscription_token_for_this_user_and_topic_only) {
  auto auth = with_jwt();
  const auto now = ht::unix_now();
  const std::vector<std::string> no_channels;
  BOOST_TEST(auth.may_subscribe("alice", no_channels, "$ops", {}, now).code == "forbidden");
  BOOST_TEST(auth.may_subscribe("alice", no_channels, "$ops", subscription_token("alice", "$ops"), now).ok());
  auto other_topic = auth.may_subscribe("alice", no_channels, "$ops", subscription_token("alice", "$dev"), now);
  BOOST_TEST(other_topic.code == "unauthorized");
  BOOST_TEST((other_topic.failure == hauth::failure::wrong_channel));
  auto other_user = auth.may_subscribe("alice", no_channels, "$ops", subscription_token("bob", "$ops"), now);
  BOOST_TEST((other_user.failure == hauth::failure::wrong_user));
  auto expired = auth.may_subscribe("alice", no_channels, "$ops", subscription_token("alice", "$ops", -5), now);
  BOOST_TEST((expired.failure == hauth::failure::expired));
  BOOST_TEST(expired.http_status() == 401u);
  const std::vector<std::string> granted = {"$ops"};
  BOOST_TEST(auth.may_subscribe("alice", granted, "$ops", {}, now).ok());
}

BOOST_AUTO_TEST_CASE(a_subscription_that_only_its_subscription_token_allows_expires_with_that_token) {
  auto auth = with_jwt();
  const auto now = ht::unix_now();
  const std::vector<std::string> no_channels;
  auto by_token = auth.may_subscribe("alice", no_channels, "$ops", subscription_token("alice", "$ops", 30), now);
  BOOST_TEST_REQUIRE(by_token.ok());
  BOOST_TEST_REQUIRE(by_token.grant_expires.has_value());
  BOOST_TEST((*by_token.grant_expires - now == 30 || *by_token.grant_expires - now == 31));  // minted a second later, maybe
  // A public topic needs no token: one given does not bind the subscription.
  auto public_topic = auth.may_subscribe("alice", no_channels, "news", subscription_token("alice", "news", 30), now);
  BOOST_TEST(public_topic.ok());
  BOOST_TEST(!public_topic.grant_expires.has_value());
  // Granted by the connection token's channels: its own expiry applies instead.
  const std::vector<std::string> granted = {"$ops"};
  auto by_channels = auth.may_subscribe("alice", granted, "$ops", subscription_token("alice", "$ops", 30), now);
  BOOST_TEST(!by_channels.grant_expires.has_value());
  // A held request ends at whichever token expires first.
  auto held = auth.authorize(connection_token("alice"), "$ops", subscription_token("alice", "$ops", 20), now);
  BOOST_TEST_REQUIRE(held.expires.has_value());
  BOOST_TEST((*held.expires - now == 20 || *held.expires - now == 21));  // the 60 s connection token's is later
}

BOOST_AUTO_TEST_CASE(subscribe_allow_patterns_from_the_options_refuse_other_topics_as_forbidden) {
  herald::config::options o;
  o.subscribe_allow = {"room:*"};
  auto auth = with_jwt(o);
  const std::vector<std::string> none;
  const auto now = ht::unix_now();
  BOOST_TEST(auth.may_subscribe("alice", none, "room:1", {}, now).ok());
  auto d = auth.may_subscribe("alice", none, "admin", {}, now);
  BOOST_TEST(d.code == "forbidden");
  BOOST_TEST(d.http_status() == 403u);
  BOOST_TEST(!auth.may_subscribe("bob", none, "room:x#alice", {}, now).ok());
}

BOOST_AUTO_TEST_CASE(authorize_answers_an_http_subscriber_in_one_call) {
  auto auth = with_jwt();
  const auto now = ht::unix_now();
  auto anonymous = auth.authorize(std::nullopt, "news", {}, now);
  BOOST_TEST(anonymous.ok());
  BOOST_TEST(anonymous.user.empty());
  auto alice = auth.authorize(connection_token("alice"), "notes#alice", {}, now);
  BOOST_TEST(alice.ok());
  BOOST_TEST(alice.user == "alice");
  auto bad = auth.authorize(std::string_view("not-a-jwt"), "news", {}, now);
  BOOST_TEST(bad.http_status() == 401u);
  BOOST_TEST((bad.failure == hauth::failure::unknown_token));
  BOOST_TEST(auth.authorize(connection_token("bob"), "notes#alice", {}, now).http_status() == 403u);
  BOOST_TEST(auth.authorize(std::nullopt, "$ops", {}, now).http_status() == 403u);
  BOOST_TEST(auth.authorize(std::nullopt, "$ops", subscription_token("", "$ops"), now).ok());
  auto granted = auth.authorize(connection_token("carol", R"("channels":["$ops"])"), "$ops", {}, now);
  BOOST_TEST(granted.ok());
  // No topic (a user long-poll): only the token is checked.
  BOOST_TEST(auth.authorize(connection_token("alice"), {}, {}, now).user == "alice");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(token_auth_deadlines)

// Both clocks advance together between the reads, so the deadline lies
// between the bounds taken before and after the call; counting whole
// seconds from now() would land up to a second past the upper one.
BOOST_AUTO_TEST_CASE(an_exp_becomes_a_steady_deadline_to_the_sub_second) {
  using namespace std::chrono;
  const auto wall_before = system_clock::now();
  const auto steady_before = steady_clock::now();
  const std::int64_t exp = token_auth::now() + 2;
  const auto deadline = token_auth::steady_deadline(exp);
  const auto steady_after = steady_clock::now();
  const auto wall_after = system_clock::now();
  const auto exp_wall = system_clock::time_point(seconds(exp));
  BOOST_TEST((deadline <= steady_after + duration_cast<steady_clock::duration>(exp_wall - wall_before)));
  BOOST_TEST((deadline >= steady_before + duration_cast<steady_clock::duration>(exp_wall - wall_after)));
}

BOOST_AUTO_TEST_CASE(an_exp_in_the_past_is_already_due_and_one_beyond_a_century_never) {
  const auto past = token_auth::steady_deadline(token_auth::now() - 10);
  const auto absurd = token_auth::steady_deadline(std::numeric_limits<std::int64_t>::min());
  const auto now = std::chrono::steady_clock::now();  // read after: both are due by now
  BOOST_TEST((past <= now));
  BOOST_TEST((absurd <= now));
  BOOST_TEST((token_auth::steady_deadline(std::numeric_limits<std::int64_t>::max()) ==
              std::chrono::steady_clock::time_point::max()));
}

BOOST_AUTO_TEST_SUITE_END()
