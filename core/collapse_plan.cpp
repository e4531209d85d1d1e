#include "llmmr/core/collapse_plan.hpp"
#include "llmmr/core/utf8.hpp"

#include <algorithm>
#include <numeric>

namespace llmmr {

namespace {

/// Fields shorter than this are emptied rather than halved.
constexpr size_t min_cut_bytes = 16;

/// The marker appended to a cut field.
constexpr std::string_view cut_marker = "…";

/// Halves `field` (or empties it when short); returns false when it was
/// already empty.
bool shrink_field(std::string& field) {
  if (field.empty())
    return false;
  if (field.size() <= min_cut_bytes) {
    field.clear();
    return true;
  }
  auto keep = field.size() / 2;
  if (field.ends_with(cut_marker) && keep > cut_marker.size())
    keep -= cut_marker.size();
  field = cut_utf8(std::move(field), keep);
  field += cut_marker;
  return true;
}

size_t measure_all(const std::vector<record>& xs, const record_measure& f) {
  size_t sum = 0;
  for (auto& x : xs)
    sum += f(x);
  return sum;
}

std::string describe_chunks(const std::vector<uint32_t>& xs) {
  std::string out;
  for (auto x : xs) {
    if (!out.empty())
      out += ", ";
    out += std::to_string(x);
  }
  return out;
}

} // namespace

size_t total_tokens(std::span<const size_t> sizes) noexcept {
  return std::accumulate(sizes.begin(), sizes.end(), size_t{0});
}

bool fits(std::span<const size_t> sizes, size_t budget) noexcept {
  return total_tokens(sizes) <= budget;
}

std::vector<collapse_group> pack_groups(std::span<const size_t> sizes,
                                        size_t budget) {
  std::vector<collapse_group> out;
  collapse_group cur;
  auto flush = [&](size_t end) {
    if (end > cur.first) {
      cur.last = end;
      out.push_back(cur);
    }
    cur = collapse_group{end, end, 0, false};
  };
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto sz = sizes[i];
    if (sz > budget) {
      flush(i);
      out.push_back(collapse_group{i, i + 1, sz, true});
      cur = collapse_group{i + 1, i + 1, 0, false};
      continue;
    }
    if (cur.tokens + sz > budget)
      flush(i);
    cur.tokens += sz;
  }
  flush(sizes.size());
  return out;
}

