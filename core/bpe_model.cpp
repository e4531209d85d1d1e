#include "llmmr/core/bpe_model.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>

#include "llmmr/core/byte_hash.hpp"
#include "llmmr/core/utf8.hpp"

namespace llmmr {

namespace {

/// Pieces with up to this many initial symbols use the flat algorithm.
constexpr size_t short_piece = 48;

/// A candidate merge in the heap of the long-piece algorithm.
struct candidate {
  uint32_t rank;
  /// Index of the left symbol; symbols keep the order of the text.
  uint32_t pos;
  /// Byte length of both symbols together when the candidate was made: the
  /// candidate is stale when it changed.
  uint32_t len;
};

struct later {
  bool operator()(const candidate& a, const candidate& b) const noexcept {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

struct node {
  uint32_t id;
  uint32_t len;
  int32_t prev;
  int32_t next;
};

/// Per-thread scratch space, reused from piece to piece.
struct scratch {
  std::vector<uint32_t> ids;
  std::vector<uint32_t> lens;
  std::vector<uint32_t> ranks;
  std::vector<node> nodes;
  std::vector<candidate> heap;
};

scratch& this_thread_scratch() {
  thread_local scratch instance;
  return instance;
}

/// A per-thread, direct-mapped memo of piece counts, shared by all models
/// (each entry names its model by `instance_id_`, which is never reused).
struct count_memo {
  static constexpr size_t max_key = 22;
  static constexpr size_t size = 4096;

  struct entry {
    uint64_t model = 0; // 0: empty
    uint64_t hash = 0;
    uint32_t count = 0;
    uint8_t len = 0;
    char key[max_key] = {};
  };

  entry entries[size];

  entry& slot(uint64_t hash) noexcept { return entries[hash & (size - 1)]; }
};

count_memo& this_thread_memo() {
  thread_local auto instance = std::make_unique<count_memo>();
  return *instance;
}

uint64_t next_instance_id() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

std::string byte_token_name(unsigned b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

} // namespace

bpe_model::bpe_model(options opts)
  : instance_id_(next_instance_id()), opts_(opts) {
  pairs_.resize(1024);
  pair_bits_ = 10;
  vocab_slots_.resize(1024);
  vocab_bits_ = 10;
}

bool bpe_model::add_token(std::string token, uint32_t id) {
  if (id == no_id || (id < known_.size() && known_[id]) || find(token))
    return false;
  auto hash = hash_bytes(token);
  if (!add_decode_only(std::move(token), id))
    return false;
  if (2 * (vocab_count_ + 1) > vocab_slots_.size())
    grow_vocab();
  insert_vocab(id, hash);
  return true;
}

void bpe_model::insert_vocab(uint32_t id, uint64_t hash) {
  auto mask = vocab_slots_.size() - 1;
  auto i = static_cast<size_t>(hash >> (64 - vocab_bits_));
  while (vocab_slots_[i].id != no_id)
    i = (i + 1) & mask;
  vocab_slots_[i] = vocab_slot{id, static_cast<uint32_t>(hash)};
  ++vocab_count_;
}

void bpe_model::grow_vocab() {
  std::vector<vocab_slot> old;
  old.swap(vocab_slots_);
  vocab_slots_.resize(old.size() * 2);
  ++vocab_bits_;
  vocab_count_ = 0;
  for (const auto& slot : old)
    if (slot.id != no_id)
      insert_vocab(slot.id, hash_bytes(tokens_[slot.id]));
}

bool bpe_model::add_decode_only(std::string token, uint32_t id) {
  if (id >= tokens_.size()) {
    tokens_.resize(id + 1);
    known_.resize(id + 1, false);
  } else if (known_[id]) {
    return false;
  }
  tokens_[id] = std::move(token);
  known_[id] = true;
  return true;
}

std::optional<uint32_t> bpe_model::find(std::string_view token) const {
  auto hash = hash_bytes(token);
  auto tag = static_cast<uint32_t>(hash);
  auto mask = vocab_slots_.size() - 1;
  auto i = static_cast<size_t>(hash >> (64 - vocab_bits_));
  for (;;) {
    const auto& slot = vocab_slots_[i];
    if (slot.id == no_id)
      return std::nullopt;
    if (slot.tag == tag && tokens_[slot.id] == token)
      return slot.id;
    i = (i + 1) & mask;
  }
}

const bpe_model::pair_slot*
bpe_model::find_pair(uint32_t left, uint32_t right) const noexcept {
  auto key = pair_key(left, right);
  auto mask = pairs_.size() - 1;
  auto i
    = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> (64 - pair_bits_));
  for (;;) {
    const auto& slot = pairs_[i];
    if (slot.key == key)
      return &slot;
    if (slot.key == empty_key)
      return nullptr;
    i = (i + 1) & mask;
  }
}

void bpe_model::insert_pair(uint64_t key, uint32_t rank, uint32_t merged) {
  auto mask = pairs_.size() - 1;
  auto i
    = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> (64 - pair_bits_));
  for (;;) {
    auto& slot = pairs_[i];
    if (slot.key == key) {
      slot.rank = rank;
      slot.merged = merged;
      return;
    }
    if (slot.key == empty_key) {
      slot = pair_slot{key, rank, merged};
      ++pair_count_;
      return;
    }
    i = (i + 1) & mask;
  }
}

void bpe_model::grow_pairs() {
  std::vector<pair_slot> old;
  old.swap(pairs_);
  pairs_.resize(old.size() * 2);
  ++pair_bits_;
  pair_count_ = 0;
  for (const auto& slot : old)
    if (slot.key != empty_key)
      insert_pair(slot.key, slot.rank, slot.merged);
}

void bpe_model::add_merge(uint32_t left, uint32_t right, uint32_t rank,
                          uint32_t merged) {
  // Keep the load factor at or below one half.
  if (2 * (pair_count_ + 1) > pairs_.size())
    grow_pairs();
  insert_pair(pair_key(left, right), rank, merged);
}

std::optional<std::string> bpe_model::finish() {
  if (opts_.initial == alphabet::bytes) {
    for (unsigned b = 0; b < 256; ++b) {
      auto id = find(std::string(1, static_cast<char>(b)));
      if (!id) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "no token for the byte 0x%02X", b);
        return std::string{buf};
      }
      byte_ids_[b] = *id;
      has_byte_[b] = true;
    }
    return std::nullopt;
  }
  if (opts_.byte_fallback) {
    for (unsigned b = 0; b < 256; ++b) {
      if (auto id = find(byte_token_name(b))) {
        byte_ids_[b] = *id;
        has_byte_[b] = true;
      }
    }
  }
  bool all_bytes
    = std::all_of(has_byte_.begin(), has_byte_.end(), [](bool x) { return x; });
  if (!opts_.unk_id && !(opts_.byte_fallback && all_bytes))
    return std::string{opts_.byte_fallback
                         ? "byte_fallback needs the 256 tokens <0x00> to "
                           "<0xFF>, or an unk_token"
                         : "a character-level BPE needs byte_fallback or an "
                           "unk_token"};
  return std::nullopt;
}

