#include "llmmr/tools/server_support.hpp"

#include <cstdio>
#include <fstream>

#include <pthread.h>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr::cli {

stop_signals::stop_signals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int stop_signals::wait() {
  int sig = 0;
  sigwait(&set_, &sig);
  return sig;
}

error write_file_atomically(const std::string& path, std::string_view content) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc | std::ios::binary};
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out)
      return make_error(error_kind::config, "cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(error_kind::config,
                      "cannot rename " + tmp + " to " + path);
  return {};
}

error write_port_file(const std::string& path, uint16_t port) {
  return write_file_atomically(path, std::to_string(port) + "\n");
}

} // namespace llmmr::cli
