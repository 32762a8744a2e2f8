// Errors: bad input throws a roofline::Error subtype whose message names the file, line, column and key
// path (ConfigError) or lists the known names (UnknownNameError). Infeasibility is not an error: it is a
// value with a reason (see roofline.hpp). Nothing in the library calls exit().
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace roofline {

/// Base of every exception the library throws on bad input.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A position in a data file; line and column are 1-based, 0 when unknown.
struct FileLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

/// A data file (YAML or JSON) that is malformed or holds an invalid value.
/// what() reads "hw_profiles/h100_sxm.yaml:4:33: memory.bandwidth_bytes_per_s: must be > 0, got -1".
class ConfigError : public Error {
 public:
  ConfigError(FileLocation where, std::string key_path, std::string problem);
  const FileLocation& where() const noexcept { return where_; }
  const std::string& key_path() const noexcept { return key_path_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  FileLocation where_;
  std::string key_path_;
  std::string problem_;
};

/// A name (GPU, model, strategy, precision, operator) that is not known; the message lists the known ones.
class UnknownNameError : public Error {
 public:
  UnknownNameError(std::string kind, std::string name, std::vector<std::string> known);
  const std::string& kind() const noexcept { return kind_; }
  const std::string& name() const noexcept { return name_; }
  const std::vector<std::string>& known() const noexcept { return known_; }

 private:
  std::string kind_;
  std::string name_;
  std::vector<std::string> known_;
};

/// An argument that cannot describe a real workload (a batch of 0, a negative length, a head count that
/// does not divide, contradictory options).
class InvalidArgumentError : public Error {
 public:
  using Error::Error;
};

/// Throws InvalidArgumentError("<what>: must be > 0, got <value>") unless value > 0.
void require_positive(const char* what, double value);

}  // namespace roofline
