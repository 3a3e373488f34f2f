// Pure tests of tamper detection's pieces: is an iptables-save state exactly Picket's rules, how
// many rules an nft listing has per chain, and which nf_tables event messages are deletions.
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netfilter/iptables_backend.h"
#include "netfilter/nft_backend.h"
#include "netfilter/nft_events.h"

namespace picket {
namespace {

FirewallOptions WithDns() {
  FirewallOptions o;
  o.queue_num = 3;
  o.dns_queue_num = 4;
  return o;
}

// iptables-save output holding exactly what Picket installs for `o` (IPv4).
std::string SavedPicketRules(const FirewallOptions& o) {
  std::string s = "*mangle\n:OUTPUT ACCEPT [0:0]\n:PICKET_OUTPUT - [0:0]\n-A OUTPUT -j PICKET_OUTPUT\n";
  for (const std::string& r : IptablesQueueRules(o)) s += r + "\n";
  if (o.dns_queue_num) {
    s += ":PICKET_DNS - [0:0]\n-A INPUT -j PICKET_DNS\n";
    for (const std::string& r : IptablesDnsRules(o)) s += r + "\n";
  }
  s += "COMMIT\n*filter\n:OUTPUT ACCEPT [0:0]\n:PICKET_REJECT - [0:0]\n-A OUTPUT -j PICKET_REJECT\n";
  for (const std::string& r : IptablesRejectRules(IpFamily::kIpv4, o)) s += r + "\n";
  return s + "COMMIT\n";
}

std::string Without(std::string text, const std::string& line) {
  const size_t at = text.find(line + "\n");
  EXPECT_NE(at, std::string::npos) << line;
  if (at != std::string::npos) text.erase(at, line.size() + 1);
  return text;
}

bool Intact(const FirewallOptions& o, const std::string& saved) {
  return IptablesRulesIntact(IpFamily::kIpv4, o, ParseIptablesSave(saved));
}

TEST(IptablesIntactTest, ExactlyPicketsRulesAreIntact) {
  EXPECT_TRUE(Intact(FirewallOptions{}, SavedPicketRules(FirewallOptions{})));
  EXPECT_TRUE(Intact(WithDns(), SavedPicketRules(WithDns())));
}

TEST(IptablesIntactTest, FlushedTableLosesTheJumpAndTheRules) {
  // `iptables -t mangle -F`: chains stay declared, every rule is gone.
  const FirewallOptions o = WithDns();
  std::string saved = SavedPicketRules(o);
  saved = Without(saved, "-A OUTPUT -j PICKET_OUTPUT");
  for (const std::string& r : IptablesQueueRules(o)) saved = Without(saved, r);
  EXPECT_FALSE(Intact(o, saved));
}

TEST(IptablesIntactTest, EachMissingPieceIsNoticed) {
  const FirewallOptions o = WithDns();
  const std::string saved = SavedPicketRules(o);
  EXPECT_FALSE(Intact(o, Without(saved, "-A OUTPUT -j PICKET_REJECT")));
  EXPECT_FALSE(Intact(o, Without(saved, "-A INPUT -j PICKET_DNS")));
  EXPECT_FALSE(Intact(o, Without(saved, IptablesRejectRules(IpFamily::kIpv4, o)[1])));
  EXPECT_FALSE(Intact(o, Without(saved, IptablesDnsRules(o)[0])));
  EXPECT_FALSE(Intact(o, Without(saved, ":PICKET_REJECT - [0:0]")));
}

TEST(IptablesIntactTest, ChangedRulesOrADuplicateJumpAreNotIntact) {
  FirewallOptions other_queue;
  other_queue.queue_num = 9;
  EXPECT_FALSE(Intact(other_queue, SavedPicketRules(FirewallOptions{})));
  std::string doubled = SavedPicketRules(FirewallOptions{});
  doubled.insert(doubled.find("-A OUTPUT -j PICKET_OUTPUT"), "-A OUTPUT -j PICKET_OUTPUT\n");
  EXPECT_FALSE(Intact(FirewallOptions{}, doubled));
  // DNS expected but never installed.
  EXPECT_FALSE(Intact(WithDns(), SavedPicketRules(FirewallOptions{})));
}

TEST(NftChainRulesTest, CountsTheRulesOfEachChainOfTheInstalledTable) {
  const std::map<std::string, size_t> want{{"output_queue", 2}, {"output_reject", 4}, {"input_dns", 2}};
  EXPECT_EQ(CountNftChainRules(BuildNftTable(WithDns())), want);
}

TEST(NftChainRulesTest, FlushedChainCountsZeroAndAMissingChainIsAbsent) {
  const std::string listing =
      "table inet picket {\n"
      "\tchain output_queue {\n"
      "\t\ttype filter hook output priority mangle; policy accept;\n"
      "\t}\n"
      "}\n";
  const std::map<std::string, size_t> want{{"output_queue", 0}};
  EXPECT_EQ(CountNftChainRules(listing), want);
  EXPECT_TRUE(CountNftChainRules("").empty());
}

void AppendMessage(std::vector<uint8_t>* buf, uint16_t type) {
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_LENGTH(4);
  h.nlmsg_type = type;
  const size_t at = buf->size();
  buf->resize(at + NLMSG_SPACE(4));
  std::memcpy(buf->data() + at, &h, sizeof(h));
}

uint16_t Nft(uint16_t msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

TEST(NftEventsTest, CountsDeletionsOfTablesChainsAndRulesOnly) {
  std::vector<uint8_t> buf;
  AppendMessage(&buf, Nft(NFT_MSG_NEWTABLE));
  AppendMessage(&buf, Nft(NFT_MSG_DELRULE));
  AppendMessage(&buf, Nft(NFT_MSG_DELCHAIN));
  AppendMessage(&buf, Nft(NFT_MSG_DELTABLE));
  AppendMessage(&buf, Nft(NFT_MSG_DELSET));
  AppendMessage(&buf, Nft(NFT_MSG_NEWGEN));
  AppendMessage(&buf, static_cast<uint16_t>((NFNL_SUBSYS_QUEUE << 8) | NFT_MSG_DELRULE));
  NftEventCounts counts;
  CountNftEvents(buf, &counts);
  EXPECT_EQ(counts.messages, 6u);
  EXPECT_EQ(counts.deletions, 3u);
  EXPECT_FALSE(counts.overflowed);
}

TEST(NftEventsTest, TruncatedOrEmptyInputIsIgnored) {
  std::vector<uint8_t> buf;
  AppendMessage(&buf, Nft(NFT_MSG_DELRULE));
  AppendMessage(&buf, Nft(NFT_MSG_DELTABLE));
  buf.resize(buf.size() - 3);  // the second message is cut short
  NftEventCounts counts;
  CountNftEvents(buf, &counts);
  EXPECT_EQ(counts.deletions, 1u);
  CountNftEvents({}, &counts);
  EXPECT_EQ(counts.messages, 1u);
}

}  // namespace
}  // namespace picket
