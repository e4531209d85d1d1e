#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmmr {

/// A bounded, thread-safe map from pre-token pieces to their token ids.
///
/// The map is split into shards, each behind its own mutex, so that threads
/// that count different texts rarely wait on each other. A shard that
/// reaches its share of the capacity is emptied and refilled; pieces longer
/// than `max_piece_bytes` are never stored (they are rare, and storing them
/// would let a few long runs evict many short, common pieces).
class piece_cache {
public:
  /// Creates a cache for about `capacity` pieces of up to `max_piece_bytes`
  /// bytes each.
  explicit piece_cache(size_t capacity = 1 << 16, size_t max_piece_bytes = 256);

  piece_cache(const piece_cache&) = delete;
  piece_cache& operator=(const piece_cache&) = delete;

  /// Returns whether `piece` may be stored at all.
  bool accepts(std::string_view piece) const noexcept {
    return piece.size() <= max_piece_bytes_;
  }

  /// Looks `piece` up. On a hit, appends its ids to `out` (when not null),
  /// stores their number in `n` and returns true.
  bool find(std::string_view piece, std::vector<uint32_t>* out,
            size_t& n) const;

  /// Stores the ids of `piece`, when `accepts(piece)`.
  void insert(std::string_view piece, std::span<const uint32_t> ids) const;

  /// Returns the number of pieces stored (for tests).
  size_t size() const;

private:
  static constexpr size_t num_shards = 32;

  /// A slot of a shard's open-addressing table; `hash == 0` marks it free.
  struct entry {
    uint64_t hash = 0;
    std::string key;
    std::vector<uint32_t> ids;
  };

  struct shard {
    std::mutex mtx;
    std::vector<entry> slots;
    size_t used = 0;
  };

  /// Returns the hash of `piece`, never 0.
  static uint64_t hash_of(std::string_view piece) noexcept;

  shard& shard_of(uint64_t hash) const noexcept {
    return shards_[(hash >> 7) % num_shards];
  }

  /// Returns the slot of `piece` in `sh`: its own, or the free one where it
  /// belongs.
  entry& slot_of(shard& sh, std::string_view piece,
                 uint64_t hash) const noexcept;

  size_t shard_capacity_;
  size_t max_piece_bytes_;
  mutable std::array<shard, num_shards> shards_;
};

} // namespace llmmr
