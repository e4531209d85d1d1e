#include "llmmr/core/read_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
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

std::istream* open_input(const std::string& path, std::ifstream& file) {
  if (path == "-")
    return &std::cin;
  file.open(path, std::ios::binary);
  return file ? &file : nullptr;
}

} // namespace llmmr
