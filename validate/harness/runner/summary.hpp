// A short human summary of a directory of measurement records (roofline-validate --summary DIR): per suite
// the record and error counts, and the headline numbers (bandwidths, launch costs, GEMM ceilings, counter
// bytes against the workload's own). Reading goes through the strict record reader, so it is also a schema
// check of everything in the directory.
#pragma once

#include <filesystem>
#include <iosfwd>

namespace roofline::validate::runner {

/// Prints the summary to `out`; returns the number of files that failed to parse (0 when all are valid).
int print_summary(const std::filesystem::path& dir, std::ostream& out);

}  // namespace roofline::validate::runner
