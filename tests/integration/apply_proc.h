// A `sluice apply` child process for the integration tests (SLUICE_BIN must
// name the built `sluice`): a testing::ChildProcess with stdout to
// /dev/null, stderr appended to a file across runs, stopped by its pid only
// (SIGTERM or SIGKILL), with bounded waits.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/integration/sluiced_harness.h"
#include "tests/support/child_process.h"

namespace sluice::sluiced_test {

// One `sluice apply` child; stderr goes to a file (appended across runs).
class ApplyProc {
 public:
  explicit ApplyProc(std::string err_file) : err_(std::move(err_file)) {}

  void Start(std::vector<std::string> args) {
    ASSERT_FALSE(child_.running());
    args.insert(args.begin(), {SLUICE_BIN, "apply"});
    auto child = testing::ChildProcess::Start(
        args, {.stdout_path = "/dev/null", .stderr_path = err_, .append = true});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    child_ = std::move(*child);
  }
  bool running() {
    Poll();
    return child_.running();
  }
  // The exit code once exited (-1 for a signal); nullopt while running.
  std::optional<int> Poll() { return Code(child_.Poll()); }
  std::optional<int> Wait(int ms) { return Code(child_.WaitFor(std::chrono::milliseconds(ms))); }
  void Kill() {
    if (child_.running()) child_.Kill();  // our own child, by pid
  }
  // SIGTERM; true when it exited 0 within 20 s (else it is killed).
  bool Terminate() {
    if (!child_.running()) return false;
    auto ended = child_.Terminate(std::chrono::seconds(20));
    return ended && ended->success();
  }
  std::string err() const { return FileText(err_); }
  // The end of err(), for failure messages.
  std::string ErrTail(size_t max = 6000) const {
    std::string s = err();
    return s.size() > max ? "..." + s.substr(s.size() - max) : s;
  }

 private:
  static std::optional<int> Code(const std::optional<testing::ExitStatus>& ended) {
    if (!ended) return std::nullopt;
    return ended->exited() ? ended->code() : -1;
  }

  std::string err_;
  testing::ChildProcess child_;  // SIGKILLed and reaped when the object goes
};

}  // namespace sluice::sluiced_test
