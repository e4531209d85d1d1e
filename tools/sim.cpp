// `llmmr sim`: runs the local OpenAI-compatible simulator until SIGINT or
// SIGTERM.

#include <cstdio>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "llmmr/core/log.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/sim/sim_server.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/command.hpp"
#include "llmmr/tools/server_support.hpp"

namespace llmmr::cli {

namespace {

constexpr option_spec sim_specs[] = {
  {"host", true, "ADDR  address to bind (default 127.0.0.1)"},
  {"port", true, "N  port to bind; 0 picks a free one (default 0)"},
  {"port-file", true, "FILE  write the bound port to FILE"},
  {"model", true, "NAME  model name to report (default llmmr-sim)"},
  {"context-window", true, "N  context window in tokens (default 8192)"},
  {"slots", true, "N  concurrent generations (default 4)"},
  {"ttft-ms", true, "N  fixed part of the time to first token in ms (0)"},
  {"prefill-ms-per-token", true,
   "X  time to first token added per prompt token in ms (default 0)"},
  {"per-token-ms", true, "X  time per output token in ms (default 0)"},
  {"fault-rate", true, "X  total fault probability, spread over all kinds"},
  {"faults", true, "KIND=RATE,...  per-kind fault rates"},
  {"seed", true, "N  seed of the fault draw (default 1)"},
  {"api-key", true, "KEY  require 'Authorization: Bearer KEY'"},
  {"tls-cert", true, "FILE  PEM certificate chain (serve HTTPS)"},
  {"tls-key", true, "FILE  PEM private key (serve HTTPS)"},
  {"retry-after-ms", true, "N  what injected 429s ask for (default 50)"},
  {"stall-ms", true, "N  how long the stall fault stays silent (60000)"},
  {"keepalive-ms", true, "N  SSE keep-alive comment interval (1000)"},
  {"error-shape", true, "openai|vllm|tgi  JSON shape of errors"},
  {"replies", true,
   "STAGE=STYLE,...  misbehave on purpose: STAGE map|collapse|reduce|other|"
   "chain|manager|direct|all, STYLE "
   "normal|truncated|truncated_first|null|evidence|reject_schema"},
  {"verbose", false, "log every request"},
};

constexpr std::string_view synopsis
  = "[--host H] [--port P] [--port-file F] [options]";

template <class T>
error get_uint(const parsed_args& args, std::string_view name, T& out,
               uint64_t max) {
  auto x = args.get_uint(name);
  if (!x)
    return std::move(x.error());
  if (*x) {
    if (**x > max)
      return make_error(error_kind::usage,
                        "--" + std::string{name} + " is too large");
    out = static_cast<T>(**x);
  }
  return {};
}

expected<sim::sim_options> make_options(const parsed_args& args) {
  sim::sim_options opts;
  if (auto x = args.get("host"))
    opts.host = *x;
  if (auto x = args.get("model"))
    opts.model = *x;
  if (auto x = args.get("api-key"))
    opts.api_key = *x;
  if (auto x = args.get("tls-cert"))
    opts.tls_cert_file = *x;
  if (auto x = args.get("tls-key"))
    opts.tls_key_file = *x;
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty())
    return make_error(error_kind::usage,
                      "--tls-cert and --tls-key go together");
  error err;
  if ((err = get_uint(args, "port", opts.port, 65535))
      || (err
          = get_uint(args, "context-window", opts.context_window, UINT32_MAX))
      || (err = get_uint(args, "slots", opts.slots, UINT32_MAX))
      || (err = get_uint(args, "ttft-ms", opts.ttft_ms, UINT32_MAX))
      || (err = get_uint(args, "seed", opts.seed, UINT64_MAX))
      || (err
          = get_uint(args, "retry-after-ms", opts.retry_after_ms, UINT32_MAX))
      || (err = get_uint(args, "stall-ms", opts.stall_ms, UINT32_MAX))
      || (err = get_uint(args, "keepalive-ms", opts.keepalive_ms, UINT32_MAX)))
    return err;
  if (opts.slots == 0)
    return make_error(error_kind::usage, "--slots must be at least 1");
  for (auto [name, field] :
       {std::pair{"per-token-ms", &opts.per_token_ms},
        std::pair{"prefill-ms-per-token", &opts.prefill_ms_per_token}}) {
    auto x = args.get_double(name);
    if (!x)
      return std::move(x.error());
    if (*x) {
      if (!(**x >= 0) || **x > 1e6)
        return make_error(error_kind::usage, "--" + std::string{name}
                                               + " must be between 0 and 1e6");
      *field = **x;
    }
  }
  auto rate = args.get_double("fault-rate");
  if (!rate)
    return std::move(rate.error());
  if (*rate) {
    if (**rate < 0 || **rate > 1)
      return make_error(error_kind::usage,
                        "--fault-rate must be between 0 and 1");
    opts.faults = sim::fault_rates::uniform(**rate);
  }
  for (const auto& spec : args.all("faults")) {
    auto rates = sim::parse_fault_spec(spec, opts.faults);
    if (!rates)
      return std::move(rates.error());
    opts.faults = *rates;
  }
  for (const auto& spec : args.all("replies")) {
    auto styles = sim::parse_reply_styles(spec, opts.replies);
    if (!styles)
      return std::move(styles.error());
    opts.replies = *styles;
  }
  if (auto x = args.get("error-shape"))
    if (!sim::from_string(*x, opts.shape))
      return make_error(error_kind::usage,
                        "--error-shape must be openai, vllm or tgi");
  return opts;
}

int run_sim(arg_list raw) {
  auto args = parse_args("sim", raw, sim_specs);
  if (!args) {
    print_error("sim", args.error());
    return exit_usage;
  }
  if (args->has("help")) {
    print_usage("sim", synopsis, sim_specs);
    return exit_ok;
  }
  if (!args->positional.empty()) {
    std::fprintf(stderr, "llmmr sim: unexpected argument '%s'\n",
                 args->positional.front().c_str());
    return exit_usage;
  }
  auto opts = make_options(*args);
  if (!opts) {
    print_error("sim", opts.error());
    return exit_usage;
  }
  set_log_level(args->has("verbose") ? spdlog::level::debug
                                     : spdlog::level::warn);
  // Block the signals before the io thread starts so only we see them.
  stop_signals signals;
  auto server = sim::sim_server::start(*opts);
  if (!server) {
    print_error("sim", server.error());
    return kind_of(server.error()) == error_kind::config ? exit_config
                                                         : exit_endpoint;
  }
  auto port = (*server)->port();
  if (auto path = args->get("port-file")) {
    if (auto err = write_port_file(*path, port)) {
      print_error("sim", err);
      return exit_config;
    }
  }
  std::printf("listening on %s:%u\n", opts->host.c_str(),
              static_cast<unsigned>(port));
  std::fflush(stdout);
  signals.wait();
  (*server)->stop();
  auto st = (*server)->stats();
  std::fprintf(stderr,
               "llmmr sim: stopped after %llu requests (%llu completions, "
               "%llu faults injected)\n",
               static_cast<unsigned long long>(st.requests),
               static_cast<unsigned long long>(st.completions),
               static_cast<unsigned long long>(st.faults_injected));
  return exit_ok;
}

const bool registered = register_command(
  {"sim", "run a local OpenAI-compatible server (test double)", run_sim});

} // namespace

} // namespace llmmr::cli
