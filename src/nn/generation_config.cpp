// GenerationConfig (generation_config.json) and the InputChunk constructors.
//
// Semantics follow transformers' GenerationConfig: a key that is absent or null keeps the global
// default (GenerationConfig._get_default_generation_params: do_sample false, temperature 1.0, top_k 50,
// top_p 1.0, repetition_penalty 1.0); eos_token_id is an int or a list; without a
// generation_config.json, transformers builds the config from config.json (from_model_config: its
// top-level keys, then the text_config's for what is still unset), and so does load().
#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/nn/generation.h"

namespace mvb::nn {

namespace {

const char* kFix = "; fix the value or remove the key to use transformers' default";

// j[key] when present and not null.
const nlohmann::json* find(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t read_int(const nlohmann::json& v, const std::string& where, const char* key) {
  MVB_CHECK(v.is_number_integer(), where, ": \"", key, "\" must be an integer (got ", v.dump(), ")", kFix);
  return v.get<int64_t>();
}

double read_number(const nlohmann::json& v, const std::string& where, const char* key) {
  MVB_CHECK(v.is_number(), where, ": \"", key, "\" must be a number (got ", v.dump(), ")", kFix);
  return v.get<double>();
}

// Fills the fields `j` sets; `only_unset` keeps fields that already differ from the defaults
// (from_model_config's rule for the text_config of a composite config).
void read_into(GenerationConfig& c, const nlohmann::json& j, const std::string& where, bool only_unset) {
  MVB_CHECK(j.is_object(), where, ": expected a JSON object (got ", j.type_name(), ")");
  const GenerationConfig d;
  if (auto* v = find(j, "max_new_tokens"); v && (!only_unset || c.max_new_tokens == d.max_new_tokens)) {
    c.max_new_tokens = read_int(*v, where, "max_new_tokens");
    MVB_CHECK(c.max_new_tokens >= 0, where, ": \"max_new_tokens\" must be >= 0 (got ", c.max_new_tokens, ")", kFix);
  }
  if (auto* v = find(j, "do_sample"); v && (!only_unset || c.do_sample == d.do_sample)) {
    MVB_CHECK(v->is_boolean(), where, ": \"do_sample\" must be true or false (got ", v->dump(), ")", kFix);
    c.do_sample = v->get<bool>();
  }
  if (auto* v = find(j, "temperature"); v && (!only_unset || c.temperature == d.temperature)) {
    c.temperature = read_number(*v, where, "temperature");
    MVB_CHECK(c.temperature >= 0, where, ": \"temperature\" must be >= 0 (got ", c.temperature, ")", kFix);
  }
  if (auto* v = find(j, "top_k"); v && (!only_unset || c.top_k == d.top_k)) {
    c.top_k = read_int(*v, where, "top_k");
    MVB_CHECK(c.top_k >= 0, where, ": \"top_k\" must be >= 0 (got ", c.top_k, ")", kFix);
  }
  if (auto* v = find(j, "top_p"); v && (!only_unset || c.top_p == d.top_p)) {
    c.top_p = read_number(*v, where, "top_p");
    MVB_CHECK(c.top_p >= 0 && c.top_p <= 1, where, ": \"top_p\" must be in [0, 1] (got ", c.top_p, ")", kFix);
  }
  if (auto* v = find(j, "repetition_penalty"); v && (!only_unset || c.repetition_penalty == d.repetition_penalty)) {
    c.repetition_penalty = read_number(*v, where, "repetition_penalty");
    MVB_CHECK(c.repetition_penalty > 0, where, ": \"repetition_penalty\" must be > 0 (got ", c.repetition_penalty, ")",
              kFix);
  }
  if (auto* v = find(j, "eos_token_id"); v && (!only_unset || c.eos_token_ids.empty())) {
    c.eos_token_ids.clear();
    if (v->is_array()) {
      for (const auto& e : *v) c.eos_token_ids.push_back(read_int(e, where, "eos_token_id"));
    } else {
      c.eos_token_ids.push_back(read_int(*v, where, "eos_token_id"));
    }
  }
  if (auto* v = find(j, "pad_token_id"); v && (!only_unset || c.pad_token_id == d.pad_token_id))
    c.pad_token_id = read_int(*v, where, "pad_token_id");
  if (auto* v = find(j, "bos_token_id"); v && (!only_unset || c.bos_token_id == d.bos_token_id))
    c.bos_token_id = read_int(*v, where, "bos_token_id");
  if (auto* v = find(j, "stop_strings"); v && (!only_unset || c.stop_strings.empty())) {
    c.stop_strings.clear();
    auto add = [&](const nlohmann::json& s) {
      MVB_CHECK(s.is_string() && !s.get<std::string>().empty(), where,
                ": \"stop_strings\" must be a non-empty string or a list of them (got ", s.dump(), ")", kFix);
      c.stop_strings.push_back(s.get<std::string>());
    };
    if (v->is_array()) {
      for (const auto& s : *v) add(s);
    } else {
      add(*v);
    }
  }
}

}  // namespace

GenerationConfig GenerationConfig::from_json(const nlohmann::json& j, const std::string& where) {
  GenerationConfig c;
  read_into(c, j, where, /*only_unset=*/false);
  return c;
}

GenerationConfig GenerationConfig::load(const std::string& model_dir) {
  const std::string gen = io::join_path(model_dir, "generation_config.json");
  if (io::exists(gen)) return from_json(io::read_json(gen), gen);
  GenerationConfig c;
  const std::string cfg = io::join_path(model_dir, "config.json");
  if (!io::exists(cfg)) return c;
  const nlohmann::json j = io::read_json(cfg);
  read_into(c, j, cfg, /*only_unset=*/false);
  // from_model_config: a composite (VLM) config's decoder settings live in its text_config.
  for (const char* sub : {"decoder", "generator", "text_config"}) {
    if (auto* t = find(j, sub); t && t->is_object()) {
      read_into(c, *t, cfg + " (" + sub + ")", /*only_unset=*/true);
      break;
    }
  }
  return c;
}

nlohmann::json GenerationConfig::to_json() const {
  nlohmann::json j;
  j["max_new_tokens"] = max_new_tokens;
  j["do_sample"] = do_sample;
  j["temperature"] = temperature;
  j["top_k"] = top_k;
  j["top_p"] = top_p;
  j["repetition_penalty"] = repetition_penalty;
  j["eos_token_id"] = eos_token_ids;
  j["pad_token_id"] = pad_token_id >= 0 ? nlohmann::json(pad_token_id) : nlohmann::json(nullptr);
  j["bos_token_id"] = bos_token_id >= 0 ? nlohmann::json(bos_token_id) : nlohmann::json(nullptr);
  j["stop_strings"] = stop_strings;
  return j;
}

InputChunk InputChunk::text(std::vector<int64_t> ids) {
  InputChunk c;
  c.token_ids = std::move(ids);
  return c;
}

InputChunk InputChunk::image(at::Tensor embeds, std::vector<int64_t> placeholder_ids, at::Tensor relative_positions) {
  InputChunk c;
  c.embeds = std::move(embeds);
  c.placeholder_ids = std::move(placeholder_ids);
  c.relative_positions = std::move(relative_positions);
  return c;
}

}  // namespace mvb::nn
