// `llmmr probe`: checks an endpoint the way a user setting up would, and
// says whether llmmr can use it.

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "llmmr/backends/discovery.hpp"
#include "llmmr/backends/http_client.hpp"
#include "llmmr/backends/profile.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr option_spec probe_options[] = {
  {"endpoint", true, "URL   base URL, e.g. http://127.0.0.1:8080/v1"},
  {"model", true, "M     model name (default: the first one listed)"},
  {"api-key", true, "K     API key (default: $OPENAI_API_KEY)"},
  {"profile", true, "P     openai|vllm|llamacpp|tgi|generic (default: detect)"},
  {"insecure", false, "      do not verify the TLS certificate (insecure)"},
  {"ca-file", true, "F     PEM file with trusted CA certificates"},
  {"timeout", true, "MS    total time per request (default 60000)"},
  {"json", false, "      print the report as JSON"},
};

/// One line of the readable report and one field of the JSON report.
struct probe_report {
  json doc = json::object();
  std::string text;
  std::string failure; // why the endpoint is not usable; empty when usable

  void line(const std::string& what, const std::string& value) {
    text += "  " + what;
    if (what.size() < 22)
      text += std::string(22 - what.size(), ' ');
    text += value + "\n";
  }
};

std::string ms_text(uint64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

std::string first_model(const std::string& body) {
  auto doc = json::parse(body, nullptr, false);
  if (!doc.is_object())
    return {};
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_array() || data->empty()
      || !data->front().is_object())
    return {};
  return data->front().value("id", std::string{});
}

chat_request tiny_request(bool stream) {
  chat_request req;
  req.messages.push_back({"user", "Reply with the single word: ready"});
  req.max_tokens = 8;
  req.stream = stream;
  req.label = stream ? "probe stream" : "probe plain";
  return req;
}

