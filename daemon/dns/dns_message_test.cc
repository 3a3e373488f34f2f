#include "dns/dns_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/dns_test_util.h"

namespace picket {
namespace {

using ::testing::HasSubstr;
using testing::DnsBuilder;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

TEST(DnsQuery, FirstQuestionLowercased) {
  DnsBuilder b(DnsBuilder::kQueryFlags, 1, 0);
  b.Question("WwW.Example.ORG", kDnsTypeAaaa);
  auto q = ParseDnsQuery(b.bytes);
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->name, "www.example.org");
  EXPECT_EQ(q->type, kDnsTypeAaaa);
  EXPECT_EQ(q->klass, kDnsClassIn);
}

TEST(DnsQuery, RejectsResponsesAndEmptyQuestionSections) {
  DnsBuilder response(DnsBuilder::kResponseFlags, 1, 0);
  response.Question("a.example");
  EXPECT_THAT(ParseDnsQuery(response.bytes).error().message, HasSubstr("response"));
  DnsBuilder none(DnsBuilder::kQueryFlags, 0, 0);
  EXPECT_THAT(ParseDnsQuery(none.bytes).error().message, HasSubstr("no question"));
}

TEST(DnsQuery, CapturePrefixCuttingTheNameIsTruncated) {
  DnsBuilder b(DnsBuilder::kQueryFlags, 1, 0);
  b.Question("a-rather-long-name.example.org");
  auto cut = std::span<const uint8_t>(b.bytes).first(20);
  EXPECT_THAT(ParseDnsQuery(cut).error().message, HasSubstr("truncated"));
}

TEST(DnsResponse, PlainAAnswer) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("api.example.org").A("api.example.org", 60, {198, 18, 0, 2});
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, 0x1234);
  EXPECT_EQ(r->rcode, 0);
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].address, Ip("198.18.0.2"));
  const DnsResolution res = ResolveAnswers(*r);
  EXPECT_EQ(res.name, "api.example.org");
  ASSERT_EQ(res.addresses.size(), 1u);
  EXPECT_EQ(res.addresses[0].address, Ip("198.18.0.2"));
  EXPECT_EQ(res.addresses[0].ttl, 60u);
}

TEST(DnsResponse, CompressedOwnerNamesAndAaaa) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 2);
  const uint16_t question = b.offset();
  b.Question("v6.example.org", kDnsTypeAaaa);
  b.Pointer(question).U16(kDnsTypeAaaa).U16(1).U32(300).U16(16);
  for (uint8_t x : {0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}) b.U8(x);
  // Second owner "www." + pointer into the question's "example.org" suffix.
  b.Labels("www").Pointer(static_cast<uint16_t>(question + 3)).U16(kDnsTypeA).U16(1).U32(30).U16(4);
  for (uint8_t x : {198, 18, 0, 9}) b.U8(x);
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->records.size(), 2u);
  EXPECT_EQ(r->records[0].name, "v6.example.org");
  EXPECT_EQ(r->records[0].address, Ip("2001:2::2"));
  EXPECT_EQ(r->records[1].name, "www.example.org");
  // Only the question's own name resolves; www.example.org is another owner.
  const DnsResolution res = ResolveAnswers(*r);
  ASSERT_EQ(res.addresses.size(), 1u);
  EXPECT_EQ(res.addresses[0].address, Ip("2001:2::2"));
}

TEST(DnsResponse, CnameChainResolvesToTheNameAsked) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 4);
  b.Question("shop.example.org")
      .Cname("shop.example.org", 3600, "shop.cdn.example.net")
      .Cname("shop.cdn.example.net", 20, "edge7.cdn.example.net")
      .A("edge7.cdn.example.net", 300, {198, 18, 0, 7})
      .A("unrelated.example.com", 300, {198, 18, 0, 66});
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const DnsResolution res = ResolveAnswers(*r);
  EXPECT_EQ(res.name, "shop.example.org");
  ASSERT_EQ(res.addresses.size(), 1u) << "an A record for an owner outside the chain must be ignored";
  EXPECT_EQ(res.addresses[0].address, Ip("198.18.0.7"));
  EXPECT_EQ(res.addresses[0].ttl, 20u) << "the smallest TTL along the chain";
}

TEST(DnsResponse, CnameLoopEndsWithoutAddresses) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 2);
  b.Question("a.example").Cname("a.example", 60, "b.example").Cname("b.example", 60, "a.example");
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(ResolveAnswers(*r).addresses.empty());
}

TEST(DnsResponse, NxdomainResolvesNothing) {
  DnsBuilder b(0x8183, 1, 1);
  b.Question("gone.example").A("gone.example", 60, {198, 18, 0, 1});
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rcode, 3);
  EXPECT_TRUE(ResolveAnswers(*r).addresses.empty());
}

TEST(DnsResponse, OtherRecordTypesAndClassesAreSkipped) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 3);
  b.Question("x.example");
  b.Name("x.example").U16(16).U16(1).U32(60).U16(3).U8(2).U8('h').U8('i');  // TXT
  b.Name("x.example").U16(1).U16(3).U32(60).U16(4).U32(0x01020304);         // class CH
  b.A("x.example", 60, {198, 18, 0, 3});
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].address, Ip("198.18.0.3"));
}

TEST(DnsResponse, TtlWithTopBitIsZero) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("x.example").A("x.example", 0x80000001u, {198, 18, 0, 3});
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->records[0].ttl, 0u);
}

TEST(DnsResponse, TcFlagIsReportedAndCompleteRecordsKept) {
  DnsBuilder b(0x8380, 1, 1);
  b.Question("x.example").A("x.example", 5, {198, 18, 0, 3});
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(ResolveAnswers(*r).addresses.size(), 1u);
}

