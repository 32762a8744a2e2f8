// Strict JSON reading with positions: errors name file:line:column (of the object, when a key is
// missing) and the key path. Private to lib/.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/errors.hpp"

namespace roofline::detail {

/// Parses one JSON document; a syntax error becomes a ConfigError with line and column (line_offset is
/// added to the line, for documents that are one line of a larger file).
nlohmann::json parse_json(const std::string& text, const std::string& file, int line_offset = 0);

/// A view of a JSON object with its location and key path (the referenced document must outlive it).
class JsonObject {
 public:
  JsonObject(const nlohmann::json& j, std::string file, int line, std::string path);

  const nlohmann::json& json() const { return *j_; }
  bool has(const std::string& key) const { return j_->contains(key); }
  void allow_only(std::initializer_list<const char*> allowed) const;
  void allow_only(const std::set<std::string>& allowed) const;

  JsonObject object(const std::string& key) const;
  std::string string(const std::string& key) const;
  std::string choice(const std::string& key, const std::vector<std::string>& choices) const;
  /// The same without allocating the list (hot path of batch prediction).
  std::string_view choice(const std::string& key, std::initializer_list<std::string_view> choices) const;
  double number(const std::string& key) const;
  double positive(const std::string& key) const;
  std::int64_t positive_integer(const std::string& key) const;
  std::optional<std::int64_t> optional_positive_integer(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::optional<bool> optional_boolean(const std::string& key) const;
  std::optional<double> optional_number(const std::string& key) const;

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  const nlohmann::json& child(const std::string& key) const;
  const nlohmann::json* j_;  ///< not owned: the document outlives the view
  std::string file_;
  int line_;
  std::string path_;
};

}  // namespace roofline::detail
