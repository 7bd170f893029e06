// `medvlmbench train --task vqa|caption` for the local generative VLMs: supervised fine-tuning with
// LoRA (--peft lora) or of whole modules, as HF Trainer runs the reference's (and LLaMA-Factory's)
// recipes: AdamW with Trainer's parameter groups (--mm_projector_lr, --vision_tower_lr, no decay on
// biases and norms), --lr_scheduler_type with --warmup_ratio, --gradient_accumulation_steps,
// --max_grad_norm clipping, --num_train_epochs or --max_steps. Family rules: train/sft.h.
//
// The run folder (the reference's: {output_dir}/{task}/{dataset}/{model}/train_{peft}_{tm}_seed{s}[_llava])
// receives:
//   adapter_config.json + adapter_model.safetensors   PEFT's layout and key names (LoRA)
//   non_lora_trainables.bin                           LLaVA: the trainable non-LoRA tensors (projector)
//   non_lora_trainables.safetensors                   every family: the same tensors under PEFT names
//   config.json                                       LLaVA: the base config with the training settings
//   checkpoint-N/                                     every --save_steps (--save_total_limit kept):
//                                                     trainable weights, AdamW state, RNG, data position
//   train_metrics.jsonl, loss_curve.svg, train.log    per step: loss, lr, grad norm, tokens/s
// --resume continues from the newest checkpoint-N; on CPU the final weights equal an uninterrupted
// run's bitwise (same data order, RNG stream and reductions).
// Started by torchrun or srun with several processes, it trains data parallel (train/distributed.h):
// each step's global batch is per_device_train_batch_size x world size samples, as one process with
// that batch would take them; only rank 0 writes the run folder.
#include "medvlmbench/train/generative_trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <torch/types.h>

// clip_grad.h relies on torch/types.h being included before it.
#include <torch/nn/utils/clip_grad.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "medvlmbench/core/autocast.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/checkpoint.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/weights.h"
#include "medvlmbench/tasks/usage.h"
#include "medvlmbench/train/diagnosis_data.h"
#include "medvlmbench/train/distributed.h"
#include "medvlmbench/train/head_checkpoint.h"
#include "medvlmbench/train/optim.h"
#include "medvlmbench/train/sft.h"

namespace fs = std::filesystem;

namespace mvb::train {
namespace {

constexpr const char* kCaptionPrompt = "Can you provide a medical report for this image?";

std::string sample_prompt(const Sample& s, const std::string& task) {
  if (!s.prompt.empty()) return s.prompt;
  if (task == "caption") return kCaptionPrompt;
  const std::string a = to_lower(trim(s.answer));
  return a == "yes" || a == "no" ? "Answer the following question about the image with yes or no. " + s.question
                                 : s.question;
}

// Epoch e's sample order: a Fisher-Yates shuffle driven by mt19937_64(seed, epoch), the same on
// every platform (std::shuffle's algorithm is not specified).
std::vector<int64_t> epoch_order(int64_t n, int seed, int64_t epoch) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 1000003ull + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(idx[i], idx[j]);
  }
  return idx;
}

std::string format_eta(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  const int64_t t = static_cast<int64_t>(s + 0.5);
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(t / 3600),
                static_cast<long long>(t / 60 % 60), static_cast<long long>(t % 60));
  return buf;
}

}  // namespace

std::vector<int> list_checkpoints(const std::string& run_dir) {
  std::vector<int> steps;
  if (!io::is_directory(run_dir)) return steps;
  for (const auto& e : fs::directory_iterator(run_dir)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || n.rfind("checkpoint-", 0) != 0) continue;
    const std::string num = n.substr(11);
    if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!io::exists(io::join_path(e.path().string(), kTrainerStateFile))) continue;  // incomplete
    steps.push_back(std::stoi(num));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

void write_loss_svg(const std::string& path, const std::vector<std::pair<int64_t, double>>& points) {
  const double W = 640, H = 360, L = 60, R = 20, T = 20, B = 40;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
     << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!points.empty()) {
    double lo = points[0].second, hi = points[0].second;
    for (const auto& p : points) lo = std::min(lo, p.second), hi = std::max(hi, p.second);
    if (hi - lo < 1e-12) hi = lo + 1;
    const double x0 = static_cast<double>(points.front().first),
                 x1 = std::max(x0 + 1, static_cast<double>(points.back().first));
    auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    auto Y = [&](double y) { return T + (hi - y) / (hi - lo) * (H - T - B); };
    os << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B
       << "\" stroke=\"black\"/>\n";
    os << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
    os << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
    for (const auto& p : points) os << X(static_cast<double>(p.first)) << "," << Y(p.second) << " ";
    os << "\"/>\n";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", hi);
    os << "<text x=\"4\" y=\"" << T + 4 << "\">" << buf << "</text>\n";
    std::snprintf(buf, sizeof buf, "%.4g", lo);
    os << "<text x=\"4\" y=\"" << H - B << "\">" << buf << "</text>\n";
    os << "<text x=\"" << L << "\" y=\"" << H - 12 << "\">step " << points.front().first << "</text>\n";
    os << "<text x=\"" << W - R - 60 << "\" y=\"" << H - 12 << "\">step " << points.back().first << "</text>\n";
    os << "<text x=\"" << W / 2 - 30 << "\" y=\"" << T - 6 << "\">training loss</text>\n";
  }
  os << "</svg>\n";
  io::write_file_atomic(path, os.str());
}

