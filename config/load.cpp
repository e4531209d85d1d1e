// load_settings: defaults < JSON file < environment < command-line overrides.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "llmmr/config/settings.hpp"
#include "llmmr/messages/error_kind.hpp"
#include "settings_schema.hpp"

namespace llmmr {

namespace {

using json = nlohmann::json;
using namespace config_detail;

constexpr std::string_view env_prefix = "LLMMR_";
constexpr std::string_view endpoints_env_prefix = "LLMMR_ENDPOINTS_";
const std::string command_line = "command line";
const std::string defaults_origin = "defaults";

template <class Root>
const field<Root>* find_field(const std::vector<field<Root>>& fields,
                              std::string_view key) {
  for (const auto& f : fields)
    if (f.key == key)
      return &f;
  return nullptr;
}

/// Returns whether `key` is a prefix group of `fields`, e.g. "tls".
template <class Root>
bool is_group(const std::vector<field<Root>>& fields, const std::string& key) {
  auto prefix = key + ".";
  return std::any_of(fields.begin(), fields.end(), [&](const auto& f) {
    return f.key.compare(0, prefix.size(), prefix) == 0;
  });
}

/// Returns every key and group of `fields`, each prefixed with `prefix`.
template <class Root>
std::vector<std::string> candidates(const std::vector<field<Root>>& fields,
                                    const std::string& prefix) {
  std::vector<std::string> result;
  for (const auto& f : fields) {
    result.push_back(prefix + f.key);
    for (auto dot = f.key.find('.'); dot != std::string::npos;
         dot = f.key.find('.', dot + 1)) {
      auto group = prefix + f.key.substr(0, dot);
      if (std::find(result.begin(), result.end(), group) == result.end())
        result.push_back(group);
    }
  }
  return result;
}

std::string type_name(const json& x) {
  switch (x.type()) {
  case json::value_t::object:
    return "an object";
  case json::value_t::array:
    return "an array";
  case json::value_t::string:
    return "a string";
  case json::value_t::boolean:
    return "a boolean";
  case json::value_t::null:
    return "null";
  default:
    return "a number";
  }
}

/// How deep objects and arrays may nest in a configuration file. The
/// settings themselves nest two levels; the limit only keeps a hostile or
/// broken file from costing time and memory in proportion to its depth.
constexpr int max_config_depth = 32;

/// Thrown from the parser callback to stop at the first level too deep.
struct config_too_deep {};

/// Finds the first key that appears twice in one object, as a key path.
class duplicate_finder {
public:
  bool operator()(int, json::parse_event_t event, json& parsed) {
    using ev = json::parse_event_t;
    switch (event) {
    case ev::object_start:
    case ev::array_start:
      frames_.push_back({event == ev::array_start, child_path(), {}, {}, 0});
      break;
    case ev::key:
      if (!frames_.empty()) {
        auto& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second && duplicate.empty())
          duplicate = join(top.path, top.key);
      }
      break;
    case ev::value:
      advance();
      break;
    case ev::object_end:
    case ev::array_end:
      if (!frames_.empty())
        frames_.pop_back();
      advance();
      break;
    }
    return true;
  }

  /// The key path of the first duplicate key, or empty.
  std::string duplicate;

private:
  struct frame {
    bool array;
    std::string path;
    std::set<std::string> keys;
    std::string key;
    size_t index;
  };

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  std::string child_path() const {
    if (frames_.empty())
      return {};
    const auto& top = frames_.back();
    if (top.array)
      return top.path + "[" + std::to_string(top.index) + "]";
    return join(top.path, top.key);
  }

  void advance() {
    if (!frames_.empty() && frames_.back().array)
      ++frames_.back().index;
  }

  std::vector<frame> frames_;
};

/// Builds the settings layer by layer.
class loader {
public:
  explicit loader(const settings_sources& src) : src_(src) {}

  expected<settings> run() {
    if (auto err = load_file())
      return err;
    if (auto err = load_environment())
      return err;
    if (auto err = load_overrides())
      return err;
    if (auto err = finish())
      return err;
    return std::move(result_);
  }

private:
  // -- errors -----------------------------------------------------------------

  static error fail(const std::string& where, const std::string& path,
                    const std::string& text) {
    std::string msg = where;
    if (!path.empty())
      msg += ": " + path;
    msg += ": " + text;
    return make_error(error_kind::config, std::move(msg));
  }

  std::string origin(const std::string& path) const {
    auto i = origin_.find(path);
    return i == origin_.end() ? defaults_origin : i->second;
  }

