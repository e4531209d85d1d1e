// The key table of the configuration and everything that only reads it:
// to_json, known_keys, describe_keys, env_name, to_job_spec.

#include "llmmr/config/settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "llmmr/core/ascii.hpp"
#include "llmmr/core/network_address.hpp"
#include "settings_schema.hpp"

extern char** environ;

namespace llmmr {

namespace config_detail {

namespace {

using json = nlohmann::json;

using ascii::lower;
using ascii::trim;

// -- integers -----------------------------------------------------------------

std::string uint_words(uint64_t min, uint64_t max) {
  if (max != std::numeric_limits<uint64_t>::max()
      && max != std::numeric_limits<uint32_t>::max())
    return "an integer between " + std::to_string(min) + " and "
           + std::to_string(max);
  if (min == 0)
    return "a non-negative integer";
  if (min == 1)
    return "a positive integer";
  return "an integer of at least " + std::to_string(min);
}

std::string uint_type(uint64_t min, uint64_t max) {
  if (max != std::numeric_limits<uint64_t>::max()
      && max != std::numeric_limits<uint32_t>::max())
    return "integer " + std::to_string(min) + ".." + std::to_string(max);
  return "integer >= " + std::to_string(min);
}

std::string uint_range(uint64_t v, uint64_t min, uint64_t max,
                       const std::string& got) {
  if (v < min) {
    if (min == 1)
      return "expected a positive integer, got " + got;
    return "must be at least " + std::to_string(min) + ", got " + got;
  }
  if (v > max)
    return "must be at most " + std::to_string(max) + ", got " + got;
  return {};
}

template <class Root, class Acc>
field<Root> uint_field(std::string key, Acc acc, uint64_t min, std::string help,
                       uint64_t max = std::numeric_limits<uint64_t>::max()) {
  using value_type
    = std::remove_reference_t<decltype(acc(std::declval<Root&>()))>;
  max = std::min<uint64_t>(max, std::numeric_limits<value_type>::max());
  field<Root> f;
  f.key = std::move(key);
  f.type = uint_type(min, max);
  f.help = std::move(help);
  f.from_json = [acc, min, max](Root& r, const json& x) -> problem {
    if (!x.is_number_unsigned())
      return {{},
              "expected " + uint_words(min, max) + ", got " + show(x, false)};
    auto v = x.get<uint64_t>();
    if (auto p = uint_range(v, min, max, x.dump()); !p.empty())
      return {{}, p};
    acc(r) = static_cast<value_type>(v);
    return {};
  };
  f.from_text = [acc, min, max](Root& r, std::string_view text) -> problem {
    auto t = trim(text);
    auto bad = [&] {
      return problem{{},
                     "expected " + uint_words(min, max) + ", got "
                       + show_text(text, false)};
    };
    if (t.empty() || !std::all_of(t.begin(), t.end(), [](char c) {
          return c >= '0' && c <= '9';
        }))
      return bad();
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec == std::errc::result_out_of_range)
      return {{},
              "must be at most " + std::to_string(max) + ", got "
                + std::string{t}};
    if (ec != std::errc{} || ptr != t.data() + t.size())
      return bad();
    if (auto p = uint_range(v, min, max, std::string{t}); !p.empty())
      return {{}, p};
    acc(r) = static_cast<value_type>(v);
    return {};
  };
  f.get = [acc](const Root& r) { return json(acc(const_cast<Root&>(r))); };
  return f;
}

// -- floating point -----------------------------------------------------------

std::string number_text(double x) {
  auto text = json(x).dump();
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0)
    text.resize(text.size() - 2);
  return text;
}

template <class Root, class Acc>
field<Root> double_field(std::string key, Acc acc, double min, double max,
                         std::string help) {
  field<Root> f;
  f.key = std::move(key);
  f.type = "number " + number_text(min) + ".." + number_text(max);
  f.help = std::move(help);
  auto check = [min, max](double v, const std::string& got) -> std::string {
    if (!std::isfinite(v) || v < min || v > max)
      return "must be between " + number_text(min) + " and " + number_text(max)
             + ", got " + got;
    return {};
  };
  f.from_json = [acc, min, max, check](Root& r, const json& x) -> problem {
    if (!x.is_number())
      return {{},
              "expected a number between " + number_text(min) + " and "
                + number_text(max) + ", got " + show(x, false)};
    auto v = x.get<double>();
    if (auto p = check(v, x.dump()); !p.empty())
      return {{}, p};
    acc(r) = v;
    return {};
  };
  f.from_text
    = [acc, min, max, check](Root& r, std::string_view text) -> problem {
    auto t = trim(text);
    double v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc{} || ptr != t.data() + t.size())
      return {{},
              "expected a number between " + number_text(min) + " and "
                + number_text(max) + ", got " + show_text(text, false)};
    if (auto p = check(v, std::string{t}); !p.empty())
      return {{}, p};
    acc(r) = v;
    return {};
  };
  f.get = [acc](const Root& r) { return json(acc(const_cast<Root&>(r))); };
  return f;
}

