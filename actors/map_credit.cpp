#include "llmmr/actors/map_credit.hpp"

#include <algorithm>

namespace llmmr {

uint64_t with_credit_headroom(size_t capacity) noexcept {
  return uint64_t{capacity}
         + (uint64_t{capacity} * map_credit_headroom_percent + 99) / 100;
}

uint32_t map_credit(size_t capacity, const pipeline_options& opts) noexcept {
  uint64_t cap = uint64_t{opts.mappers} * opts.map_window;
  if (cap == 0)
    return 0;
  if (capacity == 0)
    return static_cast<uint32_t>(std::min<uint64_t>(cap, UINT32_MAX));
  auto credit = with_credit_headroom(capacity);
  return static_cast<uint32_t>(std::max<uint64_t>(1, std::min(credit, cap)));
}

} // namespace llmmr
