// End-to-end checks of the contrastive diagnosis usages on the bundled ChestXray demo folder (class-
// dependent synthetic radiographs) with the tiny random-weight CLIP fixture.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "demo_run_config.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/tasks/pipeline.h"
#include "medvlmbench/tasks/zero_shot.h"
#include "medvlmbench/train/diagnosis_data.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

TEST(ZeroShot, PromptsKeepTheReferenceClassTextsExactly) {
  auto p = class_prompts({"chest xray with no finding", " chest xray with pneumonia"}, "a photo of {}");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0][0], "a photo of chest xray with no finding");
  EXPECT_EQ(p[1][0], "a photo of  chest xray with pneumonia");  // the reference's leading space survives
  auto e = class_prompts({"x"}, "a photo of {}|an image of {}.");
  EXPECT_EQ(e[0][1], "an image of x.");
  EXPECT_THROW(class_prompts({"x"}, "no placeholder"), UsageError);
}

TEST(ZeroShot, ClipZsWritesScoredPredictionsOnTheDemo) {
  TempDir tmp;
  RunOutcome out = run_eval(demo_run_config("eval", "clip-zs", tmp.path()), {"test"});
  auto rows = io::read_jsonl(io::join_path(out.run_dir, "predictions.jsonl")).rows;
  ASSERT_EQ(rows.size(), 12u);
  for (const auto& r : rows) {
    auto s = r.at("scores").get<std::vector<double>>();
    ASSERT_EQ(s.size(), 2u);
    EXPECT_NEAR(s[0] + s[1], 1.0, 1e-6);  // softmax over classes
    EXPECT_EQ(r.at("pred").get<int>(), s[1] > s[0] ? 1 : 0);
  }
  const auto& auc = out.metrics["metrics"]["auc"];
  ASSERT_TRUE(auc.is_number()) << out.metrics.dump();
  EXPECT_GE(auc.get<double>(), 0.0);
  EXPECT_LE(auc.get<double>(), 1.0);
  auto manifest = io::read_json(io::join_path(out.run_dir, "run.json"));
  EXPECT_EQ(manifest["usage_stats"]["prompts"][1][0], "a photo of  chest xray with pneumonia");
}

TEST(ZeroShot, EnsembleIsTheNormalisedMeanOfNormalisedEmbeddings) {
  TempDir tmp;
  RunConfig c = demo_run_config("eval", "clip-zs", tmp.path());
  ModelSpec spec;
  spec.model_path = c.model_path;
  auto model = model_registry().get("CLIP").factory(spec);
  auto* cm = dynamic_cast<ContrastiveModel*>(model.get());
  ASSERT_NE(cm, nullptr);
  at::Tensor ens = class_text_embeddings(*cm, class_prompts({"a", "b"}, "x {}|y {}"));
  at::Tensor t = cm->encode_text({"x a", "y a"});
  t = t / t.norm(2, -1, true);
  at::Tensor m = t.mean(0);
  m = m / m.norm();
  EXPECT_LT((ens[0] - m).abs().max().item<double>(), 1e-6);
}

// Several embeddings per image (BLIP-2's 32 Q-Former queries, [N, Q, D]) score each class by the best
// one: the logits_per_image of transformers' Blip2ForImageTextRetrieval on the tiny BLIP-2 fixture.
TEST(ZeroShot, MultiVectorImageFeaturesMatchBlip2Itc) {
  const std::string dir = fixture_path("models/blip2/itm");
  ModelSpec spec;
  spec.name = "BLIP2-2.7b";
  spec.model_path = dir;
  spec.options = {{"usage", "clip-zs"}};
  auto zs = make_contrastive_towers(spec);
  const ExpectedOutputs e = read_expected(dir);
  const at::Tensor img = zs->encode_image(e.input("pixel_values"));
  ASSERT_EQ(img.dim(), 3);
  const at::Tensor classes = class_text_embeddings(*zs, {{"a photo of normal"}, {"a photo of pneumonia"}});
  EXPECT_LE(max_abs_diff(zero_shot_logits(*zs, img, classes), e.output("logits_per_image")), 1e-4);
}

TEST(DiagnosisData, ClassWeightsAreTheReferenceFormula) {
  at::Tensor labels = at::tensor({0L, 0L, 0L, 1L}, at::kLong);
  at::Tensor w = train::class_weights(labels, 3);
  EXPECT_NEAR(w[0].item<double>(), 4.0 / (3 * 3), 1e-6);
  EXPECT_NEAR(w[1].item<double>(), 4.0 / (1 * 3), 1e-6);
  EXPECT_EQ(w[2].item<double>(), 0.0);  // absent class: no weight instead of a division by zero
}

