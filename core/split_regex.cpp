#include "llmmr/core/split_regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace llmmr {

namespace {

/// Match data, a match context and a JIT stack, shared by all patterns that
/// a thread runs.
struct thread_matcher {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;

  thread_matcher() {
    // The patterns need no captures; a few pairs leave room for groups.
    data = pcre2_match_data_create(16, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    if (context != nullptr && stack != nullptr)
      pcre2_jit_stack_assign(context, nullptr, stack);
  }

  ~thread_matcher() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }

  thread_matcher(const thread_matcher&) = delete;
  thread_matcher& operator=(const thread_matcher&) = delete;
};

thread_matcher& this_thread_matcher() {
  thread_local thread_matcher instance;
  return instance;
}

} // namespace

struct split_regex::state {
  std::string pattern;
  pcre2_code* code = nullptr;

  ~state() { pcre2_code_free(code); }
};

tokenizer_result<split_regex> split_regex::compile(std::string_view pattern,
                                                   bool literal) {
  auto st = std::make_unique<state>();
  st->pattern = std::string{pattern};
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (literal)
    options |= PCRE2_LITERAL;
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  st->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                           pattern.size(), options, &err, &err_offset, nullptr);
  if (st->code == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    return tokenizer_error{"cannot compile the pattern '" + st->pattern
                           + "' at offset " + std::to_string(err_offset) + ": "
                           + reinterpret_cast<const char*>(buf)};
  }
  // Without JIT support pcre2_match falls back to the interpreter.
  pcre2_jit_compile(st->code, PCRE2_JIT_COMPLETE);
  return split_regex{std::move(st)};
}

split_regex::split_regex(std::unique_ptr<state> st) : state_(std::move(st)) {
  // nop
}

split_regex::split_regex(split_regex&&) noexcept = default;

split_regex& split_regex::operator=(split_regex&&) noexcept = default;

split_regex::~split_regex() = default;

bool split_regex::find(std::string_view subject, size_t from, size_t& begin,
                       size_t& end) const {
  auto& m = this_thread_matcher();
  while (from < subject.size()) {
    auto rc = pcre2_match(
      state_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()),
      subject.size(), from, PCRE2_NO_UTF_CHECK, m.data, m.context);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      // Out of JIT stack or over the match limit: give up on this subject.
      return false;
    }
    if (rc < 0)
      return false;
    auto* ov = pcre2_get_ovector_pointer(m.data);
    if (ov[1] > ov[0]) {
      begin = ov[0];
      end = ov[1];
      return true;
    }
    // An empty match: retry one code point further on.
    from = ov[0] + 1;
    while (from < subject.size() && utf8::is_continuation(subject[from]))
      ++from;
  }
  return false;
}

const std::string& split_regex::pattern() const noexcept {
  return state_->pattern;
}

} // namespace llmmr
