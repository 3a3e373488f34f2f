// SPDX-License-Identifier: GPL-2.0
/* flow_owner: which process sent a flow, recorded in the sender's context before the packet
 * reaches netfilter, so a queued packet's owner is known even when the process has exited since.
 * Maps and records: flow_owner.h.
 *
 *   cgroup/connect4, connect6   stamp socket cookie → owner (connected UDP: the source port is not
 *                               chosen yet; the daemon finds the cookie by sock_diag);
 *   cgroup/sendmsg4, sendmsg6   unconnected UDP: flow (saddr wildcard) → owner, per datagram
 *                               (autobind has run, the source port is known);
 *   tp_btf/sock_send_length     connected UDP: after each send, flow (exact) → owner (see below);
 *   sockops TCP_CONNECT_CB      TCP: flow (exact, with source address and port) → owner, before
 *                               the SYN is built;
 *   cgroup/sock_create          stamp socket cookie → owner at creation (AF_INET/AF_INET6), so
 *                               sock_diag → cookie answers for a socket that never called connect();
 *                               connect() re-stamps it;
 *   cgroup/sock_release         the released socket's cookie entry is deleted (sock_diag can no
 *                               longer find the socket, so the entry could never serve again);
 *   tp_btf/sock_send_length     also ping sockets: (proto, echo identifier) → owner after each send;
 *   netfilter LOCAL_OUT         (optional; IPv4 and IPv6, in picketd's network namespace, before the
 *                               queue rule) raw sockets: the packet's own tuple → owner; ping
 *                               sockets: (proto, echo identifier) → owner. It runs inside the
 *                               sender's sendmsg(), so the entry exists before the packet is queued;
 *   fentry / kprobe nf_hook_slow  the same records where the kernel has no netfilter BPF links
 *                               (before 6.4): tried in that order at run time; nothing else
 *                               depends on them.
 * Every hook only observes (returns 1: allow). Maps are LRU; an insert of a new key when the map
 * is full evicts the least recently used entry — the daemon counts those as
 * new keys - deleted - (entries present), see flow_stats in flow_owner.h. Keys carry the network namespace cookie and
 * normalise IPv4-mapped IPv6 to IPv4.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "flow_owner.h"

char LICENSE[] SEC("license") = "GPL";

#define PK_IPPROTO_TCP 6
#define PK_IPPROTO_UDP 17
#define PK_IPPROTO_ICMP 1
#define PK_IPPROTO_ICMPV6 58
#define PK_AF_INET 2
#define PK_AF_INET6 10
#define PK_SOCK_STREAM 1
#define PK_SOCK_DGRAM 2
#define PK_SOCK_RAW 3
#define PK_IPPROTO_UDPLITE 136
#define PK_IPPROTO_SCTP 132
#define PK_NF_ACCEPT 1
#define PK_ETH_P_IP 0x0800
#define PK_ETH_P_IPV6 0x86DD
#define PK_TCP_TIME_WAIT 6
#define PK_TCP_NEW_SYN_RECV 12

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PK_FLOW_ENTRIES);
  __type(key, struct pk_flow_key);
  __type(value, struct pk_flow_owner);
} flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PK_COOKIE_ENTRIES);
  __type(key, __u64);
  __type(value, struct pk_flow_owner);
} cookies SEC(".maps");

__u64 flow_stats[PK_FLOW_STAT_COUNT] = {};

static __always_inline void count(__u32 index) {
  if (index < PK_FLOW_STAT_COUNT) __sync_fetch_and_add(&flow_stats[index], 1);
}

static __always_inline void fill_owner(struct pk_flow_owner* owner) {
  struct task_struct* task = (struct task_struct*)bpf_get_current_task_btf();
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  owner->tgid = pid_tgid >> 32;
  owner->tid = (__u32)pid_tgid;
  owner->uid = (__u32)bpf_get_current_uid_gid();
  owner->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  owner->cgroup_id = bpf_get_current_cgroup_id();
  owner->pad = 0;
}

/* 16-byte address from four 32-bit words (network order); IPv4-mapped becomes family 4. */
static __always_inline __u8 set_addr6(__u8 out[16], __u32 w0, __u32 w1, __u32 w2, __u32 w3) {
  if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0x0000ffff)) {
    __builtin_memcpy(out, &w3, 4);
    return 4;
  }
  __builtin_memcpy(out, &w0, 4);
  __builtin_memcpy(out + 4, &w1, 4);
  __builtin_memcpy(out + 8, &w2, 4);
  __builtin_memcpy(out + 12, &w3, 4);
  return 6;
}

