#include "cli_common.hpp"

#include <algorithm>
#include <cstdio>

#include "roofline/errors.hpp"

namespace roofline::cli {

void add_hardware_options(CLI::App* app, HardwareChoice& choice) {
  app->add_option("--hw", choice.name, "GPU name from hw_profiles/ (see `roofline hw list`)");
  app->add_option("--hw-file", choice.file, "a hardware profile YAML file of your own")->check(CLI::ExistingFile);
}

const HardwareSpec& resolve_hardware(HardwareRegistry& registry, const HardwareChoice& choice) {
  if (!choice.name.empty() && !choice.file.empty())
    throw InvalidArgumentError("give either --hw or --hw-file, not both");
  if (!choice.file.empty()) return registry.add_file(choice.file);
  if (choice.name.empty()) throw InvalidArgumentError("a GPU is required: --hw NAME or --hw-file FILE");
  return registry.get(choice.name);
}

void add_model_options(CLI::App* app, ModelChoice& choice) {
  app->add_option("--model", choice.name, "model name from models/ (see `roofline models list`)");
  app->add_option("--model-file", choice.file, "a model YAML file or a Hugging Face config.json")->check(CLI::ExistingFile);
}

const ModelConfig& resolve_model(ModelRegistry& registry, const ModelChoice& choice) {
  if (!choice.name.empty() && !choice.file.empty())
    throw InvalidArgumentError("give either --model or --model-file, not both");
  if (!choice.file.empty()) return registry.add_file(choice.file);
  if (choice.name.empty()) throw InvalidArgumentError("a model is required: --model NAME or --model-file FILE");
  return registry.get(choice.name);
}

void TextTable::print(std::ostream& os) const {
  std::vector<std::size_t> w(header_.size(), 0);
  for (std::size_t i = 0; i < header_.size(); ++i) w[i] = header_[i].size();
  for (const auto& r : rows_)
    for (std::size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < w.size(); ++i) {
      const std::string& c = i < r.size() ? r[i] : std::string();
      const std::string pad(w[i] - std::min(w[i], c.size()), ' ');
      if (i) os << "  ";
      if (i == 0) os << c << pad;
      else os << pad << c;
    }
    os << '\n';
  };
  line(header_);
  std::size_t total = 0;
  for (std::size_t x : w) total += x + 2;
  os << std::string(total > 2 ? total - 2 : 0, '-') << '\n';
  for (const auto& r : rows_) line(r);
}

std::string compact(double v) {
  char buf[32];
  if (v == 0) return "0";
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100.0);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace roofline::cli
