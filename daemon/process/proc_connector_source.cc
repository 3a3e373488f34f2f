#include "process/proc_connector_source.h"

#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace picket {
namespace {

uint64_t ClockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Opens a handle of the initial network namespace: `preferred` (normally /proc/1/ns/net), else
// kthreadd's (/proc/2/ns/net): kernel threads always live in the initial namespaces, and some
// sandboxes deny access to PID 1.
Result<UniqueFd> OpenInitNetns(const std::string& preferred) {
  UniqueFd fd(open(preferred.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.valid()) return fd;
  const Error first = Error::FromErrno("open " + preferred);
  fd.reset(open("/proc/2/ns/net", O_RDONLY | O_CLOEXEC));
  if (fd.valid()) return fd;
  return Error{first.message + "; open /proc/2/ns/net: " + std::strerror(errno), first.sys_errno};
}

// Creates the connector socket inside the initial network namespace, then returns this thread to
// the namespace it was in.
Result<UniqueFd> SocketInNamespace(const std::string& netns_path) {
  UniqueFd own(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own.valid()) return Error::FromErrno("open /proc/thread-self/ns/net");
  auto target = OpenInitNetns(netns_path);
  if (!target.ok()) return target.error();
  if (setns(target->get(), CLONE_NEWNET) != 0) return Error::FromErrno("setns into the initial network namespace");
  UniqueFd sock(socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR));
  const int socket_errno = errno;
  if (setns(own.get(), CLONE_NEWNET) != 0) {
    // Cannot happen after the first setns worked; staying in the wrong namespace would break every
    // later socket of this thread, so this is fatal.
    std::perror("picketd: setns back to its own network namespace");
    std::abort();
  }
  if (!sock.valid()) return Error::FromErrno("socket(NETLINK_CONNECTOR)", socket_errno);
  return sock;
}

Status Subscribe(int fd) {
  constexpr size_t kLength = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op));
  alignas(nlmsghdr) char buffer[NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))] = {};
  auto* nl = reinterpret_cast<nlmsghdr*>(buffer);
  nl->nlmsg_len = kLength;
  nl->nlmsg_type = NLMSG_DONE;
  auto* cn = static_cast<cn_msg*>(NLMSG_DATA(nl));
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(proc_cn_mcast_op);
  const proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
  std::memcpy(cn->data, &op, sizeof(op));
  if (send(fd, buffer, kLength, 0) != static_cast<ssize_t>(kLength)) {
    return Error::FromErrno("proc connector: subscribe (PROC_CN_MCAST_LISTEN)");
  }
  return OkStatus();
}

}  // namespace

ProcConnectorSource::ProcConnectorSource(const ProcConnectorOptions& options, UniqueFd socket, UniqueFd proc_dir)
    : options_(options), socket_(std::move(socket)), proc_dir_(std::move(proc_dir)), buffer_(64 * 1024) {}

Result<std::unique_ptr<ProcConnectorSource>> ProcConnectorSource::Open(const ProcConnectorOptions& options) {
  UniqueFd proc_dir(open(options.proc_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc_dir.valid()) return Error::FromErrno("open " + options.proc_root);
  auto sock = SocketInNamespace(options.init_netns);
  if (!sock.ok()) return sock.error();
  const int size = options.receive_buffer_bytes;
  if (setsockopt(sock->get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    (void)setsockopt(sock->get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  if (bind(sock->get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Error::FromErrno("proc connector: bind");
  }
  if (Status s = Subscribe(sock->get()); !s.ok()) return s.error();
  return std::unique_ptr<ProcConnectorSource>(
      new ProcConnectorSource(options, std::move(*sock), std::move(proc_dir)));
}

Result<size_t> ProcConnectorSource::Drain(ProcessStore& store) {
  size_t applied = 0;
  for (;;) {
    const ssize_t n = recv(socket_.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == ENOBUFS) {
      // The socket overflowed: an unknown number of events is gone.
      ++counters_.lost;
      store.OnLostEvents(1);
      continue;
    }
    if (n < 0) return Error::FromErrno("proc connector: recv");
    const uint64_t before = counters_.events;
    HandleMessage(buffer_.data(), static_cast<size_t>(n), store);
    applied += counters_.events - before;
  }
  return applied;
}

void ProcConnectorSource::HandleMessage(const void* data, size_t size, ProcessStore& store) {
  const auto* nl = static_cast<const nlmsghdr*>(data);
  for (; NLMSG_OK(nl, size); nl = NLMSG_NEXT(nl, size)) {
    if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP) continue;
    const size_t payload = nl->nlmsg_len - NLMSG_HDRLEN;
    if (payload < sizeof(cn_msg) + offsetof(proc_event, event_data)) {
      ++counters_.malformed;
      continue;
    }
    const auto* cn = static_cast<const cn_msg*>(NLMSG_DATA(nl));
    if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
    proc_event ev{};
    std::memcpy(&ev, cn->data, std::min(sizeof(ev), payload - sizeof(cn_msg)));
    switch (ev.what) {
      case proc_event::PROC_EVENT_FORK:
        if (ev.event_data.fork.child_pid != ev.event_data.fork.child_tgid) break;  // a new thread
        ++counters_.events;
        OnForkOrExec(ev.event_data.fork.child_tgid, store, /*is_exec=*/false);
        break;
      case proc_event::PROC_EVENT_EXEC:
        ++counters_.events;
        OnForkOrExec(ev.event_data.exec.process_tgid, store, /*is_exec=*/true);
        break;
      case proc_event::PROC_EVENT_EXIT:
        if (ev.event_data.exit.process_pid != ev.event_data.exit.process_tgid) break;  // a thread
        ++counters_.events;
        OnExit(ev.event_data.exit.process_tgid, ev.timestamp_ns, store);
        break;
      default: break;
    }
  }
}

void ProcConnectorSource::OnForkOrExec(pid_t tgid, ProcessStore& store, bool is_exec) {
  ++counters_.procfs_reads;
  UniqueFd dir = OpenPidDir(proc_dir_.get(), tgid);
  if (dir.valid()) {
    auto event = ReadProcfsProcess(dir.get(), tgid, options_.read);
    if (event.ok()) {
      store.InsertFromProcfs(*event);
      return;
    }
  }
  ++counters_.procfs_misses;
  // An exec whose new image could not be read: what the store holds for the PID is outdated.
  if (is_exec) store.ForgetLive(tgid);
}

void ProcConnectorSource::OnExit(pid_t tgid, uint64_t monotonic_ns, ProcessStore& store) {
  std::optional<ProcKey> held = store.LiveKey(tgid);
  if (!held) return;
  // Event times are CLOCK_MONOTONIC; the store keeps CLOCK_BOOTTIME.
  const uint64_t boot_now = ClockNs(CLOCK_BOOTTIME);
  const uint64_t mono_now = ClockNs(CLOCK_MONOTONIC);
  const uint64_t age = mono_now > monotonic_ns ? mono_now - monotonic_ns : 0;
  store.OnExit(ExitEvent{boot_now > age ? boot_now - age : boot_now, *held, 0});
}

}  // namespace picket