/* The entry was written by this very process (same tgid and start time): no need to rewrite it. */
static __always_inline int held_by_current(const struct pk_flow_owner* held) {
  if (held == 0 || held->tgid != (__u32)(bpf_get_current_pid_tgid() >> 32)) return 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task_btf();
  return held->start_ns == BPF_CORE_READ(task, group_leader, start_boottime);
}

/* Returns 1 when the entry was written. */
static __always_inline int put_flow(struct pk_flow_key* key) {
  struct pk_flow_owner owner = {};
  fill_owner(&owner);
  if (bpf_map_lookup_elem(&flows, key) == 0) count(PK_FLOW_STAT_INSERTED);
  if (bpf_map_update_elem(&flows, key, &owner, BPF_ANY) != 0) {
    count(PK_FLOW_STAT_UPDATE_FAILED);
    return 0;
  }
  count(PK_FLOW_STAT_WRITTEN);
  return 1;
}

static __always_inline int same_owner(const struct pk_flow_owner* a, const struct pk_flow_owner* b) {
  return a->tgid == b->tgid && a->tid == b->tid && a->uid == b->uid && a->start_ns == b->start_ns &&
         a->cgroup_id == b->cgroup_id;
}

/* `written_stat`: PK_FLOW_STAT_COOKIE_WRITTEN (connect) or PK_FLOW_STAT_COOKIE_CREATED. An entry
 * that already holds exactly this owner (at connect: usually stamped at creation by the same
 * thread) counts as written without being rewritten: an LRU update of an existing key takes a new
 * node and frees the old one. */
static __always_inline void put_cookie(__u64 cookie, __u32 written_stat) {
  struct pk_flow_owner owner = {};
  fill_owner(&owner);
  const struct pk_flow_owner* held = bpf_map_lookup_elem(&cookies, &cookie);
  if (held == 0) {
    count(PK_FLOW_STAT_COOKIE_INSERTED);
  } else if (same_owner(held, &owner)) {
    count(written_stat);
    return;
  }
  if (bpf_map_update_elem(&cookies, &cookie, &owner, BPF_ANY) != 0) {
    count(PK_FLOW_STAT_UPDATE_FAILED);
    return;
  }
  count(written_stat);
}

SEC("cgroup/connect4")
int pk_connect4(struct bpf_sock_addr* ctx) {
  put_cookie(bpf_get_socket_cookie(ctx), PK_FLOW_STAT_COOKIE_WRITTEN);
  return 1;
}

SEC("cgroup/connect6")
int pk_connect6(struct bpf_sock_addr* ctx) {
  put_cookie(bpf_get_socket_cookie(ctx), PK_FLOW_STAT_COOKIE_WRITTEN);
  return 1;
}

static __always_inline int udp_send(struct bpf_sock_addr* ctx, __u8 family) {
  struct bpf_sock* sk = ctx->sk;
  if (sk == 0 || ctx->type != PK_SOCK_DGRAM || ctx->protocol != PK_IPPROTO_UDP) return 1;
  struct pk_flow_key key = {};
  key.netns_cookie = bpf_get_netns_cookie(ctx);
  key.proto = PK_IPPROTO_UDP;
  key.sport = (__u16)sk->src_port;
  key.dport = bpf_ntohs((__u16)ctx->user_port);
  if (family == 4) {
    __u32 d = ctx->user_ip4;
    __builtin_memcpy(key.daddr, &d, 4);
    key.family = 4;
  } else {
    key.family = set_addr6(key.daddr, ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]);
  }
  put_flow(&key);
  return 1;
}

SEC("cgroup/sock_create")
int pk_sock_create(struct bpf_sock* sk) {
  if (sk->family == PK_AF_INET || sk->family == PK_AF_INET6) {
    put_cookie(bpf_get_socket_cookie(sk), PK_FLOW_STAT_COOKIE_CREATED);
  }
  return 1;
}

