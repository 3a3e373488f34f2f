#include "process/checksums.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace picket {
namespace {

constexpr size_t kReadBytes = 256 * 1024;

uint64_t StatCtimeNs(const struct stat& st) {
  return static_cast<uint64_t>(st.st_ctim.tv_sec) * 1000000000ull + static_cast<uint64_t>(st.st_ctim.tv_nsec);
}

FileVersion VersionOfStat(const struct stat& st) {
  return FileVersion{st.st_dev, st.st_ino, StatCtimeNs(st), static_cast<uint64_t>(st.st_size)};
}

std::string Hex(const unsigned char* bytes, unsigned int length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

struct Algorithm {
  DigestAlgo algo;
  const EVP_MD* (*md)();
  std::string Digests::*out;
};
constexpr std::array<Algorithm, 3> kAlgorithms = {{
    {kDigestMd5, &EVP_md5, &Digests::md5},
    {kDigestSha1, &EVP_sha1, &Digests::sha1},
    {kDigestSha256, &EVP_sha256, &Digests::sha256},
}};

}  // namespace

size_t FileVersionHash::operator()(const FileVersion& v) const {
  uint64_t h = v.ino * 0x9e3779b97f4a7c15ull;
  h ^= v.dev + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
  h ^= v.ctime_ns + 0x94d049bb133111ebull + (h << 6) + (h >> 2);
  h ^= v.size + (h << 6) + (h >> 2);
  return static_cast<size_t>(h);
}

Result<Digests> ComputeDigests(int fd, DigestMask algos) {
  std::array<MdCtx, kAlgorithms.size()> contexts;
  for (size_t i = 0; i < kAlgorithms.size(); ++i) {
    if ((algos & kAlgorithms[i].algo) == 0) continue;
    contexts[i].reset(EVP_MD_CTX_new());
    if (!contexts[i] || EVP_DigestInit_ex(contexts[i].get(), kAlgorithms[i].md(), nullptr) != 1) {
      return Error{"EVP_DigestInit_ex failed"};
    }
  }
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<unsigned char[]> buffer(new unsigned char[kReadBytes]);
  off_t offset = 0;
  for (;;) {
    const ssize_t n = pread(fd, buffer.get(), kReadBytes, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::FromErrno("read executable");
    if (n == 0) break;
    offset += n;
    for (const MdCtx& ctx : contexts) {
      if (ctx && EVP_DigestUpdate(ctx.get(), buffer.get(), static_cast<size_t>(n)) != 1) {
        return Error{"EVP_DigestUpdate failed"};
      }
    }
  }
  Digests out;
  for (size_t i = 0; i < kAlgorithms.size(); ++i) {
    if (!contexts[i]) continue;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(contexts[i].get(), md, &length) != 1) return Error{"EVP_DigestFinal_ex failed"};
    out.*kAlgorithms[i].out = Hex(md, length);
    out.computed |= kAlgorithms[i].algo;
  }
  return out;
}

std::optional<FileVersion> VersionOf(const ProcessInfo& process) {
  if (!process.exe_identity_known) return std::nullopt;
  return FileVersion{process.exe_dev, process.exe_ino, process.exe_ctime_ns, process.exe_size};
}

Result<UniqueFd> OpenExecutable(const ProcessInfo& process, const FileVersion& version, const std::string& proc_root) {
  const std::string link = proc_root + "/" + std::to_string(process.pid) + "/exe";
  UniqueFd fd(open(link.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.valid() && fstat(fd.get(), &st) == 0 && VersionOfStat(st) == version) return fd;
  // The process is gone (or holds another image now): its file, if it is still the same version.
  if (process.exe_deleted || process.exe_memfd) {
    return Error{"image of pid " + std::to_string(process.pid) + " is deleted or a memfd and no longer open"};
  }
  fd.reset(open(process.exe_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Error::FromErrno("open " + process.exe_path);
  if (fstat(fd.get(), &st) != 0) return Error::FromErrno("fstat " + process.exe_path);
  if (!(VersionOfStat(st) == version)) return Error{process.exe_path + " is not the file version that was executed"};
  return fd;
}

Result<std::unique_ptr<ChecksumService>> ChecksumService::Create(const ChecksumOptions& options) {
  UniqueFd notify(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!notify.valid()) return Error::FromErrno("eventfd");
  std::unique_ptr<ChecksumService> service(new ChecksumService(options, std::move(notify)));
  // The worker blocks every signal (it inherits the mask): termination signals are for the
  // event-loop thread's signalfd, and a signal delivered to the worker would kill the daemon.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  service->worker_ = std::thread([s = service.get()] { s->WorkerLoop(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return service;
}

ChecksumService::ChecksumService(const ChecksumOptions& options, UniqueFd notify)
    : options_(options), notify_(std::move(notify)) {
  if (options_.cache_entries == 0) options_.cache_entries = 1;
}

ChecksumService::~ChecksumService() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

const Digests* ChecksumService::Cached(const FileVersion& version, DigestMask want) {
  auto it = cache_.find(version);
  if (it == cache_.end() || (it->second.digests.computed & want) != want) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  ++counters_.cache_hits;
  return &it->second.digests;
}

ChecksumService::Outcome ChecksumService::Request(const FileVersion& version, DigestMask want, UniqueFd fd) {
  ++counters_.requests;
  auto flight = in_flight_.find(version);
  if (flight != in_flight_.end() && (flight->second & want) == want) {
    ++counters_.joined;
    return Outcome::kJoined;
  }
  DigestMask missing = want;
  if (auto it = cache_.find(version); it != cache_.end()) missing &= static_cast<DigestMask>(~it->second.digests.computed);
  in_flight_[version] |= want;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(Job{version, missing, std::move(fd)});
  }
  wake_.notify_one();
  return Outcome::kQueued;
}

ChecksumService::JobResult ChecksumService::RunJob(Job& job) {
  JobResult result{job.version, Error{"not run"}, 0};
  struct stat before {};
  if (fstat(job.fd.get(), &before) != 0) {
    result.digests = Error::FromErrno("fstat executable");
    return result;
  }
  if (!(VersionOfStat(before) == job.version)) {
    result.digests = Error{"executable changed before it could be hashed"};
    return result;
  }
  result.digests = ComputeDigests(job.fd.get(), job.want);
  struct stat after {};
  if (result.digests.ok() && (fstat(job.fd.get(), &after) != 0 || !(VersionOfStat(after) == job.version))) {
    result.digests = Error{"executable changed while it was hashed"};
  }
  if (result.digests.ok()) result.bytes = static_cast<uint64_t>(before.st_size);
  return result;
}

void ChecksumService::WorkerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    JobResult result = RunJob(job);
    job.fd.reset();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      results_.push_back(std::move(result));
    }
    const uint64_t one = 1;
    (void)!write(notify_.get(), &one, sizeof(one));
  }
}