// -- booleans -----------------------------------------------------------------

template <class Root, class Acc>
field<Root> bool_field(std::string key, Acc acc, std::string help) {
  field<Root> f;
  f.key = std::move(key);
  f.type = "boolean";
  f.help = std::move(help);
  f.from_json = [acc](Root& r, const json& x) -> problem {
    if (!x.is_boolean())
      return {{}, "expected true or false, got " + show(x, false)};
    acc(r) = x.get<bool>();
    return {};
  };
  f.from_text = [acc](Root& r, std::string_view text) -> problem {
    auto t = lower(trim(text));
    if (t == "true" || t == "1" || t == "yes" || t == "on") {
      acc(r) = true;
      return {};
    }
    if (t == "false" || t == "0" || t == "no" || t == "off") {
      acc(r) = false;
      return {};
    }
    return {{},
            "expected true or false (or 1/0, yes/no, on/off), got "
              + show_text(text, false)};
  };
  f.get = [acc](const Root& r) { return json(acc(const_cast<Root&>(r))); };
  return f;
}

// -- strings ------------------------------------------------------------------

/// Checks a string value; returns a problem text or "".
using string_check = std::function<std::string(const std::string&)>;

template <class Root, class Acc>
field<Root> string_field(std::string key, Acc acc, std::string help,
                         string_check check = nullptr, bool secret = false,
                         std::string type = "string") {
  field<Root> f;
  f.key = std::move(key);
  f.type = std::move(type);
  f.help = std::move(help);
  f.secret = secret;
  auto set = [acc, check](Root& r, std::string v) -> problem {
    if (check)
      if (auto p = check(v); !p.empty())
        return {{}, p};
    acc(r) = std::move(v);
    return {};
  };
  f.from_json = [set, secret](Root& r, const json& x) -> problem {
    if (!x.is_string())
      return {{}, "expected a string, got " + show(x, secret)};
    return set(r, x.get<std::string>());
  };
  f.from_text = [set](Root& r, std::string_view text) -> problem {
    return set(r, std::string{text});
  };
  f.get = [acc](const Root& r) { return json(acc(const_cast<Root&>(r))); };
  return f;
}

std::string join(const std::vector<std::string>& xs, std::string_view sep) {
  std::string result;
  for (const auto& x : xs) {
    if (!result.empty())
      result += sep;
    result += x;
  }
  return result;
}

string_check one_of(std::vector<std::string> choices) {
  return [choices](const std::string& v) -> std::string {
    if (std::find(choices.begin(), choices.end(), v) != choices.end())
      return {};
    auto result = "expected one of " + join(choices, ", ") + ", got "
                  + show_text(v, false);
    if (auto near = nearest(v, choices); !near.empty())
      result += "; did you mean " + near + "?";
    return result;
  };
}

template <class Root, class Acc>
field<Root> choice_field(std::string key, Acc acc,
                         std::vector<std::string> choices, std::string help) {
  // An empty choice reads "" so that the type stays readable.
  auto shown = choices;
  for (auto& x : shown)
    if (x.empty())
      x = "\"\"";
  auto type = "one of " + join(shown, ", ");
  return string_field<Root>(std::move(key), acc, std::move(help),
                            one_of(std::move(choices)), false, std::move(type));
}

std::vector<std::string> task_names() {
  std::vector<std::string> result;
  for (auto x :
       {task_profile::qa, task_profile::qa_zh, task_profile::code,
        task_profile::math, task_profile::retrieval, task_profile::summary})
    result.push_back(to_string(x));
  return result;
}

