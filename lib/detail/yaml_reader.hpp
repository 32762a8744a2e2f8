// Strict YAML reading: every lookup is through a const node, every error names file:line:column and
// the key path, unknown keys are errors, and numbers are range-checked. Private to lib/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "roofline/errors.hpp"

namespace roofline::detail {

/// Loads a YAML document, rejecting missing, empty, binary and syntactically broken files with a
/// ConfigError naming the file (and line/column for syntax errors).
YAML::Node load_yaml_file(const std::filesystem::path& path);
/// Parses YAML text; `name` is used in error messages.
YAML::Node load_yaml_text(const std::string& text, const std::string& name);

/// A view of one YAML mapping with its key path; lookups check types and report positions.
class YamlMap {
 public:
  YamlMap(const YAML::Node& node, std::string file, std::string path);

  const YAML::Node& node() const { return node_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

  bool has(const std::string& key) const;
  /// Throws unless every key of the mapping is in `allowed`.
  void allow_only(std::initializer_list<const char*> allowed) const;
  void allow_only(const std::set<std::string>& allowed) const;

  YamlMap map(const std::string& key) const;
  std::string string(const std::string& key) const;
  std::optional<std::string> optional_string(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::optional<bool> optional_boolean(const std::string& key) const;
  double number(const std::string& key) const;  ///< any finite number
  double positive(const std::string& key) const;  ///< > 0
  std::int64_t integer(const std::string& key) const;
  std::int64_t positive_integer(const std::string& key) const;  ///< >= 1
  std::optional<std::int64_t> optional_positive_integer(const std::string& key) const;
  std::vector<std::string> string_list(const std::string& key) const;
  /// One of `choices`; the error lists them.
  std::string choice(const std::string& key, const std::vector<std::string>& choices) const;

  /// The child node (must exist) and its path, for callers that dispatch on its kind.
  const YAML::Node child(const std::string& key) const;
  std::string child_path(const std::string& key) const;

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;
  [[noreturn]] void fail_here(const std::string& problem) const;

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

/// A YamlMap for the document root, which must be a mapping.
YamlMap root_map(const YAML::Node& doc, const std::string& file);

/// Location of a node (1-based line and column).
FileLocation location_of(const YAML::Node& node, const std::string& file);

}  // namespace roofline::detail
