// UserTable: user names and ids for the `user.name` operand, read once when rules are loaded
// (OpenSnitch resolves user.name when it loads a rule; so does Picket).
//
// UserDirectory is the source (the system's passwd database through NSS by default; tests inject
// their own). UserTable is an immutable snapshot shared by the rules that need it.
// Thread-safety: UserTable is immutable; SystemUserDirectory calls getpwnam_r/getpwent and must be
// used from one thread at a time (the rule loader).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace picket {

class UserTable {
 public:
  explicit UserTable(std::unordered_map<uint32_t, std::string> names) : names_(std::move(names)) {}
  // The name of `uid`, or nullptr when the table does not know it.
  const std::string* NameOf(uint32_t uid) const {
    auto it = names_.find(uid);
    return it == names_.end() ? nullptr : &it->second;
  }
  size_t size() const { return names_.size(); }

 private:
  std::unordered_map<uint32_t, std::string> names_;
};

class UserDirectory {
 public:
  virtual ~UserDirectory() = default;
  // The uid of user `name`, or nullopt when there is no such user.
  virtual std::optional<uint32_t> LookupUid(std::string_view name) = 0;
  // Every user the directory can enumerate (for regexps on user.name).
  virtual std::shared_ptr<const UserTable> AllUsers() = 0;
  // Forget what was read, so the next calls see users added or removed since (called before each
  // reload of the rules).
  virtual void Refresh() {}
};

// getpwnam_r for names; getpwent for the table (built on first use and kept).
class SystemUserDirectory final : public UserDirectory {
 public:
  std::optional<uint32_t> LookupUid(std::string_view name) override;
  std::shared_ptr<const UserTable> AllUsers() override;
  void Refresh() override { table_.reset(); }

 private:
  std::shared_ptr<const UserTable> table_;
};

}  // namespace picket