int run_probe(arg_list args) {
  auto parsed = parse_args("probe", args, probe_options);
  if (!parsed) {
    print_error("probe", parsed.error());
    return exit_usage;
  }
  if (parsed->has("help")) {
    print_usage("probe", "--endpoint URL [options]", probe_options);
    return exit_ok;
  }
  auto url = parsed->get("endpoint");
  if (!url) {
    print_error("probe",
                make_error(error_kind::usage, "--endpoint is required"));
    return exit_usage;
  }
  auto timeout = parsed->get_uint("timeout");
  if (!timeout) {
    print_error("probe", timeout.error());
    return exit_usage;
  }
  endpoint_options opts;
  opts.url = *url;
  opts.model = parsed->get("model").value_or("");
  if (auto key = parsed->get("api-key"))
    opts.api_key = *key;
  else if (const char* env = std::getenv("OPENAI_API_KEY"))
    opts.api_key = env;
  opts.verify_tls = !parsed->has("insecure");
  opts.ca_file = parsed->get("ca-file").value_or("");
  opts.max_concurrency = 2;
  std::optional<endpoint_profile> forced;
  if (auto p = parsed->get("profile")) {
    endpoint_profile x;
    if (!from_string(*p, x)) {
      print_error(
        "probe", make_error(error_kind::usage, "unknown profile '" + *p + "'"));
      return exit_usage;
    }
    forced = x;
  }
  client_timeouts timeouts;
  timeouts.connect = 5000ms;
  timeouts.total = std::chrono::milliseconds{timeout->value_or(60000)};
  timeouts.first_byte = timeouts.total;
  timeouts.idle = timeouts.total;
  bool as_json = parsed->has("json");

  probe_report rep;
  auto& doc = rep.doc;
  auto parsed_url = parse_endpoint_url(opts.url);
  if (!parsed_url) {
    print_error("probe", parsed_url.error());
    return exit_usage;
  }
  doc["endpoint"] = parsed_url->to_string();
  doc["tls"] = parsed_url->tls();
  doc["tls_verified"] = parsed_url->tls() && opts.verify_tls;
  rep.text = "llmmr probe " + parsed_url->to_string() + "\n";
  doc["reachable"] = false;
  doc["authenticated"] = false;
  doc["profile"] = nullptr;
  doc["context_window"] = nullptr;
  doc["tokenize"] = false;
  doc["json_schema"] = false;
  doc["plain"] = false;
  doc["stream"] = false;

  auto finish = [&]() {
    doc["usable"] = rep.failure.empty();
    if (!rep.failure.empty())
      doc["reason"] = rep.failure;
    if (as_json) {
      std::printf("%s\n", doc.dump(2).c_str());
    } else {
      std::printf("%s", rep.text.c_str());
      if (rep.failure.empty())
        std::printf("usable: yes\n");
      else
        std::printf("usable: no — %s\n", rep.failure.c_str());
    }
    return rep.failure.empty() ? exit_ok : exit_endpoint;
  };

  auto client = http_client::make(opts, timeouts);
  if (!client) {
    print_error("probe", client.error());
    return exit_config;
  }
  // 1. Reachability, TLS, authentication: GET /v1/models.
  auto models = fetch(**client, "GET", "/v1/models");
  if (!models) {
    auto kind = kind_of(models.error());
    rep.line("reachable", "no (" + describe(models.error()) + ")");
    if (kind == error_kind::tls)
      doc["tls_error"] = describe(models.error());
    rep.failure = describe(models.error());
    return finish();
  }
  doc["reachable"] = true;
  doc["latency_ms"] = static_cast<double>(models->latency_us) / 1000.0;
  rep.line("reachable", "yes (" + ms_text(models->latency_us) + ")");
  if (parsed_url->tls())
    rep.line("TLS", opts.verify_tls ? "yes, certificate verified"
                                    : "yes, NOT verified (--insecure)");
  if (models->status == 401 || models->status == 403) {
    rep.line("authentication",
             "refused (HTTP " + std::to_string(models->status) + ")");
    rep.failure = "the endpoint refused the credentials (HTTP "
                  + std::to_string(models->status) + ")";
    return finish();
  }
  doc["authenticated"] = true;
  rep.line("authentication",
           opts.api_key.empty() ? "not needed (no key sent)" : "accepted");
  if (opts.model.empty() && models->status == 200)
    opts.model = first_model(models->body);
  doc["model"] = opts.model;
  rep.line("model", opts.model.empty() ? "(server default)" : opts.model);
  // 2. Profile.
  endpoint_profile profile = endpoint_profile::generic;
  if (forced) {
    profile = *forced;
    rep.line("profile", to_string(profile) + " (given)");
  } else {
    auto detected = detect_profile(**client);
    profile = detected ? *detected : endpoint_profile::generic;
    rep.line("profile", to_string(profile) + " (detected)");
  }
  doc["profile"] = to_string(profile);
  // A client speaking the profile, with the model.
  opts.profile = profile;
  client->reset();
  client = http_client::make(opts, timeouts);
  if (!client) {
    print_error("probe", client.error());
    return exit_config;
  }
  // 3. Context window.
  auto window = discover_context_window(**client, profile);
  if (window) {
    doc["context_window"] = *window;
    rep.line("context window", std::to_string(*window) + " tokens");
  } else {
    rep.line("context window", "unknown (set endpoints[].context_window)");
  }
  // 4. Tokenize.
  auto tokens = remote_token_count(**client, profile, "Hello, world!");
  doc["tokenize"] = tokens.has_value();
  rep.line("/tokenize", tokens ? "yes (\"Hello, world!\" = "
                                   + std::to_string(*tokens) + " tokens)"
                               : "no (token counts will be estimated)");
  // 5. Plain completion.
  auto plain = chat_blocking(**client, tiny_request(false));
  if (!plain) {
    rep.line("plain completion", "failed (" + describe(plain.error()) + ")");
    doc["plain_error"] = describe(plain.error());
    rep.failure = "a plain completion failed: " + describe(plain.error());
    return finish();
  }
  doc["plain"] = true;
  doc["plain_latency_ms"] = static_cast<double>(plain->latency_us) / 1000.0;
  rep.line(
    "plain completion",
    "yes (" + ms_text(plain->latency_us) + ", finish_reason "
      + (plain->finish_reason.empty() ? "?" : plain->finish_reason)
      + (plain->usage_estimated ? ", usage estimated)" : ", usage reported)"));
  // 6. Streamed completion.
  auto t0 = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::duration> first_delta;
  size_t deltas = 0;
  auto streamed
    = chat_blocking(**client, tiny_request(true), [&](std::string_view) {
        if (!first_delta)
          first_delta = std::chrono::steady_clock::now() - t0;
        ++deltas;
      });
  if (streamed) {
    doc["stream"] = true;
    doc["stream_latency_ms"]
      = static_cast<double>(streamed->latency_us) / 1000.0;
    auto ttft_us
      = first_delta
          ? std::chrono::duration_cast<std::chrono::microseconds>(*first_delta)
              .count()
          : 0;
    if (first_delta)
      doc["stream_first_delta_ms"] = static_cast<double>(ttft_us) / 1000.0;
    rep.line("streamed completion",
             "yes (" + ms_text(streamed->latency_us) + ", first delta "
               + (first_delta ? ms_text(static_cast<uint64_t>(ttft_us)) : "-")
               + ", " + std::to_string(deltas) + " deltas)");
  } else {
    doc["stream_error"] = describe(streamed.error());
    rep.line("streamed completion", "no (" + describe(streamed.error()) + ")");
  }
  // 7. JSON-schema output.
  auto schema_req = tiny_request(false);
  schema_req.messages[0].content
    = "Reply with a JSON object whose field \"ready\" is true.";
  // Room enough for the object even when a grammar-constrained model pads
  // it with white space; a cut reply proves nothing either way.
  schema_req.max_tokens = 96;
  schema_req.json_schema = R"({"type":"object","properties":{"ready":)"
                           R"({"type":"boolean"}},"required":["ready"]})";
  auto structured = chat_blocking(**client, schema_req);
  bool schema_ok = false;
  bool cut = false;
  if (structured) {
    auto parsed_reply = json::parse(structured->text, nullptr, false);
    schema_ok = parsed_reply.is_object() && parsed_reply.contains("ready");
    cut = !schema_ok && structured->finish_reason == "length";
    // A reply cut at max_tokens that is the start of the object still shows
    // that the server constrains output.
    if (cut) {
      auto text = std::string_view{structured->text};
      auto first = text.find_first_not_of(" \t\r\n");
      schema_ok = first != std::string_view::npos && text[first] == '{';
    }
  }
  doc["json_schema"] = schema_ok;
  rep.line("JSON-schema output",
           schema_ok && cut ? "yes (the object was cut at max_tokens)"
           : schema_ok      ? "yes"
           : structured     ? "no (the reply was not the requested object)"
                            : "no (" + describe(structured.error()) + ")");
  return finish();
}

const bool registered = register_command(
  {"probe", "check that an endpoint works and what it supports", run_probe});

} // namespace

} // namespace llmmr::cli
