#include "llmmr/core/piece_cache.hpp"

#include <bit>

#include "llmmr/core/byte_hash.hpp"

namespace llmmr {

piece_cache::piece_cache(size_t capacity, size_t max_piece_bytes)
  : shard_capacity_(capacity / num_shards + 1),
    max_piece_bytes_(max_piece_bytes) {
  // The tables are allocated on first use, twice the capacity so that they
  // stay at most half full.
}

uint64_t piece_cache::hash_of(std::string_view piece) noexcept {
  auto h = hash_bytes(piece);
  return h != 0 ? h : 1;
}

piece_cache::entry& piece_cache::slot_of(shard& sh, std::string_view piece,
                                         uint64_t hash) const noexcept {
  auto mask = sh.slots.size() - 1;
  // The shard came from bits 7 and up; start the probe from the top bits.
  auto i = static_cast<size_t>(hash >> 32) & mask;
  for (;;) {
    auto& e = sh.slots[i];
    if (e.hash == 0 || (e.hash == hash && e.key == piece))
      return e;
    i = (i + 1) & mask;
  }
}

bool piece_cache::find(std::string_view piece, std::vector<uint32_t>* out,
                       size_t& n) const {
  auto hash = hash_of(piece);
  auto& sh = shard_of(hash);
  std::lock_guard guard{sh.mtx};
  if (sh.slots.empty())
    return false;
  auto& e = slot_of(sh, piece, hash);
  if (e.hash == 0)
    return false;
  n = e.ids.size();
  if (out != nullptr)
    out->insert(out->end(), e.ids.begin(), e.ids.end());
  return true;
}

void piece_cache::insert(std::string_view piece,
                         std::span<const uint32_t> ids) const {
  if (!accepts(piece))
    return;
  auto hash = hash_of(piece);
  auto& sh = shard_of(hash);
  std::lock_guard guard{sh.mtx};
  if (sh.slots.empty())
    sh.slots.resize(std::bit_ceil(2 * shard_capacity_));
  if (sh.used >= shard_capacity_) {
    // Full: start over. The slots keep their buffers for reuse.
    for (auto& e : sh.slots) {
      e.hash = 0;
      e.key.clear();
      e.ids.clear();
    }
    sh.used = 0;
  }
  auto& e = slot_of(sh, piece, hash);
  if (e.hash != 0)
    return; // another thread was faster
  e.hash = hash;
  e.key.assign(piece);
  e.ids.assign(ids.begin(), ids.end());
  ++sh.used;
}

size_t piece_cache::size() const {
  size_t total = 0;
  for (auto& sh : shards_) {
    std::lock_guard guard{sh.mtx};
    total += sh.used;
  }
  return total;
}

} // namespace llmmr
