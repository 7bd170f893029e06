// Generative fine-tuning (train/sft.h, train/optim.h, src/train/generative_trainer.cpp):
//  - the gradients of one LoRA step equal transformers + PEFT's on the same tiny model, adapter and
//    batch (tests/oracles/train/lora_step_oracle.py, run live with the oracle environment), for the
//    LLaVA (llava-hf layout) and Qwen2-VL fixtures;
//  - the masked labels follow the reference's preprocessing;
//  - the schedules and AdamW equal torch's.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/llava/llava_model.h"
#include "medvlmbench/models/qwen2_vl/model.h"
#include "medvlmbench/nn/weights.h"
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
