#include "llmmr/sim/structured_reading.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "llmmr/core/ascii.hpp"

namespace llmmr::sim {

namespace {

using ascii::is_space;

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool is_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_alnum(char c) noexcept {
  return is_digit(c) || is_letter(c);
}

/// A number as written and its value.
struct written_number {
  std::string text;
  double value = 0;
  size_t begin = 0;
  size_t end = 0;
};

/// The numbers of `text` that stand alone (not glued to letters or to other
/// word characters), and the count of words made of letters.
struct scanned_numbers {
  std::vector<written_number> numbers;
  size_t letter_words = 0;
};

scanned_numbers scan(std::string_view text) {
  scanned_numbers out;
  size_t i = 0;
  while (i < text.size()) {
    auto c = text[i];
    if (is_letter(c)) {
      auto j = i;
      while (j < text.size() && (is_alnum(text[j]) || text[j] == '_'))
        ++j;
      ++out.letter_words;
      i = j;
      continue;
    }
    auto negative = c == '-' && i + 1 < text.size() && is_digit(text[i + 1])
                    && (i == 0 || !is_alnum(text[i - 1]));
    if (!is_digit(c) && !negative) {
      ++i;
      continue;
    }
    auto j = negative ? i + 1 : i;
    while (j < text.size() && is_digit(text[j]))
      ++j;
    if (j + 1 < text.size() && text[j] == '.' && is_digit(text[j + 1])) {
      ++j;
      while (j < text.size() && is_digit(text[j]))
        ++j;
    }
    auto glued
      = (i > 0 && (is_alnum(text[i - 1]) || text[i - 1] == '_'))
        || (j < text.size()
            && (is_alnum(text[j]) || text[j] == '_' || text[j] == '-'));
    if (!glued) {
      written_number n;
      n.text = std::string{text.substr(i, j - i)};
      n.value = std::strtod(n.text.c_str(), nullptr);
      n.begin = i;
      n.end = j;
      out.numbers.push_back(std::move(n));
    } else {
      // Skip the rest of the glued word.
      while (j < text.size()
             && (is_alnum(text[j]) || text[j] == '_' || text[j] == '-'))
        ++j;
    }
    i = j;
  }
  return out;
}

std::string format_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", x);
  return buf;
}

bool contains_word(const std::string& low, std::string_view word) {
  for (auto pos = low.find(word); pos != std::string::npos;
       pos = low.find(word, pos + 1)) {
    auto before_ok = pos == 0 || !is_letter(low[pos - 1]);
    auto after = pos + word.size();
    auto after_ok = after >= low.size() || !is_letter(low[after]);
    if (before_ok && after_ok)
      return true;
  }
  return false;
}

/// The number written right after `label` in `text`, or empty.
std::string number_after(std::string_view text, std::string_view label) {
  auto pos = text.find(label);
  if (pos == std::string_view::npos)
    return {};
  auto rest = text.substr(pos + label.size());
  while (!rest.empty() && is_space(rest.front()))
    rest.remove_prefix(1);
  if (rest.starts_with("about "))
    rest.remove_prefix(6);
  size_t n = 0;
  if (n < rest.size() && rest[n] == '-')
    ++n;
  while (n < rest.size() && (is_digit(rest[n]) || rest[n] == '.'))
    ++n;
  while (n > 0 && rest[n - 1] == '.')
    --n;
  auto number = rest.substr(0, n);
  if (number.empty() || number == "-")
    return {};
  return std::string{number};
}

double value_of(const std::string& x) {
  return std::strtod(x.c_str(), nullptr);
}

} // namespace

std::string asked_key(std::string_view question) {
  if (!contains_word(ascii::lower(question), "key"))
    return {};
  auto candidate = [](std::string_view x) {
    return x.size() >= 8
           && std::none_of(x.begin(), x.end(),
                           [](char c) { return is_space(c); })
           && std::any_of(x.begin(), x.end(), is_digit);
  };
  for (auto [open, close] :
       {std::pair<std::string_view, std::string_view>{"\"", "\""},
        {"“", "”"}}) {
    size_t pos = 0;
    while ((pos = question.find(open, pos)) != std::string_view::npos) {
      auto first = pos + open.size();
      auto last = question.find(close, first);
      if (last == std::string_view::npos)
        break;
      auto inner = question.substr(first, last - first);
      if (candidate(inner))
        return std::string{inner};
      pos = last + close.size();
    }
  }
  return {};
}

key_lookup look_up_key(std::string_view text, std::string_view key) {
  key_lookup out;
  auto quoted = "\"" + std::string{key} + "\"";
  for (auto pos = text.find(quoted); pos != std::string_view::npos;
       pos = text.find(quoted, pos + 1)) {
    auto i = pos + quoted.size();
    while (i < text.size() && is_space(text[i]))
      ++i;
    if (i >= text.size() || text[i] != ':') {
      if (i >= text.size())
        out.key_seen = true; // the colon may be in the next part
      continue;
    }
    out.key_seen = true;
    ++i;
    while (i < text.size() && is_space(text[i]))
      ++i;
    if (i >= text.size())
      continue; // the value is cut off
    if (text[i] == '"') {
      auto j = i + 1;
      std::string value;
      bool closed = false;
      while (j < text.size()) {
        if (text[j] == '\\' && j + 1 < text.size()) {
          value += text[j + 1];
          j += 2;
          continue;
        }
        if (text[j] == '"') {
          closed = true;
          break;
        }
        value += text[j++];
      }
      if (!closed)
        continue;
      out.found = true;
      out.value = std::move(value);
      out.pair = std::string{text.substr(pos, j + 1 - pos)};
      return out;
    }
    auto j = i;
    while (j < text.size() && text[j] != ',' && text[j] != '}' && text[j] != ']'
           && !is_space(text[j]))
      ++j;
    // A bare value that reaches the end of the text may be cut off.
    if (j == i || j == text.size())
      continue;
    out.found = true;
    out.value = std::string{text.substr(i, j - i)};
    out.pair = std::string{text.substr(pos, j - pos)};
    return out;
  }
  return out;
}

