// `llmmr worker`: serves mappers to other nodes. Loads the settings like
// `ask`, connects to the endpoints, spawns a mapper pool with its own client,
// prompts and calibrator and publishes it with the CAF middleman until
// SIGINT or SIGTERM.

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include <pthread.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

#include "llmmr/actors/mapper_pool.hpp"
#include "llmmr/config/settings.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "llmmr/messages/registration.hpp"
#include "llmmr/tools/args.hpp"
#include "llmmr/tools/cli_support.hpp"
#include "llmmr/tools/command.hpp"

namespace llmmr::cli {

namespace {

constexpr option_spec worker_options[] = {
  {"host", true, "ADDR  address to listen on (default 127.0.0.1)"},
  {"port", true, "N  port to listen on; 0 picks a free one (default 0)"},
  {"port-file", true, "FILE  write the bound port to FILE"},
  {"endpoint", true, "URL  base URL of the server (endpoints[0].url)"},
  {"config", true, "F  JSON configuration file"},
  {"set", true, "KEY=VALUE  any configuration key"},
  {"mappers", true, "N  local mapper actors (pipeline.mappers)"},
  {"map-window", true,
   "W  map requests in flight per mapper "
   "(pipeline.map_window)"},
};

constexpr std::string_view synopsis
  = "[--host ADDR] [--port N] [--port-file F] [--endpoint URL] [--config F] "
    "[--set KEY=VALUE ...] [--mappers N] [--map-window W]";

/// Turns the flags into configuration overrides; `--set` comes last and wins.
caf::expected<settings_sources> make_sources(const parsed_args& args) {
  settings_sources src;
  src.file = args.get("config").value_or("");
  src.environment = current_environment();
  auto add = [&](std::string_view flag, std::string key) {
    if (auto value = args.get(flag))
      src.overrides.emplace_back(std::move(key), *value);
  };
  add("endpoint", "endpoints[0].url");
  add("mappers", "pipeline.mappers");
  add("map-window", "pipeline.map_window");
  for (const auto& kv : args.all("set")) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error(error_kind::usage,
                        "--set expects KEY=VALUE, got '" + kv + "'");
    src.overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return src;
}

/// Writes `port` to `path` through a temporary file, so that a reader never
/// sees a partial line.
caf::error write_port_file(const std::string& path, uint16_t port) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << port << '\n';
    out.flush();
    if (!out)
      return make_error(error_kind::config, "cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(error_kind::config,
                      "cannot rename " + tmp + " to " + path);
  return {};
}

int run_worker(arg_list raw) {
  auto args = parse_args("worker", raw, worker_options);
  if (!args) {
    print_error("worker", args.error());
    return exit_usage;
  }
  if (args->has("help")) {
    print_usage("worker", synopsis, worker_options);
    return exit_ok;
  }
  auto usage_error = [](caf::error err) {
    print_error("worker", err);
    return exit_usage;
  };
  if (!args->positional.empty())
    return usage_error(
      make_error(error_kind::usage,
                 "unexpected argument '" + args->positional.front() + "'"));
  auto port = args->get_uint("port");
  if (!port)
    return usage_error(port.error());
  if (*port && **port > 65535)
    return usage_error(make_error(error_kind::usage, "--port is too large"));
  auto host = args->get("host").value_or("127.0.0.1");
  auto src = make_sources(*args);
  if (!src)
    return usage_error(src.error());
  auto cfg = load_settings(*src);
  if (!cfg) {
    print_error("worker", cfg.error());
    return exit_config;
  }
  if (cfg->pipeline.mappers == 0) {
    print_error("worker", make_error(error_kind::config,
                                     "a worker needs pipeline.mappers >= 1"));
    return exit_config;
  }
  if (auto err = configure_logging(*cfg)) {
    print_error("worker", err);
    return exit_config;
  }
  auto be = connect_backend(*cfg);
  if (!be) {
    print_error("worker", be.error());
    return exit_code_for(be.error());
  }
  // Block the signals before CAF starts its threads so only sigwait sees
  // them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  configure_middleman(sys_cfg, *cfg, true);
  caf::actor_system sys{sys_cfg};
  auto opts = to_pipeline_options(*cfg);
  opts.workers.clear();
  auto front = spawn_worker_mappers(sys, std::move(opts), be->client,
                                    std::make_shared<approx_tokenizer>());
  if (!front) {
    print_error("worker", front.error());
    return exit_code_for(front.error());
  }
  auto bound = sys.middleman().publish(
    *front, static_cast<uint16_t>(port->value_or(0)), host.c_str(), true);
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
  std::printf("listening on %s:%u\n", host.c_str(),
              static_cast<unsigned>(*bound));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  // A published actor keeps the system alive: end it explicitly.
  caf::anon_send_exit(*front, caf::exit_reason::user_shutdown);
  std::fprintf(stderr, "llmmr worker: stopped\n");
  return exit_ok;
}

const bool registered = register_command(
  {"worker", "serve mappers to other llmmr nodes (CAF middleman)", run_worker});

} // namespace

} // namespace llmmr::cli
