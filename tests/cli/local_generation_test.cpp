// The generation flags end to end, in process: eval's flags (--max_new_tokens, --temperature,
// --reference_compat, --batch_size, --seed) -> RunConfig -> ModelSpec::options -> LocalVlmOptions
// -> GenerationRequests -> predictions rows and run.json, with a fake local generative model
// registered by this test on the SLAKE fixture dataset.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "medvlmbench/cli/flags.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/models/local_vlm_options.h"
#include "medvlmbench/tasks/pipeline.h"
#include "medvlmbench/tasks/usage.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;

const std::vector<std::string> kKnownQuirks = {"fake_double_preprocess", "fake_offset"};

// What the fake model saw, for the assertions.
struct Seen {
  json options;
  LocalVlmOptions parsed;
  std::vector<GenerationRequest> requests;
  std::vector<size_t> batch_sizes;
};
Seen& seen() {
  static Seen s;
  return s;
}

// Behaves as a local VLM does at the seam: reads LocalVlmOptions, resolves each request's settings
// against its "reference defaults" (max 99 tokens, greedy) and reports them in the answer text and
// token counts, and describes its generation config and active quirks for run.json.
class FakeLocalVlm : public GenerativeModel {
 public:
  explicit FakeLocalVlm(const ModelSpec& spec) : opts_(LocalVlmOptions::from_spec(spec)) {
    opts_.check_compat(kKnownQuirks, spec.name);
    seen().options = spec.options;
    seen().parsed = opts_;
  }
  int preferred_batch_size() const override { return opts_.batch_size; }
  std::vector<GenerationResult> generate(const std::vector<GenerationRequest>& batch) override {
    seen().batch_sizes.push_back(batch.size());
    std::vector<GenerationResult> out;
    for (const auto& r : batch) {
      seen().requests.push_back(r);
      const int max_new = r.max_new_tokens.value_or(opts_.max_new_tokens > 0 ? opts_.max_new_tokens : 99);
      const double temp = r.temperature.value_or(0.0);
      GenerationResult g;
      g.text = " max=" + std::to_string(max_new) + " temp=" + std::to_string(temp) + " seed=" + std::to_string(r.seed) +
               "\n";
      g.prompt_tokens = static_cast<int64_t>(r.prompt.size());
      g.completion_tokens = max_new;
      g.latency_s = 0.5;
      g.extra["prompt"] = "USER: <image>\n" + r.prompt + " ASSISTANT:";
      out.push_back(std::move(g));
    }
    return out;
  }
  json describe() const override {
    return {{"architecture", "fake-local-vlm"},
            {"options", opts_.to_json()},
            {"generation", {{"max_new_tokens", opts_.max_new_tokens > 0 ? opts_.max_new_tokens : 99}}},
            {"reference_compat", opts_.active_compat(kKnownQuirks)}};
  }

 private:
  LocalVlmOptions opts_;
};

MVB_REGISTER(model_registry(), "genrunner-test-local",
             ModelEntry{"generative",
                        {"vqa", "caption"},
                        "fake local VLM (test)",
                        false,
                        [](const ModelSpec& spec) { return std::make_unique<FakeLocalVlm>(spec); },
                        ""});