SEC("cgroup/sock_release")
int pk_sock_release(struct bpf_sock* sk) {
  __u64 cookie = bpf_get_socket_cookie(sk);
  if (bpf_map_delete_elem(&cookies, &cookie) == 0) count(PK_FLOW_STAT_COOKIE_DELETED);
  return 1;
}

SEC("cgroup/sendmsg4")
int pk_sendmsg4(struct bpf_sock_addr* ctx) { return udp_send(ctx, 4); }

SEC("cgroup/sendmsg6")
int pk_sendmsg6(struct bpf_sock_addr* ctx) { return udp_send(ctx, 6); }

SEC("sockops")
int pk_sockops(struct bpf_sock_ops* ctx) {
  if (ctx->op != BPF_SOCK_OPS_TCP_CONNECT_CB) return 1;
  struct pk_flow_key key = {};
  key.netns_cookie = bpf_get_netns_cookie(ctx);
  key.proto = PK_IPPROTO_TCP;
  key.sport = (__u16)ctx->local_port;
  key.dport = bpf_ntohl(ctx->remote_port) & 0xffff;
  if (ctx->family == PK_AF_INET) {
    __u32 s = ctx->local_ip4, d = ctx->remote_ip4;
    __builtin_memcpy(key.saddr, &s, 4);
    __builtin_memcpy(key.daddr, &d, 4);
    key.family = 4;
  } else if (ctx->family == PK_AF_INET6) {
    set_addr6(key.saddr, ctx->local_ip6[0], ctx->local_ip6[1], ctx->local_ip6[2], ctx->local_ip6[3]);
    key.family = set_addr6(key.daddr, ctx->remote_ip6[0], ctx->remote_ip6[1], ctx->remote_ip6[2], ctx->remote_ip6[3]);
  } else {
    return 1;
  }
  put_flow(&key);
  return 1;
}

/* Connected UDP: connect() sends nothing and send() on a connected socket does not run the sendmsg
 * hooks. tp_btf/sock_send_length runs in the sender's context right after each send: the flow
 * (exact tuple) → owner is written before the sending process can close the socket or exit. Until
 * then the socket is alive and the daemon finds the owner by sock_diag → cookie (stamped at
 * connect); so a queued packet is always found by one of the two. */
#define PK_TCP_ESTABLISHED 1

/* Ping sockets: the kernel writes the socket's identifier into each echo request, so
 * (netns, proto, family, identifier) names the socket; written right after each send (the queued
 * packet may be looked up a moment before: the daemon waits for it, bounded). */
