// FlowOwnerMap and FlowOwnerAttributor: exact flow attribution from the kernel.
//
// FlowOwnerMap loads bpf/flow_owner.bpf.c and attaches it to the cgroup2 hierarchy (root of the
// cgroup2 mount: connect4/6, sendmsg4/6, sockops, sock_create, sock_release; plus
// tp_btf/sock_send_length; multi-attach bpf_links owned by this object — never pinned, so they are detached
// when it is destroyed or the process exits). Optionally (FlowOwnerMapOptions::netfilter_hook) a
// BPF_PROG_TYPE_NETFILTER program at NF_INET_LOCAL_OUT (IPv4 and IPv6) in this process's network
// namespace, at a priority before the queue rule: it records raw and ping sockets' packets inside
// the sender's sendmsg(). Where the kernel refuses that (before 6.4), fentry and then a kprobe on
// nf_hook_slow are tried (LocalOutHook); with none the rest keeps working (netfilter_hook() false).
// The programs record, in the sending task's context and before the packet reaches netfilter, flow
// (netns cookie, proto, saddr, daddr, sport, dport) → owner {tgid, start time, uid, cgroup id} and
// socket cookie → owner (at socket creation and at connect). Lookups read the maps.
//
// FlowOwnerAttributor answers a queued flow in this order:
//   1. no uid on the packet                                   → the fallback's "kernel" answer;
//   2. flow map, exact key, then the source-address wildcard  → method "bpf-flow" (ICMP echo
//      request: the exact key (a raw socket's), then the ping socket's identifier; without the
//      netfilter hook the ping entry is written after the send, so it waits up to
//      options.send_wait for it; with the hook every raw/ping entry exists before the packet is
//      queued: no wait);
//   3. sock_diag exact lookup → socket cookie → cookie map    → method "bpf-cookie"; then the flow
//      map once more (a connected UDP socket closed meanwhile had its tuple written at send);
//   4. the fallback attributor (sock_diag + /proc fd scan + store), its own method name.
// A kernel owner is turned into a process through the exec-event store (ProcessTracker) by
// (tgid, start time): never by PID alone. An owner the store does not know yet gets a bounded
// re-drain of the process ring buffer (options.store_wait); if it is still unknown the flow goes
// to the next step — never a guess.
// Ownership: FlowOwnerMap owns the skeleton and links; the attributor owns the map, its sock_diag
// socket and the fallback, and borrows the tracker (must outlive it).
// Thread-safety: none; event-loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "process/attributor.h"
#include "process/process_tracker.h"
#include "process/sock_diag.h"

struct flow_owner_bpf;
struct bpf_link;