std::vector<uint32_t> merge_provenance(std::span<const record> inputs) {
  std::vector<uint32_t> out;
  for (auto& r : inputs)
    out.insert(out.end(), r.chunks.begin(), r.chunks.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string cut_utf8(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  // Step back to a character boundary so that no character is split.
  text.resize(utf8::floor_boundary(text, max_bytes));
  return text;
}

bool truncate_to_fit(record& r, size_t budget, const record_measure& measure) {
  bool cut = false;
  while (measure(r) > budget) {
    if (shrink_field(r.rationale) || shrink_field(r.extracted)
        || shrink_field(r.answer)) {
      cut = true;
      continue;
    }
    break;
  }
  return cut;
}

fit_report force_fit(std::vector<record>& records, size_t budget,
                     const record_measure& measure) {
  fit_report rep;
  if (records.empty())
    return rep;
  auto total = measure_all(records, measure);
  if (total <= budget)
    return rep;
  // Lowest confidence first; among equals the later record first, so that
  // earlier parts of the document win ties.
  std::vector<size_t> order(records.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (records[a].confidence != records[b].confidence)
      return records[a].confidence < records[b].confidence;
    return a > b;
  });
  // Step 1: cut rationales, lowest confidence first.
  for (auto i : order) {
    if (total <= budget)
      break;
    auto& r = records[i];
    if (r.rationale.empty())
      continue;
    auto before = measure(r);
    r.rationale = std::string{cut_marker};
    auto after = measure(r);
    total = total - before + after;
    ++rep.truncated;
    rep.losses.push_back(evidence_loss{
      r.chunks, {}, r.confidence, "rationale cut by the collapse fallback"});
  }
  // Step 2: drop the lowest-confidence records, keeping at least one.
  std::vector<bool> dropped(records.size(), false);
  size_t left = records.size();
  for (auto i : order) {
    if (total <= budget || left == 1)
      break;
    total -= measure(records[i]);
    dropped[i] = true;
    --left;
    ++rep.dropped;
  }
  if (rep.dropped > 0) {
    std::vector<record> kept;
    kept.reserve(left);
    std::vector<uint32_t> lost;
    for (size_t i = 0; i < records.size(); ++i) {
      if (dropped[i]) {
        lost.insert(lost.end(), records[i].chunks.begin(),
                    records[i].chunks.end());
        rep.losses.push_back(
          evidence_loss{records[i].chunks,
                        {},
                        records[i].confidence,
                        "record dropped by the collapse fallback"});
      } else
        kept.push_back(std::move(records[i]));
    }
    std::sort(lost.begin(), lost.end());
    lost.erase(std::unique(lost.begin(), lost.end()), lost.end());
    // Chunks still covered by a kept record were not lost.
    auto covered = merge_provenance(kept);
    std::set_difference(lost.begin(), lost.end(), covered.begin(),
                        covered.end(), std::back_inserter(rep.dropped_chunks));
    records = std::move(kept);
  }
  // Step 3: a single remaining record that is still too large gets cut.
  if (total > budget && records.size() == 1) {
    auto& r = records.front();
    auto others = total - measure(r);
    auto room = budget > others ? budget - others : 0;
    if (truncate_to_fit(r, room, measure)) {
      ++rep.truncated;
      rep.losses.push_back(evidence_loss{
        r.chunks, {}, r.confidence, "fields cut by the collapse fallback"});
    }
  }
  return rep;
}

collapse_planner::collapse_planner(collapse_options opts,
                                   record_measure measure, record_filter filter)
  : opts_(opts), measure_(std::move(measure)), filter_(std::move(filter)) {
  // nop
}

size_t collapse_planner::total() const {
  return measure_all(records_, measure_);
}

collapse_planner::round collapse_planner::begin(std::vector<record> records) {
  records_ = std::move(records);
  rounds_ = 0;
  done_ = false;
  fallback_ = false;
  note_.clear();
  losses_.clear();
  last_total_.reset();
  if (filter_)
    records_ = filter_(std::move(records_));
  return plan_next();
}

collapse_planner::round
collapse_planner::begin(std::vector<first_round_part> parts) {
  records_.clear();
  rounds_ = 1;
  done_ = false;
  fallback_ = false;
  note_.clear();
  losses_.clear();
  round out;
  size_t sum = 0;
  for (auto& p : parts) {
    if (p.collapsed) {
      sum += p.input_tokens;
      out.emplace_back();
      continue;
    }
    auto xs = filter_ ? filter_(std::move(p.records)) : std::move(p.records);
    std::vector<size_t> sizes;
    sizes.reserve(xs.size());
    for (auto& r : xs)
      sizes.push_back(measure_(r));
    sum += total_tokens(sizes);
    add_groups(out, xs, sizes);
  }
  last_total_ = sum;
  current_ = out;
  return out;
}

collapse_planner::round
collapse_planner::advance(std::vector<std::optional<record>> outputs) {
  auto next = merge_round(std::move(outputs));
  if (filter_)
    next = filter_(std::move(next));
  return next_round(std::move(next));
}

std::vector<record>
collapse_planner::merge_round(std::vector<std::optional<record>> outputs) {
  std::vector<record> next;
  for (size_t i = 0; i < current_.size(); ++i) {
    auto& group = current_[i];
    if (i < outputs.size() && outputs[i]) {
      auto out = std::move(*outputs[i]);
      if (!group.empty())
        out.chunks = merge_provenance(group);
      next.push_back(std::move(out));
    } else {
      for (auto& r : group)
        next.push_back(std::move(r));
    }
  }
  current_.clear();
  records_.clear();
  return next;
}

collapse_planner::round
collapse_planner::next_round(std::vector<record> records) {
  records_ = std::move(records);
  return plan_next();
}

void collapse_planner::finish_with_fallback(std::string why) {
  auto rep = force_fit(records_, opts_.budget, measure_);
  for (auto& l : rep.losses)
    losses_.push_back(std::move(l));
  fallback_ = true;
  note_ = std::move(why);
  note_ += "; cut the rationale of ";
  note_ += std::to_string(rep.truncated);
  note_ += rep.truncated == 1 ? " record" : " records";
  note_ += ", dropped ";
  note_ += std::to_string(rep.dropped);
  note_ += rep.dropped == 1 ? " record" : " records";
  if (!rep.dropped_chunks.empty()) {
    note_ += " (chunks ";
    note_ += describe_chunks(rep.dropped_chunks);
    note_ += " no longer represented)";
  }
  done_ = true;
}

collapse_planner::round collapse_planner::plan_next() {
  std::vector<size_t> sizes;
  sizes.reserve(records_.size());
  for (auto& r : records_)
    sizes.push_back(measure_(r));
  auto sum = total_tokens(sizes);
  if (sum <= opts_.budget) {
    done_ = true;
    return {};
  }
  if (last_total_ && sum >= *last_total_) {
    finish_with_fallback("collapse round " + std::to_string(rounds_)
                         + " did not shrink the records ("
                         + std::to_string(*last_total_) + " -> "
                         + std::to_string(sum) + " tokens, budget "
                         + std::to_string(opts_.budget) + ")");
    return {};
  }
  if (rounds_ >= opts_.max_rounds) {
    finish_with_fallback("records still exceed the budget after "
                         + std::to_string(rounds_) + " collapse rounds ("
                         + std::to_string(sum) + " tokens, budget "
                         + std::to_string(opts_.budget) + ")");
    return {};
  }
  last_total_ = sum;
  ++rounds_;
  round out;
  add_groups(out, records_, sizes);
  current_ = out;
  return out;
}

void collapse_planner::add_groups(round& out,
                                  const std::vector<record>& records,
                                  const std::vector<size_t>& sizes) {
  for (auto& g : pack_groups(sizes, opts_.budget)) {
    std::vector<record> group;
    group.reserve(g.last - g.first);
    for (auto i = g.first; i < g.last; ++i)
      group.push_back(records[i]);
    if (g.oversized && truncate_to_fit(group.front(), opts_.budget, measure_))
      losses_.push_back(evidence_loss{group.front().chunks,
                                      {},
                                      group.front().confidence,
                                      "record cut to fit one collapse call"});
    out.push_back(std::move(group));
  }
}

} // namespace llmmr
