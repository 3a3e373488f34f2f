// PendingTable: the flows no rule decides while a person is asked (a prompt). Their packets hold NO
// verdict: the kernel keeps them queued until the flow is released.
//
//   flow    packets with the same 5-tuple (protocol, addresses, ports) — TCP SYN retransmits,
//           further UDP datagrams — join the flow already pending;
//   prompt  flows of the same program (executable path and user) to the same destination
//           (address, port, protocol) join one prompt, so one answer releases them all.
// Bounds: at most `max_packets` packets and `max_prompts` prompts. A packet of a new flow that does
// not fit is refused (kOverflow: the caller applies the default at once); a further packet of a
// pending flow that does not fit is refused too (kOverflowJoin: the caller drops it — the flow's
// first packet is still held, so nothing of the flow leaks). Both are counted.
// Time is passed in (`now`), so tests drive deadlines; the owner arms one timer at NextDeadline().
// Ownership: owns the held flows (copies of flow, attribution and host names). Thread-safety: none;
// the event-loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "netfilter/flow.h"
#include "process/process_info.h"

namespace picket {

struct HeldPacket {
  uint32_t id = 0;    // queue packet id (for the verdict)
  uint32_t mark = 0;  // its mark (a reject verdict ORs the reject bit into it)
};

struct PendingFlow {
  Flow flow;
  Attribution attribution;
  std::vector<std::string> hosts;  // DNS names of the destination when it was queued
  std::vector<HeldPacket> packets;
};

struct PendingPrompt {
  uint64_t id = 0;
  std::chrono::steady_clock::time_point opened;
  std::chrono::steady_clock::time_point deadline;
  std::vector<PendingFlow> flows;  // flows[0] opened the prompt
};

struct PendingCounters {
  uint64_t prompts = 0;          // prompts opened
  uint64_t flows = 0;            // flows held
  uint64_t packets = 0;          // packets held
  uint64_t joined_flow = 0;      // packets that joined a pending flow
  uint64_t joined_prompt = 0;    // flows that joined an open prompt
  uint64_t overflow = 0;         // new flows refused (default applied at once)
  uint64_t overflow_joins = 0;   // further packets of pending flows refused (dropped)
  uint64_t timed_out = 0;        // prompts whose deadline passed
};

enum class PendingOutcome : uint8_t {
  kNewPrompt,     // a prompt was opened for this flow (the caller publishes it)
  kJoinedPrompt,  // a new flow joined an open prompt
  kJoinedFlow,    // a further packet of a pending flow
  kOverflow,      // not held: apply the default now
  kOverflowJoin,  // not held, but its flow is: drop this packet
};

struct PendingAdded {
  PendingOutcome outcome = PendingOutcome::kOverflow;
  uint64_t prompt_id = 0;  // the prompt the packet joined or opened (0 for kOverflow)
};

struct PendingTableOptions {
  size_t max_packets = 1024;
  size_t max_prompts = 64;
  std::chrono::milliseconds timeout{30000};
};

class PendingTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit PendingTable(PendingTableOptions options) : options_(options) {}
  // The timeout of prompts opened from now on (open prompts keep their deadline).
  void set_timeout(std::chrono::milliseconds timeout) { options_.timeout = timeout; }

  // Whether a packet of this flow's 5-tuple is pending (then Add joins it).
  bool HasFlow(const Flow& flow) const;
  // Holds the packet (see the header comment).
  PendingAdded Add(const Flow& flow, const Attribution& attribution, const std::vector<std::string>* hosts,
                   HeldPacket packet, TimePoint now);

  const PendingPrompt* Find(uint64_t prompt_id) const;
  // Removes a prompt and returns it (nullopt: not pending).
  std::optional<PendingPrompt> Take(uint64_t prompt_id);
  // Removes and returns the prompts whose deadline is at or before `now` (counted as timed out).
  std::vector<PendingPrompt> TakeExpired(TimePoint now);
  // Removes and returns every prompt.
  std::vector<PendingPrompt> TakeAll();
  // Offers every pending flow to `release` (with its prompt id), once; the flows it returns true
  // for (it gave them their verdicts) are removed. Returns the ids of prompts left without flows
  // (they are removed too).
  std::vector<uint64_t> ReleaseFlowsIf(const std::function<bool(uint64_t, PendingFlow&)>& release);
  // Sets the host name of the prompts (and their flows) to `destination` that have none; returns
  // the ids of the prompts changed. `hosts_for` gives the names known now for an address.
  std::vector<uint64_t> FillHosts(const std::function<std::vector<std::string>(const IpAddress&)>& hosts_for);

  std::optional<TimePoint> NextDeadline() const;
  size_t prompt_count() const { return prompts_.size(); }
  size_t packet_count() const { return packet_count_; }
  const PendingCounters& counters() const { return counters_; }

 private:
  struct FlowKey {
    Protocol protocol;
    IpAddress src, dst;
    uint16_t src_port, dst_port;
    auto operator<=>(const FlowKey&) const = default;
  };
  struct GroupKey {
    std::string path;
    std::optional<uint32_t> uid;
    IpAddress dst;
    uint16_t dst_port;
    Protocol protocol;
    auto operator<=>(const GroupKey&) const = default;
  };
  static FlowKey FlowKeyOf(const Flow& flow);
  static GroupKey GroupKeyOf(const Flow& flow, const Attribution& attribution);
  void Forget(const PendingPrompt& prompt);

  PendingTableOptions options_;
  std::map<uint64_t, PendingPrompt> prompts_;       // by id (ascending = opening order)
  std::map<FlowKey, uint64_t> flow_index_;          // flow → prompt id
  std::map<GroupKey, uint64_t> group_index_;        // program + destination → prompt id
  size_t packet_count_ = 0;
  uint64_t next_id_ = 1;
  PendingCounters counters_;
};

}  // namespace picket
