// The vqa and caption usage runners with a scripted in-process GenerativeModel: rows in dataset
// order with the schema of rows.h, error rows for bad samples and failed requests (the run carries
// on), no rows for requests cut short by cancellation, batches of the model's preferred size.
#include <gtest/gtest.h>

#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/run_config.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/tasks/usage.h"

namespace mvb {
namespace {

class ScriptedModel : public GenerativeModel {
 public:
  std::vector<size_t> batch_sizes;
  std::vector<std::string> prompts;
  std::vector<GenerationRequest> requests;
  int batch = 3;
  int preferred_batch_size() const override { return batch; }
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& reqs) override {
    batch_sizes.push_back(reqs.size());
    std::vector<GenerationResult> out;
    for (const auto& r : reqs) {
      prompts.push_back(r.prompt);
      requests.push_back(r);
      GenerationResult g;
      if (r.prompt.find("FAIL") != std::string::npos) {
        g.error = "failed after 7 attempts; last error: HTTP 503";
      } else if (r.prompt.find("CANCEL") != std::string::npos) {
        g.error = "cancelled before sending";
        g.extra["cancelled"] = true;
      } else {
        g.text = "  reply to " + r.prompt + "\n";
        g.prompt_tokens = 10;
        g.completion_tokens = 2;
        g.extra["prompt"] = r.prompt + " [as sent]";
      }
      g.latency_s = 0.25;
      out.push_back(std::move(g));
    }
    return out;
  }
  nlohmann::json describe() const override { return {{"api_usage", {{"http_requests", 42}}}}; }
};

class VectorSink : public PredictionSink {
 public:
  std::vector<nlohmann::json> rows;
  int checkpoints = 0;
  void write(const nlohmann::json& row) override { rows.push_back(row); }
  void checkpoint() override { ++checkpoints; }
};

Sample vqa_sample(int i, const std::string& question, const std::string& type) {
  Sample s;
  s.id = "s" + std::to_string(i);
  s.images = {ImageRef::file("/data/img" + std::to_string(i) + ".png")};
  s.question = question;
  s.prompt = question;
  s.answer = "ans" + std::to_string(i);
  s.question_type = type;
  s.modality = "radiology";
  return s;
}

struct RunnerHarness {
  RunConfig cfg;
  DatasetInfo info;
  ScriptedModel model;
  VectorSink sink;
  nlohmann::json stats;
  void go(const std::string& task, std::vector<Sample> samples) {
    RunContext ctx{
        cfg, info,   "/tmp", c10::Device(c10::kCPU), std::make_unique<VectorSampleReader>(std::move(samples)),
        -1,  &model, &sink};
    find_usage("", task, "eval").factory()->run(ctx);
    stats = ctx.stats;
  }
};

TEST(GenerativeRunner, VqaRowsInOrderWithErrorRows) {
  RunnerHarness run;
  std::vector<Sample> samples;
  samples.push_back(vqa_sample(0, "What organ?", "open"));
  samples.push_back(vqa_sample(1, "Is it normal? FAIL", "closed"));
  Sample bad = vqa_sample(2, "q", "open");
  bad.error = "missing image /data/img2.png";
  samples.push_back(bad);
  Sample mc = vqa_sample(3, "Which one?", "multi-choice");
  mc.choices = {{"A", "Lung"}, {"B", "Liver"}};
  samples.push_back(mc);
  Sample noimg = vqa_sample(4, "q", "open");
  noimg.images.clear();
  samples.push_back(noimg);
  samples.push_back(vqa_sample(5, "Last?", "open"));
  run.go("vqa", samples);

  ASSERT_EQ(run.sink.rows.size(), 6u);
  const auto& r0 = run.sink.rows[0];
  EXPECT_EQ(r0["id"], "s0");
  EXPECT_EQ(r0["question"], "What organ?");
  EXPECT_EQ(r0["answer"], "ans0");
  EXPECT_EQ(r0["prediction"], "reply to What organ?");  // trimmed
  EXPECT_EQ(r0["prompt"], "What organ? [as sent]");     // the prompt the model reports it sent
  EXPECT_EQ(r0["question_type"], "open");
  EXPECT_EQ(r0["prompt_tokens"], 10);
  EXPECT_EQ(r0["completion_tokens"], 2);
  EXPECT_EQ(r0["latency_s"], 0.25);
  EXPECT_EQ(r0["image_path"], "/data/img0.png");
  EXPECT_EQ(r0["modality"], "radiology");
  EXPECT_FALSE(r0.contains("choices"));
  EXPECT_EQ(run.sink.rows[1]["status"], "failed");
  EXPECT_EQ(run.sink.rows[1]["error"], "failed after 7 attempts; last error: HTTP 503");
  EXPECT_EQ(run.sink.rows[1]["id"], "s1");
  // Rows stay in dataset order, error rows included.
  EXPECT_EQ(run.sink.rows[2]["id"], "s2");
  EXPECT_EQ(run.sink.rows[2]["error"], "missing image /data/img2.png");
  EXPECT_EQ(run.sink.rows[3]["id"], "s3");
  EXPECT_EQ(run.sink.rows[3]["choices"],
            (nlohmann::json{{{"letter", "A"}, {"text", "Lung"}}, {{"letter", "B"}, {"text", "Liver"}}}));
  EXPECT_EQ(run.sink.rows[4]["id"], "s4");
  EXPECT_EQ(run.sink.rows[4]["error"], "sample has no image");
  EXPECT_EQ(run.sink.rows[5]["id"], "s5");
  // Batches of the model's preferred size (3): samples 0-2 and 3-5, minus the bad ones.
  EXPECT_EQ(run.model.batch_sizes, (std::vector<size_t>{2, 2}));
  EXPECT_EQ(run.sink.checkpoints, 2);
  EXPECT_EQ(run.stats["predictions"], 3);
  EXPECT_EQ(run.stats["errors"], 3);
  EXPECT_EQ(run.stats["prompt_tokens"], 30);
  EXPECT_EQ(run.stats["api_usage"]["http_requests"], 42);
}

TEST(GenerativeRunner, BatchSizeFlagAndCancelledRequestsWriteNoRow) {
  RunnerHarness run;
  run.cfg.batch_size = 2;
  std::vector<Sample> samples;
  for (int i = 0; i < 5; ++i) samples.push_back(vqa_sample(i, i == 1 ? "CANCEL" : "q", "open"));
  run.go("vqa", samples);
  EXPECT_EQ(run.model.batch_sizes, (std::vector<size_t>{2, 2, 1}));
  ASSERT_EQ(run.sink.rows.size(), 4u);  // the cancelled one is left for --resume
  EXPECT_EQ(run.sink.rows[1]["id"], "s2");
}

TEST(GenerativeRunner, StopsBetweenBatchesWhenCancelled) {
  RunnerHarness run;
  std::vector<Sample> samples;
  for (int i = 0; i < 5; ++i) samples.push_back(vqa_sample(i, "q", "open"));
  request_cancel();
  run.go("vqa", samples);
  reset_cancel();
  EXPECT_TRUE(run.sink.rows.empty());
  EXPECT_TRUE(run.model.batch_sizes.empty());
}

TEST(GenerativeRunner, CaptionUsesTheReferencePromptWhenTheLoaderGivesNone) {
  RunnerHarness run;
  Sample s;
  s.id = "c0";
  s.images = {ImageRef::file("/data/cxr.png")};
  s.answer = "No acute cardiopulmonary process.";
  s.question_type = "caption";
  run.go("caption", {s});
  ASSERT_EQ(run.model.prompts.size(), 1u);
  EXPECT_EQ(run.model.prompts[0], "Can you provide a medical report for this image?");
  ASSERT_EQ(run.sink.rows.size(), 1u);
  EXPECT_EQ(run.sink.rows[0]["answer"], "No acute cardiopulmonary process.");
  EXPECT_EQ(run.sink.rows[0]["prediction"], "reply to Can you provide a medical report for this image?");
  EXPECT_FALSE(run.sink.rows[0].contains("question"));
}

TEST(GenerativeRunner, VqaFallbackPromptUsesTheReferenceTemplates) {
  RunnerHarness run;
  Sample yn = vqa_sample(0, "Is it normal?", "closed");
  yn.prompt.clear();
  yn.answer = "Yes";
  Sample open = vqa_sample(1, "What organ?", "open");
  open.prompt.clear();
  run.go("vqa", {yn, open});
  EXPECT_EQ(run.model.prompts,
            (std::vector<std::string>{"Answer the following question about the image with yes or no. Is it normal?",
                                      "What organ?"}));
}

TEST(GenerativeRunner, GenerationFlagsAndPerSampleSeedsReachTheRequests) {
  std::vector<Sample> samples;
  for (int i = 0; i < 4; ++i) samples.push_back(vqa_sample(i, "q", "open"));
  RunnerHarness unset;
  unset.go("vqa", samples);
  ASSERT_EQ(unset.model.requests.size(), 4u);
  for (const auto& q : unset.model.requests) {
    EXPECT_FALSE(q.max_new_tokens.has_value());  // the model's defaults
    EXPECT_FALSE(q.temperature.has_value());
  }
  EXPECT_EQ(unset.stats["generation_request"], (nlohmann::json{{"seed", 0}}));

  RunnerHarness set;
  set.cfg.max_new_tokens = 5;
  set.cfg.temperature = 0;  // greedy is a value, not "unset"
  set.cfg.seed = 11;
  set.cfg.batch_size = 1;
  set.go("vqa", samples);
  ASSERT_EQ(set.model.requests.size(), 4u);
  EXPECT_EQ(set.model.batch_sizes, (std::vector<size_t>(4, 1)));
  for (size_t i = 0; i < 4; ++i) {
    const auto& q = set.model.requests[i];
    EXPECT_EQ(q.max_new_tokens, 5);
    EXPECT_EQ(q.temperature, 0.0);
    EXPECT_EQ(q.seed, generation_seed(11, "s" + std::to_string(i)));
  }
  EXPECT_EQ(set.stats["generation_request"],
            (nlohmann::json{{"seed", 11}, {"max_new_tokens", 5}, {"temperature", 0.0}}));

  // Same seed and ids in other batches (or after skipping samples): same request seeds.
  RunnerHarness batched;
  batched.cfg.seed = 11;
  batched.go("vqa", {samples[3], samples[1]});
  EXPECT_EQ(batched.model.requests[0].seed, set.model.requests[3].seed);
  EXPECT_EQ(batched.model.requests[1].seed, set.model.requests[1].seed);
}

TEST(GenerativeRunner, GenerationSeedIsFixedArithmetic) {
  // Pinned (computed independently in Python): a change here changes every sampled answer of
  // every earlier run.
  EXPECT_EQ(generation_seed(0, "s0"), generation_seed(0, "s0"));
  EXPECT_NE(generation_seed(0, "s0"), generation_seed(0, "s1"));
  EXPECT_NE(generation_seed(0, "s0"), generation_seed(1, "s0"));
  EXPECT_EQ(generation_seed(42, "xmlab8/source.jpg#0"), 14393578326088393612ull);
}

}  // namespace
}  // namespace mvb
