/* picket_test_pidns: runs programs in a new pid namespace, for the end-to-end attribution tests.
 *
 *   picket_test_pidns [--same-pid N] -- PROG [ARGS...] [-- PROG [ARGS...]]...
 *
 * unshare(CLONE_NEWPID), then fork: the child is pid 1 (init) of the new namespace. Init runs
 * each PROG in turn (fork + exec, no PATH search), waits for it, and prints
 *   launched pid=P exit=E
 * where P is the program's pid inside the namespace. With --same-pid N, init writes N - 1 to
 * /proc/sys/kernel/ns_last_pid before each fork, so every program gets pid N inside the namespace
 * (the previous one has been reaped): a reused pid. That file acts on the writer's own pid
 * namespace, so only the new namespace is affected, never the machine's. Needs root.
 *
 * Exit code: 0 when every program exited 0, else the first nonzero one; 3 on a usage or setup
 * error. Everything is bounded: each program is waited for, init exits after the last one, and
 * the namespace ends with init.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kMaxPrograms = 16, kSetupError = 3 };

static void Usage(void) {
  fprintf(stderr, "usage: picket_test_pidns [--same-pid N] -- PROG [ARGS...] [-- PROG [ARGS...]]...\n");
}

static int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kSetupError;
}

/* Makes the next fork in this (new) namespace get pid `pid`. */
static int SetNextPid(int pid) {
  int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[32];
  int len = snprintf(text, sizeof(text), "%d", pid - 1);
  int ok = write(fd, text, (size_t)len) == len;
  close(fd);
  return ok ? 0 : -1;
}

/* fork() with stdout flushed first (no line printed twice); says why when it fails. */
static pid_t Fork(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) fprintf(stderr, "picket_test_pidns: fork: %s\n", strerror(errno));
  return pid;
}

/* Init of the new namespace: runs programs[0..n) in turn. */
static int RunAll(char** programs[], int n, int same_pid) {
  int result = 0;
  for (int i = 0; i < n; i++) {
    if (same_pid > 0 && SetNextPid(same_pid) != 0) {
      fprintf(stderr, "picket_test_pidns: write ns_last_pid: %s\n", strerror(errno));
      return kSetupError;
    }
    pid_t child = Fork();
    if (child < 0) return kSetupError;
    if (child == 0) {
      execv(programs[i][0], programs[i]);
      fprintf(stderr, "picket_test_pidns: exec %s: %s\n", programs[i][0], strerror(errno));
      _exit(kSetupError);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
      if (errno != EINTR) return kSetupError;
    }
    const int code = ExitCodeOf(status);
    printf("launched pid=%d exit=%d\n", (int)child, code);
    fflush(stdout);
    if (result == 0) result = code;
  }
  return result;
}

int main(int argc, char** argv) {
  int same_pid = 0;
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "--same-pid") == 0) {
    char* end = NULL;
    long v = strtol(argv[i + 1], &end, 10);
    if (end == argv[i + 1] || *end != '\0' || v < 2 || v > 4000000) {
      Usage();
      return kSetupError;
    }
    same_pid = (int)v;
    i += 2;
  }
  char** programs[kMaxPrograms];
  int n = 0;
  /* Split the rest on "--": each piece is one program's argv (NULL-terminated in place). */
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") != 0) continue;
    argv[i] = NULL;
    if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0 || n == kMaxPrograms) {
      Usage();
      return kSetupError;
    }
    programs[n++] = &argv[i + 1];
  }
  if (n == 0) {
    Usage();
    return kSetupError;
  }
  if (unshare(CLONE_NEWPID) != 0) {
    fprintf(stderr, "picket_test_pidns: unshare(CLONE_NEWPID): %s\n", strerror(errno));
    return kSetupError;
  }
  pid_t init = Fork();
  if (init < 0) return kSetupError;
  if (init == 0) _exit(RunAll(programs, n, same_pid));
  int status = 0;
  while (waitpid(init, &status, 0) < 0) {
    if (errno != EINTR) return kSetupError;
  }
  return ExitCodeOf(status);
}
