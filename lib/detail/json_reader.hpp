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

/// A flat JSON object read without building a document: the fast path of batch prediction. It reads only
/// objects whose values are strings of printable ASCII without escapes, numbers, true, false or null, with
/// unique keys. Its accessors mirror JsonObject's and return what JsonObject returns for the same text;
/// wherever JsonObject would report an error (and for any text parse() refuses), the caller reads the text
/// again with parse_json and JsonObject, which then report it with its position: NotFlat is thrown for that.
class FlatJsonObject {
 public:
  struct NotFlat {};

  /// False when `text` is not such an object (the caller then takes the general path). `text` must outlive
  /// the object.
  bool parse(std::string_view text);

  bool has(std::string_view key) const { return find(key) != nullptr; }
  void allow_only(std::initializer_list<std::string_view> allowed) const;
  std::string string(std::string_view key) const;
  std::string_view choice(std::string_view key, std::initializer_list<std::string_view> choices) const;
  std::int64_t positive_integer(std::string_view key) const;
  std::optional<std::int64_t> optional_positive_integer(std::string_view key) const;
  bool boolean(std::string_view key) const;
  std::optional<double> optional_number(std::string_view key) const;
  [[noreturn]] void fail(std::string_view key, std::string_view problem) const;

 private:
  enum class Kind : std::uint8_t { string, integer, number, boolean, null };
  struct Member {
    std::string_view key;
    Kind kind = Kind::null;
    std::string_view text;  ///< the string's characters, or the number's literal
    bool boolean = false;
  };
  const Member& get(std::string_view key) const;  ///< throws NotFlat when absent
  const Member* find(std::string_view key) const;
  static constexpr int max_members = 16;
  Member members_[max_members];
  int count_ = 0;
};

}  // namespace roofline::detail