field<settings> task_field() {
  auto names = task_names();
  field<settings> f;
  f.key = "job.task";
  f.type = "one of " + join(names, ", ");
  f.help = "Prompt family: qa, qa_zh, code, math, retrieval or summary.";
  auto set
    = [check = one_of(names)](settings& s, const std::string& v) -> problem {
    task_profile x;
    if (!from_string(v, x))
      return {{}, check(v)};
    s.job.task = x;
    return {};
  };
  f.from_json = [set](settings& s, const json& x) -> problem {
    if (!x.is_string())
      return {{}, "expected a string, got " + show(x, false)};
    return set(s, x.get<std::string>());
  };
  f.from_text = [set](settings& s, std::string_view text) -> problem {
    return set(s, std::string{trim(text)});
  };
  f.get = [](const settings& s) { return json(to_string(s.job.task)); };
  return f;
}

// -- lists of host:port -------------------------------------------------------

std::string check_host_port(const std::string& x) {
  auto parsed = parse_host_port(x);
  return parsed ? std::string{} : address_problem(parsed.error());
}

field<settings> nodes_field() {
  field<settings> f;
  f.key = "workers.nodes";
  f.type = "array of \"host:port\" strings";
  f.help = "Worker nodes to use (`llmmr worker`); in variables and flags a "
           "comma-separated list.";
  f.from_json = [](settings& s, const json& x) -> problem {
    if (!x.is_array())
      return {{},
              "expected an array of \"host:port\" strings, got "
                + show(x, false)};
    std::vector<std::string> nodes;
    for (size_t i = 0; i < x.size(); ++i) {
      auto idx = "[" + std::to_string(i) + "]";
      if (!x[i].is_string())
        return {idx, "expected a string, got " + show(x[i], false)};
      auto v = x[i].get<std::string>();
      if (auto p = check_host_port(v); !p.empty())
        return {idx, p};
      nodes.push_back(std::move(v));
    }
    s.workers.nodes = std::move(nodes);
    return {};
  };
  f.from_text = [](settings& s, std::string_view text) -> problem {
    std::vector<std::string> nodes;
    size_t i = 0;
    while (!text.empty()) {
      auto item = ascii::next_item(text);
      if (item.empty())
        continue;
      std::string v{item};
      if (auto p = check_host_port(v); !p.empty())
        return {"[" + std::to_string(i) + "]", p};
      nodes.push_back(std::move(v));
      ++i;
    }
    s.workers.nodes = std::move(nodes);
    return {};
  };
  f.get = [](const settings& s) { return json(s.workers.nodes); };
  return f;
}

// -- lists of strings ---------------------------------------------------------

template <class Root, class Acc>
field<Root> string_list_field(std::string key, Acc acc, std::string help) {
  field<Root> f;
  f.key = std::move(key);
  f.type = "array of strings";
  f.help = std::move(help);
  f.from_json = [acc](Root& r, const json& x) -> problem {
    if (!x.is_array())
      return {{}, "expected an array of strings, got " + show(x, false)};
    std::vector<std::string> xs;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!x[i].is_string() || x[i].get<std::string>().empty())
        return {"[" + std::to_string(i) + "]",
                "expected a non-empty string, got " + show(x[i], false)};
      xs.push_back(x[i].get<std::string>());
    }
    acc(r) = std::move(xs);
    return {};
  };
  f.from_text = [acc](Root& r, std::string_view text) -> problem {
    std::vector<std::string> xs;
    while (!text.empty()) {
      auto comma = text.find(',');
      auto item = trim(text.substr(0, comma));
      text = comma == std::string_view::npos ? std::string_view{}
                                             : text.substr(comma + 1);
      if (!item.empty())
        xs.emplace_back(item);
    }
    acc(r) = std::move(xs);
    return {};
  };
  f.get = [acc](const Root& r) { return json(acc(const_cast<Root&>(r))); };
  return f;
}

// -- small checks -------------------------------------------------------------

std::string check_env_name(const std::string& x) {
  if (x.empty())
    return {};
  auto ok = !std::isdigit(static_cast<unsigned char>(x[0]))
            && std::all_of(x.begin(), x.end(), [](char c) {
                 return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
               });
  if (!ok)
    return "expected the name of an environment variable (letters, digits "
           "and _), got "
           + show_text(x, false);
  return {};
}

std::string check_url_field(const std::string& x) {
  return check_url(x);
}

} // namespace

// -- the tables ---------------------------------------------------------------

