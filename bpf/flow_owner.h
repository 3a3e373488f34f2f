/* flow_owner: the maps flow_owner.bpf.c writes in the sending task's context (before the packet
 * reaches netfilter) and daemon/process/flow_owner_map.cc reads when a packet is queued. Plain C,
 * fixed-width fields, shared by both sides.
 *
 * Addresses are 16 bytes; IPv4 (and IPv4-mapped IPv6) is stored as family 4 in the first four
 * bytes, network byte order, the rest zero. Ports are host byte order. `saddr` all zero in a key
 * is the source-address wildcard (unconnected UDP: the source address is chosen after the hook).
 * ICMP echo from a ping socket (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6): sport = the socket's echo
 * identifier, dport 0, both addresses zero (the identifier is unique per netns and family).
 * Raw sockets (SOCK_RAW, written by the netfilter LOCAL_OUT hook from the packet's own headers):
 * the exact tuple of the IP header; ports from a TCP/UDP/UDP-Lite/SCTP header; ICMP/ICMPv6 echo
 * request: sport = echo identifier, dport 0, addresses kept (a raw socket picks any identifier);
 * other ICMP: ports zero.
 */
#ifndef PICKET_BPF_FLOW_OWNER_H
#define PICKET_BPF_FLOW_OWNER_H

#define PK_FLOW_ENTRIES 65536   /* flow map (LRU) */
#define PK_COOKIE_ENTRIES 65536 /* socket cookie map (LRU) */

struct pk_flow_key {
  __u64 netns_cookie;
  __u8 saddr[16];
  __u8 daddr[16];
  __u16 sport;
  __u16 dport;
  __u8 proto;  /* IPPROTO_TCP / IPPROTO_UDP / IPPROTO_ICMP / IPPROTO_ICMPV6 */
  __u8 family; /* 4 or 6 */
  __u8 pad[2];
};

/* Who sent it: matches the process-event store's ProcKey (tgid, leader's start_boottime). */
struct pk_flow_owner {
  __u64 start_ns;
  __u64 cgroup_id;
  __u32 tgid;
  __u32 tid;
  __u32 uid;
  __u32 pad;
};

/* Counters in the program's global `flow_stats` array, by index. "New" keys are counted when a
 * lookup just before the update missed; the daemon derives evictions as
 * new - deleted - (entries present now). Two CPUs inserting one key at the same moment count it
 * twice (an eviction too many, never one too few). */
enum pk_flow_stat {
  PK_FLOW_STAT_WRITTEN = 0,        /* flow entries written (new or refreshed) */
  PK_FLOW_STAT_INSERTED = 1,       /* of which new keys */
  PK_FLOW_STAT_COOKIE_WRITTEN = 2, /* socket cookie entries written (at connect) */
  PK_FLOW_STAT_UPDATE_FAILED = 3,  /* map update failed */
  PK_FLOW_STAT_COOKIE_INSERTED = 4, /* of the cookie entries, new keys */
  PK_FLOW_STAT_COOKIE_DELETED = 5,  /* cookie entries deleted when their socket was released */
  PK_FLOW_STAT_NF_WRITTEN = 6,      /* of the flow entries, written by the netfilter LOCAL_OUT hook
                                       (raw and ping sockets, before the packet is queued) */
  PK_FLOW_STAT_COOKIE_CREATED = 7,  /* cookie entries written at socket creation (sock_create) */
  PK_FLOW_STAT_COUNT = 8,
};

#endif /* PICKET_BPF_FLOW_OWNER_H */
