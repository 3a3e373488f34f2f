// PtyProcess: runs a program on a pseudo-terminal (forkpty) so a test can type keys into it and
// read what it draws, as a person at a terminal would (used to drive `picket prompt`).
//
// Ownership: a PtyProcess owns its child and the pty's master side; the destructor SIGKILLs and
// reaps a child still running (by its PID) and closes the master. Every wait is bounded.
// Thread-safety: none; use from one thread.
#pragma once

#include <sys/types.h>
#include <termios.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace picket::testing {

class PtyProcess {
 public:
  // Starts argv (argv[0] is the program's path) on a new 120x50 pty; the wait bound of WaitFor and
  // Wait is `wait`. started() is false when forkpty failed.
  explicit PtyProcess(const std::vector<std::string>& argv,
                      std::chrono::milliseconds wait = std::chrono::milliseconds(10000));
  ~PtyProcess();
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Reads the terminal until `text` appears after the last mark; false after the wait bound.
  bool WaitFor(const std::string& text);
  // Later WaitFor calls only look at output from now on.
  void Mark();
  // Writes `keys` to the terminal; false when not all were written.
  bool Type(const std::string& keys);
  // The wait status after at most the wait bound (-1: did not exit).
  int Wait();
  void Signal(int signo);
  // The terminal's local modes (the master reports the slave's termios); nullopt when unreadable.
  std::optional<tcflag_t> LocalModes() const;
  const std::string& screen() const { return screen_; }

 private:
  void ReadSome(int timeout_ms);

  std::chrono::milliseconds wait_;
  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  std::string screen_;
  size_t mark_ = 0;
};

}  // namespace picket::testing