namespace {

class GenerativeTrainRunner : public UsageRunner {
 public:
  GenerativeTrainRunner() {
    if (const char* k = std::getenv("MVB_TEST_KILL_AFTER_STEP")) kill_after_step_ = std::atoll(k);
  }

  void run(RunContext& ctx) override {
    const RunConfig& cfg = ctx.cfg;
    MVB_USAGE_CHECK(ctx.model != nullptr, "generative training needs a model");
    auto t = make_trainable(*ctx.model, cfg.model);
    if (t->device().is_cpu()) {
      // The threads a CPU step runs with (nn/cpu_threads.h); before, the process's defaults decided.
      const nn::CpuThreads th = nn::configure_training_threads();
      spdlog::info("CPU training: {} LibTorch intra-op thread(s), {} OpenBLAS thread(s)", th.intra_op, th.openblas);
    }
    MVB_USAGE_CHECK(cfg.num_train_epochs > 0 || cfg.max_steps > 0,
                    "give --num_train_epochs (or --max_steps) for generative training");
    MVB_USAGE_CHECK(cfg.per_device_train_batch_size > 0, "--per_device_train_batch_size must be positive");
    MVB_USAGE_CHECK(cfg.gradient_accumulation_steps > 0, "--gradient_accumulation_steps must be positive");
    std::string tm = cfg.tune_modules;
    MVB_USAGE_CHECK(
        !tm.empty() && tm.find_first_not_of("VML") == std::string::npos,
        "--tune_modules must be a combination of V (vision tower), M (projector), L (language model); got '", tm, "'");
    MVB_USAGE_CHECK(cfg.peft.empty() || cfg.peft == "lora" || cfg.peft == "None" || cfg.peft == "none", "--peft ",
                    cfg.peft, " is not supported; use lora, or leave it out for full fine-tuning");
    bool lora = cfg.peft == "lora" || cfg.lora_enable;
    // run_train.py: LLaVA with --tune_modules M trains only the projector (peft forced to "").
    if (t->family() == "llava" && tm == "M") lora = false;

    torch::manual_seed(static_cast<uint64_t>(cfg.seed));
    TrainPlan plan = t->plan(tm, lora);
    nn::LoraConfig lcfg;
    lcfg.r = cfg.lora_r;
    lcfg.alpha = cfg.lora_alpha;
    lcfg.dropout = cfg.lora_dropout >= 0 ? cfg.lora_dropout : (t->family() == "qwen2_vl" ? 0.0 : 0.05);
    torch::nn::Module& root = t->root();
    if (lora) {
      MVB_USAGE_CHECK(!plan.lora_modules.empty(), "--tune_modules ", tm, " selects no LoRA targets for ", cfg.model);
      add_lora(root, plan.lora_modules, lcfg);
      root.to(t->device(), t->dtype());
    }
    // What trains: the adapters, the fully tuned modules, and the biases --lora_bias names.
    std::vector<std::pair<std::string, at::Tensor>> trainable = select_trainable(root, plan, lora, cfg.lora_bias);
    MVB_CHECK(!trainable.empty(), "nothing to train: --tune_modules ", tm, " and --peft ", cfg.peft,
              " select no parameters of ", cfg.model);
    // Half-precision runs (--bf16 / --fp16) compute under autocast; the parameters the optimizer updates
    // are kept in float32 there: LoRA adapters always (PEFT's autocast_adapter_dtype), every trainable
    // one under fp16, whose dynamic loss scaling needs float32 gradients (torch.amp.GradScaler refuses
    // fp16 ones). The frozen base stays in the half dtype.
    const at::ScalarType model_dtype = t->dtype();
    const bool half = model_dtype == at::kBFloat16 || model_dtype == at::kHalf;
    std::optional<at::ScalarType> autocast_dtype;
    if (cfg.bf16 || cfg.fp16 || half) autocast_dtype = cfg.fp16 || model_dtype == at::kHalf ? at::kHalf : at::kBFloat16;
    if (autocast_dtype) {
      MVB_USAGE_CHECK(t->device().is_cuda() || *autocast_dtype == at::kBFloat16,
                      "--fp16 trains on CUDA only; on CPU use --bf16 (CPU bf16 autocast) or fp32");
      at::NoGradGuard no_grad;
      for (auto& [n, p] : trainable)
        if (p.scalar_type() != at::kFloat && (nn::is_lora_name(n) || *autocast_dtype == at::kHalf))
          p.set_data(p.to(at::kFloat));
      spdlog::info("{} autocast on {} ({} weights; trainable LoRA{} tensors in float32{})",
                   *autocast_dtype == at::kHalf ? "fp16" : "bf16", t->device().is_cuda() ? "CUDA" : "CPU",
                   c10::toString(model_dtype), *autocast_dtype == at::kHalf ? " and other" : "",
                   *autocast_dtype == at::kHalf ? ", dynamic loss scaling" : "");
    }
    LossScaler scaler(autocast_dtype == at::kHalf);
    // --gradient_checkpointing: every decoder layer recomputes its activations in backward
    // (nn/checkpoint.h). The reference refuses it for LLaVA because of peft issue 1402 (reentrant
    // checkpointing drops the gradients of LoRA layers whose inputs need none); the recomputation here
    // passes the trainable parameters to the autograd node, so those gradients arrive.
    if (cfg.gradient_checkpointing) {
      int n_decoders = 0;
      for (auto& m : root.modules(/*include_self=*/true))
        if (dynamic_cast<nn::DecoderModelImpl*>(m.get())) {
          nn::set_gradient_checkpointing(*m, true);
          ++n_decoders;
        }
      MVB_CHECK(n_decoders > 0, cfg.model, " has no decoder whose layers can be checkpointed");
      spdlog::info("gradient checkpointing: decoder layers recompute their activations in backward");
    }
    int64_t n_train = 0, n_all = 0;
    for (const auto& [n, p] : trainable) n_train += p.numel();
    for (const auto& p : root.parameters()) n_all += p.numel();
    spdlog::info("{}: {}; {} LoRA modules (r {}, alpha {}, dropout {}), trainable {} of {} parameters ({:.3f}%)",
                 cfg.model, plan.note, lora ? plan.lora_modules.size() : 0, lcfg.r, lcfg.alpha, lcfg.dropout, n_train,
                 n_all, 100.0 * n_train / std::max<int64_t>(1, n_all));

    // Trainer's groups: (decay, no decay) x (projector at --mm_projector_lr, vision tower at
    // --vision_tower_lr, the rest at --learning_rate); empty groups are dropped.
    std::map<std::string, ParamGroup> groups;
    for (const auto& [n, p] : trainable) {
      std::string kind = "default";
      double lr = cfg.learning_rate;
      if (cfg.mm_projector_lr > 0 && !plan.projector_prefix.empty() && n.rfind(plan.projector_prefix, 0) == 0) {
        kind = "projector";
        lr = cfg.mm_projector_lr;
      } else if (cfg.vision_tower_lr > 0 && !plan.vision_prefix.empty() && n.rfind(plan.vision_prefix, 0) == 0) {
        kind = "vision_tower";
        lr = cfg.vision_tower_lr;
      }
      const bool decay = decays(n, t->in_layernorm(n), t->llava_decay_rules());
      ParamGroup& g = groups[kind + (decay ? "/decay" : "/no_decay")];
      g.name = kind + (decay ? "/decay" : "/no_decay");
      g.lr = lr;
      g.weight_decay = decay ? cfg.weight_decay : 0.0;
      g.params.emplace_back(n, p);
    }
    std::vector<ParamGroup> group_list;
    for (auto& [k, g] : groups) group_list.push_back(std::move(g));
    AdamW opt(std::move(group_list));
    DataParallel dp(launch_env(), t->device());

    std::vector<Sample> samples = drain(*ctx.samples);
    std::vector<Sample> usable;
    for (auto& s : samples) {
      if (!s.error.empty()) {
        spdlog::warn("skipping training sample {}: {}", s.id, s.error);
        continue;
      }
      usable.push_back(std::move(s));
    }
    MVB_CHECK(!usable.empty(), "no training samples in ", cfg.dataset, " split ", cfg.split);
    const int64_t N = static_cast<int64_t>(usable.size());
    const int64_t bs = cfg.per_device_train_batch_size;
    const int64_t gbs = bs * dp.world_size();  // the global batch: every rank's per-device batch
    const int ga = cfg.gradient_accumulation_steps;
    const int64_t batches = (N + gbs - 1) / gbs;
    const int64_t total = total_update_steps(batches, ga, cfg.num_train_epochs, cfg.max_steps);
    const int64_t warmup = warmup_steps(total, cfg.warmup_ratio);
    SftOptions so;
    so.version = cfg.version;
    so.model_max_length = cfg.model_max_length;
    spdlog::info(
        "training on {} samples: {} batches of {} per epoch, accumulation {}, {} optimizer steps ({} warm-up), "
        "{} schedule",
        N, batches, gbs, ga, total, warmup, cfg.lr_scheduler_type);

    // --resume: the newest complete checkpoint-N.
    int64_t global_step = 0, epoch = 0, next_batch = 0;
    const std::string metrics_path = io::join_path(ctx.run_dir, kTrainMetricsFile);
    std::vector<std::pair<int64_t, double>> curve;
    if (cfg.resume) {
      const auto steps = list_checkpoints(ctx.run_dir);
      if (steps.empty()) {
        spdlog::info("--resume: no checkpoint in {}; starting from step 0", ctx.run_dir);
      } else {
        const std::string dir = io::join_path(ctx.run_dir, "checkpoint-" + std::to_string(steps.back()));
        const nlohmann::json st = io::read_json(io::join_path(dir, kTrainerStateFile));
        MVB_CHECK(st.value("total_steps", int64_t{-1}) == total && st.value("samples", int64_t{-1}) == N, dir,
                  " was written by a run with another schedule or data (", st.value("total_steps", 0), " steps over ",
                  st.value("samples", 0), " samples, now ", total, " over ", N, "); start a new run folder");
        load_trainable(dir, trainable);
        std::vector<std::pair<std::string, at::Tensor>> ost;
        io::StateDict sd = io::open_safetensors(io::join_path(dir, kOptimizerFile));
        for (const auto& name : sd.names()) ost.emplace_back(name, sd.get(name));
        opt.load_state(ost, io::join_path(dir, kOptimizerFile));
        const at::Tensor rng = sd.get("__rng__").clone();
        {
          auto gen = at::detail::getDefaultCPUGenerator();
          std::lock_guard<std::mutex> lock(gen.mutex());
          gen.set_state(rng);
        }
        global_step = st["global_step"];
        epoch = st["epoch"];
        next_batch = st["next_batch"];
        for (const auto& p : st["loss_curve"]) curve.emplace_back(p[0].get<int64_t>(), p[1].get<double>());
        spdlog::info("--resume: continuing from {} (step {}/{}, epoch {}, batch {})", dir, global_step, total, epoch,
                     next_batch);
      }
    }
    if (dp.active()) {
      // Every rank starts from rank 0's weights, and resumes from the step rank 0 resumes from (a
      // multi-node --resume needs the run folder on a shared filesystem).
      const std::vector<double> at = dp.sum({dp.writes() ? static_cast<double>(global_step) : 0.0});
      MVB_CHECK(static_cast<int64_t>(at[0]) == global_step, "rank ", dp.rank(), " resumes from step ", global_step,
                " but rank 0 from step ", static_cast<int64_t>(at[0]), ": every rank must see the same ", ctx.run_dir,
                " (a shared filesystem) for --resume");
      std::vector<at::Tensor> weights;
      for (const auto& [n, p] : trainable) weights.push_back(p);
      dp.broadcast(weights);
    }
    // The metrics file holds the steps done so far (a killed run may have logged past its checkpoint).
    if (dp.writes()) {
      std::vector<std::string> keep;
      if (cfg.resume && io::exists(metrics_path)) {
        std::ifstream in(metrics_path);
        std::string line;
        while (std::getline(in, line)) {
          if (line.empty()) continue;
          const auto j = nlohmann::json::parse(line, nullptr, false);
          if (!j.is_discarded() && j.value("step", int64_t{0}) <= global_step) keep.push_back(line);
        }
      }
      std::string content;
      for (const auto& l : keep) content += l + "\n";
      io::write_file_atomic(metrics_path, content);
    }
    std::ofstream metrics;
    if (dp.writes()) metrics.open(metrics_path, std::ios::app);

    root.train();
    const auto t_start = std::chrono::steady_clock::now();
    int64_t tokens_seen = 0;
    const int64_t start_step = global_step;
    bool interrupted = false;
    while (global_step < total && !interrupted) {
      const auto order = epoch_order(N, cfg.seed, epoch);
      while (next_batch < batches && global_step < total) {
        const auto t_step = std::chrono::steady_clock::now();
        const int64_t window = std::min<int64_t>(ga, batches - next_batch);
        // Build the window's examples first: the token-count normalisation needs all of them.
        std::vector<std::vector<SftExample>> micro;
        int64_t window_tokens = 0, step_tokens = 0;
        for (int64_t w = 0; w < window; ++w) {
          std::vector<SftExample> b;
          const auto [from, to] = dp.shard((next_batch + w) * gbs, bs, N);
          for (int64_t i = from; i < to; ++i) {
            const Sample& s = usable[order[i]];
            spdlog::debug("step {} epoch {} batch {}: sample {}", global_step + 1, epoch, next_batch + w, s.id);
            b.push_back(t->example(sample_prompt(s, cfg.task), s.answer, s.images, so));
            for (size_t k = 1; k < b.back().labels.size(); ++k) window_tokens += b.back().labels[k] != kIgnoreIndex;
            step_tokens += static_cast<int64_t>(b.back().input_ids.size());
          }
          micro.push_back(std::move(b));
        }
        // Data parallel: the window's label tokens over every rank, and each rank's loss times the world
        // size, as HF Trainer with average_tokens_across_devices (the average of gradients undoes it).
        if (dp.active() && t->loss_norm() == LossNorm::kWindowTokens)
          window_tokens = static_cast<int64_t>(dp.sum({static_cast<double>(window_tokens)})[0]);
        const double loss_scale = t->loss_norm() == LossNorm::kWindowTokens ? dp.world_size() : 1.0;
        double step_loss = 0;
        for (auto& b : micro) {
          if (b.empty()) continue;  // the epoch's last batch left this rank nothing
          std::optional<compat::AutocastGuard> autocast;
          if (autocast_dtype) autocast.emplace(t->device().type(), *autocast_dtype);
          auto [sum, count] = t->loss_sum(b);
          autocast.reset();
          at::Tensor loss;
          if (t->loss_norm() == LossNorm::kMicroBatchMean) {
            // A micro-batch without label tokens adds nothing (transformers' mean would be NaN).
            loss = count > 0 ? sum / static_cast<double>(count) / static_cast<double>(window) : sum * 0.0;
          } else {
            loss = window_tokens > 0 ? sum * (loss_scale / static_cast<double>(window_tokens)) : sum * 0.0;
          }
          scaler.scale(loss).backward();
          step_loss += loss.item<double>();
        }
        std::vector<at::Tensor> params = opt.parameters();
        dp.average_gradients(params);
        // fp16: gradients back to their true scale; a step whose gradients overflowed is skipped (after the
        // average, so an overflow on any rank skips the step on all of them).
        const bool finite = scaler.unscale(params);
        double grad_norm = 0;
        {
          std::vector<at::Tensor> with_grad;
          for (auto& p : params)
            if (p.grad().defined()) with_grad.push_back(p);
          if (!with_grad.empty())
            grad_norm = torch::nn::utils::clip_grad_norm_(
                with_grad, cfg.max_grad_norm > 0 ? cfg.max_grad_norm : std::numeric_limits<double>::infinity());
        }
        const double factor = lr_factor(cfg.lr_scheduler_type, global_step, total, warmup);
        if (finite) opt.step(factor);
        scaler.update(!finite);
        opt.zero_grad();
        bool stop = cancel_requested();
        if (dp.active()) {
          // The logged numbers over all ranks, and a stop (SIGTERM) any rank saw, so all stop together.
          const auto s = dp.sum({step_loss, static_cast<double>(step_tokens), stop ? 1.0 : 0.0});
          step_loss = s[0] / dp.world_size();
          step_tokens = static_cast<int64_t>(s[1]);
          stop = s[2] > 0;
        }
        ++global_step;
        next_batch += window;
        tokens_seen += step_tokens;
        const double step_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_step).count();
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        const double eta =
            elapsed / static_cast<double>(global_step - start_step) * static_cast<double>(total - global_step);
        const double lr_now = cfg.learning_rate * factor;
        const double epoch_f =
            static_cast<double>(epoch) + static_cast<double>(next_batch) / static_cast<double>(batches);
        nlohmann::json rec = {{"step", global_step},
                              {"epoch", epoch_f},
                              {"loss", step_loss},
                              {"learning_rate", lr_now},
                              {"grad_norm", grad_norm},
                              {"tokens", step_tokens},
                              {"tokens_per_s", step_s > 0 ? step_tokens / step_s : 0.0},
                              {"step_s", step_s}};
        if (dp.writes()) {
          metrics << rec.dump() << "\n";
          metrics.flush();
        }
        curve.emplace_back(global_step, step_loss);
        spdlog::info("step {}/{} | epoch {:.2f} | loss {:.4f} | lr {:.3e} | grad_norm {:.4f} | {:.0f} tok/s | ETA {}",
                     global_step, total, epoch_f, step_loss, lr_now, grad_norm, step_s > 0 ? step_tokens / step_s : 0.0,
                     format_eta(eta));
        const bool epoch_done = next_batch >= batches;
        if (epoch_done) {
          ++epoch;
          next_batch = 0;
        }
        if (dp.writes() &&
            ((cfg.save_steps > 0 && global_step % cfg.save_steps == 0) || (stop && global_step < total))) {
          nlohmann::json st = {{"global_step", global_step}, {"epoch", epoch}, {"next_batch", next_batch},
                               {"total_steps", total},       {"samples", N},   {"seed", cfg.seed},
                               {"loss_curve", curve}};
          save_checkpoint(ctx.run_dir, global_step, trainable, opt, st);
          prune_checkpoints(ctx.run_dir, cfg.save_total_limit);
        }
        if (stop) {
          interrupted = true;
          break;
        }
        // Tests kill the process here (SIGKILL: no cleanup, as a crash or an OOM kill) to prove that
        // --resume from the last checkpoint reaches an uninterrupted run's weights.
        if (kill_after_step_ > 0 && global_step == kill_after_step_) std::raise(SIGKILL);
        if (epoch_done) break;  // the next epoch draws its own order
      }
    }
    metrics.close();
    if (dp.writes()) write_loss_svg(io::join_path(ctx.run_dir, kLossCurveFile), curve);
    root.eval();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    ctx.stats["steps"] = global_step;
    ctx.stats["total_steps"] = total;
    ctx.stats["final_loss"] = curve.empty() ? nlohmann::json(nullptr) : nlohmann::json(curve.back().second);
    ctx.stats["first_loss"] = curve.empty() ? nlohmann::json(nullptr) : nlohmann::json(curve.front().second);
    ctx.stats["tokens_per_s"] = secs > 0 ? tokens_seen / secs : 0.0;
    ctx.stats["trainable_parameters"] = n_train;
    ctx.stats["lora"] = lora ? nlohmann::json{{"r", lcfg.r},
                                              {"alpha", lcfg.alpha},
                                              {"dropout", lcfg.dropout},
                                              {"modules", plan.lora_modules.size()},
                                              {"targets", plan.note}}
                             : nlohmann::json(nullptr);
    if (dp.active()) ctx.stats["data_parallel"] = {{"world_size", dp.world_size()}, {"backend", dp.backend()}};
    if (interrupted) {
      spdlog::warn("training interrupted at step {}/{}; rerun with --resume to continue", global_step, total);
    } else {
      MVB_USAGE_CHECK(!cfg.merge_lora || lora,
                      "--merge_lora needs a LoRA run (--peft lora); full fine-tuning "
                      "already writes the whole model");
      if (dp.writes()) {
        SaveOptions so_out;
        so_out.lora = lora;
        so_out.lcfg = lcfg;
        so_out.lora_bias = lora ? cfg.lora_bias : "none";
        so_out.merge_lora = cfg.merge_lora;
        save_generative_outputs(*t, ctx.run_dir, trainable, so_out);
      }
    }
    dp.barrier();  // no rank leaves (and tears the group down) while rank 0 saves
  }

