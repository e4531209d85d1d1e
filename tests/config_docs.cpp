// Checks that the example configuration and docs/config.md agree with the
// code: every key is documented with its default and the example loads into
// the defaults.

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config_test_util.hpp"
#include "llmmr/config/settings.hpp"

using namespace llmmr;
using llmmr::testing::message_of;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE_MESSAGE(in, "cannot open " << path);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

const std::string example_path = LLMMR_SOURCE_DIR "/config/llmmr.example.json";
const std::string docs_path = LLMMR_SOURCE_DIR "/docs/config.md";

/// Collects the key paths of `j` the way known_keys() writes them.
void flatten(const nlohmann::json& j, const std::string& prefix,
             std::set<std::string>& out) {
  for (const auto& [k, v] : j.items()) {
    auto path = prefix.empty() ? k : prefix + "." + k;
    if (k == "endpoints" && prefix.empty() && v.is_array()) {
      for (const auto& e : v)
        flatten(e, "endpoints[]", out);
    } else if (v.is_object()) {
      flatten(v, path, out);
    } else {
      out.insert(path);
    }
  }
}

/// Splits a Markdown table row "| a | b |" into its trimmed cells.
std::vector<std::string> table_cells(const std::string& line) {
  std::vector<std::string> cells;
  size_t pos = 1;
  while (pos < line.size()) {
    auto bar = line.find('|', pos);
    if (bar == std::string::npos)
      break;
    auto cell = line.substr(pos, bar - pos);
    auto b = cell.find_first_not_of(' ');
    auto e = cell.find_last_not_of(' ');
    cells.push_back(b == std::string::npos ? std::string{}
                                           : cell.substr(b, e - b + 1));
    pos = bar + 1;
  }
  return cells;
}

/// Returns `x` without the backticks around it.
std::string unquote(const std::string& x) {
  if (x.size() >= 2 && x.front() == '`' && x.back() == '`')
    return x.substr(1, x.size() - 2);
  return x;
}

} // namespace

TEST_SUITE("config") {

  TEST_CASE("known keys are unique and map to unique variables") {
    auto keys = known_keys();
    std::set<std::string> unique_keys(keys.begin(), keys.end());
    CHECK(unique_keys.size() == keys.size());
    std::set<std::string> vars;
    for (const auto& k : keys)
      vars.insert(env_name(k));
    CHECK(vars.size() == keys.size());
    CHECK(vars.count("LLMMR_CONFIG") == 0);
    CHECK(unique_keys.count("job.budget") == 1);
    CHECK(unique_keys.count("endpoints[].url") == 1);
    CHECK(unique_keys.count("endpoints[].tls.verify") == 1);
    auto infos = describe_keys();
    REQUIRE(infos.size() == keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      CHECK(infos[i].path == keys[i]);
      CHECK(!infos[i].type.empty());
      CHECK(!infos[i].help.empty());
      CHECK(infos[i].env == env_name(keys[i]));
    }
  }

  TEST_CASE("every scalar key can be set from its variable") {
    // Setting each variable to its default value must load cleanly.
    settings_sources src;
    for (const auto& info : describe_keys()) {
      auto name = info.env;
      if (auto pos = name.find("<n>"); pos != std::string::npos)
        name.replace(pos, 3, "0");
      auto value = nlohmann::json::parse(info.default_value);
      std::string text;
      if (value.is_string())
        text = value.get<std::string>();
      else if (value.is_array())
        text = ""; // lists are comma-separated; the default is empty
      else
        text = value.dump();
      src.environment[name] = text;
    }
    auto result = load_settings(src);
    REQUIRE_MESSAGE(result, message_of(result.error()));
    CHECK(*result == settings{});
  }

  TEST_CASE("the example file has every key and loads into the defaults") {
    settings_sources src;
    src.file = example_path;
    auto result = load_settings(src);
    REQUIRE_MESSAGE(result, message_of(result.error()));
    CHECK(*result == settings{});
    auto doc
      = nlohmann::json::parse(read_text(example_path), nullptr, true, true);
    std::set<std::string> in_example;
    flatten(doc, {}, in_example);
    auto keys = known_keys();
    CHECK(in_example == std::set<std::string>(keys.begin(), keys.end()));
  }

  TEST_CASE("docs/config.md documents every key with its default") {
    // Every row of a key table (one headed "| key | type | default |
    // variable | meaning |") must match describe_keys() cell by cell, and
    // the tables must list exactly the known keys: the page cannot drift
    // from the schema, whose defaults are those of pipeline_options.
    auto text = read_text(docs_path);
    std::istringstream lines{text};
    std::map<std::string, std::vector<std::string>> rows; // key -> cells
    bool in_key_table = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("|", 0) != 0) {
        in_key_table = false;
        continue;
      }
      auto cells = table_cells(line);
      if (!cells.empty() && cells[0] == "key") {
        in_key_table = true;
        REQUIRE(cells.size() == 5);
        continue;
      }
      if (!in_key_table || line.rfind("|--", 0) == 0)
        continue;
      REQUIRE_MESSAGE(cells.size() == 5, line);
      auto key = unquote(cells[0]);
      CHECK_MESSAGE(rows.count(key) == 0, key << " is documented twice");
      rows[key] = cells;
    }
    std::set<std::string> documented;
    for (const auto& row : rows)
      documented.insert(row.first);
    auto keys = known_keys();
    CHECK(documented == std::set<std::string>(keys.begin(), keys.end()));
    for (const auto& info : describe_keys()) {
      auto i = rows.find(info.path);
      REQUIRE_MESSAGE(i != rows.end(), info.path << " is not documented");
      const auto& cells = i->second;
      CHECK_MESSAGE(cells[1] == info.type,
                    info.path << " should have type " << info.type);
      CHECK_MESSAGE(cells[2] == "`" + info.default_value + "`",
                    info.path << " should show default " << info.default_value);
      CHECK_MESSAGE(cells[3] == "`" + info.env + "`",
                    info.path << " should name " << info.env);
      CHECK_MESSAGE(!cells[4].empty(), info.path << " has no meaning");
    }
    for (auto var : {"OPENAI_API_KEY", "OPENAI_BASE_URL", "LLMMR_CONFIG"})
      CHECK_MESSAGE(text.find(var) != std::string::npos, var);
  }

} // TEST_SUITE("config")
