#include "llmmr/backends/wire.hpp"

#include <nlohmann/json.hpp>

#include "llmmr/backends/profile.hpp"
#include "llmmr/messages/error_kind.hpp"

namespace llmmr {

namespace {

using json = nlohmann::json;

void read_usage(const json& x, usage& out) {
  if (!x.is_object())
    return;
  out.prompt_tokens = x.value("prompt_tokens", uint64_t{0});
  out.completion_tokens = x.value("completion_tokens", uint64_t{0});
}

std::string error_text(const api_error& err) {
  std::string result = err.message.empty() ? "error object" : err.message;
  if (!err.code.empty())
    result += " (code " + err.code + ")";
  else if (!err.type.empty())
    result += " (type " + err.type + ")";
  return result;
}

} // namespace

// -- sse_parser ---------------------------------------------------------------

void sse_parser::feed(std::string_view bytes, const event_handler& on_event) {
  for (char c : bytes) {
    if (c == '\n') {
      if (last_was_cr_) {
        last_was_cr_ = false; // the LF of a CRLF
        continue;
      }
      line_done(on_event);
    } else if (c == '\r') {
      last_was_cr_ = true;
      line_done(on_event);
    } else {
      last_was_cr_ = false;
      line_ += c;
    }
  }
}

void sse_parser::line_done(const event_handler& on_event) {
  if (line_.empty()) {
    if (has_data_) {
      // Move out first: the handler may feed more bytes.
      std::string event = std::move(data_);
      data_.clear();
      has_data_ = false;
      on_event(event);
    }
    return;
  }
  if (line_.front() == ':') {
    ++comments_;
    line_.clear();
    return;
  }
  std::string_view line{line_};
  auto colon = line.find(':');
  auto field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_)
      data_ += '\n';
    data_.append(value);
    has_data_ = true;
  }
  line_.clear();
}

// -- chat_stream --------------------------------------------------------------

error_kind kind_of_stream_error(std::string_view code, std::string_view type) {
  if (code == "rate_limit_exceeded" || type == "rate_limit_exceeded"
      || code == "429")
    return error_kind::rate_limited;
  if (code == "insufficient_quota" || type == "insufficient_quota")
    return error_kind::quota;
  if (code == "context_length_exceeded")
    return error_kind::context_length_exceeded;
  return error_kind::server_error;
}

error chat_stream::on_event(std::string_view data,
                            const delta_handler& on_delta) {
  if (data == "[DONE]") {
    done_ = true;
    return {};
  }
  auto doc = json::parse(data, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return make_error(error_kind::bad_reply, "unparsable stream event ("
                                               + std::to_string(data.size())
                                               + " bytes)");
  if (doc.contains("error")) {
    auto err = parse_api_error(data);
    auto kind = kind_of_stream_error(err.code, err.type);
    if (err.context_length_exceeded())
      kind = error_kind::context_length_exceeded;
    return make_error(kind,
                      "error in the stream after HTTP 200: " + error_text(err));
  }
  if (reply_.request_id.empty())
    if (auto i = doc.find("id"); i != doc.end() && i->is_string())
      reply_.request_id = i->get<std::string>();
  if (auto i = doc.find("choices"); i != doc.end() && i->is_array()) {
    for (const auto& choice : *i) {
      if (!choice.is_object() || choice.value("index", 0) != 0)
        continue;
      if (auto d = choice.find("delta"); d != choice.end() && d->is_object()) {
        if (auto c = d->find("content"); c != d->end() && c->is_string()) {
          const auto& text = c->get_ref<const std::string&>();
          if (!text.empty()) {
            reply_.text += text;
            if (on_delta)
              on_delta(text);
          }
        }
      }
      if (auto f = choice.find("finish_reason");
          f != choice.end() && f->is_string())
        reply_.finish_reason = f->get<std::string>();
    }
  }
  if (auto u = doc.find("usage"); u != doc.end() && u->is_object()) {
    read_usage(*u, reply_.usage);
    has_usage_ = true;
  }
  return {};
}

expected<chat_reply> parse_chat_reply(std::string_view body, bool& has_usage) {
  has_usage = false;
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return make_error(error_kind::bad_reply, "reply is not JSON ("
                                               + std::to_string(body.size())
                                               + " bytes)");
  if (doc.contains("error")) {
    auto err = parse_api_error(body);
    auto kind = kind_of_stream_error(err.code, err.type);
    if (err.context_length_exceeded())
      kind = error_kind::context_length_exceeded;
    return make_error(kind, "error object after HTTP 200: " + error_text(err));
  }
  chat_reply result;
  if (auto i = doc.find("id"); i != doc.end() && i->is_string())
    result.request_id = i->get<std::string>();
  auto choices = doc.find("choices");
  if (choices == doc.end() || !choices->is_array() || choices->empty()
      || !choices->front().is_object())
    return make_error(error_kind::bad_reply, "reply has no choices");
  const auto& choice = choices->front();
  auto msg = choice.find("message");
  if (msg == choice.end() || !msg->is_object())
    return make_error(error_kind::bad_reply, "reply has no message");
  if (auto c = msg->find("content"); c != msg->end() && c->is_string())
    result.text = c->get<std::string>();
  if (auto f = choice.find("finish_reason");
      f != choice.end() && f->is_string())
    result.finish_reason = f->get<std::string>();
  if (auto u = doc.find("usage"); u != doc.end() && u->is_object()) {
    read_usage(*u, result.usage);
    has_usage = true;
  }
  return result;
}

uint64_t estimate_tokens(std::string_view text) noexcept {
  return (text.size() + 3) / 4;
}

} // namespace llmmr
