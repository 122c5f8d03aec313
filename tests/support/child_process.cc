#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// The file execve should run for `name`: itself when it has a '/', else the
// first executable `name` in $PATH.
Result<std::string> FindProgram(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("no program to run (empty argv)");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) != 0) return Status::NotFound(Errno("cannot run " + name));
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t at = 0; at <= dirs.size();) {
    size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = end > at ? dirs.substr(at, end - at) : ".";
    const std::string file = dir + "/" + name;
    if (::access(file.c_str(), X_OK) == 0) return file;
    at = end + 1;
  }
  return Status::NotFound("no program " + name + " in $PATH (" + dirs + ")");
}

// The test's environment with each NAME of `overrides` ("NAME=value")
// replaced.
std::vector<std::string> ChildEnv(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& o : overrides) {
      const size_t eq = o.find('=');
      if (eq != std::string::npos &&
          entry.substr(0, eq + 1) == std::string_view(o).substr(0, eq + 1)) {
        replaced = true;
      }
    }
    if (!replaced) env.emplace_back(entry);
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Descriptors the parent opened for a child, closed when they go.
class Fds {
 public:
  Fds() = default;
  ~Fds() { CloseAll(); }
  Fds(const Fds&) = delete;
  Fds& operator=(const Fds&) = delete;
  int Add(int fd) {
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }
  void CloseAll() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
};

Result<int> OpenFor(Fds* fds, const std::string& path, int flags) {
  const int fd = fds->Add(::open(path.c_str(), flags | O_CLOEXEC, 0644));
  if (fd < 0) return Status::IoError(Errno("open(" + path + ") for a child"));
  return fd;
}

// vfork + execve of `argv` with `stdio[i]` (when >= 0) as descriptor i.
//
// vfork, not fork: a test process may hold whole log images (hundreds of
// MB), and after a fork its first allocations stall for a second or more
// on copy-on-write faults, long enough to miss what the test watches for.
// Not posix_spawn (which also avoids the copy): it cannot set
// PR_SET_PDEATHSIG. The child shares the parent's memory until execve, so
// everything is prepared here and it only makes system calls.
Result<pid_t> SpawnExec(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                        const std::array<int, 3>& stdio) {
  SLUICE_ASSIGN_OR_RETURN(const std::string program, FindProgram(argv.empty() ? "" : argv[0]));
  std::vector<std::string> args = argv, envs = ChildEnv(env);
  const std::vector<char*> args_c = CStrings(args), env_c = CStrings(envs);
  const pid_t parent = ::getpid();
  const pid_t pid = ::vfork();
  if (pid < 0) return Status::IoError(Errno("vfork() for " + program));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl
    for (int i = 0; i < 3; ++i) {
      if (stdio[i] == i) {
        ::fcntl(i, F_SETFD, 0);  // keep it across execve
      } else if (stdio[i] >= 0) {
        ::dup2(stdio[i], i);  // the copy is not close-on-exec
      }
    }
    ::close_range(3, ~0U, 0);  // descriptors of the test's without O_CLOEXEC
    ::execve(program.c_str(), args_c.data(), env_c.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (exited()) return "exited with status " + std::to_string(code());
  if (signaled()) {
    const char* name = ::sigabbrev_np(signal());
    return "killed by signal " + std::to_string(signal()) +
           (name != nullptr ? std::string(" (") + name + ")" : "");
  }
  return "ended (wait status " + std::to_string(wait_status_) + ")";
}

Result<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                         const ChildOptions& options) {
  Fds fds;  // the parent's copies, closed once the child has its own
  std::array<int, 3> stdio = {-1, -1, -1};
  const int out_flags = O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
  if (!options.stdin_path.empty()) {
    SLUICE_ASSIGN_OR_RETURN(stdio[0], OpenFor(&fds, options.stdin_path, O_RDONLY));
  }
  int read_end = -1;
  if (options.stdout_pipe) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Status::IoError(Errno("pipe2() for a child"));
    read_end = p[0];
    stdio[1] = fds.Add(p[1]);
  } else if (!options.stdout_path.empty()) {
    SLUICE_ASSIGN_OR_RETURN(stdio[1], OpenFor(&fds, options.stdout_path, out_flags));
  }
  if (options.stderr_to_stdout) {
    stdio[2] = stdio[1] >= 0 ? stdio[1] : STDOUT_FILENO;
  } else if (!options.stderr_path.empty()) {
    SLUICE_ASSIGN_OR_RETURN(stdio[2], OpenFor(&fds, options.stderr_path, out_flags));
  }
  auto pid = SpawnExec(argv, options.env, stdio);
  if (!pid.ok()) {
    if (read_end >= 0) ::close(read_end);
    return pid.status();
  }
  return ChildProcess(*pid, read_end);
}

