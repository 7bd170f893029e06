// End to end through the CLI: `medvlmbench eval --task vqa --model openai-compatible --api_base
// http://127.0.0.1:PORT` on a tiny SLAKE-layout dataset made here, then a cached re-run, the judge
// subcommand, --judge on eval, and a judge that cannot be reached. Every file written and every log
// line is scanned for the API key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "fake_api_server.h"
#include "medvlmbench/backends/image_payload.h"
#include "medvlmbench/io/jsonl.h"
#include "support/test_support.h"

namespace mvb {
namespace {

constexpr const char* kKey = "sk-e2e-93b1f7c2aa0d-SECRET";

void write_slake(const std::string& root) {
  const nlohmann::json records = nlohmann::json::array({
      {{"img_id", 1},
       {"img_name", "xmlab1/source.png"},
       {"question", "What organ is shown?"},
       {"answer", "Lung"},
       {"q_lang", "en"},
       {"location", "Lung"},
       {"modality", "CT"},
       {"answer_type", "OPEN"},
       {"base_type", "vqa"},
       {"content_type", "Organ"},
       {"qid", 1}},
      {{"img_id", 2},
       {"img_name", "xmlab2/source.png"},
       {"question", "Is this image normal?"},
       {"answer", "no"},
       {"q_lang", "en"},
       {"location", "Lung"},
       {"modality", "CT"},
       {"answer_type", "CLOSED"},
       {"base_type", "vqa"},
       {"content_type", "Abnormal"},
       {"qid", 2}},
      {{"img_id", 3},
       {"img_name", "xmlab3/source.png"},
       {"question", "Which side is abnormal?"},
       {"answer", "Left lung"},
       {"q_lang", "en"},
       {"location", "Lung"},
       {"modality", "CT"},
       {"answer_type", "OPEN"},
       {"base_type", "vqa"},
       {"content_type", "Position"},
       {"qid", 3}},
      {{"img_id", 1},
       {"img_name", "xmlab1/source.png"},
       {"question", "这是什么器官?"},
       {"answer", "肺"},
       {"q_lang", "zh"},
       {"location", "Lung"},
       {"modality", "CT"},
       {"answer_type", "OPEN"},
       {"base_type", "vqa"},
       {"content_type", "Organ"},
       {"qid", 4}},
  });
  std::filesystem::create_directories(root);
  test::write_text(root + "/test.json", records.dump(1));
  for (int i = 1; i <= 3; ++i) {
    std::filesystem::create_directories(root + "/xmlab" + std::to_string(i));
    RgbImage img;
    img.width = img.height = 8;
    img.pixels.assign(8 * 8 * 3, static_cast<uint8_t>(40 * i));
    test::write_text(root + "/xmlab" + std::to_string(i) + "/source.png", api::png_bytes(img));
  }
}

std::string answer_for(const std::string& prompt) {
  if (prompt.rfind("You are grading", 0) == 0) return "Rationale: Same finding, worded differently.\nScore: 80";
  if (prompt.find("What organ") != std::string::npos) return "Lung";
  if (prompt.find("Is this image normal") != std::string::npos) return "No, it is not.";
  return "The right lung.";
}

// Every file under `root`, as text.
std::vector<std::pair<std::string, std::string>> all_files(const std::string& root) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!std::filesystem::exists(root)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.emplace_back(e.path().string(), test::read_text(e.path().string()));
  return out;
}

struct E2E : ::testing::Test {
  test::TempDir dir;
  test::FakeApiServer server;
  std::string data, exp, cache;
  std::vector<std::string> logs;  // stdout + stderr of every command
  void SetUp() override {
    data = dir / "SLAKE";
    exp = dir / "out";
    cache = dir / "cache";
    write_slake(data);
    server.answer = answer_for;
    // The child inherits this environment; other tests in this binary set keys of their own.
    setenv("MVB_API_KEY", kKey, 1);
    for (const char* k : {"OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"}) unsetenv(k);
  }
  test::CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), test::exe_path());
    auto r = test::run_command(args);
    logs.push_back(r.out + r.err);
    return r;
  }
  std::vector<std::string> eval_args(const std::string& exp_path) {
    return {"eval",
            "--task",
            "vqa",
            "--dataset",
            "SLAKE",
            "--split",
            "test",
            "--image_path",
            data,
            "--model",
            "openai-compatible",
            "--api_base",
            server.openai_base(),
            "--api_model",
            "gpt-4o-mini",
            "--model_path",
            "original_pretrained",
            "--exp_path",
            exp_path,
            "--cache_dir",
            cache,
            "--bootstrap",
            "0",
            "--api_concurrency",
            "4"};
  }
  std::string run_dir(const std::string& exp_path) {
    return exp_path + "/vqa/SLAKE/openai-compatible/eval_seed0/original_pretrained";
  }
  void expect_no_key_anywhere() {
    for (const auto& root : {exp, cache, dir / "out2"})
      for (const auto& [path, text] : all_files(root))
        EXPECT_EQ(text.find(kKey), std::string::npos) << "API key written to " << path;
    for (const auto& l : logs) EXPECT_EQ(l.find(kKey), std::string::npos) << "API key in output: " << l;
  }
};

