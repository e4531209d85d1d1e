// Offline generators for InfiniteBench's four synthetic tasks. They follow
// the benchmark's construction (a needle in repeated filler, a JSON object
// of random keys, a long list of numbers) with text and code of our own.

#include "llmmr/core/synthetic_tasks.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string_view>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

/// The filler both needle tasks repeat. It shares no five-letter prefix with
/// the words of their questions ("pass", "key", "sequence", "digits").
constexpr std::string_view filler_unit
  = "The wind moves through the tall grass. The clouds drift over the hills. "
    "The river runs on toward the sea. Here we rest for a while. Then we "
    "walk on again. ";

/// A random stream for example `index`, independent of the other examples.
std::mt19937_64 example_rng(uint64_t seed, uint64_t index) {
  // splitmix64 of the pair, so that neighbouring seeds and indexes differ
  // in every bit.
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return std::mt19937_64{z ^ (z >> 31)};
}

/// A number with exactly `digits` digits, the first not zero.
std::string random_digits(std::mt19937_64& rng, int digits) {
  std::string out;
  out += static_cast<char>('1' + rng() % 9);
  for (int i = 1; i < digits; ++i)
    out += static_cast<char>('0' + rng() % 10);
  return out;
}

/// A UUID-like string: 32 lowercase hex digits in groups of 8-4-4-4-12.
std::string random_uuid(std::mt19937_64& rng) {
  constexpr std::string_view hex = "0123456789abcdef";
  std::string out;
  for (int group : {8, 4, 4, 4, 12}) {
    if (!out.empty())
      out += '-';
    for (int i = 0; i < group; ++i)
      out += hex[rng() % 16];
  }
  return out;
}

double depth_of(uint64_t index, uint64_t count, const synthetic_options& o) {
  if (o.depth)
    return *o.depth;
  return count <= 1
           ? 0.5
           : static_cast<double>(index) / static_cast<double>(count - 1);
}

/// Filler with `needle` after the filler unit nearest to `depth`.
synthetic_example needle_in_filler(const std::string& needle, double depth,
                                   const synthetic_options& opts,
                                   const tokenizer& tok) {
  auto unit_tokens = std::max<uint64_t>(1, tok.count(filler_unit));
  auto needle_tokens = tok.count(needle) + 1;
  auto room = opts.length_tokens > needle_tokens
                ? opts.length_tokens - needle_tokens
                : 0;
  auto units = std::max<uint64_t>(1, room / unit_tokens);
  auto before
    = static_cast<uint64_t>(std::llround(depth * static_cast<double>(units)));
  synthetic_example out;
  auto& text = out.example.context;
  text.reserve(units * filler_unit.size() + needle.size() + 1);
  for (uint64_t i = 0; i < before; ++i)
    text += filler_unit;
  out.needle_offset = text.size();
  text += needle;
  text += ' ';
  for (uint64_t i = before; i < units; ++i)
    text += filler_unit;
  text.pop_back(); // the last blank
  out.depth = depth;
  out.tokens = units * unit_tokens + needle_tokens;
  return out;
}

synthetic_example make_passkey(std::mt19937_64& rng, double depth,
                               const synthetic_options& opts,
                               const tokenizer& tok) {
  auto key = random_digits(rng, 5);
  auto needle
    = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
  auto out = needle_in_filler(needle, depth, opts, tok);
  out.example.input = "What is the pass key?";
  out.example.answer = {key};
  return out;
}

synthetic_example make_number_string(std::mt19937_64& rng, double depth,
                                     const synthetic_options& opts,
                                     const tokenizer& tok) {
  auto digits = random_digits(rng, 10);
  auto needle = "The sequence of digits is " + digits + ". Remember it. "
                + digits + " is the sequence of digits.";
  auto out = needle_in_filler(needle, depth, opts, tok);
  out.example.input = "What is the sequence of digits?";
  out.example.answer = {digits};
  return out;
}

