// Helpers shared by the CLI's subcommands: resolving --hw/--hw-file and --model/--model-file, output
// formats, a plain-text table printer. No modelling here.
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"

namespace roofline::cli {

struct HardwareChoice {
  std::string name;
  std::string file;
};
/// Adds --hw NAME and --hw-file FILE (exactly one is required unless `required` is false).
void add_hardware_options(CLI::App* app, HardwareChoice& choice);
/// The chosen GPU: a user file is added to the registry; naming both or neither is an error.
const HardwareSpec& resolve_hardware(HardwareRegistry& registry, const HardwareChoice& choice);

struct ModelChoice {
  std::string name;
  std::string file;
};
void add_model_options(CLI::App* app, ModelChoice& choice);
const ModelConfig& resolve_model(ModelRegistry& registry, const ModelChoice& choice);

/// A left-aligned first column, right-aligned other columns, widths from the content.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& os) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// "1.23e+09"-style compact number for tables.
std::string compact(double v);
/// Percent with one decimal, e.g. 0.1234 -> "12.3%".
std::string percent(double fraction);
/// A CSV field, quoted when needed.
std::string csv_field(const std::string& s);

}  // namespace roofline::cli