TEST_F(E2E, EvalWithCompatibleServerProducesMetricsAndRerunIsFree) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  auto r = run(eval_args(exp));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(server.request_count(), 3u) << "one request per English question";
  for (const auto& req : server.requests()) EXPECT_EQ(req.header("Authorization"), std::string("Bearer ") + kKey);

  const std::string rd = run_dir(exp);
  const auto rows = io::read_jsonl(rd + "/predictions.jsonl").rows;
  ASSERT_EQ(rows.size(), 3u);
  // Dataset order is kept under concurrency.
  EXPECT_EQ(rows[0]["question"], "What organ is shown?");
  EXPECT_EQ(rows[1]["question"], "Is this image normal?");
  EXPECT_EQ(rows[2]["question"], "Which side is abnormal?");
  EXPECT_EQ(rows[0]["prediction"], "Lung");
  EXPECT_EQ(rows[0]["answer"], "Lung");
  EXPECT_EQ(rows[0]["question_type"], "open");
  EXPECT_EQ(rows[1]["question_type"], "closed");
  EXPECT_EQ(rows[0]["prompt"],
            "What organ is shown?\n\nPlease answer the question concisely in no more than 2 sentences.");
  EXPECT_EQ(rows[1]["prompt"], "Answer the following question about the image with yes or no. Is this image normal?");
  for (const auto& row : rows) {
    for (const char* k : {"id", "image_path", "prompt_tokens", "completion_tokens", "latency_s", "modality"})
      EXPECT_TRUE(row.contains(k)) << k << " missing in " << row.dump();
    EXPECT_FALSE(row.contains("status")) << row.dump();
  }

  const auto metrics = nlohmann::json::parse(test::read_text(rd + "/metrics.json"));
  EXPECT_EQ(metrics["num_scored"], 3);
  EXPECT_DOUBLE_EQ(metrics["metrics"]["accuracy_closed"].get<double>(), 1.0);  // "no" in "no, it is not."
  EXPECT_DOUBLE_EQ(metrics["metrics"]["accuracy_open"].get<double>(), 0.5);    // Lung yes, "Left lung" no
  const auto manifest = nlohmann::json::parse(test::read_text(rd + "/run.json"));
  const auto& usage = manifest["usage_stats"]["api_usage"];
  EXPECT_EQ(usage["http_requests"], 3);
  int64_t in = 0, out = 0;
  for (const auto& row : rows) {
    in += row["prompt_tokens"].get<int64_t>();
    out += row["completion_tokens"].get<int64_t>();
  }
  EXPECT_EQ(usage["prompt_tokens"], in);
  EXPECT_EQ(usage["completion_tokens"], out);
  // gpt-4o-mini: $0.15 in / $0.60 out per 1M tokens (configs/api_prices.json).
  EXPECT_NEAR(usage["cost_usd"].get<double>(), (in * 0.15 + out * 0.6) / 1e6, 1e-12);
  EXPECT_EQ(manifest["model"]["model_id"], "gpt-4o-mini");
  EXPECT_EQ(manifest["model"]["key_env"], "MVB_API_KEY");

  // Re-run: every answer comes from the cache, the server sees nothing new.
  r = run(eval_args(exp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.request_count(), 3u);
  const auto manifest2 = nlohmann::json::parse(test::read_text(rd + "/run.json"));
  EXPECT_EQ(manifest2["usage_stats"]["api_usage"]["cache_hits"], 3);
  EXPECT_EQ(manifest2["usage_stats"]["api_usage"]["cost_usd"], 0.0);
  expect_no_key_anywhere();
}

