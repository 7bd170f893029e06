#include "medvlmbench/models/gemma3/config.h"

#include <cmath>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/nn/hf_config.h"

namespace mvb::gemma3 {

int64_t Config::tokens_per_side() const {
  return static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(mm_tokens_per_image))));
}

Config Config::from_json(const nlohmann::json& j, const std::string& where) {
  MVB_CHECK(j.is_object(), where, " is not a JSON object");
  Config c;
  const std::string model_type = nn::hf::get_string(j, "model_type", "", where);
  MVB_CHECK(model_type == "gemma3", where, ": model_type \"", model_type,
            "\" is not a Gemma3 vision-language checkpoint (expected gemma3: Gemma3ForConditionalGeneration)");
  MVB_CHECK(j.contains("vision_config") && j["vision_config"].is_object(), where,
            " has no vision_config object; is this a Gemma3ForConditionalGeneration checkpoint folder?");
  const nlohmann::json& v = j["vision_config"];
  const std::string vtype = nn::hf::get_string(v, "model_type", "siglip_vision_model", where + " vision_config");
  MVB_CHECK(vtype == "siglip_vision_model", where, ": vision_config.model_type \"", vtype,
            "\" is not supported (Gemma3's tower is siglip_vision_model)");
  c.vision = SiglipVisionConfig::from_json(v, where + " vision_config");
  // Gemma3Config's vision_config default is SiglipVisionConfig(); the published checkpoints set so400m at 896.
  MVB_CHECK(j.contains("text_config") && j["text_config"].is_object(), where, " has no text_config object");
  c.text_config = j["text_config"];
  if (!c.text_config.contains("model_type")) c.text_config["model_type"] = "gemma3_text";
  const std::string ttype =
      c.text_config["model_type"].is_string() ? c.text_config["model_type"].get<std::string>() : std::string();
  MVB_CHECK(ttype == "gemma3_text", where, ": text_config.model_type \"", ttype,
            "\" is not supported (Gemma3's language model is gemma3_text)");
  // Gemma3Config keeps tie_word_embeddings at the top level too; the head is the embeddings when either says so
  // (both default to true).
  if (nn::hf::has(j, "tie_word_embeddings") && !nn::hf::has(c.text_config, "tie_word_embeddings"))
    c.text_config["tie_word_embeddings"] = j["tie_word_embeddings"];
  c.text = nn::decoder_options_from_config(c.text_config, where + " (text_config)");
  MVB_CHECK(c.text.tie_word_embeddings, where,
            ": tie_word_embeddings = false is not supported for Gemma3 (its checkpoints have no lm_head)");

  c.mm_tokens_per_image = nn::hf::get_int(j, "mm_tokens_per_image", 256, where);
  c.boi_token_id = nn::hf::get_int(j, "boi_token_index", nn::hf::get_int(j, "boi_token_id", 255999, where), where);
  c.eoi_token_id = nn::hf::get_int(j, "eoi_token_index", nn::hf::get_int(j, "eoi_token_id", 256000, where), where);
  c.image_token_id =
      nn::hf::get_int(j, "image_token_index", nn::hf::get_int(j, "image_token_id", 262144, where), where);
  const int64_t side = c.tokens_per_side();
  MVB_CHECK(c.mm_tokens_per_image > 0 && side * side == c.mm_tokens_per_image, where, ": mm_tokens_per_image ",
            c.mm_tokens_per_image, " must be a square number (the pooled tokens form a square grid)");
  MVB_CHECK(
      c.vision.patch_size > 0 && c.vision.image_size % c.vision.patch_size == 0 && c.patches_per_side() % side == 0,
      where, ": vision image_size / patch_size = ", c.patches_per_side(),
      " patches per side cannot be average-pooled to ", side, " tokens per side");
  MVB_CHECK(c.image_token_id >= 0 && c.image_token_id < c.text.vocab_size, where, ": image_token_index ",
            c.image_token_id, " is outside the text vocabulary (", c.text.vocab_size, ")");
  return c;
}

Config Config::load(const std::string& model_dir) {
  const std::string file = io::join_path(model_dir, "config.json");
  MVB_CHECK(io::exists(file), "missing ", file, "; --model_path must be a Gemma3 / MedGemma checkpoint folder");
  return from_json(io::read_json(file), file);
}

}  // namespace mvb::gemma3
