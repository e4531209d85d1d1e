#include "llmmr/backends/server_tokenizer.hpp"
#include "llmmr/core/log.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "llmmr/backends/discovery.hpp"
#include "llmmr/backends/http_client.hpp"
#include "llmmr/backends/profile.hpp"
#include "llmmr/core/approx_tokenizer.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

server_tokenizer::server_tokenizer(std::shared_ptr<http_client> client,
                                   endpoint_profile profile, size_t max_cached,
                                   size_t max_cached_bytes)
  : client_(std::move(client)), profile_(profile), max_cached_(max_cached),
    max_cached_bytes_(max_cached_bytes) {
  // nop
}

std::string server_tokenizer::name() const {
  return "server";
}

expected<std::string> server_tokenizer::post(std::string_view text,
                                             bool with_pieces) const {
  auto path = tokenize_path(profile_);
  if (path.empty())
    return make_error(error_kind::config, "the endpoint profile '"
                                            + to_string(profile_)
                                            + "' has no tokenize route");
  ++requests_;
  auto body = render_tokenize_body(profile_, client_->model(), text);
  if (with_pieces) {
    auto doc = nlohmann::json::parse(body);
    doc["with_pieces"] = true;
    body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  auto res = fetch(*client_, "POST", path, std::move(body));
  if (!res)
    return res.error();
  if (res->status != 200)
    return make_error(error_kind::bad_reply,
                      client_->name() + path + " answered HTTP "
                        + std::to_string(res->status) + ": "
                        + res->body.substr(0, 200));
  return std::move(res->body);
}

expected<size_t> server_tokenizer::ask(std::string_view text) const {
  auto body = post(text);
  if (!body)
    return std::move(body.error());
  auto n = parse_tokenize_reply(*body);
  if (!n)
    return make_error(error_kind::bad_reply,
                      client_->name()
                        + " sent no token count: " + body->substr(0, 200));
  return static_cast<size_t>(*n);
}

size_t server_tokenizer::count(std::string_view text) const {
  if (text.empty())
    return 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto i = cache_.find(std::string{text}); i != cache_.end())
      return i->second;
  }
  auto n = ask(text);
  if (!n) {
    if (fallbacks_++ == 0)
      logger()->warn("llmmr: the server tokenizer failed ({}); counting with "
                     "twice the estimate where it fails",
                     describe(n.error()));
    return 2 * approx_tokenizer{}.count(text);
  }
  std::lock_guard<std::mutex> guard{mtx_};
  make_room(1, text.size());
  if (cache_.emplace(std::string{text}, *n).second)
    cached_bytes_ += text.size();
  return *n;
}

size_t server_tokenizer::cached_bytes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return cached_bytes_;
}

void server_tokenizer::make_room(size_t n, size_t bytes) const {
  if (cache_.size() + n > max_cached_
      || cached_bytes_ + bytes > max_cached_bytes_) {
    cache_.clear();
    cached_bytes_ = 0;
  }
}

expected<std::vector<uint32_t>>
server_tokenizer::encode(std::string_view text) const {
  auto body = post(text);
  if (!body)
    return std::move(body.error());
  auto path = tokenize_path(profile_);
  auto doc = nlohmann::json::parse(*body, nullptr, false);
  std::vector<uint32_t> ids;
  const nlohmann::json* list = nullptr;
  if (doc.is_array())
    list = &doc;
  else if (doc.is_object() && doc.contains("tokens"))
    list = &doc["tokens"];
  if (list == nullptr || !list->is_array())
    return make_error(error_kind::bad_reply,
                      client_->name() + path + " sent no token list");
  for (const auto& t : *list) {
    if (t.is_number_unsigned())
      ids.push_back(t.get<uint32_t>());
    else if (t.is_object() && t.contains("id") && t["id"].is_number_unsigned())
      ids.push_back(t["id"].get<uint32_t>());
    else
      return make_error(error_kind::bad_reply, client_->name() + path
                                                 + " sent a token that is not "
                                                   "an id");
  }
  return ids;
}

