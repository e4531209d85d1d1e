#include "llmmr/sim/protocol.hpp"
#include "llmmr/core/ascii.hpp"
#include "llmmr/core/utf8.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "llmmr/messages/error_kind.hpp"

namespace llmmr::sim {

namespace {

using json = nlohmann::json;

constexpr std::string_view fault_names[] = {
  "none",
  "rate_limit",
  "server_error",
  "unavailable",
  "reset",
  "stall",
  "truncated_stream",
  "error_mid_stream",
  "invalid_json",
  "wrong_content_type",
  "slow_drip",
  "quota",
};

static_assert(std::size(fault_names) == fault_kind_count);

// Dumps without throwing on invalid UTF-8 (replaces bad bytes).
std::string dump(const json& x) {
  return x.dump(-1, ' ', false, json::error_handler_t::replace);
}

json base_chunk(const completion_info& info) {
  return json{{"id", info.id},
              {"object", "chat.completion.chunk"},
              {"created", info.created},
              {"model", info.model}};
}

json usage_json(const completion_info& info) {
  return json{{"prompt_tokens", info.prompt_tokens},
              {"completion_tokens", info.completion_tokens},
              {"total_tokens", info.prompt_tokens + info.completion_tokens}};
}

// Extracts the text of a message `content`: a string or an array of parts.
expected<std::string> content_text(const json& content) {
  if (content.is_string())
    return content.get<std::string>();
  if (content.is_null())
    return std::string{};
  if (content.is_array()) {
    std::string result;
    for (const auto& part : content) {
      if (part.is_string()) {
        result += part.get<std::string>();
      } else if (part.is_object() && part.contains("text")
                 && part["text"].is_string()) {
        result += part["text"].get<std::string>();
      } else {
        return make_error(error_kind::bad_request,
                          "message content parts must be strings or objects "
                          "with a 'text' string");
      }
    }
    return result;
  }
  return make_error(error_kind::bad_request,
                    "message 'content' must be a string or an array");
}

expected<std::vector<chat_message>> parse_messages(const json& msgs) {
  if (!msgs.is_array() || msgs.empty())
    return make_error(error_kind::bad_request,
                      "'messages' must be a non-empty array");
  std::vector<chat_message> result;
  for (const auto& m : msgs) {
    if (!m.is_object())
      return make_error(error_kind::bad_request,
                        "each message must be an object");
    chat_message msg;
    if (auto role = m.find("role"); role != m.end() && role->is_string())
      msg.role = role->get<std::string>();
    else
      return make_error(error_kind::bad_request,
                        "each message needs a 'role' string");
    if (auto content = m.find("content"); content != m.end()) {
      auto text = content_text(*content);
      if (!text)
        return std::move(text.error());
      msg.content = std::move(*text);
    }
    result.push_back(std::move(msg));
  }
  return result;
}

expected<json> parse_object(std::string_view body) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return make_error(error_kind::bad_request,
                      "the request body is not valid JSON");
  if (!doc.is_object())
    return make_error(error_kind::bad_request,
                      "the request body must be a JSON object");
  return doc;
}

} // namespace

std::string_view to_string(fault_kind x) noexcept {
  auto index = static_cast<size_t>(x);
  return index < fault_kind_count ? fault_names[index] : "unknown";
}

bool from_string(std::string_view name, fault_kind& x) noexcept {
  for (size_t i = 0; i < fault_kind_count; ++i) {
    if (fault_names[i] == name) {
      x = static_cast<fault_kind>(i);
      return true;
    }
  }
  return false;
}

double fault_rates::get(fault_kind x) const noexcept {
  switch (x) {
  case fault_kind::none:
    return 0;
  case fault_kind::rate_limit:
    return rate_limit;
  case fault_kind::server_error:
    return server_error;
  case fault_kind::unavailable:
    return unavailable;
  case fault_kind::reset:
    return reset;
  case fault_kind::stall:
    return stall;
  case fault_kind::truncated_stream:
    return truncated_stream;
  case fault_kind::error_mid_stream:
    return error_mid_stream;
  case fault_kind::invalid_json:
    return invalid_json;
  case fault_kind::wrong_content_type:
    return wrong_content_type;
  case fault_kind::slow_drip:
    return slow_drip;
  case fault_kind::quota:
    return quota;
  }
  return 0;
}

void fault_rates::set(fault_kind x, double rate) noexcept {
  switch (x) {
  case fault_kind::none:
    break;
  case fault_kind::rate_limit:
    rate_limit = rate;
    break;
  case fault_kind::server_error:
    server_error = rate;
    break;
  case fault_kind::unavailable:
    unavailable = rate;
    break;
  case fault_kind::reset:
    reset = rate;
    break;
  case fault_kind::stall:
    stall = rate;
    break;
  case fault_kind::truncated_stream:
    truncated_stream = rate;
    break;
  case fault_kind::error_mid_stream:
    error_mid_stream = rate;
    break;
  case fault_kind::invalid_json:
    invalid_json = rate;
    break;
  case fault_kind::wrong_content_type:
    wrong_content_type = rate;
    break;
  case fault_kind::slow_drip:
    slow_drip = rate;
    break;
  case fault_kind::quota:
    quota = rate;
    break;
  }
}

