// LLaVA-1.5 (original and llava-hf layouts) and LLaVA-Med v1.5 (Mistral) against transformers'
// LlavaForConditionalGeneration and the reference's processors, on the tiny checkpoints
// tests/oracles/models/make_llava_fixtures.py wrote (tests/fixtures/models/llava/*; fixture.json lists
// the cases, the oracle calls and the tolerances).
#include "medvlmbench/models/llava/llava.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "hf_parity_test_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/models/llava/llava_model.h"
#include "medvlmbench/nn/generation.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {
using nlohmann::json;

json fixture_json(const std::string& folder) {
  return json::parse(read_text(fixture_path("models/llava/" + folder + "/fixture.json")));
}

std::vector<int64_t> to_ids(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

const std::vector<uint64_t> kMedSeeds = {0, 7, 1234, (uint64_t{1} << 40) + 3};

std::unique_ptr<llava::LlavaModel> load(const std::string& folder, const std::string& name, json options = {}) {
  ModelSpec spec;
  spec.name = name;
  spec.model_path = fixture_path("models/llava/" + folder);
  spec.dtype = "fp32";
  if (!options.is_null()) spec.options = options;
  return std::make_unique<llava::LlavaModel>(
      spec, name == "LLaVA-Med" ? llava::LlavaModel::Variant::kLlavaMed : llava::LlavaModel::Variant::kLlava15);
}

GenerationRequest request_for(const json& c, uint64_t seed) {
  GenerationRequest r;
  r.prompt = c["question"].get<std::string>();
  r.images = {ImageRef::file(io::join_path(source_dir(), c["image"].get<std::string>()))};
  r.seed = seed;
  return r;
}

// Embeds the chunks the processor produced and runs the whole sequence: logits [L, vocab].
at::Tensor forward_logits(llava::LlavaModel& m, const nn::MultimodalInput& input) {
  c10::InferenceMode guard;
  auto& lm = m.net()->language_model;
  std::vector<at::Tensor> parts;
  for (const auto& chunk : input) {
    if (chunk.embeds.defined()) {
      parts.push_back(chunk.embeds.unsqueeze(0));
    } else {
      parts.push_back(lm->model->embed(at::tensor(chunk.token_ids, at::kLong).unsqueeze(0)));
    }
  }
  nn::DecoderInputs in;
  in.inputs_embeds = at::cat(parts, 1);
  in.position_ids = at::arange(in.inputs_embeds.size(1), at::kLong).unsqueeze(0);
  return lm->forward(in, nullptr, nn::LogitsFor::kAll)[0];
}

// ---------------------------------------------------------------- processor
TEST(Llava, PythonRandomMatchesCPython) {
  const json draws = json::parse(read_text(fixture_path("models/llava/med/python_random_draws.json")));
  ASSERT_FALSE(draws.empty());
  const std::vector<int64_t> lows = {0, 5, 0, 5, 3, 3, 3, 3};
  for (auto it = draws.begin(); it != draws.end(); ++it) {
    llava::PythonRandom rng(std::stoull(it.key()));
    std::vector<int64_t> got;
    for (int64_t c : lows) got.push_back(rng.randint(c, c + 1));
    EXPECT_EQ(json(got), it.value()) << "seed " << it.key();
  }
}

TEST(Llava, ConversationTemplatesAreTheReferences) {
  EXPECT_EQ(llava::render_prompt(llava::Conversation::kVicunaV1, " What is <image>shown? "),
            "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
            "detailed, and polite answers to the user's questions. USER: <image>\nWhat is shown? ASSISTANT:");
  EXPECT_EQ(llava::render_prompt(llava::Conversation::kMistralInstruct, "Is this normal?"),
            "[INST] <image>\nIs this normal? [/INST]");
  EXPECT_EQ(llava::render_prompt(llava::Conversation::kMistralInstruct, "Is this normal?", false),
            "[INST] Is this normal? [/INST]");
}

TEST(Llava, ExpandToSquareOffsetsAndClipping) {
  RgbImage img;
  img.width = 3;
  img.height = 2;
  img.pixels.assign(18, 9);
  // width - height = 1: c = 0; offset c + 1 pushes the last row off the canvas (PIL paste clips).
  llava::PythonRandom rng(0);
  const std::array<uint8_t, 3> bg{1, 2, 3};
  const RgbImage centred = llava::expand2square(img, bg);
  EXPECT_EQ(centred.width, 3);
  EXPECT_EQ(centred.pixels[0], 9);          // row 0 is the image
  EXPECT_EQ(centred.pixels[2 * 9 + 0], 1);  // row 2 is background
  int offsets_seen[2] = {0, 0};
  for (uint64_t s = 0; s < 16; ++s) {
    llava::PythonRandom r(s);
    const RgbImage o = llava::expand2square(img, bg, &r);
    ++offsets_seen[o.pixels[0] == 9 ? 0 : 1];
    if (o.pixels[0] != 9) EXPECT_EQ(o.pixels[2 * 9], 9) << "offset 1 keeps the first image row at row 1";
  }
  EXPECT_GT(offsets_seen[0], 0);
  EXPECT_GT(offsets_seen[1], 0);
}

void expect_processor_parity(const std::string& folder, const std::string& name) {
  const auto m = load(folder, name);
  const json fx = fixture_json(folder);
  const ExpectedOutputs ex = read_expected(fixture_path("models/llava/" + folder));
  const bool med = name == "LLaVA-Med";
  EXPECT_EQ(m->tokenizer().kind(), med ? "tokenizer.json" : "sentencepiece") << folder;
  double worst = 0;
  for (size_t c = 0; c < fx["cases"].size(); ++c) {
    const GenerationRequest r = request_for(fx["cases"][c], med ? kMedSeeds[c] : 0);
    const auto prepared = m->prepare({&r});
    ASSERT_EQ(prepared.size(), 1u);
    // Input ids: tokenizer_image_token on the reference's prompt, as transformers 4.53.1 tokenizes.
    const auto ids = llava::tokenize_with_image(m->tokenizer(), prepared[0].prompt_text);
    EXPECT_EQ(ids, to_ids(ex.input("input_ids." + std::to_string(c)))) << folder << " case " << c;
    // Pixels: expand2square (+ LLaVA-Med's seeded offset) and CLIP preprocessing.
    llava::PythonRandom rng(kMedSeeds[c]);
    const at::Tensor px = llava::process_image(decode_image(r.images[0]), m->config(), med ? &rng : nullptr);
    const double d = max_abs_diff(px, ex.input("pixel_values." + std::to_string(c)));
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-6) << folder << " case " << c;
    // The chunks: text, the image's patches, text.
    const auto& in = prepared[0].input;
    ASSERT_EQ(in.size(), 3u);
    EXPECT_TRUE(in[1].embeds.defined());
    EXPECT_EQ(in[1].embeds.size(0), 4);
  }
  std::printf("[measured] %s pixel values: max |ours - reference| = %g\n", folder.c_str(), worst);
}

