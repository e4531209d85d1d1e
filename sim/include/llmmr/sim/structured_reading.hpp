#pragma once

// Two readings of structured text for the simulator's reader (a test double,
// see docs/sim.md): looking a key up in JSON-ish `"key": "value"` pairs, and
// summarising a list of numbers (count, smallest, median, largest) so that
// parts of one list can be combined. Pure functions; they know nothing of
// any data generator.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmmr::sim {

/// Returns the key a key-lookup question names: the first quoted string
/// (`"..."` or `“...”`) of at least eight characters, without blanks and
/// with a digit, in a question that says "key". Empty when there is none.
std::string asked_key(std::string_view question);

/// What `look_up_key` found.
struct key_lookup {
  /// The key occurs as a key (followed by a colon).
  bool key_seen = false;
  /// The value was found whole.
  bool found = false;
  /// The value, without its quotes.
  std::string value;
  /// The pair as it reads in the text, e.g. `"k": "v"`.
  std::string pair;
};

/// Looks `key` up in `text`: a quoted `"key"`, a colon, then a quoted value
/// or a bare one (up to `,`, `}`, `]` or a blank). A key whose value is cut
/// off by the end of the text is seen but not found.
key_lookup look_up_key(std::string_view text, std::string_view key);

/// True when `text` holds at least one JSON-ish `"name": ` pair.
bool looks_like_pairs(std::string_view text);

/// The statistic a question asks of a list of numbers.
enum class list_statistic { none, largest, smallest, median };

/// Returns the statistic `question` asks for: it must speak of a number or a
/// list and name the largest (greatest, biggest, highest, maximum), the
/// smallest (lowest, least, minimum) or the median.
list_statistic asked_statistic(std::string_view question);

/// A summary of the numbers of one text, or of several combined.
struct number_summary {
  /// How many numbers (0 when unknown, e.g. read from a bare answer).
  size_t count = 0;
  /// The text holds the whole list, from its `[` to its `]`.
  bool whole = false;
  /// The smallest and the largest number, as written.
  std::string smallest;
  std::string largest;
  /// The median as written (the mean of the middle two for an even count);
  /// exact for the list only when `whole`, else the text's own median or an
  /// estimate. Empty when unknown.
  std::string median;
};

/// Summarises `text` when it is a list of numbers: at least three numbers
/// and at most one word of letters per four numbers. Numbers glued to
/// letters (as in `a1b2`) do not count.
std::optional<number_summary> summarise_numbers(std::string_view text);

/// Renders `x` as one sentence that `parse_number_summary` reads back, e.g.
/// `The whole list: 5 numbers; smallest 1, median 3, largest 9.` or
/// `1200 numbers of a longer list; smallest 1, median about 50, largest 99.`
std::string describe(const number_summary& x);

/// Reads a sentence written by `describe` back; nothing when `text` holds
/// none of the statistics.
std::optional<number_summary> parse_number_summary(std::string_view text);

/// Combines summaries of consecutive parts of one list. The median of
/// several parts is estimated: the part median at which the parts' counts,
/// sorted by median, pass half the total (parts of unknown count are
/// ignored for it). The result is whole only when a single part was whole.
number_summary combine(const std::vector<number_summary>& xs);

/// Returns the value of `stat` in `x` (empty when unknown).
std::string statistic_of(const number_summary& x, list_statistic stat);

/// Returns the first number written in `text`, empty if none.
std::string first_number(std::string_view text);

} // namespace llmmr::sim