namespace picket {

// The process that sent a flow, as the kernel recorded it (tgid in the initial pid namespace).
struct FlowOwner {
  uint32_t tgid = 0;
  uint32_t tid = 0;
  uint32_t uid = 0;
  uint64_t start_ns = 0;  // CLOCK_BOOTTIME ns, the thread-group leader's start
  uint64_t cgroup_id = 0;
};

enum class FlowKeyMatch : uint8_t { kExact, kSourceWildcard, kEchoId };

struct FlowOwnerHit {
  FlowOwner owner;
  FlowKeyMatch match = FlowKeyMatch::kExact;
};

// The programs' counters, plus what the maps hold now. Evictions (LRU overflow) are derived:
// new keys - deleted - entries present; a key inserted by two CPUs at once counts twice, so the
// figure may be one too high per such race, never too low.
struct FlowOwnerCounters {
  uint64_t written = 0;          // flow entries written by the programs
  uint64_t inserted = 0;         // of which new keys
  uint64_t cookies_written = 0;  // socket cookie entries written (at connect)
  uint64_t update_failed = 0;    // kernel map updates that failed
  uint64_t cookies_inserted = 0; // of which new keys
  uint64_t cookies_deleted = 0;  // deleted at sock_release
  uint64_t flow_entries = 0;     // entries present in the flow map now
  uint64_t cookie_entries = 0;   // entries present in the cookie map now
  uint64_t flow_evicted = 0;     // flow keys evicted by the LRU (inserted - present)
  uint64_t cookie_evicted = 0;   // cookie keys evicted by the LRU (inserted - deleted - present)
  uint64_t netfilter_written = 0;  // of the flow entries, written by the netfilter LOCAL_OUT hook
  uint64_t cookies_created = 0;    // cookie entries written at socket creation (sock_create)
};

// How the LOCAL_OUT record of raw and ping sockets is hooked in: a netfilter BPF link (kernel
// 6.4+), else fentry on nf_hook_slow, else a kprobe there (both machine-wide, filtered to this
// network namespace). Probed at run time in FlowOwnerMapOptions::local_out_hooks order.
enum class LocalOutHook : uint8_t { kNone, kNetfilterLink, kFentry, kKprobe };

struct FlowOwnerMapOptions {
  // Hook LOCAL_OUT (raw and ping sockets recorded before the queue), trying `local_out_hooks` in
  // order until the kernel takes one.
  bool netfilter_hook = true;
  std::vector<LocalOutHook> local_out_hooks = {LocalOutHook::kNetfilterLink, LocalOutHook::kFentry,
                                               LocalOutHook::kKprobe};
  // tp_btf/sock_send_length (kernel 6.3+, probed in vmlinux BTF): connected UDP and ping sockets
  // recorded right after each send. false only to test its absence.
  bool send_length_hook = true;
  // Its priority: after conntrack (-200), before Picket's queue rule (mangle, -150).
  int32_t netfilter_priority = -175;
};

// True for an ICMP / ICMPv6 echo request (looked up by the ping socket's identifier).
bool IsEchoRequest(const Flow& flow);

class FlowOwnerMap {
 public:
  // Loads and attaches; the error names the step (open, load, cgroup2 mount, attach <program>).
  // The netfilter hook is optional: when the kernel refuses it, Open still succeeds (one warning
  // naming the errno; netfilter_hook() false, netfilter_status() says why).
  static Result<std::unique_ptr<FlowOwnerMap>> Open(const FlowOwnerMapOptions& options = {});
  ~FlowOwnerMap();
  FlowOwnerMap(const FlowOwnerMap&) = delete;
  FlowOwnerMap& operator=(const FlowOwnerMap&) = delete;

  // The owner of `flow` (outbound, as queued in this process's network namespace): exact key, then
  // the source-address wildcard; an echo request by its exact key (raw socket: addresses, echo
  // identifier) then its identifier alone (ping socket). nullopt when not recorded.
  std::optional<FlowOwnerHit> Lookup(const Flow& flow) const;
  // The owner stamped on socket `cookie` at connect(), if any.
  std::optional<FlowOwner> LookupCookie(uint64_t cookie) const;

  uint64_t netns_cookie() const { return netns_cookie_; }
  // Reads the programs' counters and walks both maps to count their entries (O(entries): for
  // the stop log and benchmarks, not per packet).
  // The cgroup2 directory the programs are attached to.
  const std::string& cgroup_path() const { return cgroup_path_; }
  FlowOwnerCounters counters() const;
  // True when a LOCAL_OUT hook is attached (netfilter link for v4 and v6, or fentry/kprobe on
  // nf_hook_slow): every raw/ping socket's entry is written before its packet can be queued.
  bool netfilter_hook() const { return local_out_hook_ != LocalOutHook::kNone; }
  LocalOutHook local_out_hook() const { return local_out_hook_; }
  // "on" (netfilter link), "fentry", "kprobe", "off" (not asked for) or "unavailable" (every way
  // refused by the kernel; Open logged why).
  const std::string& netfilter_status() const { return netfilter_status_; }
  // Why each way tried before the one in use (or all of them) was refused: "netfilter link: …; …".
  const std::string& netfilter_refused() const { return netfilter_refused_; }
  // True when tp_btf/sock_send_length is attached.
  bool send_length_hook() const { return send_length_hook_; }