TEST(Llava, OriginalLayoutProcessorMatchesReference) { expect_processor_parity("original", "LLaVA-1.5"); }
TEST(Llava, HfLayoutProcessorMatchesReference) { expect_processor_parity("hf", "LLaVA-1.5"); }
TEST(Llava, MedProcessorMatchesReference) { expect_processor_parity("med", "LLaVA-Med"); }

TEST(Llava, DoublePreprocessQuirkMatchesReference) {
  const auto m = load("original", "LLaVA-1.5");
  const json fx = fixture_json("original");
  const ExpectedOutputs ex = read_expected(fixture_path("models/llava/original"));
  const GenerationRequest r = request_for(fx["cases"][0], 0);
  const at::Tensor px = llava::process_image_twice(decode_image(r.images[0]), m->config());
  const double d = max_abs_diff(px, ex.input("compat_pixels.0"));
  std::printf("[measured] llava double preprocessing pixels: max |ours - reference| = %g\n", d);
  EXPECT_LE(d, 1e-6);
  EXPECT_GT(max_abs_diff(px, ex.input("pixel_values.0")), 0.1) << "the quirk must change the pixels";
  // describe() says which behaviour ran.
  const auto quirk = load("original", "LLaVA-1.5", {{"reference_compat", {"llava_double_preprocess"}}});
  EXPECT_NE(quirk->describe()["preprocessing"].get<std::string>().find("double"), std::string::npos);
  EXPECT_NE(m->describe()["preprocessing"].get<std::string>().find("single"), std::string::npos);
  EXPECT_THROW(load("original", "LLaVA-1.5", {{"reference_compat", {"llava_med_global_rng"}}}), Error)
      << "LLaVA-1.5 has no random padding offset";
  const auto med = load("med", "LLaVA-Med", {{"reference_compat", {"all"}}});
  EXPECT_NE(med->describe()["padding_offset"].get<std::string>().find("llava_med_global_rng"), std::string::npos);
}

