// Progress bar: the line it draws (worked out by hand), silence when the stream is not a terminal, the
// redraw sequence on a terminal and its throttling.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "roofline/progress.hpp"

using namespace roofline;

namespace {
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}
std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + what.size())) ++n;
  return n;
}
}  // namespace

TEST_CASE("durations print as [h:]mm:ss") {
  CHECK(format_duration_s(0) == "0:00");
  CHECK(format_duration_s(59.4) == "0:59");
  CHECK(format_duration_s(59.6) == "1:00");
  CHECK(format_duration_s(754) == "12:34");
  CHECK(format_duration_s(3723) == "1:02:03");
  CHECK(format_duration_s(-1) == "0:00");
}

TEST_CASE("the progress line: bar, counts, percent, time left, item") {
  // 5 of 10 done in 10 s: 2 s per item, 5 left -> 0:10 left. Counts "   5/10   50%" (13 columns, the 5
  // padded to the width of 10). 60 columns: the bar gets 60 - (3 label + 3 brackets + 13 + 16 time + 12 item)
  // = 13 cells, int(13 / 2) = 6 of them filled.
  CHECK(progress_line("fit", 5, 10, 10.0, "", 60) == "fit [######.......]   5/10   50%  0:10 left");
  // Done: the elapsed time instead of an estimate; the bar keeps its width.
  CHECK(progress_line("fit", 10, 10, 75.0, "", 60) == "fit [#############]  10/10  100%  1:15");
  // Nothing done yet: no estimate either. Counts "  0/4    0%" (11 columns): 15 cells.
  CHECK(progress_line("fit", 0, 4, 3.0, "gemm", 60) == "fit [...............]  0/4    0%  0:03  gemm");
  // Unknown total: a count and the elapsed time, no bar.
  CHECK(progress_line("records", 42, 0, 5.0, "", 60) == "records  42  0:05");
  // Never wider than the terminal minus one column, however long the item.
  const std::string long_item(300, 'x');
  CHECK(progress_line("suite", 3, 7, 1.0, long_item, 80).size() == 79);
  CHECK(progress_line("suite", 3, 7, 1.0, long_item, 5).size() == 19);  // at least 20 columns assumed
  // Counts beyond the total are clamped.
  CHECK(progress_line("x", 12, 10, 1.0, "", 60).find("10/10  100%") != std::string::npos);
}

TEST_CASE("a bar on a stream that is not a terminal writes nothing") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  {
    ProgressBar bar("suite", 3, f);  // a regular file: isatty is false
    CHECK_FALSE(bar.enabled());
    bar.advance(1, "gemm");
    bar.advance(2, "attention");
    CHECK(bar.done() == 3);
  }  // the destructor finishes it
  CHECK(contents(f).empty());
  std::fclose(f);
}

TEST_CASE("messages still print when the bar is silent") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  ProgressBar bar("suite", 3, f);
  bar.message("gemm 4096x4096x4096: error: out of memory");
  bar.finish();
  CHECK(contents(f) == "gemm 4096x4096x4096: error: out of memory\n");
  std::fclose(f);
}

TEST_CASE("an enabled bar redraws in place and ends its line") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  ProgressBar bar("fit", 3, f, true);
  bar.advance(1, "a");
  bar.advance(1, "b");
  bar.advance(1, "c");  // complete: always drawn
  bar.message("note");
  bar.finish();
  bar.advance(5);  // after finish: ignored
  const std::string out = contents(f);
  CHECK(out.front() == '\r');
  CHECK(out.back() == '\n');
  CHECK(count(out, "\n") == 2);  // the message's line and the bar's final newline
  // Each redraw: carriage return, the line, erase to the end of the line.
  CHECK(count(out, "\r") == count(out, "\x1b[K"));
  CHECK(out.find("3/3  100%") != std::string::npos);
  CHECK(out.find("\r\x1b[Knote\n") != std::string::npos);  // the bar's line is cleared before the message
  CHECK(out.find("8/3") == std::string::npos);
  std::fclose(f);
}

TEST_CASE("redraws are throttled to about ten per second") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  const auto start = std::chrono::steady_clock::now();
  {
    ProgressBar bar("many", 100000, f, true);
    for (int i = 0; i < 100000; ++i) bar.advance();
  }
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The first draw, one per 100 ms, the completed state and the final one.
  CHECK(double(count(contents(f), "\r")) <= elapsed_s * 10 + 4);
  std::fclose(f);
}
