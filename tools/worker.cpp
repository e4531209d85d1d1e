// `llmmr worker`: serves mappers to other nodes. Loads the settings like
// `ask`, connects to the endpoints, spawns a mapper pool with its own client,
// prompts and calibrator and publishes it with the CAF middleman (with TLS
// through CAF's OpenSSL module when `workers.tls` is set) until SIGINT or
// SIGTERM. Without TLS it listens on loopback only unless --insecure.

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/send.hpp>

#include "llmmr/actors/caf_error.hpp"
#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/actors/node_tls.hpp"
#include "llmmr/actors/registration.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/log.hpp"
#include "llmmr/core/network_address.hpp"
#include "llmmr/core/worker_policy.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/command.hpp"
#include "llmmr/tools/server_support.hpp"
#include "llmmr/tools/tokenizer_choice.hpp"

namespace llmmr::cli {

namespace {

constexpr option_spec worker_options[] = {
  {"host", true,
   "ADDR  address to listen on (default 127.0.0.1); without TLS only a "
   "loopback address unless --insecure"},
  {"port", true, "N  port to listen on; 0 picks a free one (default 0)"},
  {"port-file", true, "FILE  write the bound port to FILE"},
  {"endpoint", true, "URL  base URL of the server (endpoints[0].url)"},
  {"config", true, "F  JSON configuration file"},
  {"set", true, "KEY=VALUE  any configuration key"},
  {"mappers", true, "N  local mapper actors (pipeline.mappers)"},
  {"map-window", true,
   "W  map requests in flight per mapper "
   "(pipeline.map_window)"},
  {"tls-cert", true,
   "FILE  PEM certificate of this node (workers.tls.certificate)"},
  {"tls-key", true, "FILE  PEM private key (workers.tls.key)"},
  {"tls-ca", true,
   "FILE  CA a coordinator's certificate must chain to "
   "(workers.tls.ca_file)"},
  {"serve-model", true,
   "M[,M...]  models served (worker.models; default: the endpoints' "
   "models)"},
  {"max-tokens", true,
   "N  largest max_tokens of a call for a caller (worker.max_tokens)"},
  {"insecure", false,
   "listen on a non-loopback address without TLS (anyone reaching the port "
   "can spend this node's API key)"},
};

constexpr std::string_view synopsis
  = "[--host ADDR] [--port N] [--port-file F] [--endpoint URL] [--config F] "
    "[--set KEY=VALUE ...] [--mappers N] [--map-window W] [--tls-cert F "
    "--tls-key F --tls-ca F] [--serve-model M] [--max-tokens N] "
    "[--insecure]";

/// The flags that stand for configuration keys; `--set` comes after them.
constexpr flag_key worker_flag_keys[] = {
  {"endpoint", "endpoints[0].url"},
  {"mappers", "pipeline.mappers"},
  {"map-window", "pipeline.map_window"},
  {"tls-cert", "workers.tls.certificate"},
  {"tls-key", "workers.tls.key"},
  {"tls-ca", "workers.tls.ca_file"},
  {"serve-model", "worker.models"},
  {"max-tokens", "worker.max_tokens"},
};

/// The worker's policy: `worker.models`, or else the models its endpoints
/// name, and `worker.max_tokens`.
worker_policy policy_of(const settings& cfg) {
  worker_policy out;
  out.models = cfg.worker.models;
  if (out.models.empty())
    for (const auto& e : cfg.endpoints)
      if (!e.model.empty())
        out.models.push_back(e.model);
  out.max_tokens = cfg.worker.max_tokens;
  return out;
}

std::string describe_policy(const worker_policy& p) {
  std::string models;
  for (const auto& m : p.models)
    models += (models.empty() ? "" : ", ") + m;
  return "models: " + (models.empty() ? "the endpoints' own only" : models)
         + "; max_tokens <= " + std::to_string(p.max_tokens);
}

int run_worker(arg_list raw) {
  auto parsed = parse_command_args("worker", raw, worker_options, synopsis);
  if (!parsed.args)
    return parsed.exit_code;
  auto& args = parsed.args;
  auto usage_error = [](error err) {
    print_error("worker", err);
    return exit_usage;
  };
  auto port = args->get_uint("port");
  if (!port)
    return usage_error(port.error());
  if (*port && **port > 65535)
    return usage_error(make_error(error_kind::usage, "--port is too large"));
  auto host = args->get("host").value_or("127.0.0.1");
  auto src = settings_sources_from(*args, worker_flag_keys);
  if (!src)
    return usage_error(src.error());
  auto cfg = load_settings(*src);
  if (!cfg) {
    print_error("worker", cfg.error());
    return exit_config;
  }
  if (auto err = check_node_tls(cfg->workers.tls)) {
    print_error("worker", err);
    return exit_config;
  }
  // Before anything listens: plain text only where nobody else can connect.
  auto tls = cfg->workers.tls.enabled();
  auto insecure = args->has("insecure");
  if (!tls && !is_loopback_address(host) && !insecure)
    return usage_error(make_error(
      error_kind::usage,
      "refusing to listen on \"" + host
        + "\" without TLS: anyone who reaches the port could run completions "
          "on this node's API key. Set --tls-cert, --tls-key and --tls-ca "
          "(workers.tls), listen on 127.0.0.1, or pass --insecure"));
  if (cfg->pipeline.mappers == 0) {
    print_error("worker", make_error(error_kind::config,
                                     "a worker needs pipeline.mappers >= 1"));
    return exit_config;
  }
  if (auto err = configure_logging(*cfg)) {
    print_error("worker", err);
    return exit_config;
  }
  if (!tls && insecure && !is_loopback_address(host))
    logger()->warn("worker: listening on {} WITHOUT TLS (--insecure): anyone "
                   "who reaches the port can run completions on this node's "
                   "API key",
                   host);
  auto be = connect_backend(*cfg);
  if (!be) {
    print_error("worker", be.error());
    return exit_code_for(be.error());
  }
  auto tok = choose_tokenizer(*cfg, &*be);
  if (!tok) {
    print_error("worker", tok.error());
    return exit_config;
  }
  // Block the signals before CAF starts its threads so only we see them.
  stop_signals signals;
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  if (auto err = configure_middleman(sys_cfg, *cfg, true)) {
    print_error("worker", err);
    return exit_config;
  }
  caf::actor_system sys{sys_cfg};
  auto opts = to_pipeline_options(*cfg);
  opts.workers.clear();
  auto policy = policy_of(*cfg);
  logger()->info("worker: policy: {}", describe_policy(policy));
  auto front
    = spawn_worker_mappers(sys, std::move(opts), be->client, tok->tok, policy);
  if (!front) {
    print_error("worker", front.error());
    return exit_code_for(front.error());
  }
  auto listen_port = static_cast<uint16_t>(port->value_or(0));
  auto bound
    = tls ? caf::openssl::publish(*front, listen_port, host.c_str(), true)
          : sys.middleman().publish(*front, listen_port, host.c_str(), true);
  if (!bound) {
    caf::anon_send_exit(*front, caf::exit_reason::user_shutdown);
    print_error("worker", make_error(error_kind::config,
                                     "cannot listen on " + host + ":"
                                       + std::to_string(port->value_or(0))
                                       + ": " + describe(bound.error())));
    return exit_config;
  }
  if (auto path = args->get("port-file")) {
    if (auto err = write_port_file(*path, *bound)) {
      caf::anon_send_exit(*front, caf::exit_reason::user_shutdown);
      print_error("worker", err);
      return exit_config;
    }
  }
  std::printf("listening on %s:%u (%s)\n", host.c_str(),
              static_cast<unsigned>(*bound),
              tls ? "TLS, coordinators need a certificate from "
                    "workers.tls.ca_file"
                  : "plain text");
  std::fflush(stdout);
  signals.wait();
  // A published actor keeps the system alive: end it explicitly.
  caf::anon_send_exit(*front, caf::exit_reason::user_shutdown);
  std::fprintf(stderr, "llmmr worker: stopped\n");
  return exit_ok;
}

const bool registered = register_command(
  {"worker", "serve mappers to other llmmr nodes (CAF middleman)", run_worker});

} // namespace

} // namespace llmmr::cli