// The real LLaMA-2 tokenizer.model (tests/fixtures/tokenizers/llama2-spm) under transformers 4.53.1's
// slow LlamaTokenizer, as LLaVA-1.5's builder loads it: tokenizer_image_token on the reference's
// prompts, including the "\n" after <image> that SentencePiece's dummy prefix turns into 29871, 13.
TEST(Llava, SplicingWithRealLlamaTokenizerMatchesReference) {
  MVB_REQUIRE_ORACLE_ENV();
  TempDir dir;
  {
    gzFile f = gzopen(fixture_path("tokenizers/llama2-spm/tokenizer.model.gz").c_str(), "rb");
    ASSERT_NE(f, nullptr);
    std::string data;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
    gzclose(f);
    write_text(dir / "tokenizer.model", data);
  }
  write_text(dir / "tokenizer_config.json", json({{"add_bos_token", true},
                                                  {"add_eos_token", false},
                                                  {"bos_token", "<s>"},
                                                  {"eos_token", "</s>"},
                                                  {"unk_token", "<unk>"},
                                                  {"legacy", false},
                                                  {"tokenizer_class", "LlamaTokenizer"}})
                                                .dump());
  std::vector<std::string> prompts;
  for (const std::string q : {"What modality is used to take this image?", "Is there a nodule in the left lung?\n",
                              "  Describe the <image> findings.", ""})
    prompts.push_back(llava::render_prompt(llava::Conversation::kVicunaV1, q));
  prompts.push_back(llava::render_prompt(llava::Conversation::kMistralInstruct, "Is this normal?"));
  prompts.push_back("before <image> after <image>");
  const json request = {{"runtime", "reference"},
                        {"jobs", {{{"load", {{"auto", dir.path()}, {"use_fast", false}}}, {"llava", prompts}}}}};
  write_text(dir / "request.json", request.dump());
  const auto r =
      run_oracle_script(OracleInterpreter::kOracleEnv, "text/hf_tokenizers_oracle.py", {dir / "request.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out)["jobs"][0];
  const auto tok = text::load_tokenizer(dir.path(), text::Preference::kSlow);
  ASSERT_EQ(tok->kind(), "sentencepiece");
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(json(llava::tokenize_with_image(*tok, prompts[i])), out["llava"][i]) << json(prompts[i]).dump();
  const auto ids = llava::tokenize_with_image(*tok, prompts[0]);
  const auto at = std::find(ids.begin(), ids.end(), -200);
  ASSERT_NE(at, ids.end());
  EXPECT_EQ(*(at + 1), 29871);
  EXPECT_EQ(*(at + 2), 13);
}

// ---------------------------------------------------------------- model
void expect_model_parity(const std::string& folder, const std::string& name) {
  const auto m = load(folder, name);
  const json fx = fixture_json(folder);
  const ExpectedOutputs ex = read_expected(fixture_path("models/llava/" + folder));
  const bool med = name == "LLaVA-Med";
  double worst = 0;
  for (size_t c = 0; c < fx["cases"].size(); ++c) {
    const std::string k = std::to_string(c);
    const GenerationRequest r = request_for(fx["cases"][c], med ? kMedSeeds[c] : 0);
    const auto prepared = m->prepare({&r});
    const at::Tensor logits = forward_logits(*m, prepared[0].input);
    const at::Tensor rows = ex.input("logit_rows." + k).to(at::kLong);
    const double d = max_abs_diff(logits.index_select(0, rows), ex.output("logits." + k));
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-4) << folder << " case " << c;
    // Greedy decoding through the shared engine: the same ids as transformers' generate().
    nn::GenerationConfig g = m->generation_config(r);
    EXPECT_EQ(g.max_new_tokens, 1024);
    g.max_new_tokens = 32;
    const auto out = nn::generate(m->backend(), {prepared[0].input}, g);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ids, to_ids(ex.output("greedy." + k))) << folder << " case " << c;
  }
  std::printf("[measured] %s logits: max |ours - transformers| = %g\n", folder.c_str(), worst);
}