static __always_inline void ping_sent(struct sock* sk, __u8 proto) {
  struct pk_flow_key key = {};
  key.netns_cookie = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
  key.proto = proto;
  key.family = BPF_CORE_READ(sk, __sk_common.skc_family) == PK_AF_INET ? 4 : 6;
  key.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
  if (held_by_current(bpf_map_lookup_elem(&flows, &key))) return;
  put_flow(&key);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(pk_udp_sent, struct sock* sk, int ret, int flags) {
  if (ret <= 0 || sk == 0) return 0;
  const __u16 proto = BPF_CORE_READ(sk, sk_protocol);
  if ((proto == PK_IPPROTO_ICMP || proto == PK_IPPROTO_ICMPV6) && BPF_CORE_READ(sk, sk_type) == PK_SOCK_DGRAM) {
    ping_sent(sk, (__u8)proto);
    return 0;
  }
  if (proto != PK_IPPROTO_UDP) return 0;
  if (BPF_CORE_READ(sk, __sk_common.skc_state) != PK_TCP_ESTABLISHED) return 0;
  struct pk_flow_key key = {};
  key.netns_cookie = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
  key.proto = PK_IPPROTO_UDP;
  key.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
  key.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (BPF_CORE_READ(sk, __sk_common.skc_family) == PK_AF_INET) {
    __u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(key.saddr, &s, 4);
    __builtin_memcpy(key.daddr, &d, 4);
    key.family = 4;
  } else {
    struct in6_addr s6 = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
    struct in6_addr d6 = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
    set_addr6(key.saddr, s6.in6_u.u6_addr32[0], s6.in6_u.u6_addr32[1], s6.in6_u.u6_addr32[2], s6.in6_u.u6_addr32[3]);
    key.family = set_addr6(key.daddr, d6.in6_u.u6_addr32[0], d6.in6_u.u6_addr32[1], d6.in6_u.u6_addr32[2],
                           d6.in6_u.u6_addr32[3]);
  }
  /* A busy connected socket: rewrite only when the sender changed. */
  if (held_by_current(bpf_map_lookup_elem(&flows, &key))) return 0;
  put_flow(&key);
  return 0;
}

/* ---- netfilter LOCAL_OUT: raw and ping sockets ----
 * cgroup sendmsg hooks do not run for raw sockets and a queued raw packet cannot be tied to its
 * socket afterwards (no sock_diag for raw sockets on every kernel). LOCAL_OUT for raw and ping
 * sockets runs synchronously in the sender's sendmsg(): the current task is the sender, and the
 * entry is written before the queue rule (a later hook priority) sees the packet. This runs for
 * every outbound packet of the namespace: anything but a raw or ping socket returns after reading
 * skb->sk and two of its fields. Only observes: always NF_ACCEPT. The packet's transport header
 * must be in its linear part (raw and ping packets are built there). */

/* Bytes of the packet's linear part at `offset` from its network header; 0 when they are not all
 * there. */
static __always_inline int read_linear(struct sk_buff* skb, __u32 offset, void* out, __u32 size) {
  unsigned char* head = BPF_CORE_READ(skb, head);
  __u32 network = BPF_CORE_READ(skb, network_header);
  __u32 tail = BPF_CORE_READ(skb, tail);
  if (network + offset + size > tail) return 0;
  return bpf_probe_read_kernel(out, size, head + network + offset) == 0;
}

/* Fills the ports (or the echo identifier) of `key` from the transport header at `offset`.
 * Returns 1 for an echo request. */
static __always_inline int transport_fields(struct sk_buff* skb, __u32 offset, struct pk_flow_key* key) {
  __u8 l4[8] = {};
  if (key->proto == PK_IPPROTO_TCP || key->proto == PK_IPPROTO_UDP || key->proto == PK_IPPROTO_UDPLITE ||
      key->proto == PK_IPPROTO_SCTP) {
    if (!read_linear(skb, offset, l4, 4)) return 0;
    key->sport = ((__u16)l4[0] << 8) | l4[1];
    key->dport = ((__u16)l4[2] << 8) | l4[3];
    return 0;
  }
  if (key->proto == PK_IPPROTO_ICMP || key->proto == PK_IPPROTO_ICMPV6) {
    if (!read_linear(skb, offset, l4, 8)) return 0;
    const __u8 echo_request = key->proto == PK_IPPROTO_ICMP ? 8 : 128;
    if (l4[0] != echo_request) return 0;
    key->sport = ((__u16)l4[4] << 8) | l4[5];
    return 1;
  }
  return 0;
}

/* The key the daemon's packet parser will build for this packet. Returns -1 when the headers are
 * not readable, else 1 for an echo request, 0 otherwise. */
static __always_inline int packet_key(struct sk_buff* skb, struct pk_flow_key* key) {
  const __u16 protocol = bpf_ntohs(BPF_CORE_READ(skb, protocol));
  if (protocol == PK_ETH_P_IP) {
    struct iphdr ip = {};
    if (!read_linear(skb, 0, &ip, sizeof(ip))) return -1;
    if (ip.version != 4 || ip.ihl < 5) return -1;
    key->family = 4;
    key->proto = ip.protocol;
    __builtin_memcpy(key->saddr, &ip.saddr, 4);
    __builtin_memcpy(key->daddr, &ip.daddr, 4);
    if (bpf_ntohs(ip.frag_off) & 0x1fff) return 0; /* a later fragment: no transport header */
    return transport_fields(skb, (__u32)ip.ihl * 4, key);
  }
  if (protocol == PK_ETH_P_IPV6) {
    struct ipv6hdr ip6 = {};
    if (!read_linear(skb, 0, &ip6, sizeof(ip6))) return -1;
    key->proto = ip6.nexthdr;
    set_addr6(key->saddr, ip6.saddr.in6_u.u6_addr32[0], ip6.saddr.in6_u.u6_addr32[1], ip6.saddr.in6_u.u6_addr32[2],
              ip6.saddr.in6_u.u6_addr32[3]);
    key->family = set_addr6(key->daddr, ip6.daddr.in6_u.u6_addr32[0], ip6.daddr.in6_u.u6_addr32[1],
                            ip6.daddr.in6_u.u6_addr32[2], ip6.daddr.in6_u.u6_addr32[3]);
    return transport_fields(skb, sizeof(ip6), key);
  }
  return -1;
}

/* Records `skb` when it leaves a raw or ping socket (see above); every other packet returns after
 * reading skb->sk and two of its fields. Shared by the netfilter program and its fentry / kprobe
 * alternatives on nf_hook_slow. */
static __always_inline void record_local_out(struct sk_buff* skb) {
  struct sock* sk = BPF_CORE_READ(skb, sk);
  if (sk == 0) return;
  const __u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
  if (state == PK_TCP_TIME_WAIT || state == PK_TCP_NEW_SYN_RECV) return; /* not a full socket */
  const __u16 type = BPF_CORE_READ(sk, sk_type);
  if (type != PK_SOCK_RAW && type != PK_SOCK_DGRAM) return;
  const __u16 sk_proto = BPF_CORE_READ(sk, sk_protocol);
  const int ping = type == PK_SOCK_DGRAM && (sk_proto == PK_IPPROTO_ICMP || sk_proto == PK_IPPROTO_ICMPV6);
  if (type == PK_SOCK_DGRAM && !ping) return;
  /* The kernel's own control sockets (ICMP errors, TCP resets: SOCK_RAW, sent from softirq on
   * behalf of no task) have no file: only a user's socket is recorded. */
  if (BPF_CORE_READ(sk, sk_socket, file) == 0) return;

  struct pk_flow_key key = {};
  key.netns_cookie = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
  const int echo = packet_key(skb, &key);
  if (echo < 0 || (ping && !echo)) return;
  if (ping) {
    /* The same key as the after-send entry (addresses zero). A raw socket's stale entry for this
     * exact tuple would be looked up first: drop it. */
    if (echo) bpf_map_delete_elem(&flows, &key);
    __builtin_memset(key.saddr, 0, sizeof(key.saddr));
    __builtin_memset(key.daddr, 0, sizeof(key.daddr));
    key.dport = 0;
    if (held_by_current(bpf_map_lookup_elem(&flows, &key))) return;
  }
  if (put_flow(&key)) count(PK_FLOW_STAT_NF_WRITTEN);
}

SEC("netfilter")
int pk_local_out(struct bpf_nf_ctx* ctx) {
  record_local_out(ctx->skb);
  return PK_NF_ACCEPT;
}

/* ---- Alternatives on kernels without netfilter BPF links (before 6.4), probed at run time ----
 * nf_hook_slow() runs every netfilter hook of a packet, machine-wide; its entry comes before the
 * hooks' functions, so also before Picket's queue rule. Only LOCAL_OUT of IPv4/IPv6 in picketd's
 * own network namespace (`target_netns_cookie`, set before load) is looked at. fentry first; kprobe
 * where fentry is refused. Each only observes. */
const volatile __u64 target_netns_cookie = 0;

#define PK_NFPROTO_IPV4 2
#define PK_NFPROTO_IPV6 10
#define PK_NF_INET_LOCAL_OUT 3

static __always_inline void hook_slow_entry(struct sk_buff* skb, struct nf_hook_state* state) {
  if (BPF_CORE_READ(state, hook) != PK_NF_INET_LOCAL_OUT) return;
  const __u8 pf = BPF_CORE_READ(state, pf);
  if (pf != PK_NFPROTO_IPV4 && pf != PK_NFPROTO_IPV6) return;
  if (BPF_CORE_READ(state, net, net_cookie) != target_netns_cookie) return;
  record_local_out(skb);
}

SEC("fentry/nf_hook_slow")
int BPF_PROG(pk_hook_slow_fentry, struct sk_buff* skb, struct nf_hook_state* state) {
  hook_slow_entry(skb, state);
  return 0;
}

SEC("kprobe/nf_hook_slow")
int BPF_KPROBE(pk_hook_slow_kprobe, struct sk_buff* skb, struct nf_hook_state* state) {
  hook_slow_entry(skb, state);
  return 0;
}
