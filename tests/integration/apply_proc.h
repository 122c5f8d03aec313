// A `sluice apply` child process for the integration tests: spawned with
// posix_spawn (SLUICE_BIN must name the built `sluice`), stdout to
// /dev/null, stderr appended to a file across runs, stopped by its pid
// only (SIGTERM or SIGKILL), with bounded waits.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/integration/sluiced_harness.h"

extern char** environ;

namespace sluice::sluiced_test {

// One `sluice apply` child; stderr goes to a file (appended across runs).
class ApplyProc {
 public:
  explicit ApplyProc(std::string err_file) : err_(std::move(err_file)) {}
  ~ApplyProc() { Kill(); }

  void Start(std::vector<std::string> args) {
    ASSERT_LE(pid_, 0);
    args.insert(args.begin(), {SLUICE_BIN, "apply"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_EQ(posix_spawn(&pid_, SLUICE_BIN, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  bool running() {
    Poll();
    return pid_ > 0;
  }
  // The exit code once exited (-1 for a signal); nullopt while running.
  std::optional<int> Poll() {
    if (pid_ <= 0) return code_;
    int ws = 0;
    if (::waitpid(pid_, &ws, WNOHANG) != pid_) return std::nullopt;
    pid_ = -1;
    code_ = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    return code_;
  }
  std::optional<int> Wait(int ms) {
    for (int i = 0; i < ms / 10; ++i) {
      if (auto c = Poll()) return c;
      SleepMs(10);
    }
    return Poll();
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);  // our own child, by pid
    int ws = 0;
    ::waitpid(pid_, &ws, 0);
    pid_ = -1;
    code_ = -1;
  }
  // SIGTERM; true when it exited 0 within 20 s.
  bool Terminate() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGTERM);
    auto c = Wait(20000);
    if (!c) Kill();
    return c && *c == 0;
  }
  std::string err() const { return FileText(err_); }
  // The end of err(), for failure messages.
  std::string ErrTail(size_t max = 6000) const {
    std::string s = err();
    return s.size() > max ? "..." + s.substr(s.size() - max) : s;
  }

 private:
  std::string err_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

}  // namespace sluice::sluiced_test
