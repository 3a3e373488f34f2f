#include "process/flow_owner_map.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "common/log.h"
#include "flow_owner.h"
#include "flow_owner.skel.h"
#include "process/process_record.h"
#include "process/procfs_scan.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace picket {
namespace {

Error LibbpfError(std::string_view step, int err) {
  const int e = err < 0 ? -err : err;
  return Error{"bpf flow_owner " + std::string(step) + ": " + std::strerror(e), e};
}

Result<uint64_t> OwnNetnsCookie() {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return Error::FromErrno("socket for the netns cookie");
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return Error::FromErrno("getsockopt SO_NETNS_COOKIE");
  }
  return cookie;
}

// Address bytes as the programs store them: IPv4 and IPv4-mapped IPv6 as family 4.
uint8_t PutAddress(const IpAddress& address, uint8_t out[16]) {
  std::memset(out, 0, 16);
  const auto& bytes = address.bytes();
  if (address.is_v4()) {
    std::memcpy(out, bytes.data(), 4);
    return 4;
  }
  if (address.IsV4MappedV6()) {
    std::memcpy(out, bytes.data() + 12, 4);
    return 4;
  }
  std::memcpy(out, bytes.data(), 16);
  return 6;
}

FlowOwner FromKernel(const pk_flow_owner& owner) {
  return FlowOwner{owner.tgid, owner.tid, owner.uid, owner.start_ns, owner.cgroup_id};
}

// The netfilter program type (kernel 6.4+) is newer than the uapi headers (6.1) and libbpf (1.1)
// this builds against, which name neither the type, its attach type, nor link_create.netfilter:
// the kernel ABI's values and layout are spelled out here.
constexpr int kProgTypeNetfilter = 32;    // BPF_PROG_TYPE_NETFILTER
constexpr int kAttachTypeNetfilter = 45;  // BPF_NETFILTER
// From <linux/netfilter.h>, which cannot be included next to <netinet/in.h> (both define in_addr).
constexpr uint32_t kNfProtoIpv4 = 2;   // NFPROTO_IPV4
constexpr uint32_t kNfProtoIpv6 = 10;  // NFPROTO_IPV6
constexpr uint32_t kNfInetLocalOut = 3;  // NF_INET_LOCAL_OUT
// union bpf_attr's link_create with its netfilter member (pf, hooknum, priority, flags).
struct NetfilterLinkCreate {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint32_t pf;
  uint32_t hooknum;
  int32_t priority;
  uint32_t netfilter_flags;
};

// A netfilter link for `prog_fd` at NF_INET_LOCAL_OUT of family `pf`, in the caller's netns.
Result<UniqueFd> CreateNetfilterLink(int prog_fd, uint32_t pf, int32_t priority) {
  NetfilterLinkCreate attr{};
  attr.prog_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = kAttachTypeNetfilter;
  attr.pf = pf;
  attr.hooknum = kNfInetLocalOut;
  attr.priority = priority;
  const long fd = syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
  if (fd < 0) {
    return Error::FromErrno(std::string("bpf(BPF_LINK_CREATE) netfilter ") + (pf == kNfProtoIpv4 ? "ipv4" : "ipv6") +
                            " LOCAL_OUT priority " + std::to_string(priority));
  }
  return UniqueFd(static_cast<int>(fd));
}

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// True when the running kernel has tracepoint `name` (its btf_trace_<name> typedef in vmlinux BTF).
bool KernelHasTracepoint(const char* name) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) return false;
  const bool found = btf__find_by_name_kind(vmlinux, (std::string("btf_trace_") + name).c_str(), BTF_KIND_TYPEDEF) > 0;
  btf__free(vmlinux);
  return found;
}

const char* LocalOutHookName(LocalOutHook hook) {
  switch (hook) {
    case LocalOutHook::kNetfilterLink: return "netfilter link";
    case LocalOutHook::kFentry: return "fentry/nf_hook_slow";
    case LocalOutHook::kKprobe: return "kprobe/nf_hook_slow";
    case LocalOutHook::kNone: break;
  }
  return "none";
}

}  // namespace

