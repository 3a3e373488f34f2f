// RuleIndex: narrows the rules a connection has to be matched against, without changing which
// rule decides (rules/FORMAT.md "Evaluation order").
//
// For every enabled rule the index picks one *guard*: an operator that must match for the rule to
// match (the rule's operator itself, or any member of an AND list, at any depth), chosen by how
// selective it is:
//   equality of process.path / process.command, dest.host, dest.ip / source.ip  → hash look-up
//   dest.network / source.network                                              → prefix map
//   dest.host "*.suffix"                                                        → hash look-up per label
//   equality of ports, ids, protocol, interfaces, container                     → hash look-up
//   port ranges                                                                 → 256 buckets of ports
//   regexp on a single-valued operand or dest.host                              → one RE2::Set per operand
// A rule without such an operator (e.g. `true`, lists, regexps on user.name) is *unguarded* and
// always a candidate. A candidate is then matched in full, so the index only has to be complete
// (every rule that can match is a candidate), never exact.
// Ownership: owns its tables; refers to rules by their position in the RuleSet's vector.
// Thread-safety: immutable after construction; Candidates may run on any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rules/network.h"
#include "rules/operator_match.h"
#include "rules/rule.h"

namespace picket {

class RuleIndex {
 public:
  // `rules` in evaluation order; only the positions listed in `enabled` (ascending) are indexed.
  RuleIndex(const std::vector<Rule>& rules, const std::vector<uint32_t>& enabled);
  ~RuleIndex();
  RuleIndex(const RuleIndex&) = delete;
  RuleIndex& operator=(const RuleIndex&) = delete;

  // Replaces `out` with the positions of the guarded rules whose guard matches, ascending, unique.
  void GuardedCandidates(ConnectionFields& fields, std::vector<uint32_t>& out) const;
  // Positions of the rules without a guard, ascending.
  const std::vector<uint32_t>& unguarded() const { return unguarded_; }

  struct Stats {
    size_t equality = 0;  // text, number, address and exact host guards
    size_t network = 0;
    size_t host_suffix = 0;
    size_t port_range = 0;
    size_t regexp = 0;    // rules guarded by a compiled RE2::Set
    size_t unguarded = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>()(text); }
  };
  using StringMap = std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>>;
  struct TextSlot {
    Operand operand;
    bool sensitive;  // false: keys are FoldCase'd
    StringMap by_value;
  };
  struct NumberSlot {
    Operand operand;
    std::unordered_map<uint32_t, std::vector<uint32_t>> by_value;
  };
  struct AddressSlot {
    Operand operand;
    std::unordered_map<IpAddress, std::vector<uint32_t>, IpAddressHash> by_value;
  };
  struct RangeEntry {
    uint32_t position;
    uint16_t min;
    uint16_t max;
  };
  struct PortRangeSlot {
    Operand operand;  // dest.port or source.port
    std::vector<std::vector<RangeEntry>> buckets;  // 256 buckets: ports [256*b, 256*b+255]
  };
  struct RegexpSlot;
  struct Builder;

  std::vector<TextSlot> text_;
  std::vector<NumberSlot> numbers_;
  std::vector<AddressSlot> addresses_;
  std::vector<PortRangeSlot> port_ranges_;
  StringMap hosts_exact_[2];   // [sensitive]
  StringMap hosts_suffix_[2];  // [sensitive]
  PrefixMap<uint32_t> dest_networks_;
  PrefixMap<uint32_t> source_networks_;
  std::vector<std::unique_ptr<RegexpSlot>> regexps_;
  std::vector<uint32_t> unguarded_;
  Stats stats_;
};

}  // namespace picket
