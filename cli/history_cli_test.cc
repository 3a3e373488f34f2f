#include "history_cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace picket::cli {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1738332309ll * 1000000;
const std::set<std::string> kAll = {"since", "until", "exe", "host", "verdict", "rule", "limit", "json", "db"};

TEST(HistoryOptions, EveryFilterInBothSpellings) {
  auto o = ParseHistoryOptions({"log", "--since", "2h", "--until=@1738332000", "--exe", "curl", "--host=example.org",
                                "--verdict", "deny", "--rule", "default", "--limit=7", "--json", "--db", "/tmp/h.db"},
                               kAll, kNow);
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->filter.window.since_us, kNow - 7200ll * 1000000);
  EXPECT_EQ(o->filter.window.until_us, 1738332000ll * 1000000);
  EXPECT_EQ(o->filter.exe, "curl");
  EXPECT_EQ(o->filter.host, "example.org");
  EXPECT_EQ(o->filter.verdict, "deny");
  EXPECT_EQ(o->filter.rule, "default");
  EXPECT_EQ(o->filter.limit, 7u);
  EXPECT_TRUE(o->limit_given);
  EXPECT_TRUE(o->json);
  EXPECT_EQ(o->db, "/tmp/h.db");
}

TEST(HistoryOptions, ErrorsNameTheFlagAndValue) {
  EXPECT_THAT(ParseHistoryOptions({"log", "--verdict", "maybe"}, kAll, kNow).error().message,
              HasSubstr("--verdict: expected allow, deny or reject, got 'maybe'"));
  EXPECT_FALSE(ParseHistoryOptions({"log", "--json"}, kAll, kNow)->limit_given);
  EXPECT_THAT(ParseHistoryOptions({"log", "--limit", "-1"}, kAll, kNow).error().message, HasSubstr("--limit"));
  EXPECT_THAT(ParseHistoryOptions({"log", "--since", "soon"}, kAll, kNow).error().message, HasSubstr("'soon'"));
  EXPECT_THAT(ParseHistoryOptions({"log", "--since"}, kAll, kNow).error().message, HasSubstr("needs a value"));
  EXPECT_THAT(ParseHistoryOptions({"log", "--exe="}, kAll, kNow).error().message, HasSubstr("non-empty"));
  EXPECT_THAT(ParseHistoryOptions({"stats", "--exe", "x"}, {"since", "json"}, kNow).error().message,
              HasSubstr("unknown option '--exe'"));
  EXPECT_THAT(ParseHistoryOptions({"log", "stray"}, kAll, kNow).error().message, HasSubstr("'stray'"));
}

TEST(HistoryOptions, JsonQuoteEscapesControlBytes) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(Iso8601Utc(kNow + 5), "2025-01-31T14:05:09.000005Z");
}

}  // namespace
}  // namespace picket::cli