Result<std::unique_ptr<FlowOwnerMap>> FlowOwnerMap::Open(const FlowOwnerMapOptions& options) {
  std::unique_ptr<FlowOwnerMap> map(new FlowOwnerMap());
  auto cookie = OwnNetnsCookie();
  if (!cookie.ok()) return cookie.error();
  map->netns_cookie_ = *cookie;
  map->send_length_hook_ = options.send_length_hook && KernelHasTracepoint("sock_send_length");
  if (options.send_length_hook && !map->send_length_hook_) {
    PLOG(kWarn) << "bpf flow_owner: kernel has no sock_send_length tracepoint (before 6.3?): a connected UDP socket "
                   "closed before its datagram is looked up, and ping sockets without a LOCAL_OUT hook, go to the "
                   "fallback";
  }
  map->netfilter_status_ = "off";
  if (options.netfilter_hook) {
    // Each way of hooking LOCAL_OUT in turn, until the kernel takes one; a refused one is unloaded.
    std::string refused;
    for (LocalOutHook hook : options.local_out_hooks) {
      Status hooked = map->LoadWithHook(hook, options.netfilter_priority);
      if (hooked.ok()) break;
      refused += std::string(refused.empty() ? "" : "; ") + LocalOutHookName(hook) + ": " + hooked.error().message;
      map->Unload();
    }
    map->netfilter_refused_ = refused;
    if (map->netfilter_hook()) {
      map->netfilter_status_ = map->local_out_hook_ == LocalOutHook::kNetfilterLink ? "on"
                               : map->local_out_hook_ == LocalOutHook::kFentry      ? "fentry"
                                                                                    : "kprobe";
      if (!refused.empty()) PLOG(kInfo) << "bpf flow_owner: LOCAL_OUT hook by " << LocalOutHookName(map->local_out_hook_)
                                        << " (refused: " << refused << ")";
    } else {
      map->netfilter_status_ = "unavailable";
      PLOG(kWarn) << "bpf flow_owner: no LOCAL_OUT hook (" << (refused.empty() ? std::string("none tried") : refused)
                  << "); raw sockets fall back to /proc, ping sockets are waited for after their send";
    }
  }
  if (map->skel_ == nullptr) {
    if (Status loaded = map->Load(LocalOutHook::kNone); !loaded.ok()) return loaded.error();
  }
  auto cgroup = FindCgroup2Root();
  if (!cgroup.ok()) return Error{"bpf flow_owner: " + cgroup.error().message};
  map->cgroup_path_ = cgroup->path;
  if (Status attached = map->Attach(cgroup->fd.get()); !attached.ok()) return attached.error();
  return map;
}

Status FlowOwnerMap::Load(LocalOutHook hook) {
  skel_ = flow_owner_bpf__open();
  if (skel_ == nullptr) return LibbpfError("open", errno);
  skel_->rodata->target_netns_cookie = netns_cookie_;
  bpf_program* nf = skel_->progs.pk_local_out;
  bpf_program__set_type(nf, static_cast<bpf_prog_type>(kProgTypeNetfilter));
  bpf_program__set_expected_attach_type(nf, static_cast<bpf_attach_type>(kAttachTypeNetfilter));
  bpf_program__set_autoload(nf, hook == LocalOutHook::kNetfilterLink);
  bpf_program__set_autoload(skel_->progs.pk_hook_slow_fentry, hook == LocalOutHook::kFentry);
  bpf_program__set_autoload(skel_->progs.pk_hook_slow_kprobe, hook == LocalOutHook::kKprobe);
  bpf_program__set_autoload(skel_->progs.pk_udp_sent, send_length_hook_);
  if (int err = flow_owner_bpf__load(skel_); err != 0) return LibbpfError("load", err);
  return Status{};
}

