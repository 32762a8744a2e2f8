#include "roofline/errors.hpp"

#include <sstream>

namespace roofline {

namespace {
std::string config_message(const FileLocation& where, const std::string& key_path, const std::string& problem) {
  std::ostringstream os;
  os << (where.file.empty() ? std::string("<input>") : where.file);
  if (where.line > 0) {
    os << ':' << where.line;
    if (where.column > 0) os << ':' << where.column;
  }
  os << ": ";
  if (!key_path.empty()) os << key_path << ": ";
  os << problem;
  return os.str();
}

std::string unknown_message(const std::string& kind, const std::string& name, const std::vector<std::string>& known) {
  std::ostringstream os;
  os << "unknown " << kind << " '" << name << "'; known: ";
  for (std::size_t i = 0; i < known.size(); ++i) os << (i ? ", " : "") << known[i];
  if (known.empty()) os << "(none)";
  return os.str();
}
}  // namespace

ConfigError::ConfigError(FileLocation where, std::string key_path, std::string problem)
    : Error(config_message(where, key_path, problem)),
      where_(std::move(where)),
      key_path_(std::move(key_path)),
      problem_(std::move(problem)) {}

UnknownNameError::UnknownNameError(std::string kind, std::string name, std::vector<std::string> known)
    : Error(unknown_message(kind, name, known)), kind_(std::move(kind)), name_(std::move(name)), known_(std::move(known)) {}

void require_positive(const char* what, double value) {
  if (!(value > 0)) {
    std::ostringstream os;
    os << what << ": must be > 0, got " << value;
    throw InvalidArgumentError(os.str());
  }
}

}  // namespace roofline
