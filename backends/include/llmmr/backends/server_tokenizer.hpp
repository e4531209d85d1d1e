#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmmr/messages/expected.hpp"

#include "llmmr/backends/endpoint.hpp"
#include "llmmr/core/tokenizer.hpp"

namespace llmmr {

class http_client;

/// Counts tokens with the serving model's own tokenizer: the endpoint's
/// tokenize route (llama.cpp and vLLM `POST /tokenize`, TGI `/tokenize`; the
/// profile says where it lives). Each distinct text is asked for once and
/// remembered (a cache shared by all threads, bounded in entries and in
/// bytes, emptied when either bound is reached, so that a streamed document
/// of any length holds at most `max_cached_bytes` of remembered text), and
/// the chunker asks once per line or candidate chunk, not per token.
///
/// `count` cannot fail through the `tokenizer` interface: when the server
/// does not answer, the text is counted with a fallback of twice the
/// approximate count (never fewer tokens than a small-vocabulary model
/// would use), the failure is logged once and counted in `fallbacks()`.
class server_tokenizer final : public tokenizer {
public:
  /// Creates a tokenizer asking `client` (which must have a tokenize route
  /// in `profile`). Use `probe` first to check that it answers.
  server_tokenizer(std::shared_ptr<http_client> client,
                   endpoint_profile profile, size_t max_cached = 1 << 16,
                   size_t max_cached_bytes = 8 << 20);

  /// Returns the server's count for `text` (cached).
  size_t count(std::string_view text) const override;

  /// For llama.cpp: tokenizes `text` in slices of at most 256 KiB with one
  /// request each (`with_pieces`) and remembers the count of every line, the
  /// tokens that overlap it, so that the chunker's per-line counts cost no
  /// request; candidate chunks are still counted exactly, one request each.
  void prefetch(std::string_view text) const override;

  /// Returns `"server"`.
  std::string name() const override;

  /// Asks the server for the ids of `text` (not cached). Fails with the
  /// endpoint's error or `error_kind::bad_reply`.
  expected<std::vector<uint32_t>> encode(std::string_view text) const;

  /// Checks that the route answers with a count, and measures the chat
  /// template's overhead (llama.cpp `POST /apply-template`; 16 tokens where
  /// the server cannot show its template). The error names the endpoint and
  /// what went wrong.
  error probe();

  /// Returns the overhead `probe` measured.
  size_t message_overhead() const override { return overhead_; }

  /// Returns how many counts fell back to the estimate.
  uint64_t fallbacks() const noexcept { return fallbacks_.load(); }

  /// Returns the bytes of text the cache holds now (at most
  /// `max_cached_bytes`).
  size_t cached_bytes() const;

  /// Returns how many requests were sent to the server.
  uint64_t requests() const noexcept { return requests_.load(); }

private:
  expected<std::string> post(std::string_view text,
                             bool with_pieces = false) const;
  void prefetch_slice(std::string_view text) const;
  expected<size_t> ask(std::string_view text) const;

  std::shared_ptr<http_client> client_;
  endpoint_profile profile_;
  size_t max_cached_;
  size_t max_cached_bytes_;
  /// Bytes of the texts in `cache_` (guarded by `mtx_`).
  mutable size_t cached_bytes_ = 0;

  /// Makes room for `n` more texts of `bytes` in all; caller holds `mtx_`.
  void make_room(size_t n, size_t bytes) const;
  mutable std::mutex mtx_;
  mutable std::unordered_map<std::string, size_t> cache_;
  mutable std::atomic<uint64_t> fallbacks_{0};
  mutable std::atomic<uint64_t> requests_{0};
  size_t overhead_ = 16;
};

} // namespace llmmr