// Parses an eval command line with the real flag definitions, as main() does.
RunConfig parse_eval(const std::vector<std::string>& extra, const std::string& exp) {
  RunConfig cfg;
  CLI::App app("eval");
  cli::add_eval_flags(app, cfg);
  std::vector<std::string> args = {"--task",       "vqa",
                                   "--dataset",    "SLAKE",
                                   "--image_path", test::fixture_path("datasets/SLAKE"),
                                   "--model",      "genrunner-test-local",
                                   "--model_path", "original_pretrained",
                                   "--exp_path",   exp,
                                   "--bootstrap",  "0",
                                   "--log_level",  "error"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses a reversed vector
  app.parse(reversed);
  return cfg;
}

struct EvalRun {
  RunOutcome outcome;
  std::vector<json> rows;
  json manifest;
};

EvalRun run(const RunConfig& cfg) {
  seen() = Seen{};
  EvalRun r;
  r.outcome = run_eval(cfg, {"medvlmbench", "eval"});
  r.rows = io::read_jsonl(r.outcome.run_dir + "/predictions.jsonl").rows;
  r.manifest = json::parse(test::read_text(r.outcome.run_dir + "/run.json"));
  return r;
}

TEST(LocalGeneration, FlagsReachOptionsRequestsRowsAndRunJson) {
  test::TempDir exp;
  RunConfig cfg = parse_eval({"--max_new_tokens", "7", "--temperature", "0.5", "--reference_compat",
                              "fake_offset,fake_double_preprocess", "--batch_size", "3", "--seed", "3"},
                             exp.path());
  EXPECT_EQ(cfg.max_new_tokens, 7);
  EXPECT_EQ(cfg.temperature, 0.5);
  EXPECT_EQ(cfg.reference_compat, (std::vector<std::string>{"fake_offset", "fake_double_preprocess"}));
  EvalRun r = run(cfg);
  ASSERT_EQ(r.outcome.status, "completed");

  // Options as the model factory received them, and as LocalVlmOptions reads them.
  EXPECT_EQ(seen().options["max_new_tokens"], 7);
  EXPECT_EQ(seen().options["temperature"], 0.5);
  EXPECT_EQ(seen().options["batch_size"], 3);
  EXPECT_EQ(seen().parsed.max_new_tokens, 7);
  EXPECT_EQ(seen().parsed.batch_size, 3);
  EXPECT_EQ(seen().parsed.reference_compat, cfg.reference_compat);

  // Requests: batches of --batch_size, the flags' values, one seed per sample id.
  EXPECT_EQ(seen().batch_sizes, (std::vector<size_t>{3, 1}));  // the fixture's 4 English questions
  ASSERT_EQ(seen().requests.size(), 4u);
  ASSERT_EQ(r.rows.size(), 4u);
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const GenerationRequest& q = seen().requests[i];
    const json& row = r.rows[i];
    EXPECT_EQ(q.max_new_tokens, 7);
    EXPECT_EQ(q.temperature, 0.5);
    EXPECT_EQ(q.seed, generation_seed(3, row["id"].get<std::string>()));
    // Rows in dataset order with the schema of tasks/rows.h.
    EXPECT_EQ(row["prompt"], "USER: <image>\n" + q.prompt + " ASSISTANT:");
    EXPECT_EQ(row["prediction"], "max=7 temp=0.500000 seed=" + std::to_string(q.seed));
    EXPECT_EQ(row["prompt_tokens"], static_cast<int64_t>(q.prompt.size()));
    EXPECT_EQ(row["completion_tokens"], 7);
    EXPECT_EQ(row["latency_s"], 0.5);
    for (const char* k : {"id", "image_path", "question", "answer", "question_type", "modality"})
      EXPECT_TRUE(row.contains(k)) << k;
  }
  EXPECT_NE(seen().requests[0].seed, seen().requests[1].seed);

  // run.json: the flags, what the runner sent, and the model's description of what ran.
  EXPECT_EQ(r.manifest["config"]["max_new_tokens"], 7);
  EXPECT_EQ(r.manifest["config"]["reference_compat"], json({"fake_offset", "fake_double_preprocess"}));
  EXPECT_EQ(r.manifest["usage_stats"]["generation_request"],
            json({{"seed", 3}, {"max_new_tokens", 7}, {"temperature", 0.5}}));
  EXPECT_EQ(r.manifest["model"]["generation"]["max_new_tokens"], 7);
  // The model's own order of quirks, whatever order the flag listed them in.
  EXPECT_EQ(r.manifest["model"]["reference_compat"], json({"fake_double_preprocess", "fake_offset"}));
}

