#include "llmmr/tools/cli_support.hpp"
#include "llmmr/actors/caf_error.hpp"
#include "llmmr/core/log.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <thread>
#include <utility>

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "llmmr/backends/client_factory.hpp"
#include "llmmr/backends/discovery.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

uint64_t micros_since(clock_type::time_point t0) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now()
                                                          - t0)
      .count());
}

std::chrono::milliseconds ms(uint64_t x) {
  return std::chrono::milliseconds{static_cast<int64_t>(x)};
}

error with_endpoint(const error& err, const std::string& url) {
  auto text = describe(err);
  // describe() reads "kind: text"; keep only the text.
  if (auto pos = text.find(": "); pos != std::string::npos)
    text = text.substr(pos + 2);
  return make_error(kind_of(err), "endpoint " + url + ": " + text);
}

// -- progress printer ---------------------------------------------------------

using progress_tick_atom = caf::atom_constant<caf::atom("prog_tick")>;
using progress_done_atom = caf::atom_constant<caf::atom("prog_done")>;
using progress_bytes_atom = caf::atom_constant<caf::atom("prog_bytes")>;

/// Receives a job's progress events and draws them on stderr. Answers
/// `progress_done_atom` with the last event and quits.
class progress_printer : public caf::event_based_actor {
public:
  progress_printer(caf::actor_config& cfg, progress_mode mode,
                   uint64_t size_hint)
    : caf::event_based_actor(cfg), mode_(mode), size_hint_(size_hint) {
    // nop
  }

  caf::behavior make_behavior() override {
    started_ = clock_type::now();
    schedule_tick();
    return {
      [this](progress_event& ev) {
        bool changed = !have_ || ev.stage != last_.stage
                       || ev.collapse_round != last_.collapse_round;
        last_ = ev;
        have_ = true;
        dirty_ = true;
        if (changed)
          draw();
      },
      [this](progress_bytes_atom, uint64_t bytes) {
        bytes_acked_ = bytes;
        dirty_ = true;
      },
      [this](progress_tick_atom) {
        // Redraw on every tick, also without news: the elapsed time moves
        // and a quiet stage (a long reduce call) still shows signs of life.
        auto final_stage
          = last_.stage == job_stage::done || last_.stage == job_stage::failed;
        if (dirty_ || (have_ && !final_stage))
          draw();
        schedule_tick();
      },
      [this](progress_done_atom) {
        if (dirty_)
          draw();
        if (mode_ == progress_mode::bar && drawn_) {
          std::fputs("\n", stderr);
          std::fflush(stderr);
        }
        quit();
        return last_;
      },
    };
  }

private:
  void schedule_tick() {
    if (mode_ == progress_mode::none)
      return;
    auto period = mode_ == progress_mode::bar ? 200ms : 2000ms;
    delayed_send(caf::actor_cast<caf::actor>(this), period,
                 progress_tick_atom::value);
  }

