#include "llmmr/messages/job_result.hpp"

namespace llmmr {

namespace {

size_t footprint(const std::string& x) {
  return x.capacity();
}

size_t footprint(const record& x) {
  return sizeof(record) + x.chunks.capacity() * sizeof(uint32_t)
         + footprint(x.extracted) + footprint(x.rationale) + footprint(x.answer)
         + footprint(x.raw);
}

} // namespace

size_t footprint(const job_result& x) {
  size_t n = sizeof(job_result) + footprint(x.answer) + footprint(x.rationale)
             + footprint(x.fallback_note) + footprint(x.tokenizer);
  for (auto& e : x.evidence)
    n += footprint(e.record) + e.ranges.capacity() * sizeof(byte_range);
  n += (x.evidence.capacity() - x.evidence.size()) * sizeof(evidence);
  for (auto& f : x.failures)
    n += sizeof(chunk_failure) + footprint(f.reason);
  for (auto& l : x.losses)
    n += sizeof(evidence_loss) + l.chunks.capacity() * sizeof(uint32_t)
         + l.ranges.capacity() * sizeof(byte_range) + footprint(l.what);
  for (auto& s : x.nodes)
    n += sizeof(node_stats) + footprint(s.node);
  return n;
}

} // namespace llmmr
