// The auth file (issue 12): one 'ROLE NAME PUBLIC_KEY [QUEUE_PATTERN ...]' per line; a bad
// line fails the whole file naming the line.
#include "broker/auth/auth_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mandrill::broker::auth {
namespace {

using ::testing::HasSubstr;

// Two well-formed Z85 keys (40 characters of the Z85 alphabet).
constexpr char kKeyA[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
constexpr char kKeyB[] = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";

TEST(AuthFileTest, ParsesRolesNamesKeysAndPatterns) {
  const std::string text = std::string("# comment\n\n") + "publisher billing-pub " + kKeyA +
                           " billing.* audit\n" + "  admin ops " + kKeyB + "\n";
  auto t = ParseAuthText(text, "auth");
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(2u, t->by_key.size());
  const Principal& p = t->by_key.at(kKeyA);
  EXPECT_EQ(Role::kPublisher, p.role);
  EXPECT_EQ("billing-pub", p.name);
  EXPECT_EQ((std::vector<std::string>{"billing.*", "audit"}), p.patterns);
  ASSERT_NE(nullptr, t->FindName("ops"));
  EXPECT_TRUE(t->FindName("ops")->IsAdmin());
  EXPECT_EQ(nullptr, t->FindName("nobody"));
}

TEST(AuthFileTest, ABadLineIsAnErrorNamingTheLine) {
  const std::string good = std::string("worker w1 ") + kKeyA + "\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"root w2 " + std::string(kKeyB), "line 2: unknown role 'root'"},
      {"worker w2", "line 2: expected 'ROLE NAME PUBLIC_KEY"},
      {"worker w2 notakey", "line 2: 'notakey' is not a Z85 public key"},
      {"worker w1 " + std::string(kKeyB), "line 2: name 'w1' is listed twice"},
      {"worker w2 " + std::string(kKeyA), "already listed for 'w1'"},
      {"worker w2 " + std::string(kKeyB) + " bad/pattern", "line 2: queue pattern 'bad/pattern'"},
      {"worker bad/name " + std::string(kKeyB), "line 2: name 'bad/name'"},
  };
  for (const auto& [line, want] : cases) {
    auto t = ParseAuthText(good + line + "\n", "/etc/mandrill/auth");
    ASSERT_FALSE(t.ok()) << line;
    EXPECT_THAT(t.error().message, HasSubstr(want)) << line;
  }
}

TEST(AuthFileTest, AMissingFileIsAnError) {
  auto t = LoadAuthFile("/nonexistent/auth");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.error().message, HasSubstr("/nonexistent/auth"));
}

}  // namespace
}  // namespace mandrill::broker::auth
