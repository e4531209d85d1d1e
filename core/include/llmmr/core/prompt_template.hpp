#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/messages/expected.hpp"

namespace llmmr {

/// A prompt with named placeholders such as `{question}`, `{chunk}`,
/// `{records}` and `{rubric}`. A placeholder name consists of ASCII letters,
/// digits and underscores and starts with a letter or underscore. `{{` stands
/// for a literal `{` and `}}` for a literal `}`; a lone `}` is literal too.
class prompt_template {
public:
  /// One piece of a parsed template: literal text or a placeholder name.
  struct segment {
    /// The literal text, or the placeholder's name.
    std::string text;
    /// True when `text` names a placeholder.
    bool placeholder = false;
  };

  /// Creates an empty template named `<empty>`.
  prompt_template() = default;

  /// Parses `text`; the error (`error_kind::config`) names the template and the
  /// line and column of the bad spot.
  static expected<prompt_template> parse(std::string name, std::string text);

  /// Substitutes every placeholder with its value from `vars`. Values are
  /// inserted verbatim (never expanded again); variables the template does not
  /// use are ignored. A missing variable is an error naming it and the
  /// template.
  expected<std::string>
  render(const std::map<std::string, std::string, std::less<>>& vars) const;

  /// Returns the distinct placeholder names in order of first use.
  const std::vector<std::string>& placeholders() const noexcept {
    return placeholders_;
  }

  /// Returns how often the placeholder `name` occurs.
  size_t occurrences(std::string_view name) const noexcept;

  /// Returns the template's name (its file, for error messages).
  const std::string& name() const noexcept { return name_; }

  /// Returns the template's source text.
  const std::string& text() const noexcept { return text_; }

  /// Returns the parsed segments in order.
  const std::vector<segment>& segments() const noexcept { return segments_; }

private:
  std::string name_ = "<empty>";
  std::string text_;
  std::vector<segment> segments_;
  std::vector<std::string> placeholders_;
};

} // namespace llmmr