Result<ChildProcess> ChildProcess::Fork(const std::function<int()>& body) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status::IoError(Errno("fork()"));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::_exit(body());
  }
  return ChildProcess(pid, -1);
}

ChildProcess::~ChildProcess() { Release(); }

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), stdout_fd_(other.stdout_fd_), status_(other.status_) {
  other.pid_ = -1;
  other.stdout_fd_ = -1;
  other.status_.reset();
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Release();
    pid_ = other.pid_;
    stdout_fd_ = other.stdout_fd_;
    status_ = other.status_;
    other.pid_ = -1;
    other.stdout_fd_ = -1;
    other.status_.reset();
  }
  return *this;
}

void ChildProcess::Release() {
  if (running()) Kill();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdout_fd_ = -1;
}

void ChildProcess::Reap(int wait_status) {
  pid_ = -1;
  status_ = ExitStatus(wait_status);
}

bool ChildProcess::Signal(int sig) { return running() && ::kill(pid_, sig) == 0; }

std::optional<ExitStatus> ChildProcess::Poll() {
  while (running()) {
    int ws = 0;
    const pid_t r = ::waitpid(pid_, &ws, WNOHANG);
    if (r == pid_) {
      Reap(ws);
    } else if (r < 0 && errno == ECHILD) {
      Reap(-1);  // reaped elsewhere (SIGCHLD ignored): ended, status unknown
    } else if (r == 0 || errno != EINTR) {
      break;
    }
  }
  return status_;
}

std::optional<ExitStatus> ChildProcess::WaitFor(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto st = Poll(); st || !running()) return st;
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return std::nullopt;
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(10)));
  }
}

ExitStatus ChildProcess::Wait() {
  while (running()) {
    int ws = 0;
    const pid_t r = ::waitpid(pid_, &ws, 0);
    if (r == pid_) Reap(ws);
    if (r < 0 && errno == ECHILD) Reap(-1);
  }
  if (!status_) {
    std::fprintf(stderr, "ChildProcess::Wait() on an object that holds no child\n");
    std::abort();
  }
  return *status_;
}

ExitStatus ChildProcess::Kill() {
  Signal(SIGKILL);  // our own child, by its pid
  return Wait();    // SIGKILL cannot be caught: this ends
}

std::optional<ExitStatus> ChildProcess::Terminate(std::chrono::milliseconds grace) {
  if (!running()) return status_;
  Signal(SIGTERM);
  if (auto st = WaitFor(grace)) return st;
  Kill();
  return std::nullopt;
}

Result<Captured> RunCapture(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Fds ours, theirs;  // the pipes' read ends; what the child gets
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::IoError(Errno("pipe2() for a child"));
  ours.Add(out[0]);
  theirs.Add(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return Status::IoError(Errno("pipe2() for a child"));
  ours.Add(err[0]);
  theirs.Add(err[1]);
  SLUICE_ASSIGN_OR_RETURN(const int devnull, OpenFor(&theirs, "/dev/null", O_RDONLY));
  SLUICE_ASSIGN_OR_RETURN(const pid_t pid, SpawnExec(argv, {}, {devnull, out[1], err[1]}));
  ChildProcess child(pid, -1);
  theirs.CloseAll();  // so that the pipes end when the child closes its ends

  std::string text[2];
  pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  char buf[65536];
  bool late = false;
  while (p[0].fd >= 0 || p[1].fd >= 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      late = true;  // it, or a process it started, still holds the pipes
      break;
    }
    if (::poll(p, 2, static_cast<int>(std::min<int64_t>(left.count(), 1000))) < 0 &&
        errno != EINTR) {
      return Status::IoError(Errno("poll() on " + argv[0] + "'s output"));
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        text[i].append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        p[i].fd = -1;  // poll() skips it from now on
      }
    }
  }
  std::optional<ExitStatus> ended;
  if (!late) {
    ended = child.WaitFor(
        std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()),
                 std::chrono::milliseconds(0)));
  }
  if (!ended) {
    child.Kill();
    return Status::TimedOut(argv[0] + " ran for over " + std::to_string(timeout.count()) +
                            " ms and was killed; its stdout: " + text[0].substr(0, 2000) +
                            "\nits stderr: " + text[1].substr(0, 2000));
  }
  return Captured{*ended, std::move(text[0]), std::move(text[1])};
}

ShellRun RunShell(const std::string& cmd, std::chrono::milliseconds timeout) {
  auto r = RunCapture({"/bin/sh", "-c", cmd + " 2>&1"}, timeout);
  if (!r.ok()) return {-1, r.status().ToString()};
  return {r->status.exited() ? r->status.code() : -1, std::move(r->out)};
}

}  // namespace sluice::testing