void bpe_model::initial_symbols(std::string_view piece,
                                std::vector<uint32_t>& ids,
                                std::vector<uint32_t>& lens) const {
  if (opts_.initial == alphabet::bytes) {
    for (auto c : piece) {
      ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      lens.push_back(1);
    }
    return;
  }
  bool last_unk = false;
  size_t pos = 0;
  while (pos < piece.size()) {
    auto d = utf8::decode(piece, pos);
    auto ch = piece.substr(pos, d.length);
    pos += d.length;
    if (d.state == utf8::status::ok) {
      if (auto id = find(ch)) {
        ids.push_back(*id);
        lens.push_back(static_cast<uint32_t>(ch.size()));
        last_unk = false;
        continue;
      }
    }
    if (opts_.byte_fallback
        && std::all_of(ch.begin(), ch.end(), [this](char c) {
             return has_byte_[static_cast<unsigned char>(c)];
           })) {
      for (auto c : ch) {
        ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        lens.push_back(1);
      }
      last_unk = false;
      continue;
    }
    // finish() made sure that there is an unknown token.
    if (opts_.fuse_unk && last_unk) {
      lens.back() += static_cast<uint32_t>(ch.size());
    } else {
      ids.push_back(*opts_.unk_id);
      lens.push_back(static_cast<uint32_t>(ch.size()));
    }
    last_unk = true;
  }
}

void bpe_model::merge_short(std::vector<uint32_t>& ids) const {
  if (ids.size() < 2)
    return;
  auto& ranks = this_thread_scratch().ranks;
  auto rank_of = [this](uint32_t l, uint32_t r) {
    auto* slot = find_pair(l, r);
    return slot != nullptr ? slot->rank : no_rank;
  };
  ranks.resize(ids.size() - 1);
  for (size_t i = 0; i + 1 < ids.size(); ++i)
    ranks[i] = rank_of(ids[i], ids[i + 1]);
  for (;;) {
    auto best = std::min_element(ranks.begin(), ranks.end());
    if (best == ranks.end() || *best == no_rank)
      return;
    auto i = static_cast<size_t>(best - ranks.begin());
    ids[i] = find_pair(ids[i], ids[i + 1])->merged;
    ids.erase(ids.begin() + static_cast<ptrdiff_t>(i) + 1);
    ranks.erase(ranks.begin() + static_cast<ptrdiff_t>(i));
    if (i > 0)
      ranks[i - 1] = rank_of(ids[i - 1], ids[i]);
    if (i + 1 < ids.size())
      ranks[i] = rank_of(ids[i], ids[i + 1]);
  }
}

