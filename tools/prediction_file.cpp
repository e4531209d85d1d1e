#include "llmmr/tools/prediction_file.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "llmmr/core/infinitebench_example.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr::cli {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

std::string scorer_label(infinitebench_scorer x) {
  return x == infinitebench_scorer::official
           ? "official (InfiniteBench's rules)"
           : "llmxmapreduce (LLM×MapReduce's modified rules)";
}

expected<infinitebench_scorer> scorer_arg(const parsed_args& args) {
  auto name = args.get("scorer").value_or("official");
  infinitebench_scorer result;
  if (from_string(name, result))
    return result;
  return make_error(error_kind::usage, "--scorer: unknown scorer '" + name
                                         + "' (official or llmxmapreduce)");
}

std::vector<std::string> truth_strings(const ordered_json& truth) {
  std::vector<std::string> out;
  auto add = [&out](const ordered_json& x) {
    out.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  };
  if (truth.is_array())
    for (auto& x : truth)
      add(x);
  else if (!truth.is_null())
    add(truth);
  return out;
}

expected<std::vector<prediction_line>>
read_predictions(const std::string& path, bool missing_ok, bool repair) {
  std::vector<prediction_line> out;
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    if (missing_ok && !fs::exists(path))
      return out;
    return make_error(error_kind::input, "cannot open '" + path + "'");
  }
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  in.close();
  size_t pos = 0;
  size_t number = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    bool last_unterminated = end == std::string::npos;
    if (last_unterminated)
      end = text.size();
    ++number;
    std::string_view line{text.data() + pos, end - pos};
    auto start = pos;
    pos = end + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos)
      continue;
    auto where = path + ":" + std::to_string(number) + ": ";
    auto doc = ordered_json::parse(line, nullptr, false);
    if (doc.is_discarded() && last_unterminated && repair) {
      std::fprintf(stderr,
                   "llmmr eval: %s:%zu: dropping a cut-off last line (an "
                   "interrupted run); that example runs again\n",
                   path.c_str(), number);
      fs::resize_file(path, start);
      break;
    }
    if (doc.is_discarded())
      return make_error(error_kind::input, where + "not valid JSON");
    if (!doc.is_object())
      return make_error(error_kind::input, where + "not a JSON object");
    if (!doc.contains("id"))
      return make_error(error_kind::input, where + "no field 'id'");
    if (!doc.contains("prediction") || !doc["prediction"].is_string())
      return make_error(error_kind::input,
                        where + "no string field 'prediction'");
    if (!doc.contains("ground_truth"))
      return make_error(error_kind::input, where + "no field 'ground_truth'");
    if (doc.contains("confidence") && !doc["confidence"].is_null()
        && !doc["confidence"].is_number())
      return make_error(error_kind::input,
                        where + "'confidence' is neither a number nor null");
    prediction_line p;
    p.key = id_key(doc["id"]);
    p.line = number;
    p.doc = std::move(doc);
    out.push_back(std::move(p));
  }
  return out;
}

uint64_t uint_field(const ordered_json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

prediction_totals total_of(const std::vector<const prediction_line*>& lines,
                           infinitebench_task task,
                           infinitebench_scorer scorer) {
  prediction_totals t;
  for (const auto* p : lines) {
    const auto& doc = p->doc;
    ++t.examples;
    t.calls += uint_field(doc, "calls");
    t.tokens += uint_field(doc, "tokens");
    if (auto it = doc.find("wall_ms"); it != doc.end() && it->is_number())
      t.wall_ms += it->get<double>();
    if (doc.contains("error"))
      ++t.failures;
    if (auto it = doc.find("partial");
        it != doc.end() && it->is_boolean() && it->get<bool>())
      ++t.partial;
    auto s
      = score_prediction(task, scorer, doc["prediction"].get<std::string>(),
                         truth_strings(doc["ground_truth"]));
    if (!s)
      continue;
    ++t.scored;
    t.score_sum += *s;
    calibration_sample sample;
    sample.correctness = *s;
    if (auto it = doc.find("confidence"); it != doc.end() && it->is_number())
      sample.confidence = it->get<double>();
    t.samples.push_back(sample);
  }
  return t;
}

std::string fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

void print_calibration(FILE* out, const calibration_report& r,
                       std::string_view heading) {
  std::fprintf(out,
               "calibration%.*s: %zu example%s with a confidence, %zu "
               "without",
               static_cast<int>(heading.size()), heading.data(), r.samples,
               r.samples == 1 ? "" : "s", r.missing);
  if (r.missing > 0)
    std::fprintf(out, " (accuracy %.3f)", r.missing_accuracy);
  if (r.samples == 0) {
    std::fprintf(out, "; nothing to calibrate\n");
    return;
  }
  std::fprintf(out,
               "\n  ECE %.3f   Brier %.3f   accuracy %.3f   mean "
               "confidence/5 %.3f\n",
               r.ece, r.brier, r.accuracy, r.mean_probability);
  std::fprintf(out, "  %-10s %8s %9s %13s\n", "confidence", "examples",
               "accuracy", "confidence/5");
  for (const auto& b : r.buckets) {
    auto name = b.low == b.high
                  ? fmt("%.0f", b.low)
                  : fmt("%.0f", b.low) + " to <" + fmt("%.0f", b.high);
    if (b.count == 0)
      std::fprintf(out, "  %-10s %8zu %9s %13s\n", name.c_str(), b.count, "-",
                   "-");
    else
      std::fprintf(out, "  %-10s %8zu %9.3f %13.3f\n", name.c_str(), b.count,
                   b.accuracy, b.mean_probability);
  }
}

error write_text_file(const std::string& path, const std::string& text) {
  std::ofstream file{path, std::ios::binary | std::ios::trunc};
  file << text;
  file.flush();
  if (!file)
    return make_error(error_kind::input, "cannot write '" + path + "'");
  return {};
}

} // namespace llmmr::cli
