// idle_children — keeps N idle child processes alive, for measuring picketd with many known processes.
//
//   idle_children N
//
// Forks N children that sleep in pause(); prints "ready N" once all exist, then waits until stdin
// is closed (or reads EOF), SIGTERM or SIGINT, kills every child it started (by PID) and reaps them.
// Bounded: N ≤ 20000; a fork failure stops the spawning and is reported, the children made so far
// are still cleaned up.
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 20000

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: idle_children N (1..%d)\n", MAX_CHILDREN);
    return 2;
  }
  char* end = NULL;
  long n = strtol(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || n < 1 || n > MAX_CHILDREN) {
    fprintf(stderr, "idle_children: N must be 1..%d, got '%s'\n", MAX_CHILDREN, argv[1]);
    return 2;
  }
  static pid_t children[MAX_CHILDREN];
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  const pid_t parent = getpid();
  long made = 0;
  int status = 0;
  for (; made < n && !stop_requested; ++made) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "idle_children: fork %ld of %ld: %s\n", made + 1, n, strerror(errno));
      status = 1;
      break;
    }
    if (pid == 0) {
      // Ends with the parent even if the parent is killed without cleaning up.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      for (;;) pause();
    }
    children[made] = pid;
  }
  if (status == 0) {
    printf("ready %ld\n", made);
    fflush(stdout);
    char buf[64];
    while (!stop_requested) {
      ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
      if (r == 0 || (r < 0 && errno != EINTR)) break;
    }
  }
  for (long i = 0; i < made; ++i) kill(children[i], SIGKILL);
  for (long i = 0; i < made; ++i) waitpid(children[i], NULL, 0);
  return status;
}