  void draw() {
    dirty_ = false;
    if (mode_ == progress_mode::none || !have_)
      return;
    const auto& ev = last_;
    auto done = ev.chunks_mapped + ev.chunks_failed;
    // Before the chunk count is final, the share of the input consumed is
    // the better measure of progress.
    double fraction = 0;
    bool by_bytes = !ev.document_complete && size_hint_ > 0;
    if (ev.stage == job_stage::done)
      fraction = 1;
    else if (ev.document_complete && ev.chunks_total > 0)
      fraction = static_cast<double>(done) / ev.chunks_total;
    double read = 0;
    if (by_bytes)
      read = std::min(1.0, static_cast<double>(bytes_acked_)
                             / static_cast<double>(size_hint_));
    if (by_bytes && read > 0 && ev.chunks_total > 0) {
      // Extrapolate the final chunk count from the share already read.
      auto expected = static_cast<double>(ev.chunks_total) / read;
      fraction = std::min(1.0, static_cast<double>(done) / expected);
    }
    auto finished
      = ev.stage == job_stage::done || ev.stage == job_stage::failed;
    auto elapsed = finished ? ev.elapsed_us
                            : std::max(ev.elapsed_us, micros_since(started_));
    auto eta = ev.eta_us;
    if (eta == 0 && by_bytes && fraction > 0.01)
      eta = static_cast<uint64_t>(static_cast<double>(elapsed) * (1 - fraction)
                                  / fraction);
    std::string total = std::to_string(ev.chunks_total);
    if (!ev.document_complete)
      total += "+";
    std::string line;
    if (mode_ == progress_mode::bar) {
      constexpr size_t width = 24;
      auto filled = std::min(
        width, static_cast<size_t>(fraction * static_cast<double>(width)));
      line = "\r\x1b[K[" + std::string(filled, '#')
             + std::string(width - filled, '.') + "] " + to_string(ev.stage)
             + " " + std::to_string(ev.chunks_mapped) + "/" + total + " chunks";
      if (ev.chunks_failed > 0)
        line += " (" + std::to_string(ev.chunks_failed) + " failed)";
      if (ev.chunks_in_flight > 0)
        line += " | " + std::to_string(ev.chunks_in_flight) + " in flight";
      if (ev.collapse_round > 0)
        line += " | collapse round " + std::to_string(ev.collapse_round);
      line
        += " | "
           + format_count(ev.usage.prompt_tokens + ev.usage.completion_tokens)
           + " tok | " + format_duration(elapsed);
      if (by_bytes)
        line += " | " + std::to_string(static_cast<int>(read * 100)) + "% read";
      if (eta > 0)
        line += " | ETA " + format_duration(eta);
    } else {
      line = "llmmr: " + to_string(ev.stage) + ": "
             + std::to_string(ev.chunks_mapped) + "/" + total
             + " chunks mapped, " + std::to_string(ev.chunks_failed)
             + " failed";
      if (ev.chunks_in_flight > 0)
        line += ", " + std::to_string(ev.chunks_in_flight) + " in flight";
      if (ev.collapse_round > 0)
        line += ", collapse round " + std::to_string(ev.collapse_round);
      line
        += ", "
           + std::to_string(ev.usage.prompt_tokens + ev.usage.completion_tokens)
           + " tokens, " + format_duration(elapsed) + " elapsed";
      if (by_bytes)
        line += ", " + std::to_string(static_cast<int>(read * 100))
                + " % of the input read";
      if (eta > 0)
        line += ", ETA " + format_duration(eta);
      line += "\n";
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
  }

  progress_mode mode_;
  uint64_t size_hint_;
  clock_type::time_point started_;
  uint64_t bytes_acked_ = 0;
  progress_event last_;
  bool have_ = false;
  bool dirty_ = false;
  bool drawn_ = false;
};

} // namespace

// -- settings mapping ---------------------------------------------------------

expected<backend_options> to_backend_options(const settings& s) {
  backend_options out;
  for (size_t i = 0; i < s.endpoints.size(); ++i) {
    const auto& ep = s.endpoints[i];
    endpoint_options opts;
    opts.url = ep.url;
    opts.model = !ep.model.empty() ? ep.model : s.job.model;
    opts.api_key = ep.api_key;
    opts.max_concurrency = ep.max_concurrency;
    opts.verify_tls = ep.tls.verify;
    opts.ca_file = ep.tls.ca_file;
    opts.context_window = ep.context_window;
    bool detect = ep.profile == "auto";
    if (!detect && !from_string(ep.profile, opts.profile))
      return make_error(error_kind::config, "endpoints[" + std::to_string(i)
                                              + "].profile: unknown "
                                              + "profile '" + ep.profile + "'");
    out.endpoints.push_back(std::move(opts));
    out.detect_profile.push_back(detect);
  }
  out.timeouts.connect = ms(s.client.connect_timeout_ms);
  out.timeouts.first_byte = ms(s.client.first_byte_timeout_ms);
  out.timeouts.idle = ms(s.client.idle_timeout_ms);
  out.timeouts.total = ms(s.client.total_timeout_ms);
  out.timeouts.max_idle_connections = s.client.max_idle_connections;
  out.retry.max_attempts = s.retry.max_attempts;
  out.retry.initial_backoff = ms(s.retry.initial_backoff_ms);
  out.retry.max_backoff = ms(s.retry.max_backoff_ms);
  out.retry.max_total = ms(s.retry.max_total_ms);
  if (s.retry.jitter == "full")
    out.retry.jitter = jitter_mode::full;
  else if (s.retry.jitter == "none")
    out.retry.jitter = jitter_mode::none;
  else
    return make_error(error_kind::config,
                      "retry.jitter: unknown mode '" + s.retry.jitter + "'");
  out.routing.bench_after_failures = s.routing.bench_after_failures;
  out.routing.bench_cooldown = ms(s.routing.bench_cooldown_ms);
  return out;
}

