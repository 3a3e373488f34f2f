// Matching of one compiled Operator (rules/rule.h) against one Connection.
//
// ConnectionFields holds the operand values of a connection for the duration of one RuleSet::Match
// call: values that need formatting (the command line, the destination address as text, numbers as
// decimal text) are computed on first use and then reused by every later operator, so matching a
// rule set allocates at most once per such value and not at all for the common operands.
// Thread-safety: a ConnectionFields belongs to one call on one thread; OperatorMatches is pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
  // the connection has none: process operands of an unknown sender, user.id without a uid, or
  // process.id/process.command of a kernel-made packet. kTrue and kList have no text.
  // The view stays valid for the lifetime of this object.
  std::optional<std::string_view> Text(Operand operand);

  // Numeric operands (process.id, user.id, dest.port); nullopt when absent or not numeric.
  std::optional<uint32_t> Number(Operand operand) const;

  // The destination address with IPv4-mapped IPv6 turned into IPv4.
  const IpAddress& dest_ip() const { return dest_ip_; }

 private:
  struct DecimalText {
    std::array<char, 12> chars{};
    uint8_t size = 0;
    bool ready = false;
  };
  std::optional<std::string_view> NumberText(Operand operand, DecimalText& cache);

  const Connection& connection_;
  IpAddress dest_ip_;
  std::optional<std::string> command_;
  std::optional<std::string> dest_ip_text_;
  DecimalText pid_text_;
  DecimalText uid_text_;
  DecimalText port_text_;
};

// True when `op` matches the connection described by `fields`.
bool OperatorMatches(const Operator& op, ConnectionFields& fields);

// Case-insensitive equality under Unicode simple case folding when both texts are valid UTF-8;
// otherwise ASCII letters fold and every other byte must be equal (so two different invalid
// byte sequences never compare equal).
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

}  // namespace picket