TEST_F(E2E, JudgeScoresOpenAnswersAndFailsLoudlyWhenUnreachable) {
  ASSERT_EQ(run(eval_args(exp)).exit_code, 0);
  const std::string rd = run_dir(exp);
  server.clear_requests();
  auto r = run({"judge", rd, "--judge", "openai-compatible:judge-model", "--judge_api_base", server.openai_base(),
                "--bootstrap", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(server.request_count(), 2u) << "only the two open questions are judged";
  // Requests run concurrently: find the one about the first question.
  nlohmann::json jb;
  for (const auto& req : server.requests())
    if (req.body.find("What organ") != std::string::npos) jb = nlohmann::json::parse(req.body);
  ASSERT_TRUE(jb.is_object()) << "no judge request for the first question";
  EXPECT_EQ(jb["model"], "judge-model");
  EXPECT_EQ(jb["temperature"], 0.0);
  const std::string jp = test::prompt_of(jb);
  EXPECT_NE(jp.find("Reference answer: Lung\nCandidate answer: Lung"), std::string::npos) << jp;
  EXPECT_EQ(jp.find("Please answer the question concisely"), std::string::npos) << "no reference suffix on the judge";
  const auto rows = io::read_jsonl(rd + "/predictions.jsonl").rows;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["judge"]["score"], 80);
  EXPECT_EQ(rows[0]["judge"]["rationale"], "Same finding, worded differently.");
  EXPECT_EQ(rows[0]["judge"]["rubric_version"], "mvb-judge-v1");
  EXPECT_EQ(rows[0]["judge"]["model"], "openai-compatible:judge-model");
  EXPECT_FALSE(rows[1].contains("judge"));
  const auto metrics = nlohmann::json::parse(test::read_text(rd + "/metrics.json"));
  EXPECT_DOUBLE_EQ(metrics["metrics"]["gpt_score_open"].get<double>(), 80.0);

  // Judged rows are skipped; --force re-judges from the cache (no new requests).
  r = run(
      {"judge", rd, "--judge", "openai-compatible:judge-model", "--judge_api_base", server.openai_base(), "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.request_count(), 2u);

  // An unreachable judge is an error, never a silent fallback; the earlier judgements stay.
  test::ResetServer dead;
  r = run({"judge", rd, "--judge", "openai-compatible:judge-model", "--judge_api_base", dead.base(), "--force",
           "--no_cache", "--api_retries", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("the judge openai-compatible:judge-model failed on 2 of 2 rows"), std::string::npos) << r.err;
  EXPECT_EQ(io::read_jsonl(rd + "/predictions.jsonl").rows[0]["judge"]["score"], 80);
  expect_no_key_anywhere();
}

TEST_F(E2E, EvalWithJudgeFlag) {
  auto args = eval_args(dir / "out2");
  for (const char* a : {"--judge", "openai-compatible:judge-model"}) args.push_back(a);
  args.push_back("--judge_api_base");
  args.push_back(server.openai_base());
  auto r = run(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto metrics = nlohmann::json::parse(test::read_text(run_dir(dir / "out2") + "/metrics.json"));
  EXPECT_DOUBLE_EQ(metrics["metrics"]["gpt_score_open"].get<double>(), 80.0);
  const auto manifest = nlohmann::json::parse(test::read_text(run_dir(dir / "out2") + "/run.json"));
  EXPECT_EQ(manifest["usage_stats"]["judge"]["judged"], 2);
  expect_no_key_anywhere();
}

}  // namespace
}  // namespace mvb
