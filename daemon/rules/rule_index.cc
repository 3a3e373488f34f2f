#include "rules/rule_index.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <optional>

namespace picket {
namespace {

constexpr int64_t kRegexpSetMaxMem = int64_t{64} << 20;

enum class GuardClass : uint8_t { kText, kNumber, kAddress, kHostExact, kHostSuffix, kNetwork, kPortRange, kRegexp };

struct Guard {
  const Operator* op = nullptr;
  GuardClass kind = GuardClass::kText;
  int rank = 0;  // lower: more selective
};

bool IsTextEqualityOperand(Operand operand) {
  switch (operand) {
    case Operand::kProcessPath:
    case Operand::kProcessCommand:
    case Operand::kProtocol:
    case Operand::kIfaceIn:
    case Operand::kIfaceOut:
    case Operand::kProcessContainer:
    case Operand::kProcessCgroup: return true;
    default: return false;
  }
}

bool IsNumberOperand(Operand operand) {
  switch (operand) {
    case Operand::kProcessId:
    case Operand::kUserId:
    case Operand::kUserName:
    case Operand::kDestPort:
    case Operand::kSourcePort: return true;
    default: return false;
  }
}

// Operands whose regexp is matched against ConnectionFields::Text (one value) or the host names.
bool IsRegexpGuardOperand(Operand operand) {
  switch (operand) {
    case Operand::kProcessPath:
    case Operand::kProcessCommand:
    case Operand::kProcessId:
    case Operand::kUserId:
    case Operand::kDestIp:
    case Operand::kDestPort:
    case Operand::kSourceIp:
    case Operand::kSourcePort:
    case Operand::kProtocol:
    case Operand::kIfaceIn:
    case Operand::kIfaceOut:
    case Operand::kProcessContainer:
    case Operand::kProcessCgroup:
    case Operand::kDestHost: return true;
    default: return false;
  }
}

std::optional<Guard> SimpleGuard(const Operator& op) {
  if (IsTextEqualityOperand(op.operand)) {
    const bool selective = op.operand == Operand::kProcessPath || op.operand == Operand::kProcessCommand;
    return Guard{&op, GuardClass::kText, selective ? 0 : 3};
  }
  if (IsNumberOperand(op.operand) && op.number.has_value()) return Guard{&op, GuardClass::kNumber, 3};
  if ((op.operand == Operand::kDestIp || op.operand == Operand::kSourceIp) && op.address.has_value()) {
    return Guard{&op, GuardClass::kAddress, 0};
  }
  if (op.operand == Operand::kDestHost && op.host.has_value()) {
    if (op.host->wildcard) return Guard{&op, GuardClass::kHostSuffix, 2};
    return Guard{&op, GuardClass::kHostExact, op.host->name.empty() ? 3 : 0};
  }
  return std::nullopt;
}

std::optional<Guard> LeafGuard(const Operator& op) {
  if (op.operand == Operand::kTrue) return std::nullopt;
  switch (op.type) {
    case OperatorType::kSimple: return SimpleGuard(op);
    case OperatorType::kRegexp:
      if (op.regexp != nullptr && IsRegexpGuardOperand(op.operand)) return Guard{&op, GuardClass::kRegexp, 4};
      return std::nullopt;
    case OperatorType::kNetwork:
      if (!op.networks.empty()) return Guard{&op, GuardClass::kNetwork, 1};
      return std::nullopt;
    case OperatorType::kRange:
      if (op.range.has_value() && (op.operand == Operand::kDestPort || op.operand == Operand::kSourcePort)) {
        return Guard{&op, GuardClass::kPortRange, 3};
      }
      return std::nullopt;
    default: return std::nullopt;
  }
}

// The most selective guard among `op` and, for AND lists, all its members.
void BestGuard(const Operator& op, std::optional<Guard>& best) {
  if (op.type == OperatorType::kList) {
    for (const Operator& child : op.list) BestGuard(child, best);
    return;
  }
  std::optional<Guard> guard = LeafGuard(op);
  if (guard.has_value() && (!best.has_value() || guard->rank < best->rank)) best = guard;
}

template <typename Map, typename Key>
void AppendHits(const Map& map, const Key& key, std::vector<uint32_t>& out) {
  auto it = map.find(key);
  if (it != map.end()) out.insert(out.end(), it->second.begin(), it->second.end());
}

void AppendSuffixHits(const auto& map, std::string_view host, std::vector<uint32_t>& out) {
  for (size_t dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
    AppendHits(map, host.substr(dot + 1), out);
  }
}

}  // namespace

struct RuleIndex::RegexpSlot {
  Operand operand;
  bool sensitive;
  std::unique_ptr<RE2::Set> set;
  std::vector<uint32_t> rules;  // set index → rule position

