#include "llmmr/sim/latency_model.hpp"

namespace llmmr::sim {

double latency_model::first_token_ms(size_t prompt_tokens) const noexcept {
  return ttft_ms + static_cast<double>(prompt_tokens) * prefill_ms_per_token;
}

double latency_model::token_ms(size_t prompt_tokens, size_t k) const noexcept {
  return first_token_ms(prompt_tokens) + static_cast<double>(k) * per_token_ms;
}

double latency_model::service_ms(size_t prompt_tokens,
                                 size_t completion_tokens) const noexcept {
  return token_ms(prompt_tokens, completion_tokens);
}

} // namespace llmmr::sim
