#include "llmmr/core/read_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace llmmr {

tokenizer_result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    auto reason = errno != 0 ? std::strerror(errno) : "cannot open";
    return tokenizer_error{path + ": cannot open the file: " + reason};
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return tokenizer_error{path + ": cannot read the file"};
  return std::move(buf).str();
}

} // namespace llmmr