  RegexpSlot(Operand operand_in, bool sensitive_in) : operand(operand_in), sensitive(sensitive_in) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_never_capture(true);
    options.set_case_sensitive(sensitive);
    options.set_max_mem(kRegexpSetMaxMem);
    set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  }

  void Match(std::string_view text, std::vector<int>& hits, std::vector<uint32_t>& out) const {
    hits.clear();
    const re2::StringPiece piece(text.data(), text.size());
    RE2::Set::ErrorInfo error{};
    // Most texts match no pattern: ask "any?" first, which stops early and allocates nothing.
    if (!set->Match(piece, nullptr, &error) && error.kind == RE2::Set::kNoError) return;
    error = RE2::Set::ErrorInfo{};
    if (set->Match(piece, &hits, &error)) {
      for (int hit : hits) out.push_back(rules[static_cast<size_t>(hit)]);
    } else if (error.kind != RE2::Set::kNoError) {
      out.insert(out.end(), rules.begin(), rules.end());  // cannot tell: every rule is a candidate
    }
  }
};

struct RuleIndex::Builder {
  RuleIndex& index;

  TextSlot& Text(Operand operand, bool sensitive) {
    for (TextSlot& slot : index.text_) {
      if (slot.operand == operand && slot.sensitive == sensitive) return slot;
    }
    return index.text_.emplace_back(TextSlot{operand, sensitive, {}});
  }
  NumberSlot& Number(Operand operand) {
    for (NumberSlot& slot : index.numbers_) {
      if (slot.operand == operand) return slot;
    }
    return index.numbers_.emplace_back(NumberSlot{operand, {}});
  }
  AddressSlot& Address(Operand operand) {
    for (AddressSlot& slot : index.addresses_) {
      if (slot.operand == operand) return slot;
    }
    return index.addresses_.emplace_back(AddressSlot{operand, {}});
  }
  PortRangeSlot& PortRange(Operand operand) {
    for (PortRangeSlot& slot : index.port_ranges_) {
      if (slot.operand == operand) return slot;
    }
    return index.port_ranges_.emplace_back(PortRangeSlot{operand, std::vector<std::vector<RangeEntry>>(256)});
  }
  RegexpSlot& Regexp(Operand operand, bool sensitive) {
    for (auto& slot : index.regexps_) {
      if (slot->operand == operand && slot->sensitive == sensitive) return *slot;
    }
    return *index.regexps_.emplace_back(std::make_unique<RegexpSlot>(operand, sensitive));
  }

  void Add(uint32_t position, const Guard& guard) {
    const Operator& op = *guard.op;
    switch (guard.kind) {
      case GuardClass::kText:
        Text(op.operand, op.sensitive).by_value[op.sensitive ? op.data : FoldCase(op.data)].push_back(position);
        ++index.stats_.equality;
        return;
      case GuardClass::kNumber: {
        const Operand slot = op.operand == Operand::kUserName ? Operand::kUserId : op.operand;
        Number(slot).by_value[*op.number].push_back(position);
        ++index.stats_.equality;
        return;
      }
      case GuardClass::kAddress:
        Address(op.operand).by_value[*op.address].push_back(position);
        ++index.stats_.equality;
        return;
      case GuardClass::kHostExact:
        index.hosts_exact_[op.sensitive ? 1 : 0][op.host->name].push_back(position);
        ++index.stats_.equality;
        return;
      case GuardClass::kHostSuffix:
        index.hosts_suffix_[op.sensitive ? 1 : 0][op.host->name].push_back(position);
        ++index.stats_.host_suffix;
        return;
      case GuardClass::kNetwork: {
        PrefixMap<uint32_t>& map =
            op.operand == Operand::kSourceNetwork ? index.source_networks_ : index.dest_networks_;
        for (const IpNetwork& network : op.networks) map.Insert(network, position);
        ++index.stats_.network;
        return;
      }
      case GuardClass::kPortRange: {
        const uint64_t max = std::min<uint64_t>(op.range->max, 65535);
        if (op.range->min > max) {  // can never match: still a candidate nowhere
          ++index.stats_.port_range;
          return;
        }
        PortRangeSlot& slot = PortRange(op.operand);
        const RangeEntry entry{position, static_cast<uint16_t>(op.range->min), static_cast<uint16_t>(max)};
        for (uint64_t bucket = op.range->min >> 8; bucket <= (max >> 8); ++bucket) slot.buckets[bucket].push_back(entry);
        ++index.stats_.port_range;
        return;
      }
      case GuardClass::kRegexp: {
        RegexpSlot& slot = Regexp(op.operand, op.sensitive);
        if (slot.set->Add(re2::StringPiece(op.data.data(), op.data.size()), nullptr) < 0) {
          index.unguarded_.push_back(position);
          return;
        }
        slot.rules.push_back(position);
        return;
      }
    }
  }