fault_rates fault_rates::uniform(double total) noexcept {
  fault_rates result;
  for (size_t i = 1; i < fault_kind_count; ++i) {
    auto kind = static_cast<fault_kind>(i);
    if (kind != fault_kind::quota)
      result.set(kind, total / 10.0);
  }
  return result;
}

expected<fault_rates> parse_fault_spec(std::string_view spec,
                                       fault_rates base) {
  while (!spec.empty()) {
    auto item = ascii::next_item(spec);
    if (item.empty())
      continue;
    auto eq = item.find('=');
    auto bad = [&](std::string why) {
      return make_error(error_kind::usage, "bad fault item '"
                                             + std::string{item}
                                             + "': " + std::move(why));
    };
    if (eq == std::string_view::npos)
      return bad("expected kind=rate");
    fault_kind kind = fault_kind::none;
    if (!from_string(item.substr(0, eq), kind) || kind == fault_kind::none)
      return bad("unknown fault kind (known: rate_limit, server_error, "
                 "unavailable, reset, stall, truncated_stream, "
                 "error_mid_stream, invalid_json, wrong_content_type, "
                 "slow_drip, quota)");
    auto value = item.substr(eq + 1);
    double rate = 0;
    auto [ptr, ec]
      = std::from_chars(value.data(), value.data() + value.size(), rate);
    if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size()
        || rate < 0 || rate > 1)
      return bad("the rate must be a number between 0 and 1");
    base.set(kind, rate);
  }
  return base;
}

fault_kind pick_fault(const fault_rates& rates, double u) noexcept {
  double total = 0;
  for (size_t i = 1; i < fault_kind_count; ++i)
    total += std::max(0.0, rates.get(static_cast<fault_kind>(i)));
  if (total <= 0)
    return fault_kind::none;
  auto scale = total > 1 ? 1.0 / total : 1.0;
  double upper = 0;
  auto last = fault_kind::none;
  for (size_t i = 1; i < fault_kind_count; ++i) {
    auto kind = static_cast<fault_kind>(i);
    auto rate = std::max(0.0, rates.get(kind)) * scale;
    if (rate <= 0)
      continue;
    last = kind;
    upper += rate;
    if (u < upper)
      return kind;
  }
  // Rates summing to 1 leave no room for `none`, but rounding may leave u
  // just above the last bound.
  return total >= 1 ? last : fault_kind::none;
}

fault_kind fault_source::next() {
  std::uniform_real_distribution<double> dist{0.0, 1.0};
  return pick_fault(rates_, dist(gen_));
}

std::string_view to_string(error_shape x) noexcept {
  switch (x) {
  case error_shape::openai:
    return "openai";
  case error_shape::vllm:
    return "vllm";
  case error_shape::tgi:
    return "tgi";
  }
  return "openai";
}

bool from_string(std::string_view name, error_shape& x) noexcept {
  if (name == "openai")
    x = error_shape::openai;
  else if (name == "vllm")
    x = error_shape::vllm;
  else if (name == "tgi")
    x = error_shape::tgi;
  else
    return false;
  return true;
}

std::vector<std::string_view> split_tokens(std::string_view text) {
  std::vector<std::string_view> result;
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = std::min(text.size(), pos + 4);
    end = utf8::ceil_boundary(text, end);
    result.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return result;
}

size_t count_tokens(std::string_view text) noexcept {
  size_t result = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = std::min(text.size(), pos + 4);
    end = utf8::ceil_boundary(text, end);
    ++result;
    pos = end;
  }
  return result;
}

