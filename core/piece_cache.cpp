#include "llmmr/core/piece_cache.hpp"

namespace llmmr {

piece_cache::piece_cache(size_t capacity, size_t max_piece_bytes)
  : shard_capacity_(capacity / num_shards + 1),
    max_piece_bytes_(max_piece_bytes) {
  // nop
}

piece_cache::shard&
piece_cache::shard_of(std::string_view piece) const noexcept {
  // The map inside the shard picks buckets by the low bits (modulo a
  // prime); the shard comes from the high bits.
  auto h = std::hash<std::string_view>{}(piece);
  h ^= h >> 32;
  h *= 0x9E3779B97F4A7C15ull;
  return shards_[(h >> 40) % num_shards];
}

bool piece_cache::find(std::string_view piece, std::vector<uint32_t>* out,
                       size_t& n) const {
  auto& sh = shard_of(piece);
  std::lock_guard guard{sh.mtx};
  auto i = sh.map.find(piece);
  if (i == sh.map.end())
    return false;
  n = i->second.size();
  if (out != nullptr)
    out->insert(out->end(), i->second.begin(), i->second.end());
  return true;
}

void piece_cache::insert(std::string_view piece,
                         std::span<const uint32_t> ids) const {
  if (!accepts(piece))
    return;
  auto& sh = shard_of(piece);
  std::lock_guard guard{sh.mtx};
  if (sh.map.size() >= shard_capacity_)
    sh.map.clear();
  sh.map.try_emplace(std::string{piece}, ids.begin(), ids.end());
}

size_t piece_cache::size() const {
  size_t total = 0;
  for (auto& sh : shards_) {
    std::lock_guard guard{sh.mtx};
    total += sh.map.size();
  }
  return total;
}

} // namespace llmmr
