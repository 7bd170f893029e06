// End-to-end tests of the medvlmbench executable: subcommands, outputs, config merging, resume and
// the one-line error messages with their exit codes (2 usage, 1 runtime).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/openblas_kernels.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using test::CommandResult;
using test::run_command;

CommandResult mvb_cmd(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), test::exe_path());
  return run_command(args, env);
}

std::string demo_data() { return test::fixture_path("demo/ChestXray"); }

std::vector<std::string> demo_args(const std::string& exp) {
  return {"eval",    "--task",       "diagnosis",    "--dataset",           "ChestXray",    "--split",   "test",
          "--model", "tiny-fixture", "--model_path", "original_pretrained", "--image_path", demo_data(), "--exp_path",
          exp,       "--log_level",  "warn"};
}

std::string run_dir(const std::string& exp) {
  return exp + "/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained";
}

// Every error is exactly one line on stderr starting with "error:" (plus, for flag errors, a hint line).
void expect_one_line_error(const CommandResult& r, int code, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << r.err;  // no c10 backtraces
}

TEST(Cli, VersionJson) {
  auto r = mvb_cmd({"version", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // The executable runs on the LibTorch this build configured (its run path), CUDA part included.
  EXPECT_EQ(j["libtorch"].get<std::string>(), compat::torch_version());
  EXPECT_EQ(j["libtorch_cuda"].get<std::string>(), compat::cuda_build_version());
  EXPECT_TRUE(j["cuda_available"].is_boolean());
  EXPECT_FALSE(j["medvlmbench"].get<std::string>().empty());
}

// Debian's OpenBLAS falls back to SSE3 kernels on CPUs newer than it knows; eval (and train, score) then
// runs itself again with OPENBLAS_CORETYPE naming the kernels the CPU supports (nn/openblas_kernels.h).
TEST(Cli, RunsOnTheBestOpenblasKernelsTheCpuSupports) {
  // An empty OPENBLAS_CORETYPE counts as unset (test.sh exports one for the test binaries).
  auto r = mvb_cmd({"version", "--format", "json"}, {"OPENBLAS_CORETYPE="});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto v = nlohmann::json::parse(r.out);
  const std::string detected = v.value("openblas_kernels", std::string());
  if (detected.empty()) GTEST_SKIP() << "this build's BLAS is not OpenBLAS";
  const std::string better = nn::better_openblas_kernels(detected);
  const std::string expected = better.empty() ? detected : better;
  EXPECT_EQ(v.value("openblas_kernels_for_runs", std::string()), expected);
  auto kernels_of_eval = [&](const std::string& exp, const std::vector<std::string>& env) {
    auto e = mvb_cmd(demo_args(exp), env);
    EXPECT_EQ(e.exit_code, 0) << e.err;
    return nlohmann::json::parse(test::read_text(run_dir(exp) + "/run.json"))["versions"].value("openblas_kernels",
                                                                                                std::string());
  };
  test::TempDir tmp;
  EXPECT_EQ(kernels_of_eval(tmp / "auto", {"OPENBLAS_CORETYPE="}), expected) << "OpenBLAS chose " << detected;
  EXPECT_EQ(kernels_of_eval(tmp / "off", {"OPENBLAS_CORETYPE=", "MVB_OPENBLAS_REEXEC=0"}), detected);
  EXPECT_EQ(kernels_of_eval(tmp / "user", {"OPENBLAS_CORETYPE=Haswell"}), "Haswell");  // the user's choice wins
}

TEST(Cli, ListJsonComesFromTheRegistries) {
  auto r = mvb_cmd({"list", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  bool tiny = false, chest = false, diag = false;
  for (const auto& m : j["models"])
    if (m["name"] == "tiny-fixture") {
      tiny = true;
      EXPECT_EQ(m["family"], "classifier");
      EXPECT_NE(m["usages"].dump().find("ots(diagnosis)"), std::string::npos);
    }
  for (const auto& d : j["datasets"])
    if (d["name"] == "ChestXray") {
      chest = true;
      EXPECT_EQ(d["classes"][1], " chest xray with pneumonia");  // the reference's leading space kept
    }
  for (const auto& t : j["tasks"]) diag = diag || t["name"] == "diagnosis";
  EXPECT_TRUE(tiny && chest && diag);
  // Text form goes to stdout too, as a table.
  auto t = mvb_cmd({"list", "models"});
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_NE(t.out.find("tiny-fixture"), std::string::npos);
}

TEST(Cli, DemoEvalWritesEveryOutput) {
  test::TempDir exp;
  auto args = demo_args(exp.path());
  args.push_back("--save_pred");
  auto r = mvb_cmd(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string dir = run_dir(exp.path());
  auto preds = io::read_jsonl(dir + "/predictions.jsonl");
  ASSERT_EQ(preds.rows.size(), 12u);
  for (const auto& row : preds.rows) {
    ASSERT_EQ(row["scores"].size(), 2u);
    EXPECT_NEAR(row["scores"][0].get<double>() + row["scores"][1].get<double>(), 1.0, 1e-6);
    EXPECT_EQ(row["label"][0].get<int>(), row["id"].get<std::string>().find("PNEUMONIA") != std::string::npos ? 1 : 0);
  }
  auto metrics = nlohmann::json::parse(test::read_text(dir + "/metrics.json"));
  EXPECT_EQ(metrics["num_scored"], 12);
  EXPECT_TRUE(metrics["metrics"]["accuracy"].is_number());
  EXPECT_TRUE(metrics["metrics"]["auc"].is_number());
  auto manifest = nlohmann::json::parse(test::read_text(dir + "/run.json"));
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["samples"]["written"], 12);
  EXPECT_EQ(manifest["config"]["model"], "tiny-fixture");
  EXPECT_TRUE(manifest["versions"].contains("libtorch"));
  EXPECT_TRUE(manifest["timings"].contains("inference_s"));
  EXPECT_EQ(test::read_text(dir + "/results.csv").rfind("task,dataset,model_type,modality,size,accuracy,auc\n", 0), 0u);
  auto ref = nlohmann::json::parse(test::read_text(dir + "/predictions.json"));
  EXPECT_EQ(ref["pred_score"].size(), 12u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/eval.log"));
  // Human summary on stdout, logs on stderr.
  EXPECT_NE(r.out.find("auc: "), std::string::npos) << r.out;
}

TEST(Cli, JsonSummaryOnStdout) {
  test::TempDir exp;
  auto args = demo_args(exp.path());
  args.insert(args.end(), {"--format", "json", "--log_level", "info"});
  auto r = mvb_cmd(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);  // stdout is pure JSON, logs went to stderr
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["run_dir"], run_dir(exp.path()));
  EXPECT_NE(r.err.find("run folder"), std::string::npos);
}

TEST(Cli, ConfigFileMergesAndCommandLineWins) {
  test::TempDir exp;
  const std::string cfg = exp / "run.yaml";
  test::write_text(cfg,
                   "task: diagnosis\ndataset: ChestXray\nsplit: train\nmodel: tiny-fixture\n"
                   "model_path: original_pretrained\nbatch_size: 5\nlimit: 4\nseed: 7\nimage_path: " +
                       demo_data() + "\nexp_path: " + exp.path() + "\nlog_level: warn\n");
  // The command line overrides split and seed from the file.
  auto r = mvb_cmd({"eval", "--config", cfg, "--split", "test", "--seed", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string dir = exp.path() + "/diagnosis/ChestXray/tiny-fixture/eval_seed2/original_pretrained";
  auto manifest = nlohmann::json::parse(test::read_text(dir + "/run.json"));
  EXPECT_EQ(manifest["config"]["split"], "test");
  EXPECT_EQ(manifest["config"]["seed"], 2);
  EXPECT_EQ(manifest["config"]["batch_size"], 5);
  EXPECT_EQ(manifest["config"]["config"], cfg);
  EXPECT_EQ(io::read_jsonl(dir + "/predictions.jsonl").rows.size(), 4u);  // limit from the file
  // JSON configs work too (JSON is YAML).
  test::write_text(exp / "run.json", "{\"task\": \"diagnosis\", \"limit\": 3}");
  auto args = demo_args(exp.path());
  args.insert(args.end(), {"--config", exp / "run.json"});
  ASSERT_EQ(mvb_cmd(args).exit_code, 0);
  EXPECT_EQ(io::read_jsonl(run_dir(exp.path()) + "/predictions.jsonl").rows.size(), 3u);
}

TEST(Cli, ConfigFileErrors) {
  test::TempDir exp;
  test::write_text(exp / "typo.yaml", "modle_path: x\n");
  expect_one_line_error(mvb_cmd({"eval", "--config", exp / "typo.yaml"}), 2,
                        "unknown key 'modle_path' in --config " + (exp / "typo.yaml") + "; did you mean 'model_path'?");
  test::write_text(exp / "bad.yaml", "task: [unclosed\n");
  expect_one_line_error(mvb_cmd({"eval", "--config", exp / "bad.yaml"}), 2, "is not valid YAML/JSON");
  test::write_text(exp / "list.yaml", "- a\n- b\n");
  expect_one_line_error(mvb_cmd({"eval", "--config", exp / "list.yaml"}), 2, "must be a mapping");
  auto r = mvb_cmd({"eval", "--config", exp / "missing.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.yaml"), std::string::npos) << r.err;
}

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  test::TempDir exp;
  auto r = mvb_cmd({"eval", "--modle", "tiny-fixture"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean --model?"), std::string::npos) << r.err;

  auto args = demo_args(exp.path());
  args[8] = "tiny-fixtur";  // --model value
  expect_one_line_error(mvb_cmd(args), 2, "unknown model 'tiny-fixtur'; did you mean 'tiny-fixture'?");

  args = demo_args(exp.path());
  args[4] = "ChestXRay14x";
  expect_one_line_error(mvb_cmd(args), 2, "unknown dataset 'ChestXRay14x'");

  args = demo_args(exp.path());
  args.erase(args.begin() + 9, args.begin() + 11);  // drop --model_path
  expect_one_line_error(mvb_cmd(args), 2, "--model_path is required");

  args = demo_args(exp.path());
  args.insert(args.end(), {"--shard", "3/3"});
  expect_one_line_error(mvb_cmd(args), 2, "invalid --shard '3/3'");

  args = demo_args(exp.path());
  args[6] = "dev";
  expect_one_line_error(mvb_cmd(args), 2, "invalid --split 'dev' for ChestXray");

  args = demo_args(exp.path());
  args.insert(args.end(), {"--usage", "clip-zz"});
  expect_one_line_error(mvb_cmd(args), 2, "unknown usage 'clip-zz'");
}

// --dtype (and the reference's --bf16 / --fp16) reach the model: run.json records the precision the
// weights were built in; clashing or impossible requests are usage errors before any output.
TEST(Cli, PrecisionFlagsReachTheModel) {
  test::TempDir exp;
  auto clip_args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"eval",
                                  "--task",
                                  "diagnosis",
                                  "--dataset",
                                  "ChestXray",
                                  "--split",
                                  "test",
                                  "--usage",
                                  "clip-zs",
                                  "--model",
                                  "CLIP",
                                  "--model_path",
                                  test::fixture_path("models/tiny-clip"),
                                  "--image_path",
                                  demo_data(),
                                  "--exp_path",
                                  exp.path(),
                                  "--log_level",
                                  "warn",
                                  "--device",
                                  "cpu"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::string dir = exp.path() + "/diagnosis/ChestXray/CLIP/eval_seed0/tiny-clip/clip-zs";
  for (const auto& [flags, dtype] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "Float"}, {{"--dtype", "bf16"}, "BFloat16"}, {{"--dtype", "fp32"}, "Float"}}) {
    auto r = mvb_cmd(clip_args(flags));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto manifest = nlohmann::json::parse(test::read_text(dir + "/run.json"));
    EXPECT_EQ(manifest["model"]["dtype"], dtype) << manifest["model"].dump();
  }
  expect_one_line_error(mvb_cmd(clip_args({"--dtype", "fp16"})), 2, "fp16 needs a CUDA device");
  // Training takes the reference's HF booleans, with or without a value ("--bf16 True" as its README).
  auto train_args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"train",
                                  "--config",
                                  std::string(MVB_SOURCE_DIR) + "/configs/demo_lp_train.yaml",
                                  "--image_path",
                                  demo_data(),
                                  "--model_path",
                                  test::fixture_path("models/tiny-clip"),
                                  "--output_dir",
                                  exp.path() + "/train",
                                  "--num_train_epochs",
                                  "2",
                                  "--log_level",
                                  "warn"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto r = mvb_cmd(train_args({"--bf16", "True", "--lora_head_only", "--seed", "0"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = mvb_cmd(train_args({"--bf16", "false", "--fp16", "False"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // LoRA + AdamW in bf16: the adapters train (the final evaluation is recorded) and are saved in bf16.
  r = mvb_cmd(train_args({"--usage", "img-lora-lp", "--bf16", "True", "--output_dir", exp.path() + "/bf16lora"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string lora_run = exp.path() + "/bf16lora/diagnosis/ChestXray/CLIP/train_img-lora-lp_seed0";
  const auto head = nlohmann::json::parse(test::read_text(lora_run + "/mvb_head.json"));
  EXPECT_TRUE(head["final_eval"]["auc"].is_number()) << head.dump();
  EXPECT_TRUE(head["lora"]["trained"].get<bool>());
  const auto manifest = nlohmann::json::parse(test::read_text(lora_run + "/run.json"));
  EXPECT_EQ(manifest["model"]["dtype"], "BFloat16") << manifest["model"].dump();
  // Saved as float32 whatever the training precision, so any run can load them.
  const auto dtypes = io::open_safetensors(lora_run + "/lora.safetensors").dtype_counts();
  EXPECT_EQ(dtypes, (std::map<std::string, int64_t>{{"F32", dtypes.count("F32") ? dtypes.at("F32") : 0}}));
  EXPECT_GT(dtypes.count("F32") ? dtypes.at("F32") : 0, 0);
  expect_one_line_error(mvb_cmd(train_args({"--bf16", "True", "--fp16"})), 2, "--bf16 and --fp16 both given");
  expect_one_line_error(mvb_cmd(train_args({"--bf16", "--dtype", "fp32"})), 2, "contradicts --dtype fp32");
}

TEST(Cli, RuntimeErrorsExitOneNamingThePath) {
  test::TempDir exp;
  auto args = demo_args(exp.path());
  args[12] = exp / "no_such_data";
  expect_one_line_error(mvb_cmd(args), 1, "--image_path " + (exp / "no_such_data") + " does not exist");

  test::write_text(exp / "afile", "x");
  args = demo_args(exp / "afile");
  expect_one_line_error(mvb_cmd(args), 1, "--exp_path " + (exp / "afile") + " is a file");

  args = demo_args(exp.path());
  args.insert(args.end(), {"--device", "cuda:0"});
  auto r = mvb_cmd(args);
  if (r.exit_code != 0) expect_one_line_error(r, 1, "use --device cpu");  // CPU-only LibTorch
}

TEST(Cli, CorruptImageBecomesAnErrorRowAndTheRunCarriesOn) {
  test::TempDir exp;
  const std::string data = exp / "data";
  std::filesystem::copy(demo_data(), data, std::filesystem::copy_options::recursive);
  test::write_text(data + "/test/NORMAL/normal_test_03.png", "this is not a png");
  auto args = demo_args(exp / "out");
  args[12] = data;
  auto r = mvb_cmd(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = io::read_jsonl(run_dir(exp / "out") + "/predictions.jsonl").rows;
  ASSERT_EQ(rows.size(), 12u);
  int failed = 0;
  for (const auto& row : rows)
    if (row.value("status", "") == "failed") {
      ++failed;
      EXPECT_EQ(row["id"], "test/NORMAL/normal_test_03.png");
      EXPECT_NE(row["error"].get<std::string>().find("cannot decode image"), std::string::npos);
    }
  EXPECT_EQ(failed, 1);
  auto metrics = nlohmann::json::parse(test::read_text(run_dir(exp / "out") + "/metrics.json"));
  EXPECT_EQ(metrics["num_errors"], 1);
  EXPECT_EQ(metrics["num_scored"], 11);
}

TEST(Cli, ResumeSkipsFinishedSamples) {
  test::TempDir exp;
  auto args = demo_args(exp.path());
  args.insert(args.end(), {"--limit", "5"});
  ASSERT_EQ(mvb_cmd(args).exit_code, 0);
  const std::string pred = run_dir(exp.path()) + "/predictions.jsonl";
  // Simulate a kill mid-write: a torn final line.
  test::write_text(pred, test::read_text(pred) + "{\"id\":\"test/PNEU");
  args = demo_args(exp.path());
  args.insert(args.end(), {"--resume", "--format", "json"});
  auto r = mvb_cmd(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = io::read_jsonl(pred);
  EXPECT_EQ(rows.torn_bytes, 0u);
  ASSERT_EQ(rows.rows.size(), 12u);
  std::set<std::string> ids;
  for (const auto& row : rows.rows) ids.insert(row["id"].get<std::string>());
  EXPECT_EQ(ids.size(), 12u);  // nothing done twice
  auto manifest = nlohmann::json::parse(test::read_text(run_dir(exp.path()) + "/run.json"));
  EXPECT_EQ(manifest["samples"]["resumed"], 5);
  EXPECT_EQ(manifest["samples"]["written"], 7);
  // Without --resume a rerun starts over.
  ASSERT_EQ(mvb_cmd(demo_args(exp.path())).exit_code, 0);
  EXPECT_EQ(io::read_jsonl(pred).rows.size(), 12u);
}

TEST(Cli, ShardsPartitionTheDataset) {
  test::TempDir exp;
  std::set<std::string> all;
  for (int i = 0; i < 3; ++i) {
    auto args = demo_args(exp / ("s" + std::to_string(i)));
    args.insert(args.end(), {"--shard", std::to_string(i) + "/3"});
    ASSERT_EQ(mvb_cmd(args).exit_code, 0);
    // A shard writes below the whole run's folder (medvlmbench merge fills that one).
    auto rows = io::read_jsonl(run_dir(exp / ("s" + std::to_string(i))) + "/shard-" + std::to_string(i) +
                               "-of-3/predictions.jsonl")
                    .rows;
    EXPECT_EQ(rows.size(), 4u);
    for (const auto& row : rows) EXPECT_TRUE(all.insert(row["id"].get<std::string>()).second);
  }
  EXPECT_EQ(all.size(), 12u);
}

TEST(Cli, ScoreRescoresARunFolder) {
  test::TempDir exp;
  ASSERT_EQ(mvb_cmd(demo_args(exp.path())).exit_code, 0);
  const std::string dir = run_dir(exp.path());
  auto before = nlohmann::json::parse(test::read_text(dir + "/metrics.json"));
  std::filesystem::remove(dir + "/metrics.json");
  auto r = mvb_cmd({"score", dir, "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto after = nlohmann::json::parse(test::read_text(dir + "/metrics.json"));
  EXPECT_EQ(before["metrics"], after["metrics"]);
  expect_one_line_error(mvb_cmd({"score", exp.path()}), 1, "is not a run folder");
}

TEST(Cli, CheckDatasetAndModelFolders) {
  auto r = mvb_cmd({"check", "--dataset", "ChestXray", "--image_path", demo_data(), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dataset"]["counts"]["test"], 12);
  EXPECT_EQ(j["dataset"]["counts"]["train/class 1"], 6);

  test::TempDir tmp;
  const std::string data = tmp / "data";
  std::filesystem::copy(demo_data(), data, std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(data + "/train/PNEUMONIA");
  test::write_text(data + "/test/NORMAL/normal_test_01.png", "garbage");
  r = mvb_cmd({"check", "--dataset", "ChestXray", "--image_path", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("missing folder " + data + "/train/PNEUMONIA"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("normal_test_01.png"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("expected layout"), std::string::npos) << r.out;

  std::filesystem::create_directories(tmp / "model");
  r = mvb_cmd({"check", "--model_path", tmp / "model"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no config.json"), std::string::npos) << r.out;
  expect_one_line_error(mvb_cmd({"check"}), 2, "check needs --dataset");
}

}  // namespace
}  // namespace mvb
