// Fuzz target: arbitrary bytes through the line splitter and the decoder. Whatever decodes must
// encode again and decode to a message of the same type (encode/decode agree).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ui-protocol/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace picket::ui;
  LineSplitter splitter(4096);
  splitter.Append(std::string_view(reinterpret_cast<const char*>(data), size));
  while (auto line = splitter.Next()) {
    auto decoded = Decode(*line);
    auto* message = std::get_if<Message>(&decoded);
    if (message == nullptr) continue;
    std::string encoded = Encode(*message);
    if (encoded.empty() || encoded.back() != '\n') std::abort();
    encoded.pop_back();
    auto again = Decode(encoded);
    auto* second = std::get_if<Message>(&again);
    if (second == nullptr || second->index() != message->index()) std::abort();
  }
  return 0;
}
