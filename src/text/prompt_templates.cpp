// Templates transcribed from the reference (ubc-tea/MedVLMBench model/*.py) and the chat templates of the Hugging Face
// checkpoints those models load (tokenizer_config.json / chat_template.json); see the header.
#include "medvlmbench/text/prompt_templates.h"

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb::text {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  out.reserve(s.size() * std::max(n, 0));
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

constexpr const char* kMedGemmaSystem = "You are an expert on understanding medical images.";

}  // namespace

std::string to_string(PromptFamily f) {
  switch (f) {
    case PromptFamily::kGemma3:
      return "gemma3";
    case PromptFamily::kInternVL:
      return "internvl";
    case PromptFamily::kBlip2:
      return "blip2";
    case PromptFamily::kXrayGPT:
      return "xraygpt";
  }
  return "unknown";
}

std::optional<PromptFamily> prompt_family_for_model(const std::string& name) {
  const std::string n = to_lower(name);
  if (n == "gemma3" || n == "medgemma") return PromptFamily::kGemma3;
  if (n == "internvl3" || n == "internvl") return PromptFamily::kInternVL;
  if (n == "blip2-2.7b" || n == "blip2") return PromptFamily::kBlip2;
  if (n == "xraygpt") return PromptFamily::kXrayGPT;
  return std::nullopt;
}

RenderedPrompt render_prompt(PromptFamily family, const std::string& question, const PromptOptions& o) {
  RenderedPrompt p;
  const bool med = to_lower(o.model_name) == "medgemma";
  switch (family) {
    case PromptFamily::kGemma3: {
      // gemma3.py / medgemma.py: content [text, image]; the chat template trims text items and puts
      // the system text + "\n\n" at the start of the first user turn; Gemma3Processor expands
      // <start_of_image> to "\n\n<start_of_image>" + 256 x <image_soft_token> + "<end_of_image>\n\n".
      const std::string system = o.system_prompt.value_or(med ? kMedGemmaSystem : "");
      const int n = o.image_tokens < 0 ? 256 : o.image_tokens;
      p.text = "<bos><start_of_turn>user\n";
      if (!system.empty()) p.text += system + "\n\n";  // not trimmed by the template
      p.text += trim(question);
      if (o.with_image) p.text += "\n\n<start_of_image>" + repeat("<image_soft_token>", n) + "<end_of_image>\n\n";
      p.text += "<end_of_turn>\n<start_of_turn>model\n";
      p.add_special_tokens = false;  // the template already holds <bos>
      p.image_token = o.with_image ? "<image_soft_token>" : "";
      p.image_token_count = o.with_image ? n : 0;
      p.stop = {"<end_of_turn>", "<eos>"};
      break;
    }
    case PromptFamily::kInternVL: {
      // internvl.py: content [text, image]; the InternVL-hf chat template writes "<IMG_CONTEXT>\n"
      // for an image; InternVLProcessor expands it to <img> + 256 per tile x <IMG_CONTEXT> + </img>.
      const int n = o.image_tokens < 0 ? 256 * std::max(o.internvl_tiles, 1) : o.image_tokens;
      p.text = "";
      if (o.system_prompt && !o.system_prompt->empty())
        p.text += "<|im_start|>system\n" + *o.system_prompt + "<|im_end|>\n";
      p.text += "<|im_start|>user\n" + question;
      if (o.with_image) p.text += "<img>" + repeat("<IMG_CONTEXT>", n) + "</img>\n";
      p.text += "<|im_end|>\n<|im_start|>assistant\n";
      p.image_token = o.with_image ? "<IMG_CONTEXT>" : "";
      p.image_token_count = o.with_image ? n : 0;
      p.stop = {"<|im_end|>"};
      break;
    }
    case PromptFamily::kBlip2: {
      const int n = o.image_tokens < 0 ? 0 : o.image_tokens;
      p.text = repeat("<image>", o.with_image ? n : 0) + "Question: " + question + " Answer:";
      p.image_token = n > 0 && o.with_image ? "<image>" : "";
      p.image_token_count = o.with_image ? n : 0;
      p.stop = {"</s>"};
      break;
    }
    case PromptFamily::kXrayGPT: {
      // xraygpt.py: BOS is prepended as an id, the text is split at <ImageHere> and each side is
      // tokenized without special tokens; the 32 Q-Former embeddings go in between.
      p.text = o.with_image ? "###Patient: <Img><ImageHere></Img> " + question + "###Doctor:"
                            : "###Patient: " + question + "###Doctor:";
      p.add_special_tokens = false;
      p.image_token = o.with_image ? "<ImageHere>" : "";
      p.image_token_count = o.with_image ? 1 : 0;
      p.stop = {"###"};
      break;
    }
  }
  return p;
}

std::string extract_answer(PromptFamily family, const std::string& generated) {
  if (family == PromptFamily::kXrayGPT) {
    std::string s = generated.substr(0, generated.find("###"));
    const size_t d = s.rfind("Doctor:");
    if (d != std::string::npos) s = s.substr(d + 7);
    return trim(s);
  }
  return trim(generated);
}

}  // namespace mvb::text
