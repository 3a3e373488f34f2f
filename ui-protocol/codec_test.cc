#include "ui-protocol/codec.h"

#include <gtest/gtest.h>

#include <QJsonArray>

namespace picket::ui {
namespace {

Message MustDecode(std::string_view line) {
  auto decoded = Decode(line);
  if (auto* error = std::get_if<DecodeError>(&decoded)) {
    ADD_FAILURE() << "decode failed: " << error->message << " for " << line;
    return Hello{};
  }
  return std::get<Message>(decoded);
}

DecodeError MustFail(std::string_view line) {
  auto decoded = Decode(line);
  if (auto* error = std::get_if<DecodeError>(&decoded)) return *error;
  ADD_FAILURE() << "decoded, expected an error: " << line;
  return {};
}

TEST(LineSplitterTest, SplitsAcrossChunksAndSkipsEmptyLines) {
  LineSplitter s(100);
  s.Append("{\"a\":1}\n\n{\"b\"");
  EXPECT_EQ(s.Next(), "{\"a\":1}");
  EXPECT_EQ(s.Next(), std::nullopt);
  s.Append(":2}\n");
  EXPECT_EQ(s.Next(), "{\"b\":2}");
  EXPECT_EQ(s.Next(), std::nullopt);
  EXPECT_EQ(s.buffered(), 0u);
  EXPECT_FALSE(s.overflowed());
}

TEST(LineSplitterTest, LineOverTheLimitBreaksFraming) {
  LineSplitter s(8);
  s.Append("12345678\n");
  EXPECT_EQ(s.Next(), "12345678");  // exactly the limit is fine
  s.Append("123456789");            // no newline yet, already too long
  EXPECT_EQ(s.Next(), std::nullopt);
  EXPECT_TRUE(s.overflowed());
  s.Append("\n{}\n");
  EXPECT_EQ(s.Next(), std::nullopt);
}

TEST(LineSplitterTest, CompleteLongLineInOneChunkOverflows) {
  LineSplitter s(4);
  s.Append("ok\n123456\nok\n");
  EXPECT_EQ(s.Next(), "ok");
  EXPECT_EQ(s.Next(), std::nullopt);
  EXPECT_TRUE(s.overflowed());
}

TEST(CodecTest, HelloDefaultsMinVersionAndRoundTrips) {
  Message m = MustDecode(R"({"type":"hello","version":1,"client":"picket 0.1"})");
  const auto& h = std::get<Hello>(m);
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.min_version, 1);
  EXPECT_EQ(h.client, "picket 0.1");
  Hello server;
  server.server = "picketd";
  server.role = Role::kReadOnly;
  EXPECT_EQ(Encode(server), "{\"role\":\"read-only\",\"server\":\"picketd\",\"type\":\"hello\",\"version\":1}\n");
  Hello back = std::get<Hello>(MustDecode(Encode(server)));
  EXPECT_EQ(back.role, Role::kReadOnly);
}

TEST(CodecTest, HelloMinAboveMaxIsBadMessage) {
  DecodeError e = MustFail(R"({"type":"hello","version":1,"min_version":2})");
  EXPECT_EQ(e.code, ErrorCode::kBadMessage);
  EXPECT_NE(e.message.find("min_version"), std::string::npos);
}

TEST(CodecTest, RequestsCarryIds) {
  EXPECT_EQ(std::get<StatusRequest>(MustDecode(R"({"type":"status","id":42})")).id, 42u);
  EXPECT_EQ(std::get<StatsRequest>(MustDecode(R"({"type":"stats","id":9007199254740991})")).id, kMaxId);
  auto sub = std::get<Subscribe>(MustDecode(R"({"type":"subscribe","id":1,"topics":["events","prompts"]})"));
  EXPECT_EQ(sub.topics, (std::vector<Topic>{Topic::kEvents, Topic::kPrompts}));
  EXPECT_EQ(IdOf(sub), 1u);
  EXPECT_EQ(IdOf(Hello{}), std::nullopt);
}

TEST(CodecTest, RulesOps) {
  auto add = std::get<RulesRequest>(MustDecode(R"({"type":"rules","id":3,"op":"add","rule":{"name":"x"}})"));
  EXPECT_EQ(add.op, RulesOp::kAdd);
  EXPECT_EQ(add.rule.value("name").toString(), "x");
  auto del = std::get<RulesRequest>(MustDecode(R"({"type":"rules","id":3,"op":"disable","name":"x"})"));
  EXPECT_EQ(del.op, RulesOp::kDisable);
  EXPECT_EQ(del.name, "x");
  DecodeError e = MustFail(R"({"type":"rules","id":3,"op":"delete"})");
  EXPECT_EQ(e.code, ErrorCode::kBadMessage);
  EXPECT_EQ(e.id, 3u);
  EXPECT_NE(e.message.find("'name'"), std::string::npos);
  e = MustFail(R"({"type":"rules","id":3,"op":"purge"})");
  EXPECT_NE(e.message.find("unknown value 'purge'"), std::string::npos);
}

TEST(CodecTest, RulesListPagingAndStatsTop) {
  auto page = std::get<RulesRequest>(MustDecode(R"({"type":"rules","id":3,"op":"list","offset":20,"limit":10})"));
  EXPECT_EQ(page.offset, 20u);
  EXPECT_EQ(page.limit, 10u);
  auto back = std::get<RulesRequest>(MustDecode(Encode(page)));
  EXPECT_EQ(back.offset, 20u);
  EXPECT_EQ(back.limit, 10u);
  auto all = std::get<RulesRequest>(MustDecode(R"({"type":"rules","id":3,"op":"list"})"));
  EXPECT_EQ(all.offset, 0u);
  EXPECT_EQ(all.limit, std::nullopt);
  EXPECT_EQ(Encode(all).find("limit"), std::string::npos);
  DecodeError e = MustFail(R"({"type":"rules","id":3,"op":"list","limit":0})");
  EXPECT_NE(e.message.find("'limit'"), std::string::npos);
  e = MustFail(R"({"type":"rules","id":3,"op":"list","offset":-1})");
  EXPECT_NE(e.message.find("'offset'"), std::string::npos);

  auto stats = std::get<StatsRequest>(MustDecode(R"({"type":"stats","id":4,"top":5})"));
  EXPECT_EQ(stats.top, 5u);
  EXPECT_EQ(std::get<StatsRequest>(MustDecode(Encode(stats))).top, 5u);
  EXPECT_EQ(std::get<StatsRequest>(MustDecode(R"({"type":"stats","id":4})")).top, std::nullopt);
  EXPECT_NE(MustFail(R"({"type":"stats","id":4,"top":"x"})").message.find("'top'"), std::string::npos);
}

TEST(CodecTest, EncodeValue) {
  EXPECT_EQ(EncodeValue(QJsonValue("deny")), "\"deny\"");
  EXPECT_EQ(EncodeValue(QJsonValue(5)), "5");
  EXPECT_EQ(EncodeValue(QJsonValue(true)), "true");
  EXPECT_EQ(EncodeValue(QJsonValue()), "null");
}

TEST(CodecTest, AnswerRoundTripsAndRejectsRepeatedScope) {
  Answer a;
  a.id = 7;
  a.prompt = 12;
  a.action = AnswerAction::kReject;
  a.duration = AnswerDuration::kUntilProcessExits;
  a.scope = {ScopeField::kExecutable, ScopeField::kPort};
  auto back = std::get<Answer>(MustDecode(Encode(a)));
  EXPECT_EQ(back.prompt, 12u);
  EXPECT_EQ(back.action, AnswerAction::kReject);
  EXPECT_EQ(back.duration, AnswerDuration::kUntilProcessExits);
  EXPECT_EQ(back.scope, a.scope);
  DecodeError e = MustFail(
      R"({"type":"answer","id":1,"prompt":1,"action":"allow","duration":"once","scope":["ip","ip"]})");
  EXPECT_NE(e.message.find("'ip' repeated"), std::string::npos);
  e = MustFail(R"({"type":"answer","id":1,"prompt":1,"action":"allow","duration":"once","scope":[]})");
  EXPECT_NE(e.message.find("must not be empty"), std::string::npos);
}

TEST(CodecTest, ConfigSetKeepsAnyValue) {
  auto c = std::get<ConfigRequest>(MustDecode(R"({"type":"config","id":1,"op":"set","key":"k","value":[1,2]})"));
  EXPECT_EQ(c.key, "k");
  EXPECT_TRUE(c.value.isArray());
  EXPECT_EQ(MustFail(R"({"type":"config","id":1,"op":"set","key":"k"})").code, ErrorCode::kBadMessage);
}

TEST(CodecTest, ErrorReplyWithoutIdAndWithSupportedRange) {
  ErrorReply e;
  e.code = ErrorCode::kVersionMismatch;
  e.message = "no common version";
  e.supported = std::make_pair(1, 1);
  std::string line = Encode(e);
  EXPECT_NE(line.find("\"id\":null"), std::string::npos);
  auto back = std::get<ErrorReply>(MustDecode(line));
  EXPECT_EQ(back.id, std::nullopt);
  EXPECT_EQ(back.code, ErrorCode::kVersionMismatch);
  EXPECT_EQ(back.supported, std::make_pair(1, 1));
  EXPECT_TRUE(ClosesConnection(ErrorCode::kVersionMismatch));
  EXPECT_FALSE(ClosesConnection(ErrorCode::kBadJson));
}

TEST(CodecTest, DecisionEventRoundTrips) {
  DecisionEvent ev;
  ev.time = "2026-11-21T10:00:00Z";
  ev.action = AnswerAction::kDeny;
  ev.rule = "default";
  ev.protocol = "tcp";
  ev.src = "198.18.0.1";
  ev.src_port = 40000;
  ev.dst = "198.18.0.2";
  ev.dst_port = 443;
  ev.pid = 77;
  ev.path = "/usr/bin/curl";
  ev.args = {"curl", "https://x"};
  EXPECT_EQ(Encode(ev).find("inferred"), std::string::npos) << Encode(ev);
  ev.via = "sock_diag+procfs";
  ev.inferred = true;
  auto back = std::get<DecisionEvent>(MustDecode(Encode(ev)));
  EXPECT_EQ(back.via, std::optional<std::string>("sock_diag+procfs"));
  EXPECT_TRUE(back.inferred);
  EXPECT_EQ(back.dst_port, 443);
  EXPECT_EQ(back.pid, 77);
  EXPECT_EQ(back.uid, std::nullopt);
  EXPECT_EQ(back.args, ev.args);
  EXPECT_EQ(back.action, AnswerAction::kDeny);
}

TEST(CodecTest, PromptAndAlertRoundTrip) {
  PromptEvent p;
  p.id = 5;
  p.details = QJsonObject{{"deadline", "t"}};
  auto back = std::get<PromptEvent>(MustDecode(Encode(p)));
  EXPECT_EQ(back.id, 5u);
  EXPECT_FALSE(back.closed);
  EXPECT_EQ(back.details.value("deadline").toString(), "t");
  Alert a{"t", Severity::kError, "disk full"};
  EXPECT_EQ(std::get<Alert>(MustDecode(Encode(a))).severity, Severity::kError);
}

TEST(CodecTest, MalformedInputIsRejectedWithReasons) {
  EXPECT_EQ(MustFail("{").code, ErrorCode::kBadJson);
  EXPECT_EQ(MustFail("[1]").code, ErrorCode::kBadJson);
  EXPECT_EQ(MustFail(R"({"id":1})").code, ErrorCode::kBadMessage);
  DecodeError unknown = MustFail(R"({"type":"reboot","id":4})");
  EXPECT_EQ(unknown.code, ErrorCode::kUnknownType);
  EXPECT_EQ(unknown.id, 4u);
  DecodeError bad_id = MustFail(R"({"type":"status","id":1.5})");
  EXPECT_EQ(bad_id.code, ErrorCode::kBadMessage);
  EXPECT_EQ(bad_id.id, std::nullopt);
  EXPECT_NE(bad_id.message.find("'id'"), std::string::npos);
  EXPECT_EQ(MustFail(R"({"type":"status","id":-1})").code, ErrorCode::kBadMessage);
  EXPECT_EQ(MustFail(R"({"type":"status","id":9007199254740992})").code, ErrorCode::kBadMessage);
  EXPECT_EQ(MustFail(R"({"type":"status"})").code, ErrorCode::kBadMessage);
}

TEST(CodecTest, EveryTypeNameIsItsSchemaName) {
  std::vector<Message> all = {Hello{}, Subscribe{}, StatusRequest{}, StatsRequest{}, RulesRequest{},
                              ConfigRequest{}, Answer{{}, {}, {}, {}, {ScopeField::kIp}}, ResultReply{},
                              ErrorReply{}, DecisionEvent{}, PromptEvent{}, Alert{}};
  for (const Message& m : all) {
    std::string line = Encode(m);
    auto decoded = Decode(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(std::holds_alternative<Message>(decoded)) << line << ": " << std::get<DecodeError>(decoded).message;
    EXPECT_EQ(TypeName(std::get<Message>(decoded)), TypeName(m));
  }
}

}  // namespace
}  // namespace picket::ui
