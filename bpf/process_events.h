/* process_events: the records process_events.bpf.c writes into its one ring buffer, read by
 * daemon/process/bpf_process_source.cc. Plain C, fixed-width fields, no pointers; shared by both
 * sides. Every record starts with pk_event_header; `size` is the record's length in bytes.
 *
 * Times are CLOCK_BOOTTIME ns (bpf_ktime_get_boot_ns, task start_boottime). Devices are the
 * kernel's encoding (major << 20 | minor). Processes, not threads: a fork record is written only
 * for a new thread-group leader, an exit record only when the last thread of a group ends.
 */
#ifndef PICKET_BPF_PROCESS_EVENTS_H
#define PICKET_BPF_PROCESS_EVENTS_H

#define PK_PATH_MAX 4096   /* exe path and cwd, each (power of two) */
#define PK_ARGS_MAX 4096   /* argv bytes kept (power of two) */
#define PK_ENV_MAX 8192    /* environment bytes kept, when capture is on (power of two) */
#define PK_CGROUP_MAX 256  /* cgroup leaf name (power of two) */
#define PK_DATA_MAX (2 * PK_PATH_MAX + PK_ARGS_MAX + PK_ENV_MAX + PK_CGROUP_MAX)

enum pk_event_type {
  PK_EVENT_FORK = 1,
  PK_EVENT_EXEC = 2,
  PK_EVENT_EXIT = 3,
};

enum pk_exec_flags {
  PK_EXEC_PATH_TRUNCATED = 1 << 0,  /* deeper or longer than the walk allows */
  PK_EXEC_CWD_TRUNCATED = 1 << 1,
  PK_EXEC_ARGS_TRUNCATED = 1 << 2,
  PK_EXEC_ENV_TRUNCATED = 1 << 3,
  PK_EXEC_PSEUDO_FS = 1 << 4,       /* the exe lives on an internal mount (memfd, anon) */
  PK_EXEC_ARGS_UNREAD = 1 << 5,     /* reading the new image's argv failed */
};

/* Counters in the program's global `stats` array, by index. */
enum pk_stat {
  PK_STAT_FORK_LOST = 0,  /* ring buffer full (reserve / output failed) */
  PK_STAT_EXEC_LOST = 1,
  PK_STAT_EXIT_LOST = 2,
  PK_STAT_SCRATCH_BUSY = 3, /* per-CPU scratch in use by a preempted program: exec event dropped */
  PK_STAT_COUNT = 4,
};

struct pk_event_header {
  __u32 type; /* enum pk_event_type */
  __u32 size;
  __u64 time_ns;
};

/* Who a process is: identical layout in fork (the child) and exec records. */
struct pk_task {
  __u64 start_ns;        /* thread-group leader's start_boottime */
  __u64 parent_start_ns; /* real parent's leader's start_boottime */
  __u64 cgroup_id;       /* cgroup v2 id */
  __u32 tgid;
  __u32 ns_pid;          /* pid in its own pid namespace */
  __u32 ppid;            /* real parent's tgid */
  __u32 uid;
  __u32 euid;
  __u32 gid;
  __u32 pid_ns;          /* namespace inode numbers */
  __u32 mnt_ns;
};

struct pk_file {
  __u64 ino;
  __u64 ctime_ns;
  __u64 size;
  __u32 dev; /* kernel encoding */
  __u32 nlink;
};

struct pk_fork_event {
  struct pk_event_header hdr;
  struct pk_task child;
  struct pk_file exe; /* the inherited image's file (zero when unknown) */
};

struct pk_exit_event {
  struct pk_event_header hdr;
  __u64 start_ns;
  __u32 tgid;
  __s32 exit_code;
};

/* Followed by `data`: exe path, cwd, argv (NUL-separated), environment (NUL-separated, only when
 * capture is on), cgroup leaf name, back to back; the *_len fields give each part's length
 * (paths and the cgroup name without a trailing NUL). */
struct pk_exec_event {
  struct pk_event_header hdr;
  struct pk_task task;
  struct pk_file exe;
  __u32 old_pid; /* the thread that called execve */
  __u32 flags;   /* enum pk_exec_flags */
  __u16 path_len;
  __u16 cwd_len;
  __u16 args_len;
  __u16 env_len;
  __u16 cgroup_len;
  __u16 reserved[3];
  char data[PK_DATA_MAX];
};

#endif /* PICKET_BPF_PROCESS_EVENTS_H */
