#pragma once

#include <cstddef>
#include <cstdint>

#include "llmmr/actors/pipeline.hpp"

namespace llmmr {

/// Headroom of the map credit over the endpoints' capacity, in percent: the
/// calls that wait in the client while others run, so that a slot freed by
/// a reply finds its next call there instead of waiting for the reply to
/// travel through the mapper, the calibrator and the pool, and for a worker
/// node back to its coordinator (docs/distributed.md, "Capacity-driven
/// credit", has the measurement behind the value).
inline constexpr uint32_t map_credit_headroom_percent = 50;

/// Returns `capacity` plus `map_credit_headroom_percent` of it, rounded up.
uint64_t with_credit_headroom(size_t capacity) noexcept;

/// Returns how many chunks a group of mappers (the local ones of a pipeline,
/// or those of a worker node) may hold at once when their client serves
/// `capacity` calls at once (`llm_client::capacity`): `capacity` plus
/// `map_credit_headroom_percent` (rounded up), never more than
/// `opts.mappers * opts.map_window`; that product when `capacity` is 0
/// (unknown). At least 1 when `opts.mappers` is not 0.
uint32_t map_credit(size_t capacity, const pipeline_options& opts) noexcept;

} // namespace llmmr