Status FlowOwnerMap::LoadWithHook(LocalOutHook hook, int32_t priority) {
  if (Status loaded = Load(hook); !loaded.ok()) return loaded;
  switch (hook) {
    case LocalOutHook::kNetfilterLink:
      if (Status attached = AttachNetfilter(priority); !attached.ok()) return attached;
      break;
    case LocalOutHook::kFentry:
      hook_link_ = bpf_program__attach(skel_->progs.pk_hook_slow_fentry);
      if (hook_link_ == nullptr) return LibbpfError("attach fentry/nf_hook_slow", errno);
      break;
    case LocalOutHook::kKprobe:
      hook_link_ = bpf_program__attach_kprobe(skel_->progs.pk_hook_slow_kprobe, /*retprobe=*/false, "nf_hook_slow");
      if (hook_link_ == nullptr) return LibbpfError("attach kprobe/nf_hook_slow", errno);
      break;
    case LocalOutHook::kNone:
      return Error{"bpf flow_owner: no LOCAL_OUT hook asked for"};
  }
  local_out_hook_ = hook;
  return Status{};
}

void FlowOwnerMap::Unload() {
  for (UniqueFd& fd : nf_links_) fd.reset();
  if (hook_link_ != nullptr) bpf_link__destroy(hook_link_);
  hook_link_ = nullptr;
  local_out_hook_ = LocalOutHook::kNone;
  if (skel_ != nullptr) flow_owner_bpf__destroy(skel_);
  skel_ = nullptr;
}

Status FlowOwnerMap::AttachNetfilter(int32_t priority) {
  const int prog_fd = bpf_program__fd(skel_->progs.pk_local_out);
  const uint32_t families[2] = {kNfProtoIpv4, kNfProtoIpv6};
  for (size_t i = 0; i < 2; ++i) {
    auto link = CreateNetfilterLink(prog_fd, families[i], priority);
    if (!link.ok()) {
      for (UniqueFd& fd : nf_links_) fd.reset();
      return link.error();
    }
    nf_links_[i] = std::move(*link);
  }
  return Status{};
}

Status FlowOwnerMap::Attach(int cgroup_fd) {
  // bpf_link cgroup attachments are multi-attach: other programs on the same hooks keep running.
  struct {
    bpf_program* program;
    const char* name;
  } const cgroup_programs[] = {
      {skel_->progs.pk_connect4, "connect4"}, {skel_->progs.pk_connect6, "connect6"},
      {skel_->progs.pk_sendmsg4, "sendmsg4"}, {skel_->progs.pk_sendmsg6, "sendmsg6"},
      {skel_->progs.pk_sockops, "sockops"},     {skel_->progs.pk_sock_release, "sock_release"},
      {skel_->progs.pk_sock_create, "sock_create"},
  };
  size_t n = 0;
  for (const auto& p : cgroup_programs) {
    links_[n] = bpf_program__attach_cgroup(p.program, cgroup_fd);
    if (links_[n] == nullptr) return LibbpfError(std::string("attach ") + p.name, errno);
    ++n;
  }
  if (!send_length_hook_) return Status{};
  links_[n] = bpf_program__attach(skel_->progs.pk_udp_sent);
  if (links_[n] == nullptr) return LibbpfError("attach tp_btf/sock_send_length", errno);
  return Status{};
}

FlowOwnerMap::~FlowOwnerMap() {
  for (bpf_link*& link : links_) {
    if (link != nullptr) bpf_link__destroy(link);
    link = nullptr;
  }
  Unload();
}

bool IsEchoRequest(const Flow& flow) {
  return (flow.protocol == Protocol::kIcmp && flow.icmp_type == 8) ||
         (flow.protocol == Protocol::kIcmpV6 && flow.icmp_type == 128);
}