 private:
  int64_t kill_after_step_ = 0;
};

}  // namespace

void save_checkpoint(const std::string& run_dir, int64_t step,
                     const std::vector<std::pair<std::string, at::Tensor>>& trainable, const AdamW& opt,
                     const nlohmann::json& state) {
  const std::string final_dir = io::join_path(run_dir, "checkpoint-" + std::to_string(step));
  const std::string tmp = final_dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  io::create_directories(tmp);
  std::vector<std::pair<std::string, at::Tensor>> w;
  for (const auto& [n, p] : trainable) w.emplace_back(n, p.detach());
  io::write_safetensors(io::join_path(tmp, kTrainableFile), w);
  auto ost = opt.state();
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    ost.emplace_back("__rng__", gen.get_state());
  }
  io::write_safetensors(io::join_path(tmp, kOptimizerFile), ost);
  io::write_json_atomic(io::join_path(tmp, kTrainerStateFile), state);
  // The folder appears whole or not at all: written as .tmp, then renamed over any older copy.
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir);
}

void prune_checkpoints(const std::string& run_dir, int keep) {
  if (keep <= 0) return;
  auto steps = list_checkpoints(run_dir);
  while (static_cast<int>(steps.size()) > keep) {
    std::error_code ec;
    fs::remove_all(io::join_path(run_dir, "checkpoint-" + std::to_string(steps.front())), ec);
    steps.erase(steps.begin());
  }
}

