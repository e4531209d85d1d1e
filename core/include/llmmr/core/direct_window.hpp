#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/tokenizer.hpp"
#include "llmmr/messages/byte_range.hpp"
#include "llmmr/messages/chunk.hpp"
#include "llmmr/messages/direct_text.hpp"
#include "llmmr/messages/job_spec.hpp"

namespace llmmr {

/// What goes between the head and the tail of a document that `direct` cut:
/// a line that tells the model text is missing there. Its tokens are part of
/// the direct template's cost (`compute_budget`).
inline constexpr std::string_view direct_cut_marker = "\n[...]\n";

/// Keeps the first and the last tokens of a document that arrives in chunks
/// (in document order) and cuts the middle, as InfiniteBench's baselines did
/// (the first half and the last half of the budget). Memory is bounded by
/// the budget plus one chunk on each side: chunks that can no longer be part
/// of the tail are dropped as they come.
///
/// Token counts are those of the chunks (`chunk::tokens`), and the head and
/// tail are cut inside their boundary chunk with `prefix_within` /
/// `suffix_within`, i.e. with the job's tokenizer.
class head_tail_window {
public:
  /// Keeps up to `budget` tokens: `budget / 2` from the start and the rest
  /// from the end. `tok` must outlive the window.
  head_tail_window(const tokenizer& tok, size_t budget);

  /// Adds the next chunk of the document.
  void add(chunk c);

  /// Returns the text for a call with a payload budget of `budget` tokens (at
  /// most the constructor's; a smaller one after the server rejected a
  /// prompt as too long).
  direct_text take(size_t budget) const;

  /// Returns the tokens seen so far.
  uint64_t tokens_seen() const noexcept { return total_; }

  /// Returns the bytes the window holds (for tests of the memory bound).
  size_t bytes_held() const noexcept;

private:
  const tokenizer* tok_;
  size_t budget_;
  size_t head_budget_;
  size_t tail_budget_;
  std::vector<chunk> head_;
  uint64_t head_tokens_ = 0;
  std::deque<chunk> tail_;
  uint64_t tail_tokens_ = 0;
  uint64_t total_ = 0;
  bool dropped_ = false;
};

/// Renders the direct prompt of `spec.profile` over `document`.
expected<std::string> render_direct_prompt(const prompt_library& prompts,
                                           const job_spec& spec,
                                           std::string_view document);

} // namespace llmmr
