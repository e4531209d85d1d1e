#include "test_support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "llmmr/core/haystack.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace llmmr::test {

namespace {

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

std::vector<char*> make_argv(const std::vector<std::string>& argv) {
  std::vector<char*> result;
  for (const auto& arg : argv)
    result.push_back(const_cast<char*>(arg.c_str()));
  result.push_back(nullptr);
  return result;
}

} // namespace

temp_dir::temp_dir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base
                     / ("llmmr-test-" + std::to_string(::getpid()) + "-"
                        + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path temp_dir::write(const std::string& name,
                                      const std::string& content) const {
  auto file = path_ / name;
  std::ofstream out{file, std::ios::binary};
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return file;
}

command_result run_command(const std::vector<std::string>& argv,
                           const std::string& input,
                           std::chrono::milliseconds timeout) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0
      || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  auto args = make_argv(argv);
  pid_t pid = -1;
  int rc
    = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": "
                             + std::strerror(rc));
  }
  // Feed stdin from a thread so a child that writes a lot before reading
  // cannot deadlock us.
  std::thread feeder{[fd = in_pipe[1], &input] {
    std::signal(SIGPIPE, SIG_IGN);
    size_t pos = 0;
    while (pos < input.size()) {
      auto n = ::write(fd, input.data() + pos, input.size() - pos);
      if (n <= 0)
        break;
      pos += static_cast<size_t>(n);
    }
    ::close(fd);
  }};
  command_result result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  bool killed = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    int n = ::poll(fds, 2, killed ? 1000 : static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      auto got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err)
          .append(buf, static_cast<size_t>(got));
      }
    }
  }
  for (auto& fd : fds)
    if (fd.fd >= 0)
      ::close(fd.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  feeder.join();
  result.exit_code = decode_status(status);
  return result;
}

child_process::child_process(const std::vector<std::string>& argv,
                             const std::filesystem::path& log_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  auto args = make_argv(argv);
  int rc
    = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw std::runtime_error("cannot start " + argv[0] + ": "
                             + std::strerror(rc));
}

child_process::~child_process() {
  stop();
}

bool child_process::running() {
  if (status_)
    return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = decode_status(status);
    return false;
  }
  return true;
}

int child_process::stop(std::chrono::milliseconds timeout) {
  if (!running())
    return *status_;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running())
      return *status_;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  status_ = decode_status(status);
  return *status_;
}

std::string wait_for_line(const std::filesystem::path& file,
                          std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in{file};
    std::string line;
    if (in && std::getline(in, line) && !line.empty())
      return line;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return {};
}

std::string closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  ::close(fd);
  return std::to_string(ntohs(addr.sin_port));
}

std::string document_with_fact(uint64_t seed, size_t paragraphs,
                               const std::string& fact) {
  llmmr::filler_text filler{seed};
  std::string doc;
  for (size_t i = 0; i < paragraphs; ++i) {
    doc += filler.next_paragraph();
    if (i == paragraphs / 2)
      doc += " " + fact;
    doc += "\n\n";
  }
  return doc;
}

std::string llmmr_binary() {
  return LLMMR_BINARY;
}

std::filesystem::path source_dir() {
  return LLMMR_SOURCE_DIR;
}

sim_process::sim_process(std::vector<std::string> extra) {
  auto port_file = dir.path() / "port";
  std::vector<std::string> argv{llmmr_binary(), "sim",    "--port", "0",
                                "--port-file",  port_file};
  argv.insert(argv.end(), extra.begin(), extra.end());
  child = std::make_unique<child_process>(argv, dir.path() / "sim.log");
  auto port = wait_for_line(port_file);
  if (port.empty())
    throw std::runtime_error("llmmr sim did not report its port");
  url = "http://127.0.0.1:" + port + "/v1";
}

command_result run_llmmr(const std::string& command,
                         const std::vector<std::string>& args,
                         const std::string& input,
                         std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{llmmr_binary(), command};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, input, timeout);
}

nlohmann::json parse_json_output(const command_result& r) {
  INFO("stdout: ", r.out.substr(0, 2000));
  INFO("stderr: ", r.err.substr(0, 2000));
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

} // namespace llmmr::test