void load_trainable(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& trainable) {
  const std::string path = io::join_path(dir, kTrainableFile);
  io::StateDict sd = io::open_safetensors(path);
  at::NoGradGuard no_grad;
  for (const auto& [n, p] : trainable) {
    MVB_CHECK(sd.contains(n), path, " has no ", n, "; it was written for other trainable parameters");
    const at::Tensor v = sd.get(n);
    MVB_CHECK(v.sizes() == p.sizes(), path, ": ", n, " has shape ", v.sizes(), ", expected ", p.sizes());
    p.copy_(v);
  }
}

std::vector<std::pair<std::string, at::Tensor>> select_trainable(torch::nn::Module& root, const TrainPlan& plan,
                                                                 bool lora, const std::string& lora_bias) {
  MVB_USAGE_CHECK(lora_bias == "none" || lora_bias == "all" || lora_bias == "lora_only", "--lora_bias ", lora_bias,
                  " is not one of none, all, lora_only");
  std::set<std::string> adapted;
  for (auto& [name, lin] : nn::find_linears(root))
    if (lin->has_lora()) adapted.insert(name);
  std::vector<std::pair<std::string, at::Tensor>> trainable;
  for (auto& p : root.named_parameters(true)) {
    const std::string& n = p.key();
    bool on = nn::is_lora_name(n);
    for (const auto& pre : plan.full_prefixes) on = on || n.rfind(pre, 0) == 0;
    if (lora && lora_bias == "all" && n.find("bias") != std::string::npos) on = true;
    if (lora && lora_bias == "lora_only" && ends_with(n, ".bias") && adapted.count(n.substr(0, n.size() - 5)))
      on = true;
    p.value().set_requires_grad(on);
    if (on) trainable.emplace_back(n, p.value());
  }
  return trainable;
}

