#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "llmmr/messages/expected.hpp"

namespace llmmr::sim {

/// How the simulator misbehaves on purpose for one kind of prompt, so that
/// tests can drive the client's handling of outputs real models produce.
enum class reply_style : uint8_t {
  /// The reader's normal answer.
  normal,
  /// The reply stops after a few tokens, before any usable field, with
  /// `finish_reason: "length"`.
  truncated,
  /// Like `truncated`, but only for a first request: a corrective re-ask
  /// (its prompt says "previous reply") gets the normal answer.
  truncated_first,
  /// `message.content` is `null` (and a stream sends no content).
  null_content,
  /// A map reply whose answer is the no-information marker while its
  /// extracted information keeps the facts (evidence only).
  evidence,
  /// A request with a JSON schema (`response_format`) gets a 400 saying that
  /// structured output is not supported; text requests are answered.
  reject_schema,
};

/// Returns the name of `x`, e.g. `"truncated_first"` (`"null"` for
/// `null_content`).
std::string to_string(reply_style x);

/// Parses a name produced by `to_string`.
bool from_string(std::string_view name, reply_style& x);

/// The style per prompt kind: map, collapse, reduce, anything else, and the
/// baselines' chain worker, chain manager and direct prompts.
struct reply_styles {
  /// Indexed by `prompt_kind` (map, collapse, reduce, unknown, chain_step,
  /// chain_answer, direct).
  std::array<reply_style, 7> by_kind{};

  friend bool operator==(const reply_styles&, const reply_styles&) = default;
};

/// Parses `STAGE=STYLE,...` where STAGE is `map`, `collapse`, `reduce`,
/// `other`, `chain`, `manager`, `direct` or `all`, on top of `base`. Fails with
/// `error_kind::usage` naming the bad item and the known names.
expected<reply_styles> parse_reply_styles(std::string_view spec,
                                          reply_styles base = {});

} // namespace llmmr::sim
