// Pure pieces of the rule engine: networks and aliases, list file parsing, RFC 3339 times, atomic
// writes, and writing rules back out in the format they were read from.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "rules/file_io.h"
#include "rules/lifetime.h"
#include "rules/lists.h"
#include "rules/network.h"
#include "rules/rule_parser.h"
#include "rules/rule_writer.h"
#include "rules/rules_test_util.h"

namespace picket {
namespace {

using testing_util::Ip;
using testing_util::TempDir;

TEST(NetworkTest, ParseAndContain) {
  Result<IpNetwork> net = ParseNetwork("192.168.1.7/24", BareAddress::kReject);
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(net->ToString(), "192.168.1.0/24");
  EXPECT_TRUE(net->Contains(Ip("192.168.1.255")));
  EXPECT_TRUE(net->Contains(Ip("::ffff:192.168.1.1")));
  EXPECT_FALSE(net->Contains(Ip("192.168.2.1")));
  EXPECT_FALSE(net->Contains(Ip("2001:2::1")));
  EXPECT_EQ(ParseNetwork("::ffff:10.0.0.0/104", BareAddress::kReject)->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseNetwork("2001:2::1", BareAddress::kAllow)->ToString(), "2001:2::1/128");
  EXPECT_TRUE(ParseNetwork("0.0.0.0/0", BareAddress::kReject)->Contains(Ip("8.8.8.8")));
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "x/8", "::/129"}) {
    EXPECT_FALSE(ParseNetwork(bad, BareAddress::kReject).ok()) << bad;
  }
}

TEST(NetworkTest, Aliases) {
  ASSERT_NE(NetworkAlias("LAN"), nullptr);
  ASSERT_NE(NetworkAlias("MULTICAST"), nullptr);
  EXPECT_EQ(NetworkAlias("lan"), nullptr);
  EXPECT_EQ(NetworkAlias("LAN")->size(), 6u);
}

TEST(NetworkTest, PrefixMapFindsEveryContainingNetwork) {
  PrefixMap<int> map;
  map.Insert(*ParseNetwork("10.0.0.0/8", BareAddress::kReject), 1);
  map.Insert(*ParseNetwork("10.1.0.0/16", BareAddress::kReject), 2);
  map.Insert(*ParseNetwork("2001:2::/48", BareAddress::kReject), 3);
  map.Finish();
  std::vector<int> found;
  map.Find(Ip("10.1.2.3"), [&found](const std::vector<int>& values) {
    found.insert(found.end(), values.begin(), values.end());
    return true;
  });
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<int>{1, 2}));
  found.clear();
  map.Find(Ip("11.0.0.1"), [&found](const std::vector<int>& values) {
    found.insert(found.end(), values.begin(), values.end());
    return true;
  });
  EXPECT_TRUE(found.empty());
}

TEST(ListFileTest, HostsFormat) {
  const ListFile file = ParseListFile(ListKind::kDomains,
                                      "# comment\n"
                                      "0.0.0.0 Ads.Example.TEST.\n"
                                      "127.0.0.1 a.test b.test # two names\n"
                                      "127.0.0.1 localhost\n"
                                      "::1 ip6-localhost\n"
                                      "0.0.0.0 .suffix.test\n"
                                      "0.0.0.0 *.wild.test\r\n"
                                      "0.0.0.0 bad*glob.test\n"
                                      "just-a-name.test\n"
                                      "0.0.0.0\n");
  EXPECT_EQ(file.names, (std::vector<std::string>{"ads.example.test", "a.test", "b.test"}));
  EXPECT_EQ(file.suffixes, (std::vector<std::string>{"suffix.test", "wild.test"}));
  EXPECT_EQ(file.skipped_lines, 3u);
  EXPECT_EQ(file.first_skipped_line, 8u);
}

TEST(ListFileTest, OtherKinds) {
  const ListFile regexps = ParseListFile(ListKind::kDomainsRegexp, "^a\\.\n(\n# c\n\nb$\n");
  EXPECT_EQ(regexps.patterns, (std::vector<std::string>{"^a\\.", "b$"}));
  EXPECT_EQ(regexps.skipped_lines, 1u);
  const ListFile ips = ParseListFile(ListKind::kIps, "192.0.2.1\n2001:db8::/32 net\nnope\n");
  ASSERT_EQ(ips.networks.size(), 2u);
  EXPECT_EQ(ips.networks[1].ToString(), "2001:db8::/32");
  EXPECT_EQ(ips.skipped_lines, 1u);
  const ListFile md5 = ParseListFile(ListKind::kHashMd5,
                                     "D41D8CD98F00B204E9800998ECF8427E  /usr/bin/empty\nabc /x\n");
  EXPECT_EQ(md5.digests, std::vector<std::string>{"d41d8cd98f00b204e9800998ecf8427e"});
  EXPECT_EQ(md5.skipped_lines, 1u);
}

