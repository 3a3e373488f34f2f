// The `prompt` events the UI server publishes (ui-protocol/PROTOCOL.md, topic prompts): a pending
// prompt's process, destination, deadline and default; and the `{"closed":true}` end of a prompt.
// Pure functions. Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "rules/rule.h"
#include "ui-protocol/codec.h"
#include "verdict/pending_table.h"

namespace picket {

// The prompt's facts come from its first flow. `deadline` is RFC 3339; `default_duration` is the
// protocol's duration name ("once", "5m", "always" …).
ui::PromptEvent MakePromptEvent(const PendingPrompt& prompt, std::string deadline, Action default_action,
                                std::string_view default_duration);

ui::PromptEvent ClosedPromptEvent(uint64_t prompt_id);

}  // namespace picket
