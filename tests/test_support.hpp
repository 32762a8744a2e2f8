// Helpers shared by the doctest files: paths into the source tree and the shipped registries.
#pragma once

#include <filesystem>
#include <string>

#include "roofline/hardware.hpp"
#include "roofline/model.hpp"

namespace roofline::test {

inline std::filesystem::path source_dir() { return ROOFLINE_SOURCE_DIR; }
inline std::filesystem::path bad(const std::string& name) { return source_dir() / "tests" / "data" / "bad" / name; }
inline std::filesystem::path data(const std::string& name) { return source_dir() / "tests" / "data" / name; }

inline const HardwareRegistry& hardware() {
  static const HardwareRegistry r = HardwareRegistry::load_directory(source_dir() / "hw_profiles");
  return r;
}
inline const ModelRegistry& models() {
  static const ModelRegistry r = ModelRegistry::load_directory(source_dir() / "models");
  return r;
}

}  // namespace roofline::test
