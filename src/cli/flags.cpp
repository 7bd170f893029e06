#include "medvlmbench/cli/flags.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "reference_flags.h"

namespace mvb::cli {
namespace {

// Single-valued options keep the last value given (CLI11's default would reject repeats).
template <class T>
CLI::Option* opt(CLI::App& app, const std::string& name, T& target, const std::string& help) {
  return app.add_option(name, target, help)
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

// HF-style booleans ("--bf16 True", "--lora_enable", "--bf16 false"): the value is optional
// (expected(0, 1)), as HfArgumentParser's nargs="?" booleans, so the reference's command lines parse.
CLI::Option* bool_opt(CLI::App& app, const std::string& name, bool& target, const std::string& help) {
  return app.add_flag(name + "{true}", target, help)
      ->expected(0, 1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

}  // namespace

void add_common_flags(CLI::App& app, RunConfig& c) {
  opt(app, "--task", c.task, "Task: vqa, caption or diagnosis");
  opt(app, "--usage", c.usage,
      "How the model is used (clip-zs, lp, img-lora-lp, clip-img-lora, mdagent, ucagent; "
      "empty = off-the-shelf)");
  opt(app, "--dataset", c.dataset, "Dataset name (medvlmbench list datasets)");
  opt(app, "--split", c.split, "Split: train, validation, test or all");
  opt(app, "--image_path", c.image_path, "Dataset folder, laid out as the reference expects");
  opt(app, "--model", c.model, "Model name (medvlmbench list models)");
  opt(app, "--model_path", c.model_path, "Checkpoint folder, or original_pretrained");
  opt(app, "--model_base", c.model_base, "Base checkpoint for LoRA/delta checkpoints");
  opt(app, "--cache_dir", c.cache_dir, "Cache folder (features, API responses)");
  opt(app, "--mdagent_mode", c.mdagent_mode, "MDAgent mode")
      ->check(CLI::IsMember({"adaptive", "basic", "intermediate", "advanced"}));
  // Agents (issue 16)
  opt(app, "--ucagent_retries", c.ucagent_retries,
      "UCAgent: retries of a step whose output breaks the #Question Type/#Reasoning/#Answer format "
      "(0 = the reference, which never retries)")
      ->check(CLI::Range(0, 10));
  opt(app, "--context_length", c.context_length, "Text context length for CLIP text towers");
  opt(app, "--seed", c.seed, "Random seed");
  opt(app, "--device", c.device, "cpu, cuda, cuda:N or auto");
  opt(app, "--dtype", c.dtype, "Model precision: auto (fp32 on CPU, bf16 on CUDA), fp32, bf16 or fp16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}));
  // Bounds (issue 18): --batch_size -1 used to run with 64 and --num_workers 100000 created 32,000 threads
  // and hung. The limits are far above any useful value and keep a typo from exhausting the machine.
  opt(app, "--batch_size", c.batch_size, "Batch size (0 = the usage's default; at most 4096)")
      ->check(CLI::Range(0, 4096));
  opt(app, "--num_workers", c.num_workers, "Threads decoding and preprocessing images (at most 1024)")
      ->check(CLI::Range(0, 1024));
  opt(app, "--limit,--max_samples", c.limit, "Process only the first N samples (after --shard)");
  opt(app, "--shard", c.shard,
      "Process shard i of n (samples at positions i, i+n, ...), e.g. 0/4; default: the Slurm array task's "
      "(SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT) when set; 0/1 = no sharding");
  opt(app, "--log_level", c.log_level, "trace, debug, info, warn, error or off");
  opt(app, "--prompt_template", c.prompt_template,
      "clip-zs / clip-img-lora class prompt; {} = class text; '|' separates templates to ensemble");
}

void add_eval_flags(CLI::App& app, RunConfig& c) {
  add_common_flags(app, c);
  opt(app, "--exp_path", c.exp_path, "Root folder of run outputs");
  opt(app, "--devices", c.devices,
      "Run one worker process per device over interleaved shards, then merge: e.g. 0,1,2,3 (CUDA devices), "
      "cuda:0,cuda:2, or cpu,cpu (CPU workers splitting the CPUs)");
  bool_opt(app, "--save_pred", c.save_pred, "Also write predictions.json in the reference's layout");
  bool_opt(app, "--resume", c.resume, "Continue an interrupted run: keep finished predictions, do the rest");
  opt(app, "--eval_print_freq", c.eval_print_freq, "Accepted for compatibility (progress is time-based)");
  // Bounded: 1e9 resamples grew past 4.9 GB, and -1 silently turned the intervals off.
  opt(app, "--bootstrap", c.bootstrap, "Bootstrap resamples for 95% confidence intervals (0 = off; at most 1000000)")
      ->check(CLI::Range(0, 1000000));
  add_bertscore_flag(app, c.bertscore_model);
  opt(app, "--format", c.format, "End-of-run summary on stdout: text or json")->check(CLI::IsMember({"text", "json"}));
  add_api_flags(app, c);
  add_generation_flags(app, c);
  opt(app, "--judge", c.judge,
      "After the run, score open answers 0-100 with this LLM judge: NAME[:MODEL_ID] (e.g. o3, openai:gpt-4.1, "
      "openai-compatible)");
  opt(app, "--judge_api_base", c.judge_api_base, "Base URL of the judge's server (default: the provider's)");
  opt(app, "--judge_api_model", c.judge_api_model, "The judge's model id at its provider");
  // Last, after every implemented flag: the reference's run_eval.py flags we accept without using
  // (reference_flags.cpp).
  add_reference_compat_flags(app, "eval");
}

void add_bertscore_flag(CLI::App& app, std::string& target) {
  opt(app, "--bertscore_model", target,
      "BERTScore model folder (BERT: config.json, weights, vocab.txt); default models/Bio_ClinicalBERT when present; "
      "none = off")
      ->check(CLI::ExistingDirectory | CLI::IsMember({"none"}))
      // Absolute, so run.json records a folder that `score` finds from any working directory.
      ->transform(CLI::Validator(
          [](std::string& dir) {
            if (dir != "none") dir = std::filesystem::absolute(dir).lexically_normal().string();
            return std::string();
          },
          "DIR"));
}

void add_api_flags(CLI::App& app, RunConfig& c) {
  opt(app, "--api_base", c.api_base,
      "API base URL (required for openai-compatible, e.g. http://localhost:8000/v1; default: the provider's)");
  opt(app, "--api_model", c.api_model, "Model id at the provider (default: o3 / gemini-2.5-pro / the server's model)");
  opt(app, "--api_protocol", c.api_protocol, "chat (Chat Completions), responses or gemini (default: the backend's)")
      ->check(CLI::IsMember({"", "chat", "responses", "gemini"}));
  opt(app, "--api_concurrency", c.api_concurrency, "API requests in flight at once")->check(CLI::Range(1, 1024));
  opt(app, "--api_timeout", c.api_timeout, "Seconds before one API request is abandoned (then retried)");
  opt(app, "--api_retries", c.api_retries, "Retries per request on 429, 5xx and network errors (backoff + jitter)");
  opt(app, "--api_max_retry_after", c.api_max_retry_after,
      "Longest wait (seconds) a server's Retry-After can impose before a retry; longer asks are clamped to it "
      "and each wait of a second or more is logged")
      ->check(CLI::Range(0.0, 86400.0));
  opt(app, "--api_rpm", c.api_rpm, "Client-side limit in requests per minute (0 = none)");
  opt(app, "--api_tpm", c.api_tpm, "Client-side limit in tokens per minute (0 = none)");
  opt(app, "--api_max_tokens", c.api_max_tokens, "Maximum output tokens sent to the API (0 = not sent)");
  opt(app, "--api_prices", c.api_prices, "Price table for cost accounting (default configs/api_prices.json)");
  bool_opt(app, "--no_cache", c.no_cache, "Do not read or write the API response cache");
}

// Eval (generative quirks and ChestXray diagnosis) and train (the ChestXray input of lp / img-lora-lp /
// clip-img-lora, so a probe trains on what it is evaluated on).
void add_reference_compat_option(CLI::App& app, RunConfig& c, const std::string& group) {
  app.add_option("--reference_compat", c.reference_compat,
                 "Reproduce these input quirks of the reference (comma-separated, e.g. llava_double_preprocess for "
                 "local VLMs, chestxray_transform for ChestXray diagnosis; all = every quirk that applies); run.json "
                 "records which ran")
      ->expected(1)
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group(group);
}

void add_generation_flags(CLI::App& app, RunConfig& c) {
  const std::string group = "Generative models";
  opt(app, "--max_new_tokens", c.max_new_tokens,
      "Most new tokens per answer (0 = the model's reference default, e.g. 1024 for LLaVA-1.5)")
      ->check(CLI::Range(0, 1 << 20))
      ->group(group);
  opt(app, "--temperature", c.temperature,
      "Sampling temperature (0 = greedy; unset = the model's default, e.g. its generation_config.json)")
      ->check(CLI::Range(0.0, 100.0))
      ->group(group);
  add_reference_compat_option(app, c, group);
  opt(app, "--min_pixels", c.min_pixels,
      "Qwen2-VL / Qwen2.5-VL: fewest pixels an image is resized to (qwen_vl_utils; 0 = its default 4*28*28)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 34))
      ->group(group);
  opt(app, "--max_pixels", c.max_pixels,
      "Qwen2-VL / Qwen2.5-VL: most pixels an image is resized to (qwen_vl_utils; 0 = its default 16384*28*28)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 34))
      ->group(group);
}

void add_train_flags(CLI::App& app, RunConfig& c) {
  add_common_flags(app, c);
  opt(app, "--output_dir", c.output_dir, "Root folder of training outputs");
  opt(app, "--num_train_epochs", c.num_train_epochs, "Training epochs");
  opt(app, "--learning_rate", c.learning_rate, "Learning rate");
  opt(app, "--weight_decay", c.weight_decay, "AdamW weight decay");
  opt(app, "--warmup_ratio", c.warmup_ratio, "Fraction of steps for linear warm-up");
  opt(app, "--lr_scheduler_type", c.lr_scheduler_type,
      "HF get_scheduler name: linear, cosine, constant (no warm-up) or constant_with_warmup")
      ->check(CLI::IsMember({"linear", "cosine", "constant", "constant_with_warmup"}));
  opt(app, "--optim", c.optim, "Optimizer")->check(CLI::IsMember({"adamw_torch", "adamw", "sgd"}));
  opt(app, "--per_device_train_batch_size", c.per_device_train_batch_size, "Training batch size");
  opt(app, "--gradient_accumulation_steps", c.gradient_accumulation_steps, "Gradient accumulation steps");
  opt(app, "--peft", c.peft, "Parameter-efficient fine-tuning method (lora) or empty for full");
  opt(app, "--tune_modules", c.tune_modules, "Modules to tune: V vision, M projector, L language model");
  bool_opt(app, "--lora_enable", c.lora_enable, "Enable LoRA (forced on by --peft lora)");
  opt(app, "--lora_r", c.lora_r, "LoRA rank");
  opt(app, "--lora_alpha", c.lora_alpha, "LoRA alpha");
  opt(app, "--lora_dropout", c.lora_dropout,
      "LoRA dropout (default: the reference's 0.05; 0 for Qwen2-VL / Qwen2.5-VL, LLaMA-Factory's default)");
  opt(app, "--lora_bias", c.lora_bias, "LoRA bias: none, all or lora_only")
      ->check(CLI::IsMember({"none", "all", "lora_only"}));
  opt(app, "--mm_projector_lr", c.mm_projector_lr, "Separate learning rate for the projector");
  opt(app, "--vision_tower_lr", c.vision_tower_lr, "Separate learning rate for the vision tower");
  opt(app, "--max_steps", c.max_steps, "Optimizer steps to run (overrides --num_train_epochs when > 0)");
  opt(app, "--save_steps", c.save_steps, "Write a resumable checkpoint every N optimizer steps (0 = never)");
  opt(app, "--save_total_limit", c.save_total_limit, "Keep only the newest N checkpoints (0 = all)");
  bool_opt(app, "--gradient_checkpointing", c.gradient_checkpointing,
           "Recompute each decoder layer's activations in the backward pass (less memory, ~1 more forward)");
  bool_opt(app, "--merge_lora", c.merge_lora,
           "LoRA training: also write <run>/merged/, the full model with the adapter merged (Hugging Face layout)");
  opt(app, "--version", c.version, "LLaVA conversation template: v1 (vicuna_v1) or mistral_instruct");
  opt(app, "--model_max_length", c.model_max_length, "Maximum sequence length");
  opt(app, "--max_grad_norm", c.max_grad_norm, "Gradient clipping norm");
  bool_opt(app, "--bf16", c.bf16,
           "Run the model in bfloat16 (same as --dtype bf16); training computes under bf16 autocast (CUDA or CPU)");
  bool_opt(app, "--fp16", c.fp16,
           "Run the model in float16 (same as --dtype fp16; CUDA only); training: fp16 autocast + loss scaling");
  opt(app, "--eval_every", c.eval_every,
      "Diagnosis LP/LoRA: evaluate on the test split every N epochs (0 = only at the end)");
  bool_opt(app, "--lora_head_only", c.lora_head_only,
           "img-lora-lp: train only the linear head, as the reference effectively does");
  bool_opt(app, "--resume", c.resume, "Continue from the last checkpoint in the run folder");
  add_reference_compat_option(app, c, "Diagnosis");
  // Last, after every implemented flag: the rest of run_train.py's HfArgumentParser flags
  // (TrainingArguments + the reference's dataclass), accepted without being used (reference_flags.cpp).
  add_reference_compat_flags(app, "train");
}

void add_config_flag(CLI::App& app, RunConfig& cfg) {
  opt(app, "--config", cfg.config_file, "YAML or JSON file of flag values (command-line flags override it)")
      ->check(CLI::ExistingFile);
}

std::vector<std::string> config_file_args(const CLI::App& app, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw UsageError("--config " + path + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    throw UsageError("--config " + path + " is not valid YAML/JSON: " + e.what());
  }
  std::vector<std::string> args;
  if (root.IsNull()) return args;
  MVB_USAGE_CHECK(root.IsMap(), "--config ", path, " must be a mapping of flag names to values");
  std::vector<std::string> valid;
  for (const CLI::Option* o : app.get_options())
    for (const auto& n : o->get_lnames())
      if (n != "config" && n != "help") valid.push_back(n);
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      std::string msg = "unknown key '" + key + "' in --config " + path;
      const std::string best = closest_match(key, valid);
      if (!best.empty()) msg += "; did you mean '" + best + "'?";
      throw UsageError(msg + " (keys are the flag names of `medvlmbench " + app.get_name() + "`)");
    }
    const YAML::Node& v = kv.second;
    if (v.IsNull()) continue;  // "key:" with no value means "keep the default"
    MVB_USAGE_CHECK(v.IsScalar(), "--config ", path, ": key '", key, "' must have a single value");
    // --key=value keeps values that start with '-' (negative numbers) attached to their flag.
    args.push_back("--" + key + "=" + v.as<std::string>());
  }
  return args;
}

std::vector<std::string> expand_config_args(const CLI::App& app, const std::vector<std::string>& args) {
  // args[0] is the program; the subcommand is the first argument that is not a flag.
  size_t sub_pos = 1;
  while (sub_pos < args.size() && starts_with(args[sub_pos], "-")) ++sub_pos;
  if (sub_pos >= args.size()) return args;
  const CLI::App* sub = nullptr;
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; }))
    if (s->get_name() == args[sub_pos]) sub = s;
  if (!sub) return args;
  std::string path;
  for (size_t i = sub_pos + 1; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size())
      path = args[i + 1];
    else if (starts_with(args[i], "--config="))
      path = args[i].substr(9);
  }
  if (path.empty()) return args;
  // Config values go right after the subcommand; later command-line values win (TakeLast).
  std::vector<std::string> out(args.begin(), args.begin() + static_cast<long>(sub_pos) + 1);
  for (auto& a : config_file_args(*sub, path)) out.push_back(std::move(a));
  out.insert(out.end(), args.begin() + static_cast<long>(sub_pos) + 1, args.end());
  return out;
}

}  // namespace mvb::cli
