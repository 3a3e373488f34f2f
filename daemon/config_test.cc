#include "config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace picket {
namespace {

TEST(ConfigTest, DefaultsWhenEmpty) {
  auto c = ParseConfig("{}", "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->rules_dir, "/etc/picket/rules");
  EXPECT_EQ(c->default_action, DefaultAction::kAllow);
  EXPECT_EQ(c->fail_mode, FailMode::kOpen);
  EXPECT_EQ(c->queue_num, 0);
  EXPECT_EQ(c->firewall_backend, FirewallBackendChoice::kAuto);
}

TEST(ConfigTest, ParsesEveryKey) {
  auto c = ParseConfig(R"({"rules_dir":"/r","default_action":"reject","queue_num":7,"fail_mode":"closed",
      "log_level":"debug","firewall_backend":"iptables","queue_max_len":100,"queue_copy_range":128,
      "reject_mark":256})", "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->rules_dir, "/r");
  EXPECT_EQ(c->default_action, DefaultAction::kReject);
  EXPECT_EQ(c->queue_num, 7);
  EXPECT_EQ(c->fail_mode, FailMode::kClosed);
  EXPECT_EQ(c->log_level, log::Level::kDebug);
  EXPECT_EQ(c->firewall_backend, FirewallBackendChoice::kIptables);
  EXPECT_EQ(c->queue_max_len, 100u);
  EXPECT_EQ(c->queue_copy_range, 128u);
  EXPECT_EQ(c->reject_mark, 256u);
}

TEST(ConfigTest, FirewallWatchKey) {
  auto defaults = ParseConfig("{}", "test.json");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->firewall_watch);
  auto off = ParseConfig(R"({"firewall_watch":false})", "test.json");
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->firewall_watch);
  EXPECT_NE(ConfigToJson(*off).find("\"firewall_watch\":false"), std::string::npos) << ConfigToJson(*off);
  auto bad = ParseConfig(R"({"firewall_watch":1})", "f.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("key 'firewall_watch'"), std::string::npos) << bad.error().message;
}

TEST(ConfigTest, DnsAndHistoryKeys) {
  auto defaults = ParseConfig("{\"queue_num\": 4}", "test.json");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->dns_enabled);
  EXPECT_EQ(defaults->EffectiveDnsQueueNum(), 5) << "default: queue_num + 1";
  EXPECT_EQ(defaults->history_path, "/var/lib/picket/history.db");
  auto c = ParseConfig(R"({"dns_enabled":false,"dns_queue_num":9,"dns_cache_max_names":10,"dns_min_ttl":0,
      "dns_max_ttl":60,"history_path":"/tmp/h.db","history_max_age_days":7,"history_max_rows":5000,
      "history_queue_len":16})", "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->dns_enabled);
  EXPECT_EQ(c->EffectiveDnsQueueNum(), 9);
  EXPECT_EQ(c->dns_cache_max_names, 10u);
  EXPECT_EQ(c->dns_min_ttl, 0u);
  EXPECT_EQ(c->dns_max_ttl, 60u);
  EXPECT_EQ(c->history_path, "/tmp/h.db");
  EXPECT_EQ(c->history_max_age_days, 7u);
  EXPECT_EQ(c->history_max_rows, 5000u);
  EXPECT_EQ(c->history_queue_len, 16u);
  auto bad = ParseConfig(R"({"dns_enabled":"yes"})", "f.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("key 'dns_enabled'"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(ParseConfig(R"({"dns_cache_max_names":0})", "f.json").ok());
  EXPECT_FALSE(ParseConfig(R"({"dns_typo":1})", "f.json").ok());
  EXPECT_FALSE(ParseConfig(R"({"history_typo":1})", "f.json").ok());
}

TEST(ConfigTest, UiSocketKeys) {
  auto defaults = ParseConfig("{}", "d.json");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->ui_socket, "/run/picket/ui.sock");
  EXPECT_EQ(defaults->ui_group, "picket");
  auto c = ParseConfig(R"({"ui_socket":"/tmp/x.sock","ui_group":"wheel","ui_client_queue_bytes":8192,
      "ui_max_clients":3})", "t.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->ui_socket, "/tmp/x.sock");
  EXPECT_EQ(c->ui_group, "wheel");
  EXPECT_EQ(c->ui_client_queue_bytes, 8192u);
  EXPECT_EQ(c->ui_max_clients, 3u);
  EXPECT_TRUE(ParseConfig(R"({"ui_socket":""})", "t.json").ok());
  auto relative = ParseConfig(R"({"ui_socket":"ui.sock"})", "t.json");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message.find("key 'ui_socket'"), std::string::npos) << relative.error().message;
  EXPECT_FALSE(ParseConfig(R"({"ui_max_clients":0})", "t.json").ok());
  EXPECT_FALSE(ParseConfig(R"({"ui_client_queue_bytes":10})", "t.json").ok());
}