TEST(DiagnosisData, MultiLabelTargetsAndMacroAuroc) {
  std::vector<Sample> s(4);
  s[0].labels = {1, 0};
  s[1].labels = {0, 1};
  s[2].labels = {1, 1};
  s[3].labels = {0, 0};
  at::Tensor y = train::label_tensor(s, true, 2);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(y[2][1].item<float>(), 1.0f);
  // Label 0 ranked perfectly (1.0); label 1: positives 0.2, 0.3 vs negatives 0.1, 0.9 win 2 of 4 pairs (0.5).
  at::Tensor probs = at::tensor({0.9, 0.1, 0.2, 0.2, 0.8, 0.3, 0.1, 0.9}, at::kDouble).view({4, 2});
  auto m = train::evaluate_probs(probs, s, true);
  EXPECT_NEAR(m["auc"].get<double>(), 0.75, 1e-12);
  s[3].labels = {0};
  EXPECT_THROW(train::label_tensor(s, true, 2), Error);
}

TEST(LinearProbe, LearnsTheDemoAndReloadsFromTheRunFolderWithCachedFeatures) {
  TempDir tmp;
  RunConfig t = demo_run_config("train", "lp", tmp.path());
  t.num_train_epochs = 50;
  t.learning_rate = 1e-2;
  RunOutcome trained = run_train(t, {"train"});
  const auto meta = io::read_json(io::join_path(trained.run_dir, "mvb_head.json"));
  const double train_auc = meta["final_eval"]["auc"].get<double>();
  EXPECT_GT(train_auc, 0.95) << meta.dump();
  ASSERT_TRUE(io::exists(io::join_path(trained.run_dir, "head.safetensors")));

  RunConfig e = demo_run_config("eval", "lp", tmp / "eval");
  e.model_path = trained.run_dir;
  e.cache_dir = tmp / "cache";
  RunOutcome first = run_eval(e, {"eval"});
  EXPECT_NEAR(first.metrics["metrics"]["auc"].get<double>(), train_auc, 1e-9);
  auto m1 = io::read_json(io::join_path(first.run_dir, "run.json"));
  EXPECT_FALSE(m1["usage_stats"]["features_from_cache"].get<bool>());
  RunOutcome second = run_eval(e, {"eval"});
  auto m2 = io::read_json(io::join_path(second.run_dir, "run.json"));
  EXPECT_TRUE(m2["usage_stats"]["features_from_cache"].get<bool>());
  EXPECT_EQ(second.metrics["metrics"]["auc"], first.metrics["metrics"]["auc"]);
  auto rows = io::read_jsonl(io::join_path(second.run_dir, "predictions.jsonl")).rows;
  EXPECT_EQ(rows.size(), 12u);
}

