// Private to the backends layer: the order in which queued calls leave.
#pragma once

#include <algorithm>
#include <deque>
#include <utility>

namespace llmmr {

/// Queues `x` (a pointer to a call with a `req.priority`) behind every call
/// of the same or a higher priority and ahead of every call of a lower one:
/// FIFO within a priority.
template <class Ptr>
void insert_by_priority(std::deque<Ptr>& queue, Ptr x) {
  auto p = x->req.priority;
  auto after = std::find_if(queue.rbegin(), queue.rend(), [p](const Ptr& y) {
                 return y->req.priority >= p;
               }).base();
  queue.insert(after, std::move(x));
}

} // namespace llmmr