 private:
  FlowOwnerMap() = default;
  // Opens and loads the skeleton with the program of `hook` (none for kNone).
  Status Load(LocalOutHook hook);
  // Load(hook) and attaches that hook; on error the caller Unload()s.
  Status LoadWithHook(LocalOutHook hook, int32_t priority);
  // Detaches the LOCAL_OUT hook and destroys the skeleton (before any cgroup attachment).
  void Unload();
  Status Attach(int cgroup_fd);
  // Attaches the netfilter program for IPv4 and IPv6; on error neither stays attached.
  Status AttachNetfilter(int32_t priority);

  flow_owner_bpf* skel_ = nullptr;
  bpf_link* links_[8] = {};  // 7 cgroup programs + tp_btf/sock_send_length
  UniqueFd nf_links_[2];     // netfilter link fds (IPv4, IPv6); closing one detaches it
  bpf_link* hook_link_ = nullptr;  // fentry or kprobe on nf_hook_slow
  LocalOutHook local_out_hook_ = LocalOutHook::kNone;
  bool send_length_hook_ = true;
  std::string netfilter_status_;
  std::string netfilter_refused_;
  uint64_t netns_cookie_ = 0;
  std::string cgroup_path_;
};

struct FlowOwnerAttributorOptions {
  std::chrono::milliseconds store_wait{30};  // bounded re-drain for an owner not yet in the store
  std::chrono::milliseconds send_wait{20};   // bounded wait for a ping socket's after-send entry
};

class FlowOwnerAttributor final : public Attributor {
 public:
  static constexpr const char* kFlowMethod = "bpf-flow";
  static constexpr const char* kCookieMethod = "bpf-cookie";

  // Error when the sock_diag socket cannot be opened.
  static Result<std::unique_ptr<FlowOwnerAttributor>> Create(std::unique_ptr<FlowOwnerMap> map,
                                                             ProcessTracker& tracker,
                                                             std::unique_ptr<Attributor> fallback,
                                                             const FlowOwnerAttributorOptions& options);

  Attribution Attribute(const Flow& flow) override;

  struct Counters {
    uint64_t flow_exact = 0;        // answered from an exact flow key
    uint64_t flow_wildcard = 0;     // answered from the source-address wildcard key
    uint64_t flow_echo = 0;         // answered from a ping socket's echo identifier
    uint64_t cookie = 0;            // answered through sock_diag → cookie
    uint64_t fallback = 0;          // handed to the fallback attributor
    uint64_t store_waits = 0;       // owner not in the store at first: re-drained
    uint64_t store_misses = 0;      // owner still unknown after the wait (went to the next step)
    uint64_t echo_waits = 0;        // echo request not in the flow map at first: waited (send_wait;
                                    // never with the netfilter hook)
  };
  const Counters& counters() const { return counters_; }
  const FlowOwnerMap& map() const { return *map_; }
  void LogCounters() const;

 private:
  FlowOwnerAttributor(std::unique_ptr<FlowOwnerMap> map, ProcessTracker& tracker, std::unique_ptr<SockDiag> sock_diag,
                      std::unique_ptr<Attributor> fallback, const FlowOwnerAttributorOptions& options)
      : map_(std::move(map)), tracker_(tracker), sock_diag_(std::move(sock_diag)), fallback_(std::move(fallback)),
        options_(options) {}
  // The store's process for `owner`, waiting (bounded) for its events; nullopt when still unknown.
  std::optional<ProcessInfo> Resolve(const FlowOwner& owner);
  // An echo request's entry, polled until options_.send_wait has passed.
  std::optional<FlowOwnerHit> WaitForEchoOwner(const Flow& flow);
  // Step 2: the flow map's owner, if recorded and known to the store.
  std::optional<Attribution> FromFlowMap(const Flow& flow);

  std::unique_ptr<FlowOwnerMap> map_;
  ProcessTracker& tracker_;
  std::unique_ptr<SockDiag> sock_diag_;
  std::unique_ptr<Attributor> fallback_;
  FlowOwnerAttributorOptions options_;
  Counters counters_;
};

}  // namespace picket
