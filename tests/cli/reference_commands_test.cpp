// Drop-in for the reference's users (issue 20):
// - the example commands of the reference README run unchanged except for paths (fixture data, a tiny
//   checkpoint placed in a fake Hugging Face hub cache built here), through to metrics or a trained output;
// - --model_path original_pretrained / not_given / a hub id resolve through models/ and the hub cache,
//   and a checkpoint found nowhere gives one error naming every place searched and the id to download;
// - every flag of the reference's run_eval.py / run_train.py (tests/cli/reference_flags.txt, generated
//   from its source by tests/oracles/cli/make_reference_flags.py) is accepted: the ones we implement act,
//   the others are accepted with one log line each.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/hub_cache_fixture.h"
#include "support/test_support.h"

namespace mvb {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;

const std::string kClipId = "openai/clip-vit-base-patch32";  // what the reference's CLIP loads
const std::string kRev = "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268";
const std::string kCompatGroup = "Reference compatibility (accepted, not used)";

// A hermetic environment: no Hugging Face variables of the machine running the tests leak in (empty
// reads as unset), HOME's default cache is inside `tmp`, and models/ is `tmp`/models.
std::vector<std::string> hermetic_env(const test::TempDir& tmp, std::vector<std::string> extra = {}) {
  std::vector<std::string> env = {"HOME=" + (tmp / "home"),
                                  "MVB_MODELS_DIR=" + (tmp / "models"),
                                  "HF_HOME=",
                                  "HF_HUB_CACHE=",
                                  "HUGGINGFACE_HUB_CACHE=",
                                  "TRANSFORMERS_CACHE=",
                                  "PYTORCH_TRANSFORMERS_CACHE=",
                                  "PYTORCH_PRETRAINED_BERT_CACHE=",
                                  "XDG_CACHE_HOME="};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

CommandResult mvb(std::vector<std::string> args, const std::vector<std::string>& env) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args, env);
}

// A README command line, split as a shell would, with `python run_eval.py` / `run_train.py` replaced by
// our subcommand and its paths swapped: every "./x..." prefix in `paths` is replaced by its value.
using PathSwaps = std::vector<std::pair<std::string, std::string>>;  // tried in order, first match wins

std::vector<std::string> readme_command(const std::string& text, const PathSwaps& paths) {
  std::istringstream in(text);
  std::vector<std::string> words;
  std::string w;
  while (in >> w) {
    if (w == "\\") continue;
    if (w.size() >= 2 && w.front() == '"' && w.back() == '"') w = w.substr(1, w.size() - 2);
    words.push_back(w);
  }
  std::vector<std::string> out;
  size_t i = 0;
  // "python run_eval.py" / "deepspeed run_train.py"
  while (i < words.size() && words[i].rfind("--", 0) != 0) {
    if (words[i] == "run_eval.py") out.push_back("eval");
    if (words[i] == "run_train.py") out.push_back("train");
    ++i;
  }
  for (; i < words.size(); ++i) {
    std::string a = words[i];
    for (const auto& [from, to] : paths)
      if (a.rfind(from, 0) == 0) {
        a = to + a.substr(from.size());
        break;
      }
    out.push_back(a);
  }
  return out;
}

nlohmann::json read_json(const std::string& p) { return nlohmann::json::parse(test::read_text(p)); }

// The reference README's commands, verbatim (medvlmbench-readme.txt, "Quick start").
const char* kReadmeClipZs = R"(python run_eval.py \
--task diagnosis --usage clip-zs --dataset PAPILA --split test \
--image_path ./data \
--exp_path ./log \
--model CLIP --model_path "original_pretrained" \
--save_pred \
--cache_dir ./cache)";

const char* kReadmeLp = R"(python run_train.py \
--task diagnosis --usage lp --dataset HAM10000 --split train \
--image_path ./data \
--output_dir ./log \
--model CLIP --model_path not_given \
--cache_dir ./cache \
--num_train_epochs 50 \
--learning_rate 5e-5)";

