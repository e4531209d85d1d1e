// Helpers shared by the tests/config_*.cpp files.

#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "llmmr/messages/error.hpp"

#include "llmmr/messages/error_kind.hpp"

namespace llmmr::testing {

/// A unique directory under /tmp, removed with everything in it on
/// destruction.
class temp_dir {
public:
  temp_dir() {
    std::string tmpl = "/tmp/llmmr-config-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  /// Writes `content` to the file `name` in the directory; returns its path.
  std::string write(const std::string& name, const std::string& content) {
    auto file = path_ / name;
    std::ofstream out{file, std::ios::binary};
    out << content;
    return file.string();
  }

  /// Returns the path of the directory.
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// Returns the message of a config error without the "config: " prefix, or a
/// note naming the wrong kind.
inline std::string message_of(const llmmr::error& err) {
  if (kind_of(err) != error_kind::config)
    return "<not a config error: " + describe(err) + ">";
  auto text = describe(err);
  std::string prefix = "config: ";
  if (text.compare(0, prefix.size(), prefix) == 0)
    text.erase(0, prefix.size());
  return text;
}

} // namespace llmmr::testing
