// ChildProcess and RunCapture (tests/support/child_process.h) with /bin/sh,
// sleep and cat as the children.
#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ReadFile(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

// What a child wrote on a pipe: the first read within 30 s ("" when none).
std::string ReadLine(int fd) {
  pollfd p{fd, POLLIN, 0};
  char buf[64];
  if (::poll(&p, 1, 30'000) != 1) return "";
  const ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

ChildProcess StartOrDie(const std::vector<std::string>& argv, const ChildOptions& o = {}) {
  auto p = ChildProcess::Start(argv, o);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(*p) : ChildProcess();
}

TEST(ChildProcess, StreamsGoToTheFilesNamed) {
  TempDir dir;
  std::ofstream(dir.Sub("in")) << "from stdin\n";
  ChildProcess p = StartOrDie(
      {"/bin/sh", "-c", "cat; echo err >&2; exit 3"},
      {.stdin_path = dir.Sub("in"), .stdout_path = dir.Sub("out"), .stderr_path = dir.Sub("err")});
  ASSERT_TRUE(p.running());
  const ExitStatus st = p.Wait();
  EXPECT_TRUE(st.exited());
  EXPECT_EQ(st.code(), 3);
  EXPECT_FALSE(st.success());
  EXPECT_EQ(st.ToString(), "exited with status 3");
  EXPECT_FALSE(p.running());
  EXPECT_EQ(p.pid(), -1);
  EXPECT_EQ(ReadFile(dir.Sub("out")), "from stdin\n");
  EXPECT_EQ(ReadFile(dir.Sub("err")), "err\n");
  EXPECT_EQ(p.Poll()->code(), 3);  // the status stays
}

TEST(ChildProcess, AppendsWithStderrOnStdout) {
  TempDir dir;
  for (int i = 0; i < 2; ++i) {
    ChildProcess p =
        StartOrDie({"/bin/sh", "-c", "echo out; echo err >&2"},
                   {.stdout_path = dir.Sub("log"), .append = true, .stderr_to_stdout = true});
    EXPECT_TRUE(p.Wait().success());
  }
  EXPECT_EQ(ReadFile(dir.Sub("log")), "out\nerr\nout\nerr\n");
}

TEST(ChildProcess, EnvironmentIsTheTestsWithOverrides) {
  TempDir dir;
  ::setenv("SLUICE_CHILD_TEST_KEPT", "kept", 1);
  ::setenv("TZ", "Europe/Paris", 1);
  ChildProcess p = StartOrDie(
      {"/bin/sh", "-c", "echo \"$SLUICE_CHILD_TEST_KEPT $TZ $SLUICE_CHILD_TEST_NEW\"; env"},
      {.stdout_path = dir.Sub("out"), .env = {"TZ=UTC", "SLUICE_CHILD_TEST_NEW=new"}});
  EXPECT_TRUE(p.Wait().success());
  const std::string out = ReadFile(dir.Sub("out"));
  EXPECT_EQ(out.substr(0, out.find('\n')), "kept UTC new");
  EXPECT_EQ(out.find("TZ=Europe/Paris"), std::string::npos) << out;
  ::unsetenv("SLUICE_CHILD_TEST_KEPT");
  ::unsetenv("TZ");
}

TEST(ChildProcess, ProgramsAreFoundInPathOrRefused) {
  ChildProcess p = StartOrDie({"true"});
  EXPECT_TRUE(p.Wait().success());
  auto missing = ChildProcess::Start({"/nonexistent/sluice-child"});
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  auto unknown = ChildProcess::Start({"sluice-no-such-program"});
  EXPECT_EQ(unknown.status().code(), Code::kNotFound) << unknown.status().ToString();
  auto no_dir = ChildProcess::Start({"true"}, {.stdout_path = "/nonexistent/dir/out"});
  EXPECT_EQ(no_dir.status().code(), Code::kIoError) << no_dir.status().ToString();
}

TEST(ChildProcess, SignalsWaitsAndStops) {
  ChildProcess p = StartOrDie({"sleep", "600"});
  ASSERT_TRUE(p.running());
  EXPECT_FALSE(p.WaitFor(milliseconds(50)).has_value());
  EXPECT_FALSE(p.Poll().has_value());
  ASSERT_TRUE(p.running());
  auto st = p.Terminate(seconds(30));  // sleep ends on SIGTERM
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->signaled());
  EXPECT_EQ(st->signal(), SIGTERM);
  EXPECT_FALSE(p.Signal(SIGTERM)) << "a reaped child's pid is not signalled";

  ChildProcess q = StartOrDie({"sleep", "600"});
  const ExitStatus killed = q.Kill();
  EXPECT_TRUE(killed.signaled());
  EXPECT_EQ(killed.signal(), SIGKILL);
  EXPECT_EQ(killed.ToString(), "killed by signal 9 (KILL)");
  EXPECT_EQ(q.Kill().signal(), SIGKILL);  // again: the same status, nothing signalled

  // A child that ignores SIGTERM is killed after the grace period.
  ChildProcess r = StartOrDie({"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 600"},
                              {.stdout_pipe = true});
  ASSERT_EQ(ReadLine(r.stdout_fd()), "ready\n");  // the trap is set
  EXPECT_FALSE(r.Terminate(milliseconds(200)).has_value());
  EXPECT_FALSE(r.running());
  EXPECT_EQ(r.Poll()->signal(), SIGKILL);
}

TEST(ChildProcess, GoingAwayKillsAndReaps) {
  pid_t pid = -1;
  {
    ChildProcess p = StartOrDie({"sleep", "600"});
    pid = p.pid();
    ASSERT_GT(pid, 0);
    ChildProcess moved = std::move(p);
    EXPECT_EQ(moved.pid(), pid);
  }
  // Reaped too: not even a zombie is left to signal.
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(ChildProcess, InheritsNoOtherDescriptor) {
  TempDir dir;
  const int fd = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(fd, 3);
  ChildProcess p = StartOrDie(
      {"/bin/sh", "-c", "test -e /proc/self/fd/" + std::to_string(fd) + " && echo leaked; true"},
      {.stdout_path = dir.Sub("out")});
  EXPECT_TRUE(p.Wait().success());
  ::close(fd);
  EXPECT_EQ(ReadFile(dir.Sub("out")), "");
}

TEST(ChildProcess, StdoutOnAPipe) {
  ChildProcess p =
      StartOrDie({"/bin/sh", "-c", "echo ready; exec sleep 600"}, {.stdout_pipe = true});
  ASSERT_GE(p.stdout_fd(), 0);
  EXPECT_EQ(ReadLine(p.stdout_fd()), "ready\n");
  EXPECT_EQ(p.Kill().signal(), SIGKILL);
}

TEST(ChildProcess, ForkRunsAFunction) {
  auto p = ChildProcess::Fork([] { return 7; });
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Wait().code(), 7);
  auto aborts = ChildProcess::Fork([]() -> int { std::abort(); });
  ASSERT_TRUE(aborts.ok()) << aborts.status().ToString();
  EXPECT_EQ(aborts->Wait().signal(), SIGABRT);
}

TEST(RunCapture, CapturesBothStreamsAndTheStatus) {
  auto r = RunCapture({"/bin/sh", "-c", "echo out; echo err >&2; cat; exit 2"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status.code(), 2);
  EXPECT_EQ(r->out, "out\n");  // stdin is /dev/null: cat prints nothing
  EXPECT_EQ(r->err, "err\n");

  auto big =
      RunCapture({"/bin/sh", "-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2"});
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->out.size(), 300000u);
  EXPECT_EQ(big->err.size(), 200000u);

  auto slow = RunCapture({"sleep", "600"}, milliseconds(200));
  EXPECT_EQ(slow.status().code(), Code::kTimedOut) << slow.status().ToString();
}

}  // namespace
}  // namespace sluice::testing