expected<chat_request> parse_chat_request(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc)
    return std::move(doc.error());
  chat_request req;
  if (auto model = doc->find("model"); model != doc->end()) {
    if (!model->is_string())
      return make_error(error_kind::bad_request, "'model' must be a string");
    req.model = model->get<std::string>();
  }
  auto msgs = doc->find("messages");
  if (msgs == doc->end())
    return make_error(error_kind::bad_request,
                      "the request has no 'messages' field");
  auto parsed = parse_messages(*msgs);
  if (!parsed)
    return std::move(parsed.error());
  req.messages = std::move(*parsed);
  if (auto stream = doc->find("stream");
      stream != doc->end() && !stream->is_null()) {
    if (!stream->is_boolean())
      return make_error(error_kind::bad_request, "'stream' must be a boolean");
    req.stream = stream->get<bool>();
  }
  if (auto opts = doc->find("stream_options");
      opts != doc->end() && opts->is_object()) {
    if (auto inc = opts->find("include_usage");
        inc != opts->end() && inc->is_boolean())
      req.include_usage = inc->get<bool>();
  }
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    auto i = doc->find(key);
    if (i == doc->end() || i->is_null())
      continue;
    if (!i->is_number_integer() || i->get<int64_t>() < 1
        || i->get<int64_t>() > UINT32_MAX)
      return make_error(error_kind::bad_request,
                        std::string{"'"} + key
                          + "' must be a positive integer");
    req.max_tokens = static_cast<uint32_t>(i->get<int64_t>());
  }
  if (auto fmt = doc->find("response_format");
      fmt != doc->end() && fmt->is_object()) {
    auto type = fmt->value("type", std::string{});
    if (type == "json_schema") {
      req.json_output = true;
      if (auto js = fmt->find("json_schema");
          js != fmt->end() && js->is_object() && js->contains("schema"))
        req.json_schema = dump((*js)["schema"]);
    } else if (type == "json_object") {
      req.json_output = true;
      if (auto schema = fmt->find("schema"); schema != fmt->end())
        req.json_schema = dump(*schema);
    }
  }
  for (const char* key : {"guided_json", "json_schema"}) {
    if (auto i = doc->find(key); i != doc->end() && i->is_object()) {
      req.json_output = true;
      req.json_schema = dump(*i);
    }
  }
  return req;
}

size_t prompt_tokens(const chat_request& req) noexcept {
  size_t result = 0;
  for (const auto& msg : req.messages)
    result += count_tokens(msg.content);
  return result;
}

expected<std::string> parse_tokenize_request(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc)
    return std::move(doc.error());
  if (auto prompt = doc->find("prompt"); prompt != doc->end()) {
    if (!prompt->is_string())
      return make_error(error_kind::bad_request, "'prompt' must be a string");
    return prompt->get<std::string>();
  }
  if (auto content = doc->find("content"); content != doc->end()) {
    if (!content->is_string())
      return make_error(error_kind::bad_request, "'content' must be a string");
    return content->get<std::string>();
  }
  if (auto msgs = doc->find("messages"); msgs != doc->end()) {
    auto parsed = parse_messages(*msgs);
    if (!parsed)
      return std::move(parsed.error());
    std::string text;
    for (const auto& msg : *parsed)
      text += msg.content;
    return text;
  }
  return make_error(error_kind::bad_request,
                    "the request needs 'prompt' or 'messages'");
}

