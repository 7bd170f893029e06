#include "medvlmbench/core/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "support/test_support.h"

namespace mvb {
namespace {

TEST(Progress, FormatDuration) {
  EXPECT_EQ(Progress::format_duration(0), "00:00");
  EXPECT_EQ(Progress::format_duration(65.4), "01:05");
  EXPECT_EQ(Progress::format_duration(3 * 3600 + 61), "3:01:01");
  EXPECT_EQ(Progress::format_duration(-1), "--:--");
}

TEST(Progress, PlainLinesWhenNotATerminal) {
  test::TempDir dir;
  const std::string path = dir / "log.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  {
    Progress p("eval", 10, /*interval_s=*/0.0, f);
    for (int i = 0; i < 10; ++i) p.advance();
    p.finish();
    EXPECT_EQ(p.done(), 10u);
  }
  std::fclose(f);
  const std::string text = test::read_text(path);
  // One plain line per update (interval 0) plus the final one; no carriage returns in batch logs.
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("progress: eval 10/10 (100%)"), std::string::npos) << text;
  EXPECT_NE(text.find("it/s"), std::string::npos);
  EXPECT_NE(text.find("ETA"), std::string::npos);
}

TEST(Progress, UnknownTotalShowsCountAndRate) {
  Progress p("scan", 0, 1000.0, nullptr);
  p.advance(7);
  const std::string line = p.status_line();
  EXPECT_NE(line.find("scan 7 "), std::string::npos) << line;
  EXPECT_EQ(line.find("ETA"), std::string::npos) << line;
}

}  // namespace
}  // namespace mvb
