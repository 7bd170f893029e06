#include "reference_flags.h"

#include "medvlmbench/core/strings.h"

namespace mvb::cli {
namespace {

const char* const kGroup = "Reference compatibility (accepted, not used)";

// One note per group of flags. A name moves out of here when medvlmbench implements it (as an
// ordinary option in flags.cpp); tests/cli fail when a name here is also an implemented option.
struct Group {
  const char* note;
  std::vector<const char*> eval, train;
};

const std::vector<Group>& groups() {
  static const std::vector<Group> g = {
      {"one process runs on --device; to split an evaluation across GPUs start one process per GPU with "
       "--shard i/n; generative training runs data parallel when started by torchrun or srun with several "
       "processes (scripts/slurm/train_multinode.sbatch), set up from their variables, not from these DeepSpeed, "
       "FSDP and DDP settings",
       {"num_gpus"},
       {"deepspeed",
        "deepspeed_plugin",
        "local_rank",
        "ddp_backend",
        "ddp_broadcast_buffers",
        "ddp_bucket_cap_mb",
        "ddp_find_unused_parameters",
        "ddp_static_graph",
        "ddp_timeout",
        "fsdp",
        "fsdp_config",
        "fsdp_min_num_params",
        "fsdp_transformer_layer_cls_to_wrap",
        "accelerator_config",
        "parallelism_config",
        "seq_parallel_size",
        "tpu_num_cores",
        "tpu_metrics_debug",
        "mp_parameters",
        "average_tokens_across_devices",
        "no_average_tokens_across_devices",
        "log_level_replica",
        "log_on_each_node",
        "no_log_on_each_node",
        "save_on_each_node",
        "ray_scope",
        "per_gpu_train_batch_size"}},
      {"progress, losses and metrics go to the run's log file (eval.log / train.log) and run.json; nothing is "
       "sent to Weights & Biases, TensorBoard or trackio",
       {"print_freq", "hash_id", "wandb_name", "if_wandb"},
       {"report_to",
        "run_name",
        "logging_dir",
        "logging_steps",
        "logging_strategy",
        "logging_first_step",
        "logging_nan_inf_filter",
        "no_logging_nan_inf_filter",
        "disable_tqdm",
        "project",
        "trackio_bucket_id",
        "trackio_space_id",
        "trackio_static_space_id",
        "if_wandb",
        "wandb_name",
        "eval_print_freq",
        "include_num_input_tokens_seen",
        "include_tokens_per_second",
        "skip_memory_metrics",
        "no_skip_memory_metrics",
        "debug"}},
      {"a no-op in the reference too: no judge scores are produced; add --judge MODEL to score open answers with an "
       "LLM judge",
       {"gpt_eval"},
       {}},
      {"nothing is uploaded; the outputs stay in the run folder",
       {},
       {"push_to_hub", "push_to_hub_model_id", "push_to_hub_organization", "push_to_hub_token", "hub_always_push",
        "hub_model_id", "hub_private_repo", "hub_revision", "hub_strategy", "hub_token"}},
      {"the run folder gets the final weights once, in the reference's file names; an interrupted run continues "
       "with --resume",
       {},
       {"save_strategy", "save_only_model", "save_safetensors", "no_save_safetensors",
        "overwrite_output_dir", "load_best_model_at_end", "metric_for_best_model", "greater_is_better",
        "resume_from_checkpoint", "restore_callback_states_from_checkpoint", "ignore_data_skip"}},
      {"diagnosis training evaluates on the test split every --eval_every epochs (the reference's callback: 10) and "
       "at the end, in batches of --batch_size; predictions of any run come from `medvlmbench eval --save_pred`",
       {},
       {"do_train",
        "do_eval",
        "do_predict",
        "eval_strategy",
        "eval_steps",
        "eval_delay",
        "eval_on_start",
        "eval_accumulation_steps",
        "eval_do_concat_batches",
        "no_eval_do_concat_batches",
        "eval_use_gather_object",
        "batch_eval_metrics",
        "prediction_loss_only",
        "include_for_metrics",
        "include_inputs_for_metrics",
        "label_names",
        "past_index",
        "per_device_eval_batch_size",
        "per_gpu_eval_batch_size",
        "use_legacy_prediction_loop",
        "jit_mode_eval",
        "bf16_full_eval",
        "fp16_full_eval",
        "save_pred"}},
      {"images are decoded by --num_workers threads and batches drawn in --seed order (no length grouping)",
       {},
       {"dataloader_num_workers", "dataloader_pin_memory", "no_dataloader_pin_memory", "dataloader_persistent_workers",
        "dataloader_prefetch_factor", "dataloader_drop_last", "dataloader_in_order", "no_dataloader_in_order",
        "dataloader_multiprocessing_context", "group_by_length", "group_by_modality_length", "length_column_name",
        "remove_unused_columns", "train_sampling_strategy", "data_seed", "auto_find_batch_size"}},
      {"LibTorch runs the model eagerly in --dtype (or --bf16 / --fp16) on --device (--device cpu for CPU); no "
       "compilation, kernel or checkpointing switches",
       {},
       {"gradient_checkpointing_kwargs",
        "activation_checkpointing",
        "activation_checkpointing_kwargs",
        "enable_jit_checkpoint",
        "torch_compile",
        "torch_compile_backend",
        "torch_compile_mode",
        "torchdynamo",
        "tf32",
        "use_liger_kernel",
        "liger_kernel_config",
        "use_ipex",
        "half_precision_backend",
        "fp16_backend",
        "fp16_opt_level",
        "torch_empty_cache_steps",
        "use_cache",
        "full_determinism",
        "mpt_attn_impl",
        "use_mps_device",
        "use_cpu",
        "no_cuda"}},
      {"weights are loaded in --dtype (fp32, bf16 or fp16); no 4/8-bit quantisation",
       {},
       {"bits", "double_quant", "no_double_quant", "quant_type"}},
      {"training uses AdamW (betas 0.9/0.999, eps 1e-8, --weight_decay) for --num_train_epochs with --warmup_ratio "
       "and --lr_scheduler_type; this setting is not applied",
       {},
       {"adafactor", "adam_beta1", "adam_beta2", "adam_epsilon", "optim_args", "optim_target_modules",
        "lr_scheduler_kwargs", "label_smoothing_factor", "neftune_noise_alpha", "warmup_steps"}},
      {"the architecture comes from the checkpoint's config.json (vision layer, projector, image tokens, aspect "
       "handling); what is trained is set by --peft / --tune_modules",
       {},
       {"mm_projector_type",
        "mm_vision_select_layer",
        "mm_vision_select_feature",
        "mm_use_im_start_end",
        "mm_use_im_patch_token",
        "mm_patch_merge_type",
        "image_aspect_ratio",
        "pretrain_mm_mlp_adapter",
        "tune_mm_mlp_adapter",
        "freeze_mm_mlp_adapter",
        "freeze_backbone",
        "lora_weight_path",
        "longvila_sampler",
        "num_time_tokens",
        "time_token_format",
        "soft_ce_std",
        "max_num_images",
        "debug_e2e"}},
  };
  return g;
}

}  // namespace

const std::vector<ReferenceCompatFlag>& reference_compat_flags() {
  static const std::vector<ReferenceCompatFlag> flags = [] {
    std::vector<ReferenceCompatFlag> out;
    for (const Group& g : groups()) {
      for (const char* n : g.eval) out.push_back({n, "eval", g.note});
      for (const char* n : g.train) out.push_back({n, "train", g.note});
    }
    return out;
  }();
  return flags;
}

void add_reference_compat_flags(CLI::App& app, const std::string& command) {
  for (const ReferenceCompatFlag& f : reference_compat_flags()) {
    if (f.command != command) continue;
    if (app.get_option_no_throw("--" + f.name)) continue;
    // No variable: the values are read back from the option's results for the log line.
    app.add_option("--" + f.name)
        ->description("Accepted for compatibility: " + f.note)
        // Zero or more values: CLI11 2.1 only collects the optional ones with a type size of 1 and
        // allow_extra_args (else "--deepspeed ./z.json" leaves the path unparsed).
        ->type_size(1)
        ->expected(0, CLI::detail::expected_max_vector_size)
        ->allow_extra_args()
        ->group(kGroup);
  }
}

std::vector<std::string> reference_compat_notes(const CLI::App& app) {
  std::vector<std::string> notes;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group() != kGroup || o->count() == 0) continue;
    const std::string name = o->get_lnames().front();
    for (const ReferenceCompatFlag& f : reference_compat_flags()) {
      if (f.name != name || f.command != app.get_name()) continue;
      std::vector<std::string> v;  // a bare "--flag" leaves an empty result
      for (const std::string& x : o->results())
        if (!x.empty()) v.push_back(x);
      notes.push_back("--" + name + (v.empty() ? std::string() : " " + join(v, " ")) +
                      ": accepted for compatibility; " + f.note);
    }
  }
  return notes;
}

std::vector<std::string> underscore_flag_names(const std::vector<std::string>& args, const std::string& subcommand) {
  std::vector<std::string> out = args;
  bool in_sub = false;
  for (std::string& a : out) {
    if (!in_sub) {
      in_sub = a == subcommand;
      continue;
    }
    if (!starts_with(a, "--") || a.size() <= 2) continue;
    const size_t end = std::min(a.find('='), a.size());
    for (size_t i = 2; i < end; ++i)
      if (a[i] == '-') a[i] = '_';
  }
  return out;
}

}  // namespace mvb::cli