TEST(Llava, OriginalLayoutMatchesTransformers) { expect_model_parity("original", "LLaVA-1.5"); }
TEST(Llava, HfLayoutMatchesTransformers) { expect_model_parity("hf", "LLaVA-1.5"); }
TEST(Llava, MedMistralMatchesTransformers) { expect_model_parity("med", "LLaVA-Med"); }

// The llava-hf spellings the fixture (transformers 5's save_pretrained) does not use: the published
// llava-hf/llava-1.5-7b-hf's vision_tower.vision_model.*, and transformers 4.52+'s in-memory names
// (model.language_model.*, model.vision_tower.*, model.multi_modal_projector.*, lm_head.*), in one file.
TEST(Llava, HfLayoutAcceptsEveryPublishedSpelling) {
  const std::string src = fixture_path("models/llava/hf");
  const ExpectedOutputs ex = read_expected(src);
  for (int variant = 0; variant < 2; ++variant) {
    TempDir dir;
    copy_non_weight_files(src, dir.path());
    std::remove((dir / "model.safetensors.index.json").c_str());
    const io::StateDict sd = io::StateDict::open(src);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& n : sd.names()) {
      std::string name = n;
      auto swap = [&](const std::string& from, const std::string& to) {
        if (name.rfind(from, 0) == 0) name = to + name.substr(from.size());
      };
      if (variant == 0) {
        swap("vision_tower.", "vision_tower.vision_model.");
      } else {
        swap("vision_tower.", "model.vision_tower.");
        swap("multi_modal_projector.", "model.multi_modal_projector.");
        swap("language_model.model.", "model.language_model.");
        swap("language_model.lm_head.", "lm_head.");
      }
      tensors.emplace_back(name, sd.get(n));
    }
    io::write_safetensors(dir / "model.safetensors", tensors);
    ModelSpec spec;
    spec.name = "LLaVA-1.5";
    spec.model_path = dir.path();
    spec.dtype = "fp32";
    llava::LlavaModel m(spec, llava::LlavaModel::Variant::kLlava15);
    const GenerationRequest r = request_for(fixture_json("hf")["cases"][0], 0);
    const at::Tensor logits = forward_logits(m, m.prepare({&r})[0].input);
    EXPECT_LE(max_abs_diff(logits.index_select(0, ex.input("logit_rows.0").to(at::kLong)), ex.output("logits.0")), 1e-4)
        << "variant " << variant;
  }
}

TEST(Llava, MissingVisionTowerNamesThePlacesSearched) {
  TempDir dir;
  const std::string model = dir / "llava-v1.5-7b";
  io::create_directories(model);
  json cfg = json::parse(read_text(fixture_path("models/llava/original/config.json")));
  cfg["mm_vision_tower"] = "openai/clip-vit-large-patch14-336";
  write_text(model + "/config.json", cfg.dump());
  try {
    llava::load_config(model);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("openai/clip-vit-large-patch14-336"), std::string::npos) << msg;
    EXPECT_NE(msg.find("models/clip-vit-large-patch14-336"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing is downloaded"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace mvb::test
