// `medvlmbench train --task vqa` for the local generative VLMs through the executable, on the tiny
// fixtures: the run folder (PEFT adapter, metrics JSONL, loss curve, checkpoints with
// --save_total_limit), and a run killed with SIGKILL after a checkpoint that --resume continues to the
// same final weights, bitwise, as an uninterrupted run.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "medvlmbench/io/safetensors.h"
#include "support/test_support.h"

namespace mvb {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

test::CommandResult train(const std::string& out, std::vector<std::string> extra, std::vector<std::string> env = {}) {
  std::vector<std::string> a = {test::exe_path(),
                                "train",
                                "--task",
                                "vqa",
                                "--dataset",
                                "SLAKE",
                                "--image_path",
                                test::fixture_path("datasets/SLAKE"),
                                "--model",
                                "LLaVA-1.5",
                                "--model_path",
                                test::fixture_path("models/llava/hf"),
                                "--output_dir",
                                out,
                                "--device",
                                "cpu",
                                "--peft",
                                "lora",
                                "--lora_r",
                                "4",
                                "--lora_alpha",
                                "8",
                                "--per_device_train_batch_size",
                                "1",
                                "--learning_rate",
                                "1e-3",
                                "--lr_scheduler_type",
                                "cosine",
                                "--warmup_ratio",
                                "0.2"};
  a.insert(a.end(), extra.begin(), extra.end());
  return test::run_command(a, env);
}

std::vector<json> jsonl(const std::string& path) {
  std::vector<json> rows;
  std::istringstream in(test::read_text(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

const char* kRun = "/vqa/SLAKE/LLaVA-1.5/train_lora_VML_seed0_llava";

TEST(CliGenerativeTrain, LlavaLoraRunFolderAsTheReferenceNamesIt) {
  ASSERT_TRUE(fs::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir tmp;
  auto r = train(tmp / "out", {"--num_train_epochs", "2", "--save_steps", "2", "--save_total_limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string run = tmp / "out" + std::string(kRun);
  for (const char* f : {"adapter_config.json", "adapter_model.safetensors", "non_lora_trainables.bin",
                        "non_lora_trainables.safetensors", "config.json", "train_metrics.jsonl", "loss_curve.svg",
                        "run.json", "train.log"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  const auto rows = jsonl(run + "/train_metrics.jsonl");
  ASSERT_FALSE(rows.empty());
  for (const char* k : {"step", "loss", "learning_rate", "grad_norm", "tokens_per_s"})
    EXPECT_TRUE(rows.back().contains(k)) << k;
  EXPECT_EQ(rows.front()["learning_rate"], 0.0);  // warm-up starts at 0, as HF's schedule
  // Checkpoints every 2 steps, the newest --save_total_limit kept.
  int kept = 0;
  for (const auto& e : fs::directory_iterator(run)) kept += e.path().filename().string().rfind("checkpoint-", 0) == 0;
  EXPECT_EQ(kept, 2);
  // The console shows loss, lr, grad norm, tokens/s and ETA per step.
  EXPECT_NE(r.err.find("grad_norm"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ETA"), std::string::npos);
  const json cfg = json::parse(test::read_text(run + "/adapter_config.json"));
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["task_type"], "CAUSAL_LM");
  EXPECT_EQ(cfg["r"], 4);
}

TEST(CliGenerativeTrain, KilledRunResumesToTheSameWeightsBitwise) {
  ASSERT_TRUE(fs::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir tmp;
  // Dropout on, so the RNG stream must be restored too.
  const std::vector<std::string> args = {
      "--max_steps",    "6",   "--save_steps",       "2", "--gradient_accumulation_steps", "2",
      "--lora_dropout", "0.1", "--save_total_limit", "0"};
  auto a = train(tmp / "a", args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // Killed (SIGKILL) right after step 3: the last checkpoint is step 2; step 3 is redone.
  auto b = train(tmp / "b", args, {"MVB_TEST_KILL_AFTER_STEP=3"});
  ASSERT_NE(b.exit_code, 0) << "the run was meant to be killed";
  const std::string run_b = tmp / "b" + std::string(kRun);
  EXPECT_FALSE(fs::exists(run_b + "/adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(run_b + "/checkpoint-2/trainer_state.json"));
  auto c = train(tmp / "b", [&] {
    auto v = args;
    v.push_back("--resume");
    return v;
  }());
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("continuing from"), std::string::npos) << c.err;
  io::StateDict wa = io::open_safetensors(tmp / "a" + std::string(kRun) + "/adapter_model.safetensors");
  io::StateDict wb = io::open_safetensors(run_b + "/adapter_model.safetensors");
  ASSERT_EQ(wa.names(), wb.names());
  for (const auto& n : wa.names()) EXPECT_TRUE(wa.get(n).equal(wb.get(n))) << n;
  // The metrics of the resumed run hold each step once.
  const auto rows = jsonl(run_b + "/train_metrics.jsonl");
  ASSERT_EQ(rows.size(), 6u);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i]["step"], static_cast<int>(i) + 1);
  const auto rows_a = jsonl(tmp / "a" + std::string(kRun) + "/train_metrics.jsonl");
  EXPECT_EQ(rows.back()["loss"], rows_a.back()["loss"]);
}

TEST(CliGenerativeTrain, Qwen2VlLoraTrainsWithLlamaFactoryTargets) {
  ASSERT_TRUE(fs::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir tmp;
  auto r = test::run_command({test::exe_path(),
                              "train",
                              "--task",
                              "vqa",
                              "--dataset",
                              "SLAKE",
                              "--image_path",
                              test::fixture_path("datasets/SLAKE"),
                              "--model",
                              "Qwen2-VL",
                              "--model_path",
                              test::fixture_path("models/qwen2_vl"),
                              "--output_dir",
                              tmp / "out",
                              "--device",
                              "cpu",
                              "--peft",
                              "lora",
                              "--lora_r",
                              "4",
                              "--tune_modules",
                              "L",
                              "--max_steps",
                              "2",
                              "--per_device_train_batch_size",
                              "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = tmp / "out/vqa/SLAKE/Qwen2-VL/train_lora_L_seed0";
  const json cfg = json::parse(test::read_text(run + "/adapter_config.json"));
  EXPECT_EQ(cfg["lora_dropout"], 0.0);  // LLaMA-Factory's default
  for (const auto& t : cfg["target_modules"]) {
    const std::string n = t.get<std::string>();
    EXPECT_EQ(n.rfind("model.language_model.layers.", 0), 0u) << n;
  }
}

}  // namespace
}  // namespace mvb

namespace mvb {
namespace {

nlohmann::json eval_metrics(const std::string& exp, const std::vector<std::string>& model_args) {
  std::vector<std::string> a = {test::exe_path(),   "eval",
                                "--task",           "vqa",
                                "--dataset",        "SLAKE",
                                "--split",          "train",
                                "--image_path",     test::fixture_path("datasets/SLAKE"),
                                "--model",          "LLaVA-1.5",
                                "--exp_path",       exp,
                                "--max_new_tokens", "8",
                                "--bootstrap",      "0",
                                "--device",         "cpu",
                                "--format",         "json"};
  a.insert(a.end(), model_args.begin(), model_args.end());
  const auto r = test::run_command(a);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

// The tuned tiny model answers its training questions better than the base (a metric goes up), through
// `eval --model_path ADAPTER --model_base BASE`, which merges the adapter as the reference's loader does.
TEST(CliGenerativeTrain, TunedAdapterAnswersTheLearnableQuestionsBetterThroughEval) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir tmp;
  const std::string base = test::fixture_path("models/llava/hf");
  auto r = train(tmp / "out", {"--max_steps", "24", "--per_device_train_batch_size", "4", "--learning_rate", "3e-3",
                               "--lora_dropout", "0", "--lr_scheduler_type", "constant", "--tune_modules", "ML",
                               "--save_steps", "0", "--lora_r", "8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = tmp / "out/vqa/SLAKE/LLaVA-1.5/train_lora_ML_seed0_llava";
  const auto rows = jsonl(run + "/train_metrics.jsonl");
  ASSERT_EQ(rows.size(), 24u);
  EXPECT_LT(rows.back()["loss"].get<double>(), 0.6 * rows.front()["loss"].get<double>());
  const auto before = eval_metrics(tmp / "ev", {"--model_path", base});
  const auto after = eval_metrics(tmp / "ev", {"--model_path", run, "--model_base", base});
  const double f1_before = before["metrics"]["f1_overall"].get<double>();
  const double f1_after = after["metrics"]["f1_overall"].get<double>();
  std::cout << "[ measured ] f1_overall on the training questions: base " << f1_before << ", tuned " << f1_after
            << "\n";
  EXPECT_GT(f1_after, f1_before);
}

// --bf16 on CPU (bf16 weights, CPU bf16 autocast, float32 adapters), --gradient_checkpointing and
// --merge_lora in one run; eval --model_path loads the merged folder.
TEST(CliGenerativeTrain, Bf16CheckpointedRunWritesAMergedModelThatEvalLoads) {
  ASSERT_TRUE(std::filesystem::exists(test::exe_path())) << "build medvlmbench first";
  test::TempDir tmp;
  auto r = train(tmp / "out", {"--max_steps", "2", "--bf16", "--gradient_checkpointing", "--merge_lora", "--save_steps",
                               "0", "--tune_modules", "L"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("bf16 autocast on CPU"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gradient checkpointing"), std::string::npos) << r.err;
  const std::string run = tmp / "out/vqa/SLAKE/LLaVA-1.5/train_lora_L_seed0_llava";
  const auto rows = jsonl(run + "/train_metrics.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(std::isfinite(rows.back()["loss"].get<double>()));
  io::StateDict adapter = io::open_safetensors(run + "/adapter_model.safetensors");
  EXPECT_EQ(adapter.get(adapter.names().front()).scalar_type(), at::kFloat);  // adapters train in float32
  ASSERT_TRUE(std::filesystem::exists(run + "/merged/model.safetensors"));
  const auto m = eval_metrics(tmp / "ev", {"--model_path", run + "/merged"});
  EXPECT_TRUE(m.contains("metrics")) << m.dump();
}

}  // namespace
}  // namespace mvb
