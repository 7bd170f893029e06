// Scale-out through the executable: --shard i/n and Slurm array variables, `medvlmbench merge`, and
// eval --devices (worker processes over interleaved shards, here CPU workers). A sharded run merged,
// a run resumed after a kill with another batch size, and a --devices run write the same bytes as one
// uninterrupted run (defect 6: per-sample outputs do not depend on the batch a sample ran in).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <sstream>

#include "medvlmbench/io/jsonl.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using nlohmann::json;
using test::CommandResult;

CommandResult mvb_cmd(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args, env);
}

// A ChestXray folder of `n` noisy 40x40 PNGs (every image different, so every probability row is).
std::string make_chestxray(const std::string& root, int n) {
  std::mt19937 rng(7);
  for (int i = 0; i < n; ++i) {
    const std::string dir = root + "/test/" + (i % 3 ? "PNEUMONIA" : "NORMAL");
    std::filesystem::create_directories(dir);
    cv::Mat img(40, 40, CV_8UC3);
    for (int p = 0; p < img.rows * img.cols * 3; ++p) img.data[p] = static_cast<uint8_t>(rng() & 0xff);
    cv::imwrite(dir + "/img_" + std::to_string(1000 + i) + ".png", img);
  }
  return root;
}

std::vector<std::string> clip_args(const std::string& data, const std::string& exp) {
  return {"eval",
          "--task",
          "diagnosis",
          "--usage",
          "clip-zs",
          "--dataset",
          "ChestXray",
          "--split",
          "test",
          "--model",
          "CLIP",
          "--model_path",
          test::fixture_path("models/tiny-clip"),
          "--image_path",
          data,
          "--exp_path",
          exp,
          "--device",
          "cpu",
          "--save_pred",
          "--bootstrap",
          "50",
          "--log_level",
          "warn"};
}

std::string clip_dir(const std::string& exp) { return exp + "/diagnosis/ChestXray/CLIP/eval_seed0/tiny-clip/clip-zs"; }

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// The files one run writes whose bytes must not depend on how the run was split up.
void expect_same_outputs(const std::string& want, const std::string& got) {
  for (const char* f : {"predictions.jsonl", "results.csv", "predictions.json"})
    EXPECT_EQ(test::read_text(want + "/" + f), test::read_text(got + "/" + f)) << f << " of " << got;
  const json a = json::parse(test::read_text(want + "/metrics.json"));
  const json b = json::parse(test::read_text(got + "/metrics.json"));
  for (const char* k : {"metrics", "ci95", "num_rows", "num_scored", "num_errors"}) EXPECT_EQ(a[k], b[k]) << k;
}

