// Completing parsed rules with what lives outside the rule file: the uid of a `user.name`, the
// user table for regexps on user.name, and the contents of `lists` directories.
//
// ParseRule (rules/rule_parser.h) stays a pure function over bytes; these steps run in the loader.
// Thread-safety: as the ListStore / UserDirectory passed in (one thread).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rules/lists.h"
#include "rules/rule.h"
#include "rules/rule_parser.h"
#include "rules/users.h"

namespace picket {

// Sets the uid of every `simple` user.name operator and the user table of every `regexp` one.
// Error (field path, reason) when a simple user.name names no user.
std::optional<RuleParseError> ResolveUserNames(Rule& rule, UserDirectory& users);

// Binds every `lists` operator to the current content of its directory (read through `lists`).
// Error (field path, reason) when a directory cannot be read. `warnings` receives the directories'
// warnings (skipped lines, unreadable files).
std::optional<RuleParseError> BindLists(Rule& rule, ListStore& lists, std::vector<ListWarning>* warnings);

// True when the rule has a `lists` operator; ListDirectories appends their directories.
bool UsesLists(const Operator& op);
void ListDirectories(const Operator& op, std::vector<std::string>& out);

}  // namespace picket
