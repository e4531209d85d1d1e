#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace llmmr {

/// A fast 64-bit hash of a byte string for in-memory tables (not
/// cryptographic, not stable across versions). Reads eight bytes at a time
/// and mixes with multiplications and shifts; every bit of the result
/// depends on every input bit.
inline uint64_t hash_bytes(std::string_view bytes) noexcept {
  constexpr uint64_t k1 = 0x9E3779B97F4A7C15ull;
  constexpr uint64_t k2 = 0xC2B2AE3D27D4EB4Full;
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t h = k2 ^ (static_cast<uint64_t>(n) * k1);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * k1;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    h = (h ^ v) * k2;
    h ^= h >> 32;
  }
  h *= k1;
  h ^= h >> 31;
  h *= k2;
  h ^= h >> 29;
  return h;
}

} // namespace llmmr