  const std::string* env(const std::string& name) const {
    auto i = src_.environment.find(name);
    if (i == src_.environment.end() || i->second.empty())
      return nullptr;
    return &i->second;
  }

  // -- file -------------------------------------------------------------------

  error load_file() {
    std::string path = src_.file;
    std::string where = path;
    if (path.empty()) {
      if (auto p = env("LLMMR_CONFIG")) {
        path = *p;
        where = path;
      } else {
        return {};
      }
    }
    auto named = src_.file.empty() ? where + " (named by LLMMR_CONFIG)" : where;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      return fail(named, {},
                  "cannot read the configuration file: it is a "
                  "directory");
    std::ifstream in{path, std::ios::binary};
    if (!in) {
      auto why = std::string{std::strerror(errno)};
      return fail(named, {}, "cannot read the configuration file: " + why);
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad())
      return fail(named, {}, "cannot read the configuration file");
    json doc;
    duplicate_finder dups;
    auto text = buf.str();
    try {
      doc = json::parse(
        text,
        [&dups](int depth, json::parse_event_t event, json& parsed) {
          if (depth >= max_config_depth
              && (event == json::parse_event_t::object_start
                  || event == json::parse_event_t::array_start))
            throw config_too_deep{};
          return dups(depth, event, parsed);
        },
        true, true);
    } catch (const config_too_deep&) {
      return fail(where, {},
                  "objects and arrays nest deeper than "
                    + std::to_string(max_config_depth)
                    + " levels; the settings need two");
    } catch (const json::parse_error& e) {
      return fail(where, {}, parse_problem(text, e.byte, e.what()));
    } catch (const json::exception& e) {
      return fail(where, {}, std::string{"malformed JSON: "} + e.what());
    }
    if (!dups.duplicate.empty())
      return fail(where, dups.duplicate,
                  "duplicate key; each key may appear once");
    if (!doc.is_object())
      return fail(where, {},
                  "expected a JSON object at the top level, got "
                    + type_name(doc));
    return apply_object(result_, doc, {}, {}, global_fields(), where);
  }

  /// Turns nlohmann's parse error into "line L, column C: malformed JSON:
  /// reason", dropping the "last read" excerpt since it may hold a secret.
  /// `byte` counts the characters read, the offending one included.
  static std::string parse_problem(const std::string& text, size_t byte,
                                   const std::string& what) {
    auto index = std::min(byte == 0 ? 0 : byte - 1, text.size());
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < index; ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    auto column = index - line_start + 1;
    std::string reason = what;
    if (auto at = what.find("at line "); at != std::string::npos) {
      auto colon = what.find(": ", at);
      reason
        = colon == std::string::npos ? std::string{} : what.substr(colon + 2);
    } else if (auto bracket = what.find("] "); bracket != std::string::npos) {
      reason = what.substr(bracket + 2);
    }
    if (auto lr = reason.find("; last read: "); lr != std::string::npos) {
      auto ex = reason.rfind("; expected ");
      auto tail = ex != std::string::npos && ex > lr ? reason.substr(ex)
                                                     : std::string{};
      reason = reason.substr(0, lr) + tail;
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column)
           + ": malformed JSON: " + reason;
  }

  template <class Root>
  error apply_object(Root& root, const json& obj,
                     const std::string& display_prefix,
                     const std::string& rel_prefix,
                     const std::vector<field<Root>>& fields,
                     const std::string& where) {
    for (const auto& [k, v] : obj.items()) {
      auto rel = rel_prefix + k;
      auto display = display_prefix + rel;
      if constexpr (std::is_same_v<Root, settings>) {
        if (rel == "endpoints") {
          if (auto err = apply_endpoints(v, where))
            return err;
          continue;
        }
      }
      if (auto f = find_field(fields, rel)) {
        if (auto p = f->from_json(root, v))
          return fail(where, display + p.suffix, p.text);
        origin_[display] = where;
      } else if (is_group(fields, rel)) {
        if (!v.is_object())
          return fail(where, display,
                      "expected an object, got " + show(v, false));
        if (auto err
            = apply_object(root, v, display_prefix, rel + ".", fields, where))
          return err;
      } else {
        return fail(where, display,
                    unknown_key(display, display_prefix, fields,
                                rel_prefix.empty()
                                  ? std::string{}
                                  : display_prefix + rel_prefix));
      }
    }
    return {};
  }