const std::vector<field<settings>>& global_fields() {
  using S = settings;
  static const std::vector<field<S>> fields = [] {
    std::vector<field<S>> v;
    // client
    v.push_back(uint_field<S>(
      "client.connect_timeout_ms",
      [](S & s) -> auto& { return s.client.connect_timeout_ms; }, 1,
      "Time allowed to connect, including DNS and the TLS handshake."));
    v.push_back(uint_field<S>(
      "client.first_byte_timeout_ms",
      [](S & s) -> auto& { return s.client.first_byte_timeout_ms; }, 1,
      "Time allowed from sending a request to the first byte of the reply."));
    v.push_back(uint_field<S>(
      "client.idle_timeout_ms",
      [](S & s) -> auto& { return s.client.idle_timeout_ms; }, 1,
      "Longest silence allowed between two events of a streamed reply."));
    v.push_back(uint_field<S>(
      "client.total_timeout_ms",
      [](S & s) -> auto& { return s.client.total_timeout_ms; }, 1,
      "Time allowed for one whole call (one attempt)."));
    v.push_back(bool_field<S>(
      "client.stream", [](S & s) -> auto& { return s.client.stream; },
      "Ask for streamed (SSE) replies."));
    v.push_back(uint_field<S>(
      "client.ready_timeout_ms",
      [](S & s) -> auto& { return s.client.ready_timeout_ms; }, 0,
      "How long set-up waits for a server that answers 503 while loading its "
      "model."));
    v.push_back(uint_field<S>(
      "client.io_threads", [](S & s) -> auto& { return s.client.io_threads; },
      1, "I/O threads shared by every endpoint client."));
    v.push_back(bool_field<S>(
      "client.adaptive_concurrency",
      [](S & s) -> auto& { return s.client.adaptive_concurrency; },
      "Adapt each endpoint's requests in flight to what it takes (halve on "
      "429, back off when latency grows, recover by one per window), never "
      "above max_concurrency."));
    v.push_back(uint_field<S>(
      "client.max_idle_connections",
      [](S & s) -> auto& { return s.client.max_idle_connections; }, 0,
      "Keep-alive connections kept open per endpoint; 0 disables reuse."));
    // retry
    v.push_back(uint_field<S>(
      "retry.max_attempts", [](S & s) -> auto& { return s.retry.max_attempts; },
      1, "Attempts per call, the first included; 1 disables retries.", 100));
    v.push_back(uint_field<S>(
      "retry.initial_backoff_ms",
      [](S & s) -> auto& { return s.retry.initial_backoff_ms; }, 0,
      "Backoff before the first retry; doubled for each further one."));
    v.push_back(uint_field<S>(
      "retry.max_backoff_ms",
      [](S & s) -> auto& { return s.retry.max_backoff_ms; }, 0,
      "Upper bound of one backoff."));
    v.push_back(uint_field<S>(
      "retry.max_total_ms", [](S & s) -> auto& { return s.retry.max_total_ms; },
      1, "Upper bound of the time spent on one call, all retries included."));
    v.push_back(choice_field<S>(
      "retry.jitter", [](S & s) -> auto& { return s.retry.jitter; },
      {"full", "none"},
      "\"full\": each backoff is drawn uniformly from 0 to its exponential "
      "value; \"none\": the exponential value itself."));
    v.push_back(uint_field<S>(
      "retry.breaker_threshold",
      [](S & s) -> auto& { return s.retry.breaker_threshold; }, 0,
      "Consecutive refused or 5xx attempts that open the circuit breaker; 0 "
      "disables it."));
    v.push_back(uint_field<S>(
      "retry.probe_interval_ms",
      [](S & s) -> auto& { return s.retry.probe_interval_ms; }, 1,
      "Wait between two probes while the circuit is open."));
    v.push_back(uint_field<S>(
      "retry.outage_limit_ms",
      [](S & s) -> auto& { return s.retry.outage_limit_ms; }, 1,
      "How long calls are held while the endpoint is down before they fail."));
    // routing
    v.push_back(uint_field<S>(
      "routing.bench_after_failures",
      [](S & s) -> auto& { return s.routing.bench_after_failures; }, 1,
      "Consecutive failures after which an endpoint is benched."));
    v.push_back(uint_field<S>(
      "routing.bench_cooldown_ms",
      [](S & s) -> auto& { return s.routing.bench_cooldown_ms; }, 0,
      "How long a benched endpoint receives no requests."));
    // job
    v.push_back(task_field());
    v.push_back(uint_field<S>(
      "job.budget", [](S & s) -> auto& { return s.job.budget; }, 1,
      "Token budget L of one call: prompt plus reserved output."));
    v.push_back(uint_field<S>(
      "job.max_tokens", [](S & s) -> auto& { return s.job.max_tokens; }, 0,
      "Reserved output tokens (max_tokens); 0 means the task's default (300, "
      "1500 for summary)."));
    v.push_back(uint_field<S>(
      "job.reduce_max_tokens",
      [](S & s) -> auto& { return s.job.reduce_max_tokens; }, 0,
      "Reserved output tokens of the reduce call (the final answer); 0 means "
      "R + min(R, budget / 16), R being the map's reserved output."));
    v.push_back(double_field<S>(
      "job.max_failed_fraction",
      [](S & s) -> auto& { return s.job.max_failed_fraction; }, 0, 1,
      "Fraction of chunks that may fail before the job fails; otherwise the "
      "result is partial."));
    v.push_back(uint_field<S>(
      "job.deadline_ms", [](S & s) -> auto& { return s.job.deadline_ms; }, 0,
      "Wall-clock limit of a job; 0 means none."));
    v.push_back(bool_field<S>(
      "job.early_collapse", [](S & s) -> auto& { return s.job.early_collapse; },
      "Start collapsing full groups while later chunks are still mapped."));
    v.push_back(uint_field<S>(
      "job.reask_unparsable",
      [](S & s) -> auto& { return s.job.reask_unparsable; }, 0,
      "How often an unusable output (cut off with nothing usable, empty or "
      "unparsable) is asked for again with a corrective prompt, in every "
      "stage; 0 disables.",
      10));
    v.push_back(choice_field<S>(
      "job.strategy", [](S & s) -> auto& { return s.job.strategy; },
      {"mapreduce", "chain", "direct"},
      "How the document is divided among calls: \"mapreduce\" (map, "
      "collapse, reduce), \"chain\" (Chain-of-Agents: chunks in order with a "
      "running summary) or \"direct\" (one call, the document cut in the "
      "middle to fit)."));
    // protocol
    v.push_back(choice_field<S>(
      "protocol.structured_output",
      [](S & s) -> auto& { return s.protocol.structured_output; },
      {"auto", "json_schema", "text"},
      "\"auto\": ask for JSON-schema constrained output when the endpoint's "
      "profile supports it, text otherwise; \"json_schema\": always ask; "
      "\"text\": never. A server that rejects a schema is served text."));
    v.push_back(double_field<S>(
      "job.temperature", [](S & s) -> auto& { return s.job.temperature; }, 0, 2,
      "Sampling temperature sent with every request."));
    v.push_back(string_field<S>(
      "job.model", [](S & s) -> auto& { return s.job.model; },
      "Model name for jobs; empty means each endpoint's model."));
    // pipeline
    v.push_back(uint_field<S>(
      "pipeline.map_window",
      [](S & s) -> auto& { return s.pipeline.map_window; }, 1,
      "Map requests in flight per mapper."));
    v.push_back(uint_field<S>(
      "pipeline.mappers", [](S & s) -> auto& { return s.pipeline.mappers; }, 0,
      "Local mapper actors; 0 only with workers.nodes."));
    v.push_back(uint_field<S>(
      "pipeline.chunk_window",
      [](S & s) -> auto& { return s.pipeline.chunk_window; }, 1,
      "Chunks the chunker may buffer ahead of the mappers."));
    v.push_back(uint_field<S>(
      "pipeline.max_collapse_rounds",
      [](S & s) -> auto& { return s.pipeline.max_collapse_rounds; }, 1,
      "Collapse rounds before the termination fallback applies."));
    v.push_back(uint_field<S>(
      "pipeline.max_jobs", [](S & s) -> auto& { return s.pipeline.max_jobs; },
      1, "Jobs running at the same time; further jobs wait."));
    v.push_back(uint_field<S>(
      "pipeline.max_queued_jobs",
      [](S & s) -> auto& { return s.pipeline.max_queued_jobs; }, 0,
      "Jobs that may wait for admission; a start beyond is refused."));
    v.push_back(uint_field<S>(
      "pipeline.collapse_window",
      [](S & s) -> auto& { return s.pipeline.collapse_window; }, 0,
      "Collapse calls of one job in flight at once; 0 means one per map "
      "slot (mappers * map_window + nodes * workers.window)."));
    v.push_back(uint_field<S>(
      "pipeline.max_resplits",
      [](S & s) -> auto& { return s.pipeline.max_resplits; }, 0,
      "How often a chunk the endpoint rejects as too long is split again."));
    v.push_back(uint_field<S>(
      "pipeline.retain_results",
      [](S & s) -> auto& { return s.pipeline.retain_results; }, 1,
      "Finished jobs whose result (or error) stays available."));
    v.push_back(uint_field<S>(
      "pipeline.retain_results_mb",
      [](S & s) -> auto& { return s.pipeline.retain_results_mb; }, 1,
      "MiB the retained results may take together; the oldest go first."));
    v.push_back(uint_field<S>(
      "pipeline.map_timeout_ms",
      [](S & s) -> auto& { return s.pipeline.map_timeout_ms; }, 1,
      "Limit of one chunk's map request, waiting for a mapper included."));
    v.push_back(uint_field<S>(
      "pipeline.call_timeout_ms",
      [](S & s) -> auto& { return s.pipeline.call_timeout_ms; }, 1,
      "Limit of one collapse or reduce call."));
    // input
    v.push_back(bool_field<S>(
      "input.replace_invalid_utf8",
      [](S & s) -> auto& { return s.input.replace_invalid_utf8; },
      "Replace invalid UTF-8 with U+FFFD (with a warning) instead of "
      "failing."));
    // tokenizer
    v.push_back(choice_field<S>(
      "tokenizer.kind", [](S & s) -> auto& { return s.tokenizer.kind; },
      {"auto", "approx", "hf", "tiktoken", "server"},
      "Tokenizer used for budgets. \"auto\": tokenizer.file if set, else the "
      "server's /tokenize when it answers, else \"approx\" (an estimate, "
      "with a warning)."));
    v.push_back(string_field<S>(
      "tokenizer.file", [](S & s) -> auto& { return s.tokenizer.file; },
      "A Hugging Face tokenizer.json or a tiktoken rank file (.tiktoken)."));
    v.push_back(choice_field<S>(
      "tokenizer.encoding", [](S & s) -> auto& { return s.tokenizer.encoding; },
      {"", "cl100k_base", "o200k_base"},
      "The tiktoken encoding of tokenizer.file; empty means the one its name "
      "says."));
    // prompts
    v.push_back(string_field<S>(
      "prompts.dir", [](S & s) -> auto& { return s.prompts.dir; },
      "Directory of template files overriding the built-in prompts; empty "
      "means built-in only."));
    // log
    v.push_back(choice_field<S>(
      "log.level", [](S & s) -> auto& { return s.log.level; },
      {"trace", "debug", "info", "warn", "error", "off"},
      "Minimum level of log messages."));
    v.push_back(string_field<S>(
      "log.file", [](S & s) -> auto& { return s.log.file; },
      "Log file; empty means standard error."));
    // workers
    v.push_back(nodes_field());
    v.push_back(uint_field<S>(
      "workers.window", [](S & s) -> auto& { return s.workers.window; }, 0,
      "Map requests in flight per worker node; 0 means the capacity the node "
      "advertises."));
    v.push_back(uint_field<S>(
      "workers.request_timeout_ms",
      [](S & s) -> auto& { return s.workers.request_timeout_ms; }, 1,
      "Timeout of one request to a worker node."));
    v.push_back(uint_field<S>(
      "workers.max_requeues",
      [](S & s) -> auto& { return s.workers.max_requeues; }, 0,
      "Times a chunk a worker gives back (not the chunk's own failure) is "
      "mapped on another node before it counts as failed."));
    v.push_back(uint_field<S>(
      "workers.bench_after",
      [](S & s) -> auto& { return s.workers.bench_after; }, 1,
      "Given-back chunks in a row after which a worker is benched."));
    v.push_back(uint_field<S>(
      "workers.bench_ms", [](S & s) -> auto& { return s.workers.bench_ms; }, 0,
      "How long a benched worker gets no chunk while others can take one."));
    v.push_back(uint_field<S>(
      "workers.reconnect_backoff_ms",
      [](S & s) -> auto& { return s.workers.reconnect_backoff_ms; }, 0,
      "First wait before reconnecting a worker that went down (doubles per "
      "attempt); 0 never reconnects."));
    v.push_back(uint_field<S>(
      "workers.reconnect_max_ms",
      [](S & s) -> auto& { return s.workers.reconnect_max_ms; }, 1,
      "Longest wait between two reconnection attempts."));
    v.push_back(uint_field<S>(
      "workers.rejoin_wait_ms",
      [](S & s) -> auto& { return s.workers.rejoin_wait_ms; }, 0,
      "How long chunks wait for a worker to come back when no mapper is "
      "left."));
    v.push_back(uint_field<S>(
      "workers.connect_timeout_ms",
      [](S & s) -> auto& { return s.workers.connect_timeout_ms; }, 1,
      "Limit of connecting to one worker node when the pipeline starts."));
    v.push_back(uint_field<S>(
      "workers.heartbeat_interval_ms",
      [](S & s) -> auto& { return s.workers.heartbeat_interval_ms; }, 0,
      "Interval of the middleman's heartbeats to worker nodes; 0 disables."));
    v.push_back(uint_field<S>(
      "workers.connection_timeout_ms",
      [](S & s) -> auto& { return s.workers.connection_timeout_ms; }, 0,
      "Drop a worker connection silent for this long; 0 disables. Needs "
      "heartbeats."));
    v.push_back(string_field<S>(
      "workers.tls.certificate",
      [](S & s) -> auto& { return s.workers.tls.certificate; },
      "PEM certificate of this node for TLS links between coordinator and "
      "workers; empty means plain text (loopback only)."));
    v.push_back(string_field<S>(
      "workers.tls.key", [](S & s) -> auto& { return s.workers.tls.key; },
      "PEM private key of workers.tls.certificate."));
    v.push_back(string_field<S>(
      "workers.tls.ca_file",
      [](S & s) -> auto& { return s.workers.tls.ca_file; },
      "PEM file of the CA a peer's certificate must chain to."));
    v.push_back(string_field<S>(
      "workers.tls.passphrase_env",
      [](S & s) -> auto& { return s.workers.tls.passphrase_env; },
      "Environment variable holding the passphrase of workers.tls.key; empty "
      "means an unencrypted key.",
      check_env_name, false, "variable name"));
    // worker
    v.push_back(string_list_field<S>(
      "worker.models", [](S & s) -> auto& { return s.worker.models; },
      "Models `llmmr worker` serves; empty means its endpoints' models. A "
      "job naming another model is refused."));
    v.push_back(uint_field<S>(
      "worker.max_tokens", [](S & s) -> auto& { return s.worker.max_tokens; },
      1,
      "Largest max_tokens `llmmr worker` sends for a caller; a job asking "
      "more is refused."));
    return v;
  }();
  return fields;
}

