#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmmr {

/// One answered example for a calibration report: the confidence the job
/// gave its answer and how correct the answer was.
struct calibration_sample {
  /// The final confidence on the 0-5 scale; unset when the job gave none
  /// (no reduce call, a profile without scores, a failed job).
  std::optional<double> confidence;
  /// The example's score in [0, 1]: 0 or 1 for exact-match tasks, a token
  /// F1 for free-form answers.
  double correctness = 0;
};

/// The examples whose confidence fell into one range.
struct calibration_bucket {
  /// The lowest confidence (0-5) of the range.
  double low = 0;
  /// The end of the range: confidences below it, or up to and including it
  /// for the last bucket.
  double high = 0;
  /// The number of examples in the bucket.
  size_t count = 0;
  /// The mean correctness of those examples (0 when empty).
  double accuracy = 0;
  /// The mean of their confidence / 5, as a probability (0 when empty).
  double mean_probability = 0;
};

/// How well confidence predicts correctness over a set of examples.
///
/// Buckets: [0, 1), [1, 2), [2, 3), [3, 4), [4, 5) and exactly 5. The last is
/// a bucket of its own because the retrieval rule gives 5 only to answers
/// copied literally from the text (method.md section 6). A confidence is
/// read as the probability `confidence / 5` of being right.
struct calibration_report {
  /// The six buckets, in order, empty ones included.
  std::vector<calibration_bucket> buckets;
  /// Examples with a confidence (the ones the figures below are about).
  size_t samples = 0;
  /// Examples without a confidence; left out of every figure but
  /// `missing_accuracy`.
  size_t missing = 0;
  /// Mean correctness of the examples without a confidence (0 when none).
  double missing_accuracy = 0;
  /// Mean correctness of the examples with a confidence.
  double accuracy = 0;
  /// Mean confidence / 5 of the examples with a confidence.
  double mean_probability = 0;
  /// Expected calibration error: the sum over buckets of
  /// `count / samples * |accuracy - mean_probability|`; 0 is perfect.
  double ece = 0;
  /// Brier score: the mean of `(confidence / 5 - correctness)^2` over the
  /// examples; 0 is perfect, 0.25 is what a constant 0.5 earns on a fair
  /// coin.
  double brier = 0;
};

/// Computes the report of `samples`. Confidences are clamped to [0, 5].
calibration_report
make_calibration_report(std::span<const calibration_sample> samples);

/// Returns `x` as JSON: `samples`, `missing`, `missing_accuracy`,
/// `accuracy`, `mean_probability`, `ece`, `brier` and `buckets` (each with
/// `low`, `high`, `count`, `accuracy`, `mean_probability`).
nlohmann::json to_json(const calibration_report& x);

} // namespace llmmr
