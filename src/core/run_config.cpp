#include "medvlmbench/core/run_config.h"

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/url_redact.h"

namespace mvb {

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = {
      {"command", command},
      {"task", task},
      {"dataset", dataset},
      {"split", split},
      {"image_path", image_path},
      {"exp_path", exp_path},
      {"model", model},
      {"model_path", model_path},
      {"model_base", model_base},
      {"usage", usage},
      {"save_pred", save_pred},
      {"cache_dir", cache_dir},
      {"mdagent_mode", mdagent_mode},
      {"ucagent_retries", ucagent_retries},
      {"context_length", context_length},
      {"seed", seed},
      {"device", device},
      {"dtype", dtype},
      {"batch_size", batch_size},
      {"num_workers", num_workers},
      {"limit", limit},
      {"shard", shard},
      {"devices", devices},
      {"resume", resume},
      {"log_level", log_level},
      {"bootstrap", bootstrap},
      {"bertscore_model", bertscore_model},
      {"prompt_template", prompt_template},
      {"config", config_file},
      {"api_base", strip_url_credentials(api_base)},  // run.json: never credentials
      {"api_model", api_model},
      {"api_protocol", api_protocol},
      {"api_concurrency", api_concurrency},
      {"api_timeout", api_timeout},
      {"api_retries", api_retries},
      {"api_max_retry_after", api_max_retry_after},
      {"api_rpm", api_rpm},
      {"api_tpm", api_tpm},
      {"api_max_tokens", api_max_tokens},
      {"api_prices", api_prices},
      {"no_cache", no_cache},
      {"max_new_tokens", max_new_tokens},
      {"temperature", temperature},
      {"reference_compat", reference_compat},
      {"min_pixels", min_pixels},
      {"max_pixels", max_pixels},
      {"judge", judge},
      {"judge_api_base", strip_url_credentials(judge_api_base)},
      {"judge_api_model", judge_api_model},
  };
  if (command == "train") {
    j.update({{"output_dir", output_dir},
              {"num_train_epochs", num_train_epochs},
              {"learning_rate", learning_rate},
              {"weight_decay", weight_decay},
              {"warmup_ratio", warmup_ratio},
              {"lr_scheduler_type", lr_scheduler_type},
              {"optim", optim},
              {"per_device_train_batch_size", per_device_train_batch_size},
              {"gradient_accumulation_steps", gradient_accumulation_steps},
              {"peft", peft},
              {"tune_modules", tune_modules},
              {"lora_enable", lora_enable},
              {"lora_r", lora_r},
              {"lora_alpha", lora_alpha},
              {"lora_dropout", lora_dropout},
              {"lora_bias", lora_bias},
              {"mm_projector_lr", mm_projector_lr},
              {"vision_tower_lr", vision_tower_lr},
              {"max_steps", max_steps},
              {"save_steps", save_steps},
              {"save_total_limit", save_total_limit},
              {"gradient_checkpointing", gradient_checkpointing},
              {"merge_lora", merge_lora},
              {"version", version},
              {"model_max_length", model_max_length},
              {"max_grad_norm", max_grad_norm},
              {"bf16", bf16},
              {"fp16", fp16},
              {"eval_every", eval_every},
              {"lora_head_only", lora_head_only}});
  }
  return j;
}

nlohmann::json RunConfig::model_options() const {
  nlohmann::json o = {{"api_concurrency", api_concurrency},
                      {"api_timeout_s", api_timeout},
                      {"api_retries", api_retries},
                      {"api_max_retry_after_s", api_max_retry_after},
                      {"api_rpm", api_rpm},
                      {"api_tpm", api_tpm},
                      {"no_cache", no_cache},
                      {"api_cache_dir", cache_dir.empty() ? exp_path + "/.cache" : cache_dir}};
  if (!api_base.empty()) o["api_base"] = api_base;
  if (!api_model.empty()) o["api_model"] = api_model;
  if (!api_protocol.empty()) o["api_protocol"] = api_protocol;
  if (api_max_tokens > 0) o["api_max_tokens"] = api_max_tokens;
  if (!api_prices.empty()) o["api_prices"] = api_prices;
  if (max_new_tokens > 0) o["max_new_tokens"] = max_new_tokens;
  if (temperature >= 0) o["temperature"] = temperature;
  if (batch_size > 0) o["batch_size"] = batch_size;
  if (!reference_compat.empty()) o["reference_compat"] = reference_compat;
  if (min_pixels > 0) o["min_pixels"] = min_pixels;
  if (max_pixels > 0) o["max_pixels"] = max_pixels;
  // Backbones whose image features depend on the usage (BLIP-2: the vision class token for lp, the
  // Q-Former's ITC query embeddings for clip-zs) read it.
  if (!usage.empty()) o["usage"] = usage;
  return o;
}

std::string RunConfig::model_dtype() const {
  MVB_USAGE_CHECK(!(bf16 && fp16), "--bf16 and --fp16 both given; pick one (or --dtype)");
  const std::string flag = bf16 ? "bf16" : fp16 ? "fp16" : "";
  if (flag.empty()) return dtype;
  MVB_USAGE_CHECK(dtype == "auto" || dtype == flag, "--", flag, " contradicts --dtype ", dtype, "; give one of them");
  return flag;
}

}  // namespace mvb