const std::vector<field<endpoint_settings>>& endpoint_fields() {
  using E = endpoint_settings;
  static const std::vector<field<E>> fields = [] {
    std::vector<field<E>> v;
    v.push_back(string_field<E>(
      "url", [](E & e) -> auto& { return e.url; },
      "Base URL of the OpenAI-compatible API, e.g. https://api.openai.com/v1.",
      check_url_field, false, "http(s) URL"));
    v.push_back(string_field<E>(
      "model", [](E & e) -> auto& { return e.model; },
      "Model name sent with requests; empty lets the server choose."));
    v.push_back(string_field<E>(
      "api_key", [](E & e) -> auto& { return e.api_key; },
      "API key; prefer api_key_env. Shown as \"***\".", nullptr, true,
      "string (secret)"));
    v.push_back(string_field<E>(
      "api_key_env", [](E & e) -> auto& { return e.api_key_env; },
      "Name of an environment variable holding the API key.", check_env_name,
      false, "variable name"));
    v.push_back(choice_field<E>(
      "profile", [](E & e) -> auto& { return e.profile; },
      {"auto", "openai", "vllm", "llamacpp", "tgi", "generic"},
      "Server dialect; \"auto\" detects it."));
    v.push_back(uint_field<E>(
      "max_concurrency", [](E & e) -> auto& { return e.max_concurrency; }, 0,
      "Concurrent requests to this endpoint; 0 means the server's slot count "
      "(llama.cpp /props total_slots), else 8."));
    v.push_back(uint_field<E>(
      "context_window", [](E & e) -> auto& { return e.context_window; }, 0,
      "Context window of the model in tokens; 0 means discover it."));
    v.push_back(bool_field<E>(
      "tls.verify", [](E & e) -> auto& { return e.tls.verify; },
      "Verify the certificate and host name (https). Off is insecure."));
    v.push_back(string_field<E>(
      "tls.ca_file", [](E & e) -> auto& { return e.tls.ca_file; },
      "PEM file of extra trusted CAs; empty means the system's."));
    return v;
  }();
  return fields;
}