TEST(ConfigTest, PromptKeys) {
  auto defaults = ParseConfig("{}", "d.json");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->prompt_timeout_seconds, 30u);
  EXPECT_EQ(defaults->prompt_default_duration, "once");
  EXPECT_LT(defaults->prompt_max_pending_packets, defaults->queue_max_len);
  auto c = ParseConfig(R"({"prompt_timeout_seconds":2,"prompt_default_duration":"until-restart",
      "prompt_max_pending_packets":10,"prompt_max_prompts":3})", "t.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->prompt_timeout_seconds, 2u);
  EXPECT_EQ(c->prompt_default_duration, "until-restart");
  EXPECT_EQ(c->prompt_max_pending_packets, 10u);
  EXPECT_EQ(c->prompt_max_prompts, 3u);
  auto bad = ParseConfig(R"({"prompt_default_duration":"forever"})", "t.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("key 'prompt_default_duration'"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(ParseConfig(R"({"prompt_timeout_seconds":0})", "t.json").ok());
  EXPECT_FALSE(ParseConfig(R"({"prompt_typo":1})", "t.json").ok());
}

TEST(ConfigTest, OverlaysOnBase) {
  Config base;
  base.queue_num = 9;
  auto c = ParseConfig(R"({"default_action":"deny"})", "x", base);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->queue_num, 9);
  EXPECT_EQ(c->default_action, DefaultAction::kDeny);
}

void ExpectError(std::string_view json, std::string_view fragment) {
  auto c = ParseConfig(json, "/etc/picket/config.json");
  ASSERT_FALSE(c.ok()) << json;
  EXPECT_NE(c.error().message.find("/etc/picket/config.json"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find(fragment), std::string::npos) << c.error().message;
}

TEST(ConfigTest, ErrorsNameFileKeyAndProblem) {
  ExpectError("{", "malformed JSON");
  ExpectError("[]", "JSON object");
  ExpectError(R"({"queue_nm":1})", "'queue_nm': unknown key");
  ExpectError(R"({"queue_num":70000})", "'queue_num'");
  ExpectError(R"({"queue_num":-1})", "'queue_num'");
  ExpectError(R"({"queue_num":1.5})", "'queue_num'");
  ExpectError(R"({"queue_num":"1"})", "'queue_num'");
  ExpectError(R"({"default_action":"maybe"})", "unknown action 'maybe'");
  ExpectError(R"({"fail_mode":"sometimes"})", "'fail_mode'");
  ExpectError(R"({"log_level":"loud"})", "'log_level'");
  ExpectError(R"({"firewall_backend":"pf"})", "'firewall_backend'");
  ExpectError(R"({"rules_dir":""})", "'rules_dir'");
  ExpectError(R"({"rules_dir":5})", "expected a string");
  ExpectError(R"({"reject_mark":3})", "single bit");
  ExpectError(R"({"queue_copy_range":10})", "at least 64");
}

TEST(ConfigTest, ProcessStoreKeys) {
  auto c = ParseConfig(R"({"process_monitor":"proc-connector","process_exit_grace_seconds":300,
                           "process_sweep_seconds":15,"process_max_entries":1000,"process_max_exited":10,
                           "process_ring_buffer_kib":1024,"checksum_cache_entries":64,
                           "checksum_max_waiting_packets":8})",
                       "test.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->process_monitor, ProcessMonitor::kProcConnector);
  EXPECT_EQ(c->process_exit_grace_seconds, 300u);
  EXPECT_EQ(c->process_sweep_seconds, 15u);
  EXPECT_EQ(c->process_max_entries, 1000u);
  EXPECT_EQ(c->process_max_exited, 10u);
  EXPECT_EQ(c->process_ring_buffer_kib, 1024u);
  EXPECT_EQ(c->checksum_cache_entries, 64u);
  EXPECT_EQ(c->checksum_max_waiting_packets, 8u);
  EXPECT_EQ(Config{}.process_monitor, ProcessMonitor::kAuto);
  auto bad = ParseConfig(R"({"process_monitor":"kprobe"})", "test.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'process_monitor'"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(ParseConfig(R"({"process_ring_buffer_kib":1000})", "t").ok()) << "not a power of two";
  EXPECT_FALSE(ParseConfig(R"({"process_sweep_seconds":0})", "t").ok());
  EXPECT_FALSE(ParseConfig(R"({"process_typo":1})", "t").ok());
}

TEST(ConfigTest, FlowAttributionKey) {
  EXPECT_TRUE(Config{}.flow_attribution);
  auto off = ParseConfig(R"({"flow_attribution":false})", "test.json");
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->flow_attribution);
  auto bad = ParseConfig(R"({"flow_attribution":"no"})", "test.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'flow_attribution'"), std::string::npos) << bad.error().message;
}

