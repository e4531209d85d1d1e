#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace llmmr {

/// Counts tokens the way the serving model would (or conservatively more).
class tokenizer {
public:
  virtual ~tokenizer() = default;

  /// Returns the number of tokens in `text`.
  virtual size_t count(std::string_view text) const = 0;

  /// Returns a short name for logs and `llmmr plan`, e.g. "approx".
  virtual std::string name() const = 0;

  /// Returns the tokens the server's chat template adds around one user
  /// message (role markers, the assistant header), which every prompt pays
  /// on top of its own text. Budgets subtract it. The default is 0.
  virtual size_t message_overhead() const { return 0; }

  /// A hint that `text`, a piece of a document, is about to be counted in
  /// parts (its lines, then candidate chunks). A tokenizer that pays per
  /// request may count it in one go and remember its lines. The default does
  /// nothing.
  virtual void prefetch(std::string_view text) const { (void)text; }
};

} // namespace llmmr