  template <class Root>
  static std::string unknown_key(const std::string& display,
                                 const std::string& display_prefix,
                                 const std::vector<field<Root>>& fields,
                                 const std::string& group) {
    auto all = candidates(fields, display_prefix);
    if constexpr (std::is_same_v<Root, settings>)
      all.push_back("endpoints");
    if (auto near = nearest(display, all); !near.empty())
      return "unknown key; did you mean " + near + "?";
    // No plausible typo: list what is valid at this level.
    std::vector<std::string> here;
    for (const auto& c : all) {
      auto rest = std::string_view{c};
      if (!group.empty()) {
        if (c.compare(0, group.size(), group) != 0)
          continue;
        rest.remove_prefix(group.size());
      } else {
        rest.remove_prefix(display_prefix.size());
      }
      if (rest.find('.') == std::string_view::npos)
        here.emplace_back(rest);
    }
    std::string list;
    for (const auto& h : here)
      list += (list.empty() ? "" : ", ") + h;
    return "unknown key; valid keys here: " + list;
  }

  error apply_endpoints(const json& v, const std::string& where) {
    if (!v.is_array())
      return fail(where, "endpoints",
                  "expected an array of endpoint objects, got "
                    + show(v, false));
    if (v.empty())
      return fail(where, "endpoints", "expected at least one endpoint");
    std::vector<endpoint_settings> list;
    for (size_t i = 0; i < v.size(); ++i) {
      auto prefix = "endpoints[" + std::to_string(i) + "]";
      if (!v[i].is_object())
        return fail(where, prefix,
                    "expected an endpoint object, got " + show(v[i], false));
      endpoint_settings e;
      if (auto err
          = apply_object(e, v[i], prefix + ".", {}, endpoint_fields(), where))
        return err;
      list.push_back(std::move(e));
    }
    // The file replaces the default list, so forget origins of defaults.
    result_.endpoints = std::move(list);
    return {};
  }

  // -- environment and overrides ----------------------------------------------

  /// Sets the key `path` from `text`; `where` names the variable or flag.
  error set_text(const std::string& where, const std::string& path,
                 std::string_view text) {
    if (path.rfind("endpoints[", 0) == 0) {
      // endpoints[N].key
      auto close = path.find(']');
      auto digits = std::string_view{path}.substr(10, close - 10);
      size_t n = 0;
      bool ok = close != std::string::npos && !digits.empty()
                && std::all_of(digits.begin(), digits.end(),
                               [](char c) { return c >= '0' && c <= '9'; })
                && digits.size() < 6 && close + 1 < path.size()
                && path[close + 1] == '.';
      if (!ok)
        return fail(where, path,
                    "expected a key like endpoints[0].url; valid endpoint "
                    "keys: "
                      + endpoint_key_list());
      n = std::stoul(std::string{digits});
      auto rel = path.substr(close + 2);
      auto display = "endpoints[" + std::to_string(n) + "]." + rel;
      auto f = find_field(endpoint_fields(), rel);
      if (!f) {
        auto prefix = "endpoints[" + std::to_string(n) + "].";
        auto near = nearest(display, candidates(endpoint_fields(), prefix));
        return fail(where, display,
                    near.empty() ? "unknown key; valid endpoint keys: "
                                     + endpoint_key_list()
                                 : "unknown key; did you mean " + near + "?");
      }
      if (n > result_.endpoints.size())
        return fail(where, display,
                    "no endpoint " + std::to_string(n) + "; there "
                      + (result_.endpoints.size() == 1
                           ? "is 1 endpoint"
                           : "are " + std::to_string(result_.endpoints.size())
                               + " endpoints")
                      + " and the next one is endpoints["
                      + std::to_string(result_.endpoints.size()) + "]");
      auto copy = n < result_.endpoints.size() ? result_.endpoints[n]
                                               : endpoint_settings{};
      if (auto p = f->from_text(copy, text))
        return fail(where, display + p.suffix, p.text);
      if (n == result_.endpoints.size())
        result_.endpoints.push_back(std::move(copy));
      else
        result_.endpoints[n] = std::move(copy);
      origin_[display] = where;
      return {};
    }
    auto f = find_field(global_fields(), path);
    if (!f) {
      if (path == "endpoints" || is_group(global_fields(), path)) {
        auto example = path == "endpoints" ? std::string{"endpoints[0].url"}
                                           : first_key_of(path);
        return fail(where, path,
                    "is a section, not a key; set one of its keys, e.g. "
                      + example);
      }
      auto all = candidates(global_fields(), {});
      for (size_t i = 0; i < result_.endpoints.size(); ++i)
        for (const auto& ef : endpoint_fields())
          all.push_back("endpoints[" + std::to_string(i) + "]." + ef.key);
      auto near = nearest(path, all);
      return fail(where, path,
                  near.empty() ? std::string{"unknown key"}
                               : "unknown key; did you mean " + near + "?");
    }
    if (auto p = f->from_text(result_, text))
      return fail(where, path + p.suffix, p.text);
    origin_[path] = where;
    return {};
  }