TEST(ConfigTest, FlowAttributionNetfilterKey) {
  EXPECT_TRUE(Config{}.flow_attribution_netfilter);
  auto off = ParseConfig(R"({"flow_attribution_netfilter":false})", "test.json");
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->flow_attribution_netfilter);
  EXPECT_TRUE(off->flow_attribution) << "only the netfilter hook is off";
  auto bad = ParseConfig(R"({"flow_attribution_netfilter":1})", "test.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'flow_attribution_netfilter'"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(ParseConfig(R"({"flow_attribution_typo":true})", "test.json").ok());
}

TEST(ConfigTest, MissingFileNamesThePath) {
  auto c = LoadConfigFile("/nonexistent/picket.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/picket.json"), std::string::npos);
}

TEST(ConfigTest, LoadsFile) {
  char path[] = "/tmp/picket-config-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << R"({"queue_num": 3})";
  auto c = LoadConfigFile(path);
  std::remove(path);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->queue_num, 3);
}

// Every key of the effective config is printed, and printing then parsing gives the same values.
TEST(ConfigTest, ToJsonRoundTrips) {
  Config c;
  c.default_action = DefaultAction::kReject;
  c.queue_num = 7;
  c.dns_queue_num = 9;
  c.log_level = log::Level::kDebug;
  c.prompt_timeout_seconds = 9;
  c.prompt_default_duration = "5m";
  const std::string json = ConfigToJson(c);
  EXPECT_NE(json.find("\"default_action\":\"reject\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"checksum_max_waiting_packets\""), std::string::npos) << json;
  auto back = ParseConfig(json, "round trip");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->default_action, DefaultAction::kReject);
  EXPECT_EQ(back->queue_num, 7);
  EXPECT_EQ(back->prompt_timeout_seconds, 9u);
  EXPECT_EQ(back->prompt_default_duration, "5m");
  EXPECT_EQ(back->dns_queue_num, 9);
  EXPECT_EQ(back->log_level, log::Level::kDebug);
  EXPECT_EQ(ConfigToJson(*back), json);
}

TEST(ConfigTest, RuntimeKeys) {
  Config c;
  auto set = SetRuntimeConfigKey(c, "default_action", "\"deny\"");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->default_action, DefaultAction::kDeny);
  set = SetRuntimeConfigKey(c, "log_level", "\"warn\"");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->log_level, log::Level::kWarn);
  set = SetRuntimeConfigKey(c, "prompt_timeout_seconds", "5");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->prompt_timeout_seconds, 5u);
  set = SetRuntimeConfigKey(c, "prompt_default_duration", "\"until-restart\"");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->prompt_default_duration, "until-restart");
  EXPECT_EQ(set->prompt_timeout_seconds, 30u) << "one key at a time, from `c`";
  auto zero = SetRuntimeConfigKey(c, "prompt_timeout_seconds", "0");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find("'prompt_timeout_seconds'"), std::string::npos) << zero.error().message;
  auto bad = SetRuntimeConfigKey(c, "default_action", "\"permit\"");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'default_action'"), std::string::npos) << bad.error().message;
  auto fixed = SetRuntimeConfigKey(c, "queue_num", "3");
  ASSERT_FALSE(fixed.ok());
  EXPECT_NE(fixed.error().message.find("'queue_num' cannot be changed while picketd runs"), std::string::npos)
      << fixed.error().message;
}

}  // namespace
}  // namespace picket
