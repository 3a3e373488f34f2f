#include "process/process_source.h"

namespace picket {

Result<ProcessMonitor> ParseProcessMonitor(std::string_view text) {
  if (text == "auto") return ProcessMonitor::kAuto;
  if (text == "ebpf") return ProcessMonitor::kEbpf;
  if (text == "proc-connector") return ProcessMonitor::kProcConnector;
  if (text == "proc") return ProcessMonitor::kProc;
  return Error{"unknown process monitor '" + std::string(text) + "' (expected auto, ebpf, proc-connector or proc)"};
}

std::string_view ProcessMonitorName(ProcessMonitor monitor) {
  switch (monitor) {
    case ProcessMonitor::kAuto: return "auto";
    case ProcessMonitor::kEbpf: return "ebpf";
    case ProcessMonitor::kProcConnector: return "proc-connector";
    case ProcessMonitor::kProc: return "proc";
  }
  return "?";
}

}  // namespace picket
