// FailMode: what happens to new outbound connections when picketd is not there to decide.
//   kOpen   — the kernel accepts them (NFQUEUE bypass; queue-full packets accepted too).
//   kClosed — the kernel drops them until picketd decides again.
#pragma once

#include <cstdint>

namespace picket {

enum class FailMode : uint8_t { kOpen, kClosed };

}  // namespace picket
