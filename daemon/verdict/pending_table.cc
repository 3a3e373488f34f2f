#include "verdict/pending_table.h"

#include <algorithm>

namespace picket {

PendingTable::FlowKey PendingTable::FlowKeyOf(const Flow& flow) {
  return FlowKey{flow.protocol, flow.src.Normalized(), flow.dst.Normalized(), flow.src_port, flow.dst_port};
}

PendingTable::GroupKey PendingTable::GroupKeyOf(const Flow& flow, const Attribution& attribution) {
  GroupKey key{{}, attribution.uid ? attribution.uid : flow.uid, flow.dst.Normalized(), flow.dst_port, flow.protocol};
  if (attribution.kind == AttributionKind::kProcess && attribution.process) {
    key.path = attribution.process->exe_path;
    key.uid = attribution.process->uid;
  }
  return key;
}

bool PendingTable::HasFlow(const Flow& flow) const { return flow_index_.contains(FlowKeyOf(flow)); }

PendingAdded PendingTable::Add(const Flow& flow, const Attribution& attribution,
                               const std::vector<std::string>* hosts, HeldPacket packet, TimePoint now) {
  const FlowKey flow_key = FlowKeyOf(flow);
  const bool room = packet_count_ < options_.max_packets;
  if (auto it = flow_index_.find(flow_key); it != flow_index_.end()) {
    if (!room) {
      ++counters_.overflow_joins;
      return PendingAdded{PendingOutcome::kOverflowJoin, it->second};
    }
    PendingPrompt& prompt = prompts_.at(it->second);
    for (PendingFlow& pending : prompt.flows) {
      if (FlowKeyOf(pending.flow) == flow_key) pending.packets.push_back(packet);
    }
    ++packet_count_;
    ++counters_.packets;
    ++counters_.joined_flow;
    return PendingAdded{PendingOutcome::kJoinedFlow, prompt.id};
  }
  const GroupKey group_key = GroupKeyOf(flow, attribution);
  auto group = group_index_.find(group_key);
  if (!room || (group == group_index_.end() && prompts_.size() >= options_.max_prompts)) {
    ++counters_.overflow;
    return PendingAdded{PendingOutcome::kOverflow, 0};
  }
  PendingFlow pending{flow, attribution, hosts != nullptr ? *hosts : std::vector<std::string>{}, {packet}};
  ++packet_count_;
  ++counters_.packets;
  ++counters_.flows;
  PendingOutcome outcome = PendingOutcome::kJoinedPrompt;
  uint64_t id = 0;
  if (group != group_index_.end()) {
    id = group->second;
    ++counters_.joined_prompt;
  } else {
    id = next_id_++;
    PendingPrompt& prompt = prompts_[id];
    prompt.id = id;
    prompt.opened = now;
    prompt.deadline = now + options_.timeout;
    group_index_.emplace(group_key, id);
    ++counters_.prompts;
    outcome = PendingOutcome::kNewPrompt;
  }
  prompts_.at(id).flows.push_back(std::move(pending));
  flow_index_.emplace(flow_key, id);
  return PendingAdded{outcome, id};
}

const PendingPrompt* PendingTable::Find(uint64_t prompt_id) const {
  auto it = prompts_.find(prompt_id);
  return it == prompts_.end() ? nullptr : &it->second;
}

void PendingTable::Forget(const PendingPrompt& prompt) {
  for (const PendingFlow& flow : prompt.flows) {
    flow_index_.erase(FlowKeyOf(flow.flow));
    packet_count_ -= flow.packets.size();
  }
  std::erase_if(group_index_, [&](const auto& entry) { return entry.second == prompt.id; });
}

std::optional<PendingPrompt> PendingTable::Take(uint64_t prompt_id) {
  auto it = prompts_.find(prompt_id);
  if (it == prompts_.end()) return std::nullopt;
  PendingPrompt prompt = std::move(it->second);
  prompts_.erase(it);
  Forget(prompt);
  return prompt;
}

std::vector<PendingPrompt> PendingTable::TakeExpired(TimePoint now) {
  std::vector<uint64_t> expired;
  for (const auto& [id, prompt] : prompts_) {
    if (prompt.deadline <= now) expired.push_back(id);
  }
  std::vector<PendingPrompt> out;
  for (uint64_t id : expired) out.push_back(*Take(id));
  counters_.timed_out += out.size();
  return out;
}

std::vector<PendingPrompt> PendingTable::TakeAll() {
  std::vector<PendingPrompt> out;
  while (!prompts_.empty()) out.push_back(*Take(prompts_.begin()->first));
  return out;
}

std::vector<uint64_t> PendingTable::ReleaseFlowsIf(const std::function<bool(uint64_t, PendingFlow&)>& release) {
  std::vector<uint64_t> emptied;
  for (auto& [id, prompt] : prompts_) {
    const uint64_t prompt_id = id;
    std::erase_if(prompt.flows, [&](PendingFlow& flow) {
      if (!release(prompt_id, flow)) return false;
      flow_index_.erase(FlowKeyOf(flow.flow));
      packet_count_ -= flow.packets.size();
      return true;
    });
    if (prompt.flows.empty()) emptied.push_back(id);
  }
  for (uint64_t id : emptied) Take(id);
  return emptied;
}

std::vector<uint64_t> PendingTable::FillHosts(
    const std::function<std::vector<std::string>(const IpAddress&)>& hosts_for) {
  std::vector<uint64_t> changed;
  for (auto& [id, prompt] : prompts_) {
    if (!prompt.flows.front().hosts.empty()) continue;
    std::vector<std::string> names = hosts_for(prompt.flows.front().flow.dst);
    if (names.empty()) continue;
    for (PendingFlow& flow : prompt.flows) {
      if (flow.hosts.empty()) flow.hosts = names;
    }
    changed.push_back(id);
  }
  return changed;
}

std::optional<PendingTable::TimePoint> PendingTable::NextDeadline() const {
  std::optional<TimePoint> next;
  for (const auto& [id, prompt] : prompts_) {
    if (!next || prompt.deadline < *next) next = prompt.deadline;
  }
  return next;
}

}  // namespace picket
