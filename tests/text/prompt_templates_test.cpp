// Prompt templates: exact strings hand-checked against the reference's sources, Jinja renderings
// of the checkpoints' chat templates (python3-jinja2, configured as transformers configures it),
// and tokenization of the rendered prompts with the real tokenizers.
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

TEST(PromptTemplates, LlavaV1MatchesVicunaV1Conversation) {
  // llava.py: conv_templates["vicuna_v1"], "<image>\n" + qs, SeparatorStyle.TWO.
  const auto p = render_prompt(PromptFamily::kLlavaV1, "  <image>" + kQ + " ");
  EXPECT_EQ(p.text,
            "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
            "detailed, and polite answers to the user's questions. USER: <image>\n" +
                kQ + " ASSISTANT:");
  EXPECT_TRUE(p.add_special_tokens);
  PromptOptions o;
  o.llava_im_start_end = true;
  EXPECT_NE(render_prompt(PromptFamily::kLlavaV1, kQ, o).text.find("USER: <im_start><image><im_end>\n" + kQ),
            std::string::npos);
}

TEST(PromptTemplates, LlavaMedMatchesMistralInstruct) {
  // llava_med.py: conv_templates["mistral_instruct"] (LLAMA_2 style, empty system, sep "").
  EXPECT_EQ(render_prompt(PromptFamily::kLlavaMedMistral, kQ).text, "[INST] <image>\n" + kQ + " [/INST]");
}

TEST(PromptTemplates, Blip2AndXrayGptStrings) {
  EXPECT_EQ(render_prompt(PromptFamily::kBlip2, kQ).text, "Question: " + kQ + " Answer:");
  const auto x = render_prompt(PromptFamily::kXrayGPT, kQ);
  EXPECT_EQ(x.text, "###Patient: <Img><ImageHere></Img> " + kQ + "###Doctor:");
  EXPECT_FALSE(x.add_special_tokens);
  EXPECT_EQ(text::extract_answer(PromptFamily::kXrayGPT, " Doctor: The lungs are clear. ###Patient: more"),
            "The lungs are clear.");
}

TEST(PromptTemplates, FamiliesOfReferenceModelNames) {
  EXPECT_EQ(text::prompt_family_for_model("LLaVA-1.5"), PromptFamily::kLlavaV1);
  EXPECT_EQ(text::prompt_family_for_model("LLaVA-Med"), PromptFamily::kLlavaMedMistral);
  EXPECT_EQ(text::prompt_family_for_model("Qwen25-VL"), PromptFamily::kQwen2VL);
  EXPECT_EQ(text::prompt_family_for_model("Lingshu"), PromptFamily::kQwen2VL);
  EXPECT_EQ(text::prompt_family_for_model("MedGemma"), PromptFamily::kGemma3);
  EXPECT_EQ(text::prompt_family_for_model("InternVL3"), PromptFamily::kInternVL);
  EXPECT_EQ(text::prompt_family_for_model("BLIP2-2.7b"), PromptFamily::kBlip2);
  EXPECT_EQ(text::prompt_family_for_model("XrayGPT"), PromptFamily::kXrayGPT);
  EXPECT_FALSE(text::prompt_family_for_model("o3").has_value());
}

// Renders a chat template with jinja2 as transformers does, then applies `expand` (the processor's
// placeholder expansion, given as Python code on variable `out`).
std::string jinja_render(const std::string& tmpl, const json& messages, const std::string& expand) {
  TempDir dir;
  write_text(dir / "in.json", json{{"template", tmpl}, {"messages", messages}}.dump());
  const auto r = run_python(
      "import json, sys\n"
      "from jinja2.sandbox import ImmutableSandboxedEnvironment\n"
      "from jinja2.ext import loopcontrols\n"
      "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
      "def raise_exception(m):\n    raise ValueError(m)\n"
      "env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])\n"
      "env.globals['raise_exception'] = raise_exception\n"
      "out = env.from_string(d['template']).render(messages=d['messages'], add_generation_prompt=True,\n"
      "    bos_token='<bos>', eos_token='<eos>')\n" +
          expand + "\nsys.stdout.write(json.dumps(out))\n",
      {dir / "in.json"});
  return json::parse(r.out).get<std::string>();
}

