#include "llmmr/core/tiktoken.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <utility>

#include "llmmr/core/bpe_model.hpp"
#include "llmmr/core/read_file.hpp"
#include "llmmr/core/split_regex.hpp"

namespace llmmr {

namespace {

// -- built-in encodings -------------------------------------------------------

// Contractions (case-insensitive), a word with at most one leading
// non-letter, numbers of up to three digits, punctuation runs with an
// optional leading space and trailing line breaks, whitespace ending in a
// line break, whitespace not followed by a non-space, and other whitespace.
constexpr std::string_view cl100k_pattern
  = R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

// Like cl100k, but words are split at lower-to-upper case changes (a run of
// capitals, then lower-case letters, with marks in either), contractions
// stick to the word before them and punctuation runs absorb slashes.
constexpr std::string_view o200k_pattern
  = R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr tiktoken_special cl100k_specials[] = {
  {"<|endoftext|>", 100257},   {"<|fim_prefix|>", 100258},
  {"<|fim_middle|>", 100259},  {"<|fim_suffix|>", 100260},
  {"<|endofprompt|>", 100276},
};

constexpr tiktoken_special o200k_specials[] = {
  {"<|endoftext|>", 199999},
  {"<|endofprompt|>", 200018},
};

constexpr tiktoken_encoding builtin_encodings[] = {
  {"cl100k_base", cl100k_pattern, cl100k_specials},
  {"o200k_base", o200k_pattern, o200k_specials},
};

// -- base64 -------------------------------------------------------------------

constexpr std::array<int8_t, 256> make_base64_table() {
  std::array<int8_t, 256> t{};
  for (auto& x : t)
    x = -1;
  constexpr std::string_view alphabet
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < alphabet.size(); ++i)
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}

constexpr auto base64_table = make_base64_table();

/// Decodes padded standard base64; returns nullopt when `in` is not.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0)
    return std::nullopt;
  size_t pad = 0;
  if (in.back() == '=')
    ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=')
    ++pad;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size() - pad; ++i) {
    auto v = base64_table[static_cast<unsigned char>(in[i])];
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // The bits left over by padding must be zero.
  if ((acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

// -- the tokenizer ------------------------------------------------------------

class tiktoken_tokenizer final : public exact_tokenizer {
public:
  tiktoken_tokenizer(std::string name, split_regex re,
                     std::unique_ptr<bpe_model> model)
    : name_(std::move(name)), re_(std::move(re)), model_(std::move(model)) {
    // nop
  }

  size_t count(std::string_view text) const override {
    size_t n = 0;
    re_.split(text,
              [&](std::string_view piece, bool) { n += model_->count(piece); });
    return n;
  }

  std::vector<uint32_t> encode(std::string_view text) const override {
    std::vector<uint32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    re_.split(
      text, [&](std::string_view piece, bool) { model_->encode(piece, ids); });
    return ids;
  }

  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::string out;
    for (auto id : ids)
      if (auto* tok = model_->token(id))
        out += *tok;
    return out;
  }

  std::string name() const override { return name_; }

private:
  std::string name_;
  split_regex re_;
  std::unique_ptr<bpe_model> model_;
};

} // namespace

const tiktoken_encoding*
find_tiktoken_encoding(std::string_view name) noexcept {
  for (const auto& enc : builtin_encodings)
    if (enc.name == name)
      return &enc;
  return nullptr;
}

tokenizer_result<std::unique_ptr<exact_tokenizer>>
parse_tiktoken(std::string_view contents, std::string_view origin,
               const tiktoken_encoding& encoding) {
  auto fail = [&](size_t line, std::string what) {
    std::string msg{origin};
    if (line > 0)
      msg += ":" + std::to_string(line);
    msg += ": ";
    msg += what;
    return tokenizer_error{std::move(msg)};
  };
  bpe_model::options opts;
  opts.initial = bpe_model::alphabet::bytes;
  opts.ignore_merges = true; // tiktoken takes a piece that is a token as is
  auto model = std::make_unique<bpe_model>(opts);
  std::vector<std::pair<std::string, uint32_t>> ranked;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < contents.size()) {
    auto eol = contents.find('\n', pos);
    if (eol == std::string_view::npos)
      eol = contents.size();
    auto line = contents.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      continue;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || line.find(' ', sp + 1) != line.npos)
      return fail(line_no, "malformed line '" + std::string{line.substr(0, 60)}
                             + "': expected 'base64 rank'");
    auto bytes = base64_decode(line.substr(0, sp));
    if (!bytes)
      return fail(line_no, "malformed line: '"
                             + std::string{line.substr(0, sp).substr(0, 60)}
                             + "' is not base64");
    auto digits = line.substr(sp + 1);
    uint32_t rank = 0;
    auto [end, ec]
      = std::from_chars(digits.data(), digits.data() + digits.size(), rank);
    if (ec != std::errc{} || end != digits.data() + digits.size()
        || rank == ~uint32_t{0})
      return fail(line_no, "malformed line: the rank '"
                             + std::string{digits.substr(0, 20)}
                             + "' is not a number");
    if (!model->add_token(*bytes, rank))
      return fail(line_no, "duplicate token or rank " + std::to_string(rank));
    ranked.emplace_back(std::move(*bytes), rank);
  }
  if (ranked.empty())
    return fail(0, "no ranks in the file");
  // tiktoken merges the adjacent pair whose concatenation has the lowest
  // rank: each way of cutting a token into two tokens is a merge.
  for (const auto& [bytes, rank] : ranked) {
    std::string_view whole{bytes};
    for (size_t k = 1; k < whole.size(); ++k) {
      auto left = model->find(whole.substr(0, k));
      if (!left)
        continue;
      if (auto right = model->find(whole.substr(k)))
        model->add_merge(*left, *right, rank, rank);
    }
  }
  for (const auto& sp : encoding.specials)
    if (!model->add_decode_only(std::string{sp.text}, sp.id))
      return fail(0, "the special token " + std::string{sp.text} + " has id "
                       + std::to_string(sp.id)
                       + ", which the rank file uses already");
  if (auto err = model->finish())
    return fail(0, *err);
  auto re = split_regex::compile(encoding.pattern);
  if (!re)
    return fail(0, re.error().message);
  std::unique_ptr<exact_tokenizer> result
    = std::make_unique<tiktoken_tokenizer>("tiktoken:"
                                             + std::string{encoding.name},
                                           std::move(*re), std::move(model));
  return result;
}

tokenizer_result<std::unique_ptr<exact_tokenizer>>
load_tiktoken(const std::string& path, std::string_view encoding_name) {
  const auto* enc = find_tiktoken_encoding(encoding_name);
  if (enc == nullptr) {
    std::string known;
    for (const auto& e : builtin_encodings)
      known += (known.empty() ? "" : ", ") + std::string{e.name};
    return tokenizer_error{path + ": unknown tiktoken encoding '"
                           + std::string{encoding_name} + "' (known: " + known
                           + ")"};
  }
  auto contents = read_whole_file(path);
  if (!contents)
    return contents.error();
  return parse_tiktoken(*contents, path, *enc);
}

} // namespace llmmr
