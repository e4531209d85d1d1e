#include "llmmr/tools/document_reader.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr::cli {

error read_document(const std::string& path,
                    const std::function<error(std::string_view)>& consume,
                    size_t piece_size) {
  FILE* file = nullptr;
  std::unique_ptr<FILE, int (*)(FILE*)> owner{nullptr, &std::fclose};
  if (path == "-") {
    file = stdin;
  } else {
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr)
      return make_error(error_kind::input,
                        "cannot open '" + path + "': " + std::strerror(errno));
    owner.reset(file);
  }
  std::vector<char> buf(piece_size);
  for (;;) {
    auto n = std::fread(buf.data(), 1, buf.size(), file);
    if (n > 0)
      if (auto err = consume(std::string_view{buf.data(), n}))
        return err;
    if (n < buf.size()) {
      if (std::ferror(file))
        return make_error(error_kind::input, "cannot read '" + path
                                               + "': " + std::strerror(errno));
      return error{};
    }
  }
}

} // namespace llmmr::cli
