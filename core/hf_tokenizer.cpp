#include "llmmr/core/hf_tokenizer.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmmr/core/bpe_model.hpp"
#include "llmmr/core/byte_level.hpp"
#include "llmmr/core/read_file.hpp"
#include "llmmr/core/split_regex.hpp"
#include "llmmr/core/unicode_normalization.hpp"

namespace llmmr {

namespace {

using json = nlohmann::json;

/// GPT-2's pattern, which `ByteLevel` applies when `use_regex` is set.
constexpr std::string_view gpt2_pattern
  = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

constexpr std::string_view metaspace_char = "\xE2\x96\x81"; // U+2581 "▁"

// -- components ---------------------------------------------------------------

struct unicode_step {
  normal_form form;
};

struct prepend_step {
  std::string text;
};

struct replace_step {
  std::string from;
  std::string to;
};

using normalizer_step = std::variant<unicode_step, prepend_step, replace_step>;

struct split_stage {
  split_regex re;
  /// Drop the matches ("Removed") instead of keeping them ("Isolated").
  bool remove_matches;
};

struct byte_level_stage {
  bool add_prefix_space;
  std::optional<split_regex> re;
};

enum class prepend_scheme { always, first, never };

struct metaspace_stage {
  std::string replacement;
  prepend_scheme scheme;
  bool split;
};

using pre_stage = std::variant<split_stage, byte_level_stage, metaspace_stage>;

/// Replaces every `from` in `text` by `to`.
void replace_all(std::string& text, std::string_view from,
                 std::string_view to) {
  if (text.find(from) == std::string::npos)
    return;
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  size_t pos = 0;
  for (;;) {
    auto hit = text.find(from, pos);
    if (hit == std::string::npos)
      break;
    out.append(text, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(text, pos);
  text.swap(out);
}

// -- the tokenizer ------------------------------------------------------------

class hf_tokenizer final : public exact_tokenizer {
public:
  hf_tokenizer(std::string name, std::vector<normalizer_step> normalizers,
               std::vector<pre_stage> stages, std::unique_ptr<bpe_model> model,
               bool strip_leading_space)
    : name_(std::move(name)), normalizers_(std::move(normalizers)),
      stages_(std::move(stages)), model_(std::move(model)),
      strip_leading_space_(strip_leading_space) {
    // nop
  }

  size_t count(std::string_view text) const override {
    std::string buf;
    size_t n = 0;
    auto sink = [&](std::string_view piece) { n += model_->count(piece); };
    run(0, normalize(text, buf), true, sink);
    return n;
  }

  std::vector<uint32_t> encode(std::string_view text) const override {
    std::string buf;
    std::vector<uint32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    auto sink = [&](std::string_view piece) { model_->encode(piece, ids); };
    run(0, normalize(text, buf), true, sink);
    return ids;
  }

  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::string out;
    if (model_->opts().initial == bpe_model::alphabet::bytes) {
      for (auto id : ids)
        if (auto* tok = model_->token(id))
          out += *tok;
      return out;
    }
    for (auto id : ids) {
      auto* tok = model_->token(id);
      if (tok == nullptr)
        continue;
      if (model_->opts().byte_fallback && tok->size() == 6
          && tok->starts_with("<0x") && tok->back() == '>') {
        auto hex = [](char c) -> int {
          if (c >= '0' && c <= '9')
            return c - '0';
          if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
          return -1;
        };
        auto hi = hex((*tok)[3]);
        auto lo = hex((*tok)[4]);
        if (hi >= 0 && lo >= 0) {
          out += static_cast<char>(hi * 16 + lo);
          continue;
        }
      }
      out += *tok;
    }
    replace_all(out, metaspace_char, " ");
    if (strip_leading_space_ && !out.empty() && out.front() == ' ')
      out.erase(0, 1);
    return out;
  }

  std::string name() const override { return name_; }

private:
  /// Applies the normalizers; returns `text` itself when they change
  /// nothing, else the normalized text in `buf`.
  std::string_view normalize(std::string_view text, std::string& buf) const {
    bool copied = false;
    for (const auto& step : normalizers_) {
      if (auto* u = std::get_if<unicode_step>(&step)) {
        std::string_view cur = copied ? std::string_view{buf} : text;
        if (is_quickly_normal(cur, u->form))
          continue;
        std::string out;
        out.reserve(cur.size() + cur.size() / 8);
        llmmr::normalize(cur, u->form, out);
        buf.swap(out);
        copied = true;
        continue;
      }
      if (!copied) {
        buf.assign(text);
        copied = true;
      }
      if (auto* p = std::get_if<prepend_step>(&step)) {
        if (!buf.empty())
          buf.insert(0, p->text);
      } else if (auto* r = std::get_if<replace_step>(&step)) {
        replace_all(buf, r->from, r->to);
      }
    }
    return copied ? std::string_view{buf} : text;
  }

  /// Feeds `piece` through the pre-tokenizer stages from `i` on, then into
  /// `sink`. `first` tells whether the piece starts the text.
  template <class Sink>
  void run(size_t i, std::string_view piece, bool first, Sink& sink) const {
    if (piece.empty())
      return;
    if (i == stages_.size()) {
      sink(piece);
      return;
    }
    const auto& stage = stages_[i];
    if (auto* s = std::get_if<split_stage>(&stage)) {
      s->re.split(piece, [&](std::string_view sub, bool is_match) {
        if (!(is_match && s->remove_matches))
          run(i + 1, sub, first && sub.data() == piece.data(), sink);
      });
    } else if (auto* b = std::get_if<byte_level_stage>(&stage)) {
      std::string prefixed;
      if (b->add_prefix_space && piece.front() != ' ') {
        prefixed.reserve(piece.size() + 1);
        prefixed += ' ';
        prefixed += piece;
        piece = prefixed;
      }
      if (b->re) {
        b->re->split(piece, [&](std::string_view sub, bool) {
          run(i + 1, sub, first && sub.data() == piece.data(), sink);
        });
      } else {
        run(i + 1, piece, first, sink);
      }
    } else {
      const auto& m = std::get<metaspace_stage>(stage);
      std::string text{piece};
      replace_all(text, " ", m.replacement);
      bool prepend = m.scheme == prepend_scheme::always
                     || (m.scheme == prepend_scheme::first && first);
      if (prepend && !std::string_view{text}.starts_with(m.replacement))
        text.insert(0, m.replacement);
      std::string_view all{text};
      if (!m.split) {
        run(i + 1, all, first, sink);
        return;
      }
      // Cut before every replacement character ("MergedWithNext").
      const auto& rep = m.replacement;
      size_t begin = 0;
      while (begin < all.size()) {
        auto from
          = all.substr(begin).starts_with(rep) ? begin + rep.size() : begin;
        auto end = std::min(all.find(rep, from), all.size());
        run(i + 1, all.substr(begin, end - begin), first && begin == 0, sink);
        begin = end;
      }
    }
  }

  std::string name_;
  std::vector<normalizer_step> normalizers_;
  std::vector<pre_stage> stages_;
  std::unique_ptr<bpe_model> model_;
  bool strip_leading_space_;
};

// -- parsing ------------------------------------------------------------------

/// Collects what parsing found, and the first error.
class parser {
public:
  explicit parser(std::string_view origin) : origin_(origin) {
    // nop
  }

  tokenizer_error fail(const std::string& what) const {
    return tokenizer_error{origin_ + ": " + what};
  }

  std::optional<tokenizer_error>
  parse_normalizer(const json& j, std::vector<normalizer_step>& out) {
    if (j.is_null())
      return std::nullopt;
    auto type = type_of(j);
    if (type == "Sequence") {
      auto it = j.find("normalizers");
      if (it == j.end() || !it->is_array())
        return fail("normalizer Sequence without a 'normalizers' array");
      for (const auto& sub : *it)
        if (auto err = parse_normalizer(sub, out))
          return err;
      return std::nullopt;
    }
    if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
      auto form = type == "NFC"    ? normal_form::nfc
                  : type == "NFD"  ? normal_form::nfd
                  : type == "NFKC" ? normal_form::nfkc
                                   : normal_form::nfkd;
      out.emplace_back(unicode_step{form});
      return std::nullopt;
    }
    if (type == "Prepend") {
      auto text = string_field(j, "prepend");
      if (!text)
        return fail("normalizer Prepend without a 'prepend' string");
      out.emplace_back(prepend_step{*text});
      has_metaspace_parts_ = true;
      return std::nullopt;
    }
    if (type == "Replace") {
      auto content = string_field(j, "content");
      auto pat = j.find("pattern");
      if (!content || pat == j.end() || !pat->is_object())
        return fail("normalizer Replace without 'pattern' and 'content'");
      if (!pat->contains("String") || !(*pat)["String"].is_string())
        return fail("unsupported normalizer Replace with a regex pattern");
      auto from = (*pat)["String"].get<std::string>();
      if (from.empty())
        return fail("normalizer Replace with an empty pattern");
      out.emplace_back(replace_step{from, *content});
      has_metaspace_parts_ = true;
      return std::nullopt;
    }
    return fail("unsupported normalizer '" + type + "'");
  }

  std::optional<tokenizer_error>
  parse_pre_tokenizer(const json& j, std::vector<pre_stage>& out) {
    if (j.is_null())
      return std::nullopt;
    auto type = type_of(j);
    if (type == "Sequence") {
      auto it = j.find("pretokenizers");
      if (it == j.end() || !it->is_array())
        return fail("pre-tokenizer Sequence without a 'pretokenizers' array");
      for (const auto& sub : *it)
        if (auto err = parse_pre_tokenizer(sub, out))
          return err;
      return std::nullopt;
    }
    if (type == "Split") {
      auto pat = j.find("pattern");
      if (pat == j.end() || !pat->is_object())
        return fail("pre-tokenizer Split without a 'pattern'");
      bool literal = false;
      std::string source;
      if (auto it = pat->find("Regex"); it != pat->end() && it->is_string()) {
        source = it->get<std::string>();
      } else if (auto it = pat->find("String");
                 it != pat->end() && it->is_string()) {
        source = it->get<std::string>();
        literal = true;
      } else {
        return fail("pre-tokenizer Split with a pattern that is neither "
                    "'Regex' nor 'String'");
      }
      auto behavior = string_field(j, "behavior").value_or("Isolated");
      if (behavior != "Isolated" && behavior != "Removed")
        return fail("unsupported pre-tokenizer Split behavior '" + behavior
                    + "'");
      if (auto inv = j.find("invert");
          inv != j.end() && inv->is_boolean() && inv->get<bool>())
        return fail("unsupported pre-tokenizer Split with invert: true");
      auto re = split_regex::compile(source, literal);
      if (!re)
        return fail("pre-tokenizer Split: " + re.error().message);
      out.emplace_back(split_stage{std::move(*re), behavior == "Removed"});
      return std::nullopt;
    }
    if (type == "ByteLevel") {
      byte_level_stage st{bool_field(j, "add_prefix_space", true),
                          std::nullopt};
      if (bool_field(j, "use_regex", true)) {
        auto re = split_regex::compile(gpt2_pattern);
        if (!re)
          return fail("pre-tokenizer ByteLevel: " + re.error().message);
        st.re = std::move(*re);
      }
      out.emplace_back(std::move(st));
      has_byte_level_ = true;
      return std::nullopt;
    }
    if (type == "Metaspace") {
      metaspace_stage st;
      st.replacement
        = string_field(j, "replacement").value_or(std::string{metaspace_char});
      if (st.replacement.empty())
        return fail("pre-tokenizer Metaspace with an empty replacement");
      if (auto scheme = string_field(j, "prepend_scheme")) {
        if (*scheme == "always")
          st.scheme = prepend_scheme::always;
        else if (*scheme == "first")
          st.scheme = prepend_scheme::first;
        else if (*scheme == "never")
          st.scheme = prepend_scheme::never;
        else
          return fail("unsupported Metaspace prepend_scheme '" + *scheme + "'");
      } else {
        st.scheme = bool_field(j, "add_prefix_space", true)
                      ? prepend_scheme::always
                      : prepend_scheme::never;
      }
      st.split = bool_field(j, "split", true);
      if (st.scheme != prepend_scheme::never)
        strip_leading_space_ = true;
      out.emplace_back(std::move(st));
      has_metaspace_parts_ = true;
      return std::nullopt;
    }
    return fail("unsupported pre-tokenizer '" + type + "'");
  }

  std::optional<tokenizer_error> check_decoder(const json& j) {
    if (j.is_null())
      return std::nullopt;
    auto type = type_of(j);
    if (type == "Sequence") {
      auto it = j.find("decoders");
      if (it == j.end() || !it->is_array())
        return fail("decoder Sequence without a 'decoders' array");
      for (const auto& sub : *it)
        if (auto err = check_decoder(sub))
          return err;
      return std::nullopt;
    }
    if (type == "ByteLevel" || type == "ByteFallback" || type == "Fuse"
        || type == "Replace")
      return std::nullopt;
    if (type == "Metaspace") {
      auto scheme = string_field(j, "prepend_scheme");
      if (scheme ? *scheme != "never" : bool_field(j, "add_prefix_space", true))
        strip_leading_space_ = true;
      return std::nullopt;
    }
    if (type == "Strip") {
      if (j.value("start", 0) > 0)
        strip_leading_space_ = true;
      return std::nullopt;
    }
    return fail("unsupported decoder '" + type + "'");
  }

  bool has_byte_level() const noexcept { return has_byte_level_; }

  bool has_metaspace_parts() const noexcept { return has_metaspace_parts_; }

  bool strip_leading_space() const noexcept { return strip_leading_space_; }

  static std::string type_of(const json& j) {
    if (!j.is_object())
      return "<not an object>";
    auto it = j.find("type");
    if (it == j.end() || !it->is_string())
      return "<no type>";
    return it->get<std::string>();
  }

  static std::optional<std::string> string_field(const json& j,
                                                 const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
      return std::nullopt;
    return it->get<std::string>();
  }

  static bool bool_field(const json& j, const char* key, bool fallback) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_boolean())
      return fallback;
    return it->get<bool>();
  }

private:
  std::string origin_;
  bool has_byte_level_ = false;
  bool has_metaspace_parts_ = false;
  bool strip_leading_space_ = false;
};

