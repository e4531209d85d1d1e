#include "llmmr/core/direct_window.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "llmmr/core/token_cut.hpp"

namespace llmmr {

head_tail_window::head_tail_window(const tokenizer& tok, size_t budget)
  : tok_(&tok), budget_(budget), head_budget_(budget / 2),
    tail_budget_(budget - budget / 2) {
  // nop
}

void head_tail_window::add(chunk c) {
  total_ += c.tokens;
  if (tail_.empty() && head_tokens_ < head_budget_) {
    head_tokens_ += c.tokens;
    head_.push_back(std::move(c));
    return;
  }
  tail_tokens_ += c.tokens;
  tail_.push_back(std::move(c));
  // Drop chunks from the front of the tail while the rest still holds the
  // whole tail budget: they can only end up in the cut middle. The bound is
  // the constructor's budget, so a smaller budget in `take` is served too.
  while (tail_.size() > 1
         && tail_tokens_ - tail_.front().tokens >= tail_budget_) {
    tail_tokens_ -= tail_.front().tokens;
    tail_.pop_front();
    dropped_ = true;
  }
}

size_t head_tail_window::bytes_held() const noexcept {
  size_t n = 0;
  for (auto& c : head_)
    n += c.text.size();
  for (auto& c : tail_)
    n += c.text.size();
  return n;
}

direct_text head_tail_window::take(size_t budget) const {
  budget = std::min(budget, budget_);
  direct_text out;
  out.document_tokens = total_;
  if (head_.empty())
    return out;
  auto doc_begin = head_.front().range.begin;
  auto doc_end
    = tail_.empty() ? head_.back().range.end : tail_.back().range.end;
  if (!dropped_ && total_ <= budget) {
    for (auto& c : head_)
      out.text += c.text;
    for (auto& c : tail_)
      out.text += c.text;
    out.kept.push_back(byte_range{doc_begin, doc_end});
    out.kept_tokens = total_;
    return out;
  }
  auto head_budget = budget / 2;
  auto tail_budget = budget - head_budget;
  // The pieces in document order, without the dropped middle: head chunks,
  // then tail chunks.
  std::vector<const chunk*> pieces;
  for (auto& c : head_)
    pieces.push_back(&c);
  for (auto& c : tail_)
    pieces.push_back(&c);
  // Head: whole pieces while they fit, then a prefix of the next one.
  std::string head;
  uint64_t head_tokens = 0;
  size_t hi = 0; // first piece not wholly in the head
  uint64_t head_end = doc_begin;
  for (; hi < pieces.size(); ++hi) {
    if (head_tokens + pieces[hi]->tokens > head_budget)
      break;
    head += pieces[hi]->text;
    head_tokens += pieces[hi]->tokens;
    head_end = pieces[hi]->range.end;
  }
  size_t head_part = 0; // bytes of pieces[hi] in the head
  if (hi < pieces.size()) {
    auto rest = head_budget - head_tokens;
    head_part = prefix_within(pieces[hi]->text, rest, *tok_);
    head.append(pieces[hi]->text, 0, head_part);
    head_tokens
      += tok_->count(std::string_view{pieces[hi]->text}.substr(0, head_part));
    head_end = pieces[hi]->range.begin + head_part;
  }
  // Tail: whole pieces from the end while they fit, then a suffix of the
  // one before, never reaching into the head.
  std::string tail;
  uint64_t tail_tokens = 0;
  size_t ti = pieces.size(); // pieces [ti, end) are wholly in the tail
  uint64_t tail_begin = doc_end;
  while (ti > hi + (head_part > 0 ? 1 : 0)) {
    auto& p = *pieces[ti - 1];
    if (tail_tokens + p.tokens > tail_budget)
      break;
    tail.insert(0, p.text);
    tail_tokens += p.tokens;
    tail_begin = p.range.begin;
    --ti;
  }
  if (ti > hi) {
    auto& p = *pieces[ti - 1];
    // The part of `p` not already in the head.
    size_t from = ti - 1 == hi ? head_part : 0;
    auto avail = std::string_view{p.text}.substr(from);
    auto start = suffix_within(avail, tail_budget - tail_tokens, *tok_);
    auto part = avail.substr(start);
    tail.insert(0, part);
    tail_tokens += tok_->count(part);
    tail_begin = p.range.begin + from + start;
  }
  out.kept_tokens = head_tokens + tail_tokens;
  out.truncated = tail_begin > head_end || dropped_;
  if (!out.truncated) {
    // Everything fitted after all (counting piece by piece).
    out.text = std::move(head);
    out.text += tail;
    out.kept.push_back(byte_range{doc_begin, doc_end});
    return out;
  }
  out.cut_tokens = total_ > out.kept_tokens ? total_ - out.kept_tokens : 0;
  out.cut = byte_range{head_end, tail_begin};
  out.text = std::move(head);
  out.text += direct_cut_marker;
  out.text += tail;
  if (head_end > doc_begin)
    out.kept.push_back(byte_range{doc_begin, head_end});
  if (doc_end > tail_begin)
    out.kept.push_back(byte_range{tail_begin, doc_end});
  return out;
}

expected<std::string> render_direct_prompt(const prompt_library& prompts,
                                           const job_spec& spec,
                                           std::string_view document) {
  std::map<std::string, std::string, std::less<>> vars;
  vars.emplace("question", spec.question);
  vars.emplace("rubric", prompts.rubric(spec.profile));
  vars.emplace("document", std::string{document});
  return prompts.get(spec.profile, baseline_stage::direct).render(vars);
}

} // namespace llmmr
