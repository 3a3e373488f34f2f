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

}  // namespace
}  // namespace picket
