// Reading InfiniteBench prediction files; see infinitebench_predictions.hpp.

#include "llmmr/core/infinitebench_predictions.hpp"

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "llmmr/core/read_file.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

/// A string as it is, a number as written in JSON; nothing else.
bool truth_string(const nlohmann::json& v, std::string& out) {
  if (v.is_string()) {
    out = v.get<std::string>();
    return true;
  }
  if (v.is_number()) {
    out = v.dump();
    return true;
  }
  return false;
}

const nlohmann::json* field(const nlohmann::json& doc, const char* name,
                            const char* alias) {
  if (auto i = doc.find(name); i != doc.end())
    return &*i;
  if (auto i = doc.find(alias); i != doc.end())
    return &*i;
  return nullptr;
}

} // namespace

expected<infinitebench_prediction>
parse_infinitebench_prediction(std::string_view line) {
  auto doc = nlohmann::json::parse(line, nullptr, false);
  if (doc.is_discarded())
    return make_error(error_kind::input, "not valid JSON");
  if (!doc.is_object())
    return make_error(error_kind::input, "not a JSON object");
  infinitebench_prediction out;
  auto pred = field(doc, "prediction", "pred");
  if (pred == nullptr)
    return make_error(error_kind::input, "no field 'prediction'");
  if (!pred->is_string())
    return make_error(error_kind::input, "'prediction' is not a string");
  out.prediction = pred->get<std::string>();
  auto truth = field(doc, "ground_truth", "label");
  if (truth == nullptr)
    return make_error(error_kind::input, "no field 'ground_truth'");
  const char* bad_truth
    = "'ground_truth' is not a string, a number or a list of them";
  if (truth->is_array()) {
    if (truth->empty())
      return make_error(error_kind::input, "'ground_truth' is an empty list");
    for (auto& v : *truth) {
      std::string s;
      if (!truth_string(v, s))
        return make_error(error_kind::input, bad_truth);
      out.truth.push_back(std::move(s));
    }
  } else {
    std::string s;
    if (!truth_string(*truth, s))
      return make_error(error_kind::input, bad_truth);
    out.truth.push_back(std::move(s));
  }
  if (auto id = doc.find("id"); id != doc.end())
    out.id = id->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

expected<std::vector<infinitebench_prediction>>
read_infinitebench_predictions(const std::string& path) {
  std::ifstream file;
  auto* in = open_input(path, file);
  if (!in)
    return make_error(error_kind::input, "cannot open '" + path + "'");
  std::vector<infinitebench_prediction> out;
  std::string line;
  size_t number = 0;
  while (std::getline(*in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
      continue;
    auto pred = parse_infinitebench_prediction(line);
    if (!pred)
      return make_error(error_kind::input, path + ":" + std::to_string(number)
                                             + ": " + pred.error().what());
    out.push_back(std::move(*pred));
  }
  if (in->bad())
    return make_error(error_kind::input, "cannot read '" + path + "'");
  return out;
}

} // namespace llmmr
