#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "llmmr/messages/evidence_loss.hpp"
#include "llmmr/messages/record.hpp"

namespace llmmr {

/// Measures the size of one record as it appears in a collapse or reduce
/// prompt (header and fields rendered), in tokens.
using record_measure = std::function<size_t(const record&)>;

/// Filters a list of records between rounds (e.g. `calibrator::select`).
using record_filter = std::function<std::vector<record>(std::vector<record>)>;

/// A contiguous run `[first, last)` of records that one collapse call merges.
struct collapse_group {
  /// Index of the first record of the group.
  size_t first = 0;
  /// Index one past the last record of the group.
  size_t last = 0;
  /// Sum of the sizes of the group's records.
  size_t tokens = 0;
  /// True for a single record that alone exceeds the budget.
  bool oversized = false;

  friend bool operator==(const collapse_group&, const collapse_group&)
    = default;
};

/// Returns the sum of `sizes`.
size_t total_tokens(std::span<const size_t> sizes) noexcept;

/// Returns whether records of `sizes` fit into `budget` tokens together.
bool fits(std::span<const size_t> sizes, size_t budget) noexcept;

/// Packs records of `sizes` greedily in order into contiguous groups that each
/// fit `budget`. A record larger than `budget` forms a group of its own,
/// marked `oversized`. Every record belongs to exactly one group.
std::vector<collapse_group> pack_groups(std::span<const size_t> sizes,
                                        size_t budget);

/// Returns the sorted union (no duplicates) of the chunk indices `inputs`
/// cover: the provenance of a record collapsed from them.
std::vector<uint32_t> merge_provenance(std::span<const record> inputs);

/// Cuts `text` to at most `max_bytes` bytes at a UTF-8 character boundary.
std::string cut_utf8(std::string text, size_t max_bytes);

/// Shrinks the fields of `r` (rationale first, then extracted information,
/// then the answer) until `measure(r) <= budget` or every field is empty.
/// Returns whether any field was cut.
bool truncate_to_fit(record& r, size_t budget, const record_measure& measure);

/// What `force_fit` did.
struct fit_report {
  /// Records whose rationale (or other fields) were shortened.
  uint32_t truncated = 0;
  /// Records dropped altogether.
  uint32_t dropped = 0;
  /// Chunk indices covered only by dropped records.
  std::vector<uint32_t> dropped_chunks;
  /// One entry per record cut or dropped, in the order it happened.
  std::vector<evidence_loss> losses;
};

/// The termination fallback of method.md section 4: makes `records` fit
/// `budget` by first cutting the rationale of the lowest-confidence records,
/// then dropping the lowest-confidence records (keeping at least one) and
/// finally cutting the last record's fields. Order is preserved. Always
/// returns records that fit, unless a single record with empty fields is
/// still too large (its header alone exceeds the budget).
fit_report force_fit(std::vector<record>& records, size_t budget,
                     const record_measure& measure);

/// Limits of a collapse.
struct collapse_options {
  /// `B_collapse`: the token budget all records must fit in together.
  size_t budget = 0;
  /// Rounds after which the fallback makes the records fit.
  uint32_t max_rounds = 8;
};

/// One part of a first round whose groups were partly collapsed before it
/// was planned (early collapse), in document order: either records still
/// to be grouped, or a group already collapsed, of which the caller keeps
/// only the output and the planner only the total size of its inputs.
struct first_round_part {
  /// Records to pack into groups, on their own (never merged with the
  /// records of a neighbouring part).
  std::vector<record> records;
  /// A group collapsed early (`records` is empty).
  bool collapsed = false;
  /// With `collapsed`: the sum of its inputs' sizes.
  size_t input_tokens = 0;
};

/// Drives the collapse of method.md section 4 as a pure state machine: the
/// caller (an actor) makes the LLM calls, this class decides what to call.
///
/// Termination: every round must reduce the total size of the records. When
/// a round does not (the model's outputs do not shrink, or calls failed), or
/// when `max_rounds` rounds ran, `force_fit` makes the records fit and the
/// collapse ends with `fallback() == true`. Since the total is a natural number
/// that strictly decreases from round to round, the number of rounds is
/// bounded by the initial total even without `max_rounds`.
class collapse_planner {
public:
  /// One round's work: every group becomes one collapse call.
  using round = std::vector<std::vector<record>>;