namespace {

/// The ids in a `/v1/models` listing.
std::vector<std::string> model_ids(const std::string& body) {
  std::vector<std::string> out;
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("data") || !doc["data"].is_array())
    return out;
  for (const auto& m : doc["data"])
    if (m.is_object() && m.contains("id") && m["id"].is_string())
      out.push_back(m["id"].get<std::string>());
  return out;
}

/// llama.cpp's `/props` `total_slots`.
std::optional<uint64_t> discover_slots(http_client& client) {
  auto res = fetch(client, "GET", "/props");
  if (!res || res->status != 200)
    return std::nullopt;
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (doc.is_object() && doc.contains("total_slots")
      && doc["total_slots"].is_number_unsigned()
      && doc["total_slots"].get<uint64_t>() > 0)
    return doc["total_slots"].get<uint64_t>();
  return std::nullopt;
}

/// Asks `/v1/models` until the server stops answering `503` (llama.cpp says
/// "Loading model" while it starts), for at most `limit_ms`.
expected<raw_response> wait_until_loaded(http_client& client,
                                         uint64_t limit_ms) {
  auto deadline
    = std::chrono::steady_clock::now() + std::chrono::milliseconds{limit_ms};
  for (;;) {
    auto res = fetch(client, "GET", "/v1/models");
    if (!res || res->status != 503
        || std::chrono::steady_clock::now() >= deadline)
      return res;
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
}

} // namespace