namespace {

// The files of a Hugging Face model folder besides its weights, as save_pretrained writes them.
bool is_hf_side_file(const std::string& name) {
  static const std::set<std::string> kFiles = {"config.json",
                                               "generation_config.json",
                                               "preprocessor_config.json",
                                               "processor_config.json",
                                               "video_preprocessor_config.json",
                                               "special_tokens_map.json",
                                               "added_tokens.json",
                                               "chat_template.json",
                                               "chat_template.jinja",
                                               "tokenizer.json",
                                               "tokenizer_config.json",
                                               "tokenizer.model",
                                               "vocab.json",
                                               "merges.txt"};
  return kFiles.count(name) > 0;
}

}  // namespace

void export_hf_model(TrainableVlm& t, const std::string& dir) {
  io::create_directories(dir);
  const std::string base = t.base_model_path();
  for (const auto& e : fs::directory_iterator(base)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !is_hf_side_file(name)) continue;
    // save_extras may already have written the run's config.json (LLaVA's training settings).
    if (name == "config.json" && io::exists(io::join_path(dir, name))) continue;
    fs::copy_file(e.path(), io::join_path(dir, name), fs::copy_options::overwrite_existing);
  }
  std::map<std::string, nn::Linear> linears;
  for (auto& [name, lin] : nn::find_linears(t.root())) linears.emplace(name, lin);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::set<std::string> seen;
  at::NoGradGuard no_grad;
  for (auto& p : t.root().named_parameters(true)) {
    const std::string& n = p.key();
    if (nn::is_lora_name(n)) continue;
    const auto dot = n.rfind('.');
    const std::string module = n.substr(0, dot), leaf = n.substr(dot + 1);
    const auto published = t.peft_name(module);
    MVB_CHECK(published.has_value(), "no published name for parameter ", n, "; cannot export the model");
    at::Tensor v = p.value().detach();
    auto lin = linears.find(module);
    if (leaf == "weight" && lin != linears.end() && lin->second->has_lora() && !lin->second->lora_merged()) {
      // PEFT's merge_and_unload: W + B A * scaling, computed in float32, stored in W's dtype.
      const nn::Linear& l = lin->second;
      v = (v.to(at::kFloat) + at::matmul(l->lora_B.to(at::kFloat), l->lora_A.to(at::kFloat)).mul(l->lora.scaling()))
              .to(v.scalar_type());
    }
    const std::string key = *published + "." + leaf;
    MVB_CHECK(seen.insert(key).second, "two parameters export as ", key);
    tensors.emplace_back(key, v.to(at::kCPU).contiguous());
  }
  io::write_safetensors(io::join_path(dir, "model.safetensors"), tensors, {{"format", "pt"}});
}

