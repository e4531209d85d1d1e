#pragma once

#include <cstddef>
#include <cstdint>

namespace llmmr::sim {

/// The simulator's service time of one generation, a pure function of the
/// prompt and output lengths (docs/sim.md, "Latency model"). A generation
/// holds one slot for `service_ms`; requests beyond the slots wait in FIFO
/// order, so the makespan of a set of calls on `slots` slots is bounded below
/// by the sum of their service times divided by `slots`.
struct latency_model {
  /// The fixed part of the time to first token, in milliseconds.
  double ttft_ms = 0;
  /// Prefill: extra time to first token per prompt token, in milliseconds.
  double prefill_ms_per_token = 0;
  /// Decode: time per output token, in milliseconds.
  double per_token_ms = 0;

  /// Returns the time from the slot grant to the first token:
  /// `ttft_ms + prompt_tokens * prefill_ms_per_token`.
  double first_token_ms(size_t prompt_tokens) const noexcept;

  /// Returns the time from the slot grant to output token `k` (1-based):
  /// `first_token_ms(prompt_tokens) + k * per_token_ms`. Token 0 stands for
  /// the role chunk of a stream, sent at the first-token time.
  double token_ms(size_t prompt_tokens, size_t k) const noexcept;

  /// Returns how long a generation holds its slot:
  /// `token_ms(prompt_tokens, completion_tokens)`.
  double service_ms(size_t prompt_tokens,
                    size_t completion_tokens) const noexcept;

  friend bool operator==(const latency_model&, const latency_model&) = default;
};

} // namespace llmmr::sim
