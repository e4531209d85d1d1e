#include "llmmr/core/log.hpp"

#include <atomic>

#include <spdlog/sinks/stdout_sinks.h>

namespace llmmr {

namespace {

std::shared_ptr<spdlog::logger> make_default_logger() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto result = std::make_shared<spdlog::logger>("llmmr", std::move(sink));
  result->set_level(spdlog::level::info);
  return result;
}

std::atomic<std::shared_ptr<spdlog::logger>>& current() {
  static std::atomic<std::shared_ptr<spdlog::logger>> instance{
    make_default_logger()};
  return instance;
}

} // namespace

std::shared_ptr<spdlog::logger> logger() {
  return current().load(std::memory_order_acquire);
}

void set_logger(std::shared_ptr<spdlog::logger> replacement) {
  if (!replacement)
    replacement = make_default_logger();
  current().store(std::move(replacement), std::memory_order_release);
}

void set_log_sinks(std::vector<spdlog::sink_ptr> sinks) {
  auto level = logger()->level();
  auto result
    = std::make_shared<spdlog::logger>("llmmr", sinks.begin(), sinks.end());
  result->set_level(level);
  set_logger(std::move(result));
}

void set_log_level(spdlog::level::level_enum level) {
  logger()->set_level(level);
}

} // namespace llmmr
