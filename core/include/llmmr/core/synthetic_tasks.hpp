#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/core/infinitebench_example.hpp"
#include "llmmr/core/infinitebench_score.hpp"
#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

/// What `make_synthetic_example` builds.
struct synthetic_options {
  /// The length of the context in tokens, as counted by the tokenizer given
  /// to the generator (summed over the pieces the context is built from, so
  /// an upper bound of the count of the whole context).
  uint64_t length_tokens = 128'000;
  /// Seed of every random choice; example `i` uses its own stream derived
  /// from `seed` and `i`, so examples do not depend on each other.
  uint64_t seed = 1;
  /// Where the needle goes (PassKey, Number, KV), from 0 (the start) to 1
  /// (the end). Unset: spread evenly over the examples, `i / (count - 1)`.
  std::optional<double> depth;
};

/// Returns whether `make_synthetic_example` can generate `task`: PassKey,
/// Number, KV and Math.Find.
bool is_synthetic(infinitebench_task task) noexcept;

/// One generated example and where its answer was put.
struct synthetic_example {
  /// The example in the InfiniteBench data format.
  infinitebench_example example;
  /// Byte offset of the needle in `example.context` (PassKey, Number, KV);
  /// 0 for Math.Find.
  uint64_t needle_offset = 0;
  /// The depth the needle was put at, from 0 to 1.
  double depth = 0;
  /// Tokens of the context (see `synthetic_options::length_tokens`).
  uint64_t tokens = 0;
};

/// Generates example `index` of `count` for `task`, deterministically from
/// `opts`:
/// - PassKey: repeated filler sentences with "The pass key is K. Remember it.
///   K is the pass key." at the depth, K five digits.
/// - Number: the same with a ten-digit sequence.
/// - KV: a JSON object of UUID-like keys and values; the question names the
///   key at the depth.
/// - Math.Find: a list of integers (odd length) and a question for its
///   largest, smallest or median number, cycling through the three.
/// Fails with `error_kind::usage` for another task or a depth outside [0, 1].
expected<synthetic_example>
make_synthetic_example(infinitebench_task task, uint64_t index, uint64_t count,
                       const synthetic_options& opts, const tokenizer& tok);

} // namespace llmmr
