#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "llmmr/messages/error.hpp"

namespace llmmr::cli {

/// Reads the document at `path` (or standard input for "-") in pieces of
/// `piece_size` bytes and hands each to `consume`, stopping at the first
/// error. Errors name the file and the system's reason.
error read_document(const std::string& path,
                    const std::function<error(std::string_view)>& consume,
                    size_t piece_size = 1 << 16);

} // namespace llmmr::cli
