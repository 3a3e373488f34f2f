#include "netfilter/nft_events.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace picket {
namespace {

bool IsDeletion(uint16_t nft_type) {
  return nft_type == NFT_MSG_DELTABLE || nft_type == NFT_MSG_DELCHAIN || nft_type == NFT_MSG_DELRULE;
}

}  // namespace

void CountNftEvents(std::span<const uint8_t> bytes, NftEventCounts* counts) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data());
  int remaining = static_cast<int>(bytes.size());
  while (bytes.size() >= sizeof(nlmsghdr) && mnl_nlmsg_ok(nlh, remaining)) {
    const uint16_t type = nlh->nlmsg_type;
    if (NFNL_SUBSYS_ID(type) == NFNL_SUBSYS_NFTABLES) {
      ++counts->messages;
      if (IsDeletion(NFNL_MSG_TYPE(type))) ++counts->deletions;
    }
    nlh = mnl_nlmsg_next(nlh, &remaining);
  }
}

Result<std::unique_ptr<NftEventSocket>> NftEventSocket::Open() {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd.valid()) return Error::FromErrno("nf_tables events: socket(AF_NETLINK, NETLINK_NETFILTER)");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Error::FromErrno("nf_tables events: bind");
  }
  const int group = NFNLGRP_NFTABLES;
  if (setsockopt(fd.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) {
    return Error::FromErrno("nf_tables events: joining NFNLGRP_NFTABLES");
  }
  return std::unique_ptr<NftEventSocket>(new NftEventSocket(std::move(fd)));
}

Result<NftEventCounts> NftEventSocket::ReadAvailable() {
  NftEventCounts counts;
  std::vector<uint8_t> buf(64 * 1024);  // a ruleset flush may send large datagrams
  while (true) {
    const ssize_t n = recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      CountNftEvents(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), &counts);
      continue;
    }
    if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) return counts;
    if (errno == EINTR) continue;
    if (errno == ENOBUFS) {
      counts.overflowed = true;
      continue;
    }
    return Error::FromErrno("nf_tables events: recv");
  }
}

}  // namespace picket
