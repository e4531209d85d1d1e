#pragma once

// Helpers shared by the subcommands that run jobs (`ask`, `demo`): settings
// to backend and pipeline options, connecting to the endpoints, streaming a
// document into a job with progress on stderr, and rendering the result.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"
#include <caf/fwd.hpp>
#include <nlohmann/json.hpp>

#include "llmmr/actors/pipeline.hpp"
#include "llmmr/backends/endpoint.hpp"
#include "llmmr/backends/http_client.hpp"
#include "llmmr/backends/llm_client.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/messages/job_result.hpp"
#include "llmmr/messages/progress_event.hpp"
#include "llmmr/tools/args.hpp"

namespace llmmr::cli {

/// The backend options that `settings` describe, before any endpoint was
/// asked anything.
struct backend_options {
  /// One entry per configured endpoint; "auto" profiles read `generic`.
  std::vector<endpoint_options> endpoints;
  /// Parallel to `endpoints`: whether the profile is "auto" (detect it).
  std::vector<bool> detect_profile;
  /// HTTP timeouts and connection reuse.
  client_timeouts timeouts;
  /// The retry policy.
  retry_options retry;
  /// Routing over several endpoints.
  routing_options routing;
};

/// Maps the `endpoints`, `client`, `retry` and `routing` sections of `s` to
/// backend options. Fails with `error_kind::config` for an unknown profile
/// or jitter name.
expected<backend_options> to_backend_options(const settings& s);

/// A connected client stack.
struct backend {
  /// The client every LLM call goes through (retries included).
  std::shared_ptr<llm_client> client;
  /// The per-endpoint clients below `client`, for their counters.
  std::vector<std::shared_ptr<http_client>> http_clients;
  /// The endpoints as used: detected profiles and context windows filled in.
  std::vector<endpoint_options> endpoints;
  /// The smallest context window of all endpoints, 0 when none is known.
  uint32_t context_window = 0;
};

/// Turns `s` into a client stack. Endpoints with profile "auto" are asked
/// which server they run (`detect_profile`) and endpoints without a
/// configured context window are asked for it. Fails with the endpoint's
/// error kind (`unreachable`, `tls`, `auth`, ...) when an endpoint cannot be
/// used and with `error_kind::config` for invalid options. API keys never
/// appear in an error.
expected<backend> connect_backend(const settings& s);

/// Maps the `pipeline`, `input`, `prompts` and `workers` sections of `s` to
/// pipeline options.
pipeline_options to_pipeline_options(const settings& s);

/// Prepares `cfg` for worker nodes: loads the CAF middleman when
/// `workers.nodes` is not empty (or `always`) and sets its heartbeat interval
/// and connection timeout from the `workers` section when they are not 0.
/// Call it before creating the actor system.
void configure_middleman(caf::actor_system_config& cfg, const settings& s,
                         bool always = false);

/// Lowers `spec.budget` to `context_window` when it is larger (and the
/// window is known). Returns a note for the user when it did, else nothing.
std::string fit_budget(job_spec& spec, uint32_t context_window);

/// A command-line flag that stands for a configuration key.
struct flag_key {
  /// The flag's name without dashes, e.g. "budget".
  std::string_view flag;
  /// The key it sets, e.g. "job.budget".
  std::string_view key;
};

/// Appends every `--set KEY=VALUE` of `args` to `overrides`, in order, so
/// later ones win. Fails with `error_kind::usage` for a malformed pair.
error add_set_overrides(
  const parsed_args& args,
  std::vector<std::pair<std::string, std::string>>& overrides);

/// Builds the settings layers of a command: `--config` (or none), the
/// process environment, then the flags in `flags`, then every `--set`.
expected<settings_sources>
settings_sources_from(const parsed_args& args, std::span<const flag_key> flags);

/// Applies `log.level` and `log.file` to the default spdlog logger.
error configure_logging(const settings& s);

/// How progress is shown on stderr.
enum class progress_mode {
  /// Not at all.
  none,
  /// One live line redrawn in place (for a terminal).
  bar,
  /// Plain lines every two seconds and on stage changes (for logs).
  lines,
};

/// Returns `bar` when stderr is a terminal and `lines` otherwise.
progress_mode default_progress_mode();

/// Hands a document to `consume` piece by piece; returns the first error of
/// the source or of `consume`.
using document_source
  = std::function<error(const std::function<error(std::string_view)>& consume)>;

/// Returns a source that hands `text` on in pieces of `piece` bytes. `text`
/// must outlive the source.
document_source text_source(std::string_view text, size_t piece = 1 << 16);

/// What `run_streamed_job` observed.
struct job_outcome {
  /// The job's result, or why the job (or its input) failed.
  expected<job_result> result{error{}};
  /// The last progress event received (chunk counts of a failed job).
  progress_event last;
  /// The job's id, 0 when the job never started.
  uint64_t job_id = 0;
  /// Wall time from the job's start to its result, in microseconds.
  uint64_t wall_us = 0;
};

/// Starts a job with `spec` on `pipeline`, sends it the pieces `source`
/// produces with `job_piece_atom`, waiting for each piece's ack before the
/// next one (so a slow pipeline slows the reader down and memory stays
/// bounded), ends the document and waits for the result. Progress goes to
/// stderr as `mode` says; `size_hint`, the document's size in bytes when
/// known (0 otherwise), lets the progress show how much of the input was
/// consumed before the chunk count is final. Blocks the calling thread; never
/// call it from an actor.
job_outcome run_streamed_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             const document_source& source, progress_mode mode,
                             uint64_t size_hint = 0);

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

/// Formats a duration in microseconds for people, e.g. "1.4 s" or "2m05s".
std::string format_duration(uint64_t us);

/// Formats a token count for people, e.g. "950", "12.3k", "1.20M".
std::string format_count(uint64_t n);

/// What `parse_command_args` found: the arguments, or (when they are
/// empty) the exit code the command returns at once.
struct command_args {
  /// The parsed arguments; empty after a usage error or `--help`.
  std::optional<parsed_args> args;
  /// `exit_usage` after a usage error, `exit_ok` after `--help`.
  int exit_code = 0;
};

/// Parses `raw` for `command`, which takes options only: prints the usage
/// on `--help`, and prints the error on a bad option or any positional
/// argument.
command_args parse_command_args(std::string_view command, arg_list raw,
                                std::span<const option_spec> specs,
                                std::string_view synopsis);

} // namespace llmmr::cli
