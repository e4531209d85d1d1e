#include "llmmr/sim/reply_style.hpp"
#include "llmmr/core/ascii.hpp"

#include <iterator>
#include <tuple>

#include <string>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr::sim {

namespace {

constexpr std::array<std::string_view, 6> style_names{
  "normal", "truncated", "truncated_first", "null", "evidence", "reject_schema",
};

} // namespace

std::string to_string(reply_style x) {
  auto i = static_cast<size_t>(x);
  return i < style_names.size() ? std::string{style_names[i]} : "<invalid>";
}

bool from_string(std::string_view name, reply_style& x) {
  for (size_t i = 0; i < style_names.size(); ++i)
    if (style_names[i] == name) {
      x = static_cast<reply_style>(i);
      return true;
    }
  return false;
}

expected<reply_styles> parse_reply_styles(std::string_view spec,
                                          reply_styles base) {
  while (!spec.empty()) {
    auto item = ascii::next_item(spec);
    if (item.empty())
      continue;
    auto bad = [&](std::string why) {
      return make_error(error_kind::usage, "bad reply item '"
                                             + std::string{item}
                                             + "': " + std::move(why));
    };
    auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return bad("expected stage=style");
    auto stage = item.substr(0, eq);
    reply_style style;
    if (!from_string(item.substr(eq + 1), style))
      return bad("unknown style (known: normal, truncated, truncated_first, "
                 "null, evidence, reject_schema)");
    // In `prompt_kind` order.
    static constexpr std::string_view stages[]
      = {"map", "collapse", "reduce", "other", "chain", "manager", "direct"};
    static_assert(std::size(stages)
                  == std::tuple_size_v<decltype(base.by_kind)>);
    bool found = false;
    for (size_t i = 0; i < std::size(stages); ++i)
      if (stage == stages[i] || stage == "all") {
        base.by_kind[i] = style;
        found = true;
      }
    if (!found)
      return bad("unknown stage (known: map, collapse, reduce, other, chain, "
                 "manager, direct, all)");
  }
  return base;
}

} // namespace llmmr::sim
