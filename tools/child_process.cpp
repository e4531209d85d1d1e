// Child processes: posix_spawn, pipes, reaping with wait4.

#include "llmmr/tools/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llmmr/messages/error_kind.hpp"

extern char** environ;

namespace llmmr::cli {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

} // namespace

expected<child_process> child_process::spawn(const child_options& opts) {
  if (opts.argv.empty())
    return make_error(error_kind::internal, "no program to start");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  struct actions_guard {
    posix_spawn_file_actions_t* a;
    ~actions_guard() { posix_spawn_file_actions_destroy(a); }
  } guard{&actions};
  int pipe_fds[2] = {-1, -1};
  if (opts.pipe_stdin) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
      return make_error(error_kind::internal,
                        std::string{"cannot make a pipe: "}
                          + std::strerror(errno));
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], 0);
  }
  if (!opts.stdout_file.empty())
    posix_spawn_file_actions_addopen(&actions, 1, opts.stdout_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!opts.stderr_file.empty())
    posix_spawn_file_actions_addopen(&actions, 2, opts.stderr_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> args = opts.argv;
  std::vector<char*> cargv;
  for (auto& a : args)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = 0;
  auto rc = posix_spawn(&pid, args.front().c_str(), &actions, nullptr,
                        cargv.data(), environ);
  if (opts.pipe_stdin)
    ::close(pipe_fds[0]);
  if (rc != 0) {
    if (opts.pipe_stdin)
      ::close(pipe_fds[1]);
    return make_error(error_kind::internal, "cannot start " + args.front()
                                              + ": " + std::strerror(rc));
  }
  child_process out;
  out.pid_ = pid;
  out.stdin_fd_ = opts.pipe_stdin ? pipe_fds[1] : -1;
  return out;
}

child_process::child_process(child_process&& other) noexcept
  : pid_(std::exchange(other.pid_, 0)),
    stdin_fd_(std::exchange(other.stdin_fd_, -1)), exit_(other.exit_),
    reaped_(std::exchange(other.reaped_, false)) {
  // nop
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, 0);
    stdin_fd_ = std::exchange(other.stdin_fd_, -1);
    exit_ = other.exit_;
    reaped_ = std::exchange(other.reaped_, false);
  }
  return *this;
}

child_process::~child_process() {
  release();
}

void child_process::release() {
  close_stdin();
  if (pid_ != 0 && !reaped_)
    static_cast<void>(terminate());
  pid_ = 0;
}

error child_process::write_stdin(std::string_view bytes) {
  while (!bytes.empty()) {
    if (stdin_fd_ < 0)
      return make_error(error_kind::internal,
                        "the child's standard input is closed");
    auto n = ::write(stdin_fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return make_error(error_kind::internal, "cannot write to child "
                                                + std::to_string(pid_) + ": "
                                                + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

void child_process::close_stdin() {
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
}

bool child_process::try_reap() {
  if (reaped_)
    return true;
  if (pid_ == 0)
    return false;
  int status = 0;
  rusage usage{};
  auto r = ::wait4(pid_, &status, WNOHANG, &usage);
  if (r == 0)
    return false;
  reaped_ = true;
  if (r < 0) {
    exit_.status = -1;
    return true;
  }
  exit_.status = WIFEXITED(status)
                   ? WEXITSTATUS(status)
                   : -(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  exit_.max_rss_kib = usage.ru_maxrss;
  exit_.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  return true;
}

long child_process::peak_rss_kib() const {
  if (pid_ == 0 || reaped_)
    return -1;
  auto path = "/proc/" + std::to_string(pid_) + "/status";
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr)
    return -1;
  char line[256];
  long result = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr)
    if (std::sscanf(line, "VmHWM: %ld kB", &result) == 1)
      break;
  std::fclose(f);
  return result;
}

bool child_process::running() {
  return pid_ != 0 && !try_reap();
}

expected<child_exit> child_process::wait(std::chrono::milliseconds timeout) {
  if (pid_ == 0)
    return make_error(error_kind::internal, "no child to wait for");
  auto until = clock_type::now() + timeout;
  while (!try_reap()) {
    if (clock_type::now() >= until) {
      static_cast<void>(terminate());
      return make_error(error_kind::timeout,
                        "child " + std::to_string(pid_) + " still ran after "
                          + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return exit_;
}

expected<child_exit> child_process::terminate(std::chrono::milliseconds grace) {
  if (pid_ == 0)
    return make_error(error_kind::internal, "no child to stop");
  if (!try_reap()) {
    ::kill(pid_, SIGTERM);
    auto until = clock_type::now() + grace;
    while (!try_reap()) {
      if (clock_type::now() >= until) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        rusage usage{};
        ::wait4(pid_, &status, 0, &usage);
        reaped_ = true;
        exit_.status = -SIGKILL;
        exit_.max_rss_kib = usage.ru_maxrss;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
  }
  return exit_;
}

expected<std::string> self_executable() {
  std::string buf(4096, '\0');
  auto n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0)
    return make_error(error_kind::internal,
                      std::string{"cannot read /proc/self/exe: "}
                        + std::strerror(errno));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

expected<uint16_t> wait_for_port_file(const std::string& path,
                                      child_process& child,
                                      std::chrono::milliseconds timeout) {
  auto until = clock_type::now() + timeout;
  for (;;) {
    std::ifstream in{path};
    unsigned port = 0;
    if (in >> port && port > 0 && port <= 65535)
      return static_cast<uint16_t>(port);
    if (!child.running())
      return make_error(error_kind::internal,
                        "child " + std::to_string(child.pid())
                          + " exited before writing its port to " + path);
    if (clock_type::now() >= until)
      return make_error(error_kind::timeout, "no port in " + path + " after "
                                               + std::to_string(timeout.count())
                                               + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

} // namespace llmmr::cli
