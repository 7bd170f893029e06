#include "medvlmbench/io/jsonl.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <thread>

#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::io {
namespace {

TEST(Jsonl, WritesOneFlushedLinePerRow) {
  test::TempDir dir;
  const std::string path = dir / "p.jsonl";
  JsonlWriter w(path, JsonlWriter::Mode::kTruncate);
  w.write({{"id", "a"}, {"x", 1}});
  // Flushed immediately: another reader sees the row before the writer closes.
  EXPECT_EQ(test::read_text(path), "{\"id\":\"a\",\"x\":1}\n");
  w.write({{"id", "b"}, {"text", "caf\xc3\xa9 \xff"}});  // invalid UTF-8 is replaced, not fatal
  auto c = read_jsonl(path);
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[1]["id"], "b");
  EXPECT_EQ(c.torn_bytes, 0u);
}

TEST(Jsonl, TornTailIsReportedAndRepaired) {
  test::TempDir dir;
  const std::string path = dir / "p.jsonl";
  test::write_text(path, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"sco");
  auto c = read_jsonl(path);
  EXPECT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.torn_bytes, 14u);  // strlen("{\"id\":\"c\",\"sco")
  {
    JsonlWriter w(path, JsonlWriter::Mode::kAppend);  // append repairs first
    w.write({{"id", "c"}});
  }
  EXPECT_EQ(test::read_text(path), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n");
}

TEST(Jsonl, GarbledFinalLineCountsAsTorn) {
  test::TempDir dir;
  const std::string path = dir / "p.jsonl";
  test::write_text(path, "{\"id\":\"a\"}\n{\"id\":\x01\n");
  auto c = read_jsonl(path);
  EXPECT_EQ(c.rows.size(), 1u);
  EXPECT_GT(c.torn_bytes, 0u);
}

TEST(Jsonl, CorruptMiddleLineIsAnErrorNamingFileAndLine) {
  test::TempDir dir;
  const std::string path = dir / "p.jsonl";
  test::write_text(path, "{\"id\":\"a\"}\nnot json\n{\"id\":\"c\"}\n");
  try {
    read_jsonl(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":2"), std::string::npos) << e.what();
  }
}

TEST(Jsonl, TruncateModeStartsEmpty) {
  test::TempDir dir;
  const std::string path = dir / "p.jsonl";
  test::write_text(path, "{\"id\":\"old\"}\n");
  { JsonlWriter w(path, JsonlWriter::Mode::kTruncate); }
  EXPECT_EQ(test::read_text(path), "");
}

// A process killed with SIGKILL mid-run leaves a file whose complete lines are all valid rows, and
// which resume (append mode) continues without loss.
//
// Bounded on purpose (issue 18, defect 11): an unbounded child once wrote ~70 GB while a loaded parent
// re-read the whole growing file on every poll. The child stops at kMaxRows (~6 MB) and then waits to be
// killed; alarm() ends it even if the parent dies first; the parent polls the size with stat(), never the
// text, so each poll costs the same however large the file is.
TEST(Jsonl, KillDuringWritesLeavesValidPrefix) {
  constexpr int kMaxRows = 2000;
  constexpr size_t kPayload = 3000;  // long rows make a kill mid-line likely
  constexpr uintmax_t kMaxBytes = uintmax_t(kMaxRows) * (kPayload + 64);
  test::TempDir dir;
  const std::string path = dir / "p.jsonl";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(60);  // default SIGALRM action terminates the child if nobody kills it
    JsonlWriter w(path, JsonlWriter::Mode::kTruncate);
    const std::string payload(kPayload, 'x');
    for (int i = 0; i < kMaxRows; ++i) w.write({{"id", std::to_string(i)}, {"payload", payload}});
    for (;;) ::pause();  // cap reached: wait for the parent's SIGKILL (or the alarm)
  }
  // Wait until a few hundred rows exist, then kill without warning.
  for (int tries = 0; tries < 2500; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);  // not created yet -> ec set, keep polling
    if (!ec && size > 300 * kPayload) break;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGKILL) << "the child outlived its alarm: the parent never killed it";
  ASSERT_LE(std::filesystem::file_size(path), kMaxBytes) << "the child wrote past its cap";

  auto c = read_jsonl(path);
  ASSERT_GT(c.rows.size(), 10u);
  for (size_t i = 0; i < c.rows.size(); ++i) ASSERT_EQ(c.rows[i]["id"], std::to_string(i));
  const size_t before = c.rows.size();
  {
    JsonlWriter w(path, JsonlWriter::Mode::kAppend);
    w.write({{"id", "resumed"}});
  }
  auto after = read_jsonl(path);
  EXPECT_EQ(after.torn_bytes, 0u);
  ASSERT_EQ(after.rows.size(), before + 1);
  EXPECT_EQ(after.rows.back()["id"], "resumed");
}

}  // namespace
}  // namespace mvb::io
