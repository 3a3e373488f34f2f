#include "dns/dns_learner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/dns_message.h"
#include "dns/dns_test_util.h"

namespace picket {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::DnsBuilder;

class DnsLearnerTest : public ::testing::Test {
 protected:
  std::vector<std::string> Names(const char* ip) {
    std::vector<std::string> names;
    cache_.Lookup(*IpAddress::Parse(ip), now_, &names);
    return names;
  }
  DnsCache::Clock::time_point now_{std::chrono::seconds(100)};
  DnsCache cache_{DnsCacheOptions{}};
  DnsLearner learner_{&cache_};
};

TEST_F(DnsLearnerTest, UdpResponseTeachesTheQuestionNameForEveryAddress) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 3);
  b.Question("www.example.org")
      .Cname("www.example.org", 60, "edge.cdn.example")
      .A("edge.cdn.example", 60, {198, 18, 0, 2})
      .Aaaa("edge.cdn.example", 60, {0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  EXPECT_EQ(learner_.Learn(DnsTransport::kUdp, b.bytes, now_), 2u);
  EXPECT_THAT(Names("198.18.0.2"), ElementsAre("www.example.org"));
  EXPECT_THAT(Names("2001:2::2"), ElementsAre("www.example.org"));
  EXPECT_EQ(learner_.counters().responses, 1u);
  EXPECT_EQ(learner_.counters().addresses, 2u);
}

TEST_F(DnsLearnerTest, TcpSegmentWithALengthPrefix) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("tcp.example").A("tcp.example", 60, {198, 18, 0, 3});
  std::vector<uint8_t> segment = {0, static_cast<uint8_t>(b.bytes.size())};
  segment.insert(segment.end(), b.bytes.begin(), b.bytes.end());
  EXPECT_EQ(learner_.Learn(DnsTransport::kTcp, segment, now_), 1u);
  EXPECT_THAT(Names("198.18.0.3"), ElementsAre("tcp.example"));
  EXPECT_EQ(learner_.Learn(DnsTransport::kTcp, {}, now_), 0u);
  EXPECT_EQ(learner_.counters().empty_segments, 1u);
  EXPECT_EQ(learner_.Learn(DnsTransport::kTcp, std::span<const uint8_t>(segment).first(10), now_), 0u);
  EXPECT_THAT(learner_.counters().last_rejection, HasSubstr("not complete"));
}

TEST_F(DnsLearnerTest, MalformedResponseIsCountedWithItsReason) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 0);
  b.Pointer(kDnsHeaderBytes).U16(1).U16(1);
  EXPECT_EQ(learner_.Learn(DnsTransport::kUdp, b.bytes, now_), 0u);
  EXPECT_EQ(learner_.counters().rejected, 1u);
  EXPECT_THAT(learner_.counters().last_rejection, HasSubstr("loop"));
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(DnsLearnerTest, QuestionNameOfAQuery) {
  DnsBuilder q(DnsBuilder::kQueryFlags, 1, 0);
  q.Question("Blocked.Example.ORG");
  EXPECT_EQ(DnsLearner::QuestionName(q.bytes), "blocked.example.org");
  EXPECT_EQ(DnsLearner::QuestionName(std::span<const uint8_t>(q.bytes).first(15)), std::nullopt);
  DnsBuilder root(DnsBuilder::kQueryFlags, 1, 0);
  root.Question("");
  EXPECT_EQ(DnsLearner::QuestionName(root.bytes), std::nullopt);
}

}  // namespace
}  // namespace picket