// Defect 12 (issue 18): the reference's ChestXray dataset feeds its 224x224 squash (no normalisation) to
// the linear probe as well as to zero-shot, so --reference_compat chestxray_transform reaches the
// features of training and evaluation, the feature cache keeps the two inputs apart, and run.json /
// mvb_head.json say which input ran. MedCLIP's Swin tower takes the 224x224 input (the tiny CLIP's
// 32x32 position table would not, as transformers' CLIP would not either).
TEST(LinearProbe, ChestXrayReferenceInputReachesTrainEvalAndTheFeatureCache) {
  TempDir tmp;
  auto cfg = [&](const std::string& command, const std::string& out, bool quirk) {
    RunConfig c = demo_run_config(command, "lp", out);
    c.model = "MedCLIP";
    c.model_path = fixture_path("models/tiny-medclip");
    c.num_train_epochs = 1;
    c.limit = 4;                  // 4 train + 4 test images per input: the 224x224 Swin features are the cost
    c.cache_dir = tmp / "cache";  // shared: the quirk run must not reuse the plain run's features
    if (quirk) c.reference_compat = {"chestxray_transform"};
    return c;
  };
  ModelSpec spec;
  spec.name = "MedCLIP";
  spec.model_path = fixture_path("models/tiny-medclip");
  auto model = make_contrastive_towers(spec);
  const ImageTransform plain_t = train::diagnosis_transform(*model, cfg("train", tmp / "x", false));
  const ImageTransform quirk_t = train::diagnosis_transform(*model, cfg("train", tmp / "x", true));
  EXPECT_EQ(plain_t.resize_mode, model->transform().resize_mode);
  EXPECT_TRUE(plain_t.normalize);
  EXPECT_EQ(quirk_t.resize_mode, "exact");
  EXPECT_EQ(quirk_t.resize_width, 224);
  EXPECT_FALSE(quirk_t.normalize);
  RunConfig other = cfg("train", tmp / "x", true);
  other.dataset = "PAPILA";  // the quirk is ChestXray's own
  EXPECT_TRUE(train::diagnosis_transform(*model, other).normalize);

  RunOutcome plain = run_train(cfg("train", tmp / "plain", false), {"train"});
  RunOutcome quirk = run_train(cfg("train", tmp / "quirk", true), {"train"});
  const auto plain_run = io::read_json(io::join_path(plain.run_dir, "run.json"));
  const auto quirk_run = io::read_json(io::join_path(quirk.run_dir, "run.json"));
  EXPECT_EQ(plain_run["usage_stats"]["reference_compat"], nlohmann::json::array());
  EXPECT_EQ(plain_run["usage_stats"]["input_transform"], "the model's processor");
  EXPECT_EQ(quirk_run["usage_stats"]["reference_compat"], nlohmann::json::array({"chestxray_transform"}));
  EXPECT_FALSE(quirk_run["usage_stats"]["features_from_cache"].get<bool>()) << "other input, other features";
  EXPECT_EQ(io::read_json(io::join_path(quirk.run_dir, "mvb_head.json"))["reference_compat"],
            nlohmann::json::array({"chestxray_transform"}));

  // Evaluation with the flag reuses the training run's test features (same input, same cache entry);
  // without it the model's processor runs and run.json records the head's other input.
  RunConfig e = cfg("eval", tmp / "eval", true);
  e.model_path = quirk.run_dir;
  RunOutcome same = run_eval(e, {"same"});
  const auto same_run = io::read_json(io::join_path(same.run_dir, "run.json"));
  EXPECT_TRUE(same_run["usage_stats"]["features_from_cache"].get<bool>());
  EXPECT_EQ(same_run["usage_stats"]["reference_compat"], nlohmann::json::array({"chestxray_transform"}));
  const auto head = io::read_json(io::join_path(quirk.run_dir, "mvb_head.json"));
  EXPECT_EQ(same.metrics["metrics"]["accuracy"], head["final_eval"]["accuracy"]) << same.metrics.dump();
  e.reference_compat.clear();
  e.exp_path = tmp / "eval-mixed";
  RunOutcome mixed = run_eval(e, {"mixed"});
  const auto mixed_run = io::read_json(io::join_path(mixed.run_dir, "run.json"));
  EXPECT_EQ(mixed_run["usage_stats"]["reference_compat"], nlohmann::json::array());
  EXPECT_EQ(mixed_run["usage_stats"]["head_reference_compat"], nlohmann::json::array({"chestxray_transform"}));
}

// --lr_scheduler_type means what transformers' get_scheduler makes of it (the reference hands the name
// to HF Trainer): "constant" ignores --warmup_ratio, "constant_with_warmup" does not. The schedule
// values themselves are checked against transformers in lr_schedule_test.cpp.
TEST(LinearProbe, ConstantScheduleHasNoWarmupAsHfGetScheduler) {
  TempDir tmp;
  auto config = [&](const std::string& schedule, double warmup_ratio, const std::string& out) {
    RunConfig t = demo_run_config("train", "lp", tmp / out);
    t.num_train_epochs = 2;
    t.learning_rate = 1e-2;
    t.lr_scheduler_type = schedule;
    t.warmup_ratio = warmup_ratio;
    t.cache_dir = tmp / "cache";  // the image features once for the three runs
    return t;
  };
  auto head_weight = [&](const RunConfig& t) {
    RunOutcome r = run_train(t, {"train"});
    return io::open_safetensors(io::join_path(r.run_dir, "head.safetensors")).get("weight", at::kFloat);
  };
  const at::Tensor no_warmup = head_weight(config("constant", 0.0, "none"));
  EXPECT_TRUE(at::equal(head_weight(config("constant", 0.5, "ignored")), no_warmup))
      << "HF's get_scheduler(\"constant\", ...) ignores the warm-up";
  EXPECT_FALSE(at::equal(head_weight(config("constant_with_warmup", 0.5, "warm")), no_warmup));
  EXPECT_THROW(run_train(config("cosine_with_restarts", 0.0, "unknown"), {"train"}), Error);
}

