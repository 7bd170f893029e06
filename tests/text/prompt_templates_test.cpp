// Prompt templates: exact strings hand-checked against the reference's sources, and the checkpoints'
// chat templates rendered by transformers' tokenizer.apply_chat_template (4.53.1, the reference's pin)
// with the processors' placeholder expansion, tokenized by the real tokenizers on both sides.
#include "medvlmbench/text/prompt_templates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tokenizer_oracle_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;
using text::PromptFamily;
using text::PromptOptions;
using text::render_prompt;

const std::string kQ = "What modality is used to take this image?";

TEST(PromptTemplates, Blip2AndXrayGptStrings) {
  EXPECT_EQ(render_prompt(PromptFamily::kBlip2, kQ).text, "Question: " + kQ + " Answer:");
  const auto x = render_prompt(PromptFamily::kXrayGPT, kQ);
  EXPECT_EQ(x.text, "###Patient: <Img><ImageHere></Img> " + kQ + "###Doctor:");
  EXPECT_FALSE(x.add_special_tokens);
  EXPECT_EQ(text::extract_answer(PromptFamily::kXrayGPT, " Doctor: The lungs are clear. ###Patient: more"),
            "The lungs are clear.");
}

TEST(PromptTemplates, FamiliesOfReferenceModelNames) {
  // LLaVA-1.5 / LLaVA-Med and the Qwen family build their prompts with their models (src/models/llava,
  // src/models/qwen2_vl; tests/models/llava_test.cpp, qwen2_vl_test.cpp).
  EXPECT_FALSE(text::prompt_family_for_model("LLaVA-1.5").has_value());
  EXPECT_FALSE(text::prompt_family_for_model("Qwen25-VL").has_value());
  EXPECT_FALSE(text::prompt_family_for_model("Lingshu").has_value());
  EXPECT_EQ(text::prompt_family_for_model("MedGemma"), PromptFamily::kGemma3);
  EXPECT_EQ(text::prompt_family_for_model("InternVL3"), PromptFamily::kInternVL);
  EXPECT_EQ(text::prompt_family_for_model("BLIP2-2.7b"), PromptFamily::kBlip2);
  EXPECT_EQ(text::prompt_family_for_model("XrayGPT"), PromptFamily::kXrayGPT);
  EXPECT_FALSE(text::prompt_family_for_model("o3").has_value());
}

// Renders chat templates with transformers' own tokenizer.apply_chat_template (4.53.1, the
// reference's pin) on the real tokenizer of `folder`, then the processor's placeholder expansion
// (`expand`: string replacements) and the processor's tokenizer call. One oracle call per test.
struct Chat {
  json messages;
  std::string tmpl;  // "" = the tokenizer's own chat_template
  json expand;
};

json render_with_transformers(const std::string& folder, const std::vector<Chat>& chats) {
  json list = json::array();
  for (const auto& c : chats) {
    json j = {{"messages", c.messages}, {"add_generation_prompt", true}, {"expand", c.expand}};
    if (!c.tmpl.empty()) j["chat_template"] = c.tmpl;
    list.push_back(j);
  }
  const json out = reference_tokenizer({{"auto", folder}, {"use_fast", true}}, {}, {{"chat", list}});
  return out.is_null() ? out : out.at("chat");
}

// Our rendering and tokenization against the oracle's: the expanded text, and the ids the processor
// feeds the model (same add_special_tokens decision).
void expect_same_prompt(const text::Tokenizer& tok, const text::RenderedPrompt& p, const json& want,
                        const std::string& label) {
  EXPECT_EQ(p.text, want.at("expanded").get<std::string>()) << label;
  EXPECT_EQ(p.add_special_tokens, want.at("processor_add_special_tokens").get<bool>()) << label;
  EXPECT_EQ(json(tok.encode(p.text, p.add_special_tokens)), want.at("processor_ids")) << label;
}

TEST(PromptTemplates, Gemma3AndMedGemmaMatchShippedChatTemplate) {
  const std::string dir = lenml_models("tokenizer-gemma3");
  // Gemma3Processor: <start_of_image> -> "\n\n<start_of_image>" + 256 x <image_soft_token> + "<end_of_image>\n\n".
  std::string run;
  for (int i = 0; i < 256; ++i) run += "<image_soft_token>";
  const json expand = {{"<start_of_image>", "\n\n<start_of_image>" + run + "<end_of_image>\n\n"}};
  const std::string q = "  " + kQ + "\n";
  // gemma3.py: user content [text, image], no system message.
  const json gemma = {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", q}}, {{"type", "image"}}}}}};
  // medgemma.py: plus the system message.
  const json medgemma = {
      {{"role", "system"},
       {"content", {{{"type", "text"}, {"text", "You are an expert on understanding medical images."}}}}},
      {{"role", "user"}, {"content", {{{"type", "text"}, {"text", q}}, {{"type", "image"}}}}}};
  const json want = render_with_transformers(dir, {{gemma, "", expand}, {medgemma, "", expand}});
  ASSERT_FALSE(want.is_null());
  const auto tok = text::load_tokenizer(dir);
  const auto g = render_prompt(PromptFamily::kGemma3, q);
  expect_same_prompt(*tok, g, want[0], "Gemma3");
  PromptOptions o;
  o.model_name = "MedGemma";
  const auto p = render_prompt(PromptFamily::kGemma3, q, o);
  expect_same_prompt(*tok, p, want[1], "MedGemma");
  EXPECT_FALSE(p.add_special_tokens);
  EXPECT_EQ(p.image_token_count, 256);

  // One <bos>, 256 image tokens, and it decodes back.
  const auto ids = tok->encode(p.text, p.add_special_tokens);
  const int32_t soft = tok->token_to_id("<image_soft_token>").value_or(-1);
  ASSERT_GE(soft, 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), soft), 256);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok->special_tokens().bos.id), 1);
  EXPECT_EQ(ids.front(), tok->special_tokens().bos.id);
  EXPECT_EQ(tok->decode(ids, false), p.text);
}

// InternVL3-hf on Qwen's vocabulary (the Qwen3 tokenizer shares the ChatML special tokens); the
// template is the published one (tests/text/data/chat_templates.json says where it comes from).
// (Qwen2-VL's ChatML moved to its model: tests/models/qwen2_vl_test.cpp.)
TEST(PromptTemplates, InternVlMatchesHfChatTemplateAndProcessorExpansion) {
  const json t = json::parse(read_text(source_dir() + "/tests/text/data/chat_templates.json"));
  // internvl.py: content [text, image]; InternVLProcessor: <IMG_CONTEXT> -> <img> + 256 * tiles + </img>.
  std::string ctx;
  for (int i = 0; i < 512; ++i) ctx += "<IMG_CONTEXT>";
  const json internvl = {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", kQ}}, {{"type", "image"}}}}}};
  const std::string dir = lenml_models("tokenizer-qwen3");
  const json want = render_with_transformers(
      dir, {{internvl, t.at("internvl_hf").get<std::string>(), {{"<IMG_CONTEXT>", "<img>" + ctx + "</img>"}}}});
  ASSERT_FALSE(want.is_null());
  const auto tok = text::load_tokenizer(dir);
  PromptOptions io;
  io.internvl_tiles = 2;
  const auto ip = render_prompt(PromptFamily::kInternVL, kQ, io);
  EXPECT_EQ(ip.image_token_count, 512);
  expect_same_prompt(*tok, ip, want[0], "InternVL3-hf");
}

}  // namespace
}  // namespace mvb::test
