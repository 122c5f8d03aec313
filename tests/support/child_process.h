// ChildProcess: the one way tests run another program. Start() runs argv
// (vfork + execve, no shell) with its stdin, stdout and stderr on files the
// test names or on the test's own, and the test's environment plus `env`;
// Fork() runs a function in a forked copy of the test. The child is only
// ever signalled by its pid, waits have a bound (but Wait(), for a child
// that ends by itself or after SIGKILL), and no child outlives its test:
//   - it dies with the thread that started it (PR_SET_PDEATHSIG), so a test
//     that crashes leaves none behind: start children from a thread that
//     outlives them (the test's own);
//   - one still running when its ChildProcess goes away is SIGKILLed and
//     reaped;
//   - it inherits no descriptor of the test's but 0, 1 and 2.
//
//   auto p = testing::ChildProcess::Start(
//       {SLUICED_BIN, "--config", path},
//       {.stdout_path = log, .append = true, .stderr_to_stdout = true});
//   ASSERT_TRUE(p.ok()) << p.status().ToString();
//   ...
//   auto ended = p->Terminate(std::chrono::seconds(60));  // SIGTERM, then SIGKILL
//   EXPECT_TRUE(ended && ended->success()) << (ended ? ended->ToString() : "killed");
//
//   // A program run to its end with its output captured:
//   auto r = testing::RunCapture({SLUICE_BIN, "log", "info", "--path", dir});
//   ASSERT_TRUE(r.ok() && r->status.success()) << ...;
//
//   // A command line as an operator types it (pipes, quotes, VAR=value):
//   auto [rc, out] = testing::RunShell("SLUICE_BIN=" + bin + " failover.sh ...");
//
// Thread safety: one thread at a time uses a ChildProcess object; distinct
// objects may be used from different threads.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice::testing {

// How a child ended: its wait status, read.
class ExitStatus {
 public:
  explicit ExitStatus(int wait_status) : wait_status_(wait_status) {}

  bool exited() const { return WIFEXITED(wait_status_); }
  int code() const { return WEXITSTATUS(wait_status_); }  // REQUIRES: exited()
  bool signaled() const { return WIFSIGNALED(wait_status_); }
  int signal() const { return WTERMSIG(wait_status_); }  // REQUIRES: signaled()
  bool success() const { return exited() && code() == 0; }
  int wait_status() const { return wait_status_; }  // as waitpid() set it
  // "exited with status 3", "killed by signal 9 (KILL)", for messages.
  std::string ToString() const;

 private:
  int wait_status_;
};

// A program run to its end: how it ended and what it printed.
struct Captured {
  ExitStatus status;
  std::string out;  // its stdout
  std::string err;  // its stderr
};

// Runs `argv` as Start() does, with stdin on /dev/null, until it ends and
// closes its stdout and stderr, which are captured. TimedOut (the child
// SIGKILLed) when that takes longer than `timeout`.
Result<Captured> RunCapture(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout = std::chrono::minutes(5));

// A command line run by RunShell(): its exit code, or -1 when a signal
// ended it or it could not be run; its stdout and stderr, interleaved as
// written (or why it could not be run).
struct ShellRun {
  int code = -1;
  std::string out;
};

// Runs `cmd` with /bin/sh -c, its stderr on its stdout (2>&1), through
// RunCapture(): for command lines with the shell's syntax; a program and
// its arguments go to RunCapture() or ChildProcess::Start() as argv.
ShellRun RunShell(const std::string& cmd,
                  std::chrono::milliseconds timeout = std::chrono::minutes(5));

// Where a child's standard streams go and what it gets in its environment.
// A path left "" keeps the test's own stream. (Every member has an
// initializer, so that designated initializers may leave any out.)
struct ChildOptions {
  std::string stdin_path{};        // opened read-only
  std::string stdout_path{};       // created when missing, truncated unless `append`
  std::string stderr_path{};       // as stdout_path
  bool append = false;             // stdout_path and stderr_path are appended to
  bool stderr_to_stdout = false;   // 2>&1: stderr_path is not used
  bool stdout_pipe = false;        // stdout on a pipe, read through stdout_fd()
  std::vector<std::string> env{};  // "NAME=value": replaces NAME in the test's environment
};

class ChildProcess {
 public:
  // Starts argv[0] (a path, or a name looked up in $PATH) with `argv`.
  // NotFound when there is no such program, IoError when a stream's file
  // cannot be opened or the process cannot be created.
  static Result<ChildProcess> Start(const std::vector<std::string>& argv,
                                    const ChildOptions& options = {});
  // Runs `body` in a forked copy of the test process (no exec), which then
  // _exit()s with what body returned: for code that must run in a process
  // of its own (so that its abort is seen, not suffered). The copy has only
  // the calling thread: body must not wait for another.
  static Result<ChildProcess> Fork(const std::function<int()>& body);

  ChildProcess() = default;  // holds no child
  ~ChildProcess();           // SIGKILLs and reaps a child still running
  ChildProcess(ChildProcess&& other) noexcept;
  // The child replaced is SIGKILLed and reaped first, as by the destructor.
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // From Start() until the child is reaped (by Poll(), a wait, Kill() or
  // Terminate()): then its pid may belong to another process.
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // -1 when not running()
  // With ChildOptions::stdout_pipe, the pipe's read end (O_CLOEXEC, closed
  // with the object); else -1.
  int stdout_fd() const { return stdout_fd_; }

  // kill(pid, sig); false when not running() (nothing is signalled).
  bool Signal(int sig);
  // Its status once it has ended (it is reaped then); nullopt while it runs
  // or when the object holds no child.
  std::optional<ExitStatus> Poll();
  // Poll() until it has ended or `timeout` has passed.
  std::optional<ExitStatus> WaitFor(std::chrono::milliseconds timeout);
  // Waits as long as it runs: for a child that ends by itself, or after
  // SIGKILL. REQUIRES: the object holds a child (it aborts otherwise).
  ExitStatus Wait();
  // SIGKILL, then Wait(); the status it had when it had ended already.
  // REQUIRES: as Wait().
  ExitStatus Kill();
  // SIGTERM, then up to `grace` for it to end; Kill() after that. Its
  // status when it ended within `grace` (or had ended before); nullopt when
  // it had to be killed or the object holds no child.
  std::optional<ExitStatus> Terminate(std::chrono::milliseconds grace);

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  friend Result<Captured> RunCapture(const std::vector<std::string>&, std::chrono::milliseconds);
  void Reap(int wait_status);
  void Release();  // kills and reaps the child, closes stdout_fd_

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::optional<ExitStatus> status_;  // once reaped
};

}  // namespace sluice::testing