TEST(LocalGeneration, UnsetFlagsLeaveTheModelDefaults) {
  test::TempDir exp;
  EvalRun r = run(parse_eval({}, exp.path()));
  ASSERT_EQ(r.outcome.status, "completed");
  EXPECT_FALSE(seen().options.contains("max_new_tokens"));
  EXPECT_FALSE(seen().options.contains("temperature"));
  EXPECT_FALSE(seen().options.contains("batch_size"));
  EXPECT_FALSE(seen().options.contains("reference_compat"));
  EXPECT_EQ(seen().parsed.max_new_tokens, -1);
  EXPECT_EQ(seen().parsed.batch_size, 1);
  EXPECT_TRUE(seen().parsed.reference_compat.empty());
  EXPECT_EQ(seen().batch_sizes, (std::vector<size_t>(4, 1)));  // the model's preferred batch
  for (const auto& q : seen().requests) {
    EXPECT_FALSE(q.max_new_tokens.has_value());
    EXPECT_FALSE(q.temperature.has_value());
  }
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0]["completion_tokens"], 99);  // the model's own default ran
  EXPECT_EQ(r.manifest["model"]["generation"]["max_new_tokens"], 99);
  EXPECT_EQ(r.manifest["model"]["reference_compat"], json::array());  // the intended behaviour
  EXPECT_EQ(r.manifest["usage_stats"]["generation_request"], json({{"seed", 0}}));
}

TEST(LocalGeneration, SeedsDependOnSeedAndIdNotOnBatchOrShard) {
  test::TempDir exp1, exp2, exp3;
  // The fake model writes each request's seed into its answer.
  auto seeds = [](const EvalRun& r) {
    std::map<std::string, std::string> out;
    for (const auto& row : r.rows) {
      const std::string p = row["prediction"];
      out[row["id"]] = p.substr(p.find("seed="));
    }
    return out;
  };
  const auto full = seeds(run(parse_eval({"--batch_size", "3"}, exp1.path())));
  ASSERT_EQ(full.size(), 4u);
  const auto shard = seeds(run(parse_eval({"--shard", "1/2"}, exp2.path())));
  ASSERT_EQ(shard.size(), 2u);
  for (const auto& kv : shard) EXPECT_EQ(kv.second, full.at(kv.first)) << kv.first;
  for (const auto& kv : seeds(run(parse_eval({"--seed", "1"}, exp3.path()))))
    EXPECT_NE(kv.second, full.at(kv.first)) << kv.first;
}

TEST(LocalGeneration, ReferenceCompatAllAndUnknownQuirks) {
  test::TempDir exp, exp2;
  EvalRun r = run(parse_eval({"--reference_compat", "all", "--limit", "1"}, exp.path()));
  EXPECT_EQ(r.manifest["model"]["reference_compat"], json(kKnownQuirks));
  try {
    run(parse_eval({"--reference_compat", "llava_double_preprocess"}, exp2.path()));
    FAIL() << "an unknown quirk must be a usage error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "--reference_compat llava_double_preprocess: model genrunner-test-local has no such quirk; its quirks "
                 "are: fake_double_preprocess, fake_offset (or all)");
  }
}

TEST(LocalGeneration, FlagValuesAreChecked) {
  test::TempDir exp;
  EXPECT_THROW(parse_eval({"--max_new_tokens=-1"}, exp.path()), CLI::ValidationError);
  EXPECT_THROW(parse_eval({"--temperature=-0.5"}, exp.path()), CLI::ValidationError);
  // Library callers fill options by hand: bad values name the option.
  ModelSpec spec;
  spec.options = {{"max_new_tokens", "many"}};
  try {
    LocalVlmOptions::from_spec(spec);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "model option max_new_tokens must be a positive integer, got \"many\"");
  }
  spec.options = {{"batch_size", 0}};
  EXPECT_THROW(LocalVlmOptions::from_spec(spec), UsageError);
  spec.options = {{"reference_compat", " a, b,a ,"}};
  EXPECT_EQ(LocalVlmOptions::from_spec(spec).reference_compat, (std::vector<std::string>{"a", "b"}));
  spec.options = {{"reference_compat", {"a", 1}}};
  EXPECT_THROW(LocalVlmOptions::from_spec(spec), UsageError);
  LocalVlmOptions o;
  o.reference_compat = {"b"};
  EXPECT_TRUE(o.compat("b"));
  EXPECT_FALSE(o.compat("a"));
  EXPECT_EQ(o.active_compat({"a", "b"}), std::vector<std::string>{"b"});
  EXPECT_NO_THROW(o.check_compat({"a", "b"}, "m"));
  o.reference_compat = {"c"};
  EXPECT_THROW(o.check_compat({}, "m"), UsageError);
}

}  // namespace
}  // namespace mvb
