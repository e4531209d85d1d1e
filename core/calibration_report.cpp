#include "llmmr/core/calibration_report.hpp"

#include <algorithm>
#include <cmath>

namespace llmmr {

namespace {

/// The bucket of a confidence in [0, 5]: its integer part, 5 on its own.
size_t bucket_of(double confidence) {
  if (confidence >= 5)
    return 5;
  return static_cast<size_t>(std::floor(confidence));
}

} // namespace

calibration_report
make_calibration_report(std::span<const calibration_sample> samples) {
  calibration_report out;
  for (int i = 0; i < 6; ++i) {
    calibration_bucket b;
    b.low = i;
    b.high = i < 5 ? i + 1 : 5;
    out.buckets.push_back(b);
  }
  std::vector<double> correct_sum(6, 0.0);
  std::vector<double> prob_sum(6, 0.0);
  double missing_sum = 0;
  double brier_sum = 0;
  for (const auto& s : samples) {
    auto y = std::clamp(s.correctness, 0.0, 1.0);
    if (!s.confidence || std::isnan(*s.confidence)) {
      ++out.missing;
      missing_sum += y;
      continue;
    }
    auto c = std::clamp(*s.confidence, 0.0, 5.0);
    auto p = c / 5;
    auto b = bucket_of(c);
    ++out.buckets[b].count;
    correct_sum[b] += y;
    prob_sum[b] += p;
    brier_sum += (p - y) * (p - y);
    ++out.samples;
  }
  if (out.missing > 0)
    out.missing_accuracy = missing_sum / static_cast<double>(out.missing);
  if (out.samples == 0)
    return out;
  auto n = static_cast<double>(out.samples);
  double all_correct = 0;
  double all_prob = 0;
  for (size_t b = 0; b < out.buckets.size(); ++b) {
    auto& bucket = out.buckets[b];
    if (bucket.count == 0)
      continue;
    auto k = static_cast<double>(bucket.count);
    bucket.accuracy = correct_sum[b] / k;
    bucket.mean_probability = prob_sum[b] / k;
    out.ece += k / n * std::abs(bucket.accuracy - bucket.mean_probability);
    all_correct += correct_sum[b];
    all_prob += prob_sum[b];
  }
  out.accuracy = all_correct / n;
  out.mean_probability = all_prob / n;
  out.brier = brier_sum / n;
  return out;
}

nlohmann::json to_json(const calibration_report& x) {
  auto buckets = nlohmann::json::array();
  for (const auto& b : x.buckets)
    buckets.push_back({{"low", b.low},
                       {"high", b.high},
                       {"count", b.count},
                       {"accuracy", b.accuracy},
                       {"mean_probability", b.mean_probability}});
  return {{"samples", x.samples},
          {"missing", x.missing},
          {"missing_accuracy", x.missing_accuracy},
          {"accuracy", x.accuracy},
          {"mean_probability", x.mean_probability},
          {"ece", x.ece},
          {"brier", x.brier},
          {"buckets", std::move(buckets)}};
}

} // namespace llmmr
