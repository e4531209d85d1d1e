// Points the llmmr logger at standard error or the configured file.

#include "llmmr/tools/logging_setup.hpp"

#include <exception>
#include <memory>

#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "llmmr/core/log.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr::cli {

error configure_logging(const settings& s) {
  try {
    if (!s.log.file.empty()) {
      set_log_sinks(
        {std::make_shared<spdlog::sinks::basic_file_sink_mt>(s.log.file)});
    } else if (::isatty(STDERR_FILENO)) {
      // Clear the progress bar's line first; the bar redraws itself below
      // the log line at the next progress event.
      logger()->set_pattern("\r\x1b[K[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
    }
    set_log_level(spdlog::level::from_str(s.log.level));
  } catch (const std::exception& ex) {
    return make_error(error_kind::config, "log.file: cannot open '" + s.log.file
                                            + "': " + ex.what());
  }
  return {};
}

} // namespace llmmr::cli
