#include "detail/json_reader.hpp"

#include <cmath>
#include <sstream>

namespace roofline::detail {

namespace {
std::string join_path(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::string type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "something else";
  }
}
}  // namespace

nlohmann::json parse_json(const std::string& text, const std::string& file, int line_offset) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the 1-based offset of the error; convert to line and column.
    int line = 1, column = 1;
    for (std::size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    // nlohmann's text repeats the position ("parse error at line 1, column 2: syntax error ..."): keep the
    // part after the position, since ours is in front.
    std::string msg = e.what();
    const auto colon = msg.find(": ", msg.find("parse error"));
    if (colon != std::string::npos) msg = msg.substr(colon + 2);
    throw ConfigError({file, line + line_offset, column}, "", "JSON " + msg);
  }
}

JsonObject::JsonObject(const nlohmann::json& j, std::string file, int line, std::string path)
    : j_(&j), file_(std::move(file)), line_(line), path_(std::move(path)) {
  if (!j_->is_object()) throw ConfigError({file_, line_, 0}, path_, "must be a JSON object, got " + type_name(*j_));
}

void JsonObject::fail(const std::string& key, const std::string& problem) const {
  throw ConfigError({file_, line_, 0}, join_path(path_, key), problem);
}

void JsonObject::allow_only(std::initializer_list<const char*> allowed) const {
  for (auto it = j_->begin(); it != j_->end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) {  // build the sorted list only for the message
      std::set<std::string> s;
      for (const char* a : allowed) s.insert(a);
      allow_only(s);
    }
  }
}

void JsonObject::allow_only(const std::set<std::string>& allowed) const {
  for (auto it = j_->begin(); it != j_->end(); ++it) {
    if (!allowed.count(it.key())) {
      std::string known;
      for (const std::string& a : allowed) known += (known.empty() ? "" : ", ") + a;
      fail(it.key(), "unknown key (allowed: " + known + ")");
    }
  }
}

const nlohmann::json& JsonObject::child(const std::string& key) const {
  auto it = j_->find(key);
  if (it == j_->end()) throw ConfigError({file_, line_, 0}, path_, "missing required key '" + key + "'");
  return *it;
}

JsonObject JsonObject::object(const std::string& key) const { return JsonObject(child(key), file_, line_, join_path(path_, key)); }

std::string JsonObject::string(const std::string& key) const {
  const nlohmann::json& c = child(key);
  if (!c.is_string()) fail(key, "must be a string, got " + type_name(c));
  const std::string s = c.get<std::string>();
  if (s.empty()) fail(key, "must not be empty");
  return s;
}

std::string JsonObject::choice(const std::string& key, const std::vector<std::string>& choices) const {
  const std::string s = string(key);
  for (const std::string& c : choices)
    if (c == s) return s;
  std::string known;
  for (const std::string& c : choices) known += (known.empty() ? "" : ", ") + c;
  fail(key, "must be one of " + known + ", got '" + s + "'");
}

std::string_view JsonObject::choice(const std::string& key, std::initializer_list<std::string_view> choices) const {
  const nlohmann::json& c = child(key);
  if (!c.is_string()) fail(key, "must be a string, got " + type_name(c));
  const std::string& s = c.get_ref<const std::string&>();
  for (std::string_view ch : choices)
    if (ch == s) return ch;
  std::string known;
  for (std::string_view ch : choices) known += (known.empty() ? "" : ", ") + std::string(ch);
  fail(key, "must be one of " + known + ", got '" + s + "'");
}

double JsonObject::number(const std::string& key) const {
  const nlohmann::json& c = child(key);
  if (!c.is_number()) fail(key, "must be a number, got " + type_name(c));
  const double v = c.get<double>();
  if (!std::isfinite(v)) fail(key, "must be finite");
  return v;
}

double JsonObject::positive(const std::string& key) const {
  const double v = number(key);
  if (!(v > 0)) {
    std::ostringstream os;
    os << "must be > 0, got " << v;
    fail(key, os.str());
  }
  return v;
}

std::int64_t JsonObject::positive_integer(const std::string& key) const {
  const nlohmann::json& c = child(key);
  std::int64_t v = 0;
  if (c.is_number_integer()) {
    v = c.get<std::int64_t>();
  } else if (c.is_number_unsigned()) {
    const std::uint64_t u = c.get<std::uint64_t>();
    if (u > std::uint64_t(INT64_MAX)) fail(key, "is too large");
    v = std::int64_t(u);
  } else {
    fail(key, "must be an integer, got " + type_name(c));
  }
  if (v < 1) fail(key, "must be >= 1, got " + std::to_string(v));
  return v;
}

std::optional<std::int64_t> JsonObject::optional_positive_integer(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return positive_integer(key);
}

bool JsonObject::boolean(const std::string& key) const {
  const nlohmann::json& c = child(key);
  if (!c.is_boolean()) fail(key, "must be true or false, got " + type_name(c));
  return c.get<bool>();
}

std::optional<bool> JsonObject::optional_boolean(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return boolean(key);
}

std::optional<double> JsonObject::optional_number(const std::string& key) const {
  if (!has(key) || child(key).is_null()) return std::nullopt;
  return number(key);
}

}  // namespace roofline::detail
