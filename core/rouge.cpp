// ROUGE-L and ROUGE-Lsum over rouge_score's default tokens; see rouge.hpp.

#include "llmmr/core/rouge.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "llmmr/core/utf8.hpp"

namespace llmmr {

namespace {

/// The LCS table of `a` (rows) and `b` (columns), row-major with
/// `(a.size() + 1) * (b.size() + 1)` cells.
std::vector<uint32_t> lcs_table(const std::vector<std::string>& a,
                                const std::vector<std::string>& b) {
  auto cols = b.size() + 1;
  std::vector<uint32_t> t((a.size() + 1) * cols, 0);
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      t[i * cols + j] = a[i - 1] == b[j - 1] ? t[(i - 1) * cols + j - 1] + 1
                                             : std::max(t[(i - 1) * cols + j],
                                                        t[i * cols + j - 1]);
  return t;
}

double harmonic_mean(double precision, double recall) {
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall)
                                : 0;
}

std::vector<std::vector<std::string>> sentence_tokens(std::string_view text) {
  std::vector<std::vector<std::string>> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    auto end = text.find('\n', begin);
    if (end == std::string_view::npos)
      end = text.size();
    if (end > begin)
      out.push_back(rouge_tokens(text.substr(begin, end - begin)));
    begin = end + 1;
  }
  return out;
}

} // namespace

std::vector<std::string> rouge_tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string token;
  auto flush = [&] {
    if (!token.empty())
      out.push_back(std::move(token));
    token.clear();
  };
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        token += static_cast<char>(c);
      else if (c >= 'A' && c <= 'Z')
        token += static_cast<char>(c - 'A' + 'a');
      else
        flush();
      ++i;
      continue;
    }
    auto d = utf8::decode(text, i);
    i += d.length == 0 ? 1 : d.length;
    if (d.state == utf8::status::ok && d.code_point == 0x130) {
      // Python lowers it to "i" and a combining dot; the dot separates.
      token += 'i';
      flush();
    } else if (d.state == utf8::status::ok && d.code_point == 0x212A) {
      token += 'k';
    } else {
      flush();
    }
  }
  flush();
  return out;
}

size_t lcs_length(const std::vector<std::string>& a,
                  const std::vector<std::string>& b) {
  if (a.empty() || b.empty())
    return 0;
  // Two rows suffice for the length alone.
  std::vector<uint32_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1
                                    : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<size_t> lcs_positions(const std::vector<std::string>& ref,
                                  const std::vector<std::string>& can) {
  std::vector<size_t> out;
  if (ref.empty() || can.empty())
    return out;
  auto t = lcs_table(ref, can);
  auto cols = can.size() + 1;
  size_t i = ref.size();
  size_t j = can.size();
  while (i > 0 && j > 0) {
    if (ref[i - 1] == can[j - 1]) {
      out.push_back(i - 1);
      --i;
      --j;
    } else if (t[i * cols + j - 1] > t[(i - 1) * cols + j]) {
      --j;
    } else {
      --i;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

rouge_result rouge_l(std::string_view target, std::string_view prediction) {
  auto ref = rouge_tokens(target);
  auto can = rouge_tokens(prediction);
  if (ref.empty() || can.empty())
    return {};
  auto lcs = static_cast<double>(lcs_length(ref, can));
  rouge_result r;
  r.precision = lcs / static_cast<double>(can.size());
  r.recall = lcs / static_cast<double>(ref.size());
  r.fmeasure = harmonic_mean(r.precision, r.recall);
  return r;
}

rouge_result rouge_lsum(std::string_view target, std::string_view prediction) {
  auto refs = sentence_tokens(target);
  auto cans = sentence_tokens(prediction);
  size_t m = 0, n = 0;
  std::map<std::string, size_t> unspent_ref, unspent_can;
  for (auto& s : refs) {
    m += s.size();
    for (auto& tok : s)
      ++unspent_ref[tok];
  }
  for (auto& s : cans) {
    n += s.size();
    for (auto& tok : s)
      ++unspent_can[tok];
  }
  if (m == 0 || n == 0)
    return {};
  size_t hits = 0;
  for (auto& r : refs) {
    std::set<size_t> in_union;
    for (auto& c : cans)
      for (auto pos : lcs_positions(r, c))
        in_union.insert(pos);
    for (auto pos : in_union) {
      auto& tok = r[pos];
      auto& in_can = unspent_can[tok];
      auto& in_ref = unspent_ref[tok];
      if (in_can > 0 && in_ref > 0) {
        ++hits;
        --in_can;
        --in_ref;
      }
    }
  }
  rouge_result out;
  out.precision = static_cast<double>(hits) / static_cast<double>(n);
  out.recall = static_cast<double>(hits) / static_cast<double>(m);
  out.fmeasure = harmonic_mean(out.precision, out.recall);
  return out;
}

} // namespace llmmr
