// Matching of one compiled Operator (rules/rule.h) against one Connection.
//
// ConnectionFields holds the operand values of a connection for the duration of one RuleSet::Match
// call: values that need formatting (the command line, addresses as text, numbers as decimal text,
// case-folded text for the rule index) are computed on first use and then reused by every later
// operator, so matching a rule set allocates at most once per such value and not at all for the
// common operands.
// Thread-safety: a ConnectionFields belongs to one call on one thread; OperatorMatches is pure.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "rules/connection.h"
#include "rules/rule.h"

namespace picket {

class ConnectionFields {
 public:
  explicit ConnectionFields(const Connection& connection);
  ConnectionFields(const ConnectionFields&) = delete;
  ConnectionFields& operator=(const ConnectionFields&) = delete;

  // The operand's value as text (what `simple` text comparison and `regexp` see), or nullopt when
  // the connection has none: process operands of an unknown sender, user.id without a uid,
  // process.id/process.command of a kernel-made packet, an interface without a name.
  // Operands without a single text value (true, list, networks, lists.*, dest.host, user.name)
  // have none here. The view stays valid for the lifetime of this object.
  std::optional<std::string_view> Text(Operand operand);

  // Text(operand) case-folded (see FoldCase), cached; nullopt when Text is.
  std::optional<std::string_view> FoldedText(Operand operand);

  // Numeric operands (process.id, user.id, user.name → the uid, dest.port, source.port); nullopt
  // when absent or not numeric.
  std::optional<uint32_t> Number(Operand operand) const;

  // Addresses with IPv4-mapped IPv6 turned into IPv4.
  const IpAddress& dest_ip() const { return dest_ip_; }
  const IpAddress& source_ip() const { return source_ip_; }

  // The names `dest.host` sees: the known names without a trailing dot, or one empty name when
  // none is known. NormalizedHosts(): the same in NormalizeHostName form (lower case).
  const std::vector<std::string_view>& Hosts();
  const std::vector<std::string_view>& NormalizedHosts();

  // process.parent.path: the process's ancestors, parent first; nullptr when the sender is not a
  // known process. process.env.NAME: the variable's value, nullopt when absent or unknown.
  // process.hash.*: Text() gives the computed digest (lowercase hex), nullopt when there is none.
  const std::vector<AncestorInfo>* Ancestors() const;
  std::optional<std::string_view> Env(std::string_view name) const;

 private:
  struct DecimalText {
    std::array<char, 12> chars{};
    uint8_t size = 0;
    bool ready = false;
  };
  std::optional<std::string_view> NumberText(Operand operand, DecimalText& cache);

  const Connection connection_;  // a copy of the view (three references), so a temporary may be passed
  IpAddress dest_ip_;
  IpAddress source_ip_;
  std::optional<std::string> command_;
  std::optional<std::string> dest_ip_text_;
  std::optional<std::string> source_ip_text_;
  DecimalText pid_text_;
  DecimalText uid_text_;
  DecimalText port_text_;
  DecimalText source_port_text_;
  std::vector<std::pair<Operand, std::unique_ptr<std::string>>> folded_;  // nullptr: no value
  std::optional<std::vector<std::string_view>> hosts_;
  std::optional<std::vector<std::string_view>> normalized_hosts_;
  std::vector<std::string> normalized_storage_;  // names that needed lower-casing (reserved: never moves)
};

// True when `op` matches the connection described by `fields`.
bool OperatorMatches(const Operator& op, ConnectionFields& fields);

// The form case-insensitive `simple` comparison uses: ASCII letters lowered; valid UTF-8 under
// Unicode case folding; in text that is not valid UTF-8 only ASCII letters fold.
std::string FoldCase(std::string_view text);

// FoldCase(a) == FoldCase(b), without allocating when both are ASCII (so two different invalid
// byte sequences never compare equal).
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

// `host` (already in the form the pattern was written for) matches the dest.host pattern.
bool HostPatternMatches(const HostPattern& pattern, std::string_view host);

}  // namespace picket
