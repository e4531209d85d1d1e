#include "llmmr/backends/profile.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "llmmr/core/ascii.hpp"

namespace llmmr {

namespace {

using json = nlohmann::json;

using ascii::lower;

std::string as_text(const json& x) {
  if (x.is_string())
    return x.get<std::string>();
  if (x.is_number_integer())
    return std::to_string(x.get<int64_t>());
  if (x.is_null())
    return {};
  return x.dump();
}

std::optional<uint64_t> as_count(const json& x) {
  if (x.is_number_unsigned() || (x.is_number_integer() && x.get<int64_t>() > 0))
    return x.get<uint64_t>();
  return std::nullopt;
}

} // namespace

bool api_error::context_length_exceeded() const {
  if (code == "context_length_exceeded" || type == "exceed_context_size_error")
    return true;
  auto msg = lower(message);
  return msg.find("context length") != std::string::npos
         || msg.find("context window") != std::string::npos
         || msg.find("context size") != std::string::npos
         || msg.find("maximum context") != std::string::npos
         || (msg.find("must be <=") != std::string::npos
             && msg.find("tokens") != std::string::npos);
}

bool api_error::insufficient_quota() const {
  return code == "insufficient_quota" || type == "insufficient_quota";
}

api_error parse_api_error(std::string_view body) {
  api_error result;
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return result;
  if (auto i = doc.find("error"); i != doc.end()) {
    if (i->is_object()) {
      // OpenAI / llama.cpp: nested object.
      result.found = true;
      result.message = as_text(i->value("message", json{}));
      result.type = as_text(i->value("type", json{}));
      result.code = as_text(i->value("code", json{}));
      return result;
    }
    if (i->is_string()) {
      // TGI: flat error and error_type.
      result.found = true;
      result.message = i->get<std::string>();
      result.type = as_text(doc.value("error_type", json{}));
      result.code = as_text(doc.value("code", json{}));
      return result;
    }
  }
  if (doc.value("object", std::string{}) == "error") {
    // vLLM: flat object.
    result.found = true;
    result.message = as_text(doc.value("message", json{}));
    result.type = as_text(doc.value("type", json{}));
    result.code = as_text(doc.value("code", json{}));
  }
  return result;
}

std::string render_chat_body(endpoint_profile profile, const chat_request& req,
                             std::string_view default_model) {
  json body;
  body["model"] = req.model.empty() ? std::string{default_model} : req.model;
  auto& msgs = body["messages"] = json::array();
  for (const auto& m : req.messages)
    msgs.push_back({{"role", m.role}, {"content", m.content}});
  body["max_tokens"] = req.max_tokens;
  body["temperature"] = req.temperature;
  if (req.stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  if (!req.json_schema.empty()) {
    auto schema = json::parse(req.json_schema, nullptr, false);
    if (schema.is_discarded())
      schema = json::object();
    switch (profile) {
    case endpoint_profile::llamacpp:
      body["response_format"] = {{"type", "json_object"}, {"schema", schema}};
      break;
    case endpoint_profile::tgi:
      body["response_format"] = {{"type", "json"}, {"value", schema}};
      break;
    default: // openai, vllm, generic
      body["response_format"]
        = {{"type", "json_schema"},
           {"json_schema",
            {{"name", "llmmr_record"}, {"schema", schema}, {"strict", true}}}};
      break;
    }
  }
  // Invalid UTF-8 in a prompt must not throw here; it is replaced.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string tokenize_path(endpoint_profile profile) {
  switch (profile) {
  case endpoint_profile::vllm:
  case endpoint_profile::llamacpp:
  case endpoint_profile::tgi:
    return "/tokenize";
  default:
    return {};
  }
}

std::string render_tokenize_body(endpoint_profile profile,
                                 std::string_view model,
                                 std::string_view text) {
  json body;
  switch (profile) {
  case endpoint_profile::llamacpp:
    body["content"] = text;
    break;
  case endpoint_profile::tgi:
    body["inputs"] = text;
    break;
  default:
    body["model"] = model;
    body["prompt"] = text;
    break;
  }
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<uint64_t> parse_tokenize_reply(std::string_view body) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return std::nullopt;
  if (doc.is_array()) // TGI: a list of token objects
    return doc.size();
  if (!doc.is_object())
    return std::nullopt;
  if (auto i = doc.find("count"); i != doc.end())
    if (auto n = as_count(*i))
      return n;
  if (auto i = doc.find("tokens"); i != doc.end() && i->is_array())
    return i->size();
  return std::nullopt;
}

std::string context_window_path(endpoint_profile profile) {
  switch (profile) {
  case endpoint_profile::llamacpp:
    return "/props";
  case endpoint_profile::vllm:
  case endpoint_profile::generic:
    return "/v1/models";
  case endpoint_profile::tgi:
    return "/info";
  default:
    return {};
  }
}

std::optional<uint64_t> parse_context_window(std::string_view body,
                                             std::string_view model) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return std::nullopt;
  // llama.cpp /props
  if (auto i = doc.find("default_generation_settings");
      i != doc.end() && i->is_object())
    if (auto j = i->find("n_ctx"); j != i->end())
      if (auto n = as_count(*j))
        return n;
  for (auto key : {"n_ctx", "context_window", "max_total_tokens"})
    if (auto i = doc.find(key); i != doc.end())
      if (auto n = as_count(*i))
        return n;
  // vLLM /v1/models
  if (auto i = doc.find("data"); i != doc.end() && i->is_array()) {
    std::optional<uint64_t> first;
    for (const auto& entry : *i) {
      if (!entry.is_object())
        continue;
      auto j = entry.find("max_model_len");
      if (j == entry.end())
        continue;
      auto n = as_count(*j);
      if (!n)
        continue;
      if (!model.empty() && entry.value("id", std::string{}) == model)
        return n;
      if (!first)
        first = n;
    }
    return first;
  }
  return std::nullopt;
}

endpoint_profile guess_profile(std::string_view host, std::string_view props,
                               std::string_view info, std::string_view models) {
  if (lower(host).ends_with("openai.com"))
    return endpoint_profile::openai;
  if (!props.empty()) {
    auto doc = json::parse(props, nullptr, false);
    if (doc.is_object()
        && (doc.contains("default_generation_settings") || doc.contains("n_ctx")
            || doc.contains("total_slots")))
      return endpoint_profile::llamacpp;
  }
  if (!info.empty()) {
    auto doc = json::parse(info, nullptr, false);
    if (doc.is_object() && doc.contains("model_id")
        && (doc.contains("max_total_tokens")
            || doc.contains("max_input_tokens")))
      return endpoint_profile::tgi;
  }
  if (!models.empty()) {
    auto doc = json::parse(models, nullptr, false);
    if (doc.is_object()) {
      if (auto i = doc.find("data"); i != doc.end() && i->is_array()) {
        for (const auto& entry : *i) {
          if (!entry.is_object())
            continue;
          if (entry.contains("max_model_len"))
            return endpoint_profile::vllm;
          if (entry.value("owned_by", std::string{}) == "vllm")
            return endpoint_profile::vllm;
          if (entry.value("owned_by", std::string{}) == "llamacpp")
            return endpoint_profile::llamacpp;
        }
      }
    }
  }
  return endpoint_profile::generic;
}

} // namespace llmmr