error server_tokenizer::probe() {
  auto n = ask("Hello, world!");
  if (!n)
    return std::move(n.error());
  if (*n == 0)
    return make_error(error_kind::bad_reply,
                      client_->name() + " counted 0 tokens for a greeting");
  if (profile_ == endpoint_profile::llamacpp) {
    nlohmann::json body{
      {"messages", {{{"role", "user"}, {"content", "Hello, world!"}}}}};
    auto res = fetch(*client_, "POST", "/apply-template", body.dump());
    if (res && res->status == 200) {
      auto doc = nlohmann::json::parse(res->body, nullptr, false);
      if (doc.is_object() && doc.contains("prompt")
          && doc["prompt"].is_string()) {
        auto full = ask(doc["prompt"].get<std::string>());
        if (full && *full >= *n)
          // One token more for the boundary between text and markers.
          overhead_ = *full - *n + 1;
      }
    }
  }
  return error{};
}

void server_tokenizer::prefetch(std::string_view text) const {
  if (profile_ != endpoint_profile::llamacpp || text.empty())
    return;
  constexpr size_t max_slice = 256 * 1024;
  while (!text.empty()) {
    auto n = std::min(text.size(), max_slice);
    if (n < text.size()) {
      // Cut after a newline, so that no line is split between two slices.
      auto nl = text.rfind('\n', n - 1);
      if (nl == std::string_view::npos)
        return; // one enormous line: left to count()
      n = nl + 1;
    }
    prefetch_slice(text.substr(0, n));
    text.remove_prefix(n);
  }
}

void server_tokenizer::prefetch_slice(std::string_view text) const {
  auto body = post(text, true);
  if (!body)
    return; // count() asks (and reports) line by line
  auto doc = nlohmann::json::parse(*body, nullptr, false);
  if (!doc.is_object() || !doc.contains("tokens") || !doc["tokens"].is_array())
    return;
  // Byte length of every token's piece (a string, or an array of bytes for
  // pieces that are not UTF-8 on their own).
  std::vector<size_t> lengths;
  lengths.reserve(doc["tokens"].size());
  size_t total = 0;
  for (const auto& t : doc["tokens"]) {
    if (!t.is_object() || !t.contains("piece"))
      return;
    const auto& piece = t["piece"];
    size_t len = piece.is_string()  ? piece.get_ref<const std::string&>().size()
                 : piece.is_array() ? piece.size()
                                    : 0;
    lengths.push_back(len);
    total += len;
  }
  // SentencePiece-style models may show a space before the first word that
  // the text does not have; any other mismatch means the offsets cannot be
  // trusted.
  if (total == text.size() + 1 && !lengths.empty() && lengths.front() > 0
      && !text.starts_with(' ')) {
    --lengths.front();
    --total;
  }
  if (total != text.size())
    return;
  // Every line's count: the tokens that overlap it.
  std::vector<std::pair<std::string, size_t>> lines;
  size_t tok = 0;
  size_t tok_begin = 0;
  size_t line_begin = 0;
  while (line_begin < text.size()) {
    auto nl = text.find('\n', line_begin);
    auto line_end = nl == std::string_view::npos ? text.size() : nl + 1;
    while (tok < lengths.size() && tok_begin + lengths[tok] <= line_begin) {
      tok_begin += lengths[tok];
      ++tok;
    }
    size_t count = 0;
    for (auto t = tok, b = tok_begin; t < lengths.size() && b < line_end;
         b += lengths[t], ++t)
      ++count;
    auto line = text.substr(line_begin, line_end - line_begin);
    lines.emplace_back(std::string{line}, count);
    if (line.size() > 1 && line.back() == '\n')
      lines.emplace_back(std::string{line.substr(0, line.size() - 1)}, count);
    line_begin = line_end;
  }
  size_t bytes = 0;
  for (auto& [line, n] : lines)
    bytes += line.size();
  std::lock_guard<std::mutex> guard{mtx_};
  make_room(lines.size(), bytes);
  for (auto& [line, n] : lines) {
    auto size = line.size();
    if (cache_.emplace(std::move(line), n).second)
      cached_bytes_ += size;
  }
}

} // namespace llmmr
