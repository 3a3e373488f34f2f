#include "rules/users.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace picket {

std::optional<uint32_t> SystemUserDirectory::LookupUid(std::string_view name) {
  const std::string key(name);
  long size_hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size_hint > 0 ? static_cast<size_t>(size_hint) : 16384);
  for (int attempt = 0; attempt < 6; ++attempt) {
    passwd entry{};
    passwd* found = nullptr;
    const int rc = ::getpwnam_r(key.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return static_cast<uint32_t>(found->pw_uid);
  }
  return std::nullopt;
}

std::shared_ptr<const UserTable> SystemUserDirectory::AllUsers() {
  if (table_ != nullptr) return table_;
  std::unordered_map<uint32_t, std::string> names;
  ::setpwent();
  while (const passwd* entry = ::getpwent()) {
    names.emplace(static_cast<uint32_t>(entry->pw_uid), entry->pw_name);  // first name of a uid wins
  }
  ::endpwent();
  table_ = std::make_shared<const UserTable>(std::move(names));
  return table_;
}

}  // namespace picket