const char* kReadmeLlavaVqa = R"(python run_eval.py \
--task vqa --dataset SLAKE --split test \
--image_path ./data/SLAKE/imgs \
--model LLaVA-1.5 --model_path ./pretrained_models/llava-v1.5-7b \
--exp_path ./log \
--cache_dir ./cache \
--save_pred)";

const char* kReadmeMdAgent = R"(python run_eval.py \
--task vqa --dataset VQA-RAD --split test \
--image_path ./data \
--model Qwen2-VL \
--model_path ./pretrained_models/Qwen2-VL-2B-Instruct \
--usage mdagent \
--mdagent_mode adaptive \
--exp_path ./log \
--cache_dir ./cache \
--save_pred)";

const char* kReadmeLoraVqa = R"(deepspeed run_train.py \
--peft lora --lora_r 128 --lora_alpha 256 --mm_projector_lr 2e-5 \
--deepspeed ./script/zero3.json \
--task vqa --dataset SLAKE \
--model LLaVA-1.5 --version v1 \
--image_path ./data/SLAKE/imgs \
--model_path ./pretrained_models/llava-v1.5-7b \
--mm_projector_type mlp2x_gelu \
--mm_vision_select_layer -2 \
--mm_use_im_start_end False \
--mm_use_im_patch_token False \
--image_aspect_ratio pad \
--group_by_modality_length True \
--bf16 True \
--output_dir ./log \
--cache_dir ./cache \
--num_train_epochs 1 \
--per_device_train_batch_size 8 \
--gradient_accumulation_steps 2 \
--learning_rate 2e-4 \
--warmup_ratio 0.03 \
--lr_scheduler_type cosine \
--tune_modules L)";

const char* kReadmeUcAgent = R"(python run_eval.py \
--task vqa --dataset MedXpertQA --split test \
--image_path ./data/MedXpertQA \
--model MedGemma \
--model_path ./pretrained_models/medgemma-4b-it \
--usage ucagent \
--exp_path ./log \
--cache_dir ./cache \
--save_pred)";