expected<backend> connect_backend(const settings& s) {
  auto opts = to_backend_options(s);
  if (!opts)
    return std::move(opts.error());
  backend out;
  // Set-up requests should not hang for the long per-call limits.
  auto probe_timeouts = opts->timeouts;
  probe_timeouts.total
    = std::min(probe_timeouts.total, std::chrono::milliseconds{30'000});
  probe_timeouts.first_byte
    = std::min(probe_timeouts.first_byte, probe_timeouts.total);
  probe_timeouts.idle = std::min(probe_timeouts.idle, probe_timeouts.total);
  probe_timeouts.connect
    = std::min(probe_timeouts.connect, probe_timeouts.total);
  for (size_t i = 0; i < opts->endpoints.size(); ++i) {
    auto& ep = opts->endpoints[i];
    bool detect = opts->detect_profile[i];
    bool want_slots = ep.max_concurrency == 0;
    if (!detect && ep.context_window != 0 && !ep.model.empty() && !want_slots)
      continue;
    auto probe_opts = ep;
    if (probe_opts.max_concurrency == 0)
      probe_opts.max_concurrency = 1;
    auto probe = http_client::make(probe_opts, probe_timeouts);
    if (!probe)
      return std::move(probe.error());
    auto name = (*probe)->name();
    auto models = wait_until_loaded(**probe, s.client.ready_timeout_ms);
    if (!models)
      return with_endpoint(models.error(), name);
    if (models->status == 401 || models->status == 403)
      return make_error(error_kind::auth,
                        "endpoint " + name + " refused the credentials (HTTP "
                          + std::to_string(models->status) + ")");
    if (detect) {
      auto profile = detect_profile(**probe);
      if (!profile)
        return with_endpoint(profile.error(), name);
      ep.profile = *profile;
    }
    if (ep.context_window == 0) {
      if (auto window = discover_context_window(**probe, ep.profile))
        ep.context_window
          = static_cast<uint32_t>(std::min<uint64_t>(*window, UINT32_MAX));
    }
    if (ep.model.empty() && models->status == 200) {
      // No model configured: the server's only model, or a clear error.
      auto ids = model_ids(models->body);
      if (ids.size() > 1) {
        std::string list;
        for (const auto& id : ids)
          list += (list.empty() ? "" : ", ") + id;
        return make_error(error_kind::config,
                          "endpoint " + name + " serves "
                            + std::to_string(ids.size()) + " models (" + list
                            + "): choose one with --model or job.model");
      }
      if (ids.size() == 1)
        ep.model = ids.front();
    }
    if (want_slots) {
      auto slots = ep.profile == endpoint_profile::llamacpp
                     ? discover_slots(**probe)
                     : std::nullopt;
      ep.max_concurrency = slots ? static_cast<uint32_t>(*slots) : 8;
    }
    logger()->debug("endpoint {}: profile {}, model '{}', context window {}, "
                    "max_concurrency {}",
                    name, to_string(ep.profile), ep.model, ep.context_window,
                    ep.max_concurrency);
  }
  for (const auto& ep : opts->endpoints)
    if (ep.context_window != 0
        && (out.context_window == 0 || ep.context_window < out.context_window))
      out.context_window = ep.context_window;
  auto client = make_client(opts->endpoints, opts->timeouts, opts->retry,
                            opts->routing, &out.http_clients);
  if (!client)
    return std::move(client.error());
  out.client = std::move(*client);
  out.endpoints = std::move(opts->endpoints);
  return out;
}

pipeline_options to_pipeline_options(const settings& s) {
  pipeline_options out;
  out.mappers = s.pipeline.mappers;
  out.map_window = s.pipeline.map_window;
  out.chunk_window = s.pipeline.chunk_window;
  out.max_collapse_rounds = s.pipeline.max_collapse_rounds;
  out.max_jobs = s.pipeline.max_jobs;
  out.replace_invalid_utf8 = s.input.replace_invalid_utf8;
  out.prompts_dir = s.prompts.dir;
  out.stream = s.client.stream;
  out.workers = s.workers.nodes;
  out.worker_window = s.workers.window;
  out.worker_timeout = std::chrono::milliseconds{s.workers.request_timeout_ms};
  return out;
}

void configure_middleman(caf::actor_system_config& cfg, const settings& s,
                         bool always) {
  if (!always && s.workers.nodes.empty())
    return;
  cfg.load<caf::io::middleman>();
  auto ms
    = [](uint64_t x) { return caf::timespan{std::chrono::milliseconds{x}}; };
  if (s.workers.heartbeat_interval_ms != 0)
    cfg.set("middleman.heartbeat-interval",
            ms(s.workers.heartbeat_interval_ms));
  if (s.workers.connection_timeout_ms != 0)
    cfg.set("middleman.connection-timeout",
            ms(s.workers.connection_timeout_ms));
}

std::string fit_budget(job_spec& spec, uint32_t context_window) {
  if (context_window == 0 || spec.budget <= context_window)
    return {};
  auto note = "job.budget " + std::to_string(spec.budget)
              + " exceeds the model's context window; using "
              + std::to_string(context_window);
  spec.budget = context_window;
  return note;
}

error add_set_overrides(
  const parsed_args& args,
  std::vector<std::pair<std::string, std::string>>& overrides) {
  for (const auto& kv : args.all("set")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error(error_kind::usage,
                        "--set expects KEY=VALUE, got '" + kv + "'");
    overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return {};
}

expected<settings_sources>
settings_sources_from(const parsed_args& args,
                      std::span<const flag_key> flags) {
  settings_sources src;
  src.file = args.get("config").value_or("");
  src.environment = current_environment();
  for (const auto& [flag, key] : flags)
    if (auto value = args.get(flag))
      src.overrides.emplace_back(std::string{key}, *value);
  if (auto err = add_set_overrides(args, src.overrides))
    return err;
  return src;
}

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

// -- running a job ------------------------------------------------------------

progress_mode default_progress_mode() {
  return ::isatty(STDERR_FILENO) ? progress_mode::bar : progress_mode::lines;
}

document_source text_source(std::string_view text, size_t piece) {
  return [text, piece](const std::function<error(std::string_view)>& consume) {
    for (size_t pos = 0; pos < text.size(); pos += piece)
      if (auto err = consume(text.substr(pos, piece)))
        return err;
    return error{};
  };
}

job_outcome run_streamed_job(caf::actor_system& sys,
                             const pipeline_handle& pipeline, job_spec spec,
                             const document_source& source, progress_mode mode,
                             uint64_t size_hint) {
  job_outcome out;
  auto t0 = clock_type::now();
  caf::scoped_actor self{sys};
  error err;
  auto keep_error = [&err](caf::error& x) { err = from_caf(x); };
  self
    ->request(pipeline.actor, caf::infinite, job_start_atom::value,
              std::move(spec))
    .receive([&](uint64_t id) { out.job_id = id; }, keep_error);
  if (err) {
    out.result = std::move(err);
    return out;
  }
  auto id = out.job_id;
  auto printer = sys.spawn<progress_printer>(mode, size_hint);
  self
    ->request(pipeline.actor, caf::infinite, job_watch_atom::value, id,
              caf::actor_cast<caf::actor>(printer))
    .receive([](bool) {}, keep_error);
  // Feed the document, one acknowledged piece at a time.
  bool job_refused = false;
  error source_err;
  if (!err) {
    source_err = source([&](std::string_view piece) -> error {
      error piece_err;
      self
        ->request(pipeline.actor, caf::infinite, job_piece_atom::value, id,
                  std::string{piece})
        .receive(
          [&](uint64_t bytes) {
            self->send(printer, progress_bytes_atom::value, bytes);
          },
          [&](caf::error& x) { piece_err = from_caf(x); });
      if (piece_err)
        job_refused = true;
      return piece_err;
    });
  }
  if (source_err && !job_refused) {
    // The source failed (an unreadable file): the job cannot go on.
    self->send(pipeline.actor, job_cancel_atom::value, id);
    err = std::move(source_err);
  }
  if (!err && !job_refused)
    self->request(pipeline.actor, caf::infinite, job_end_atom::value, id)
      .receive([](uint32_t) {},
               [](caf::error&) {
                 // The job's own error arrives with its result.
               });
  // The result (or the job's error, also when a piece was refused).
  self->request(pipeline.actor, caf::infinite, job_result_atom::value, id)
    .receive([&](job_result& res) { out.result = std::move(res); },
             [&](caf::error& x) { out.result = from_caf(x); });
  if (err)
    out.result = std::move(err);
  out.wall_us = micros_since(t0);
  self->request(printer, caf::infinite, progress_done_atom::value)
    .receive([&](progress_event& ev) { out.last = std::move(ev); },
             [](caf::error&) {});
  return out;
}

// -- results ------------------------------------------------------------------

int exit_code_for(const error& err) {
  switch (kind_of(err)) {
  case error_kind::none:
    return exit_ok;
  case error_kind::usage:
    return exit_usage;
  case error_kind::config:
  case error_kind::budget:
    return exit_config;
  case error_kind::input:
  case error_kind::invalid_utf8:
  case error_kind::empty_document:
    return exit_input;
  case error_kind::unreachable:
  case error_kind::tls:
  case error_kind::auth:
  case error_kind::rate_limited:
  case error_kind::quota:
  case error_kind::context_length_exceeded:
  case error_kind::bad_request:
  case error_kind::server_error:
  case error_kind::timeout:
  case error_kind::bad_reply:
    return exit_endpoint;
  case error_kind::truncated:
  case error_kind::unparsable:
    return exit_unusable_answer;
  case error_kind::cancelled:
  case error_kind::deadline:
  case error_kind::node_down:
  case error_kind::too_many_failures:
    return exit_job_failed;
  default:
    return exit_internal;
  }
}

int exit_code_for(const job_outcome& outcome) {
  if (outcome.result)
    return outcome.result->partial ? exit_partial : exit_ok;
  const auto& err = outcome.result.error();
  // Every chunk failed on its calls: the endpoint is the problem.
  if (kind_of(err) == error_kind::too_many_failures
      && outcome.last.chunks_total > 0
      && outcome.last.chunks_failed == outcome.last.chunks_total)
    return exit_endpoint;
  return exit_code_for(err);
}

nlohmann::json to_json(const job_result& res) {
  using json = nlohmann::json;
  auto range = [](const byte_range& r) {
    return json::array({r.begin, r.end});
  };
  auto usage_json = [](const usage& u) {
    return json{{"prompt_tokens", u.prompt_tokens},
                {"completion_tokens", u.completion_tokens},
                {"total_tokens", u.prompt_tokens + u.completion_tokens}};
  };
  json evidence = json::array();
  for (const auto& ev : res.evidence) {
    json chunks = json::array();
    for (const auto& r : ev.ranges)
      chunks.push_back(range(r));
    const auto& rec = ev.record;
    evidence.push_back(json{{"chunks", std::move(chunks)},
                            {"chunk_indices", rec.chunks},
                            {"extracted", rec.extracted},
                            {"rationale", rec.rationale},
                            {"answer", rec.answer},
                            {"no_information", rec.no_information},
                            {"confidence", rec.confidence},
                            {"has_confidence", rec.has_confidence},
                            {"kind", to_string(rec.kind)},
                            {"status", to_string(rec.status)},
                            {"usage", usage_json(rec.usage)},
                            {"raw", rec.raw}});
  }
  json failures = json::array();
  for (const auto& f : res.failures)
    failures.push_back(json{{"index", f.index},
                            {"range", range(f.range)},
                            {"kind", to_string(f.kind)},
                            {"reason", f.reason}});
  json losses = json::array();
  for (const auto& l : res.losses) {
    json ranges = json::array();
    for (const auto& r : l.ranges)
      ranges.push_back(range(r));
    losses.push_back(json{{"chunk_indices", l.chunks},
                          {"chunks", std::move(ranges)},
                          {"confidence", l.confidence},
                          {"what", l.what}});
  }
  auto ms_of = [](uint64_t us) { return static_cast<double>(us) / 1000.0; };
  return json{
    {"job_id", res.job_id},
    {"strategy", to_string(res.strategy)},
    {"answer", res.answer},
    {"rationale", res.rationale},
    {"confidence", res.confidence},
    {"evidence", std::move(evidence)},
    {"calls",
     {{"map", res.calls.map},
      {"collapse", res.calls.collapse},
      {"reduce", res.calls.reduce}}},
    {"reasks",
     {{"map", res.reasks.map},
      {"collapse", res.reasks.collapse},
      {"reduce", res.reasks.reduce}}},
    {"no_information", res.no_information},
    {"tokenizer", res.tokenizer},
    {"token_counts_estimated", res.token_counts_estimated},
    {"collapse_rounds", res.collapse_rounds},
    {"collapse_fallback", res.collapse_fallback},
    {"fallback_note", res.fallback_note},
    {"usage", usage_json(res.usage)},
    {"chunks", res.chunks},
    {"document_tokens", res.document_tokens},
    {"cut_tokens", res.cut_tokens},
    {"failures", std::move(failures)},
    {"losses", std::move(losses)},
    {"partial", res.partial},
    {"timings_ms",
     {{"chunk", ms_of(res.timings.chunk_us)},
      {"map", ms_of(res.timings.map_us)},
      {"collapse", ms_of(res.timings.collapse_us)},
      {"reduce", ms_of(res.timings.reduce_us)},
      {"total", ms_of(res.timings.total_us)}}},
  };
}

void print_summary(FILE* out, const job_result& res) {
  if (res.strategy == strategy::chain)
    std::fprintf(out,
                 "llmmr: strategy chain: %u chunks; calls: %u worker "
                 "(sequential), %u manager\n",
                 res.chunks, res.calls.map, res.calls.reduce);
  else if (res.strategy == strategy::direct)
    std::fprintf(
      out,
      "llmmr: strategy direct: %u call%s over %llu of %llu "
      "document tokens\n",
      res.calls.reduce, res.calls.reduce == 1 ? "" : "s",
      static_cast<unsigned long long>(res.document_tokens - res.cut_tokens),
      static_cast<unsigned long long>(res.document_tokens));
  else
    std::fprintf(out,
                 "llmmr: %u chunks; calls: %u map, %u collapse, %u reduce; "
                 "%u collapse round%s%s\n",
                 res.chunks, res.calls.map, res.calls.collapse,
                 res.calls.reduce, res.collapse_rounds,
                 res.collapse_rounds == 1 ? "" : "s",
                 res.collapse_fallback ? " (fallback applied)" : "");
  std::fprintf(out,
               "llmmr: tokens: %s prompt + %s completion; time %s (map %s, "
               "collapse %s, reduce %s)\n",
               format_count(res.usage.prompt_tokens).c_str(),
               format_count(res.usage.completion_tokens).c_str(),
               format_duration(res.timings.total_us).c_str(),
               format_duration(res.timings.map_us).c_str(),
               format_duration(res.timings.collapse_us).c_str(),
               format_duration(res.timings.reduce_us).c_str());
  std::string sources;
  for (const auto& ev : res.evidence) {
    for (size_t i = 0; i < ev.record.chunks.size(); ++i) {
      if (!sources.empty())
        sources += ", ";
      sources += std::to_string(ev.record.chunks[i]);
      if (i < ev.ranges.size())
        sources += " (bytes " + std::to_string(ev.ranges[i].begin) + "-"
                   + std::to_string(ev.ranges[i].end) + ")";
      if (sources.size() > 400) {
        sources += ", ...";
        break;
      }
    }
  }
  std::fprintf(out, "llmmr: confidence %.1f/5; evidence from chunk%s %s\n",
               res.confidence, res.evidence.size() == 1 ? "" : "s",
               sources.empty() ? "(none)" : sources.c_str());
  std::fprintf(out, "llmmr: tokens counted with %s%s\n", res.tokenizer.c_str(),
               res.token_counts_estimated ? " (estimates)" : "");
  if (res.reasks.map + res.reasks.collapse + res.reasks.reduce > 0)
    std::fprintf(out,
                 "llmmr: corrective re-asks: %u map, %u collapse, %u reduce\n",
                 res.reasks.map, res.reasks.collapse, res.reasks.reduce);
}

void print_outcome_flags(FILE* out, const job_result& res) {
  if (res.no_information)
    std::fprintf(out, "llmmr: no part of the document held information for "
                      "the question: no reduce call was made and the answer "
                      "is the no-information answer\n");
  if (res.cut_tokens > 0)
    std::fprintf(out,
                 "llmmr: partial result: direct cut %llu of %llu document "
                 "tokens from the middle to fit the budget\n",
                 static_cast<unsigned long long>(res.cut_tokens),
                 static_cast<unsigned long long>(res.document_tokens));
  if (!res.fallback_note.empty())
    std::fprintf(out, "llmmr: collapse fallback: %s\n",
                 res.fallback_note.c_str());
  if (!res.failures.empty()) {
    std::fprintf(out, "llmmr: partial result: %zu chunk%s failed\n",
                 res.failures.size(), res.failures.size() == 1 ? "" : "s");
    size_t shown = 0;
    for (const auto& f : res.failures) {
      if (++shown > 10) {
        std::fprintf(out, "llmmr:   ... %zu more\n", res.failures.size() - 10);
        break;
      }
      std::fprintf(out, "llmmr:   chunk %u (bytes %llu-%llu): %s: %s\n",
                   f.index, static_cast<unsigned long long>(f.range.begin),
                   static_cast<unsigned long long>(f.range.end),
                   to_string(f.kind).c_str(), f.reason.c_str());
    }
  }
  if (!res.losses.empty()) {
    std::fprintf(out,
                 "llmmr: partial result: evidence lost or cut %zu time%s\n",
                 res.losses.size(), res.losses.size() == 1 ? "" : "s");
    size_t shown = 0;
    for (const auto& l : res.losses) {
      if (++shown > 10) {
        std::fprintf(out, "llmmr:   ... %zu more\n", res.losses.size() - 10);
        break;
      }
      std::string where;
      for (size_t i = 0; i < l.chunks.size() && i < 8; ++i) {
        if (!where.empty())
          where += ", ";
        where += std::to_string(l.chunks[i]);
        if (i < l.ranges.size())
          where += " (bytes " + std::to_string(l.ranges[i].begin) + "-"
                   + std::to_string(l.ranges[i].end) + ")";
      }
      if (l.chunks.size() > 8)
        where += ", ...";
      std::fprintf(out, "llmmr:   %s%s%s (confidence %.1f)\n",
                   where.empty() ? "" : "chunk ", where.c_str(),
                   where.empty() ? l.what.c_str() : (": " + l.what).c_str(),
                   l.confidence);
    }
  }
}

std::string format_duration(uint64_t us) {
  char buf[32];
  if (us < 1'000'000)
    std::snprintf(buf, sizeof(buf), "%.0f ms", static_cast<double>(us) / 1e3);
  else if (us < 60'000'000)
    std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(us) / 1e6);
  else
    std::snprintf(buf, sizeof(buf), "%llum%02llus",
                  static_cast<unsigned long long>(us / 60'000'000),
                  static_cast<unsigned long long>(us / 1'000'000 % 60));
  return buf;
}

std::string format_count(uint64_t n) {
  char buf[32];
  if (n < 1000)
    std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(n));
  else if (n < 1'000'000)
    std::snprintf(buf, sizeof(buf), "%.1fk", static_cast<double>(n) / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.2fM", static_cast<double>(n) / 1e6);
  return buf;
}

command_args parse_command_args(std::string_view command, arg_list raw,
                                std::span<const option_spec> specs,
                                std::string_view synopsis) {
  auto args = parse_args(command, raw, specs);
  if (!args) {
    print_error(command, args.error());
    return {std::nullopt, exit_usage};
  }
  if (args->has("help")) {
    print_usage(command, synopsis, specs);
    return {std::nullopt, exit_ok};
  }
  if (!args->positional.empty()) {
    print_error(command, make_error(error_kind::usage,
                                    "unexpected argument '"
                                      + args->positional.front() + "'"));
    return {std::nullopt, exit_usage};
  }
  return {std::move(*args), exit_ok};
}

} // namespace llmmr::cli
