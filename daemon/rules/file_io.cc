#include "rules/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "common/unique_fd.h"

namespace picket {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

FileStamp IdentityOf(const struct stat& st) {
  FileStamp id;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  id.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return id;
}

Status WriteAll(int fd, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::FromErrno("write");
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

}  // namespace

Result<FileContent> ReadRegularFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return Error::FromErrno("open");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::FromErrno("fstat");
  if (!S_ISREG(st.st_mode)) return Error{"not a regular file"};
  const std::string too_large = "larger than " + std::to_string(max_bytes) + " bytes";
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return Error{too_large};
  FileContent content;
  content.identity = IdentityOf(st);
  // One byte more than allowed, to notice a file that grew after fstat.
  content.bytes.resize(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  while (true) {
    if (used == content.bytes.size()) {
      if (content.bytes.size() > max_bytes) return Error{too_large};
      content.bytes.resize(std::min(max_bytes + 1, content.bytes.size() * 2));
    }
    const ssize_t n = ::read(fd.get(), content.bytes.data() + used, content.bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::FromErrno("read");
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) return Error{too_large};
  content.bytes.resize(used);
  return content;
}

Result<FileStamp> StatIdentity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::FromErrno("stat " + path);
  return IdentityOf(st);
}

Result<std::vector<std::string>> ListDirectory(const std::string& dir, std::string_view what,
                                               bool (*keep)(std::string_view name)) {
  const std::string context = std::string(what) + " " + dir;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Error::FromErrno(context);
  if (!S_ISDIR(st.st_mode)) return Error{context + ": not a directory", ENOTDIR};
  std::unique_ptr<DIR, DirCloser> handle(::opendir(dir.c_str()));
  if (handle == nullptr) return Error::FromErrno(context);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != ".." && keep(name)) names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return Error::FromErrno(context + ": readdir");
  std::sort(names.begin(), names.end());
  return names;
}

std::string JoinDirAndName(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return Error{"write " + path + ": no file name"};
  std::string temp = JoinDirAndName(dir, "." + base + ".XXXXXX.tmp");
  UniqueFd fd(::mkostemps(temp.data(), 4, O_CLOEXEC));
  if (!fd.valid()) return Error::FromErrno("create temporary file for " + path);
  auto fail = [&temp](Error error) {
    ::unlink(temp.c_str());
    return error;
  };
  if (Status s = WriteAll(fd.get(), bytes); !s.ok()) return fail(Error{s.error().message + " " + temp});
  if (::fchmod(fd.get(), mode) != 0) return fail(Error::FromErrno("fchmod " + temp));
  if (::fsync(fd.get()) != 0) return fail(Error::FromErrno("fsync " + temp));
  fd.reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail(Error::FromErrno("rename " + temp + " to " + path));
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return Error::FromErrno("open directory " + dir);
  if (::fsync(dir_fd.get()) != 0) return Error::FromErrno("fsync directory " + dir);
  return OkStatus();
}

}  // namespace picket