  static std::string endpoint_key_list() {
    std::string result;
    for (const auto& f : endpoint_fields())
      result += (result.empty() ? "" : ", ") + f.key;
    return result;
  }

  static std::string first_key_of(const std::string& section) {
    for (const auto& f : global_fields())
      if (f.key.rfind(section + ".", 0) == 0)
        return f.key;
    return section;
  }

  error load_environment() {
    if (auto url = env("OPENAI_BASE_URL"))
      if (auto err = set_text("environment variable OPENAI_BASE_URL",
                              "endpoints[0].url", *url))
        return err;
    // Map variable names to key paths.
    std::map<std::string, std::string> globals;
    for (const auto& f : global_fields())
      globals.emplace(env_name(f.key), f.key);
    std::map<std::string, std::string> endpoint_keys;
    for (const auto& f : endpoint_fields())
      endpoint_keys.emplace(env_name(f.key).substr(env_prefix.size()), f.key);
    // Endpoint variables, applied after the others in index order.
    std::vector<std::tuple<size_t, std::string, std::string>> per_endpoint;
    for (const auto& [name, value] : src_.environment) {
      if (name.compare(0, env_prefix.size(), env_prefix) != 0
          || name == "LLMMR_CONFIG")
        continue;
      auto where = "environment variable " + name;
      if (auto i = globals.find(name); i != globals.end()) {
        if (auto err = set_text(where, i->second, value))
          return err;
        continue;
      }
      if (name.compare(0, endpoints_env_prefix.size(), endpoints_env_prefix)
          == 0) {
        auto rest = std::string_view{name}.substr(endpoints_env_prefix.size());
        auto underscore = rest.find('_');
        auto digits = rest.substr(0, underscore);
        if (underscore != std::string_view::npos && !digits.empty()
            && digits.size() < 6
            && std::all_of(digits.begin(), digits.end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
          auto n = std::stoul(std::string{digits});
          auto key = std::string{rest.substr(underscore + 1)};
          if (auto j = endpoint_keys.find(key); j != endpoint_keys.end()) {
            per_endpoint.emplace_back(
              n, name, "endpoints[" + std::to_string(n) + "]." + j->second);
            continue;
          }
        }
      }
      // Unknown: suggest the nearest variable.
      std::vector<std::string> all;
      for (const auto& g : globals)
        all.push_back(g.first);
      all.push_back("LLMMR_CONFIG");
      for (const auto& e : endpoint_keys)
        all.push_back(std::string{endpoints_env_prefix} + "0_" + e.first);
      auto near = nearest(name, all);
      std::string text = "unknown variable";
      if (!near.empty()) {
        text += "; did you mean " + near;
        if (auto g = globals.find(near); g != globals.end())
          text += " (" + g->second + ")";
        text += "?";
      }
      return fail(where, {}, text);
    }
    std::stable_sort(per_endpoint.begin(), per_endpoint.end(),
                     [](const auto& a, const auto& b) {
                       return std::get<0>(a) < std::get<0>(b);
                     });
    for (const auto& [n, name, path] : per_endpoint) {
      auto value = src_.environment.at(name);
      if (auto err = set_text("environment variable " + name, path, value))
        return err;
    }
    return {};
  }

  error load_overrides() {
    for (const auto& [key, value] : src_.overrides)
      if (auto err = set_text(command_line, key, value))
        return err;
    return {};
  }

  // -- cross-key checks and secrets -------------------------------------------

  /// Returns the key among `a` and `b` that was set by a layer above the
  /// defaults, preferring `a`.
  std::string blame(const std::string& a, const std::string& b) const {
    if (origin(a) == defaults_origin && origin(b) != defaults_origin)
      return b;
    return a;
  }

  error finish() {
    auto& s = result_;
    for (size_t i = 0; i < s.endpoints.size(); ++i) {
      auto& e = s.endpoints[i];
      auto prefix = "endpoints[" + std::to_string(i) + "].";
      if (e.api_key.empty()) {
        if (!e.api_key_env.empty()) {
          auto path = prefix + "api_key_env";
          auto key = env(e.api_key_env);
          if (!key)
            return fail(origin(path), path,
                        "environment variable " + e.api_key_env
                          + " is not set or empty");
          e.api_key = *key;
        } else if (auto key = env("OPENAI_API_KEY")) {
          e.api_key = *key;
        }
      }
      if (!e.tls.ca_file.empty()) {
        auto path = prefix + "tls.ca_file";
        std::ifstream probe{e.tls.ca_file};
        if (!probe)
          return fail(origin(path), path,
                      "cannot read \"" + e.tls.ca_file
                        + "\": " + std::strerror(errno));
      }
    }
    if (s.retry.initial_backoff_ms > s.retry.max_backoff_ms) {
      auto path = blame("retry.initial_backoff_ms", "retry.max_backoff_ms");
      return fail(origin(path), path,
                  "retry.initial_backoff_ms ("
                    + std::to_string(s.retry.initial_backoff_ms)
                    + ") must not exceed retry.max_backoff_ms ("
                    + std::to_string(s.retry.max_backoff_ms) + ")");
    }
    for (auto [key, value] :
         {std::pair{"client.connect_timeout_ms", s.client.connect_timeout_ms},
          std::pair{"client.first_byte_timeout_ms",
                    s.client.first_byte_timeout_ms}}) {
      if (value > s.client.total_timeout_ms) {
        auto path = blame(key, "client.total_timeout_ms");
        return fail(origin(path), path,
                    std::string{key} + " (" + std::to_string(value)
                      + ") must not exceed client.total_timeout_ms ("
                      + std::to_string(s.client.total_timeout_ms) + ")");
      }
    }
    if (auto reserved = reserved_output(s.to_job_spec());
        reserved >= s.job.budget) {
      if (s.job.max_tokens != 0) {
        auto path = blame("job.max_tokens", "job.budget");
        return fail(origin(path), path,
                    "job.max_tokens (" + std::to_string(s.job.max_tokens)
                      + ") must be less than job.budget ("
                      + std::to_string(s.job.budget) + ")");
      }
      return fail(
        origin("job.budget"), "job.budget",
        std::to_string(s.job.budget) + " leaves no room besides the "
          + std::to_string(reserved) + " output tokens reserved for task "
          + to_string(s.job.task) + "; raise it or set job.max_tokens");
    }
    if (s.pipeline.mappers == 0 && s.workers.nodes.empty()) {
      auto path = blame("pipeline.mappers", "workers.nodes");
      return fail(origin(path), path,
                  "pipeline.mappers is 0 but workers.nodes is empty: nothing "
                  "would map the chunks");
    }
    if (s.workers.connection_timeout_ms != 0
        && (s.workers.heartbeat_interval_ms == 0
            || s.workers.connection_timeout_ms
                 <= s.workers.heartbeat_interval_ms)) {
      auto path = blame("workers.connection_timeout_ms",
                        "workers.heartbeat_interval_ms");
      return fail(origin(path), path,
                  "workers.connection_timeout_ms needs heartbeats: set "
                  "workers.heartbeat_interval_ms to a value below it");
    }
    if (auto err = check_workers_tls(s.workers.tls))
      return err;
    return {};
  }

  /// Checks that `workers.tls` is all or nothing, that its files can be
  /// read and reads the key's passphrase from its variable.
  error check_workers_tls(node_tls_settings& tls) {
    const std::pair<const char*, std::string*> files[] = {
      {"workers.tls.certificate", &tls.certificate},
      {"workers.tls.key", &tls.key},
      {"workers.tls.ca_file", &tls.ca_file},
    };
    const char* set = nullptr;
    for (auto [key, value] : files)
      if (!value->empty())
        set = key;
    if (!set && tls.passphrase_env.empty())
      return {};
    if (!set)
      set = "workers.tls.passphrase_env";
    for (auto [key, value] : files)
      if (value->empty())
        return fail(origin(set), key,
                    std::string{key} + " is empty but " + set
                      + " is set: TLS between nodes needs a certificate, its "
                        "key and a CA file");
    for (auto [key, value] : files) {
      std::ifstream probe{*value};
      if (!probe)
        return fail(origin(key), key,
                    "cannot read \"" + *value + "\": " + std::strerror(errno));
    }
    if (!tls.passphrase_env.empty()) {
      auto path = "workers.tls.passphrase_env";
      auto pass = env(tls.passphrase_env);
      if (!pass)
        return fail(origin(path), path,
                    "environment variable " + tls.passphrase_env
                      + " is not set or empty");
      tls.passphrase = *pass;
    }
    return {};
  }

  const settings_sources& src_;
  settings result_;
  /// Key path -> the layer that set it last (file, variable, command line).
  std::map<std::string, std::string> origin_;
};

} // namespace

expected<settings> load_settings(const settings_sources& src) {
  return loader{src}.run();
}

} // namespace llmmr
