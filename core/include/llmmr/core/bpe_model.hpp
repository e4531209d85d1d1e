#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmmr/core/piece_cache.hpp"

namespace llmmr {

/// A BPE vocabulary with ranked merges: turns one pre-token piece into ids.
///
/// A piece is first cut into initial symbols, then the adjacent pair with
/// the lowest merge rank is merged (the leftmost one among equals) until no
/// pair has a merge. Short pieces use a flat array of pair ranks; longer
/// ones a linked list of symbols and a min-heap of candidate merges, so that
/// a piece of n symbols costs O(n log n) and not O(n^2).
///
/// The results of pieces are kept in a `piece_cache`; in front of it, each
/// thread remembers the counts of the short pieces it saw last in a small
/// direct-mapped table that needs no lock. Building is not
/// thread-safe; after `finish`, `encode` and `count` may be called from
/// several threads at once.
class bpe_model {
public:
  /// What the initial symbols of a piece are.
  enum class alphabet : uint8_t {
    /// Single bytes (byte-level BPE: GPT-2, Llama 3, Qwen, tiktoken). Every
    /// byte must be a token.
    bytes,
    /// UTF-8 characters (SentencePiece-style BPE: Llama 2, Mistral). A
    /// character that is not a token becomes its `<0xNN>` byte tokens with
    /// `byte_fallback`, or the unknown token otherwise.
    characters,
  };

  /// How pieces are encoded.
  struct options {
    /// The initial symbols.
    alphabet initial = alphabet::bytes;
    /// A piece that is a token as a whole becomes that token, whatever the
    /// merges say (tiktoken; `ignore_merges` in `tokenizer.json`).
    bool ignore_merges = false;
    /// With `alphabet::characters`: unknown characters become `<0xNN>`
    /// tokens.
    bool byte_fallback = false;
    /// With `alphabet::characters`: consecutive unknown characters become a
    /// single unknown token.
    bool fuse_unk = false;
    /// With `alphabet::characters`: the unknown token.
    std::optional<uint32_t> unk_id;
  };

  /// Creates an empty model.
  explicit bpe_model(options opts);

  bpe_model(const bpe_model&) = delete;
  bpe_model& operator=(const bpe_model&) = delete;

  /// Adds a token that encoding may produce: its bytes (`alphabet::bytes`)
  /// or spelling (`alphabet::characters`, e.g. `"▁the"`). Returns false
  /// when `token` or `id` is taken already.
  bool add_token(std::string token, uint32_t id);

  /// Adds a token that only `decode` knows (special and added tokens).
  /// Returns false when `id` is taken already.
  bool add_decode_only(std::string token, uint32_t id);

  /// Adds the merge of `left` and `right` into `merged` with priority `rank`
  /// (lower merges first). A later merge of the same pair replaces an
  /// earlier one.
  void add_merge(uint32_t left, uint32_t right, uint32_t rank, uint32_t merged);

  /// Returns the id of the token `token`, when encoding may produce it.
  std::optional<uint32_t> find(std::string_view token) const;

  /// Completes construction. Returns an error message when the model cannot
  /// encode every input (a byte without a token, or neither byte fallback
  /// nor an unknown token).
  std::optional<std::string> finish();

  /// Appends the ids of `piece` to `out`.
  void encode(std::string_view piece, std::vector<uint32_t>& out) const;

  /// Returns the number of ids of `piece`.
  size_t count(std::string_view piece) const;

  /// Returns the bytes or spelling of token `id`, or null when there is no
  /// such token.
  const std::string* token(uint32_t id) const noexcept {
    if (id >= tokens_.size() || !known_[id])
      return nullptr;
    return &tokens_[id];
  }

  /// Returns the options.
  const options& opts() const noexcept { return opts_; }

  /// Returns the number of tokens that encoding may produce.
  size_t vocab_size() const noexcept { return vocab_count_; }

  /// Returns the number of merges.
  size_t merge_count() const noexcept { return pair_count_; }

private:
  /// A slot of the open-addressing table of tokens: the id, and 32 bits of
  /// the hash to skip most comparisons.
  struct vocab_slot {
    uint32_t id = no_id;
    uint32_t tag = 0;
  };

  static constexpr uint32_t no_id = ~uint32_t{0};

  /// A slot of the open-addressing table of merges.
  struct pair_slot {
    uint64_t key = empty_key;
    uint32_t rank = 0;
    uint32_t merged = 0;
  };

  static constexpr uint64_t empty_key = ~uint64_t{0};
  static constexpr uint32_t no_rank = ~uint32_t{0};

  static uint64_t pair_key(uint32_t left, uint32_t right) noexcept {
    return (uint64_t{left} << 32) | right;
  }

  /// Returns the merge of `left` and `right`, or null.
  const pair_slot* find_pair(uint32_t left, uint32_t right) const noexcept;

  void insert_pair(uint64_t key, uint32_t rank, uint32_t merged);

  void grow_pairs();

  void insert_vocab(uint32_t id, uint64_t hash);

  void grow_vocab();

  /// Appends the initial symbols of `piece`: ids and byte lengths.
  void initial_symbols(std::string_view piece, std::vector<uint32_t>& ids,
                       std::vector<uint32_t>& lens) const;

  /// Runs the merges over `ids` (with byte lengths `lens`) in place.
  void merge_short(std::vector<uint32_t>& ids) const;
  void merge_long(std::vector<uint32_t>& ids,
                  std::vector<uint32_t>& lens) const;

  /// Counts `piece` without the per-thread memo.
  size_t count_uncached(std::string_view piece) const;

  /// Encodes `piece` without the cache, into `ids`.
  void compute(std::string_view piece, std::vector<uint32_t>& ids) const;

  /// Tells this model's entries apart in the per-thread count memo.
  uint64_t instance_id_;
  options opts_;
  std::vector<vocab_slot> vocab_slots_;
  unsigned vocab_bits_ = 0;
  size_t vocab_count_ = 0;
  std::vector<std::string> tokens_;
  std::vector<bool> known_;
  std::vector<pair_slot> pairs_;
  size_t pair_count_ = 0;
  unsigned pair_bits_ = 0;
  std::array<uint32_t, 256> byte_ids_{};
  std::array<bool, 256> has_byte_{};
  piece_cache cache_;
};

} // namespace llmmr