std::optional<uint32_t> to_id(const json& j) {
  if (!j.is_number_integer() && !j.is_number_unsigned())
    return std::nullopt;
  auto v = j.get<int64_t>();
  if (v < 0 || v >= int64_t{0xFFFFFFFF})
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

tokenizer_result<std::unique_ptr<exact_tokenizer>>
build(const json& root, std::string_view origin) {
  parser p{origin};
  if (!root.is_object())
    return p.fail("not a tokenizer.json: the top level is not an object");
  auto model_it = root.find("model");
  if (model_it == root.end() || !model_it->is_object())
    return p.fail("no 'model' object");
  const auto& model = *model_it;
  auto type = parser::type_of(model);
  if (type == "<no type>" && model.contains("merges"))
    type = "BPE";
  if (type != "BPE")
    return p.fail("unsupported model type '" + type
                  + "' (only BPE is supported)");
  if (auto it = model.find("dropout");
      it != model.end() && !it->is_null()
      && !(it->is_number() && it->get<double>() == 0.0))
    return p.fail("unsupported BPE option dropout (it makes ids random)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (auto v = parser::string_field(model, key); v && !v->empty())
      return p.fail(std::string{"unsupported BPE option "} + key + " '" + *v
                    + "'");
  std::vector<normalizer_step> normalizers;
  if (auto it = root.find("normalizer"); it != root.end())
    if (auto err = p.parse_normalizer(*it, normalizers))
      return *err;
  std::vector<pre_stage> stages;
  if (auto it = root.find("pre_tokenizer"); it != root.end())
    if (auto err = p.parse_pre_tokenizer(*it, stages))
      return *err;
  if (auto it = root.find("decoder"); it != root.end())
    if (auto err = p.check_decoder(*it))
      return *err;
  if (p.has_byte_level() && p.has_metaspace_parts())
    return p.fail("unsupported mix of ByteLevel with Metaspace, Prepend or "
                  "Replace");
  bool byte_level = p.has_byte_level();
  // The vocabulary as spelled in the file.
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object())
    return p.fail("the BPE model has no 'vocab' object");
  std::unordered_map<std::string, uint32_t> spelled;
  spelled.reserve(vocab_it->size());
  for (const auto& [tok, id_json] : vocab_it->items()) {
    auto id = to_id(id_json);
    if (!id)
      return p.fail("the vocab entry '" + tok + "' has no valid id");
    spelled.emplace(tok, *id);
  }
  bpe_model::options opts;
  opts.initial
    = byte_level ? bpe_model::alphabet::bytes : bpe_model::alphabet::characters;
  opts.ignore_merges = parser::bool_field(model, "ignore_merges", false);
  opts.byte_fallback = parser::bool_field(model, "byte_fallback", false);
  opts.fuse_unk = parser::bool_field(model, "fuse_unk", false);
  if (auto unk = parser::string_field(model, "unk_token")) {
    auto it = spelled.find(*unk);
    if (it == spelled.end())
      return p.fail("the unk_token '" + *unk + "' is not in the vocab");
    opts.unk_id = it->second;
  }
  if (byte_level && opts.byte_fallback)
    return p.fail("unsupported byte_fallback with a ByteLevel pre-tokenizer");
  auto bpe = std::make_unique<bpe_model>(opts);
  for (const auto& [tok, id] : spelled) {
    bool added = false;
    if (byte_level) {
      // Tokens outside the byte-level alphabet cannot come out of plain
      // text; they stay known for decoding.
      if (auto bytes = byte_level::decode_token(tok))
        added = bpe->add_token(std::move(*bytes), id);
      else
        added = bpe->add_decode_only(tok, id);
    } else {
      added = bpe->add_token(tok, id);
    }
    if (!added)
      return p.fail("the vocab has two tokens with id " + std::to_string(id));
  }
  // The merges.
  auto merges_it = model.find("merges");
  if (merges_it == model.end() || !merges_it->is_array())
    return p.fail("the BPE model has no 'merges' array");
  uint32_t rank = 0;
  for (const auto& m : *merges_it) {
    std::string left;
    std::string right;
    if (m.is_string()) {
      const auto& s = m.get_ref<const std::string&>();
      auto sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        return p.fail("merge " + std::to_string(rank) + " '" + s
                      + "' is not two tokens separated by a space");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string()
               && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return p.fail("merge " + std::to_string(rank)
                    + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    auto l = spelled.find(left);
    auto r = spelled.find(right);
    auto both = spelled.find(left + right);
    if (l == spelled.end() || r == spelled.end() || both == spelled.end())
      return p.fail("merge " + std::to_string(rank) + " '" + left + " " + right
                    + "' uses a token that is not in the vocab");
    bpe->add_merge(l->second, r->second, rank, both->second);
    ++rank;
  }
  // Added tokens: for decoding only, never matched in plain text.
  if (auto it = root.find("added_tokens"); it != root.end() && it->is_array()) {
    for (const auto& at : *it) {
      auto content = parser::string_field(at, "content");
      auto id
        = at.is_object() && at.contains("id") ? to_id(at["id"]) : std::nullopt;
      if (!content || !id)
        return p.fail("an added token without 'id' and 'content'");
      bpe->add_decode_only(*content, *id); // a vocab token may share the id
    }
  }
  if (auto err = bpe->finish())
    return p.fail(*err);
  bool strip = !byte_level && p.strip_leading_space();
  std::unique_ptr<exact_tokenizer> result = std::make_unique<hf_tokenizer>(
    "hf:" + std::string{origin.substr(origin.rfind('/') + 1)},
    std::move(normalizers), std::move(stages), std::move(bpe), strip);
  return result;
}

} // namespace

tokenizer_result<std::unique_ptr<exact_tokenizer>>
parse_hf_tokenizer(std::string_view text, std::string_view origin) {
  auto root = json::parse(text.begin(), text.end(), nullptr, false);
  if (root.is_discarded())
    return tokenizer_error{std::string{origin} + ": not valid JSON"};
  return build(root, origin);
}

tokenizer_result<std::unique_ptr<exact_tokenizer>>
load_hf_tokenizer(const std::string& path) {
  auto contents = read_whole_file(path);
  if (!contents)
    return contents.error();
  return parse_hf_tokenizer(*contents, path);
}

} // namespace llmmr
