// Issue 18, defect 3: one question that is not valid UTF-8 (a Latin-1 byte in a CSV) aborted a whole API
// run with a JSON type_error, 0 rows written, and the same again on --resume. The text is now decoded
// with replacement (as Python's errors="replace"), the request goes out, and every row is written.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fairvlmed_api_eval.h"
#include "medvlmbench/io/jsonl.h"
#include "support/test_support.h"

namespace mvb {
namespace {

TEST(NonUtf8Text, ApiRunAnswersEveryQuestionAndResumes) {
  test::TempDir dir;
  test::FakeApiServer server;
  const test::FairVlmedApiEval eval(dir, server);
  const std::string& data = eval.data;
  std::string csv = test::read_text(data + "/vqa_test.csv");
  const std::string q = "Is there glaucoma?";
  ASSERT_NE(csv.find(q), std::string::npos);
  csv.replace(csv.find(q), q.size(), "Is there glaucoma \xe9?");
  test::write_text(data + "/vqa_test.csv", csv);
  setenv("MVB_API_KEY", "sk-test-non-utf8", 1);
  const std::vector<std::string>& args = eval.argv;
  auto r = test::run_command(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& rd = eval.run_dir;
  const auto rows = io::read_jsonl(rd + "/predictions.jsonl").rows;
  ASSERT_GE(rows.size(), 2u);
  bool seen = false;
  for (const auto& row : rows) {
    EXPECT_NE(row.value("status", ""), "failed") << row.dump();
    if (row["question"] == "Is there glaucoma \xef\xbf\xbd?") seen = true;
  }
  EXPECT_TRUE(seen) << "the question is not decoded with replacement";
  bool sent = false;
  for (const auto& req : server.requests())
    sent = sent || req.body.find("glaucoma \\ufffd?") != std::string::npos ||
           req.body.find("glaucoma \xef\xbf\xbd?") != std::string::npos;
  EXPECT_TRUE(sent) << "the request did not carry the decoded question";

  auto again = test::run_command([&] {
    auto a = args;
    a.push_back("--resume");
    return a;
  }());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(io::read_jsonl(rd + "/predictions.jsonl").rows.size(), rows.size());
}

}  // namespace
}  // namespace mvb
