// Decoding of the eBPF program's ring-buffer records (bpf/process_events.h) into store events.
#include <gtest/gtest.h>
#include <linux/types.h>
#include <sys/sysmacros.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "process/bpf_process_source.h"
#include "flow_owner.h"
#include "process_events.h"

namespace picket {
namespace {

class FixedClock final : public Clock {
 public:
  uint64_t NowBootNs() const override { return 1; }
};

std::vector<char> ExecRecord(const std::string& path, const std::string& cwd, const std::string& args,
                             const std::string& env, const std::string& cgroup, uint32_t flags) {
  const size_t header = offsetof(pk_exec_event, data);
  std::vector<char> bytes(header + path.size() + cwd.size() + args.size() + env.size() + cgroup.size());
  pk_exec_event ev{};
  ev.hdr.type = PK_EVENT_EXEC;
  ev.hdr.size = static_cast<__u32>(bytes.size());
  ev.hdr.time_ns = 5000;
  ev.task.tgid = 42;
  ev.task.start_ns = 4000;
  ev.task.ppid = 1;
  ev.task.parent_start_ns = 10;
  ev.task.uid = 1000;
  ev.task.euid = 0;
  ev.task.gid = 100;
  ev.task.ns_pid = 7;
  ev.exe.ino = 99;
  ev.exe.dev = (8u << 20) | 3;  // kernel encoding of 8:3
  ev.exe.ctime_ns = 123;
  ev.exe.size = 4096;
  ev.exe.nlink = 0;
  ev.old_pid = 43;
  ev.flags = flags;
  ev.path_len = static_cast<__u16>(path.size());
  ev.cwd_len = static_cast<__u16>(cwd.size());
  ev.args_len = static_cast<__u16>(args.size());
  ev.env_len = static_cast<__u16>(env.size());
  ev.cgroup_len = static_cast<__u16>(cgroup.size());
  std::memcpy(bytes.data(), &ev, header);
  char* p = bytes.data() + header;
  for (const std::string* part : {&path, &cwd, &args, &env, &cgroup}) {
    std::memcpy(p, part->data(), part->size());
    p += part->size();
  }
  return bytes;
}

TEST(BpfRecordTest, ExecRecordIsDecodedIntoTheStore) {
  FixedClock clock;
  StoreOptions options;
  options.wanted_env = {"APPIMAGE"};
  ProcessStore store(options, clock);
  const std::string id(64, 'c');
  auto bytes = ExecRecord("/memfd:payload", "/home/u", std::string("a\0-b\0", 5), std::string("APPIMAGE=/x\0HOME=/\0", 19),
                          "docker-" + id + ".scope", PK_EXEC_PSEUDO_FS | PK_EXEC_ARGS_TRUNCATED);
  ASSERT_TRUE(BpfProcessSource::ApplyRecord(bytes.data(), bytes.size(), store));
  auto s = store.FindLive(42);
  ASSERT_TRUE(s.has_value());
  const ProcessImage& image = *s->image;
  EXPECT_EQ(image.key, (ProcKey{42, 4000, false}));
  EXPECT_EQ(image.exe_path(), "/memfd:payload");
  EXPECT_EQ(image.cwd(), "/home/u");
  EXPECT_EQ(image.argv(), (std::vector<std::string>{"a", "-b"}));
  ASSERT_EQ(image.env().size(), 1u);
  EXPECT_EQ(image.env()[0].value, "/x");
  EXPECT_EQ(image.container_id(), id);
  EXPECT_EQ(image.uid, 1000u);
  EXPECT_EQ(image.euid, 0u);
  EXPECT_EQ(image.gid, 100u);
  EXPECT_EQ(image.ns_pid, 7);
  EXPECT_EQ(image.exe_file().dev, makedev(8, 3));
  EXPECT_EQ(image.exe_file().ino, 99u);
  EXPECT_TRUE(image.exe_file().deleted);
  EXPECT_TRUE(image.exe_file().memfd);
  EXPECT_TRUE(image.has(kImageArgvTruncated));
}

TEST(BpfRecordTest, ShortOrUnknownRecordsAreRejected) {
  FixedClock clock;
  ProcessStore store(StoreOptions{}, clock);
  auto bytes = ExecRecord("/bin/x", "/", "", "", "", 0);
  EXPECT_FALSE(BpfProcessSource::ApplyRecord(bytes.data(), bytes.size() - 1, store)) << "data shorter than lengths";
  EXPECT_FALSE(BpfProcessSource::ApplyRecord(bytes.data(), 8, store));
  pk_event_header unknown{99, sizeof(pk_event_header), 0};
  EXPECT_FALSE(BpfProcessSource::ApplyRecord(&unknown, sizeof(unknown), store));
  pk_fork_event fork{};
  fork.hdr.type = PK_EVENT_FORK;
  EXPECT_FALSE(BpfProcessSource::ApplyRecord(&fork, sizeof(fork) - 1, store));
  EXPECT_EQ(store.live_count(), 0u);
}

TEST(BpfRecordTest, ForkAndExitRecords) {
  FixedClock clock;
  ProcessStore store(StoreOptions{}, clock);
  auto exec = ExecRecord("/bin/sh", "/", std::string("sh\0", 3), "", "", 0);
  ASSERT_TRUE(BpfProcessSource::ApplyRecord(exec.data(), exec.size(), store));
  pk_fork_event fork{};
  fork.hdr.type = PK_EVENT_FORK;
  fork.hdr.size = sizeof(fork);
  fork.hdr.time_ns = 6000;
  fork.child.tgid = 50;
  fork.child.start_ns = 6000;
  fork.child.ppid = 42;
  fork.child.parent_start_ns = 4000;
  ASSERT_TRUE(BpfProcessSource::ApplyRecord(&fork, sizeof(fork), store));
  auto child = store.FindLive(50);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(child->image->exe_path(), "/bin/sh");
  ASSERT_EQ(child->image->ancestors.size(), 1u);
  EXPECT_EQ(child->image->ancestors[0].pid, 42);
  pk_exit_event exit{};
  exit.hdr.type = PK_EVENT_EXIT;
  exit.hdr.size = sizeof(exit);
  exit.hdr.time_ns = 7000;
  exit.tgid = 50;
  exit.start_ns = 6000;
  ASSERT_TRUE(BpfProcessSource::ApplyRecord(&exit, sizeof(exit), store));
  EXPECT_FALSE(store.FindLive(50).has_value());
  EXPECT_EQ(*store.Find(ProcKey{50, 6000, false})->exit_ns, 7000u);
}

// flow_owner.h is read by both sides: the key layout and the counter indices must not move (the
// daemon reads flow_stats by index; new counters are appended).
TEST(BpfRecordTest, FlowOwnerLayoutAndCounterIndicesAreStable) {
  EXPECT_EQ(sizeof(pk_flow_key), 48u);
  EXPECT_EQ(offsetof(pk_flow_key, sport), 40u);
  EXPECT_EQ(sizeof(pk_flow_owner), 32u);
  EXPECT_EQ(PK_FLOW_STAT_WRITTEN, 0);
  EXPECT_EQ(PK_FLOW_STAT_COOKIE_DELETED, 5);
  EXPECT_EQ(PK_FLOW_STAT_NF_WRITTEN, 6);
  EXPECT_EQ(PK_FLOW_STAT_COOKIE_CREATED, 7);
  EXPECT_EQ(PK_FLOW_STAT_COUNT, 8);
}

}  // namespace
}  // namespace picket