TEST(PromptTemplates, Gemma3AndMedGemmaMatchShippedChatTemplate) {
  const json cfg = json::parse(read_text(lenml_models("tokenizer-gemma3") + "/tokenizer_config.json"));
  const std::string tmpl = cfg.at("chat_template").get<std::string>();
  // Gemma3Processor: <start_of_image> -> "\n\n<start_of_image>" + 256 x <image_soft_token> + "<end_of_image>\n\n".
  const std::string expand =
      "out = out.replace('<start_of_image>', '\\n\\n<start_of_image>' + '<image_soft_token>' * 256 + "
      "'<end_of_image>\\n\\n')";
  const std::string q = "  " + kQ + "\n";
  // gemma3.py: user content [text, image], no system message.
  const json gemma = {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", q}}, {{"type", "image"}}}}}};
  EXPECT_EQ(render_prompt(PromptFamily::kGemma3, q).text, jinja_render(tmpl, gemma, expand));
  // medgemma.py: plus the system message.
  const json medgemma = {
      {{"role", "system"},
       {"content", {{{"type", "text"}, {"text", "You are an expert on understanding medical images."}}}}},
      {{"role", "user"}, {"content", {{{"type", "text"}, {"text", q}}, {{"type", "image"}}}}}};
  PromptOptions o;
  o.model_name = "MedGemma";
  const auto p = render_prompt(PromptFamily::kGemma3, q, o);
  EXPECT_EQ(p.text, jinja_render(tmpl, medgemma, expand));
  EXPECT_FALSE(p.add_special_tokens);
  EXPECT_EQ(p.image_token_count, 256);

  // Tokenized with the Gemma3 tokenizer: one <bos>, 256 image tokens, and it decodes back.
  const auto tok = text::load_tokenizer(lenml_models("tokenizer-gemma3"));
  const auto ids = tok->encode(p.text, p.add_special_tokens);
  const int32_t soft = tok->token_to_id("<image_soft_token>").value_or(-1);
  ASSERT_GE(soft, 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), soft), 256);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok->special_tokens().bos.id), 1);
  EXPECT_EQ(ids.front(), tok->special_tokens().bos.id);
  EXPECT_EQ(tok->decode(ids, false), p.text);
}

TEST(PromptTemplates, QwenChatMlMatchesQwen2VlChatTemplate) {
  const json t = json::parse(read_text(source_dir() + "/tests/text/data/chat_templates.json"));
  // qwen2_vl.py: content [image, text]; the processor expands one pad per merged patch.
  const int n = text::qwen2vl_image_token_count(1, 16, 16);
  EXPECT_EQ(n, 64);
  const json msgs = {
      {{"role", "user"}, {"content", {{{"type", "image"}, {"image", "x"}}, {{"type", "text"}, {"text", kQ}}}}}};
  const std::string expand = "out = out.replace('<|image_pad|>', '<|image_pad|>' * " + std::to_string(n) + ")";
  PromptOptions o;
  o.image_tokens = n;
  const auto p = render_prompt(PromptFamily::kQwen2VL, kQ, o);
  EXPECT_EQ(p.text, jinja_render(t.at("qwen2_vl").get<std::string>(), msgs, expand));

  // Qwen's vocabulary (the Qwen3 tokenizer shares the ChatML and vision special tokens).
  const auto tok = text::load_tokenizer(lenml_models("tokenizer-qwen3"));
  const auto ids = tok->encode(p.text, p.add_special_tokens);
  const int32_t pad = tok->token_to_id("<|image_pad|>").value_or(-1);
  ASSERT_GE(pad, 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), pad), n);
  EXPECT_EQ(ids.front(), tok->token_to_id("<|im_start|>").value_or(-2));
  EXPECT_EQ(tok->decode(ids, false), p.text);
}

TEST(PromptTemplates, InternVlMatchesHfChatTemplateAndProcessorExpansion) {
  const json t = json::parse(read_text(source_dir() + "/tests/text/data/chat_templates.json"));
  // internvl.py: content [text, image]; InternVLProcessor: <IMG_CONTEXT> -> <img> + 256*tiles + </img>.
  const json msgs = {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", kQ}}, {{"type", "image"}}}}}};
  const std::string expand = "out = out.replace('<IMG_CONTEXT>', '<img>' + '<IMG_CONTEXT>' * 512 + '</img>')";
  PromptOptions o;
  o.internvl_tiles = 2;
  const auto p = render_prompt(PromptFamily::kInternVL, kQ, o);
  EXPECT_EQ(p.image_token_count, 512);
  EXPECT_EQ(p.text, jinja_render(t.at("internvl_hf").get<std::string>(), msgs, expand));
}

TEST(PromptTemplates, LlavaImageTokenSplicingWithMistralTokenizer) {
  // LLaVA-Med's LLM tokenizer (Mistral vocabulary): tokenizer_image_token() semantics.
  const auto tok = text::load_tokenizer(lenml_models("tokenizer-llama2"));
  const auto p = render_prompt(PromptFamily::kLlavaMedMistral, kQ);
  const auto ids = text::llava_tokenize_with_image(*tok, p.text);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);  // <s>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), -200), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 1);  // the second chunk's BOS is dropped
  // The pieces around the image are the chunks' own tokenizations.
  const auto before = tok->encode("[INST] ", true);
  const auto after = tok->encode("\n" + kQ + " [/INST]", true);
  std::vector<int32_t> want(before.begin(), before.end());
  want.push_back(-200);
  want.insert(want.end(), after.begin() + 1, after.end());
  EXPECT_EQ(ids, want);
}

}  // namespace
}  // namespace mvb::test
