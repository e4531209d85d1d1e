#pragma once

#include <string>
#include <string_view>

namespace llmmr {

/// Returns `text` with the five characters XML gives meaning to (`& < > " '`)
/// replaced by their entities, safe inside element text and quoted
/// attribute values (the SVG pictures `llmmr niah` and `llmmr eval` draw).
std::string xml_escape(std::string_view text);

} // namespace llmmr
