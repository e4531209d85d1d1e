#include "llmmr/core/chunker.hpp"

#include <algorithm>
#include <iterator>
#include <optional>

#include "llmmr/core/utf8.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

constexpr size_t npos = std::string_view::npos;

/// Boundary levels, from the most to the least preferred.
constexpr int line_level = 0;
constexpr int sentence_level = 1;
constexpr int word_level = 2;
constexpr int char_level = 3;

/// Outcome of a boundary scan.
struct scan_result {
  /// Position of the boundary, `npos` when none was found.
  size_t pos = npos;
  /// Lowest level of the boundary at `pos`.
  int level = line_level;
  /// Where a later scan over a longer text must restart when `pos == npos`.
  size_t resume = 0;
};

constexpr bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

constexpr bool is_line_break(char c) noexcept {
  return c == '\n' || c == '\r';
}

/// Returns 3 when a CJK sentence terminator (。！？；) starts at `i`, else 0.
size_t cjk_terminator(std::string_view text, size_t i) noexcept {
  if (i + 3 > text.size())
    return 0;
  auto b0 = static_cast<unsigned char>(text[i]);
  auto b1 = static_cast<unsigned char>(text[i + 1]);
  auto b2 = static_cast<unsigned char>(text[i + 2]);
  if (b0 == 0xE3 && b1 == 0x80 && b2 == 0x82) // 。
    return 3;
  if (b0 == 0xEF && b1 == 0xBC && (b2 == 0x81 || b2 == 0x9F || b2 == 0x9B))
    return 3; // ！ ？ ；
  return 0;
}

/// Finds the first boundary of level `max_level` or lower after `from` in
/// `text` (which `from` must be a boundary of, or a previous `resume`):
/// - line: after every LF;
/// - sentence: after a terminator (`. ? ! ;` followed by at least one blank,
///   or `。！？；`) and the blanks after it, unless a line break follows;
/// - word: after a run of blanks, unless a line break follows.
/// The end of `text` itself is never reported. When `at_end` is false, text
/// may follow, so a run of blanks reaching the end is undecided.
scan_result scan(std::string_view text, size_t from, int max_level,
                 bool at_end) noexcept {
  const size_t n = text.size();
  size_t i = from;
  while (i < n) {
    char c = text[i];
    if (c == '\n')
      return {i + 1, line_level, 0};
    if (max_level >= sentence_level) {
      size_t term = 0;
      bool ascii = false;
      if (c == '.' || c == '?' || c == '!' || c == ';') {
        term = 1;
        ascii = true;
      } else if (static_cast<unsigned char>(c) >= 0xE3) {
        term = cjk_terminator(text, i);
      }
      if (term > 0) {
        size_t j = i + term;
        while (j < n && is_blank(text[j]))
          ++j;
        if (j == n)
          return {npos, line_level, at_end ? n : i};
        if (!is_line_break(text[j]) && (!ascii || j > i + term))
          return {j, sentence_level, 0};
        i = j;
        continue;
      }
    }
    if (max_level >= word_level && is_blank(c)) {
      size_t j = i + 1;
      while (j < n && is_blank(text[j]))
        ++j;
      if (j == n)
        return {npos, line_level, at_end ? n : i};
      if (!is_line_break(text[j]))
        return {j, word_level, 0};
      i = j;
      continue;
    }
    ++i;
  }
  return {npos, line_level, n};
}

/// Returns the position of the character boundary after `pos`.
size_t next_boundary(std::string_view text, size_t pos) noexcept {
  auto len = utf8::sequence_length(static_cast<unsigned char>(text[pos]));
  return std::min(text.size(), pos + std::max<size_t>(len, 1));
}

/// The error for a budget too small to hold even one character.
error no_room_error(size_t budget) {
  return make_error(error_kind::budget,
                    "the chunk budget of " + std::to_string(budget)
                      + " tokens cannot hold a single character");
}

} // namespace