TEST(ReferenceReadme, ZeroShotClipWithTheDefaultCheckpointFromTheHubCache) {
  test::TempDir tmp;
  // --cache_dir ./cache holding models--openai--clip-vit-base-patch32 as from_pretrained(cache_dir=) leaves it.
  test::make_hub_cache_entry(tmp / "cache", kClipId, test::fixture_path("models/tiny-clip"), kRev);
  auto args = readme_command(
      kReadmeClipZs,
      {{"./data", test::fixture_path("datasets/PAPILA")}, {"./log", tmp / "log"}, {"./cache", tmp / "cache"}});
  ASSERT_EQ(args.front(), "eval");
  auto r = mvb(args, hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The reference's output folder: basename of --model_path as given, then the usage.
  const std::string run = tmp / "log/diagnosis/PAPILA/CLIP/eval_seed0/original_pretrained/clip-zs";
  const auto metrics = read_json(run + "/metrics.json");
  EXPECT_EQ(metrics["num_scored"], 2) << metrics.dump();
  EXPECT_TRUE(metrics["metrics"]["accuracy"].is_number()) << metrics.dump();
  EXPECT_TRUE(fs::exists(run + "/results.csv"));
  EXPECT_TRUE(fs::exists(run + "/predictions.json"));  // --save_pred
  // run.json records the folder and revision the default checkpoint resolved to.
  const auto manifest = read_json(run + "/run.json");
  const auto& ck = manifest["checkpoint"];
  EXPECT_EQ(ck["requested"], "original_pretrained");
  EXPECT_EQ(ck["hub_id"], kClipId);
  EXPECT_EQ(ck["revision"], kRev);
  EXPECT_EQ(ck["source"], "hub cache (--cache_dir)");
  EXPECT_TRUE(fs::equivalent(ck["folder"].get<std::string>(),
                             tmp / ("cache/models--openai--clip-vit-base-patch32/snapshots/" + kRev)));
  EXPECT_NE(test::read_text(run + "/eval.log").find(kClipId + " @ " + kRev.substr(0, 12)), std::string::npos);
}

TEST(ReferenceReadme, LinearProbeWithNotGivenFromHfHomeThenEvaluated) {
  test::TempDir tmp;
  // The checkpoint is in $HF_HOME/hub (--cache_dir ./cache is empty): the environment's cache is found.
  test::make_hub_cache_entry(tmp / "hf/hub", kClipId, test::fixture_path("models/tiny-clip"), kRev);
  fs::create_directories(tmp / "cache");
  auto args = readme_command(
      kReadmeLp,
      {{"./data", test::fixture_path("datasets/HAM10000")}, {"./log", tmp / "log"}, {"./cache", tmp / "cache"}});
  ASSERT_EQ(args.front(), "train");
  const auto env = hermetic_env(tmp, {"HF_HOME=" + (tmp / "hf")});
  auto r = mvb(args, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = tmp / "log/diagnosis/HAM10000/CLIP/train_lp_seed0";
  const auto head = read_json(run + "/mvb_head.json");
  EXPECT_EQ(head["epochs"], 50) << head.dump();
  EXPECT_TRUE(head["final_eval"]["auc"].is_number()) << head.dump();
  // The trained head remembers the snapshot it was trained on ...
  EXPECT_NE(head["base_model_path"].get<std::string>().find("snapshots/" + kRev), std::string::npos);
  const auto manifest = read_json(run + "/run.json");
  EXPECT_EQ(manifest["checkpoint"]["source"], "hub cache (HF_HOME/hub)");
  EXPECT_EQ(manifest["checkpoint"]["revision"], kRev);
  // ... so evaluating it needs no --cache_dir.
  r = mvb({"eval", "--task", "diagnosis", "--usage", "lp", "--dataset", "HAM10000", "--split", "test", "--image_path",
           test::fixture_path("datasets/HAM10000"), "--exp_path", tmp / "log", "--model", "CLIP", "--model_path", run},
          env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp / "log/diagnosis/HAM10000/CLIP/eval_seed0/train_lp_seed0/lp/metrics.json"));
}

TEST(ReferenceReadme, VqaWithLlavaRunsThroughOnATinyCheckpoint) {
  test::TempDir tmp;
  // ./pretrained_models/llava-v1.5-7b in the original layout, its vision tower (mm_vision_tower
  // "openai/clip-vit-tiny") beside it, as LLaVA's README has users place them.
  fs::create_directories(tmp / "pretrained_models");
  fs::copy(test::fixture_path("models/llava/original"), tmp / "pretrained_models/llava-v1.5-7b",
           fs::copy_options::recursive);
  fs::copy(test::fixture_path("models/llava/clip-vit-tiny"), tmp / "pretrained_models/clip-vit-tiny",
           fs::copy_options::recursive);
  auto args = readme_command(kReadmeLlavaVqa, {{"./data/SLAKE/imgs", test::fixture_path("datasets/SLAKE")},
                                               {"./log", tmp / "log"},
                                               {"./cache", tmp / "cache"},
                                               {"./pretrained_models", tmp / "pretrained_models"}});
  auto r = mvb(args, hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = tmp / "log/vqa/SLAKE/LLaVA-1.5/eval_seed0/llava-v1.5-7b";
  const auto metrics = read_json(run + "/metrics.json");
  EXPECT_GT(metrics["num_scored"].get<int>(), 0) << metrics.dump();
  EXPECT_TRUE(fs::exists(run + "/results.csv"));
  EXPECT_TRUE(fs::exists(run + "/predictions.json"));  // --save_pred
  const auto manifest = read_json(run + "/run.json");
  EXPECT_EQ(manifest["model"]["conversation"], "vicuna_v1") << manifest["model"].dump();
}

TEST(ReferenceReadme, MdAgentWithQwen2VlRunsThroughOnATinyCheckpoint) {
  test::TempDir tmp;
  fs::create_directories(tmp / "pretrained_models");
  fs::copy(test::fixture_path("models/qwen2_vl"), tmp / "pretrained_models/Qwen2-VL-2B-Instruct",
           fs::copy_options::recursive);
  auto args = readme_command(kReadmeMdAgent, {{"./data", test::fixture_path("datasets/VQA-RAD")},
                                              {"./log", tmp / "log"},
                                              {"./cache", tmp / "cache"},
                                              {"./pretrained_models", tmp / "pretrained_models"}});
  auto r = mvb(args, hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = tmp / "log/vqa/VQA-RAD/Qwen2-VL/eval_seed0/Qwen2-VL-2B-Instruct/mdagent";
  const auto metrics = read_json(run + "/metrics.json");
  EXPECT_GT(metrics["agent"]["samples"].get<int>(), 0) << metrics.dump();
  ASSERT_TRUE(fs::exists(run + "/predictions.json"));  // --save_pred, with the reference's traces
  // VQA-RAD's images are embedded in parquet: the reference writes image_path "NA" (defect 12).
  const auto pred = read_json(run + "/predictions.json");
  ASSERT_FALSE(pred.empty());
  for (const auto& row : pred) EXPECT_EQ(row["image_path"], "NA") << row.dump();
}

TEST(ReferenceReadme, LoraFineTuningOfLlavaRunsThroughOnATinyCheckpoint) {
  test::TempDir tmp;
  fs::create_directories(tmp / "pretrained_models");
  fs::copy(test::fixture_path("models/llava/original"), tmp / "pretrained_models/llava-v1.5-7b",
           fs::copy_options::recursive);
  fs::copy(test::fixture_path("models/llava/clip-vit-tiny"), tmp / "pretrained_models/clip-vit-tiny",
           fs::copy_options::recursive);
  auto args = readme_command(kReadmeLoraVqa, {{"./data/SLAKE/imgs", test::fixture_path("datasets/SLAKE")},
                                              {"./log", tmp / "log"},
                                              {"./cache", tmp / "cache"},
                                              {"./script", tmp / "script"},
                                              {"./pretrained_models", tmp / "pretrained_models"}});
  ASSERT_EQ(args.front(), "train");
  auto r = mvb(args, hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // run_train.py's folder: train_{peft}_{tune_modules}_seed{seed}_llava, which its LoRA loader needs.
  const std::string run = tmp / "log/vqa/SLAKE/LLaVA-1.5/train_lora_L_seed0_llava";
  const auto adapter = read_json(run + "/adapter_config.json");
  EXPECT_EQ(adapter["r"], 128);
  EXPECT_EQ(adapter["lora_alpha"], 256);
  for (const auto& t : adapter["target_modules"])  // --tune_modules L: decoder layers only
    EXPECT_EQ(t.get<std::string>().rfind("model.layers.", 0), 0u) << t;
  EXPECT_TRUE(fs::exists(run + "/adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(run + "/train_metrics.jsonl"));
  const auto manifest = read_json(run + "/run.json");
  EXPECT_EQ(manifest["status"], "completed");
  EXPECT_EQ(manifest["config"]["bf16"], true);
}

TEST(ReferenceReadme, UcAgentWithMedGemmaRunsThroughOnATinyCheckpoint) {
  test::TempDir tmp;
  fs::create_directories(tmp / "pretrained_models");
  fs::copy(test::fixture_path("models/medgemma"), tmp / "pretrained_models/medgemma-4b-it",
           fs::copy_options::recursive);
  auto args = readme_command(kReadmeUcAgent, {{"./data/MedXpertQA", test::fixture_path("datasets/MedXpertQA")},
                                              {"./log", tmp / "log"},
                                              {"./cache", tmp / "cache"},
                                              {"./pretrained_models", tmp / "pretrained_models"}});
  auto r = mvb(args, hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = tmp / "log/vqa/MedXpertQA/MedGemma/eval_seed0/medgemma-4b-it/ucagent";
  const auto metrics = read_json(run + "/metrics.json");
  EXPECT_GT(metrics["agent"]["samples"].get<int>(), 0) << metrics.dump();
  EXPECT_TRUE(fs::exists(run + "/predictions.json"));  // --save_pred, with the reference's traces
  const auto manifest = read_json(run + "/run.json");
  EXPECT_EQ(manifest["model"]["model"], "MedGemma") << manifest["model"].dump();
}

// --- --model_path resolution -------------------------------------------------------------------

std::vector<std::string> clip_zs(const test::TempDir& tmp, const std::string& model_path,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"eval",
                                "--task",
                                "diagnosis",
                                "--usage",
                                "clip-zs",
                                "--dataset",
                                "PAPILA",
                                "--split",
                                "test",
                                "--image_path",
                                test::fixture_path("datasets/PAPILA"),
                                "--exp_path",
                                tmp / "log",
                                "--model",
                                "CLIP",
                                "--model_path",
                                model_path};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

TEST(ModelPathResolution, NothingFoundNamesEverySearchedPlaceAndTheIdToDownload) {
  test::TempDir tmp;
  auto r = mvb(clip_zs(tmp, "original_pretrained", {"--cache_dir", tmp / "cache"}),
               hermetic_env(tmp, {"HF_HUB_CACHE=" + (tmp / "hubcache")}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: --model_path original_pretrained: CLIP's default checkpoint " + kClipId, 0), 0u)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
  for (const std::string& place : {tmp / "models/clip-vit-base-patch32 (models folder)",
                                   tmp / "cache/models--openai--clip-vit-base-patch32 (--cache_dir)",
                                   tmp / "cache/hub/models--openai--clip-vit-base-patch32 (--cache_dir as HF_HOME)",
                                   tmp / "hubcache/models--openai--clip-vit-base-patch32 (HF_HUB_CACHE)",
                                   tmp / "home/.cache/huggingface/hub/models--openai--clip-vit-base-patch32 (default)"})
    EXPECT_NE(r.err.find(place), std::string::npos) << place << "\n" << r.err;
  EXPECT_NE(r.err.find("huggingface-cli download " + kClipId), std::string::npos) << r.err;
  // A folder that is neither a folder nor a hub id keeps the old message.
  r = mvb(clip_zs(tmp, tmp / "no/such/folder/x"), hermetic_env(tmp));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not a folder"), std::string::npos) << r.err;
}

TEST(ModelPathResolution, HubIdsAndTheModelsFolder) {
  test::TempDir tmp;
  const std::string id16 = "openai/clip-vit-base-patch16";
  test::make_hub_cache_entry(tmp / "home/.cache/huggingface/hub", id16, test::fixture_path("models/tiny-clip"), kRev);
  // A bare hub id: found in the default cache; the run folder is named after its basename, as the reference's.
  auto r = mvb(clip_zs(tmp, id16), hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = read_json(tmp / "log/diagnosis/PAPILA/CLIP/eval_seed0/clip-vit-base-patch16/clip-zs/run.json");
  EXPECT_EQ(m["checkpoint"]["source"], "hub cache (default)");
  EXPECT_EQ(m["checkpoint"]["hub_id"], id16);
  // models/<name> is searched before the hub cache.
  fs::create_directories(tmp / "models");
  fs::copy(test::fixture_path("models/tiny-clip"), tmp / "models/clip-vit-base-patch16");
  r = mvb(clip_zs(tmp, id16), hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  m = read_json(tmp / "log/diagnosis/PAPILA/CLIP/eval_seed0/clip-vit-base-patch16/clip-zs/run.json");
  EXPECT_EQ(m["checkpoint"]["source"], "models/");
  EXPECT_EQ(m["checkpoint"]["revision"], "");
  // A snapshot folder given directly keeps its revision.
  const std::string snap =
      tmp / ("home/.cache/huggingface/hub/models--openai--clip-vit-base-patch16/snapshots/" + kRev);
  r = mvb(clip_zs(tmp, snap), hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  m = read_json(tmp / ("log/diagnosis/PAPILA/CLIP/eval_seed0/" + kRev + "/clip-zs/run.json"));
  EXPECT_EQ(m["checkpoint"]["source"], "folder");
  EXPECT_EQ(m["checkpoint"]["revision"], kRev);
}

TEST(ModelPathResolution, CheckResolvesTheSameWay) {
  test::TempDir tmp;
  test::make_hub_cache_entry(tmp / "cache", kClipId, test::fixture_path("models/tiny-clip"), kRev);
  auto r = mvb({"check", "--model_path", kClipId, "--cache_dir", tmp / "cache", "--format", "json"}, hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"]["resolved"]["revision"], kRev);
  EXPECT_NE(j["model"].dump().find("clip"), std::string::npos) << j.dump();
  r = mvb({"check", "--model", "CLIP", "--model_path", "original_pretrained", "--cache_dir", tmp / "cache"},
          hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(kClipId + " @ " + kRev), std::string::npos) << r.out;
  r = mvb({"check", "--model", "CLIP", "--model_path", "original_pretrained"}, hermetic_env(tmp));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("huggingface-cli download " + kClipId), std::string::npos) << r.err;
  r = mvb({"check", "--model_path", "original_pretrained"}, hermetic_env(tmp));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("without --model there is no default checkpoint"), std::string::npos) << r.err;
}

// --- every reference flag ----------------------------------------------------------------------

// tests/cli/reference_flags.txt: {command -> flag names}.
std::map<std::string, std::vector<std::string>> reference_flags() {
  std::map<std::string, std::vector<std::string>> out;
  std::ifstream in(test::source_dir() + "/tests/cli/reference_flags.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string cmd, name;
    ls >> cmd >> name;
    out[cmd].push_back(name);
  }
  return out;
}

// The options `medvlmbench <cmd> --help` lists, split into the compatibility group and the rest.
struct HelpFlags {
  std::set<std::string> compat, implemented;
  std::string text;
};
HelpFlags help_flags(const std::string& cmd) {
  HelpFlags h;
  auto r = test::run_command({test::exe_path(), cmd, "--help"});
  h.text = r.out;
  std::istringstream in(r.out);
  std::string line;
  bool compat = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ') compat = line.rfind(kCompatGroup, 0) == 0;
    const size_t p = line.find("--");
    if (p == std::string::npos || line.find_first_not_of(' ') != p) continue;
    // "  -h,--help" / "  --limit,--max_samples INT" / "  --deepspeed TEXT ..."
    std::string names = line.substr(p, line.find(' ', p) - p);
    names = names.substr(0, names.find('{'));  // "--bf16{true}": a flag with an optional value
    std::istringstream ns(names);
    std::string n;
    while (std::getline(ns, n, ','))
      if (n.rfind("--", 0) == 0) (compat ? h.compat : h.implemented).insert(n.substr(2));
  }
  return h;
}

TEST(ReferenceFlags, EveryNameOfTheReferenceParsersIsAnOptionAndTrainHelpGroupsThem) {
  const auto ref = reference_flags();
  ASSERT_GE(ref.at("eval").size(), 20u);    // run_eval.py's argparse
  ASSERT_GE(ref.at("train").size(), 150u);  // TrainingArguments + the reference's Arguments
  for (const std::string cmd : {"eval", "train"}) {
    const HelpFlags h = help_flags(cmd);
    ASSERT_FALSE(h.compat.empty()) << cmd << " --help has no '" << kCompatGroup << "' group:\n" << h.text;
    std::set<std::string> listed(ref.at(cmd).begin(), ref.at(cmd).end());
    for (const std::string& n : ref.at(cmd))
      EXPECT_TRUE(h.compat.count(n) || h.implemented.count(n)) << cmd << " does not accept --" << n;
    // The compatibility group holds reference names only, and none we implement.
    for (const std::string& n : h.compat) {
      EXPECT_TRUE(listed.count(n)) << "--" << n << " is in the compatibility table but not a reference flag of " << cmd;
      EXPECT_FALSE(h.implemented.count(n)) << "--" << n;
    }
  }
  // The README LoRA command's flags that used to be refused are now in train's help.
  const HelpFlags train = help_flags("train");
  for (const char* n : {"deepspeed", "version", "mm_projector_type", "mm_vision_select_layer", "mm_use_im_start_end",
                        "mm_use_im_patch_token", "image_aspect_ratio", "group_by_modality_length"})
    EXPECT_TRUE(train.compat.count(n) || train.implemented.count(n)) << n;
}

TEST(ReferenceFlags, UnusedFlagsParseWithValuesAndEachLogsOneLine) {
  test::TempDir tmp;
  // train: an LP run given every compatibility flag (a value each, a few as bare booleans), with HF's
  // dashed spelling for one implemented flag, which must act.
  const HelpFlags h = help_flags("train");
  std::vector<std::string> args = {"train",
                                   "--task",
                                   "diagnosis",
                                   "--usage",
                                   "lp",
                                   "--dataset",
                                   "ChestXray",
                                   "--image_path",
                                   test::fixture_path("demo/ChestXray"),
                                   "--model",
                                   "CLIP",
                                   "--model_path",
                                   test::fixture_path("models/tiny-clip"),
                                   "--output_dir",
                                   tmp / "out",
                                   "--num_train_epochs",
                                   "1",
                                   "--per-device-train-batch-size",
                                   "3"};
  int bare = 0;
  for (const std::string& n : h.compat) {
    args.push_back("--" + n);
    if (bare++ % 5) args.push_back(n == "mm_vision_select_layer" ? "-2" : "x");  // every 5th bare
  }
  auto r = mvb(args, hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = tmp / "out/diagnosis/ChestXray/CLIP/train_lp_seed0";
  const auto manifest = read_json(run + "/run.json");
  EXPECT_EQ(manifest["config"]["per_device_train_batch_size"], 3);
  EXPECT_EQ(manifest["config"]["split"], "train");  // run_train.py's split when none is given
  ASSERT_EQ(manifest["reference_flags_not_used"].size(), h.compat.size());
  const std::string log = test::read_text(run + "/train.log");
  for (const std::string& n : h.compat)
    EXPECT_NE(log.find("--" + n + (n == "mm_vision_select_layer" ? " -2" : "")), std::string::npos) << n;
  EXPECT_NE(log.find("--deepspeed x: accepted for compatibility; one process runs on --device"), std::string::npos)
      << log;

  // eval: the reference's run_eval.py flags we do not use, on the demo model.
  r = mvb({"eval",
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
           tmp / "log",
           "--print_freq",
           "10",
           "--gpt_eval",
           "--hash_id",
           "abc",
           "--num_gpus",
           "2",
           "--wandb_name",
           "baseline",
           "--if_wandb",
           "False",
           "--eval_print_freq",
           "100"},
          hermetic_env(tmp));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string eval_run = tmp / "log/diagnosis/ChestXray/tiny-fixture/eval_seed0/original_pretrained";
  EXPECT_EQ(read_json(eval_run + "/run.json")["reference_flags_not_used"].size(), 6u);
  const std::string elog = test::read_text(eval_run + "/eval.log");
  EXPECT_NE(elog.find("--gpt_eval: accepted for compatibility; a no-op in the reference too"), std::string::npos)
      << elog;
  EXPECT_NE(elog.find("--num_gpus 2: accepted for compatibility; one process runs on --device"), std::string::npos);
}

}  // namespace
}  // namespace mvb
