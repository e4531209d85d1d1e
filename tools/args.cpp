#include "llmmr/tools/args.hpp"

#include <charconv>
#include <cstdio>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr::cli {

bool parsed_args::has(std::string_view name) const {
  return values_.find(name) != values_.end();
}

std::optional<std::string> parsed_args::get(std::string_view name) const {
  auto [first, last] = values_.equal_range(name);
  if (first == last)
    return std::nullopt;
  return std::prev(last)->second;
}

std::vector<std::string> parsed_args::all(std::string_view name) const {
  std::vector<std::string> result;
  auto [first, last] = values_.equal_range(name);
  for (auto i = first; i != last; ++i)
    result.push_back(i->second);
  return result;
}

expected<std::optional<uint64_t>>
parsed_args::get_uint(std::string_view name) const {
  auto str = get(name);
  if (!str)
    return std::optional<uint64_t>{};
  uint64_t value = 0;
  auto [ptr, ec]
    = std::from_chars(str->data(), str->data() + str->size(), value);
  if (ec != std::errc{} || ptr != str->data() + str->size() || str->empty())
    return make_error(error_kind::usage,
                      "--" + std::string{name}
                        + " expects a non-negative integer, got '" + *str
                        + "'");
  return std::optional<uint64_t>{value};
}

expected<std::optional<double>>
parsed_args::get_double(std::string_view name) const {
  auto str = get(name);
  if (!str)
    return std::optional<double>{};
  double value = 0;
  auto [ptr, ec]
    = std::from_chars(str->data(), str->data() + str->size(), value);
  if (ec != std::errc{} || ptr != str->data() + str->size() || str->empty())
    return make_error(error_kind::usage, "--" + std::string{name}
                                           + " expects a number, got '" + *str
                                           + "'");
  return std::optional<double>{value};
}

expected<parsed_args> parse_args(std::string_view command, arg_list args,
                                 std::span<const option_spec> specs) {
  // CLI11 does the parsing; the option table stays ours so that every
  // command keeps its flags and help text. Every option may be repeated (the
  // last value wins for `get`, `all` returns each in order).
  CLI::App app{std::string{}, "llmmr " + std::string{command}};
  app.set_help_flag();
  app.allow_extras(false);
  app.positionals_at_end(false);
  bool help = false;
  app.add_flag("-h,--help", help);
  struct registered {
    std::string name;
    bool takes_value;
    CLI::Option* opt;
  };
  std::vector<registered> options;
  for (const auto& spec : specs) {
    std::string name{spec.name};
    if (name == "help")
      continue;
    CLI::Option* opt = nullptr;
    if (spec.takes_value) {
      opt = app.add_option("--" + name)
              ->type_size(1)
              ->expected(1)
              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
              ->allow_extra_args(false);
    } else {
      opt = app.add_flag("--" + name)->disable_flag_override();
    }
    options.push_back({std::move(name), spec.takes_value, opt});
  }
  std::vector<std::string> positional;
  app.add_option("arguments", positional);
  // CLI11 reads its argument vector back to front.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  auto usage = [](std::string what) {
    return make_error(error_kind::usage, std::move(what));
  };
  try {
    app.parse(reversed);
  } catch (const CLI::ExtrasError&) {
    auto rest = app.remaining();
    return usage("llmmr " + std::string{command} + ": unknown option '"
                 + (rest.empty() ? "" : rest.front()) + "'");
  } catch (const CLI::ArgumentMismatch& ex) {
    // Keep the wording of the earlier parser: "--x needs a value" and
    // "--x takes no value".
    std::string what = ex.what();
    if (auto pos = what.find(" was given a disallowed flag override");
        pos != std::string::npos)
      return usage("option --" + what.substr(0, pos) + " takes no value");
    if (auto pos = what.find(':'); pos != std::string::npos)
      return usage("option " + what.substr(0, pos) + " needs a value");
    return usage(what);
  } catch (const CLI::ParseError& ex) {
    return usage(ex.what());
  }
  parsed_args result;
  if (help)
    result.values_.emplace("help", "");
  for (const auto& x : options) {
    if (x.opt->count() == 0)
      continue;
    if (x.takes_value)
      for (const auto& value : x.opt->results())
        result.values_.emplace(x.name, value);
    else
      for (size_t n = 0; n < x.opt->count(); ++n)
        result.values_.emplace(x.name, "");
  }
  result.positional = std::move(positional);
  return result;
}

void print_usage(std::string_view command, std::string_view synopsis,
                 std::span<const option_spec> specs) {
  std::printf("usage: llmmr %.*s %.*s\n\noptions:\n",
              static_cast<int>(command.size()), command.data(),
              static_cast<int>(synopsis.size()), synopsis.data());
  for (const auto& spec : specs)
    std::printf("  --%-16.*s %.*s\n", static_cast<int>(spec.name.size()),
                spec.name.data(), static_cast<int>(spec.help.size()),
                spec.help.data());
}

void print_error(std::string_view command, const error& err) {
  std::fprintf(stderr, "llmmr %.*s: %s\n", static_cast<int>(command.size()),
               command.data(), describe(err).c_str());
}

int usage_failure(std::string_view command, std::string text) {
  print_error(command, make_error(error_kind::usage, std::move(text)));
  return exit_usage;
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