chunker::chunker(const tokenizer& tok, chunker_options opts)
  : tok_(&tok), opts_(opts) {
  if (opts_.budget == 0)
    err_ = make_error(error_kind::budget, "the chunk budget is 0 tokens");
  first_check_ = std::max<size_t>(opts_.budget, 64);
  check_at_ = first_check_;
  offset_map_.emplace_back(0, 0);
}

size_t chunker::buffered_bytes() const noexcept {
  size_t result = carry_.size() + pending().size() + current_.text.size();
  for (const auto& c : closed_)
    result += c.text.size();
  return result;
}

bool chunker::fail(error err) {
  err_ = std::move(err);
  return false;
}

expected<std::vector<chunk>> chunker::feed(std::string_view piece) {
  if (err_)
    return err_;
  if (finished_)
    return make_error(error_kind::usage, "chunker: feed() after finish()");
  tok_->prefetch(piece);
  if (!take_input(piece))
    return err_;
  return std::exchange(out_, {});
}

expected<std::vector<chunk>> chunker::finish() {
  if (err_)
    return err_;
  if (finished_)
    return make_error(error_kind::usage, "chunker: finish() called twice");
  finished_ = true;
  if (!carry_.empty()) {
    // The document ends inside a multi-byte sequence.
    auto len = carry_.size();
    carry_.clear();
    if (!reject_or_replace(carry_offset_, len, "truncated UTF-8 sequence"))
      return err_;
  }
  if (bytes_seen_ == 0)
    return make_error(error_kind::empty_document, "the document is empty");
  if (!drain(true))
    return err_;
  close_current();
  rebalance_tail();
  release(0);
  return std::exchange(out_, {});
}

// -- input --------------------------------------------------------------------

bool chunker::take_input(std::string_view piece) {
  const uint64_t base = bytes_seen_;
  bytes_seen_ += piece.size();
  size_t pos = 0;
  if (!carry_.empty()) {
    // Complete the sequence that the previous piece cut off.
    char tmp[8];
    auto k = carry_.size();
    auto extra = std::min<size_t>(piece.size(), 4 - k);
    std::copy(carry_.begin(), carry_.end(), tmp);
    std::copy_n(piece.data(), extra, tmp + k);
    std::string_view joined{tmp, k + extra};
    auto d = utf8::decode(joined, 0);
    if (d.state == utf8::status::incomplete) {
      carry_.append(piece);
      return true;
    }
    carry_.clear();
    // A carried prefix is well-formed, so the sequence ends in this piece.
    pos = d.length - k;
    if (d.state == utf8::status::ok) {
      if (!push_text(joined.substr(0, d.length)))
        return false;
    } else if (!reject_or_replace(carry_offset_, d.length, "invalid UTF-8")) {
      return false;
    }
  }
  while (pos < piece.size()) {
    auto rest = piece.substr(pos);
    auto bad = utf8::find_invalid(rest, true);
    if (bad == npos)
      return push_text(rest);
    if (bad > 0 && !push_text(rest.substr(0, bad)))
      return false;
    pos += bad;
    if (piece[pos] == '\0') {
      if (!reject_or_replace(base + pos, 1, "NUL byte"))
        return false;
      ++pos;
      continue;
    }
    auto d = utf8::decode(piece, pos);
    if (d.state == utf8::status::incomplete) {
      carry_.assign(piece.substr(pos));
      carry_offset_ = base + pos;
      return true;
    }
    if (!reject_or_replace(base + pos, d.length, "invalid UTF-8"))
      return false;
    pos += d.length;
  }
  return true;
}

bool chunker::reject_or_replace(uint64_t offset, size_t bad_len,
                                const char* what) {
  if (!opts_.replace_invalid_utf8) {
    std::string msg = what;
    msg += " at byte offset ";
    msg += std::to_string(offset);
    return fail(make_error(error_kind::invalid_utf8, std::move(msg)));
  }
  ++replacements_;
  // Positions after the replacement character map to positions after the
  // bad bytes; record that before the text can reach a chunk.
  offset_map_.emplace_back(produced_ + utf8::replacement.size(),
                           offset + bad_len);
  return push_text(utf8::replacement);
}