void bpe_model::merge_long(std::vector<uint32_t>& ids,
                           std::vector<uint32_t>& lens) const {
  auto& st = this_thread_scratch();
  auto& nodes = st.nodes;
  auto& heap = st.heap;
  auto n = ids.size();
  nodes.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i)
    nodes[i] = node{ids[i], lens[i], static_cast<int32_t>(i) - 1,
                    i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  for (size_t i = 0; i + 1 < n; ++i)
    if (auto* slot = find_pair(ids[i], ids[i + 1]))
      heap.push_back(
        candidate{slot->rank, static_cast<uint32_t>(i), lens[i] + lens[i + 1]});
  std::make_heap(heap.begin(), heap.end(), later{});
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later{});
    auto top = heap.back();
    heap.pop_back();
    auto& left = nodes[top.pos];
    if (left.len == 0 || left.next < 0)
      continue;
    auto& right = nodes[static_cast<size_t>(left.next)];
    if (left.len + right.len != top.len)
      continue; // one of them merged since
    left.id = find_pair(left.id, right.id)->merged;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (left.next >= 0)
      nodes[static_cast<size_t>(left.next)].prev
        = static_cast<int32_t>(top.pos);
    if (left.prev >= 0) {
      auto& prev = nodes[static_cast<size_t>(left.prev)];
      if (auto* slot = find_pair(prev.id, left.id)) {
        heap.push_back(candidate{slot->rank, static_cast<uint32_t>(left.prev),
                                 prev.len + left.len});
        std::push_heap(heap.begin(), heap.end(), later{});
      }
    }
    if (left.next >= 0) {
      auto& next = nodes[static_cast<size_t>(left.next)];
      if (auto* slot = find_pair(left.id, next.id)) {
        heap.push_back(candidate{slot->rank, top.pos, left.len + next.len});
        std::push_heap(heap.begin(), heap.end(), later{});
      }
    }
  }
  ids.clear();
  for (int32_t i = 0; i >= 0; i = nodes[static_cast<size_t>(i)].next)
    ids.push_back(nodes[static_cast<size_t>(i)].id);
}

void bpe_model::compute(std::string_view piece,
                        std::vector<uint32_t>& ids) const {
  auto& lens = this_thread_scratch().lens;
  lens.clear();
  initial_symbols(piece, ids, lens);
  if (ids.size() <= short_piece)
    merge_short(ids);
  else
    merge_long(ids, lens);
}

void bpe_model::encode(std::string_view piece,
                       std::vector<uint32_t>& out) const {
  if (piece.empty())
    return;
  if (opts_.initial == alphabet::bytes && piece.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (opts_.ignore_merges) {
    if (auto id = find(piece)) {
      out.push_back(*id);
      return;
    }
  }
  size_t n = 0;
  if (cache_.accepts(piece) && cache_.find(piece, &out, n))
    return;
  auto& ids = this_thread_scratch().ids;
  ids.clear();
  compute(piece, ids);
  cache_.insert(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

size_t bpe_model::count(std::string_view piece) const {
  if (piece.empty())
    return 0;
  if (opts_.initial == alphabet::bytes && piece.size() == 1)
    return 1;
  count_memo::entry* memo = nullptr;
  uint64_t hash = 0;
  if (piece.size() <= count_memo::max_key) {
    hash = hash_bytes(piece);
    memo = &this_thread_memo().slot(hash);
    if (memo->model == instance_id_ && memo->hash == hash
        && memo->len == piece.size()
        && std::memcmp(memo->key, piece.data(), piece.size()) == 0)
      return memo->count;
  }
  auto n = count_uncached(piece);
  if (memo != nullptr) {
    memo->model = instance_id_;
    memo->hash = hash;
    memo->count = static_cast<uint32_t>(n);
    memo->len = static_cast<uint8_t>(piece.size());
    std::memcpy(memo->key, piece.data(), piece.size());
  }
  return n;
}

size_t bpe_model::count_uncached(std::string_view piece) const {
  if (opts_.ignore_merges && find(piece))
    return 1;
  size_t n = 0;
  if (cache_.accepts(piece) && cache_.find(piece, nullptr, n))
    return n;
  auto& ids = this_thread_scratch().ids;
  ids.clear();
  compute(piece, ids);
  cache_.insert(piece, ids);
  return ids.size();
}

} // namespace llmmr
