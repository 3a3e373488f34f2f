// SPDX-License-Identifier: GPL-2.0
/* process_events: fork / exec / exit of processes (not threads) into ONE ring buffer, so the
 * daemon's exec-event store sees them in order across CPUs. Records: process_events.h.
 *
 *   tp_btf/sched_process_fork  only when the child is a new thread-group leader (pid == tgid);
 *   tp_btf/sched_process_exec  new image: exe path (dentry walk), file identity, argv, cwd,
 *                              environment (when capture_env), cgroup; keyed by tgid, which
 *                              survives an exec from a non-leader thread (old_pid tells);
 *   tp_btf/sched_process_exit  only for the last thread of a group (signal->live == 0).
 * Kernel threads are skipped. Every record that does not fit the ring buffer is counted in
 * `stats` (.bss) (the daemon then marks its store tainted and resynchronises from /proc).
 *
 * Wake-ups: with wakeup_bytes == 0 every record wakes the reader; otherwise the reader is woken
 * only once that many bytes are waiting (it also drains before every lookup and on its sweep
 * timer), so a busy machine costs the daemon one wake-up per batch, not one per exec.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "process_events.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000
#define PK_MAX_COMPONENTS 64
#define PK_NAME_MAX 255

const volatile __u64 wakeup_bytes = 0;
volatile __u32 capture_env = 0; /* set by the daemon when rules ask for environment variables */

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20); /* resized by the daemon before load */
} events SEC(".maps");

/* Counters by enum pk_stat, in .bss so the daemon reads them without a system call. */
__u64 stats[PK_STAT_COUNT] = {};

struct path_scratch {
  __u32 busy; /* an exec record is being built on this CPU */
  char path[2 * PK_PATH_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct path_scratch);
} path_scratch SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pk_exec_event);
} exec_scratch SEC(".maps");

/* Field names of struct inode's ctime across kernel versions. */
struct inode___v611 {
  time64_t i_ctime_sec;
  u32 i_ctime_nsec;
} __attribute__((preserve_access_index));
struct inode___v66 {
  struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));