bool chunker::push_text(std::string_view text) {
  produced_ += text.size();
  while (!text.empty()) {
    // Append no more than up to the next size check so that the checks (and
    // therefore the chunks) happen at the same places whatever the pieces.
    auto have = pending().size();
    auto room = check_at_ > have ? check_at_ - have : 1;
    auto take
      = room >= text.size() ? text.size() : utf8::ceil_boundary(text, room);
    buf_.append(text.substr(0, take));
    text.remove_prefix(take);
    if (!drain(false))
      return false;
  }
  return true;
}

// -- segmentation -------------------------------------------------------------

void chunker::consume(size_t n) {
  head_ += n;
  if (head_ == buf_.size()) {
    buf_begin_ += head_;
    buf_.clear();
    head_ = 0;
  } else if (head_ > 4096 && head_ > buf_.size() / 2) {
    buf_.erase(0, head_);
    buf_begin_ += head_;
    head_ = 0;
  }
}

bool chunker::drain(bool at_end) {
  const auto budget = opts_.budget;
  for (;;) {
    auto text = pending();
    auto begin = buf_begin_ + head_;
    // Look no further than the next size check, for the same reason as in
    // push_text.
    auto limit = text.size();
    bool at_check = false;
    if (text.size() >= check_at_) {
      limit = utf8::ceil_boundary(text, check_at_);
      at_check = true;
    }
    auto view = text.substr(0, limit);
    bool view_at_end = at_end && limit == text.size();
    auto found
      = scan(view, scan_pos_, std::min(level_, word_level), view_at_end);
    if (found.pos != npos) {
      if (!emit_segment(begin, view.substr(0, found.pos), found.level))
        return false;
      continue;
    }
    scan_pos_ = found.resume;
    if (view_at_end) {
      if (!view.empty() && !emit_segment(begin, view, line_level))
        return false;
      return true;
    }
    if (!at_check)
      return true;
    // The open segment has grown to check_at_ bytes: does it still fit?
    if (tok_->count(view) <= budget) {
      check_at_ = 2 * limit;
      continue;
    }
    if (level_ < char_level) {
      // Too long: split it at the next finer level from now on.
      ++level_;
      scan_pos_ = 0;
      continue;
    }
    // A word longer than the budget: cut off as much as fits.
    auto rest = view;
    auto lo = fitting_prefix(rest, budget);
    if (lo == 0)
      return fail(no_room_error(budget));
    auto piece = rest.substr(0, lo);
    add_atom(begin, piece, tok_->count(piece));
    consume(lo);
    scan_pos_ = 0;
    check_at_ = first_check_;
  }
}

bool chunker::emit_segment(uint64_t begin, std::string_view seg, int level) {
  auto tokens = tok_->count(seg);
  if (tokens <= opts_.budget)
    add_atom(begin, seg, tokens);
  else if (!atomize(begin, seg, std::min(level_ + 1, char_level)))
    return false;
  consume(seg.size());
  level_ = level;
  scan_pos_ = 0;
  check_at_ = first_check_;
  return true;
}

bool chunker::atomize(uint64_t begin, std::string_view seg, int level) {
  if (level >= char_level)
    return cut_characters(begin, seg);
  size_t start = 0;
  while (start < seg.size()) {
    auto found = scan(seg, start, level, true);
    auto end = found.pos == npos ? seg.size() : found.pos;
    auto sub = seg.substr(start, end - start);
    auto tokens = tok_->count(sub);
    if (tokens <= opts_.budget)
      add_atom(begin + start, sub, tokens);
    else if (!atomize(begin + start, sub, level + 1))
      return false;
    start = end;
  }
  return true;
}