void ChecksumService::Store(const FileVersion& version, const Digests& digests) {
  auto it = cache_.find(version);
  if (it != cache_.end()) {
    Digests& held = it->second.digests;
    if (digests.computed & kDigestMd5) held.md5 = digests.md5;
    if (digests.computed & kDigestSha1) held.sha1 = digests.sha1;
    if (digests.computed & kDigestSha256) held.sha256 = digests.sha256;
    held.computed |= digests.computed;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (cache_.size() >= options_.cache_entries && !lru_.empty()) {
    cache_.erase(lru_.back());
    lru_.pop_back();
    ++counters_.evicted;
  }
  lru_.push_front(version);
  cache_.emplace(version, CacheEntry{digests, lru_.begin()});
}

std::vector<ChecksumService::Finished> ChecksumService::CollectFinished() {
  uint64_t ignored = 0;
  (void)!read(notify_.get(), &ignored, sizeof(ignored));
  std::vector<JobResult> results;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    results.swap(results_);
  }
  std::vector<Finished> finished;
  finished.reserve(results.size());
  for (JobResult& r : results) {
    in_flight_.erase(r.version);
    ++counters_.jobs;
    if (r.digests.ok()) {
      counters_.bytes += r.bytes;
      Store(r.version, *r.digests);
      finished.push_back(Finished{r.version, true, {}});
    } else {
      ++counters_.failures;
      finished.push_back(Finished{r.version, false, r.digests.error().message});
    }
  }
  return finished;
}

}  // namespace picket
