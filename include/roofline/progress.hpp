// A progress bar for long runs (validate suites, calibration sweeps): redrawn in place on a terminal,
// silent when the stream is not a terminal (a log file, a pipe, CI), so logs never fill with redraws.
// Assumption: one bar at a time per stream; redraws are throttled to 10 per second.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace roofline {

/// One line of a progress bar, `columns` characters wide at most:
/// "label [#########.........]  42/100  42%  0:12 left  item". Elapsed and remaining time come from
/// `elapsed_s` and the rate so far (no estimate before the first item is done); `total` 0 draws no bar.
std::string progress_line(std::string_view label, std::int64_t done, std::int64_t total, double elapsed_s,
                          std::string_view item, int columns);

/// "0:07", "12:34", "1:02:03": a duration in seconds as [h:]mm:ss.
std::string format_duration_s(double seconds);

class ProgressBar {
 public:
  /// A bar on `stream` (default stderr), enabled when the stream is a terminal (isatty) and the
  /// environment does not set ROOFLINE_NO_PROGRESS.
  ProgressBar(std::string label, std::int64_t total, std::FILE* stream = stderr);
  /// A bar whose enabled state is given (tests, or a caller that knows better).
  ProgressBar(std::string label, std::int64_t total, std::FILE* stream, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Marks `n` more items done; `item` names the one now running (shown at the end of the line).
  void advance(std::int64_t n = 1, std::string_view item = {});
  /// Sets the count of items done.
  void set(std::int64_t done, std::string_view item = {});
  /// Changes the total (a sweep that learns its size as it goes).
  void set_total(std::int64_t total);
  /// Draws the final state and ends the line; later calls do nothing. Called by the destructor.
  void finish();
  /// Prints a message on its own line above the bar (the bar is redrawn below it); on a stream that is
  /// not a terminal the message is printed as is.
  void message(std::string_view text);

  bool enabled() const { return enabled_; }
  std::int64_t done() const { return done_; }

 private:
  void draw(bool force);
  std::string label_;
  std::int64_t total_ = 0;
  std::int64_t done_ = 0;
  std::string item_;
  std::FILE* stream_ = nullptr;
  bool enabled_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::mutex mutex_;
};

/// Columns of the terminal behind `stream` (TIOCGWINSZ), else $COLUMNS, else 80.
int terminal_columns(std::FILE* stream);

}  // namespace roofline