// -- helpers ------------------------------------------------------------------

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance over three rows.
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1),
    cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(std::string_view word,
                    const std::vector<std::string>& candidates) {
  auto lw = lower(word);
  // A key written without its section ("budget" for "job.budget").
  for (const auto& c : candidates) {
    auto dot = c.rfind('.');
    if (dot != std::string::npos && lower(c.substr(dot + 1)) == lw)
      return c;
  }
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    auto d = edit_distance(lw, lower(c));
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  auto limit = std::max<size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string{};
}

std::string show(const nlohmann::json& x, bool secret) {
  switch (x.type()) {
  case json::value_t::object:
    return "an object";
  case json::value_t::array:
    return "an array";
  case json::value_t::null:
    return "null";
  default:
    break;
  }
  if (secret) {
    if (x.is_string())
      return "a string";
    if (x.is_boolean())
      return "a boolean";
    return "a number";
  }
  auto text = x.dump();
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  return text;
}

std::string show_text(std::string_view text, bool secret) {
  if (secret)
    return "a value";
  return ascii::quoted_excerpt(text);
}

std::string check_url(std::string_view url) {
  auto parsed = parse_http_url(url);
  if (!parsed)
    return address_problem(parsed.error());
  if (parsed->has_query_or_fragment)
    return "expected an http or https URL like http://host:port/v1, got "
           + show_text(url.substr(0, url.find_first_of("?#")), false)
           + " (no spaces, query or fragment allowed)";
  return {};
}

} // namespace config_detail

