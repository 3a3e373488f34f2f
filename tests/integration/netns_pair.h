// NetnsPair: two network namespaces joined by a veth pair, the stage of every end-to-end test.
//
//   client namespace  <prefix>-c-<pid>   198.18.0.1/24  2001:2::1/64   (veth "pkc0")
//   server namespace  <prefix>-s-<pid>   198.18.0.2/24  2001:2::2/64   (veth "pks0")
//
// Loopback is up in both; IPv6 addresses are added with `nodad` so they work at once.
// Ownership: Create() builds the pair; Destroy() (also run by the destructor) deletes both
// namespaces, which removes the veth pair and every firewall rule inside them.
// Thread-safety: none.
#pragma once

#include <string>

namespace picket::testing {

class NetnsPair {
 public:
  static constexpr const char* kClientV4 = "198.18.0.1";
  static constexpr const char* kServerV4 = "198.18.0.2";
  static constexpr const char* kClientV6 = "2001:2::1";
  static constexpr const char* kServerV6 = "2001:2::2";
  // Fixed, locally administered MAC addresses of the two veth ends (static neighbour entries).
  static constexpr const char* kClientMac = "02:00:c6:12:00:01";
  static constexpr const char* kServerMac = "02:00:c6:12:00:02";

  // `prefix` e.g. "picket-e2e"; names get "-c-<pid>" / "-s-<pid>" appended.
  explicit NetnsPair(const std::string& prefix);
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  // Builds both namespaces and the link. Returns false and sets *error (the failing command and its
  // output) on failure; whatever was created is still removed by Destroy().
  bool Create(std::string* error);

  // Deletes both namespaces; safe to call more than once.
  void Destroy();

  // Deletes "<prefix>-c-<pid>" / "<prefix>-s-<pid>" namespaces whose pid no longer exists (left by a
  // test binary that was killed before it could clean up).
  static void DeleteStale(const std::string& prefix);

  const std::string& client() const { return client_; }
  const std::string& server() const { return server_; }

 private:
  std::string client_;
  std::string server_;
  bool created_ = false;
};

}  // namespace picket::testing