// --gradient_accumulation_steps and fractional --num_train_epochs count optimizer updates as HF Trainer
// does (train::total_update_steps: ceil(epochs * max(batches // accumulation, 1))), stopping when the
// schedule is spent; the update itself is checked against transformers in scheduled_adamw_test.cpp.
TEST(LinearProbe, AccumulationAndFractionalEpochsCountUpdatesAsHfTrainer) {
  TempDir tmp;
  auto train = [&](int accumulation, double epochs, const std::string& out) {
    RunConfig t = demo_run_config("train", "lp", tmp / out);
    t.num_train_epochs = epochs;
    t.learning_rate = 1e-2;
    t.per_device_train_batch_size = 2;
    t.gradient_accumulation_steps = accumulation;
    t.cache_dir = tmp / "cache";
    RunOutcome r = run_train(t, {"train"});
    const auto stats = io::read_json(io::join_path(r.run_dir, "run.json"))["usage_stats"];
    const at::Tensor w = io::open_safetensors(io::join_path(r.run_dir, "head.safetensors")).get("weight", at::kFloat);
    return std::make_pair(stats, w);
  };
  const auto [plain, plain_w] = train(1, 2, "plain");
  const int64_t n = plain["train_samples"].get<int64_t>();
  const int64_t batches = (n + 1) / 2;
  ASSERT_GE(batches, 3) << "the demo's train split is too small for this test";
  EXPECT_EQ(plain["steps"].get<int64_t>(), 2 * batches);
  EXPECT_EQ(plain["gradient_accumulation_steps"].get<int>(), 1);

  const auto [accumulated, accumulated_w] = train(3, 2, "accumulated");
  EXPECT_EQ(accumulated["steps"].get<int64_t>(), 2 * std::max<int64_t>(batches / 3, 1));
  EXPECT_EQ(accumulated["gradient_accumulation_steps"].get<int>(), 3);
  EXPECT_FALSE(at::allclose(accumulated_w, plain_w));

  const auto [fractional, fractional_w] = train(1, 1.5, "fractional");
  EXPECT_EQ(fractional["steps"].get<int64_t>(), static_cast<int64_t>(std::ceil(1.5 * static_cast<double>(batches))));
  EXPECT_FALSE(at::allclose(fractional_w, plain_w));

  RunConfig bad = demo_run_config("train", "lp", tmp / "bad");
  bad.num_train_epochs = 1;
  bad.gradient_accumulation_steps = 0;
  EXPECT_THROW(run_train(bad, {"train"}), UsageError);
}

TEST(LinearProbe, EvalRefusesAHeadOfAnotherUsage) {
  TempDir tmp;
  RunConfig t = demo_run_config("train", "lp", tmp.path());
  t.num_train_epochs = 1;
  RunOutcome trained = run_train(t, {"train"});
  RunConfig e = demo_run_config("eval", "img-lora-lp", tmp / "eval");
  e.model_path = trained.run_dir;
  EXPECT_THROW(run_eval(e, {"eval"}), UsageError);
}

at::Tensor lora_b_norm(const std::string& run_dir) {
  io::StateDict sd = io::open_safetensors(io::join_path(run_dir, "lora.safetensors"));
  double total = 0;
  for (const auto& n : sd.names())
    if (n.find("lora_B") != std::string::npos) total += sd.get(n, at::kFloat).abs().sum().item<double>();
  return at::scalar_tensor(total);
}

TEST(LoraUsages, ImgLoraLpTrainsTheAdaptersUnlessHeadOnly) {
  TempDir tmp;
  RunConfig t = demo_run_config("train", "img-lora-lp", tmp.path());
  t.num_train_epochs = 3;
  t.learning_rate = 1e-2;
  t.per_device_train_batch_size = 4;
  RunOutcome ours = run_train(t, {"train"});
  EXPECT_GT(lora_b_norm(ours.run_dir).item<double>(), 0.0);
  t.lora_head_only = true;
  t.output_dir = tmp / "ref";
  RunOutcome ref = run_train(t, {"train"});
  EXPECT_EQ(lora_b_norm(ref.run_dir).item<double>(), 0.0);  // the reference's adapters never train

  RunConfig e = demo_run_config("eval", "img-lora-lp", tmp / "eval");
  e.model_path = ours.run_dir;
  RunOutcome ev = run_eval(e, {"eval"});
  EXPECT_EQ(ev.metrics["num_scored"].get<int>(), 12);
  // Merged adapters at eval reproduce the model trained: same test AUROC as the final training eval.
  auto meta = io::read_json(io::join_path(ours.run_dir, "mvb_head.json"));
  EXPECT_NEAR(ev.metrics["metrics"]["auc"].get<double>(), meta["final_eval"]["auc"].get<double>(), 1e-6);
}