using namespace config_detail;

// -- public API ---------------------------------------------------------------

job_spec settings::to_job_spec(std::string question) const {
  job_spec result;
  result.question = std::move(question);
  result.profile = job.task;
  if (!from_string(job.strategy, result.strategy))
    result.strategy = strategy::mapreduce;
  result.budget = job.budget;
  result.max_tokens = job.max_tokens;
  result.reduce_max_tokens = job.reduce_max_tokens;
  if (!from_string(protocol.structured_output, result.structured_output))
    result.structured_output = structured_output::automatic;
  result.max_failed_fraction = job.max_failed_fraction;
  result.deadline_ms = job.deadline_ms;
  result.early_collapse = job.early_collapse;
  result.reask_unparsable = job.reask_unparsable;
  result.model = job.model;
  result.temperature = job.temperature;
  return result;
}

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> result;
  for (auto** p = environ; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry{*p};
    auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0)
      continue;
    result.emplace(std::string{entry.substr(0, eq)},
                   std::string{entry.substr(eq + 1)});
  }
  return result;
}

nlohmann::json to_json(const settings& s, bool redact_secrets) {
  auto put
    = [](nlohmann::json& obj, const std::string& key, nlohmann::json value) {
        obj[nlohmann::json::json_pointer{"/" +
                                         [&] {
                                           auto k = key;
                                           std::replace(k.begin(), k.end(), '.',
                                                        '/');
                                           return k;
                                         }()}]
          = std::move(value);
      };
  auto result = nlohmann::json::object();
  auto endpoints = nlohmann::json::array();
  for (const auto& e : s.endpoints) {
    auto obj = nlohmann::json::object();
    for (const auto& f : endpoint_fields()) {
      auto value = f.get(e);
      if (f.secret && redact_secrets && value.is_string()
          && !value.get<std::string>().empty())
        value = "***";
      put(obj, f.key, std::move(value));
    }
    endpoints.push_back(std::move(obj));
  }
  result["endpoints"] = std::move(endpoints);
  for (const auto& f : global_fields())
    put(result, f.key, f.get(s));
  return result;
}

std::vector<std::string> known_keys() {
  std::vector<std::string> result;
  for (const auto& f : endpoint_fields())
    result.push_back("endpoints[]." + f.key);
  for (const auto& f : global_fields())
    result.push_back(f.key);
  return result;
}

std::vector<key_info> describe_keys() {
  std::vector<key_info> result;
  settings defaults;
  for (const auto& f : endpoint_fields()) {
    auto path = "endpoints[]." + f.key;
    result.push_back({path, f.type, f.get(defaults.endpoints.front()).dump(),
                      env_name(path), f.help});
  }
  for (const auto& f : global_fields())
    result.push_back(
      {f.key, f.type, f.get(defaults).dump(), env_name(f.key), f.help});
  return result;
}

std::string env_name(std::string_view path) {
  std::string result = "LLMMR_";
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '[') {
      result += '_';
      if (i + 1 < path.size() && path[i + 1] == ']')
        result += "<n>";
    } else if (c == ']') {
      continue;
    } else if (c == '.') {
      if (result.back() != '_')
        result += '_';
    } else {
      result += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return result;
}

} // namespace llmmr
