#include "detail/yaml_reader.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

namespace roofline::detail {

namespace {
std::string join_path(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

FileLocation location_of(const YAML::Node& node, const std::string& file) {
  const YAML::Mark m = node.Mark();
  if (m.is_null()) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

YAML::Node load_yaml_text(const std::string& text, const std::string& name) {
  if (text.find('\0') != std::string::npos) throw ConfigError({name, 0, 0}, "", "not a text YAML file (contains NUL bytes)");
  bool blank = true;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      blank = false;
      break;
    }
  }
  if (blank) throw ConfigError({name, 0, 0}, "", "empty file");
  try {
    YAML::Node doc = YAML::Load(text);
    if (doc.IsNull()) throw ConfigError({name, 0, 0}, "", "empty document (only comments)");
    return doc;
  } catch (const YAML::ParserException& e) {
    throw ConfigError({name, e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError({name, e.mark.line + 1, e.mark.column + 1}, "", std::string("YAML error: ") + e.msg);
  }
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({path.string(), 0, 0}, "", "cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_yaml_text(ss.str(), path.string());
}

YamlMap::YamlMap(const YAML::Node& node, std::string file, std::string path)
    : node_(node), file_(std::move(file)), path_(std::move(path)) {
  if (!node_.IsMap()) {
    throw ConfigError(location_of(node_, file_), path_, "must be a mapping, got " + describe(node_));
  }
  std::set<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (!seen.insert(key).second) {
      throw ConfigError(location_of(it->first, file_), join_path(path_, key), "duplicate key");
    }
  }
}

YamlMap root_map(const YAML::Node& doc, const std::string& file) { return YamlMap(doc, file, ""); }

bool YamlMap::has(const std::string& key) const {
  const YAML::Node n = node_[key];
  return n.IsDefined();
}

void YamlMap::allow_only(std::initializer_list<const char*> allowed) const {
  std::set<std::string> s;
  for (const char* a : allowed) s.insert(a);
  allow_only(s);
}

void YamlMap::allow_only(const std::set<std::string>& allowed) const {
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (!allowed.count(key)) {
      std::string known;
      for (const std::string& a : allowed) known += (known.empty() ? "" : ", ") + a;
      throw ConfigError(location_of(it->first, file_), join_path(path_, key), "unknown key (allowed: " + known + ")");
    }
  }
}

const YAML::Node YamlMap::child(const std::string& key) const {
  const YAML::Node n = node_[key];
  if (!n.IsDefined()) fail_here("missing required key '" + key + "'");
  return n;
}

std::string YamlMap::child_path(const std::string& key) const { return join_path(path_, key); }

void YamlMap::fail(const std::string& key, const std::string& problem) const {
  const YAML::Node n = node_[key];
  throw ConfigError(location_of(n.IsDefined() ? n : node_, file_), join_path(path_, key), problem);
}

void YamlMap::fail_here(const std::string& problem) const {
  throw ConfigError(location_of(node_, file_), path_, problem);
}

YamlMap YamlMap::map(const std::string& key) const { return YamlMap(child(key), file_, join_path(path_, key)); }

std::string YamlMap::string(const std::string& key) const {
  const YAML::Node n = child(key);
  if (!n.IsScalar()) fail(key, "must be a string, got " + describe(n));
  const std::string s = n.Scalar();
  if (s.empty()) fail(key, "must not be empty");
  return s;
}

std::optional<std::string> YamlMap::optional_string(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return string(key);
}

bool YamlMap::boolean(const std::string& key) const {
  const YAML::Node n = child(key);
  if (n.IsScalar()) {
    const std::string s = n.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  fail(key, "must be true or false, got " + describe(n));
}

std::optional<bool> YamlMap::optional_boolean(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return boolean(key);
}

double YamlMap::number(const std::string& key) const {
  const YAML::Node n = child(key);
  if (!n.IsScalar()) fail(key, "must be a number, got " + describe(n));
  const std::string s = n.Scalar();
  double v = 0;
  std::size_t used = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size()) fail(key, "must be a number, got '" + s + "'");
  if (!std::isfinite(v)) fail(key, "must be finite, got '" + s + "'");
  return v;
}

double YamlMap::positive(const std::string& key) const {
  const double v = number(key);
  if (!(v > 0)) fail(key, "must be > 0, got " + format_number(v));
  return v;
}

std::int64_t YamlMap::integer(const std::string& key) const {
  const YAML::Node n = child(key);
  if (!n.IsScalar()) fail(key, "must be an integer, got " + describe(n));
  const std::string s = n.Scalar();
  std::int64_t v = 0;
  std::size_t used = 0;
  try {
    v = std::stoll(s, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size()) fail(key, "must be an integer, got '" + s + "'");
  return v;
}

std::int64_t YamlMap::positive_integer(const std::string& key) const {
  const std::int64_t v = integer(key);
  if (v < 1) fail(key, "must be >= 1, got " + std::to_string(v));
  return v;
}

std::optional<std::int64_t> YamlMap::optional_positive_integer(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return positive_integer(key);
}

std::vector<std::string> YamlMap::string_list(const std::string& key) const {
  const YAML::Node n = child(key);
  if (!n.IsSequence()) fail(key, "must be a list of strings, got " + describe(n));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const YAML::Node e = n[i];
    if (!e.IsScalar() || e.Scalar().empty()) {
      throw ConfigError(location_of(e, file_), join_path(path_, key) + "[" + std::to_string(i) + "]",
                        "must be a non-empty string, got " + describe(e));
    }
    out.push_back(e.Scalar());
  }
  return out;
}

std::string YamlMap::choice(const std::string& key, const std::vector<std::string>& choices) const {
  const std::string s = string(key);
  for (const std::string& c : choices)
    if (c == s) return s;
  std::string known;
  for (const std::string& c : choices) known += (known.empty() ? "" : ", ") + c;
  fail(key, "must be one of " + known + ", got '" + s + "'");
}

}  // namespace roofline::detail
