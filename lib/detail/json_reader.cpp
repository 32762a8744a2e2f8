#include "detail/json_reader.hpp"

#include <charconv>
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
  } catch (const nlohmann::json::out_of_range& e) {
    // A number no double can hold ("1e400"): nlohmann gives no position, so the line is reported.
    std::string msg = e.what();
    const auto bracket = msg.find("] ");
    if (bracket != std::string::npos) msg = msg.substr(bracket + 2);
    throw ConfigError({file, 1 + line_offset, 0}, "", "JSON " + msg);
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

// ---- FlatJsonObject ---------------------------------------------------------------------------------

namespace {
bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

// Key comparison without a library call: keys are a few characters long.
bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}
// A string's characters after its opening quote, up to the closing quote: printable ASCII without
// backslashes only (escapes, control characters and UTF-8 are left to nlohmann).
bool read_plain_string(std::string_view t, std::size_t& i, std::string_view& out) {
  const std::size_t start = i;
  while (i < t.size() && t[i] != '"') {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (c < 0x20 || c > 0x7e || c == '\\') return false;
    ++i;
  }
  if (i == t.size()) return false;
  out = t.substr(start, i - start);
  ++i;  // the closing quote
  return true;
}

// A JSON number literal (RFC 8259 grammar); `integer` when it has neither fraction nor exponent.
bool read_number(std::string_view t, std::size_t& i, std::string_view& out, bool& integer) {
  const std::size_t start = i;
  if (i < t.size() && t[i] == '-') ++i;
  if (i == t.size() || !digit(t[i])) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < t.size() && digit(t[i])) ++i;
  }
  integer = true;
  if (i < t.size() && t[i] == '.') {
    integer = false;
    ++i;
    if (i == t.size() || !digit(t[i])) return false;
    while (i < t.size() && digit(t[i])) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    integer = false;
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (i == t.size() || !digit(t[i])) return false;
    while (i < t.size() && digit(t[i])) ++i;
  }
  out = t.substr(start, i - start);
  return true;
}
}  // namespace

bool FlatJsonObject::parse(std::string_view t) {
  count_ = 0;
  std::size_t i = 0;
  auto skip = [&] {
    while (i < t.size() && json_space(t[i])) ++i;
  };
  skip();
  if (i == t.size() || t[i] != '{') return false;
  ++i;
  skip();
  if (i < t.size() && t[i] == '}') {
    ++i;
  } else {
    while (true) {
      if (count_ == max_members || i == t.size() || t[i] != '"') return false;
      Member m;
      ++i;
      if (!read_plain_string(t, i, m.key) || find(m.key)) return false;  // duplicate keys: nlohmann keeps the last
      skip();
      if (i == t.size() || t[i] != ':') return false;
      ++i;
      skip();
      if (i == t.size()) return false;
      const char c = t[i];
      if (c == '"') {
        ++i;
        m.kind = Kind::string;
        if (!read_plain_string(t, i, m.text)) return false;
      } else if (c == '-' || digit(c)) {
        bool integer = false;
        if (!read_number(t, i, m.text, integer)) return false;
        m.kind = integer ? Kind::integer : Kind::number;
        // nlohmann rejects numbers that overflow a double (out_of_range 406), and reads integers too long
        // for 64 bits as doubles: both are left to it.
        if (integer && m.text.size() > 18) return false;
        if (!integer) {
          double v = 0;
          const auto r = std::from_chars(m.text.data(), m.text.data() + m.text.size(), v);
          if (r.ec != std::errc() || !std::isfinite(v)) return false;
        }
      } else if (t.substr(i, 4) == "true" || t.substr(i, 4) == "null") {
        m.kind = c == 't' ? Kind::boolean : Kind::null;
        m.boolean = c == 't';
        i += 4;
      } else if (t.substr(i, 5) == "false") {
        m.kind = Kind::boolean;
        i += 5;
      } else {
        return false;  // objects, arrays, anything else
      }
      members_[count_++] = m;
      skip();
      if (i < t.size() && t[i] == ',') {
        ++i;
        skip();
        continue;
      }
      if (i < t.size() && t[i] == '}') {
        ++i;
        break;
      }
      return false;
    }
  }
  skip();
  return i == t.size();
}

const FlatJsonObject::Member* FlatJsonObject::find(std::string_view key) const {
  for (int i = 0; i < count_; ++i)
    if (same(members_[i].key, key)) return &members_[i];
  return nullptr;
}

const FlatJsonObject::Member& FlatJsonObject::get(std::string_view key) const {
  const Member* m = find(key);
  if (!m) throw NotFlat{};
  return *m;
}

void FlatJsonObject::fail(std::string_view, std::string_view) const { throw NotFlat{}; }

void FlatJsonObject::allow_only(std::initializer_list<std::string_view> allowed) const {
  for (int i = 0; i < count_; ++i) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || same(members_[i].key, a);
    if (!ok) throw NotFlat{};
  }
}

std::string FlatJsonObject::string(std::string_view key) const {
  const Member& m = get(key);
  if (m.kind != Kind::string || m.text.empty()) throw NotFlat{};
  return std::string(m.text);
}

std::string_view FlatJsonObject::choice(std::string_view key, std::initializer_list<std::string_view> choices) const {
  const Member& m = get(key);
  if (m.kind != Kind::string) throw NotFlat{};
  for (std::string_view c : choices)
    if (same(c, m.text)) return c;
  throw NotFlat{};
}

std::int64_t FlatJsonObject::positive_integer(std::string_view key) const {
  const Member& m = get(key);
  // parse() kept integer literals of up to 18 digits (below INT64_MAX); 0 and negative ones take the general
  // path (its errors).
  if (m.kind != Kind::integer || m.text[0] == '-' || m.text[0] == '0') throw NotFlat{};
  std::int64_t v = 0;
  for (char c : m.text) v = v * 10 + (c - '0');
  return v;
}

std::optional<std::int64_t> FlatJsonObject::optional_positive_integer(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return positive_integer(key);
}

bool FlatJsonObject::boolean(std::string_view key) const {
  const Member& m = get(key);
  if (m.kind != Kind::boolean) throw NotFlat{};
  return m.boolean;
}

std::optional<double> FlatJsonObject::optional_number(std::string_view key) const {
  const Member* m = find(key);
  if (!m || m->kind == Kind::null) return std::nullopt;
  if (m->kind != Kind::integer && m->kind != Kind::number) throw NotFlat{};
  if (m->kind == Kind::integer) {
    // nlohmann holds an integer literal in a 64-bit integer and converts it (-0 is 0); parse() kept only
    // literals of up to 18 digits, which fit.
    const bool negative = m->text[0] == '-';
    std::int64_t v = 0;
    for (char c : m->text.substr(negative ? 1 : 0)) v = v * 10 + (c - '0');
    return double(negative ? -v : v);
  }
  // A fraction or exponent: the correctly rounded value, as nlohmann's strtod gives (parse() kept only
  // finite ones).
  double v = 0;
  std::from_chars(m->text.data(), m->text.data() + m->text.size(), v);
  return v;
}

}  // namespace roofline::detail
