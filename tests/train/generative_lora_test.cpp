// Generative fine-tuning (train/sft.h, train/optim.h, src/train/generative_trainer.cpp):
//  - the gradients of one LoRA step equal transformers + PEFT's on the same tiny model, adapter and
//    batch (tests/oracles/train/lora_step_oracle.py, run live with the oracle environment), for the
//    LLaVA (llava-hf layout) and Qwen2-VL fixtures;
//  - the masked labels follow the reference's preprocessing;
//  - the schedules and AdamW equal torch's.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/llava/llava_model.h"
#include "medvlmbench/models/qwen2_vl/model.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/train/generative_trainer.h"
#include "medvlmbench/train/head_checkpoint.h"
#include "medvlmbench/train/optim.h"
#include "medvlmbench/train/sft.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

constexpr double kGradTol = 1e-4;

std::unique_ptr<Model> load_llava(const std::string& folder) {
  ModelSpec spec;
  spec.name = "LLaVA-1.5";
  spec.model_path = fixture_path("models/llava/" + folder);
  spec.dtype = "fp32";
  return std::make_unique<llava::LlavaModel>(spec, llava::LlavaModel::Variant::kLlava15);
}

std::unique_ptr<Model> load_qwen() {
  ModelSpec spec;
  spec.name = "Qwen2-VL";
  spec.model_path = fixture_path("models/qwen2_vl");
  spec.dtype = "fp32";
  return std::make_unique<qwen2_vl::QwenVlModel>(spec, qwen2_vl::Flavor::kQwen2VL);
}

std::vector<train::SftExample> two_examples(train::TrainableVlm& t, const std::string& image_dir) {
  train::SftOptions o;
  std::vector<train::SftExample> b;
  const auto images = image_dir == "llava"
                          ? std::vector<std::string>{"models/llava/tall_20x33.png", "models/llava/wide_41x29.png"}
                          : std::vector<std::string>{"models/qwen2_vl_images/wide_190x60.png",
                                                     "models/qwen2_vl_images/wide_190x60.png"};
  b.push_back(t.example("What organ is shown?", "Lung", {ImageRef::file(fixture_path(images[0]))}, o));
  b.push_back(t.example("Is there an abnormality in the left lung?", "yes, a nodule",
                        {ImageRef::file(fixture_path(images[1]))}, o));
  return b;
}

// The batch as transformers takes it: image placeholders expanded, right-padded, attention mask.
void write_hf_batch(const std::string& path, const std::vector<train::SftExample>& b, int64_t image_token,
                    int64_t tokens_per_image_llava) {
  std::vector<std::vector<int64_t>> ids, labels;
  size_t longest = 0;
  for (const auto& ex : b) {
    std::vector<int64_t> i, l;
    for (size_t k = 0; k < ex.input_ids.size(); ++k) {
      if (ex.input_ids[k] == -200) {
        i.insert(i.end(), tokens_per_image_llava, image_token);
        l.insert(l.end(), tokens_per_image_llava, train::kIgnoreIndex);
      } else {
        i.push_back(ex.input_ids[k]);
        l.push_back(ex.labels[k]);
      }
    }
    longest = std::max(longest, i.size());
    ids.push_back(i);
    labels.push_back(l);
  }
  const int64_t B = static_cast<int64_t>(b.size()), L = static_cast<int64_t>(longest);
  at::Tensor t_ids = at::zeros({B, L}, at::kLong), t_lab = at::full({B, L}, train::kIgnoreIndex, at::kLong),
             t_mask = at::zeros({B, L}, at::kLong);
  for (int64_t r = 0; r < B; ++r) {
    const int64_t n = static_cast<int64_t>(ids[r].size());
    t_ids[r].slice(0, 0, n).copy_(at::tensor(ids[r], at::kLong));
    t_lab[r].slice(0, 0, n).copy_(at::tensor(labels[r], at::kLong));
    t_mask[r].slice(0, 0, n).fill_(1);
  }
  std::vector<at::Tensor> px;
  std::vector<int64_t> grids;
  for (const auto& ex : b) {
    for (const auto& p : ex.pixels) px.push_back(p);
    for (const auto& g : ex.grids) grids.insert(grids.end(), g.begin(), g.end());
  }
  std::vector<std::pair<std::string, at::Tensor>> out = {
      {"input_ids", t_ids}, {"labels", t_lab}, {"attention_mask", t_mask}};
  if (grids.empty()) {
    out.emplace_back("pixel_values", at::stack(px));
  } else {
    out.emplace_back("pixel_values", at::cat(px, 0));
    out.emplace_back("image_grid_thw", at::tensor(grids, at::kLong).view({-1, 3}));
  }
  io::write_safetensors(path, out);
}