TEST(ListDataTest, Lookups) {
  const ListFile domains = ParseListFile(ListKind::kDomains, "0.0.0.0 ads.test\n0.0.0.0 *.cdn.test\n");
  const ListData data(ListKind::kDomains, {&domains});
  EXPECT_TRUE(data.ContainsDomain("ads.test"));
  EXPECT_TRUE(data.ContainsDomain("ADS.test."));
  EXPECT_TRUE(data.ContainsDomain("x.y.cdn.test"));
  EXPECT_FALSE(data.ContainsDomain("cdn.test"));
  EXPECT_FALSE(data.ContainsDomain("xads.test"));
  EXPECT_FALSE(data.ContainsDomain(""));
  const ListFile patterns = ParseListFile(ListKind::kDomainsRegexp, "^ads[0-9]\\.\n");
  const ListData regexps(ListKind::kDomainsRegexp, {&patterns});
  EXPECT_TRUE(regexps.MatchesDomain("ADS1.test"));
  EXPECT_FALSE(regexps.MatchesDomain("ads.test"));
  const ListFile nets = ParseListFile(ListKind::kNets, "10.0.0.0/8\n2001:db8::1\n");
  const ListData networks(ListKind::kNets, {&nets});
  EXPECT_TRUE(networks.ContainsAddress(Ip("10.9.9.9")));
  EXPECT_TRUE(networks.ContainsAddress(Ip("::ffff:10.0.0.1")));
  EXPECT_TRUE(networks.ContainsAddress(Ip("2001:db8::1")));
  EXPECT_FALSE(networks.ContainsAddress(Ip("2001:db8::2")));
}

TEST(ListStoreTest, OnlyChangedFilesAreReparsedAndRemovedFilesDrop) {
  TempDir dir;
  dir.Write("a.txt", "0.0.0.0 a.test\n");
  dir.Write("b.txt", "0.0.0.0 b.test\n");
  ListStore store;
  auto first = store.Get(ListKind::kDomains, dir.path());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE((*first)->ContainsDomain("b.test"));
  auto again = store.Get(ListKind::kDomains, dir.path());
  EXPECT_EQ(first->get(), again->get()) << "not dirty: the same data";
  store.MarkDirty(dir.path());
  auto unchanged = store.Get(ListKind::kDomains, dir.path());
  EXPECT_EQ(first->get(), unchanged->get()) << "dirty but no file changed: the same data";
  ASSERT_EQ(::unlink(dir.File("b.txt").c_str()), 0);
  store.MarkDirty(dir.path());
  auto after = store.Get(ListKind::kDomains, dir.path());
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE((*after)->ContainsDomain("b.test"));
  EXPECT_TRUE((*after)->ContainsDomain("a.test"));
  EXPECT_FALSE(store.Get(ListKind::kDomains, dir.path() + "/missing").ok());
}

TEST(Rfc3339Test, Parse) {
  const auto base = ParseRfc3339("2026-11-21T10:00:00Z");
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(base->time_since_epoch()).count(), 1795255200);
  EXPECT_EQ(ParseRfc3339("2026-11-21T11:30:00+01:30"), base);
  EXPECT_EQ(*ParseRfc3339("2026-11-21T10:00:00.5z") - *base, std::chrono::milliseconds(500));
  for (const char* bad : {"", "2026-11-21", "2026-02-30T00:00:00Z", "2026-11-21T10:00:00", "2026-11-21T10:00:00+1:00"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(AtomicWriteTest, WritesWholeFileWithMode0600AndNoLeftovers) {
  TempDir dir;
  const std::string path = dir.File("r.json");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second version").ok());
  Result<FileContent> content = ReadRegularFile(path, 100);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(content->bytes, "second version");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);
  EXPECT_FALSE(WriteFileAtomically(dir.File("missing/r.json"), "x").ok());
}

TEST(RuleWriterTest, RoundTripsEveryCorpusRule) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(PICKET_RULES_TESTDATA) + "/corpus")) {
    Result<FileContent> bytes = ReadRegularFile(entry.path(), kMaxRuleFileBytes);
    ASSERT_TRUE(bytes.ok());
    std::string text = bytes->bytes;
    for (size_t at = text.find("@LISTS@"); at != std::string::npos; at = text.find("@LISTS@")) {
      text.replace(at, 7, "/srv/lists");
    }
    Result<Rule> rule = ParseRule(text);
    ASSERT_TRUE(rule.ok()) << entry.path() << ": " << rule.error().message;
    const std::string written = SerializeRule(*rule);
    Result<Rule> again = ParseRule(written);
    ASSERT_TRUE(again.ok()) << written;
    EXPECT_EQ(SerializeRule(*again), written) << entry.path();
    EXPECT_EQ(again->name, rule->name);
    EXPECT_EQ(again->created, rule->created);
  }
}

}  // namespace
}  // namespace picket
