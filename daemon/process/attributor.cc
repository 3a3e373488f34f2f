#include "process/attributor.h"

#include "common/log.h"
#include "process/proc_reader.h"

namespace picket {

Result<std::unique_ptr<ProcfsAttributor>> ProcfsAttributor::Create(const ProcfsAttributorOptions& options) {
  auto sock_diag = SockDiag::Open();
  if (!sock_diag.ok()) return sock_diag.error();
  auto fd_index = ProcFdIndex::Open(ProcFdIndexOptions{options.proc_root, options.mru_pids});
  if (!fd_index.ok()) return fd_index.error();
  return std::unique_ptr<ProcfsAttributor>(new ProcfsAttributor(std::move(*sock_diag), std::move(*fd_index), options.resolver));
}

Attribution ProcfsAttributor::Attribute(const Flow& flow) {
  Attribution out;
  if (!flow.uid) {
    ++counters_.kernel;
    out.kind = AttributionKind::kKernel;
    out.method = kKernelMethod;
    return out;
  }
  out.kind = AttributionKind::kUnknown;
  out.method = resolver_ != nullptr ? resolver_->method() : kMethod;
  out.uid = flow.uid;
  if (!SockDiag::Supports(flow.protocol)) {
    ++counters_.unknown_unsupported;
    out.detail = std::string("no socket lookup for ") + (flow.protocol == Protocol::kIcmpV6 ? "icmp6" : "icmp");
    return out;
  }
  auto socket = sock_diag_->Lookup(SocketKey::FromOutboundFlow(flow));
  if (!socket.ok()) {
    if (++counters_.sock_diag_errors == 1) {
      PLOG(kWarn) << "attribution degraded: " << socket.error().message << " (further errors only counted)";
    }
    out.detail = socket.error().message;
    return out;
  }
  if (!socket->has_value()) {
    ++counters_.unknown_no_socket;
    out.detail = "no socket for tuple";
    return out;
  }
  out.uid = (*socket)->uid;
  AttributeSocket(**socket, out);
  return out;
}

void ProcfsAttributor::AttributeSocket(const SocketEntry& socket, Attribution& out) {
  if (socket.inode == 0) {
    ++counters_.unknown_no_process;
    out.detail = "socket in state " + std::to_string(socket.state) + " has no inode";
    return;
  }
  const std::string inode = std::to_string(socket.inode);
  auto holder = fd_index_->FindSocketHolder(socket.inode, socket.uid);
  if (!holder.ok()) {
    ++counters_.unknown_no_process;
    out.detail = "procfs: " + holder.error().message;
    return;
  }
  if (!holder->has_value()) {
    ++counters_.unknown_no_process;
    out.detail = "socket inode " + inode + " held by no process";
    return;
  }
  const SocketHolder& found = **holder;
  const std::string pid = std::to_string(found.pid);
  auto info = resolver_ != nullptr ? resolver_->Resolve(found.pid, found.pid_dir.get())
                                   : ReadProcessInfo(found.pid_dir.get(), found.pid);
  if (!info.ok()) {
    ++counters_.unknown_no_process;
    out.detail = "socket inode " + inode + ": reading holder pid " + pid + ": " + info.error().message;
    return;
  }
  // Read after the process files: a holder that exited (or closed the socket) meanwhile is not reported.
  if (!ProcFdIndex::StillHolds(found, socket.inode)) {
    ++counters_.unknown_no_process;
    out.detail = "socket inode " + inode + ": holder pid " + pid + " exited or closed it while being read";
    return;
  }
  ++(found.from_mru ? counters_.found_mru : counters_.found_scan);
  out.kind = AttributionKind::kProcess;
  out.evidence = AttributionEvidence::kInferred;  // the socket's holder now, not a record of the sender
  out.process = std::move(*info);
  out.detail.clear();
}

}  // namespace picket