std::optional<FlowOwnerHit> FlowOwnerMap::Lookup(const Flow& flow) const {
  pk_flow_key key;
  std::memset(&key, 0, sizeof(key));
  key.netns_cookie = netns_cookie_;
  pk_flow_owner owner{};
  const int fd = bpf_map__fd(skel_->maps.flows);
  key.proto = static_cast<uint8_t>(flow.protocol);  // Protocol's values are the IANA numbers
  key.family = PutAddress(flow.dst, key.daddr);
  PutAddress(flow.src, key.saddr);
  if (IsEchoRequest(flow)) {
    // A raw socket's echo request: the exact addresses and its identifier (netfilter hook).
    key.sport = flow.icmp_id;
    if (bpf_map_lookup_elem(fd, &key, &owner) == 0) return FlowOwnerHit{FromKernel(owner), FlowKeyMatch::kExact};
    // A ping socket: (proto, family, echo identifier), addresses zero.
    std::memset(key.saddr, 0, sizeof(key.saddr));
    std::memset(key.daddr, 0, sizeof(key.daddr));
    if (bpf_map_lookup_elem(fd, &key, &owner) == 0) return FlowOwnerHit{FromKernel(owner), FlowKeyMatch::kEchoId};
    return std::nullopt;
  }
  // ICMP other than an echo request (raw sockets only): ports zero, as the netfilter hook keys it.
  key.sport = flow.src_port;
  key.dport = flow.dst_port;
  if (bpf_map_lookup_elem(fd, &key, &owner) == 0) return FlowOwnerHit{FromKernel(owner), FlowKeyMatch::kExact};
  std::memset(key.saddr, 0, sizeof(key.saddr));
  if (bpf_map_lookup_elem(fd, &key, &owner) == 0) return FlowOwnerHit{FromKernel(owner), FlowKeyMatch::kSourceWildcard};
  return std::nullopt;
}

std::optional<FlowOwner> FlowOwnerMap::LookupCookie(uint64_t cookie) const {
  pk_flow_owner owner{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.cookies), &cookie, &owner) != 0) return std::nullopt;
  return FromKernel(owner);
}

namespace {

// Entries present in a hash map (walks its keys; bounded by the map's capacity).
template <typename Key>
uint64_t CountEntries(const bpf_map* map) {
  const int fd = bpf_map__fd(map);
  const uint64_t limit = bpf_map__max_entries(map) + 1ull;
  Key key{}, next{};
  uint64_t n = 0;
  for (int err = bpf_map_get_next_key(fd, nullptr, &next); err == 0 && n < limit;
       err = bpf_map_get_next_key(fd, &key, &next)) {
    key = next;
    ++n;
  }
  return n;
}

// Keys that left an LRU map without being deleted: evicted (never negative).
uint64_t Evicted(uint64_t inserted, uint64_t deleted, uint64_t present) {
  return inserted > deleted + present ? inserted - deleted - present : 0;
}

}  // namespace

FlowOwnerCounters FlowOwnerMap::counters() const {
  const auto load = [this](int i) { return __atomic_load_n(&skel_->bss->flow_stats[i], __ATOMIC_RELAXED); };
  FlowOwnerCounters c;
  c.written = load(PK_FLOW_STAT_WRITTEN);
  c.inserted = load(PK_FLOW_STAT_INSERTED);
  c.cookies_written = load(PK_FLOW_STAT_COOKIE_WRITTEN);
  c.update_failed = load(PK_FLOW_STAT_UPDATE_FAILED);
  c.cookies_inserted = load(PK_FLOW_STAT_COOKIE_INSERTED);
  c.cookies_deleted = load(PK_FLOW_STAT_COOKIE_DELETED);
  c.flow_entries = CountEntries<pk_flow_key>(skel_->maps.flows);
  c.cookie_entries = CountEntries<uint64_t>(skel_->maps.cookies);
  c.flow_evicted = Evicted(c.inserted, 0, c.flow_entries);
  c.cookie_evicted = Evicted(c.cookies_inserted, c.cookies_deleted, c.cookie_entries);
  c.netfilter_written = load(PK_FLOW_STAT_NF_WRITTEN);
  c.cookies_created = load(PK_FLOW_STAT_COOKIE_CREATED);
  return c;
}

Result<std::unique_ptr<FlowOwnerAttributor>> FlowOwnerAttributor::Create(std::unique_ptr<FlowOwnerMap> map,
                                                                         ProcessTracker& tracker,
                                                                         std::unique_ptr<Attributor> fallback,
                                                                         const FlowOwnerAttributorOptions& options) {
  auto sock_diag = SockDiag::Open();
  if (!sock_diag.ok()) return sock_diag.error();
  return std::unique_ptr<FlowOwnerAttributor>(
      new FlowOwnerAttributor(std::move(map), tracker, std::move(*sock_diag), std::move(fallback), options));
}

