// Exit codes, JSON and text renderings of job results.

#include "llmmr/tools/job_report.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

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
  case error_kind::policy:
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

static nlohmann::json nodes_json(const std::vector<node_stats>& xs) {
  auto out = nlohmann::json::array();
  for (const auto& n : xs)
    out.push_back({{"node", n.node},
                   {"chunks_mapped", n.chunks_mapped},
                   {"requeued", n.requeued},
                   {"failures", n.failures},
                   {"calls", n.calls},
                   {"tokens", n.tokens}});
  return out;
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
    {"nodes", nodes_json(res.nodes)},
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
  // Which node mapped what, when other nodes than the local mappers took
  // part or a chunk moved.
  bool worth = false;
  for (const auto& n : res.nodes)
    worth = worth || n.node != "local" || n.requeued > 0;
  if (worth)
    for (const auto& n : res.nodes)
      std::fprintf(out,
                   "llmmr: node %s: %u chunks mapped, %u requeued, %u failed, "
                   "%u calls, %s tokens\n",
                   n.node.c_str(), n.chunks_mapped, n.requeued, n.failures,
                   n.calls, format_count(n.tokens).c_str());
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

} // namespace llmmr::cli
