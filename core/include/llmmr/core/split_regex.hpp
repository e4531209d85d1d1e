#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "llmmr/core/tokenizer_error.hpp"
#include "llmmr/core/utf8.hpp"

namespace llmmr {

/// A compiled pre-tokenizer pattern: PCRE2 (8-bit code units) with UTF and
/// Unicode properties (`\p{L}`, and `\s`, `\w`, `\d` in their Unicode
/// meaning), JIT-compiled when the platform allows. Matching is thread-safe;
/// each thread keeps its own match data.
class split_regex {
public:
  /// Compiles `pattern`. With `literal`, the pattern is a plain string to
  /// search for instead of a regular expression.
  static tokenizer_result<split_regex> compile(std::string_view pattern,
                                               bool literal = false);

  split_regex(split_regex&&) noexcept;
  split_regex& operator=(split_regex&&) noexcept;
  ~split_regex();

  /// Finds the first match in the well-formed UTF-8 `subject` that starts
  /// at or after `from`, and stores its bounds in `begin` and `end`. Returns
  /// false when there is none (or when PCRE2 gives up on a pathological
  /// input, in which case the rest of `subject` stays unmatched). Empty
  /// matches are never reported.
  bool find(std::string_view subject, size_t from, size_t& begin,
            size_t& end) const;

  /// Cuts `text` into the matches of the pattern and the runs between them
  /// (Hugging Face's "Isolated" behaviour) and calls `on_piece(piece,
  /// is_match)` for each, in order. Runs of ill-formed UTF-8 are never
  /// matched: each maximal one becomes a piece of its own and the pattern
  /// runs on the well-formed text between them.
  template <class F>
  void split(std::string_view text, F&& on_piece) const {
    size_t pos = 0;
    while (pos < text.size()) {
      auto rest = text.substr(pos);
      auto bad = utf8::find_invalid(rest, false);
      auto valid
        = rest.substr(0, bad == std::string_view::npos ? rest.size() : bad);
      split_valid(valid, on_piece);
      if (bad == std::string_view::npos)
        return;
      // Gather the maximal run of ill-formed bytes.
      auto stop = bad;
      while (stop < rest.size()) {
        auto d = utf8::decode(rest, stop);
        if (d.state == utf8::status::ok)
          break;
        stop += d.length;
      }
      on_piece(rest.substr(bad, stop - bad), false);
      pos += stop;
    }
  }

  /// Returns the pattern as given to `compile`.
  const std::string& pattern() const noexcept;

private:
  struct state;

  explicit split_regex(std::unique_ptr<state> st);

  template <class F>
  void split_valid(std::string_view valid, F& on_piece) const {
    size_t pos = 0;
    size_t begin = 0;
    size_t end = 0;
    while (pos < valid.size() && find(valid, pos, begin, end)) {
      if (begin > pos)
        on_piece(valid.substr(pos, begin - pos), false);
      on_piece(valid.substr(begin, end - begin), true);
      pos = end;
    }
    if (pos < valid.size())
      on_piece(valid.substr(pos), false);
  }

  std::unique_ptr<state> state_;
};

} // namespace llmmr