TEST(LoraUsages, ClipImgLoraTrainsAgainstThePromptsAndEvaluates) {
  TempDir tmp;
  RunConfig t = demo_run_config("train", "clip-img-lora", tmp.path());
  t.num_train_epochs = 2;
  t.learning_rate = 1e-2;
  t.per_device_train_batch_size = 4;
  RunOutcome tr = run_train(t, {"train"});
  EXPECT_FALSE(io::exists(io::join_path(tr.run_dir, "head.safetensors")));
  EXPECT_GT(lora_b_norm(tr.run_dir).item<double>(), 0.0);
  RunConfig e = demo_run_config("eval", "clip-img-lora", tmp / "eval");
  e.model_path = tr.run_dir;
  RunOutcome ev = run_eval(e, {"eval"});
  EXPECT_TRUE(ev.metrics["metrics"]["auc"].is_number());
}

// MedCLIP (Swin + Bio_ClinicalBERT fixture) through the same runners. Its features are L2-normalised, as
// the reference's MedCLIPModel.encode_image returns them, so they spread less than CLIP's and the lp runs
// use a larger learning rate.
TEST(MedClipUsages, ClipZsLpAndImgLoraLpRunOnTheDemo) {
  TempDir tmp;
  auto medclip = [&](const std::string& command, const std::string& usage, const std::string& out) {
    RunConfig c = demo_run_config(command, usage, out);
    c.model = "MedCLIP";
    c.model_path = fixture_path("models/tiny-medclip");
    c.learning_rate = 0.1;
    return c;
  };
  RunOutcome zs = run_eval(medclip("eval", "clip-zs", tmp / "zs"), {"test"});
  auto rows = io::read_jsonl(io::join_path(zs.run_dir, "predictions.jsonl")).rows;
  ASSERT_EQ(rows.size(), 12u);
  EXPECT_NEAR(rows[0].at("scores")[0].get<double>() + rows[0].at("scores")[1].get<double>(), 1.0, 1e-6);
  ASSERT_TRUE(zs.metrics["metrics"]["auc"].is_number()) << zs.metrics.dump();

  RunConfig t = medclip("train", "lp", tmp / "lp");
  t.num_train_epochs = 50;
  RunOutcome trained = run_train(t, {"train"});
  const auto meta = io::read_json(io::join_path(trained.run_dir, "mvb_head.json"));
  EXPECT_GT(meta["final_eval"]["auc"].get<double>(), 0.95) << meta.dump();
  RunConfig e = medclip("eval", "lp", tmp / "lp_eval");
  e.model_path = trained.run_dir;
  e.cache_dir = tmp / "cache";
  RunOutcome first = run_eval(e, {"eval"});
  EXPECT_NEAR(first.metrics["metrics"]["auc"].get<double>(), meta["final_eval"]["auc"].get<double>(), 1e-9);
  RunOutcome second = run_eval(e, {"eval"});
  EXPECT_TRUE(
      io::read_json(io::join_path(second.run_dir, "run.json"))["usage_stats"]["features_from_cache"].get<bool>());

  RunConfig l = medclip("train", "img-lora-lp", tmp / "lora");  // LoRA on the Swin tower's Linear layers
  // Not the lp runs' 0.1: at that rate two LoRA epochs collapse the tiny tower's features (every test
  // score equal to 7 digits), so the AUC compared below would rank float noise, and training's unmerged
  // eval and the merged reload legitimately differ in the last bits (seen on an AVX-512 Xeon).
  l.learning_rate = 1e-3;
  l.num_train_epochs = 2;
  l.per_device_train_batch_size = 4;
  RunOutcome lora = run_train(l, {"train"});
  EXPECT_GT(lora_b_norm(lora.run_dir).item<double>(), 0.0);
  RunConfig le = medclip("eval", "img-lora-lp", tmp / "lora_eval");
  le.model_path = lora.run_dir;
  RunOutcome lev = run_eval(le, {"eval"});
  auto lmeta = io::read_json(io::join_path(lora.run_dir, "mvb_head.json"));
  EXPECT_NEAR(lev.metrics["metrics"]["auc"].get<double>(), lmeta["final_eval"]["auc"].get<double>(), 1e-6);
}

}  // namespace
}  // namespace mvb::test