bool chunker::cut_characters(uint64_t begin, std::string_view seg) {
  const auto budget = opts_.budget;
  size_t start = 0;
  while (start < seg.size()) {
    auto rest = seg.substr(start);
    auto tokens = tok_->count(rest);
    if (tokens <= budget) {
      add_atom(begin + start, rest, tokens);
      return true;
    }
    auto lo = fitting_prefix(rest, budget);
    if (lo == 0)
      return fail(no_room_error(budget));
    auto piece = rest.substr(0, lo);
    add_atom(begin + start, piece, tok_->count(piece));
    start += lo;
  }
  return true;
}

// -- packing ------------------------------------------------------------------

void chunker::add_atom(uint64_t begin, std::string_view text, size_t tokens) {
  const auto budget = opts_.budget;
  if (current_.text.empty()) {
    current_.begin = begin;
    current_.text.assign(text);
    current_.tokens = tokens;
    current_exact_ = true;
    current_atoms_.assign(1, text.size());
    return;
  }
  // While the sum of the parts fits, the whole fits (counts are
  // subadditive); past that, count the whole. Each exact count resets the
  // bound, so a chunk needs only a few of them.
  if (current_.tokens + tokens <= budget) {
    current_.text.append(text);
    current_.tokens += tokens;
    current_exact_ = false;
    current_atoms_.push_back(current_.text.size());
    return;
  }
  auto old_size = current_.text.size();
  current_.text.append(text);
  auto exact = tok_->count(current_.text);
  if (exact <= budget) {
    current_.tokens = exact;
    current_exact_ = true;
    current_atoms_.push_back(current_.text.size());
    return;
  }
  current_.text.resize(old_size);
  close_current();
  release(1);
  add_atom(begin, text, tokens);
}

void chunker::close_current() {
  if (current_.text.empty())
    return;
  const auto budget = opts_.budget;
  auto tokens = current_exact_ ? current_.tokens : tok_->count(current_.text);
  // Only a tokenizer whose counts are not subadditive gets here: give back
  // atoms from the end until the chunk fits (a single atom always does).
  std::vector<std::pair<uint64_t, std::string>> spill;
  while (tokens > budget && current_atoms_.size() > 1) {
    current_atoms_.pop_back();
    auto start = current_atoms_.back();
    spill.emplace(spill.begin(), current_.begin + start,
                  current_.text.substr(start));
    current_.text.resize(start);
    tokens = tok_->count(current_.text);
  }
  current_.tokens = tokens;
  closed_.push_back(std::move(current_));
  current_ = pending_chunk{};
  current_atoms_.clear();
  current_exact_ = true;
  for (auto& [begin, text] : spill)
    add_atom(begin, text, tok_->count(text));
}