  /// Creates a planner. `filter` (optional) runs on the records before every
  /// round and before the end, e.g. to drop no-information records.
  collapse_planner(collapse_options opts, record_measure measure,
                   record_filter filter = {});

  /// Starts with `records` in document order and returns the groups of the
  /// first round, or an empty round when they already fit.
  round begin(std::vector<record> records);

  /// Starts a collapse whose first round is known to run (the records
  /// exceed the budget) and was partly done ahead of time: returns the
  /// first round with an empty group in the place of each collapsed part
  /// and the groups of the other parts (each packed on its own). The caller
  /// hands the collapsed outputs to `merge_round` at their empty groups. The
  /// round counts the collapsed parts' input sizes, so the "every round must
  /// shrink" rule sees the whole first round. Only the collapsed outputs and
  /// the records still to group are held: an early collapse keeps memory
  /// bounded by the groups in flight, not by the document.
  round begin(std::vector<first_round_part> parts);

  /// Hands in one output per group of the last round, in the same order
  /// (`std::nullopt` for a failed call: the group's inputs stay). Sets each
  /// output's provenance to the union of its group (an empty group, a
  /// collapsed part, keeps its output's own). Returns the next round,
  /// or an empty round when the collapse is done.
  round advance(std::vector<std::optional<record>> outputs);

  /// The first half of `advance`, for callers that filter the records
  /// asynchronously (e.g. by asking a calibrator actor): hands in one output
  /// per group of the last round exactly as `advance` does and returns the
  /// records for the next round, in order, *without* running the filter.
  /// Pass the (filtered) records to `next_round` afterwards.
  std::vector<record> merge_round(std::vector<std::optional<record>> outputs);

  /// The second half of `advance`: takes the records of `merge_round` after
  /// the caller filtered them and returns the next round, or an empty round
  /// when the collapse is done (it fits, or the fallback ran). Does not run
  /// the planner's own filter. `advance(xs)` equals
  /// `next_round(filter(merge_round(xs)))`.
  round next_round(std::vector<record> records);

  /// Lowers the budget (after a server said a collapse prompt was too
  /// long). The next round is planned with it, and the round that failed
  /// does not count as one that did not shrink.
  void set_budget(size_t budget) {
    opts_.budget = budget;
    last_total_.reset();
  }
  /// Returns the budget the rounds are planned with.
  size_t budget() const noexcept { return opts_.budget; }
  /// Returns whether the records fit (no further round).
  bool done() const noexcept { return done_; }

  /// Returns the current records.
  const std::vector<record>& records() const noexcept { return records_; }

  /// Moves the final records out.
  std::vector<record> take_records() { return std::move(records_); }

  /// Returns the number of rounds started.
  uint32_t rounds() const noexcept { return rounds_; }

  /// Returns whether the fallback ran.
  bool fallback() const noexcept { return fallback_; }

  /// Describes what the fallback did (and why); empty without fallback.
  const std::string& note() const noexcept { return note_; }

  /// Returns the records the fallback (or an oversized group) cut or
  /// dropped.
  const std::vector<evidence_loss>& losses() const noexcept { return losses_; }
  /// Returns the total size of the current records.
  size_t total() const;

private:
  round plan_next();

  /// Appends the groups of `records` (of `sizes`) to `out`, cutting an
  /// oversized record to fit.
  void add_groups(round& out, const std::vector<record>& records,
                  const std::vector<size_t>& sizes);

  void finish_with_fallback(std::string why);

  collapse_options opts_;
  record_measure measure_;
  record_filter filter_;
  std::vector<record> records_;
  round current_;
  std::optional<size_t> last_total_;
  uint32_t rounds_ = 0;
  bool done_ = false;
  bool fallback_ = false;
  std::string note_;
  std::vector<evidence_loss> losses_;
};

} // namespace llmmr
