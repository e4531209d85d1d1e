#include "llmmr/core/prompt_library.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "llmmr/core/builtin_prompts.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

constexpr std::array<std::string_view, prompt_stage_count> stage_names{
  "map", "collapse", "reduce"};

constexpr std::array<std::string_view, baseline_stage_count> baseline_names{
  "chain_step", "chain_answer", "direct"};

std::string relative_path(task_profile profile, std::string_view file) {
  return to_string(profile) + "/" + std::string{file} + ".txt";
}

std::string stage_file(task_profile profile, prompt_stage stage) {
  return relative_path(profile, stage_names[static_cast<size_t>(stage)]);
}

std::string stage_file(task_profile profile, baseline_stage stage) {
  return relative_path(profile, baseline_names[static_cast<size_t>(stage)]);
}

const std::string* find_builtin(std::string_view path) {
  static const auto cache = [] {
    std::map<std::string, std::string, std::less<>> m;
    for (auto& p : builtin_prompts())
      m.emplace(std::string{p.path}, std::string{p.text});
    return m;
  }();
  auto i = cache.find(path);
  return i != cache.end() ? &i->second : nullptr;
}

task_profile profile_at(size_t i) {
  return static_cast<task_profile>(i);
}

/// The template text and the name it is reported under.
struct source {
  std::string name;
  std::string text;
};

expected<source> read_source(const std::filesystem::path& dir,
                             const std::string& rel, bool required) {
  if (!dir.empty()) {
    auto path = dir / rel;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      std::ifstream in{path, std::ios::binary};
      std::ostringstream buf;
      buf << in.rdbuf();
      if (!in && !in.eof())
        return make_error(error_kind::config,
                          "cannot read prompt file " + path.string());
      return source{path.string(), std::move(buf).str()};
    }
  }
  if (auto* text = find_builtin(rel))
    return source{rel, *text};
  if (required)
    return make_error(error_kind::internal,
                      "built-in prompt file " + rel + " is missing");
  return source{rel, std::string{}};
}

} // namespace

std::string to_string(prompt_stage x) {
  auto i = static_cast<size_t>(x);
  if (i < stage_names.size())
    return std::string{stage_names[i]};
  return "<invalid " + std::to_string(i) + ">";
}

std::string to_string(baseline_stage x) {
  auto i = static_cast<size_t>(x);
  if (i < baseline_names.size())
    return std::string{baseline_names[i]};
  return "<invalid " + std::to_string(i) + ">";
}

bool from_string(std::string_view name, prompt_stage& x) {
  for (size_t i = 0; i < stage_names.size(); ++i) {
    if (stage_names[i] == name) {
      x = static_cast<prompt_stage>(i);
      return true;
    }
  }
  return false;
}

error validate_template(const prompt_template& tpl, prompt_stage stage) {
  auto payload = stage == prompt_stage::map ? "chunk" : "records";
  for (auto& name : tpl.placeholders()) {
    if (name != "question" && name != "rubric" && name != payload)
      return make_error(
        error_kind::config,
        "prompt template " + tpl.name() + ": unknown placeholder {" + name
          + "} in a " + to_string(stage) + " template (allowed: {question}, {"
          + payload + "}, {rubric})");
  }
  if (tpl.occurrences("question") == 0)
    return make_error(error_kind::config, "prompt template " + tpl.name()
                                            + ": a " + to_string(stage)
                                            + " template must use {question}");
  if (auto n = tpl.occurrences(payload); n != 1)
    return make_error(error_kind::config,
                      "prompt template " + tpl.name() + ": a "
                        + to_string(stage) + " template must use {" + payload
                        + "} exactly once (found " + std::to_string(n) + ")");
  return {};
}

error validate_template(const prompt_template& tpl, baseline_stage stage) {
  std::vector<std::string> payloads;
  switch (stage) {
  case baseline_stage::chain_step:
    payloads = {"notes", "chunk"};
    break;
  case baseline_stage::chain_answer:
    payloads = {"notes"};
    break;
  case baseline_stage::direct:
    payloads = {"document"};
    break;
  }
  std::string allowed = "{question}, {rubric}";
  for (auto& p : payloads)
    allowed += ", {" + p + "}";
  for (auto& name : tpl.placeholders()) {
    if (name != "question" && name != "rubric"
        && std::find(payloads.begin(), payloads.end(), name) == payloads.end())
      return make_error(error_kind::config, "prompt template " + tpl.name()
                                              + ": unknown placeholder {" + name
                                              + "} in a " + to_string(stage)
                                              + " template (allowed: " + allowed
                                              + ")");
  }
  if (tpl.occurrences("question") == 0)
    return make_error(error_kind::config, "prompt template " + tpl.name()
                                            + ": a " + to_string(stage)
                                            + " template must use {question}");
  for (auto& p : payloads)
    if (auto n = tpl.occurrences(p); n != 1)
      return make_error(error_kind::config,
                        "prompt template " + tpl.name() + ": a "
                          + to_string(stage) + " template must use {" + p
                          + "} exactly once (found " + std::to_string(n) + ")");
  return {};
}

