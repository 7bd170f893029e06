#include "medvlmbench/io/jsonl.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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
TEST(Jsonl, KillDuringWritesLeavesValidPrefix) {
  test::TempDir dir;
  const std::string path = dir / "p.jsonl";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    JsonlWriter w(path, JsonlWriter::Mode::kTruncate);
    const std::string payload(3000, 'x');  // long rows make a kill mid-line likely
    for (int i = 0;; ++i) w.write({{"id", std::to_string(i)}, {"payload", payload}});
  }
  // Wait until a few hundred rows exist, then kill without warning.
  for (int tries = 0; tries < 500; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (test::read_text(path).size() > 300 * 3000) break;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

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