struct inode___old {
  struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

static __always_inline void count(__u32 index) {
  if (index < PK_STAT_COUNT) __sync_fetch_and_add(&stats[index], 1);
}

static __always_inline __u64 wakeup_flags(void) {
  if (wakeup_bytes == 0) return 0;
  return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Nanoseconds are below 2^30; the bits above carry flags on some kernels (multigrain timestamps
 * mark a queried ctime with bit 31), which a user-space stat never shows. */
#define PK_NSEC_MASK ((1u << 30) - 1)

static __always_inline __u64 inode_ctime_ns(struct inode *inode) {
  if (bpf_core_field_exists(struct inode___v611, i_ctime_sec)) {
    struct inode___v611 *i = (void *)inode;
    return (__u64)BPF_CORE_READ(i, i_ctime_sec) * 1000000000ull + (BPF_CORE_READ(i, i_ctime_nsec) & PK_NSEC_MASK);
  }
  if (bpf_core_field_exists(struct inode___v66, __i_ctime)) {
    struct inode___v66 *i = (void *)inode;
    return (__u64)BPF_CORE_READ(i, __i_ctime.tv_sec) * 1000000000ull + (BPF_CORE_READ(i, __i_ctime.tv_nsec) & PK_NSEC_MASK);
  }
  struct inode___old *i = (void *)inode;
  return (__u64)BPF_CORE_READ(i, i_ctime.tv_sec) * 1000000000ull + (BPF_CORE_READ(i, i_ctime.tv_nsec) & PK_NSEC_MASK);
}

static __always_inline void fill_file(struct pk_file *out, struct file *file) {
  struct inode *inode = BPF_CORE_READ(file, f_inode);
  if (!inode) return;
  out->ino = BPF_CORE_READ(inode, i_ino);
  out->size = BPF_CORE_READ(inode, i_size);
  out->dev = BPF_CORE_READ(inode, i_sb, s_dev);
  out->nlink = BPF_CORE_READ(inode, __i_nlink);
  out->ctime_ns = inode_ctime_ns(inode);
}

static __always_inline void fill_task(struct pk_task *out, struct task_struct *task) {
  struct task_struct *parent = BPF_CORE_READ(task, real_parent);
  out->tgid = BPF_CORE_READ(task, tgid);
  out->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  out->ppid = BPF_CORE_READ(parent, tgid);
  out->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
  out->uid = BPF_CORE_READ(task, real_cred, uid.val);
  out->euid = BPF_CORE_READ(task, real_cred, euid.val);
  out->gid = BPF_CORE_READ(task, real_cred, gid.val);
  out->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
  out->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);

  struct pid *pid = BPF_CORE_READ(task, thread_pid);
  unsigned int level = BPF_CORE_READ(pid, level);
  struct upid upid = {};
  bpf_probe_read_kernel(&upid, sizeof(upid),
                        (void *)pid + bpf_core_field_offset(struct pid, numbers) +
                            (level & 31) * bpf_core_type_size(struct upid));
  out->ns_pid = upid.nr;
  out->pid_ns = BPF_CORE_READ(upid.ns, ns.inum);
}

struct walk_ctx {
  struct dentry *dentry;
  struct vfsmount *vfsmnt;
  struct mount *mnt;
  char *buf;
  int pos;
  __u32 flags;
  __u32 trunc_flag;
  int done;
};

/* One step of walk_path (a bpf_loop callback, so the verifier checks it once): prepends one name
 * or crosses one mount. Returns 1 to stop. */
static long walk_step(__u32 index, void *data) {
  struct walk_ctx *c = data;
  struct dentry *dentry = c->dentry;
  if (!dentry) {
    c->done = 1;
    return 1;
  }
  /* Local copies: CO-RE reads must not relocate accesses to this program's own struct. */
  struct vfsmount *vfsmnt = c->vfsmnt;
  struct mount *mnt = c->mnt;
  struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
  struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
  if (dentry == mnt_root) {
    struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
    if (mnt_parent == mnt) { /* the root of the mount tree */
      c->done = 1;
      return 1;
    }
    c->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
    c->mnt = mnt_parent;
    c->vfsmnt = __builtin_preserve_access_index(&mnt_parent->mnt);
    return 0;
  }
  struct qstr name = BPF_CORE_READ(dentry, d_name);
  __u32 len = name.len;
  int pos = c->pos;
  if (len > PK_NAME_MAX || (int)len + 1 > pos) {
    c->flags |= c->trunc_flag;
    c->done = 1;
    return 1;
  }
  pos -= len;
  bpf_probe_read_kernel(c->buf + (pos & (PK_PATH_MAX - 1)), len & PK_NAME_MAX, name.name);
  pos -= 1;
  c->buf[pos & (PK_PATH_MAX - 1)] = '/';
  c->pos = pos;
  if (dentry == parent) { /* root of an internal filesystem: memfd, pipe, anon inode */
    c->flags |= PK_EXEC_PSEUDO_FS;
    c->done = 1;
    return 1;
  }
  c->dentry = parent;
  return 0;
}

/* Writes the path of (dentry, vfsmnt) at the END of buf[0 .. PK_PATH_MAX) (NUL-terminated at
 * PK_PATH_MAX - 1), walking parents and crossing mounts up to the root of the mount tree. Returns
 * the offset of the first byte. Sets trunc_flag when it does not fit or is deeper than
 * PK_MAX_COMPONENTS, PK_EXEC_PSEUDO_FS when the walk ends at an internal mount's root. */
static __always_inline int walk_path(struct dentry *dentry, struct vfsmount *vfsmnt, char *buf, __u32 *flags,
                                     __u32 trunc_flag) {
  struct walk_ctx c = {
      .dentry = dentry,
      .vfsmnt = vfsmnt,
      .mnt = container_of(vfsmnt, struct mount, mnt),
      .buf = buf,
      .pos = PK_PATH_MAX - 1,
      .flags = 0,
      .trunc_flag = trunc_flag,
      .done = 0,
  };
  buf[PK_PATH_MAX - 1] = '\0';
  bpf_loop(PK_MAX_COMPONENTS, walk_step, &c, 0);
  if (!c.done) c.flags |= trunc_flag;
  int pos = c.pos;
  if (pos == PK_PATH_MAX - 1) { /* the root itself */
    pos -= 1;
    buf[pos & (PK_PATH_MAX - 1)] = '/';
  }
  *flags |= c.flags;
  return pos & (PK_PATH_MAX - 1);
}

/* Copies the path at buf[pos ..] to data[off ..]; returns its length (without the NUL). */
static __always_inline __u32 copy_path(char *data, __u32 off, const char *buf, int pos) {
  __u32 len = (PK_PATH_MAX - 1) - (__u32)pos;
  if (len >= PK_PATH_MAX || off > PK_DATA_MAX - PK_PATH_MAX) return 0;
  bpf_probe_read_kernel(data + off, len & (PK_PATH_MAX - 1), buf + (pos & (PK_PATH_MAX - 1)));
  return len;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child) {
  if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return 0; /* a new thread */
  if (BPF_CORE_READ(child, flags) & PF_KTHREAD) return 0;
  struct pk_fork_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) {
    count(PK_STAT_FORK_LOST);
    return 0;
  }
  __builtin_memset(ev, 0, sizeof(*ev));
  ev->hdr.type = PK_EVENT_FORK;
  ev->hdr.size = sizeof(*ev);
  ev->hdr.time_ns = bpf_ktime_get_boot_ns();
  fill_task(&ev->child, child);
  struct file *exe = BPF_CORE_READ(child, mm, exe_file);
  if (exe) fill_file(&ev->exe, exe);
  bpf_ringbuf_submit(ev, wakeup_flags());
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  __u32 zero = 0;
  struct path_scratch *s = bpf_map_lookup_elem(&path_scratch, &zero);
  struct pk_exec_event *ev = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!s || !ev) return 0;
  if (s->busy) {
    count(PK_STAT_SCRATCH_BUSY);
    return 0;
  }
  s->busy = 1;
  char *data = ev->data;
  __u32 flags = 0;
  __u32 off = 0;

  ev->hdr.type = PK_EVENT_EXEC;
  ev->hdr.time_ns = bpf_ktime_get_boot_ns();
  fill_task(&ev->task, task);
  ev->old_pid = old_pid;
  __builtin_memset(&ev->exe, 0, sizeof(ev->exe));
  struct file *file = BPF_CORE_READ(bprm, file);
  fill_file(&ev->exe, file);

  int pos = walk_path(BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), s->path, &flags,
                      PK_EXEC_PATH_TRUNCATED);
  ev->path_len = copy_path(data, off, s->path, pos);
  off += ev->path_len;

  struct path pwd = BPF_CORE_READ(task, fs, pwd);
  pos = walk_path(pwd.dentry, pwd.mnt, s->path, &flags, PK_EXEC_CWD_TRUNCATED);
  if (off > PK_PATH_MAX) off = PK_PATH_MAX;
  ev->cwd_len = copy_path(data, off, s->path, pos);
  off += ev->cwd_len;

  struct mm_struct *mm = BPF_CORE_READ(task, mm);
  unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
  unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
  __u32 args_len = 0;
  if (arg_end > arg_start) {
    __u32 n = PK_ARGS_MAX;
    if (arg_end - arg_start <= PK_ARGS_MAX) {
      n = arg_end - arg_start;
    } else {
      flags |= PK_EXEC_ARGS_TRUNCATED;
    }
    if (off > 2 * PK_PATH_MAX) off = 2 * PK_PATH_MAX;
    if (n > PK_ARGS_MAX) n = PK_ARGS_MAX;
    if (bpf_probe_read_user(data + off, n, (void *)arg_start) == 0) {
      args_len = n;
    } else {
      flags |= PK_EXEC_ARGS_UNREAD;
    }
  }
  ev->args_len = args_len;
  off += args_len;

  __u32 env_len = 0;
  if (capture_env) {
    unsigned long env_start = BPF_CORE_READ(mm, env_start);
    unsigned long env_end = BPF_CORE_READ(mm, env_end);
    if (env_end > env_start) {
      __u32 n = PK_ENV_MAX;
      if (env_end - env_start <= PK_ENV_MAX) {
        n = env_end - env_start;
      } else {
        flags |= PK_EXEC_ENV_TRUNCATED;
      }
      if (off > 2 * PK_PATH_MAX + PK_ARGS_MAX) off = 2 * PK_PATH_MAX + PK_ARGS_MAX;
      if (n > PK_ENV_MAX) n = PK_ENV_MAX;
      if (bpf_probe_read_user(data + off, n, (void *)env_start) == 0) env_len = n;
    }
  }
  ev->env_len = env_len;
  off += env_len;

  const char *cgroup_name = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
  __u32 cgroup_len = 0;
  if (off > PK_DATA_MAX - PK_CGROUP_MAX) off = PK_DATA_MAX - PK_CGROUP_MAX;
  if (cgroup_name) {
    long n = bpf_probe_read_kernel_str(data + off, PK_CGROUP_MAX, cgroup_name);
    if (n > 0) cgroup_len = n - 1;
  }
  ev->cgroup_len = cgroup_len;
  off += cgroup_len;

  ev->flags = flags;
  __u32 size = offsetof(struct pk_exec_event, data) + off;
  if (size > sizeof(*ev)) size = sizeof(*ev);
  ev->hdr.size = size;
  if (bpf_ringbuf_output(&events, ev, size, wakeup_flags()) != 0) count(PK_STAT_EXEC_LOST);
  s->busy = 0;
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task) {
  if (BPF_CORE_READ(task, flags) & PF_KTHREAD) return 0;
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0; /* other threads still run */
  struct pk_exit_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) {
    count(PK_STAT_EXIT_LOST);
    return 0;
  }
  ev->hdr.type = PK_EVENT_EXIT;
  ev->hdr.size = sizeof(*ev);
  ev->hdr.time_ns = bpf_ktime_get_boot_ns();
  ev->tgid = BPF_CORE_READ(task, tgid);
  ev->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  ev->exit_code = BPF_CORE_READ(task, exit_code);
  bpf_ringbuf_submit(ev, wakeup_flags());
  return 0;
}