expected<prompt_library> prompt_library::builtin() {
  return load(std::string{});
}

expected<prompt_library> prompt_library::load(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path root{dir};
  if (!dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(root, ec))
      return make_error(error_kind::config,
                        "prompt directory " + dir + " does not exist");
    // Reject files we would silently ignore, e.g. a typo in a file name.
    std::set<std::string> known;
    for (size_t p = 0; p < task_profile_count; ++p) {
      for (auto name : stage_names)
        known.insert(relative_path(profile_at(p), name));
      for (auto name : baseline_names)
        known.insert(relative_path(profile_at(p), name));
      known.insert(relative_path(profile_at(p), "rubric"));
    }
    for (auto it = fs::recursive_directory_iterator{root, ec};
         !ec && it != fs::recursive_directory_iterator{}; it.increment(ec)) {
      if (!it->is_regular_file(ec) || it->path().extension() != ".txt")
        continue;
      auto rel = it->path().lexically_relative(root).generic_string();
      if (known.count(rel) == 0)
        return make_error(error_kind::config,
                          "unknown prompt file " + it->path().string()
                            + " (expected <profile>/<stage>.txt or "
                              "<profile>/rubric.txt with profile qa, qa_zh, "
                              "code, math, retrieval or summary and stage "
                              "map, collapse, reduce, chain_step, "
                              "chain_answer or direct)");
    }
    if (ec)
      return make_error(error_kind::config, "cannot list prompt directory "
                                              + dir + ": " + ec.message());
  }
  prompt_library result;
  for (size_t p = 0; p < task_profile_count; ++p) {
    auto profile = profile_at(p);
    // Reads, parses and checks the template of one stage of `profile`.
    auto load = [&](auto stage) -> expected<prompt_template> {
      auto src = read_source(root, stage_file(profile, stage), true);
      if (!src)
        return std::move(src.error());
      auto tpl
        = prompt_template::parse(std::move(src->name), std::move(src->text));
      if (!tpl)
        return std::move(tpl.error());
      if (auto err = validate_template(*tpl, stage))
        return err;
      return tpl;
    };
    for (size_t s = 0; s < prompt_stage_count; ++s) {
      auto tpl = load(static_cast<prompt_stage>(s));
      if (!tpl)
        return std::move(tpl.error());
      result.templates_[p][s] = std::move(*tpl);
    }
    for (size_t s = 0; s < baseline_stage_count; ++s) {
      auto tpl = load(static_cast<baseline_stage>(s));
      if (!tpl)
        return std::move(tpl.error());
      result.baselines_[p][s] = std::move(*tpl);
    }
    auto rub = read_source(root, relative_path(profile, "rubric"),
                           uses_scores(profile));
    if (!rub)
      return std::move(rub.error());
    // Rubrics are inserted verbatim; only trailing newlines are trimmed so
    // that templates control the spacing around them.
    while (!rub->text.empty()
           && (rub->text.back() == '\n' || rub->text.back() == '\r'))
      rub->text.pop_back();
    result.rubrics_[p] = std::move(rub->text);
    result.rubric_sources_[p] = std::move(rub->name);
  }
  return result;
}

const prompt_template& prompt_library::get(task_profile profile,
                                           prompt_stage stage) const {
  return templates_[index(profile) % task_profile_count]
                   [static_cast<size_t>(stage) % prompt_stage_count];
}

const prompt_template& prompt_library::get(task_profile profile,
                                           baseline_stage stage) const {
  return baselines_[index(profile) % task_profile_count]
                   [static_cast<size_t>(stage) % baseline_stage_count];
}

const std::string& prompt_library::rubric(task_profile profile) const {
  return rubrics_[index(profile) % task_profile_count];
}

const std::string& prompt_library::rubric_source(task_profile profile) const {
  return rubric_sources_[index(profile) % task_profile_count];
}

} // namespace llmmr
