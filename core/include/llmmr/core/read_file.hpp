#pragma once

#include <fstream>
#include <istream>
#include <string>

#include "llmmr/core/tokenizer_error.hpp"

namespace llmmr {

/// Reads the whole file at `path`. The error names the file and the reason.
tokenizer_result<std::string> read_whole_file(const std::string& path);

/// Returns the stream to read `path` from: standard input for `"-"`, else
/// `file` opened on `path` in binary mode. Returns `nullptr` when the file
/// cannot be opened; the caller names the problem.
std::istream* open_input(const std::string& path, std::ifstream& file);

} // namespace llmmr
