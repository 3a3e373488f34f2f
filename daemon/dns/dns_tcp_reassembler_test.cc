// The TCP DNS reassembler fed scripted segments: split messages, several per stream and per segment,
// retransmissions, gaps, bounds and expiry; and the learner learning a response split over segments.
#include "dns/dns_tcp_reassembler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/dns_learner.h"
#include "dns/dns_test_util.h"

namespace picket {
namespace {

using ::testing::ElementsAre;
using Bytes = std::vector<uint8_t>;

Bytes Framed(std::span<const uint8_t> message) {
  Bytes out(2 + message.size());
  out[0] = static_cast<uint8_t>(message.size() >> 8);
  out[1] = static_cast<uint8_t>(message.size());
  std::copy(message.begin(), message.end(), out.begin() + 2);
  return out;
}

Bytes Framed(const std::string& text) {
  return Framed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Bytes Cat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

Bytes Slice(const Bytes& bytes, size_t from, size_t to) {
  return Bytes(bytes.begin() + static_cast<std::ptrdiff_t>(from), bytes.begin() + static_cast<std::ptrdiff_t>(to));
}

class ReassemblerTest : public ::testing::Test {
 protected:
  explicit ReassemblerTest(DnsTcpReassemblerOptions options = {}) : reassembler_(options) {}

  DnsTcpStreamKey Stream(uint16_t client_port = 40000) {
    return DnsTcpStreamKey{*IpAddress::Parse("198.18.0.2"), *IpAddress::Parse("198.18.0.1"), 53, client_port};
  }
  void Syn(uint32_t isn, uint16_t client_port = 40000) {
    DnsTcpSegment s;
    s.stream = Stream(client_port);
    s.seq = isn;
    s.syn = true;
    Feed(s);
  }
  // Data at stream offset `offset` (0 = first byte after the SYN of `isn`).
  void Data(uint32_t isn, uint32_t offset, const Bytes& bytes, uint16_t client_port = 40000, bool fin = false) {
    DnsTcpSegment s;
    s.stream = Stream(client_port);
    s.seq = isn + 1 + offset;
    s.fin = fin;
    s.payload = bytes;
    Feed(s);
  }
  void Feed(const DnsTcpSegment& s) {
    reassembler_.Feed(s, now_, [this](std::span<const uint8_t> m) { messages_.emplace_back(m.begin(), m.end()); });
  }

  DnsTcpReassembler::Clock::time_point now_{std::chrono::seconds(1000)};
  DnsTcpReassembler reassembler_;
  std::vector<std::string> messages_;
};

TEST_F(ReassemblerTest, WholeMessagesInOneSegmentAreHandedOutDirectly) {
  Syn(100);
  Data(100, 0, Cat(Framed("first"), Framed("second")));
  EXPECT_THAT(messages_, ElementsAre("first", "second"));
  EXPECT_EQ(reassembler_.counters().reassembled, 0u);
  EXPECT_EQ(reassembler_.buffered_bytes(), 0u);
}

TEST_F(ReassemblerTest, MessageSplitOverSeveralSegmentsEvenInsideThePrefix) {
  const Bytes m = Framed("a response that spans three segments");
  Syn(0xfffffff0u);  // sequence numbers wrap around during the stream
  Data(0xfffffff0u, 0, Slice(m, 0, 1));
  Data(0xfffffff0u, 1, Slice(m, 1, 20));
  EXPECT_TRUE(messages_.empty());
  EXPECT_EQ(reassembler_.buffered_bytes(), 20u);
  Data(0xfffffff0u, 20, Cat(Slice(m, 20, m.size()), Slice(Framed("next"), 0, 3)));
  EXPECT_THAT(messages_, ElementsAre("a response that spans three segments"));
  Data(0xfffffff0u, static_cast<uint32_t>(m.size() + 3), Slice(Framed("next"), 3, 6), 40000, /*fin=*/true);
  EXPECT_THAT(messages_, ElementsAre("a response that spans three segments", "next"));
  EXPECT_EQ(reassembler_.counters().reassembled, 2u);
  EXPECT_EQ(reassembler_.streams(), 0u) << "FIN ends the stream";
  EXPECT_EQ(reassembler_.buffered_bytes(), 0u);
}

TEST_F(ReassemblerTest, RetransmissionsAreIgnoredAndOverlapsContributeOnlyNewBytes) {
  const Bytes m = Framed("retransmitted");
  Syn(5);
  Data(5, 0, Slice(m, 0, 6));
  Data(5, 0, Slice(m, 0, 6));   // exact retransmission
  Data(5, 2, Slice(m, 2, 10));  // overlaps: 4 old bytes, 4 new
  Data(5, 10, Slice(m, 10, m.size()));
  EXPECT_THAT(messages_, ElementsAre("retransmitted"));
  EXPECT_EQ(reassembler_.counters().retransmissions, 2u);
  EXPECT_EQ(reassembler_.counters().dropped_gap, 0u);
}

TEST_F(ReassemblerTest, GapDropsTheStreamUntilItEnds) {
  const Bytes m = Framed("never complete");
  Syn(7);
  Data(7, 0, Slice(m, 0, 4));
  Data(7, 8, Slice(m, 8, m.size()));  // bytes 4..8 missing
  EXPECT_TRUE(messages_.empty());
  EXPECT_EQ(reassembler_.counters().dropped_gap, 1u);
  EXPECT_EQ(reassembler_.buffered_bytes(), 0u);
  Data(7, 4, Slice(m, 4, 8));  // the late segment does not revive it
  EXPECT_TRUE(messages_.empty());
  EXPECT_EQ(reassembler_.counters().ignored_after_drop, 1u);
  Syn(900);  // a new connection on the same tuple starts afresh
  Data(900, 0, Framed("fresh"));
  EXPECT_THAT(messages_, ElementsAre("fresh"));
}

TEST_F(ReassemblerTest, StreamsAreKeptApart) {
  const Bytes a = Framed("stream a");
  const Bytes b = Framed("stream b");
  Syn(10, 40001);
  Syn(20, 40002);
  Data(10, 0, Slice(a, 0, 5), 40001);
  Data(20, 0, Slice(b, 0, 3), 40002);
  Data(20, 3, Slice(b, 3, b.size()), 40002);
  Data(10, 5, Slice(a, 5, a.size()), 40001);
  EXPECT_THAT(messages_, ElementsAre("stream b", "stream a"));
}

TEST_F(ReassemblerTest, StreamFirstMetMidwayIsReadFromThatSegment) {
  DnsTcpSegment s;
  s.stream = Stream();
  s.seq = 12345;
  const Bytes m = Framed("no syn seen");
  s.payload = m;
  Feed(s);
  EXPECT_THAT(messages_, ElementsAre("no syn seen"));
}

TEST_F(ReassemblerTest, IncompleteMessageAtCloseOrExpiryIsCounted) {
  Syn(1, 40001);
  Data(1, 0, Slice(Framed("cut short"), 0, 4), 40001);
  DnsTcpSegment rst;
  rst.stream = Stream(40001);
  rst.seq = 1 + 1 + 4;
  rst.rst = true;
  Feed(rst);
  EXPECT_EQ(reassembler_.counters().closed_incomplete, 1u);
  EXPECT_EQ(reassembler_.streams(), 0u);

  Syn(1, 40002);
  Data(1, 0, Slice(Framed("idle"), 0, 3), 40002);
  reassembler_.Expire(now_ + std::chrono::seconds(29));
  EXPECT_EQ(reassembler_.streams(), 1u);
  reassembler_.Expire(now_ + std::chrono::seconds(31));
  EXPECT_EQ(reassembler_.streams(), 0u);
  EXPECT_EQ(reassembler_.counters().expired, 1u);
  EXPECT_EQ(reassembler_.buffered_bytes(), 0u);
}

class BoundedReassemblerTest : public ReassemblerTest {
 protected:
  static DnsTcpReassemblerOptions Small() {
    DnsTcpReassemblerOptions o;
    o.max_streams = 2;
    o.max_message_bytes = 100;
    o.max_total_bytes = 60;
    return o;
  }
  BoundedReassemblerTest() : ReassemblerTest(Small()) {}
};

TEST_F(BoundedReassemblerTest, OversizedMessageDropsTheStream) {
  Syn(1);
  Data(1, 0, Bytes{0, 101, 'x'});
  EXPECT_EQ(reassembler_.counters().dropped_too_large, 1u);
  EXPECT_EQ(reassembler_.buffered_bytes(), 0u);
}

TEST_F(BoundedReassemblerTest, TotalBufferBoundDropsTheStreamThatWouldExceedIt) {
  const Bytes m = Framed(std::string(90, 'm'));
  Syn(1, 40001);
  Data(1, 0, Slice(m, 0, 50), 40001);
  EXPECT_EQ(reassembler_.buffered_bytes(), 50u);
  Syn(1, 40002);
  Data(1, 0, Slice(m, 0, 20), 40002);
  EXPECT_EQ(reassembler_.counters().dropped_total, 1u);
  EXPECT_EQ(reassembler_.buffered_bytes(), 50u) << "the other stream keeps its bytes";
  Data(1, 50, Slice(m, 50, 70), 40001);
  EXPECT_EQ(reassembler_.counters().dropped_total, 2u) << "growing past the bound drops too";
  EXPECT_EQ(reassembler_.buffered_bytes(), 0u);
}

TEST_F(BoundedReassemblerTest, MoreStreamsThanTheBoundEvictTheIdlest) {
  Syn(1, 40001);
  now_ += std::chrono::milliseconds(10);
  Syn(1, 40002);
  now_ += std::chrono::milliseconds(10);
  Syn(1, 40003);
  EXPECT_EQ(reassembler_.streams(), 2u);
  EXPECT_EQ(reassembler_.counters().dropped_streams, 1u);
  Data(1, 0, Framed("evicted stream is met anew"), 40001);
  EXPECT_EQ(messages_.size(), 1u) << "(read from that segment on, as a stream first met midway)";
}

TEST(DnsLearnerTcpTest, ResponseSplitOverSegmentsIsLearned) {
  DnsCache cache{DnsCacheOptions{}};
  DnsLearner learner(&cache);
  const auto now = DnsCache::Clock::time_point(std::chrono::seconds(100));
  testing::DnsBuilder b(testing::DnsBuilder::kResponseFlags, 1, 20);
  b.Question("many.example");
  for (uint8_t i = 1; i <= 20; ++i) b.A("many.example", 60, {198, 18, 1, i});
  const Bytes framed = Framed(b.bytes);

  DnsTcpSegment s;
  s.stream = DnsTcpStreamKey{*IpAddress::Parse("198.18.0.2"), *IpAddress::Parse("198.18.0.1"), 53, 40000};
  s.seq = 1000;
  s.syn = true;
  EXPECT_EQ(learner.LearnTcpSegment(s, now), 0u);
  s.syn = false;
  size_t learned = 0;
  for (size_t offset = 0; offset < framed.size(); offset += 50) {
    s.seq = 1001 + static_cast<uint32_t>(offset);
    s.payload = std::span<const uint8_t>(framed).subspan(offset, std::min<size_t>(50, framed.size() - offset));
    learned += learner.LearnTcpSegment(s, now);
  }
  EXPECT_EQ(learned, 20u);
  std::vector<std::string> names;
  cache.Lookup(*IpAddress::Parse("198.18.1.20"), now, &names);
  EXPECT_THAT(names, ElementsAre("many.example"));
  EXPECT_EQ(learner.tcp().counters().reassembled, 1u);
  EXPECT_EQ(learner.counters().responses, 1u);
}

}  // namespace
}  // namespace picket
