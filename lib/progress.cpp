#include "roofline/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace roofline {

std::string format_duration_s(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) seconds = 0;
  const long s = long(std::lround(seconds));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

namespace {
// Cuts `s` to at most `n` bytes without splitting a UTF-8 sequence.
std::string cut(std::string_view s, std::size_t n) {
  if (s.size() <= n) return std::string(s);
  std::size_t k = n;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return std::string(s.substr(0, k));
}
}  // namespace

std::string progress_line(std::string_view label, std::int64_t done, std::int64_t total, double elapsed_s,
                          std::string_view item, int columns) {
  columns = std::max(columns, 20);
  std::string counts, times;
  if (total > 0) {
    done = std::clamp<std::int64_t>(done, 0, total);
    // The count is padded to the total's width so that the bar does not move as it grows.
    const int digits = int(std::to_string(total).size());
    char buf[96];
    std::snprintf(buf, sizeof buf, "  %*lld/%lld  %3d%%", digits, static_cast<long long>(done),
                  static_cast<long long>(total), int(100 * done / total));
    counts = buf;
    if (done > 0 && done < total) times = "  " + format_duration_s(elapsed_s / double(done) * double(total - done)) + " left";
    else times = "  " + format_duration_s(elapsed_s);
  } else {
    counts = "  " + std::to_string(done);
    times = "  " + format_duration_s(elapsed_s);
  }
  std::string line(label);
  if (total > 0) {
    // The bar gets what is left after the label, " [", "]", the counts, 16 columns for the time and 12 for
    // the item, between 10 and 40 cells.
    const int reserve = int(label.size()) + 3 + int(counts.size()) + 16 + 12;
    const int cells = std::clamp(columns - reserve, 10, 40);
    const int filled = int(double(cells) * double(done) / double(total));
    line += " [" + std::string(std::size_t(filled), '#') + std::string(std::size_t(cells - filled), '.') + "]";
  }
  line += counts + times;
  if (!item.empty()) line += "  " + std::string(item);
  return cut(line, std::size_t(columns - 1));  // never the last column: some terminals wrap there
}

int terminal_columns(std::FILE* stream) {
  winsize ws{};
  if (stream && ioctl(fileno(stream), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const int n = std::atoi(c);
    if (n > 0) return n;
  }
  return 80;
}

ProgressBar::ProgressBar(std::string label, std::int64_t total, std::FILE* stream)
    : ProgressBar(std::move(label), total, stream,
                  stream && isatty(fileno(stream)) && std::getenv("ROOFLINE_NO_PROGRESS") == nullptr) {}

ProgressBar::ProgressBar(std::string label, std::int64_t total, std::FILE* stream, bool enabled)
    : label_(std::move(label)),
      total_(total),
      stream_(stream),
      enabled_(enabled && stream != nullptr),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {
  std::lock_guard<std::mutex> lock(mutex_);
  draw(true);
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(std::int64_t n, std::string_view item) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  done_ += n;
  item_ = item;
  draw(false);
}

void ProgressBar::set(std::int64_t done, std::string_view item) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  done_ = done;
  item_ = item;
  draw(false);
}

void ProgressBar::set_total(std::int64_t total) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  total_ = total;
  draw(false);
}

void ProgressBar::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  item_.clear();
  draw(true);
  finished_ = true;
  if (enabled_) {
    std::fputc('\n', stream_);
    std::fflush(stream_);
  }
}

void ProgressBar::message(std::string_view text) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!stream_) return;
  if (enabled_ && !finished_) std::fputs("\r\x1b[K", stream_);  // clear the bar's line
  std::fwrite(text.data(), 1, text.size(), stream_);
  std::fputc('\n', stream_);
  if (enabled_ && !finished_) draw(true);
  std::fflush(stream_);
}

void ProgressBar::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool complete = total_ > 0 && done_ >= total_;
  if (!force && !complete && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed_s = std::chrono::duration<double>(now - start_).count();
  const std::string line = progress_line(label_, done_, total_, elapsed_s, item_, terminal_columns(stream_));
  // Carriage return, the line, and erase what a longer previous line left to its right.
  std::fputc('\r', stream_);
  std::fwrite(line.data(), 1, line.size(), stream_);
  std::fputs("\x1b[K", stream_);
  std::fflush(stream_);
}

}  // namespace roofline
