#include "common/ip_address.h"

#include <gtest/gtest.h>

namespace picket {
namespace {

TEST(IpAddressTest, ParsesAndPrintsV4) {
  auto a = IpAddress::Parse("198.18.0.2");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->ToString(), "198.18.0.2");
}

TEST(IpAddressTest, ParsesAndPrintsV6) {
  auto a = IpAddress::Parse("2001:db8:0::1");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->is_v4());
  EXPECT_EQ(a->ToString(), "2001:db8::1");
}

TEST(IpAddressTest, RejectsGarbageNamingIt) {
  auto a = IpAddress::Parse("300.1.1.1");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("300.1.1.1"), std::string::npos);
}

TEST(IpAddressTest, NormalizesV4MappedV6) {
  auto a = IpAddress::Parse("::ffff:198.18.0.2");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->IsV4MappedV6());
  EXPECT_EQ(a->Normalized().ToString(), "198.18.0.2");
  EXPECT_TRUE(a->Normalized().is_v4());
}

TEST(IpAddressTest, Loopback) {
  EXPECT_TRUE(IpAddress::Parse("127.0.0.53")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("::1")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("::ffff:127.0.0.1")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("198.18.0.1")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("::2")->IsLoopback());
}

}  // namespace
}  // namespace picket
