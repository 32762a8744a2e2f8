// File output that never leaves a half-written file behind: write to a temporary file beside the
// target, flush, then rename over it (atomic on POSIX file systems).
#pragma once

#include <filesystem>
#include <string_view>

namespace roofline {

/// Writes `content` to `path` atomically; throws roofline::Error naming the path on failure, leaving any
/// existing file untouched.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace roofline
