#include "tests/tools/pty_process.h"

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace picket::testing {

using std::chrono::steady_clock;

PtyProcess::PtyProcess(const std::vector<std::string>& argv, std::chrono::milliseconds wait) : wait_(wait) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  winsize size{};
  size.ws_row = 50;
  size.ws_col = 120;
  pid_ = forkpty(&master_, nullptr, nullptr, &size);
  if (pid_ == 0) {
    execv(args[0], args.data());
    _exit(127);
  }
}

PtyProcess::~PtyProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (master_ >= 0) close(master_);
}

bool PtyProcess::WaitFor(const std::string& text) {
  const auto deadline = steady_clock::now() + wait_;
  while (steady_clock::now() < deadline) {
    if (screen_.find(text, mark_) != std::string::npos) return true;
    ReadSome(50);
  }
  return false;
}

void PtyProcess::Mark() {
  ReadSome(0);
  mark_ = screen_.size();
}

bool PtyProcess::Type(const std::string& keys) {
  return write(master_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size());
}

int PtyProcess::Wait() {
  const auto deadline = steady_clock::now() + wait_;
  int status = 0;
  while (steady_clock::now() < deadline) {
    ReadSome(10);
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      ReadSome(0);
      return status;
    }
  }
  return -1;
}

void PtyProcess::Signal(int signo) {
  if (pid_ > 0 && !exited_) kill(pid_, signo);
}

std::optional<tcflag_t> PtyProcess::LocalModes() const {
  termios t{};
  if (tcgetattr(master_, &t) != 0) return std::nullopt;
  return t.c_lflag;
}

void PtyProcess::ReadSome(int timeout_ms) {
  if (master_ < 0) return;
  pollfd p{master_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return;
  char buffer[8192];
  const ssize_t n = read(master_, buffer, sizeof(buffer));
  if (n > 0) screen_.append(buffer, static_cast<size_t>(n));
}

}  // namespace picket::testing
