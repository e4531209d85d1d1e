#include "llmmr/tools/args.hpp"

#include <charconv>
#include <cstdio>

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
  parsed_args result;
  auto find = [&](std::string_view name) -> const option_spec* {
    for (const auto& spec : specs)
      if (spec.name == name)
        return &spec;
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    auto arg = args[i];
    if (arg == "-" || !arg.starts_with("-")) {
      result.positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      for (++i; i < args.size(); ++i)
        result.positional.emplace_back(args[i]);
      break;
    }
    auto body = arg.substr(arg.starts_with("--") ? 2 : 1);
    std::optional<std::string_view> inline_value;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      inline_value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    if (body == "help" || body == "h") {
      result.values_.emplace("help", "");
      continue;
    }
    const auto* spec = find(body);
    if (spec == nullptr)
      return make_error(error_kind::usage, "llmmr " + std::string{command}
                                             + ": unknown option '"
                                             + std::string{arg} + "'");
    if (!spec->takes_value) {
      if (inline_value)
        return make_error(error_kind::usage,
                          "option --" + std::string{body} + " takes no value");
      result.values_.emplace(std::string{body}, "");
      continue;
    }
    if (inline_value) {
      result.values_.emplace(std::string{body}, std::string{*inline_value});
    } else if (i + 1 < args.size()) {
      result.values_.emplace(std::string{body}, std::string{args[++i]});
    } else {
      return make_error(error_kind::usage,
                        "option --" + std::string{body} + " needs a value");
    }
  }
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

} // namespace llmmr::cli
