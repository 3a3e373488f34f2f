#include "verdict/pending_table.h"

#include <gtest/gtest.h>

#include "testing/flows.h"

namespace picket {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = PendingTable::TimePoint;

const TimePoint kStart = TimePoint() + seconds(1000);

Flow TcpFlow(uint16_t src_port, const char* dst = "198.18.0.2", uint16_t dst_port = 7000) {
  Flow flow = testing_util::MakeFlow(Protocol::kTcp, dst, dst_port, /*uid=*/1000);
  flow.src_port = src_port;
  flow.tcp_syn = true;
  return flow;
}

Attribution Process(const std::string& path, pid_t pid, uint32_t uid = 1000) {
  Attribution a = testing_util::ProcessAttribution(pid, path, {}, uid);
  a.process->start_time_ticks = 100u + static_cast<uint64_t>(pid);
  return a;
}

PendingTableOptions Options(size_t packets = 16, size_t prompts = 4) {
  return PendingTableOptions{packets, prompts, seconds(30)};
}

TEST(PendingTableTest, FurtherPacketsOfAFlowJoinIt) {
  PendingTable table(Options());
  const Flow flow = TcpFlow(40000);
  const Attribution curl = Process("/usr/bin/curl", 10);
  PendingAdded first = table.Add(flow, curl, nullptr, HeldPacket{1, 0}, kStart);
  EXPECT_EQ(first.outcome, PendingOutcome::kNewPrompt);
  EXPECT_TRUE(table.HasFlow(flow));
  PendingAdded retransmit = table.Add(flow, curl, nullptr, HeldPacket{2, 7}, kStart + seconds(1));
  EXPECT_EQ(retransmit.outcome, PendingOutcome::kJoinedFlow);
  EXPECT_EQ(retransmit.prompt_id, first.prompt_id);
  const PendingPrompt* prompt = table.Find(first.prompt_id);
  ASSERT_NE(prompt, nullptr);
  ASSERT_EQ(prompt->flows.size(), 1u);
  ASSERT_EQ(prompt->flows[0].packets.size(), 2u);
  EXPECT_EQ(prompt->flows[0].packets[1].id, 2u);
  EXPECT_EQ(prompt->flows[0].packets[1].mark, 7u);
  EXPECT_EQ(table.packet_count(), 2u);
  EXPECT_EQ(table.counters().joined_flow, 1u);
}

TEST(PendingTableTest, SameProgramToSameDestinationJoinsThePrompt) {
  PendingTable table(Options());
  const uint64_t id = table.Add(TcpFlow(40000), Process("/usr/bin/curl", 10), nullptr, {1, 0}, kStart).prompt_id;
  // Another process of the same executable, another source port: the same prompt.
  PendingAdded joined = table.Add(TcpFlow(40001), Process("/usr/bin/curl", 11), nullptr, {2, 0}, kStart);
  EXPECT_EQ(joined.outcome, PendingOutcome::kJoinedPrompt);
  EXPECT_EQ(joined.prompt_id, id);
  // Another program, another port, another address or another user: prompts of their own.
  EXPECT_EQ(table.Add(TcpFlow(40002), Process("/usr/bin/wget", 12), nullptr, {3, 0}, kStart).outcome,
            PendingOutcome::kNewPrompt);
  EXPECT_EQ(table.Add(TcpFlow(40003, "198.18.0.2", 7001), Process("/usr/bin/curl", 10), nullptr, {4, 0}, kStart).outcome,
            PendingOutcome::kNewPrompt);
  EXPECT_EQ(table.Add(TcpFlow(40004, "198.18.0.3"), Process("/usr/bin/curl", 10), nullptr, {5, 0}, kStart).outcome,
            PendingOutcome::kNewPrompt);
  EXPECT_EQ(table.Add(TcpFlow(40005), Process("/usr/bin/curl", 13, 1001), nullptr, {6, 0}, kStart).outcome,
            PendingOutcome::kOverflow);  // a fifth prompt: over max_prompts (4)
  EXPECT_EQ(table.prompt_count(), 4u);
  EXPECT_EQ(table.Find(id)->flows.size(), 2u);
  EXPECT_EQ(table.counters().joined_prompt, 1u);
}

// `config set prompt_timeout_seconds`: prompts opened after set_timeout get the new deadline; an
// open prompt keeps its own.
TEST(PendingTableTest, SetTimeoutAppliesToPromptsOpenedAfterIt) {
  PendingTable table(Options());
  const uint64_t before = table.Add(TcpFlow(40000), Process("/usr/bin/curl", 10), nullptr, {1, 0}, kStart).prompt_id;
  table.set_timeout(seconds(2));
  const uint64_t after =
      table.Add(TcpFlow(40001, "198.18.0.3"), Process("/usr/bin/curl", 10), nullptr, {2, 0}, kStart).prompt_id;
  ASSERT_NE(table.Find(before), nullptr);
  ASSERT_NE(table.Find(after), nullptr);
  EXPECT_EQ(table.Find(before)->deadline, kStart + seconds(30));
  EXPECT_EQ(table.Find(after)->deadline, kStart + seconds(2));
}

TEST(PendingTableTest, BoundsRefuseAndCount) {
  PendingTable table(Options(/*packets=*/3, /*prompts=*/1));
  const Attribution curl = Process("/usr/bin/curl", 10);
  EXPECT_EQ(table.Add(TcpFlow(40000), curl, nullptr, {1, 0}, kStart).outcome, PendingOutcome::kNewPrompt);
  // A second prompt does not fit (max 1): the default applies.
  EXPECT_EQ(table.Add(TcpFlow(40001, "198.18.0.9"), curl, nullptr, {2, 0}, kStart).outcome, PendingOutcome::kOverflow);
  EXPECT_EQ(table.Add(TcpFlow(40000), curl, nullptr, {3, 0}, kStart).outcome, PendingOutcome::kJoinedFlow);
  EXPECT_EQ(table.Add(TcpFlow(40002), curl, nullptr, {4, 0}, kStart).outcome, PendingOutcome::kJoinedPrompt);
  // The packet bound (3) is reached: a new flow is refused, a pending flow's packet too.
  EXPECT_EQ(table.Add(TcpFlow(40003), curl, nullptr, {5, 0}, kStart).outcome, PendingOutcome::kOverflow);
  PendingAdded join = table.Add(TcpFlow(40000), curl, nullptr, {6, 0}, kStart);
  EXPECT_EQ(join.outcome, PendingOutcome::kOverflowJoin);
  EXPECT_NE(join.prompt_id, 0u);
  EXPECT_EQ(table.packet_count(), 3u);
  EXPECT_EQ(table.counters().overflow, 2u);
  EXPECT_EQ(table.counters().overflow_joins, 1u);
  // Releasing makes room again.
  ASSERT_TRUE(table.Take(join.prompt_id).has_value());
  EXPECT_EQ(table.packet_count(), 0u);
  EXPECT_FALSE(table.HasFlow(TcpFlow(40000)));
  EXPECT_EQ(table.Add(TcpFlow(40003), curl, nullptr, {7, 0}, kStart).outcome, PendingOutcome::kNewPrompt);
}

TEST(PendingTableTest, DeadlinesFollowTheInjectedTime) {
  PendingTable table(Options());
  const uint64_t a = table.Add(TcpFlow(40000), Process("/bin/a", 1), nullptr, {1, 0}, kStart).prompt_id;
  const uint64_t b = table.Add(TcpFlow(40001), Process("/bin/b", 2), nullptr, {2, 0}, kStart + seconds(10)).prompt_id;
  ASSERT_TRUE(table.NextDeadline().has_value());
  EXPECT_EQ(*table.NextDeadline(), kStart + seconds(30));
  EXPECT_TRUE(table.TakeExpired(kStart + seconds(29)).empty());
  std::vector<PendingPrompt> expired = table.TakeExpired(kStart + seconds(30));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, a);
  EXPECT_EQ(*table.NextDeadline(), kStart + seconds(40));
  // Joining a prompt does not extend its deadline.
  table.Add(TcpFlow(40002), Process("/bin/b", 3), nullptr, {3, 0}, kStart + seconds(39));
  expired = table.TakeExpired(kStart + seconds(40));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, b);
  EXPECT_EQ(expired[0].flows.size(), 2u);
  EXPECT_FALSE(table.NextDeadline().has_value());
  EXPECT_EQ(table.counters().timed_out, 2u);
  EXPECT_EQ(table.packet_count(), 0u);
}

