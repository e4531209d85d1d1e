#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmmr/messages/error.hpp"
#include "llmmr/messages/expected.hpp"

#include "llmmr/core/tokenizer.hpp"
#include "llmmr/messages/chunk.hpp"

namespace llmmr {

/// Configures a `chunker`.
struct chunker_options {
  /// Payload tokens per chunk (B_chunk); 0 is an error.
  size_t budget = 0;
  /// Copied into every chunk.
  uint64_t job_id = 0;
  /// Replace ill-formed UTF-8 sequences and NUL bytes with U+FFFD instead of
  /// failing. A chunk's `range` still indexes the original document while its
  /// `text` holds the repaired text, so the two may differ in length.
  bool replace_invalid_utf8 = false;
};

/// Splits a document into chunks that fit a token budget, as described in
/// `docs/chunking.md`: greedy packing of whole lines, then sentences, words
/// and characters, in document order, without overlap, with the last two
/// chunks rebalanced when the last one is small.
///
/// The chunker is incremental: `feed` takes the document in pieces of any
/// size (they may split lines and even UTF-8 sequences) and returns the
/// chunks that are final so far; `finish` returns the rest. The chunks do not
/// depend on how the document was cut into pieces. Memory stays bounded by a
/// small multiple of a budget's worth of text whatever the document looks
/// like.
///
/// After an error, every later call returns that error again.
class chunker {
public:
  /// Creates a chunker that counts with `tok`, which must outlive it.
  chunker(const tokenizer& tok, chunker_options opts);

  /// Consumes the next piece of the document.
  /// @returns the chunks that became final, possibly none.
  expected<std::vector<chunk>> feed(std::string_view piece);

  /// Marks the end of the document.
  /// @returns the remaining chunks.
  expected<std::vector<chunk>> finish();

  /// Returns the number of document bytes held but not yet emitted.
  size_t buffered_bytes() const noexcept;

  /// Returns the number of document bytes fed so far.
  uint64_t bytes_seen() const noexcept { return bytes_seen_; }

  /// Returns the number of ill-formed sequences (and NUL bytes) replaced so
  /// far; always 0 unless `replace_invalid_utf8` is set.
  size_t replacements() const noexcept { return replacements_; }

  /// Returns the options this chunker was created with.
  const chunker_options& options() const noexcept { return opts_; }

private:
  /// A closed chunk that may still change through tail rebalancing. Offsets
  /// are positions in the repaired text.
  struct pending_chunk {
    uint64_t begin = 0;
    std::string text;
    size_t tokens = 0;
  };

  // -- input: UTF-8 validation and repair -------------------------------------

  bool take_input(std::string_view piece);
  bool reject_or_replace(uint64_t offset, size_t bad_len, const char* what);
  bool push_text(std::string_view text);

  // -- segmentation into atoms ------------------------------------------------

  bool drain(bool at_end);
  bool emit_segment(uint64_t begin, std::string_view seg, int level);
  bool atomize(uint64_t begin, std::string_view seg, int level);
  bool cut_characters(uint64_t begin, std::string_view seg);
  /// Returns the length of the longest prefix of `rest` that ends on a
  /// character boundary and counts at most `budget` tokens (0 when not even
  /// one character fits).
  size_t fitting_prefix(std::string_view rest, size_t budget) const;
  void consume(size_t n);
  std::string_view pending() const noexcept {
    return std::string_view{buf_}.substr(head_);
  }

  // -- packing atoms into chunks ----------------------------------------------

  void add_atom(uint64_t begin, std::string_view text, size_t tokens);
  void close_current();
  void rebalance_tail();
  void release(size_t keep);
  uint64_t to_document_offset(uint64_t pos) const noexcept;

  bool fail(error err);

  const tokenizer* tok_;
  chunker_options opts_;
  error err_;
  bool finished_ = false;

  // Input state.
  uint64_t bytes_seen_ = 0;
  std::string carry_; // an incomplete sequence at the end of a piece
  uint64_t carry_offset_ = 0;
  uint64_t produced_ = 0; // bytes of repaired text produced so far
  size_t replacements_ = 0;
  /// Pairs (repaired position, document position) after each replacement;
  /// the front is a valid base for every position still held.
  std::deque<std::pair<uint64_t, uint64_t>> offset_map_;

  // Segmenter state: `buf_[head_..]` is the open segment.
  std::string buf_;
  size_t head_ = 0;
  uint64_t buf_begin_ = 0; // repaired position of buf_[0]
  int level_ = 0;          // 0 line, 1 sentence, 2 word, 3 characters
  size_t scan_pos_ = 0;    // where the boundary scan resumes in pending()
  size_t check_at_ = 0;    // size of pending() at which to count it
  size_t first_check_ = 0;

  // Packer state.
  pending_chunk current_;
  std::vector<size_t> current_atoms_; // end offset of each atom in current_
  bool current_exact_ = true;         // current_.tokens is exact, not a bound
  std::deque<pending_chunk> closed_;
  std::vector<chunk> out_;
  uint32_t next_index_ = 0;
};

/// Chunks a whole document in one go (same result as `feed(doc)` followed by
/// `finish()` on a fresh chunker).
expected<std::vector<chunk>>
chunk_text(std::string_view doc, const tokenizer& tok, chunker_options opts);

} // namespace llmmr
