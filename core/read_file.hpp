#pragma once

#include <string>

#include "llmmr/core/tokenizer_error.hpp"

namespace llmmr {

/// Reads the whole file at `path`. The error names the file and the reason.
tokenizer_result<std::string> read_whole_file(const std::string& path);

} // namespace llmmr