  void Finish() {
    index.dest_networks_.Finish();
    index.source_networks_.Finish();
    std::vector<std::unique_ptr<RegexpSlot>> compiled;
    for (auto& slot : index.regexps_) {
      if (slot->set->Compile()) {
        index.stats_.regexp += slot->rules.size();
        compiled.push_back(std::move(slot));
      } else {
        index.unguarded_.insert(index.unguarded_.end(), slot->rules.begin(), slot->rules.end());
      }
    }
    index.regexps_ = std::move(compiled);
    std::sort(index.unguarded_.begin(), index.unguarded_.end());
    index.stats_.unguarded = index.unguarded_.size();
  }
};

RuleIndex::RuleIndex(const std::vector<Rule>& rules, const std::vector<uint32_t>& enabled) {
  Builder builder{*this};
  for (uint32_t position : enabled) {
    std::optional<Guard> guard;
    BestGuard(rules[position].op, guard);
    if (guard.has_value()) {
      builder.Add(position, *guard);
    } else {
      unguarded_.push_back(position);
    }
  }
  builder.Finish();
}

RuleIndex::~RuleIndex() = default;

void RuleIndex::GuardedCandidates(ConnectionFields& fields, std::vector<uint32_t>& out) const {
  out.clear();
  for (const TextSlot& slot : text_) {
    const std::optional<std::string_view> value = slot.sensitive ? fields.Text(slot.operand) : fields.FoldedText(slot.operand);
    if (value.has_value()) AppendHits(slot.by_value, *value, out);
  }
  for (const NumberSlot& slot : numbers_) {
    if (const std::optional<uint32_t> value = fields.Number(slot.operand)) AppendHits(slot.by_value, *value, out);
  }
  for (const AddressSlot& slot : addresses_) {
    AppendHits(slot.by_value, slot.operand == Operand::kSourceIp ? fields.source_ip() : fields.dest_ip(), out);
  }
  for (const PortRangeSlot& slot : port_ranges_) {
    const std::optional<uint32_t> port = fields.Number(slot.operand);
    if (!port.has_value() || *port > 65535) continue;
    for (const RangeEntry& entry : slot.buckets[*port >> 8]) {
      if (*port >= entry.min && *port <= entry.max) out.push_back(entry.position);
    }
  }
  if (!hosts_exact_[0].empty() || !hosts_suffix_[0].empty()) {
    for (std::string_view host : fields.NormalizedHosts()) {
      AppendHits(hosts_exact_[0], host, out);
      AppendSuffixHits(hosts_suffix_[0], host, out);
    }
  }
  if (!hosts_exact_[1].empty() || !hosts_suffix_[1].empty()) {
    for (std::string_view host : fields.Hosts()) {
      AppendHits(hosts_exact_[1], host, out);
      AppendSuffixHits(hosts_suffix_[1], host, out);
    }
  }
  auto append_all = [&out](const std::vector<uint32_t>& positions) {
    out.insert(out.end(), positions.begin(), positions.end());
    return true;
  };
  if (!dest_networks_.empty()) dest_networks_.Find(fields.dest_ip(), append_all);
  if (!source_networks_.empty()) source_networks_.Find(fields.source_ip(), append_all);
  if (!regexps_.empty()) {
    thread_local std::vector<int> hits;
    for (const auto& slot : regexps_) {
      if (slot->operand == Operand::kDestHost) {
        for (std::string_view host : fields.Hosts()) slot->Match(host, hits, out);
      } else if (const std::optional<std::string_view> value = fields.Text(slot->operand)) {
        slot->Match(*value, hits, out);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace picket