// One LoRA step on both sides from the same adapter (B made non-zero so A's gradient is too).
void check_gradients_equal_peft(Model& model, const std::string& family, const std::string& tm,
                                const std::string& model_dir, int64_t image_token, int64_t tokens_per_image) {
  MVB_REQUIRE_ORACLE_ENV();
  auto t = train::make_trainable(model, family);
  const train::TrainPlan plan = t->plan(tm, true);
  ASSERT_FALSE(plan.lora_modules.empty());
  torch::manual_seed(3);
  nn::LoraConfig lcfg;
  lcfg.r = 4;
  lcfg.alpha = 8;
  lcfg.dropout = 0;
  train::add_lora(t->root(), plan.lora_modules, lcfg);
  std::vector<at::Tensor> params;
  for (auto& p : t->root().named_parameters(true)) {
    const bool lora = nn::is_lora_name(p.key());
    if (lora && p.key().find("lora_B") != std::string::npos) {
      at::NoGradGuard g;
      p.value().normal_(0, 0.05);
    }
    p.value().set_requires_grad(lora);
    if (lora) params.push_back(p.value());
  }
  TempDir tmp;
  ASSERT_TRUE(
      train::save_peft_adapter(tmp / "adapter", t->root(), [&](const std::string& n) { return t->peft_name(n); }));
  const auto batch = two_examples(*t, family == "llava" ? "llava" : "qwen");
  write_hf_batch(tmp / "batch.safetensors", batch, image_token, tokens_per_image);
  t->root().train();
  auto [sum, count] = t->loss_sum(batch);
  ASSERT_GT(count, 0);
  const at::Tensor loss = sum / static_cast<double>(count);
  loss.backward();

  const auto r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/lora_step_oracle.py",
                                   {family == "llava" ? "llava" : "qwen2_vl", model_dir, tmp / "adapter",
                                    tmp / "batch.safetensors", tmp / "grads.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  io::StateDict want = io::open_safetensors(tmp / "grads.safetensors");
  EXPECT_NEAR(loss.item<double>(), want.get("loss").item<double>(), 1e-5);
  double worst = 0;
  int compared = 0, unused = 0;
  for (auto& [path, lin] : nn::find_linears(t->root())) {
    if (!lin->has_lora()) continue;
    const std::string stem = "base_model.model." + *t->peft_name(path);
    for (const auto& [suffix, p] :
         {std::pair<std::string, at::Tensor>{".lora_A.weight", lin->lora_A}, {".lora_B.weight", lin->lora_B}}) {
      if (!want.contains(stem + suffix)) {
        // No gradient in PEFT: the layer does not reach the loss (LLaVA's tower after the selected
        // hidden state, which transformers 5 does not even run); ours must be zero there.
        if (p.grad().defined()) EXPECT_EQ(p.grad().abs().max().item<double>(), 0.0) << path;
        ++unused;
        continue;
      }
      ASSERT_TRUE(p.grad().defined()) << path;
      worst = std::max(worst, max_abs_diff(p.grad(), want.get(stem + suffix)));
      ++compared;
    }
  }
  EXPECT_EQ(compared, static_cast<int>(want.names().size()) - 1) << "PEFT trained other tensors than ours";
  EXPECT_GT(compared, unused);
  EXPECT_LE(worst, kGradTol);
  std::cout << "[ measured ] " << family << " " << compared << " LoRA gradients, loss " << loss.item<double>()
            << ", max |grad diff| " << worst << "\n";
}

TEST(GenerativeLora, LlavaGradientsOfOneStepEqualPeftAndTransformers) {
  auto m = load_llava("hf");
  auto* lm = dynamic_cast<llava::LlavaModel*>(m.get());
  const auto& c = lm->config();
  const int64_t patches = (c.vision.image_size / c.vision.patch_size) * (c.vision.image_size / c.vision.patch_size);
  check_gradients_equal_peft(*m, "llava", "VL", fixture_path("models/llava/hf"), c.image_token_index, patches);
}

TEST(GenerativeLora, Qwen2VlGradientsOfOneStepEqualPeftAndTransformers) {
  auto m = load_qwen();
  check_gradients_equal_peft(*m, "qwen2_vl", "VML", fixture_path("models/qwen2_vl"), 0, 0);
}

// --lora_bias all / lora_only: the biases train as PEFT marks them, adapter_model.safetensors holds
// exactly the keys PEFT's own save_pretrained writes for that LoraConfig, and PEFT loads the adapter
// with the same biases, loss and bias gradients (tests/oracles/train/peft_bias_oracle.py).
TEST(GenerativeLora, LoraBiasAllAndLoraOnlyAreSavedAndLoadedAsPeftDoes) {
  MVB_REQUIRE_ORACLE_ENV();
  for (const std::string bias : {"all", "lora_only"}) {
    SCOPED_TRACE(bias);
    auto m = load_qwen();
    auto t = train::make_trainable(*m, "Qwen2-VL");
    const train::TrainPlan plan = t->plan("L", true);
    torch::manual_seed(4);
    nn::LoraConfig lcfg;
    lcfg.r = 4;
    lcfg.alpha = 8;
    lcfg.dropout = 0;
    train::add_lora(t->root(), plan.lora_modules, lcfg);
    const auto trainable = train::select_trainable(t->root(), plan, true, bias);
    std::set<std::string> adapted;
    for (auto& [name, lin] : nn::find_linears(t->root()))
      if (lin->has_lora()) adapted.insert(name);
    std::map<std::string, at::Tensor> ours;  // PEFT's parameter name -> our trained bias
    {
      at::NoGradGuard g;
      for (const auto& [n, p] : trainable) {
        if (n.find("lora_B") != std::string::npos) p.normal_(0, 0.05);
        if (nn::is_lora_name(n)) continue;
        p.add_(at::randn_like(p) * 0.05);  // as if trained
        const std::string module = n.substr(0, n.rfind('.'));
        ours["base_model.model." + *t->peft_name(module) + (adapted.count(module) ? ".base_layer" : "") + ".bias"] = p;
      }
    }
    ASSERT_FALSE(ours.empty());
    TempDir tmp;
    train::SaveOptions so;
    so.lora = true;
    so.lcfg = lcfg;
    so.lora_bias = bias;
    train::save_generative_outputs(*t, tmp / "run", trainable, so);
    EXPECT_EQ(io::read_json(tmp / "run/adapter_config.json")["bias"], bias);
    const auto batch = two_examples(*t, "qwen");
    write_hf_batch(tmp / "batch.safetensors", batch, 0, 0);
    t->root().train();
    auto [sum, count] = t->loss_sum(batch);
    const at::Tensor loss = sum / static_cast<double>(count);
    loss.backward();
    const auto r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/peft_bias_oracle.py",
                                     {"qwen2_vl", fixture_path("models/qwen2_vl"), tmp / "run",
                                      tmp / "batch.safetensors", tmp / "peft.safetensors", tmp / "peft.json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto pj = io::read_json(tmp / "peft.json");
    // The same tensors as PEFT saves, and the same biases trainable.
    io::StateDict saved = io::open_safetensors(tmp / "run/adapter_model.safetensors");
    std::vector<std::string> saved_keys = saved.names();
    std::sort(saved_keys.begin(), saved_keys.end());
    EXPECT_EQ(saved_keys, pj["saved_keys"].get<std::vector<std::string>>());
    std::vector<std::string> trainable_names;
    for (const auto& [k, v] : ours) trainable_names.push_back(k);
    EXPECT_EQ(trainable_names, pj["trainable"].get<std::vector<std::string>>());
    // PEFT loaded our biases and computes the same loss and bias gradients.
    io::StateDict want = io::open_safetensors(tmp / "peft.safetensors");
    EXPECT_NEAR(loss.item<double>(), want.get("loss").item<double>(), 1e-5);
    double worst_grad = 0;
    for (const auto& [k, p] : ours) {
      ASSERT_TRUE(want.contains("value:" + k)) << k;
      EXPECT_TRUE(p.detach().equal(want.get("value:" + k))) << k;
      ASSERT_TRUE(p.grad().defined()) << k;
      worst_grad = std::max(worst_grad, max_abs_diff(p.grad(), want.get("grad:" + k)));
    }
    EXPECT_LE(worst_grad, kGradTol);
    std::cout << "[ measured ] lora_bias " << bias << ": " << ours.size() << " biases, max |grad diff| " << worst_grad
              << "\n";
    // eval --model_path ADAPTER --model_base BASE reads the biases back.
    ModelSpec spec;
    spec.name = "Qwen2-VL";
    spec.model_path = tmp / "run";
    spec.model_base = fixture_path("models/qwen2_vl");
    spec.dtype = "fp32";
    qwen2_vl::QwenVlModel reloaded(spec, qwen2_vl::Flavor::kQwen2VL);
    auto t2 = train::make_trainable(reloaded, "Qwen2-VL");
    int checked = 0;
    for (auto& p : t2->root().named_parameters(true)) {
      const std::string module = p.key().substr(0, p.key().rfind('.'));
      for (const char* infix : {"", ".base_layer"}) {
        auto it = ours.find("base_model.model." + *t2->peft_name(module) + infix + ".bias");
        if (it != ours.end() && ends_with(p.key(), ".bias")) {
          EXPECT_TRUE(p.value().equal(it->second.detach())) << p.key();
          ++checked;
        }
      }
    }
    EXPECT_EQ(checked, static_cast<int>(ours.size()));
  }
}

// Logits of `t` on `batch` against a transformers run over the same batch, at the real (unpadded)
// positions.
double max_diff_real_positions(const at::Tensor& ours, const at::Tensor& theirs, const at::Tensor& mask) {
  const at::Tensor m = mask.to(at::kBool).unsqueeze(-1).expand_as(theirs);
  return (ours.detach().masked_select(m) - theirs.masked_select(m)).abs().max().item<double>();
}

// Full fine-tuning (--peft none) writes the whole tuned model as a Hugging Face folder in the run folder:
// eval --model_path loads it with the tuned logits, and so does transformers.
TEST(GenerativeLora, FullFineTuningSavesAFolderThatEvalAndTransformersLoad) {
  auto m = load_llava("hf");
  auto t = train::make_trainable(*m, "LLaVA-1.5");
  const train::TrainPlan plan = t->plan("VML", false);
  const auto trainable = train::select_trainable(t->root(), plan, false, "none");
  {
    at::NoGradGuard g;
    torch::manual_seed(6);
    for (const auto& [n, p] : trainable) p.add_(at::randn_like(p) * 0.02);  // as if trained
  }
  TempDir tmp;
  train::SaveOptions so;
  train::save_generative_outputs(*t, tmp / "run", trainable, so);
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json", "tokenizer.model",
                        "tokenizer_config.json", "special_tokens_map.json", "preprocessor_config.json"})
    EXPECT_TRUE(std::filesystem::exists(tmp / (std::string("run/") + f))) << f;
  EXPECT_FALSE(std::filesystem::exists(tmp / "run/adapter_config.json"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "run/non_lora_trainables.bin"));
  const auto batch = two_examples(*t, "llava");
  t->root().eval();
  at::Tensor tuned;
  {
    at::NoGradGuard g;
    tuned = t->forward_batch(batch).first;
  }
  ModelSpec spec;
  spec.name = "LLaVA-1.5";
  spec.model_path = tmp / "run";
  spec.dtype = "fp32";
  llava::LlavaModel reloaded(spec, llava::LlavaModel::Variant::kLlava15);
  auto t2 = train::make_trainable(reloaded, "LLaVA-1.5");
  at::Tensor again;
  {
    at::NoGradGuard g;
    again = t2->forward_batch(batch).first;
  }
  EXPECT_LE(max_abs_diff(tuned, again), 1e-6);
  MVB_REQUIRE_ORACLE_ENV();
  auto* lm = dynamic_cast<llava::LlavaModel*>(m.get());
  const auto& c = lm->config();
  const int64_t patches = (c.vision.image_size / c.vision.patch_size) * (c.vision.image_size / c.vision.patch_size);
  write_hf_batch(tmp / "batch.safetensors", batch, c.image_token_index, patches);
  const auto r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/hf_logits_oracle.py",
                                   {"llava", tmp / "batch.safetensors", tmp / "hf.safetensors", tmp / "run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const at::Tensor hf = io::open_safetensors(tmp / "hf.safetensors").get("logits");
  ASSERT_EQ(hf.sizes(), tuned.sizes());
  const double d =
      max_diff_real_positions(tuned, hf, io::open_safetensors(tmp / "batch.safetensors").get("attention_mask"));
  std::cout << "[ measured ] full fine-tuning folder: transformers vs medvlmbench logits max |diff| " << d << "\n";
  EXPECT_LE(d, 1e-4);
}

// --merge_lora: <run>/merged/ is the full model with the adapter merged; transformers loads it with
// the logits of PeftModel.from_pretrained(base, adapter).merge_and_unload(), and so does medvlmbench.
TEST(GenerativeLora, MergedLoraExportEqualsPeftMergeAndUnload) {
  MVB_REQUIRE_ORACLE_ENV();
  auto m = load_llava("hf");
  auto t = train::make_trainable(*m, "LLaVA-1.5");
  const train::TrainPlan plan = t->plan("VL", true);
  torch::manual_seed(8);
  nn::LoraConfig lcfg;
  lcfg.r = 4;
  lcfg.alpha = 8;
  lcfg.dropout = 0;
  train::add_lora(t->root(), plan.lora_modules, lcfg);
  const auto trainable = train::select_trainable(t->root(), plan, true, "none");
  {
    at::NoGradGuard g;
    for (const auto& [n, p] : trainable)
      if (n.find("lora_B") != std::string::npos) p.normal_(0, 0.1);
  }
  TempDir tmp;
  train::SaveOptions so;
  so.lora = true;
  so.lcfg = lcfg;
  so.merge_lora = true;
  train::save_generative_outputs(*t, tmp / "run", trainable, so);
  const std::string merged = tmp / "run/merged";
  EXPECT_TRUE(std::filesystem::exists(merged + "/model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(merged + "/adapter_config.json"));
  const auto batch = two_examples(*t, "llava");
  auto* lm = dynamic_cast<llava::LlavaModel*>(m.get());
  const auto& c = lm->config();
  const int64_t patches = (c.vision.image_size / c.vision.patch_size) * (c.vision.image_size / c.vision.patch_size);
  write_hf_batch(tmp / "batch.safetensors", batch, c.image_token_index, patches);
  const std::string base = fixture_path("models/llava/hf");
  auto r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/hf_logits_oracle.py",
                             {"llava", tmp / "batch.safetensors", tmp / "peft.safetensors", base, tmp / "run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/hf_logits_oracle.py",
                        {"llava", tmp / "batch.safetensors", tmp / "merged.safetensors", merged});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const at::Tensor mask = io::open_safetensors(tmp / "batch.safetensors").get("attention_mask");
  const at::Tensor peft = io::open_safetensors(tmp / "peft.safetensors").get("logits");
  const at::Tensor hf_merged = io::open_safetensors(tmp / "merged.safetensors").get("logits");
  const double d_hf = max_diff_real_positions(hf_merged, peft, mask);
  // medvlmbench loads the merged folder as eval --model_path does.
  ModelSpec spec;
  spec.name = "LLaVA-1.5";
  spec.model_path = merged;
  spec.dtype = "fp32";
  llava::LlavaModel reloaded(spec, llava::LlavaModel::Variant::kLlava15);
  auto t2 = train::make_trainable(reloaded, "LLaVA-1.5");
  at::Tensor ours;
  {
    at::NoGradGuard g;
    ours = t2->forward_batch(batch).first;
  }
  const double d_ours = max_diff_real_positions(ours, peft, mask);
  std::cout << "[ measured ] merged export vs PEFT merge_and_unload logits: transformers " << d_hf << ", medvlmbench "
            << d_ours << "\n";
  EXPECT_LE(d_hf, 1e-5);
  EXPECT_LE(d_ours, 1e-4);
}

// non_lora_trainables.bin (torch.save format, written by torch::pickle_save) loads with torch.load's
// weights_only=True (torch >= 2.6's default) and through the reference's loader code path into
// LlavaForConditionalGeneration (tests/oracles/train/non_lora_bin_oracle.py).
TEST(GenerativeLora, NonLoraTrainablesBinLoadsWithWeightsOnlyAndTheReferencesLoader) {
  MVB_REQUIRE_ORACLE_ENV();
  auto m = load_llava("hf");
  auto t = train::make_trainable(*m, "LLaVA-1.5");
  const train::TrainPlan plan = t->plan("ML", true);
  nn::LoraConfig lcfg;
  lcfg.r = 4;
  train::add_lora(t->root(), plan.lora_modules, lcfg);
  const auto trainable = train::select_trainable(t->root(), plan, true, "none");
  int projector = 0;
  {
    at::NoGradGuard g;
    torch::manual_seed(9);
    for (const auto& [n, p] : trainable)
      if (!nn::is_lora_name(n)) {
        p.add_(at::randn_like(p) * 0.05);  // the projector, as if trained
        ++projector;
      }
  }
  ASSERT_EQ(projector, 4);
  TempDir tmp;
  train::SaveOptions so;
  so.lora = true;
  so.lcfg = lcfg;
  train::save_generative_outputs(*t, tmp / "run", trainable, so);
  const auto r = run_oracle_script(OracleInterpreter::kOracleEnv, "train/non_lora_bin_oracle.py",
                                   {tmp / "run", fixture_path("models/llava/hf"), tmp / "out.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = io::read_json(tmp / "out.json");
  EXPECT_EQ(j["keys"].size(), 4u) << j.dump();
  EXPECT_TRUE(j["unexpected_keys"].empty()) << j.dump();
  EXPECT_TRUE(j["loaded_equal"].get<bool>()) << j.dump();
  EXPECT_TRUE(j["matches_safetensors"].get<bool>()) << j.dump();
}

TEST(GenerativeLora, LlavaLabelsMaskThePromptAndImageAndKeepAnswerAndEos) {
  auto m = load_llava("original");
  auto t = train::make_trainable(*m, "LLaVA-1.5");
  const auto b = two_examples(*t, "llava");
  const auto& ex = b[0];
  ASSERT_EQ(ex.input_ids.size(), ex.labels.size());
  EXPECT_FALSE(ex.fully_masked) << ex.text;
  EXPECT_EQ(ex.labels.front(), train::kIgnoreIndex);  // BOS
  const auto& tok = dynamic_cast<llava::LlavaModel&>(*m).tokenizer();
  std::vector<int32_t> kept;
  for (size_t i = 0; i < ex.labels.size(); ++i) {
    if (ex.input_ids[i] == -200) EXPECT_EQ(ex.labels[i], train::kIgnoreIndex);
    if (ex.labels[i] != train::kIgnoreIndex) kept.push_back(static_cast<int32_t>(ex.labels[i]));
  }
  // The answer and the closing </s> are trained, nothing of the instruction.
  EXPECT_EQ(tok.decode(kept, false), "Lung</s>") << ex.text;
}

// The reference's own preprocessing (train/llava_trainer.py under transformers 4.53.1, recorded by
// tests/oracles/train/make_llava_sft_labels_fixture.py) gives the same ids and masked labels.
TEST(GenerativeLora, LlavaLabelsEqualTheReferencesPreprocessing) {
  auto m = load_llava("original");
  auto t = train::make_trainable(*m, "LLaVA-1.5");
  const auto cases = io::read_json(fixture_path("train/llava_sft_labels/labels.json"));
  ASSERT_GE(cases.size(), 5u);
  for (const auto& c : cases) {
    train::SftOptions o;
    o.version = c["version"].get<std::string>();
    const auto ex =
        t->example(c["prompt"], c["answer"], {ImageRef::file(fixture_path("models/llava/tall_20x33.png"))}, o);
    EXPECT_EQ(ex.input_ids, c["input_ids"].get<std::vector<int64_t>>()) << ex.text;
    EXPECT_EQ(ex.labels, c["labels"].get<std::vector<int64_t>>()) << ex.text;
  }
}

TEST(GenerativeLora, QwenLabelsAreTheAnswerAndTheTurnEnd) {
  auto m = load_qwen();
  auto t = train::make_trainable(*m, "Qwen2-VL");
  const auto b = two_examples(*t, "qwen");
  std::vector<int32_t> kept;
  for (size_t i = 0; i < b[1].labels.size(); ++i)
    if (b[1].labels[i] != train::kIgnoreIndex) kept.push_back(static_cast<int32_t>(b[1].labels[i]));
  EXPECT_EQ(dynamic_cast<qwen2_vl::QwenVlModel&>(*m).tokenizer().decode(kept, false), "yes, a nodule<|im_end|>\n");
}

TEST(GenerativeLora, SchedulesFollowHfTrainer) {
  // get_cosine_schedule_with_warmup(opt, 3, 10) / linear / constant, as factors on the base lr.
  EXPECT_DOUBLE_EQ(train::lr_factor("cosine", 0, 10, 3), 0.0);
  EXPECT_NEAR(train::lr_factor("cosine", 2, 10, 3), 2.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(train::lr_factor("cosine", 3, 10, 3), 1.0);
  EXPECT_NEAR(train::lr_factor("cosine", 6, 10, 3), 0.5 * (1 + std::cos(M_PI * 3.0 / 7)), 1e-12);
  EXPECT_NEAR(train::lr_factor("linear", 6, 10, 3), 4.0 / 7, 1e-12);
  EXPECT_DOUBLE_EQ(train::lr_factor("constant", 0, 10, 3), 1.0);  // HF's constant ignores warm-up
  EXPECT_DOUBLE_EQ(train::lr_factor("constant_with_warmup", 1, 10, 3), 1.0 / 3);
  EXPECT_EQ(train::warmup_steps(100, 0.03), 3);
  EXPECT_EQ(train::total_update_steps(7, 2, 1.0, -1), 3);
  EXPECT_EQ(train::total_update_steps(7, 2, 1.5, -1), 5);
  EXPECT_EQ(train::total_update_steps(7, 2, 1.0, 11), 11);
  EXPECT_TRUE(train::decays("lm.model.layers.0.mlp.up_proj.lora_A", false, false));
  EXPECT_FALSE(train::decays("lm.model.layers.0.input_layernorm.weight", false, false));
  EXPECT_TRUE(train::decays("language_model.model.layers.0.input_layernorm.weight", false, true));  // LLaVA's rule
  EXPECT_FALSE(train::decays("multi_modal_projector.linear_1.bias", false, true));
}

}  // namespace
}  // namespace mvb::test