TEST(DnsMalformed, EveryPrefixOfAGoodResponseIsRejectedNotCrashed) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 2);
  b.Question("shop.example.org").Cname("shop.example.org", 60, "edge.example.net").A("edge.example.net", 60, {1, 2, 3, 4});
  ASSERT_TRUE(ParseDnsResponse(b.bytes).ok());
  for (size_t n = 0; n < b.bytes.size(); ++n) {
    auto r = ParseDnsResponse(std::span<const uint8_t>(b.bytes).first(n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_THAT(r.error().message, HasSubstr("truncated")) << n;
  }
}

TEST(DnsMalformed, PointerToItselfIsALoop) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 0);
  b.Pointer(kDnsHeaderBytes).U16(1).U16(1);
  EXPECT_THAT(ParseDnsResponse(b.bytes).error().message, HasSubstr("loop"));
}

TEST(DnsMalformed, PointerForwardIsRejected) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 0);
  b.Pointer(20).U16(1).U16(1).Name("x.example");
  EXPECT_THAT(ParseDnsResponse(b.bytes).error().message, HasSubstr("does not point backwards"));
}

TEST(DnsMalformed, TwoPointersPingPongIsALoop) {
  // Answer owner at A: label "a" then pointer to B; at B: pointer back to A's label.
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("q.example");
  const uint16_t a = b.offset();
  b.Labels("a").Pointer(static_cast<uint16_t>(a + 4));  // points just after itself: forward
  b.Pointer(a);
  b.U16(1).U16(1).U32(1).U16(4).U32(0);
  auto r = ParseDnsResponse(b.bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("backwards"));
}

TEST(DnsMalformed, LoopThroughAnEarlierLabelIsRejected) {
  // Name at X: label "a", then a pointer back to X itself (X < pointer position): would repeat "a" for ever.
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("q.example");
  const uint16_t x = b.offset();
  b.Labels("a").Pointer(x).U16(1).U16(1).U32(1).U16(4).U32(0);
  EXPECT_THAT(ParseDnsResponse(b.bytes).error().message, HasSubstr("loop"));
}

TEST(DnsMalformed, NameLongerThan255BytesIsRejected) {
  std::string name;
  for (int i = 0; i < 5; ++i) name += std::string(60, 'a') + ".";
  name.pop_back();
  DnsBuilder b(DnsBuilder::kQueryFlags, 1, 0);
  b.Question(name);
  EXPECT_THAT(ParseDnsQuery(b.bytes).error().message, HasSubstr("longer than 255"));
}

TEST(DnsMalformed, ReservedLabelTypeIsRejected) {
  DnsBuilder b(DnsBuilder::kQueryFlags, 1, 0);
  b.U8(0x41).U8('a').U8(0).U16(1).U16(1);
  EXPECT_THAT(ParseDnsQuery(b.bytes).error().message, HasSubstr("label type 0x40"));
}

TEST(DnsMalformed, LabelWithDotOrControlByteIsRejected) {
  DnsBuilder dot(DnsBuilder::kQueryFlags, 1, 0);
  dot.U8(3).U8('a').U8('.').U8('b').U8(0).U16(1).U16(1);
  EXPECT_THAT(ParseDnsQuery(dot.bytes).error().message, HasSubstr("byte 0x2e"));
  DnsBuilder newline(DnsBuilder::kQueryFlags, 1, 0);
  newline.U8(1).U8('\n').U8(0).U16(1).U16(1);
  EXPECT_THAT(ParseDnsQuery(newline.bytes).error().message, HasSubstr("byte 0x0a"));
}

TEST(DnsMalformed, AddressRecordWithWrongLength) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("x.example").Name("x.example").U16(1).U16(1).U32(60).U16(5).U32(0).U8(0);
  EXPECT_THAT(ParseDnsResponse(b.bytes).error().message, HasSubstr("expected 4"));
}

TEST(DnsMalformed, CnameOverrunningItsRecordData) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("x.example").Name("x.example").U16(5).U16(1).U32(60).U16(3).Name("long.example");
  EXPECT_THAT(ParseDnsResponse(b.bytes).error().message, HasSubstr("CNAME"));
}

TEST(DnsMalformed, OpcodeAndQuestionCount) {
  DnsBuilder notify(0xa000, 1, 0);
  notify.Question("x.example");
  EXPECT_THAT(ParseDnsResponse(notify.bytes).error().message, HasSubstr("opcode 4"));
  DnsBuilder two(DnsBuilder::kResponseFlags, 2, 0);
  two.Question("x.example").Question("y.example");
  EXPECT_THAT(ParseDnsResponse(two.bytes).error().message, HasSubstr("2 questions"));
}

TEST(DnsOverTcp, LengthPrefixedMessage) {
  DnsBuilder b(DnsBuilder::kResponseFlags, 1, 1);
  b.Question("x.example").A("x.example", 60, {198, 18, 0, 3});
  std::vector<uint8_t> segment = {static_cast<uint8_t>(b.bytes.size() >> 8), static_cast<uint8_t>(b.bytes.size())};
  segment.insert(segment.end(), b.bytes.begin(), b.bytes.end());
  auto m = DnsOverTcpMessage(segment);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), b.bytes.size());
  EXPECT_TRUE(ParseDnsResponse(*m).ok());
  segment.pop_back();
  EXPECT_THAT(DnsOverTcpMessage(segment).error().message, HasSubstr("not complete"));
  EXPECT_THAT(DnsOverTcpMessage(std::span<const uint8_t>(segment).first(1)).error().message, HasSubstr("truncated"));
}

}  // namespace
}  // namespace picket