std::optional<ProcessInfo> FlowOwnerAttributor::Resolve(const FlowOwner& owner) {
  const ProcKey key{static_cast<pid_t>(owner.tgid), owner.start_ns, false};
  if (auto found = tracker_.store().Find(key)) return ToProcessInfo(*found);
  ++counters_.store_waits;
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(options_.store_wait.count()) * 1000000ull;
  while (true) {
    tracker_.Drain();
    if (auto found = tracker_.store().Find(key)) return ToProcessInfo(*found);
    if (MonotonicNs() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ++counters_.store_misses;
  return std::nullopt;
}

std::optional<FlowOwnerHit> FlowOwnerAttributor::WaitForEchoOwner(const Flow& flow) {
  // A ping socket's entry is written right after its send returns, which can be a moment after
  // the packet was queued: wait for it, bounded.
  ++counters_.echo_waits;
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(options_.send_wait.count()) * 1000000ull;
  while (MonotonicNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (auto hit = map_->Lookup(flow)) return hit;
  }
  return std::nullopt;
}

std::optional<Attribution> FlowOwnerAttributor::FromFlowMap(const Flow& flow) {
  auto hit = map_->Lookup(flow);
  // With the netfilter hook, a raw or ping socket's entry was written before the packet was queued.
  // Without it, a ping socket's entry comes right after its send (sock_send_length); without that
  // tracepoint either, no entry will come: no wait.
  if (!hit && IsEchoRequest(flow) && !map_->netfilter_hook() && map_->send_length_hook()) hit = WaitForEchoOwner(flow);
  if (!hit) return std::nullopt;
  auto info = Resolve(hit->owner);
  if (!info) return std::nullopt;
  ++(hit->match == FlowKeyMatch::kExact           ? counters_.flow_exact
     : hit->match == FlowKeyMatch::kSourceWildcard ? counters_.flow_wildcard
                                                   : counters_.flow_echo);
  Attribution out;
  out.kind = AttributionKind::kProcess;
  out.uid = flow.uid;
  out.method = kFlowMethod;
  out.process = std::move(*info);
  return out;
}

Attribution FlowOwnerAttributor::Attribute(const Flow& flow) {
  if (!flow.uid) return fallback_->Attribute(flow);
  tracker_.Drain();
  if (auto found = FromFlowMap(flow)) return std::move(*found);
  if (SockDiag::Supports(flow.protocol)) {
    auto socket = sock_diag_->Lookup(SocketKey::FromOutboundFlow(flow));
    if (socket.ok() && socket->has_value() && (*socket)->cookie != 0) {
      if (auto owner = map_->LookupCookie((*socket)->cookie)) {
        if (auto info = Resolve(*owner)) {
          ++counters_.cookie;
          Attribution out;
          out.kind = AttributionKind::kProcess;
          out.uid = (*socket)->uid;
          out.method = kCookieMethod;
          out.process = std::move(*info);
          return out;
        }
      }
    }
  }
  // A connected UDP socket closed meanwhile: its send had already written the flow map.
  if (!IsEchoRequest(flow)) {
    if (auto found = FromFlowMap(flow)) return std::move(*found);
  }
  ++counters_.fallback;
  return fallback_->Attribute(flow);
}

void FlowOwnerAttributor::LogCounters() const {
  const FlowOwnerCounters k = map_->counters();
  PLOG(kInfo) << "flow attribution counters: bpf_flow_exact=" << counters_.flow_exact
              << " bpf_flow_wildcard=" << counters_.flow_wildcard << " bpf_flow_echo=" << counters_.flow_echo
              << " bpf_cookie=" << counters_.cookie << " fallback=" << counters_.fallback
              << " store_waits=" << counters_.store_waits << " store_misses=" << counters_.store_misses
              << " echo_waits=" << counters_.echo_waits << " kernel_written=" << k.written
              << " netfilter_written=" << k.netfilter_written << " netfilter_hook=" << map_->netfilter_status()
              << " kernel_update_failed=" << k.update_failed << " flow_map: new_keys=" << k.inserted
              << " entries=" << k.flow_entries << " evicted=" << k.flow_evicted
              << " cookie_map: written=" << k.cookies_written << " created=" << k.cookies_created << " new_keys=" << k.cookies_inserted
              << " deleted=" << k.cookies_deleted << " entries=" << k.cookie_entries << " evicted=" << k.cookie_evicted;
}

}  // namespace picket
