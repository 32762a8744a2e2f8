// roofline: predicts LLM inference time on NVIDIA GPUs and recommends quantisation (see README.md).
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

#include "command.hpp"
#include "roofline/errors.hpp"

namespace roofline::cli {

namespace {
std::multimap<int, CommandSetup>& registry() {
  static std::multimap<int, CommandSetup> r;
  return r;
}
}  // namespace

bool register_command(int order, CommandSetup setup) {
  registry().emplace(order, std::move(setup));
  return true;
}

std::vector<CommandSetup> registered_commands() {
  std::vector<CommandSetup> out;
  for (auto& [order, setup] : registry()) out.push_back(setup);
  return out;
}

}  // namespace roofline::cli

int main(int argc, char** argv) {
  using namespace roofline::cli;
  CLI::App app{"roofline: predicts how fast LLM inference runs on NVIDIA GPUs, with stated error, and "
               "recommends how to quantise it."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "roofline 0.1.0");
  int exit_code = exit_ok;
  for (const CommandSetup& setup : registered_commands()) setup(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : exit_bad_input;
  } catch (const roofline::Error& e) {
    std::cerr << "roofline: error: " << e.what() << '\n';
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::cerr << "roofline: internal error: " << e.what() << '\n';
    return 3;
  }
  return exit_code;
}
