// Pure tests of the rule text both firewall backends generate (no kernel, no root).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netfilter/firewall.h"
#include "netfilter/iptables_backend.h"
#include "netfilter/nft_backend.h"

namespace picket {
namespace {

FirewallOptions Options(uint16_t queue, FailMode mode, uint32_t mark) {
  FirewallOptions o;
  o.queue_num = queue;
  o.fail_mode = mode;
  o.reject_mark = mark;
  return o;
}

TEST(NftRulesetTest, DefaultOptionsFailOpen) {
  EXPECT_EQ(BuildNftTable(FirewallOptions{}),
            "table inet picket {\n"
            "\tchain output_queue {\n"
            "\t\ttype filter hook output priority mangle; policy accept;\n"
            "\t\ttcp flags & (fin | syn | rst | ack) == syn queue num 0 bypass\n"
            "\t\tmeta l4proto != tcp ct state new queue num 0 bypass\n"
            "\t}\n"
            "\tchain output_reject {\n"
            "\t\ttype filter hook output priority filter; policy accept;\n"
            "\t\tmeta mark & 0x00400000 == 0x00400000 meta l4proto tcp reject with tcp reset\n"
            "\t\tmeta mark & 0x00400000 == 0x00400000 meta l4proto icmp reject with icmp type admin-prohibited\n"
            "\t\tmeta mark & 0x00400000 == 0x00400000 meta l4proto ipv6-icmp reject with icmpv6 type "
            "admin-prohibited\n"
            "\t\tmeta mark & 0x00400000 == 0x00400000 reject with icmpx type port-unreachable\n"
            "\t}\n"
            "}\n");
}

TEST(NftRulesetTest, FailClosedHasNoBypassAndUsesQueueAndMark) {
  const std::string t = BuildNftTable(Options(4242, FailMode::kClosed, 0x1));
  EXPECT_EQ(t.find("bypass"), std::string::npos) << t;
  EXPECT_NE(t.find("tcp flags & (fin | syn | rst | ack) == syn queue num 4242\n"), std::string::npos) << t;
  EXPECT_NE(t.find("meta l4proto != tcp ct state new queue num 4242\n"), std::string::npos) << t;
  EXPECT_NE(t.find("meta mark & 0x00000001 == 0x00000001 meta l4proto tcp reject with tcp reset"), std::string::npos)
      << t;
  EXPECT_EQ(t.find("0x00400000"), std::string::npos) << t;
}

TEST(NftRulesetTest, InstallTransactionReplacesStaleTableAtomically) {
  const FirewallOptions o;
  EXPECT_EQ(BuildNftInstallTransaction(o), "table inet picket {}\ndelete table inet picket\n" + BuildNftTable(o));
  EXPECT_EQ(BuildNftRemoveTransaction(), "table inet picket {}\ndelete table inet picket\n");
}

TEST(NftErrorsTest, CondensesLibnftablesErrorText) {
  const std::string raw =
      "/dev/stdin:6:59-63: Error: Could not process rule: No such file or directory\n"
      "\t\ttcp flags & (fin | syn | rst | ack) == syn queue num 0 bypass\n"
      "\t\t                                                          ^^^^^\n"
      "/dev/stdin:7:36-40: Error: Could not process rule: No such file or directory\n"
      "\t\tmeta l4proto != tcp ct state new queue num 0 bypass\n"
      "\t\t                                 ^^^^^\n";
  EXPECT_EQ(CondenseNftErrors(raw),
            "Error: Could not process rule: No such file or directory "
            "(in `tcp flags & (fin | syn | rst | ack) == syn queue num 0 bypass`); "
            "Error: Could not process rule: No such file or directory "
            "(in `meta l4proto != tcp ct state new queue num 0 bypass`)");
}

TEST(NftErrorsTest, TextWithoutErrorMarkerIsKeptOnOneLine) {
  EXPECT_EQ(CondenseNftErrors("something\nwent wrong\n"), "something went wrong");
  EXPECT_EQ(CondenseNftErrors(""), "unknown error (libnftables gave no message)");
}

TEST(IptablesRulesTest, QueueRulesFailOpenAndClosed) {
  EXPECT_EQ(IptablesQueueRules(Options(0, FailMode::kOpen, 0x400000)),
            (std::vector<std::string>{
                "-A PICKET_OUTPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j "
                "NFQUEUE --queue-num 0 --queue-bypass",
                "-A PICKET_OUTPUT ! -p tcp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 0 --queue-bypass",
            }));
  EXPECT_EQ(IptablesQueueRules(Options(65535, FailMode::kClosed, 0x400000)),
            (std::vector<std::string>{
                "-A PICKET_OUTPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j "
                "NFQUEUE --queue-num 65535",
                "-A PICKET_OUTPUT ! -p tcp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 65535",
            }));
}

TEST(IptablesRulesTest, RejectRulesPerFamily) {
  const FirewallOptions o = Options(0, FailMode::kOpen, 0x80000000u);
  EXPECT_EQ(IptablesRejectRules(IpFamily::kIpv4, o),
            (std::vector<std::string>{
                "-A PICKET_REJECT -p tcp -m mark --mark 0x80000000/0x80000000 -j REJECT --reject-with tcp-reset",
                "-A PICKET_REJECT -p icmp -m mark --mark 0x80000000/0x80000000 -j REJECT --reject-with "
                "icmp-admin-prohibited",
                "-A PICKET_REJECT -m mark --mark 0x80000000/0x80000000 -j REJECT --reject-with icmp-port-unreachable",
            }));
  EXPECT_EQ(IptablesRejectRules(IpFamily::kIpv6, o),
            (std::vector<std::string>{
                "-A PICKET_REJECT -p tcp -m mark --mark 0x80000000/0x80000000 -j REJECT --reject-with tcp-reset",
                "-A PICKET_REJECT -p ipv6-icmp -m mark --mark 0x80000000/0x80000000 -j REJECT --reject-with "
                "icmp6-adm-prohibited",
                "-A PICKET_REJECT -m mark --mark 0x80000000/0x80000000 -j REJECT --reject-with "
                "icmp6-port-unreachable",
            }));
}

constexpr char kSaveWithStaleRules[] =
    "# Generated by iptables-save v1.8.9 (nf_tables) on Sat Nov 21 20:51:22 2026\n"
    "*nat\n"
    ":OUTPUT ACCEPT [0:0]\n"
    "-A OUTPUT -j PICKET_OUTPUT\n"
    "COMMIT\n"
    "*mangle\n"
    ":PREROUTING ACCEPT [0:0]\n"
    ":OUTPUT ACCEPT [0:0]\n"
    ":PICKET_OUTPUT - [0:0]\n"
    ":USER_CHAIN - [0:0]\n"
    "-A OUTPUT -j PICKET_OUTPUT\n"
    "-A OUTPUT -o lo -m comment --comment \"user rule\" -j ACCEPT\n"
    "-A OUTPUT -j PICKET_OUTPUT\n"
    "-A USER_CHAIN -p udp -g PICKET_OUTPUT\n"
    "-A USER_CHAIN -j PICKET_OUTPUT_OTHER\n"
    "-A PICKET_OUTPUT ! -p tcp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 0 --queue-bypass\n"
    "COMMIT\n"
    "*filter\n"
    ":OUTPUT ACCEPT [0:0]\n"
    ":PICKET_REJECT - [0:0]\n"
    "-A OUTPUT -j PICKET_REJECT\r\n"
    "-A OUTPUT -j PICKET_REJECTED\n"
    "COMMIT\n";

TEST(IptablesSaveTest, FindsChainsAndEveryJumpInTheirTablesOnly) {
  const IptablesPicketState s = ParseIptablesSave(kSaveWithStaleRules);
  EXPECT_TRUE(s.queue_chain);
  EXPECT_TRUE(s.reject_chain);
  EXPECT_EQ(s.queue_jumps, (std::vector<std::string>{"-A OUTPUT -j PICKET_OUTPUT", "-A OUTPUT -j PICKET_OUTPUT",
                                                     "-A USER_CHAIN -p udp -g PICKET_OUTPUT"}));
  EXPECT_EQ(s.reject_jumps, (std::vector<std::string>{"-A OUTPUT -j PICKET_REJECT"}));
  EXPECT_FALSE(s.empty());
}

TEST(IptablesSaveTest, CleanRulesetIsEmpty) {
  const IptablesPicketState s = ParseIptablesSave(
      "*mangle\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n"
      "*filter\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(ParseIptablesSave("").empty());
  EXPECT_TRUE(ParseIptablesSave("garbage\n-A\n*\n:\n-A PICKET_OUTPUT").empty());
}

TEST(IptablesScriptTest, InstallOnCleanRuleset) {
  const FirewallOptions o = Options(3, FailMode::kClosed, 0x10);
  EXPECT_EQ(BuildIptablesInstallScript(IpFamily::kIpv4, o, IptablesPicketState{}),
            "*mangle\n"
            ":PICKET_OUTPUT - [0:0]\n"
            "-A PICKET_OUTPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE "
            "--queue-num 3\n"
            "-A PICKET_OUTPUT ! -p tcp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 3\n"
            "-I OUTPUT 1 -j PICKET_OUTPUT\n"
            "COMMIT\n"
            "*filter\n"
            ":PICKET_REJECT - [0:0]\n"
            "-A PICKET_REJECT -p tcp -m mark --mark 0x10/0x10 -j REJECT --reject-with tcp-reset\n"
            "-A PICKET_REJECT -p icmp -m mark --mark 0x10/0x10 -j REJECT --reject-with icmp-admin-prohibited\n"
            "-A PICKET_REJECT -m mark --mark 0x10/0x10 -j REJECT --reject-with icmp-port-unreachable\n"
            "-I OUTPUT 1 -j PICKET_REJECT\n"
            "COMMIT\n");
}

TEST(IptablesScriptTest, InstallOverStaleRulesDeletesEveryOldJump) {
  const std::string script =
      BuildIptablesInstallScript(IpFamily::kIpv6, FirewallOptions{}, ParseIptablesSave(kSaveWithStaleRules));
  EXPECT_EQ(script,
            "*mangle\n"
            ":PICKET_OUTPUT - [0:0]\n"
            "-D OUTPUT -j PICKET_OUTPUT\n"
            "-D OUTPUT -j PICKET_OUTPUT\n"
            "-D USER_CHAIN -p udp -g PICKET_OUTPUT\n"
            "-A PICKET_OUTPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE "
            "--queue-num 0 --queue-bypass\n"
            "-A PICKET_OUTPUT ! -p tcp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 0 --queue-bypass\n"
            "-I OUTPUT 1 -j PICKET_OUTPUT\n"
            "COMMIT\n"
            "*filter\n"
            ":PICKET_REJECT - [0:0]\n"
            "-D OUTPUT -j PICKET_REJECT\n"
            "-A PICKET_REJECT -p tcp -m mark --mark 0x400000/0x400000 -j REJECT --reject-with tcp-reset\n"
            "-A PICKET_REJECT -p ipv6-icmp -m mark --mark 0x400000/0x400000 -j REJECT --reject-with "
            "icmp6-adm-prohibited\n"
            "-A PICKET_REJECT -m mark --mark 0x400000/0x400000 -j REJECT --reject-with icmp6-port-unreachable\n"
            "-I OUTPUT 1 -j PICKET_REJECT\n"
            "COMMIT\n");
}

TEST(IptablesScriptTest, RemoveDeletesJumpsThenChains) {
  EXPECT_EQ(BuildIptablesRemoveScript(ParseIptablesSave(kSaveWithStaleRules)),
            "*mangle\n"
            "-D OUTPUT -j PICKET_OUTPUT\n"
            "-D OUTPUT -j PICKET_OUTPUT\n"
            "-D USER_CHAIN -p udp -g PICKET_OUTPUT\n"
            "-F PICKET_OUTPUT\n"
            "-X PICKET_OUTPUT\n"
            "COMMIT\n"
            "*filter\n"
            "-D OUTPUT -j PICKET_REJECT\n"
            "-F PICKET_REJECT\n"
            "-X PICKET_REJECT\n"
            "COMMIT\n");
}

TEST(IptablesScriptTest, RemoveOnlyWhatIsPresent) {
  EXPECT_EQ(BuildIptablesRemoveScript(IptablesPicketState{}), "");
  IptablesPicketState only_reject_chain;
  only_reject_chain.reject_chain = true;
  EXPECT_EQ(BuildIptablesRemoveScript(only_reject_chain), "*filter\n-F PICKET_REJECT\n-X PICKET_REJECT\nCOMMIT\n");
}

// ---- DNS response interception (rule 3) ----

TEST(NftRulesetTest, DnsResponsesGoToTheirOwnQueueAlwaysWithBypass) {
  FirewallOptions o = Options(7, FailMode::kClosed, 0x400000);
  EXPECT_EQ(BuildNftTable(o).find("input_dns"), std::string::npos) << "no DNS chain unless asked for";
  o.dns_queue_num = 8;
  const std::string t = BuildNftTable(o);
  EXPECT_NE(t.find("\tchain input_dns {\n"
                   "\t\ttype filter hook input priority mangle; policy accept;\n"
                   "\t\tudp sport 53 ct state established ct direction reply queue num 8 bypass\n"
                   "\t\ttcp sport 53 ct state established ct direction reply queue num 8 bypass\n"
                   "\t}\n}\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("== syn queue num 7\n"), std::string::npos) << "fail-closed main queue keeps no bypass: " << t;
}

TEST(IptablesRulesTest, DnsRulesAlwaysBypass) {
  FirewallOptions o = Options(0, FailMode::kClosed, 0x400000);
  EXPECT_TRUE(IptablesDnsRules(o).empty());
  o.dns_queue_num = 1;
  EXPECT_EQ(IptablesDnsRules(o),
            (std::vector<std::string>{
                "-A PICKET_DNS -p udp -m udp --sport 53 -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j NFQUEUE "
                "--queue-num 1 --queue-bypass",
                "-A PICKET_DNS -p tcp -m tcp --sport 53 -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j NFQUEUE "
                "--queue-num 1 --queue-bypass",
            }));
}

constexpr char kSaveWithDnsChain[] =
    "*mangle\n"
    ":INPUT ACCEPT [0:0]\n"
    ":OUTPUT ACCEPT [0:0]\n"
    ":PICKET_DNS - [0:0]\n"
    ":PICKET_OUTPUT - [0:0]\n"
    "-A INPUT -j PICKET_DNS\n"
    "-A OUTPUT -j PICKET_OUTPUT\n"
    "-A PICKET_DNS -p udp -m udp --sport 53 -j NFQUEUE --queue-num 1 --queue-bypass\n"
    "COMMIT\n";

TEST(IptablesSaveTest, FindsTheDnsChainAndItsJump) {
  const IptablesPicketState s = ParseIptablesSave(kSaveWithDnsChain);
  EXPECT_TRUE(s.dns_chain);
  EXPECT_EQ(s.dns_jumps, (std::vector<std::string>{"-A INPUT -j PICKET_DNS"}));
  EXPECT_EQ(s.queue_jumps, (std::vector<std::string>{"-A OUTPUT -j PICKET_OUTPUT"}));
  IptablesPicketState only_dns;
  only_dns.dns_chain = true;
  EXPECT_FALSE(only_dns.empty());
}

TEST(IptablesScriptTest, InstallWithDnsAddsTheChainInTheSameMangleCommit) {
  FirewallOptions o = Options(0, FailMode::kOpen, 0x400000);
  o.dns_queue_num = 1;
  const std::string script = BuildIptablesInstallScript(IpFamily::kIpv4, o, ParseIptablesSave(kSaveWithDnsChain));
  const std::string mangle = script.substr(0, script.find("COMMIT\n") + 7);
  EXPECT_EQ(mangle,
            "*mangle\n"
            ":PICKET_OUTPUT - [0:0]\n"
            "-D OUTPUT -j PICKET_OUTPUT\n"
            "-A PICKET_OUTPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE --queue-num 0 --queue-bypass\n"
            "-A PICKET_OUTPUT ! -p tcp -m conntrack --ctstate NEW -j NFQUEUE --queue-num 0 --queue-bypass\n"
            "-I OUTPUT 1 -j PICKET_OUTPUT\n"
            ":PICKET_DNS - [0:0]\n"
            "-D INPUT -j PICKET_DNS\n"
            "-A PICKET_DNS -p udp -m udp --sport 53 -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j NFQUEUE "
            "--queue-num 1 --queue-bypass\n"
            "-A PICKET_DNS -p tcp -m tcp --sport 53 -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j NFQUEUE "
            "--queue-num 1 --queue-bypass\n"
            "-I INPUT 1 -j PICKET_DNS\n"
            "COMMIT\n");
}

TEST(IptablesScriptTest, InstallWithoutDnsRemovesAStaleDnsChain) {
  const std::string script =
      BuildIptablesInstallScript(IpFamily::kIpv4, FirewallOptions{}, ParseIptablesSave(kSaveWithDnsChain));
  EXPECT_NE(script.find("-D INPUT -j PICKET_DNS\n-F PICKET_DNS\n-X PICKET_DNS\nCOMMIT\n"), std::string::npos) << script;
  EXPECT_EQ(script.find(":PICKET_DNS"), std::string::npos) << script;
}

TEST(IptablesScriptTest, RemoveDeletesTheDnsChainAfterEveryJump) {
  EXPECT_EQ(BuildIptablesRemoveScript(ParseIptablesSave(kSaveWithDnsChain)),
            "*mangle\n"
            "-D OUTPUT -j PICKET_OUTPUT\n"
            "-D INPUT -j PICKET_DNS\n"
            "-F PICKET_OUTPUT\n"
            "-X PICKET_OUTPUT\n"
            "-F PICKET_DNS\n"
            "-X PICKET_DNS\n"
            "COMMIT\n");
}

TEST(IptablesVersionTest, NamesTheVariant) {
  auto nft = ParseIptablesVersion("iptables v1.8.9 (nf_tables)\n");
  ASSERT_TRUE(nft.ok()) << nft.error().message;
  EXPECT_EQ(*nft, IptablesVariant::kNft);
  auto legacy = ParseIptablesVersion("iptables v1.8.9 (legacy)\n");
  ASSERT_TRUE(legacy.ok()) << legacy.error().message;
  EXPECT_EQ(*legacy, IptablesVariant::kLegacy);
  auto old = ParseIptablesVersion("iptables v1.6.1\n");  // before 1.8 there was only x_tables
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(*old, IptablesVariant::kLegacy);
}

TEST(IptablesVersionTest, UnknownOutputIsAnErrorQuotingIt) {
  for (const char* text : {"", "ip6tables v1.8.9 (legacy)", "iptables v1.8.9 (something-new)", "xtables\n"}) {
    auto v = ParseIptablesVersion(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_NE(v.error().message.find("unrecognized `iptables -V` output"), std::string::npos) << v.error().message;
  }
  auto v = ParseIptablesVersion("iptables v1.8.9 (something-new)");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("\"iptables v1.8.9 (something-new)\""), std::string::npos) << v.error().message;
}

}  // namespace
}  // namespace picket