void chunker::rebalance_tail() {
  if (closed_.size() < 2)
    return;
  const auto budget = opts_.budget;
  auto& first = closed_[closed_.size() - 2];
  auto& last = closed_.back();
  if (last.tokens * 2 >= budget)
    return;
  auto joined = first.text + last.text;
  std::string_view all{joined};
  struct cut_choice {
    size_t pos = 0;
    size_t left = 0;
    size_t right = 0;
    size_t smaller() const noexcept { return std::min(left, right); }
  };
  std::optional<cut_choice> fallback;
  std::optional<cut_choice> chosen;
  std::vector<size_t> cuts;
  for (int level = line_level; level <= char_level && !chosen; ++level) {
    cuts.clear();
    if (level < char_level) {
      size_t pos = 0;
      for (;;) {
        auto found = scan(all, pos, level, true);
        if (found.pos == npos)
          break;
        cuts.push_back(found.pos);
        pos = found.pos;
      }
    } else {
      for (size_t pos = next_boundary(all, 0); pos < all.size();
           pos = next_boundary(all, pos))
        cuts.push_back(pos);
    }
    if (cuts.empty())
      continue;
    // The first cut whose left part counts at least as much as its right
    // part; it or the cut before it is the most even one.
    auto left_of
      = [&](size_t i) { return tok_->count(all.substr(0, cuts[i])); };
    auto right_of = [&](size_t i) { return tok_->count(all.substr(cuts[i])); };
    size_t lo = 0;
    size_t hi = cuts.size();
    while (lo < hi) {
      auto mid = lo + (hi - lo) / 2;
      if (left_of(mid) >= right_of(mid))
        hi = mid;
      else
        lo = mid + 1;
    }
    std::optional<cut_choice> best;
    for (auto i : {lo, lo - 1}) {
      if (i >= cuts.size()) // also catches lo - 1 when lo == 0
        continue;
      cut_choice c{cuts[i], left_of(i), right_of(i)};
      if (c.left > budget || c.right > budget || c.smaller() <= last.tokens)
        continue;
      auto spread = [](const cut_choice& x) {
        return x.left > x.right ? x.left - x.right : x.right - x.left;
      };
      if (!best || spread(c) < spread(*best))
        best = c;
    }
    if (!best)
      continue;
    if (best->smaller() * 2 >= budget)
      chosen = best;
    else if (!fallback || best->smaller() > fallback->smaller())
      fallback = best;
  }
  if (!chosen)
    chosen = fallback;
  if (!chosen)
    return;
  last.begin = first.begin + chosen->pos;
  last.text.assign(all.substr(chosen->pos));
  last.tokens = chosen->right;
  first.text.assign(all.substr(0, chosen->pos));
  first.tokens = chosen->left;
}

void chunker::release(size_t keep) {
  while (closed_.size() > keep) {
    auto& c = closed_.front();
    auto end = c.begin + c.text.size();
    chunk result;
    result.job_id = opts_.job_id;
    result.index = next_index_++;
    result.range
      = byte_range{to_document_offset(c.begin), to_document_offset(end)};
    result.text = std::move(c.text);
    result.tokens = static_cast<uint32_t>(c.tokens);
    out_.push_back(std::move(result));
    closed_.pop_front();
    while (offset_map_.size() > 1 && offset_map_[1].first <= end)
      offset_map_.pop_front();
  }
}

uint64_t chunker::to_document_offset(uint64_t pos) const noexcept {
  // The last entry at or before pos.
  auto i = std::upper_bound(
    offset_map_.begin(), offset_map_.end(), pos,
    [](uint64_t p, const auto& entry) { return p < entry.first; });
  const auto& entry = i == offset_map_.begin() ? *i : *std::prev(i);
  return entry.second + (pos - entry.first);
}

expected<std::vector<chunk>>
chunk_text(std::string_view doc, const tokenizer& tok, chunker_options opts) {
  chunker ch{tok, opts};
  auto first = ch.feed(doc);
  if (!first)
    return first.error();
  auto rest = ch.finish();
  if (!rest)
    return rest.error();
  auto result = std::move(*first);
  std::move(rest->begin(), rest->end(), std::back_inserter(result));
  return result;
}

size_t chunker::fitting_prefix(std::string_view rest, size_t budget) const {
  // Gallop to bracket the answer, then bisect: a prefix's count grows with
  // its length, so the fitting prefixes form one range starting at 0.
  size_t lo = 0;
  size_t hi = rest.size();
  size_t probe = first_check_;
  while (probe < hi) {
    auto p = utf8::ceil_boundary(rest, probe);
    if (p >= hi)
      break;
    if (tok_->count(rest.substr(0, p)) > budget) {
      hi = p;
      break;
    }
    lo = p;
    probe = 2 * p;
  }
  for (;;) {
    auto mid = utf8::floor_boundary(rest, lo + (hi - lo) / 2);
    if (mid <= lo)
      mid = next_boundary(rest, lo);
    if (mid >= hi)
      break;
    if (tok_->count(rest.substr(0, mid)) <= budget)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

} // namespace llmmr