void save_generative_outputs(TrainableVlm& t, const std::string& dir,
                             const std::vector<std::pair<std::string, at::Tensor>>& trainable, const SaveOptions& o) {
  auto names = [&](const std::string& n) { return t.peft_name(n); };
  io::create_directories(dir);
  std::vector<std::pair<std::string, at::Tensor>> non_lora;
  for (const auto& [n, p] : trainable)
    if (!nn::is_lora_name(n)) non_lora.emplace_back(n, p);
  if (o.lora) {
    const bool ok = save_peft_adapter(dir, t.root(), names);
    MVB_CHECK(ok, "could not name every adapted module for PEFT");
    // What get_peft_model(model, LoraConfig(..., bias=--lora_bias, task_type="CAUSAL_LM")) saves.
    nlohmann::json c = io::read_json(io::join_path(dir, kPeftConfigFile));
    c["task_type"] = "CAUSAL_LM";
    c["base_model_name_or_path"] = t.base_model_path();
    c["lora_dropout"] = o.lcfg.dropout;
    c["bias"] = o.lora_bias;
    if (o.lora_bias != "none") {
      // get_peft_model_state_dict keeps the trained biases beside the adapters, under the PeftModel's
      // names: an adapted layer's bias sits in its base_layer.
      std::set<std::string> adapted;
      for (auto& [name, lin] : nn::find_linears(t.root()))
        if (lin->has_lora()) adapted.insert(name);
      const std::string path = io::join_path(dir, kPeftWeightsFile);
      std::vector<std::pair<std::string, at::Tensor>> tensors;
      {
        io::StateDict sd = io::open_safetensors(path);
        for (const auto& k : sd.names()) tensors.emplace_back(k, sd.get(k).clone());
      }
      for (const auto& [n, p] : trainable) {
        if (nn::is_lora_name(n) || n.find("bias") == std::string::npos) continue;
        const auto dot = n.rfind('.');
        const std::string module = n.substr(0, dot);
        const auto published = t.peft_name(module);
        MVB_CHECK(published.has_value(), "no published name for trainable parameter ", n);
        tensors.emplace_back(std::string("base_model.model.") + *published +
                                 (adapted.count(module) ? ".base_layer" : "") + n.substr(dot),
                             p.detach().to(at::kCPU, at::kFloat).contiguous());
      }
      io::write_safetensors(path, tensors, {{"format", "pt"}});
    }
    io::write_json_atomic(io::join_path(dir, kPeftConfigFile), c);
  }
  if (!non_lora.empty()) {
    std::vector<std::pair<std::string, at::Tensor>> named;
    for (const auto& [n, p] : non_lora) {
      const auto module = t.peft_name(n.substr(0, n.rfind('.')));
      MVB_CHECK(module.has_value(), "no published name for trainable parameter ", n);
      named.emplace_back(*module + n.substr(n.rfind('.')), p.detach().to(at::kCPU).contiguous());
    }
    // Full fine-tuning writes the whole model below; the subset file would only shadow it.
    if (o.lora) io::write_safetensors(io::join_path(dir, kNonLoraFile), named, {{"format", "pt"}});
  }
  t.save_extras(dir, o.lora ? non_lora : std::vector<std::pair<std::string, at::Tensor>>{});
  if (!o.lora) {
    // safe_save_model_for_hf_trainer: the whole tuned model in the run folder (eval --model_path RUN).
    // (The reference writes only mm_projector.bin when M is tuned, tune_mm_mlp_adapter; the whole model
    // is written here, which also holds the projector.)
    std::error_code ec;
    fs::remove(io::join_path(dir, "non_lora_trainables.bin"), ec);
    export_hf_model(t, dir);
    spdlog::info("saved the tuned model (Hugging Face layout) to {}", dir);
    return;
  }
  spdlog::info("saved the LoRA adapter (PEFT layout) to {}", dir);
  if (o.merge_lora) {
    const std::string merged = io::join_path(dir, kMergedDir);
    io::create_directories(merged);
    t.save_extras(merged, {});
    std::error_code ec;
    fs::remove(io::join_path(merged, "non_lora_trainables.bin"), ec);
    export_hf_model(t, merged);
    spdlog::info("saved the merged model (Hugging Face layout) to {}", merged);
  }
}

MVB_REGISTER(usage_registry(), usage_key(kTrainUsage, "vqa"),
             UsageEntry{kTrainUsage,
                        "vqa",
                        "train",
                        {"generative"},
                        "supervised fine-tuning of a local generative VLM (--peft lora or full)",
                        [] { return std::make_unique<GenerativeTrainRunner>(); }});
MVB_REGISTER(usage_registry(), usage_key(kTrainUsage, "caption"),
             UsageEntry{kTrainUsage,
                        "caption",
                        "train",
                        {"generative"},
                        "supervised fine-tuning of a local generative VLM (--peft lora or full)",
                        [] { return std::make_unique<GenerativeTrainRunner>(); }});

}  // namespace mvb::train
