// The roofline CLI: each subcommand lives in its own cmd_<name>.cpp and registers itself here.
// Commands parse arguments, call the library and format output; no modelling happens in apps/.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace roofline::cli {

/// Exit codes: 0 success, 1 some inputs failed but the rest was processed, 2 bad input or usage.
inline constexpr int exit_ok = 0;
inline constexpr int exit_partial = 1;
inline constexpr int exit_bad_input = 2;

/// A subcommand's setup: adds its CLI::App to the parent and sets the callback. The callback
/// stores its exit code in `exit_code`; it may throw roofline::Error (reported as exit 2).
using CommandSetup = std::function<void(CLI::App& parent, int& exit_code)>;

/// Registers a subcommand; `order` sorts the --help listing. Returns true (for static registration).
bool register_command(int order, CommandSetup setup);

/// The registered subcommands in order.
std::vector<CommandSetup> registered_commands();

}  // namespace roofline::cli