TEST(ShardMerge, ShardsMergedAreByteIdenticalToOneRunContrastive) {
  test::TempDir tmp;
  const std::string data = make_chestxray(tmp / "data", 50);
  const std::string exp = tmp / "out";
  // One run at batch 16; shards at batch 16 start their batches at other samples.
  auto r = mvb_cmd(with(clip_args(data, tmp / "one"), {"--batch_size", "16"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> dirs;
  for (int i = 0; i < 3; ++i) {
    const std::string shard = std::to_string(i) + "/3";
    // Shard 1 comes from a Slurm array task's variables instead of --shard (ids 5..7 = tasks 0..2).
    r = i == 1 ? mvb_cmd(with(clip_args(data, exp), {"--batch_size", "16", "--log_level", "info"}),
                         {"SLURM_ARRAY_TASK_ID=6", "SLURM_ARRAY_TASK_MIN=5", "SLURM_ARRAY_TASK_COUNT=3"})
               : mvb_cmd(with(clip_args(data, exp), {"--batch_size", "16", "--shard", shard}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string dir = clip_dir(exp) + "/shard-" + std::to_string(i) + "-of-3";
    ASSERT_TRUE(std::filesystem::exists(dir + "/predictions.jsonl")) << dir;
    const json run = json::parse(test::read_text(dir + "/run.json"));
    EXPECT_EQ(run["config"]["shard"], shard);
    EXPECT_EQ(run["shard"]["index"], i);
    EXPECT_EQ(run["shard"]["count"], 3);
    if (i == 1) {
      EXPECT_EQ(run["shard"]["source"],
                "SLURM_ARRAY_TASK_ID=6 of SLURM_ARRAY_TASK_COUNT=3 from SLURM_ARRAY_TASK_MIN=5");
      EXPECT_NE(test::read_text(dir + "/eval.log").find("from the Slurm array"), std::string::npos);
    }
    dirs.push_back(dir);
  }
  // Merged in any order, into the folder the whole run would use.
  r = mvb_cmd({"merge", dirs[2], dirs[0], dirs[1], "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["run_dir"], clip_dir(exp));
  expect_same_outputs(clip_dir(tmp / "one"), clip_dir(exp));
  const json merged = json::parse(test::read_text(clip_dir(exp) + "/run.json"));
  EXPECT_EQ(merged["config"]["shard"], "");
  EXPECT_EQ(merged["merged_from"].size(), 3u);
  EXPECT_EQ(merged["samples"]["written"], 50);
}

TEST(ShardMerge, MergeRefusesShardsThatDoNotMakeOneRun) {
  test::TempDir tmp;
  const std::string data = make_chestxray(tmp / "data", 12);
  const std::string exp = tmp / "out";
  std::vector<std::string> dirs;
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(mvb_cmd(with(clip_args(data, exp), {"--shard", std::to_string(i) + "/2"})).exit_code, 0);
    dirs.push_back(clip_dir(exp) + "/shard-" + std::to_string(i) + "-of-2");
  }
  auto expect_error = [](const CommandResult& r, const std::string& fragment) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  };
  expect_error(mvb_cmd({"merge", dirs[0]}), "shard(s) 1/2 missing");
  expect_error(mvb_cmd({"merge", dirs[0], dirs[0]}), "shard 0/2 given twice");
  // Another prompt: not the same evaluation.
  const std::string other = tmp / "other";
  ASSERT_EQ(mvb_cmd(with(clip_args(data, other), {"--shard", "1/2", "--prompt_template", "an x-ray of {}"})).exit_code,
            0);
  expect_error(mvb_cmd({"merge", dirs[0], clip_dir(other) + "/shard-1-of-2"}),
               "run.json differs in config.prompt_template");
  // A lost row, then a row that belongs to another shard.
  const std::string pred = dirs[1] + "/predictions.jsonl";
  const std::string full = test::read_text(pred);
  const std::string first_line = full.substr(0, full.find('\n') + 1);
  test::write_text(pred, full.substr(first_line.size()));
  expect_error(mvb_cmd({"merge", dirs[0], dirs[1]}), "1 sample(s) of ChestXray (test) have no row in their shard");
  const std::string shard0 = test::read_text(dirs[0] + "/predictions.jsonl");
  test::write_text(pred, full + shard0.substr(0, shard0.find('\n') + 1));
  expect_error(mvb_cmd({"merge", dirs[0], dirs[1]}), "row(s) that are not samples of its shard 1/2");
  test::write_text(pred, full);
  // An unfinished shard.
  json run = json::parse(test::read_text(dirs[1] + "/run.json"));
  run["status"] = "interrupted";
  test::write_text(dirs[1] + "/run.json", run.dump());
  expect_error(mvb_cmd({"merge", dirs[0], dirs[1]}), "did not finish");
  run["status"] = "completed";
  test::write_text(dirs[1] + "/run.json", run.dump());
  EXPECT_EQ(mvb_cmd({"merge", dirs[0], dirs[1], "--output", tmp / "merged"}).exit_code, 0);
  EXPECT_EQ(io::read_jsonl(tmp / "merged/predictions.jsonl").rows.size(), 12u);
  // Usage: a bad Slurm variable is named.
  auto r = mvb_cmd(clip_args(data, tmp / "slurm"), {"SLURM_ARRAY_TASK_ID=x", "SLURM_ARRAY_TASK_COUNT=2"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("SLURM_ARRAY_TASK_ID=x"), std::string::npos) << r.err;
  // An array whose tasks are different runs (a sweep) opts out: the whole split, no shard folder.
  r = mvb_cmd(clip_args(data, tmp / "sweep"),
              {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=2", "MVB_SLURM_SHARD=0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(io::read_jsonl(clip_dir(tmp / "sweep") + "/predictions.jsonl").rows.size(), 12u);
  EXPECT_EQ(json::parse(test::read_text(clip_dir(tmp / "sweep") + "/run.json"))["config"]["shard"], "");
}

// Defect 6: a run killed part-way and resumed with another batch size writes the bytes of one
// uninterrupted run (before the fix, batch composition changed probabilities in the 7th digit).
TEST(ShardMerge, ResumeAfterAKillIsByteIdenticalToOneRun) {
  test::TempDir tmp;
  const std::string data = make_chestxray(tmp / "data", 70);
  ASSERT_EQ(mvb_cmd(with(clip_args(data, tmp / "one"), {"--batch_size", "64"})).exit_code, 0);
  for (const char* batch : {"64", "63", "5"}) {
    const std::string exp = tmp / (std::string("b") + batch);
    ASSERT_EQ(mvb_cmd(with(clip_args(data, exp), {"--batch_size", batch})).exit_code, 0);
    EXPECT_EQ(test::read_text(clip_dir(tmp / "one") + "/predictions.jsonl"),
              test::read_text(clip_dir(exp) + "/predictions.jsonl"))
        << "batch " << batch << " changed a probability row";
  }
  // Kill: the first 37 rows and half a line survive; resume at batch 64 takes the other 33 at once.
  const std::string exp = tmp / "killed";
  ASSERT_EQ(mvb_cmd(with(clip_args(data, exp), {"--batch_size", "16"})).exit_code, 0);
  const std::string pred = clip_dir(exp) + "/predictions.jsonl";
  std::istringstream in(test::read_text(pred));
  std::string kept, line;
  for (int i = 0; i < 37 && std::getline(in, line); ++i) kept += line + "\n";
  std::getline(in, line);
  test::write_text(pred, kept + line.substr(0, line.size() / 2));
  auto r = mvb_cmd(with(clip_args(data, exp), {"--batch_size", "64", "--resume"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_same_outputs(clip_dir(tmp / "one"), clip_dir(exp));
}

TEST(ShardMerge, DevicesRunsWorkersAndMerges) {
  test::TempDir tmp;
  const std::string data = make_chestxray(tmp / "data", 40);
  // The same intra-op thread count for the single run and every worker (which otherwise share the
  // machine's CPUs): MKL's sgemm (the LibTorch 2.x wheel) rounds differently on 1 and 2 threads, so
  // only the split, not the thread count, is what these byte comparisons hold constant.
  const std::vector<std::string> one_thread = {"MVB_NUM_THREADS=1"};
  ASSERT_EQ(mvb_cmd(with(clip_args(data, tmp / "one"), {"--batch_size", "8"}), one_thread).exit_code, 0);
  const std::string exp = tmp / "dev";
  auto r = mvb_cmd(with(clip_args(data, exp), {"--batch_size", "8", "--devices", "cpu,cpu,cpu", "--format", "json"}),
                   one_thread);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["run_dir"], clip_dir(exp));
  expect_same_outputs(clip_dir(tmp / "one"), clip_dir(exp));
  for (int i = 0; i < 3; ++i) {
    const json run = json::parse(test::read_text(clip_dir(exp) + "/shard-" + std::to_string(i) + "-of-3/run.json"));
    EXPECT_EQ(run["device"], "cpu");
    EXPECT_EQ(run["config"]["shard"], std::to_string(i) + "/3");
  }
  // A worker that fails (a device this machine does not have) is reported; the other keeps its rows.
  const std::string bad = tmp / "bad";
  r = mvb_cmd(with(clip_args(data, bad), {"--devices", "cpu,cuda:99"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("worker 1 on cuda:99 (shard 1/2) failed"), std::string::npos) << r.err;
  EXPECT_EQ(io::read_jsonl(clip_dir(bad) + "/shard-0-of-2/predictions.jsonl").rows.size(), 20u);
  EXPECT_FALSE(std::filesystem::exists(clip_dir(bad) + "/predictions.jsonl")) << "no merge after a failure";
  // Syntax errors are usage errors.
  r = mvb_cmd(with(clip_args(data, bad), {"--devices", "gpu0"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid device 'gpu0' in --devices"), std::string::npos) << r.err;
  r = mvb_cmd(with(clip_args(data, bad), {"--devices", "cpu,cpu", "--shard", "0/2"}));
  EXPECT_EQ(r.exit_code, 2);
}

// A generative model: LLaVA-1.5 (tiny checkpoint) over the SLAKE fixture, batch 2, in two shards.
TEST(ShardMerge, ShardsMergedEqualOneRunGenerative) {
  test::TempDir tmp;
  auto args = [&](const std::string& exp) {
    return std::vector<std::string>{"eval",
                                    "--task",
                                    "vqa",
                                    "--dataset",
                                    "SLAKE",
                                    "--split",
                                    "test",
                                    "--image_path",
                                    test::fixture_path("datasets/SLAKE"),
                                    "--model",
                                    "LLaVA-1.5",
                                    "--model_path",
                                    test::fixture_path("models/llava/original"),
                                    "--exp_path",
                                    exp,
                                    "--device",
                                    "cpu",
                                    "--bootstrap",
                                    "0",
                                    "--save_pred",
                                    "--max_new_tokens",
                                    "6",
                                    "--batch_size",
                                    "2",
                                    "--log_level",
                                    "warn"};
  };
  auto r = mvb_cmd(args(tmp / "one"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 2; ++i) {
    r = mvb_cmd(with(args(tmp / "sh"), {"--shard", std::to_string(i) + "/2"}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string rel = "/vqa/SLAKE/LLaVA-1.5/eval_seed0/original";
  r = mvb_cmd({"merge", tmp / ("sh" + rel + "/shard-0-of-2"), tmp / ("sh" + rel + "/shard-1-of-2")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Rows carry their latency; everything else is the same.
  auto rows = [](const std::string& dir) {
    std::vector<json> out = io::read_jsonl(dir + "/predictions.jsonl").rows;
    for (auto& row : out) row.erase("latency_s");
    return out;
  };
  const auto a = rows(tmp / ("one" + rel)), b = rows(tmp / ("sh" + rel));
  ASSERT_EQ(a.size(), 4u);  // the English test questions of the fixture
  EXPECT_EQ(a, b);
  for (const char* f : {"results.csv", "predictions.json"})
    EXPECT_EQ(test::read_text(tmp / ("one" + rel + "/" + f)), test::read_text(tmp / ("sh" + rel + "/" + f))) << f;
}

// scripts/slurm: the array template (shard = array task) and the dependent merge, run through a
// stand-in sbatch/srun (tests/cli/fake_slurm), give the run folder one unsharded run writes.
TEST(SlurmTemplates, ArrayThenMergeEqualsOneRun) {
  test::TempDir tmp;
  const std::string data = make_chestxray(tmp / "data", 20);
  ASSERT_EQ(mvb_cmd(with(clip_args(data, tmp / "one"), {"--batch_size", "8"})).exit_code, 0);
  const std::string config = tmp / "eval.yaml";
  test::write_text(config, "task: diagnosis\nusage: clip-zs\ndataset: ChestXray\nsplit: test\nimage_path: " + data +
                               "\nmodel: CLIP\nmodel_path: " + test::fixture_path("models/tiny-clip") +
                               "\nbatch_size: 8\nsave_pred: true\nbootstrap: 50\n");
  const std::string fake = test::source_dir() + "/tests/cli/fake_slurm";
  const auto r = test::run_command({"bash", "-c",
                                    "cd " + tmp.path() + " && bash " + test::source_dir() +
                                        "/scripts/slurm/submit_sharded_eval.sh 3 " + config + " --device cpu"},
                                   {"PATH=" + fake + ":" + std::getenv("PATH"), "MVB=" + test::exe_path(),
                                    "EXP_PATH=" + (tmp / "slurm"), "FAKE_SLURM_LOG=" + (tmp / "slurm.log")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << test::read_text(tmp / "slurm.log");
  const std::string dir = clip_dir(tmp / "slurm");
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(std::filesystem::exists(dir + "/shard-" + std::to_string(i) + "-of-3/run.json")) << i;
  expect_same_outputs(clip_dir(tmp / "one"), dir);
}

// Defect 12: the reference's ChestXray input (224x224 squash, no normalisation) only behind
// --reference_compat; run.json says which input ran.
TEST(ReferenceCompat, ChestXrayTransformOnlyWhenAsked) {
  test::TempDir tmp;
  auto run = [&](const std::string& exp, const std::vector<std::string>& more) {
    std::vector<std::string> a = {"eval",
                                  "--task",
                                  "diagnosis",
                                  "--dataset",
                                  "ChestXray",
                                  "--split",
                                  "test",
                                  "--model",
                                  "tiny-fixture",
                                  "--model_path",
                                  "original_pretrained",
                                  "--image_path",
                                  test::fixture_path("demo/ChestXray"),
                                  "--exp_path",
                                  exp,
                                  "--device",
                                  "cpu",
                                  "--bootstrap",
                                  "0",
                                  "--log_level",
                                  "warn"};
    a.insert(a.end(), more.begin(), more.end());
    const auto r = mvb_cmd(a);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string dir = exp + "/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained";
    return std::make_pair(test::read_text(dir + "/predictions.jsonl"), json::parse(test::read_text(dir + "/run.json")));
  };
  const auto plain = run(tmp / "plain", {});
  const auto quirk = run(tmp / "quirk", {"--reference_compat", "chestxray_transform"});
  const auto all = run(tmp / "all", {"--reference_compat", "all"});
  EXPECT_NE(plain.first, quirk.first) << "the squashed, unnormalised input gives other scores";
  EXPECT_EQ(quirk.first, all.first);
  EXPECT_EQ(plain.second["usage_stats"]["reference_compat"], json::array());
  EXPECT_EQ(plain.second["usage_stats"]["input_transform"], "the model's processor");
  EXPECT_EQ(quirk.second["usage_stats"]["reference_compat"], json::array({"chestxray_transform"}));
}

}  // namespace
}  // namespace mvb