bool looks_like_pairs(std::string_view text) {
  for (auto pos = text.find("\":"); pos != std::string_view::npos;
       pos = text.find("\":", pos + 1))
    if (pos > 0 && text.rfind('"', pos - 1) != std::string_view::npos)
      return true;
  return false;
}

list_statistic asked_statistic(std::string_view question) {
  auto low = ascii::lower(question);
  auto any = [&](std::initializer_list<std::string_view> words) {
    return std::any_of(words.begin(), words.end(),
                       [&](auto w) { return contains_word(low, w); });
  };
  if (!any({"number", "numbers", "list", "value", "values"}))
    return list_statistic::none;
  if (any({"median"}))
    return list_statistic::median;
  if (any({"largest", "greatest", "biggest", "highest", "maximum"}))
    return list_statistic::largest;
  if (any({"smallest", "lowest", "least", "minimum"}))
    return list_statistic::smallest;
  return list_statistic::none;
}

std::optional<number_summary> summarise_numbers(std::string_view text) {
  auto scanned = scan(text);
  auto& xs = scanned.numbers;
  if (xs.size() < 3 || scanned.letter_words * 4 > xs.size())
    return std::nullopt;
  number_summary out;
  out.count = xs.size();
  auto by_value = [](const written_number& a, const written_number& b) {
    return a.value < b.value;
  };
  out.smallest = std::min_element(xs.begin(), xs.end(), by_value)->text;
  out.largest = std::max_element(xs.begin(), xs.end(), by_value)->text;
  auto sorted = xs;
  std::sort(sorted.begin(), sorted.end(), by_value);
  auto mid = sorted.size() / 2;
  out.median
    = sorted.size() % 2 == 1
        ? sorted[mid].text
        : format_number((sorted[mid - 1].value + sorted[mid].value) / 2);
  // Whole: a `[` before the first number, a `]` after the last, and only
  // numbers, separators and blanks in between.
  auto open = text.find('[');
  auto close = text.rfind(']');
  if (open != std::string_view::npos && close != std::string_view::npos
      && open < xs.front().begin && close >= xs.back().end) {
    auto inside = text.substr(open + 1, close - open - 1);
    out.whole = std::all_of(inside.begin(), inside.end(), [](char c) {
      return is_digit(c) || c == ',' || c == '-' || c == '.' || is_space(c);
    });
  }
  return out;
}

std::string describe(const number_summary& x) {
  std::string out;
  auto count = x.count > 0 ? std::to_string(x.count) + " numbers"
                           : std::string{"numbers"};
  out
    = x.whole ? "The whole list: " + count + ";" : count + " of a longer list;";
  std::string sep = " ";
  if (!x.smallest.empty()) {
    out += sep + "smallest " + x.smallest;
    sep = ", ";
  }
  if (!x.median.empty()) {
    out += sep + (x.whole ? "median " : "median about ") + x.median;
    sep = ", ";
  }
  if (!x.largest.empty())
    out += sep + "largest " + x.largest;
  out += '.';
  return out;
}

std::optional<number_summary> parse_number_summary(std::string_view text) {
  number_summary out;
  out.smallest = number_after(text, "smallest ");
  out.largest = number_after(text, "largest ");
  out.median = number_after(text, "median ");
  if (out.smallest.empty() && out.largest.empty() && out.median.empty())
    return std::nullopt;
  out.whole = text.find("The whole list: ") != std::string_view::npos;
  auto pos = text.find(" numbers");
  if (pos != std::string_view::npos) {
    auto start = pos;
    while (start > 0 && is_digit(text[start - 1]))
      --start;
    if (start < pos)
      out.count = std::strtoull(
        std::string{text.substr(start, pos - start)}.c_str(), nullptr, 10);
  }
  return out;
}

number_summary combine(const std::vector<number_summary>& xs) {
  if (xs.size() == 1)
    return xs.front();
  number_summary out;
  std::vector<std::pair<double, size_t>> medians;
  size_t weighted = 0;
  for (const auto& x : xs) {
    out.count += x.count;
    if (!x.smallest.empty()
        && (out.smallest.empty()
            || value_of(x.smallest) < value_of(out.smallest)))
      out.smallest = x.smallest;
    if (!x.largest.empty()
        && (out.largest.empty() || value_of(x.largest) > value_of(out.largest)))
      out.largest = x.largest;
    if (!x.median.empty() && x.count > 0) {
      medians.emplace_back(value_of(x.median), x.count);
      weighted += x.count;
    }
  }
  std::sort(medians.begin(), medians.end());
  size_t seen = 0;
  for (auto [median, count] : medians) {
    seen += count;
    if (seen * 2 >= weighted) {
      out.median = format_number(median);
      break;
    }
  }
  return out;
}

std::string statistic_of(const number_summary& x, list_statistic stat) {
  switch (stat) {
  case list_statistic::largest:
    return x.largest;
  case list_statistic::smallest:
    return x.smallest;
  case list_statistic::median:
    return x.median;
  case list_statistic::none:
    break;
  }
  return {};
}

std::string first_number(std::string_view text) {
  auto scanned = scan(text);
  return scanned.numbers.empty() ? std::string{} : scanned.numbers.front().text;
}

} // namespace llmmr::sim