TEST(PendingTableTest, ReleaseFlowsIfRemovesDecidedFlowsAndEmptiedPrompts) {
  PendingTable table(Options());
  const uint64_t a = table.Add(TcpFlow(40000), Process("/bin/a", 1), nullptr, {1, 0}, kStart).prompt_id;
  table.Add(TcpFlow(40001), Process("/bin/a", 2), nullptr, {2, 0}, kStart);
  const uint64_t b = table.Add(TcpFlow(40002, "198.18.0.3"), Process("/bin/b", 3), nullptr, {3, 0}, kStart).prompt_id;
  std::vector<uint32_t> released;
  int offered = 0;
  std::vector<uint64_t> emptied = table.ReleaseFlowsIf([&](uint64_t, PendingFlow& flow) {
    ++offered;
    if (flow.flow.src_port != 40001 && flow.flow.src_port != 40002) return false;
    released.push_back(flow.packets[0].id);
    return true;
  });
  EXPECT_EQ(offered, 3);
  EXPECT_EQ(released, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(emptied, std::vector<uint64_t>{b});
  EXPECT_EQ(table.Find(b), nullptr);
  ASSERT_NE(table.Find(a), nullptr);
  EXPECT_EQ(table.Find(a)->flows.size(), 1u);
  EXPECT_EQ(table.packet_count(), 1u);
  EXPECT_FALSE(table.HasFlow(TcpFlow(40001)));
  // b's program + destination key is free again: a new flow opens a new prompt.
  EXPECT_EQ(table.Add(TcpFlow(40003, "198.18.0.3"), Process("/bin/b", 3), nullptr, {4, 0}, kStart).outcome,
            PendingOutcome::kNewPrompt);
}

TEST(PendingTableTest, FillHostsNamesPromptsWithoutOne) {
  PendingTable table(Options());
  const std::vector<std::string> known = {"known.example"};
  const uint64_t named = table.Add(TcpFlow(40000, "198.18.0.5"), Process("/bin/a", 1), &known, {1, 0}, kStart).prompt_id;
  const uint64_t unnamed = table.Add(TcpFlow(40001), Process("/bin/a", 1), nullptr, {2, 0}, kStart).prompt_id;
  std::vector<uint64_t> changed = table.FillHosts([](const IpAddress& ip) {
    return ip.ToString() == "198.18.0.2" ? std::vector<std::string>{"server.example"} : std::vector<std::string>{};
  });
  EXPECT_EQ(changed, std::vector<uint64_t>{unnamed});
  EXPECT_EQ(table.Find(unnamed)->flows[0].hosts, std::vector<std::string>{"server.example"});
  EXPECT_EQ(table.Find(named)->flows[0].hosts, known);
  EXPECT_TRUE(table.FillHosts([](const IpAddress&) { return std::vector<std::string>{"x"}; }).empty());
}

TEST(PendingTableTest, TakeAllEmptiesTheTable) {
  PendingTable table(Options());
  table.Add(TcpFlow(40000), Process("/bin/a", 1), nullptr, {1, 0}, kStart);
  table.Add(TcpFlow(40001, "198.18.0.3"), Process("/bin/a", 1), nullptr, {2, 0}, kStart);
  EXPECT_EQ(table.TakeAll().size(), 2u);
  EXPECT_EQ(table.prompt_count(), 0u);
  EXPECT_EQ(table.packet_count(), 0u);
  EXPECT_FALSE(table.Take(1).has_value());
}

}  // namespace
}  // namespace picket