namespace {

std::string
field_value(const std::vector<std::pair<std::string, std::string>>& fields,
            std::string_view key) {
  // Record fields are labelled ("Extracted information"); schema keys are
  // snake_case ("extracted_information"). Compare on the first word.
  auto first_word = [](std::string_view x) {
    std::string word;
    for (char c : x) {
      if (c == ' ' || c == '_')
        break;
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return word;
  };
  auto wanted = first_word(key);
  for (const auto& [label, value] : fields)
    if (first_word(label) == wanted)
      return value;
  return {};
}

json instance_of(const json& schema,
                 const std::vector<std::pair<std::string, std::string>>& fields,
                 std::string_view text, std::string_view name, int depth) {
  auto type = schema.is_object() ? schema.value("type", json()) : json();
  if (type.is_array() && !type.empty())
    type = type[0];
  auto t = type.is_string() ? type.get<std::string>() : std::string{};
  if (schema.is_object() && schema.contains("enum") && schema["enum"].is_array()
      && !schema["enum"].empty())
    return schema["enum"][0];
  if (t == "object"
      || (t.empty() && schema.is_object() && schema.contains("properties"))) {
    json result = json::object();
    if (depth > 8)
      return result;
    if (auto props = schema.find("properties");
        props != schema.end() && props->is_object())
      for (auto& [key, sub] : props->items())
        result[key] = instance_of(sub, fields, text, key, depth + 1);
    return result;
  }
  if (t == "array") {
    auto items = schema.contains("items") ? schema["items"] : json::object();
    return json::array({instance_of(items, fields, text, name, depth + 1)});
  }
  auto value = field_value(fields, name);
  if (t == "number" || t == "integer") {
    double x = value.empty() ? 0 : std::strtod(value.c_str(), nullptr);
    if (t == "integer")
      return static_cast<int64_t>(x);
    return x;
  }
  if (t == "boolean")
    return true;
  if (t == "null")
    return nullptr;
  return value.empty() ? std::string{text} : value;
}

} // namespace

std::string
fill_schema(std::string_view schema,
            const std::vector<std::pair<std::string, std::string>>& fields,
            std::string_view text) {
  auto doc = schema.empty() ? json() : json::parse(schema, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.empty()) {
    // No usable schema: an object with the fields (or the text).
    json result = json::object();
    for (const auto& [label, value] : fields) {
      std::string key;
      for (char c : label)
        key
          += c == ' '
               ? '_'
               : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result[key] = value;
    }
    if (result.empty())
      result["text"] = text;
    return dump(result);
  }
  return dump(instance_of(doc, fields, text, "", 0));
}

std::string error_body(error_shape shape, int status, std::string_view message,
                       std::string_view type, std::string_view code,
                       std::string_view param) {
  json body;
  switch (shape) {
  case error_shape::openai: {
    json err{{"message", message}, {"type", type}};
    err["param"] = param.empty() ? json(nullptr) : json(param);
    err["code"] = code.empty() ? json(nullptr) : json(code);
    body["error"] = std::move(err);
    break;
  }
  case error_shape::vllm: {
    std::string vtype = status == 400   ? "BadRequestError"
                        : status == 401 ? "AuthenticationError"
                        : status == 404 ? "NotFoundError"
                        : status == 429 ? "RateLimitError"
                        : status == 503 ? "ServiceUnavailableError"
                                        : "InternalServerError";
    body = json{{"object", "error"},
                {"message", message},
                {"type", vtype},
                {"param", param.empty() ? json(nullptr) : json(param)},
                {"code", status}};
    break;
  }
  case error_shape::tgi: {
    std::string ttype = status == 400   ? "validation"
                        : status == 429 ? "overloaded"
                        : status == 401 ? "authentication"
                        : status == 404 ? "not_found"
                        : status == 503 ? "overloaded"
                                        : "generation";
    body = json{{"error", message}, {"error_type", ttype}};
    break;
  }
  }
  return dump(body);
}

std::string completion_json(const completion_info& info) {
  json msg{{"role", "assistant"},
           {"content", info.null_content ? json(nullptr) : json(info.content)}};
  json choice{{"index", 0},
              {"message", std::move(msg)},
              {"logprobs", nullptr},
              {"finish_reason", info.finish_reason}};
  json body{{"id", info.id},
            {"object", "chat.completion"},
            {"created", info.created},
            {"model", info.model},
            {"choices", json::array({std::move(choice)})},
            {"usage", usage_json(info)}};
  return dump(body);
}

std::string role_chunk_json(const completion_info& info) {
  auto body = base_chunk(info);
  body["choices"]
    = json::array({json{{"index", 0},
                        {"delta", {{"role", "assistant"}, {"content", ""}}},
                        {"logprobs", nullptr},
                        {"finish_reason", nullptr}}});
  return dump(body);
}

std::string delta_chunk_json(const completion_info& info,
                             std::string_view text) {
  auto body = base_chunk(info);
  body["choices"] = json::array({json{{"index", 0},
                                      {"delta", {{"content", text}}},
                                      {"logprobs", nullptr},
                                      {"finish_reason", nullptr}}});
  return dump(body);
}

std::string finish_chunk_json(const completion_info& info) {
  auto body = base_chunk(info);
  body["choices"] = json::array({json{{"index", 0},
                                      {"delta", json::object()},
                                      {"logprobs", nullptr},
                                      {"finish_reason", info.finish_reason}}});
  return dump(body);
}

std::string usage_chunk_json(const completion_info& info) {
  auto body = base_chunk(info);
  body["choices"] = json::array();
  body["usage"] = usage_json(info);
  return dump(body);
}

std::string sse_event(std::string_view json_text) {
  std::string result;
  result.reserve(json_text.size() + 8);
  result += "data: ";
  result += json_text;
  result += "\n\n";
  return result;
}

std::string http_chunk(std::string_view data) {
  char size[20];
  auto [ptr, ec] = std::to_chars(size, size + sizeof(size), data.size(), 16);
  std::string result{size, ptr};
  result += "\r\n";
  result += data;
  result += "\r\n";
  return result;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 413:
    return "Payload Too Large";
  case 429:
    return "Too Many Requests";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Unknown";
  }
}

std::string
response_head(int status, std::string_view content_type,
              const std::vector<std::pair<std::string, std::string>>& fields,
              std::optional<size_t> content_length, bool keep_alive) {
  std::string result = "HTTP/1.1 " + std::to_string(status) + " ";
  result += reason_phrase(status);
  result += "\r\nServer: llmmr-sim\r\nContent-Type: ";
  result += content_type;
  result += "\r\n";
  for (const auto& [name, value] : fields) {
    result += name;
    result += ": ";
    result += value;
    result += "\r\n";
  }
  if (content_length)
    result += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  else
    result += "Transfer-Encoding: chunked\r\n";
  if (!keep_alive)
    result += "Connection: close\r\n";
  result += "\r\n";
  return result;
}

} // namespace llmmr::sim
