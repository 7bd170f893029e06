// Everything a run is configured with: the reference's flag names (run_eval.py / run_train.py) plus
// ours. Filled by the CLI from --config FILE and then the command line (which wins).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mvb {

struct RunConfig {
  // "eval" or "train"
  std::string command = "eval";

  // Reference flags (run_eval.py)
  std::string task = "vqa";
  std::string dataset = "SLAKE";
  std::string split = "test";
  std::string image_path;
  std::string exp_path = "./output";
  std::string model;
  std::string model_path;
  std::string model_base;
  std::string usage;  // "" = off-the-shelf
  bool save_pred = false;
  std::string cache_dir;  // "" = <exp_path>/.cache
  std::string mdagent_mode = "adaptive";
  // Agents (issue 16): retries of a UCAgent step whose output fails the format check (the reference's
  // loop makes none: 0 reproduces it).
  int ucagent_retries = 1;
  int context_length = 77;
  int seed = 0;
  int eval_print_freq = 100;

  // Ours
  std::string device = "auto";
  // Model weights' precision: auto (fp32 on CPU, bf16 on CUDA), fp32, bf16, fp16. The reference's
  // --bf16 / --fp16 ask for bf16 / fp16 when --dtype is left at auto.
  std::string dtype = "auto";
  int batch_size = 0;  // 0 = the usage's default
  int num_workers = 2;
  int64_t limit = -1;      // -1 = all samples
  std::string shard = "";  // "i/n"
  // Where `shard` came from when not from --shard (e.g. "SLURM_ARRAY_TASK_ID=2 of SLURM_ARRAY_TASK_COUNT=4");
  // recorded in run.json's "shard" block, not a flag.
  std::string shard_source;
  // --devices: one worker process per entry (cuda:N, N, or cpu), each on an interleaved shard, then a
  // merge (cli/devices.h). Empty = one process on --device.
  std::string devices;
  bool resume = false;
  std::string log_level = "info";
  std::string format = "text";  // end-of-run summary on stdout: text or json
  std::string config_file;
  int bootstrap = 1000;  // bootstrap resamples for confidence intervals (0 disables)
  // BERTScore model folder; "" = models/Bio_ClinicalBERT when present, "none" = off (tasks/bertscore.h).
  std::string bertscore_model;
  // Contrastive diagnosis (clip-zs, clip-img-lora): class prompt template(s); "{}" is the class text,
  // "|" separates templates whose normalised text embeddings are averaged (prompt ensembling).
  std::string prompt_template = "a photo of {}";

  // API backends (o3, gemini-2.5-pro, openai, gemini, openai-compatible) and the LLM judge.
  // Keys are never flags: they come from environment variables only.
  std::string api_base;      // "" = the provider's default; required for openai-compatible
  std::string api_model;     // provider model id; "" = the registered default
  std::string api_protocol;  // chat | responses | gemini; "" = the backend's default
  int api_concurrency = 8;   // requests in flight
  double api_timeout = 300;  // seconds per request
  int api_retries = 6;       // retries after the first attempt (429, 5xx, network errors)
  double api_rpm = 0;        // requests per minute (0 = no client-side limit)
  double api_tpm = 0;        // tokens per minute (0 = no client-side limit)
  int api_max_tokens = 0;    // 0 = not sent (the reference sends none)
  std::string api_prices;    // price table; "" = configs/api_prices.json
  bool no_cache = false;     // bypass the API response cache
  std::string judge;         // LLM judge "NAME[:MODEL_ID]" for open answers; "" = none
  std::string judge_api_base;
  std::string judge_api_model;
  // A longer Retry-After from a server is clamped to this many seconds (--api_max_retry_after).
  double api_max_retry_after = 600;

  // Generative models (local VLMs and API backends alike). Unset = the model's own default: for local
  // models the reference's max_new_tokens and its generation_config.json.
  int max_new_tokens = 0;   // 0 = unset
  double temperature = -1;  // < 0 = unset; 0 = greedy
  // Local VLMs: the reference's input quirks to reproduce (GENERATIVE.md section 3), e.g.
  // llava_double_preprocess; "all" = every quirk the model knows. Empty = the intended behaviour.
  std::vector<std::string> reference_compat;
  // Qwen2-VL family: qwen_vl_utils' per-image pixel limits (0 = its defaults, 4*28*28 and 16384*28*28).
  int64_t min_pixels = 0;
  int64_t max_pixels = 0;

  // ModelSpec.options: the api_* values above plus the resolved cache folder (API-backed models),
  // and max_new_tokens / temperature / batch_size / reference_compat when given (local VLMs read
  // them with LocalVlmOptions::from_spec).
  nlohmann::json model_options() const;

  // run_train.py
  std::string output_dir = "./output";
  double num_train_epochs = 0;  // 0 = not given
  double learning_rate = 3e-5;
  double weight_decay = 0.0;
  double warmup_ratio = 0.0;
  std::string lr_scheduler_type = "linear";
  std::string optim = "adamw_torch";
  int per_device_train_batch_size = 8;
  int gradient_accumulation_steps = 1;
  std::string peft;
  std::string tune_modules = "VML";
  bool lora_enable = false;
  int lora_r = 128;
  int lora_alpha = 256;
  // < 0 = the family's default: the reference's 0.05, LLaMA-Factory's 0 (Qwen2-VL / Qwen2.5-VL).
  double lora_dropout = -1;
  std::string lora_bias = "none";
  double mm_projector_lr = 0;  // 0 = not given
  double vision_tower_lr = 0;  // 0 = not given
  int64_t max_steps = -1;      // > 0 overrides --num_train_epochs (HF TrainingArguments)
  int save_steps = 500;        // checkpoint every N optimizer steps (HF's default); 0 = never
  int save_total_limit = 2;    // the reference's default; 0 = keep all
  bool gradient_checkpointing = false;
  bool merge_lora = false;  // LoRA training: also write <run>/merged/, the full model with the adapter merged
  std::string version = "v1";  // LLaVA's conversation template (--version)
  int model_max_length = 2048;
  double max_grad_norm = 1.0;
  bool bf16 = false;
  bool fp16 = false;
  // Diagnosis LP / LoRA training: evaluate on the test split every N epochs (the reference: 10), and
  // img-lora-lp's reference behaviour (the vision tower runs under no_grad, so only the head trains).
  int eval_every = 10;
  bool lora_head_only = false;

  // The reference's flags given on the command line that medvlmbench accepts without using, one line
  // each saying what happens instead (cli/reference_flags.h); the run logs them and run.json lists them.
  std::vector<std::string> reference_compat_notes;

  nlohmann::json to_json() const;
  // The dtype the model is built in: --dtype, else --bf16 / --fp16, else "auto". Both --bf16 and
  // --fp16, or either beside a different --dtype, is a usage error.
  std::string model_dtype() const;
};

}  // namespace mvb