synthetic_example make_kv(std::mt19937_64& rng, double depth,
                          const synthetic_options& opts, const tokenizer& tok) {
  constexpr std::string_view head = "JSON data:\n{";
  std::vector<std::string> pairs;
  uint64_t tokens = tok.count(head) + 1;
  do {
    auto pair = "\"" + random_uuid(rng) + "\": \"" + random_uuid(rng) + "\"";
    tokens += tok.count(pair) + 1;
    pairs.push_back(std::move(pair));
  } while (tokens < opts.length_tokens);
  auto asked = static_cast<size_t>(
    std::llround(depth * static_cast<double>(pairs.size() - 1)));
  synthetic_example out;
  auto& text = out.example.context;
  text = head;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0)
      text += ", ";
    if (i == asked)
      out.needle_offset = text.size();
    text += pairs[i];
  }
  text += '}';
  // A pair is "KEY": "VALUE" with 36-character UUIDs.
  auto key = pairs[asked].substr(1, 36);
  auto value = pairs[asked].substr(41, 36);
  out.example.input
    = "Key: \"" + key + "\"\nThe value associated with the specified key is: ";
  out.example.answer = {value};
  out.depth = depth;
  out.tokens = tokens;
  return out;
}

synthetic_example make_math_find(std::mt19937_64& rng, uint64_t index,
                                 const synthetic_options& opts,
                                 const tokenizer& tok) {
  std::vector<int64_t> numbers;
  std::string text = "[";
  uint64_t tokens = 2;
  while (tokens < opts.length_tokens || numbers.size() % 2 == 0) {
    auto n = static_cast<int64_t>(rng() % 100'000);
    auto word = std::to_string(n);
    if (!numbers.empty())
      text += ", ";
    text += word;
    tokens += tok.count(word) + 1;
    numbers.push_back(n);
  }
  text += ']';
  constexpr std::string_view targets[] = {"largest", "smallest", "median"};
  auto target = targets[index % 3];
  int64_t answer = 0;
  if (target == "largest") {
    answer = *std::max_element(numbers.begin(), numbers.end());
  } else if (target == "smallest") {
    answer = *std::min_element(numbers.begin(), numbers.end());
  } else {
    auto sorted = numbers;
    auto mid = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
    std::nth_element(sorted.begin(), mid, sorted.end());
    answer = *mid;
  }
  synthetic_example out;
  out.example.context = std::move(text);
  out.example.input = "Answer with a single number and no other words. The "
                      + std::string{target} + " number of the list is: ";
  out.example.answer = {answer};
  out.tokens = tokens;
  return out;
}

} // namespace

bool is_synthetic(infinitebench_task task) noexcept {
  using t = infinitebench_task;
  return task == t::passkey || task == t::number_string
         || task == t::kv_retrieval || task == t::math_find;
}

expected<synthetic_example>
make_synthetic_example(infinitebench_task task, uint64_t index, uint64_t count,
                       const synthetic_options& opts, const tokenizer& tok) {
  if (!is_synthetic(task))
    return make_error(error_kind::usage,
                      "no generator for task '" + to_string(task)
                        + "' (synthetic tasks: passkey, number_string, "
                          "kv_retrieval, math_find)");
  if (opts.depth && !(*opts.depth >= 0 && *opts.depth <= 1))
    return make_error(error_kind::usage, "the depth must be between 0 and 1");
  auto rng = example_rng(opts.seed, index);
  auto depth = depth_of(index, count, opts);
  synthetic_example out;
  switch (task) {
  case infinitebench_task::passkey:
    out = make_passkey(rng, depth, opts, tok);
    break;
  case infinitebench_task::number_string:
    out = make_number_string(rng, depth, opts, tok);
    break;
  case infinitebench_task::kv_retrieval:
    out = make_kv(rng, depth, opts, tok);
    break;
  default:
    out = make_math_find(rng, index, opts, tok);
    break;
  }
  out.example.id = index;
  return out;
}

} // namespace llmmr
