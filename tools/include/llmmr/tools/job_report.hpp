#pragma once

// What the CLI makes of a finished job: exit codes, the JSON form, the
// summary and the outcome flags, and number formatting for people.

#include <cstdint>
#include <cstdio>
#include <string>

#include "llmmr/messages/error.hpp"
#include <nlohmann/json.hpp>

#include "llmmr/messages/job_result.hpp"
#include "llmmr/tools/human_format.hpp"
#include "llmmr/tools/streamed_job.hpp"

namespace llmmr::cli {

/// Returns the exit code (see command.hpp) for an error kind.
int exit_code_for(const error& err);

/// Returns the exit code for a finished job: 0, 5 for a partial result, or
/// the code of its error; a job whose every chunk failed counts as an
/// endpoint failure (4).
int exit_code_for(const job_outcome& outcome);

/// Renders `res` as the JSON object `llmmr ask --json` prints.
nlohmann::json to_json(const job_result& res);

/// Prints a short summary of `res` (chunks, calls, tokens, time, failures).
void print_summary(FILE* out, const job_result& res);

/// Prints, one line each, everything that makes `res` less than a complete
/// answer: no information found, the collapse fallback, failed chunks and
/// lost or cut evidence. Prints nothing for a clean result. The CLI calls it
/// whatever `--quiet` or `--json` say.
void print_outcome_flags(FILE* out, const job_result& res);

} // namespace llmmr::cli
