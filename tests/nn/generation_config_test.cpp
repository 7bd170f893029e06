// GenerationConfig: generation_config.json with transformers' defaults and key semantics.
#include <gtest/gtest.h>

#include "medvlmbench/nn/generation.h"
#include "support/test_support.h"

namespace mvb::nn {
namespace {

TEST(GenerationConfig, DefaultsAreTransformers) {
  // GenerationConfig._get_default_generation_params() for the keys we read.
  const auto c = GenerationConfig::from_json(nlohmann::json::object(), "x");
  EXPECT_FALSE(c.do_sample);
  EXPECT_EQ(c.temperature, 1.0);
  EXPECT_EQ(c.top_k, 50);
  EXPECT_EQ(c.top_p, 1.0);
  EXPECT_EQ(c.repetition_penalty, 1.0);
  EXPECT_TRUE(c.eos_token_ids.empty());
  EXPECT_EQ(c.pad_token_id, -1);
  // null means unset, as in transformers.
  const auto n = GenerationConfig::from_json({{"top_k", nullptr}, {"temperature", nullptr}}, "x");
  EXPECT_EQ(n.top_k, 50);
  EXPECT_EQ(n.temperature, 1.0);
}

TEST(GenerationConfig, QwenInstructConfig) {
  // Qwen2-VL-7B-Instruct's generation_config.json.
  const auto j = nlohmann::json::parse(R"({"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": true,
    "eos_token_id": [151645, 151643], "repetition_penalty": 1.05, "temperature": 0.01, "top_p": 0.001,
    "top_k": 1, "transformers_version": "4.37.0"})");
  const auto c = GenerationConfig::from_json(j, "generation_config.json");
  EXPECT_TRUE(c.do_sample);
  EXPECT_EQ(c.top_k, 1);
  EXPECT_DOUBLE_EQ(c.top_p, 0.001);
  EXPECT_DOUBLE_EQ(c.temperature, 0.01);
  EXPECT_DOUBLE_EQ(c.repetition_penalty, 1.05);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  EXPECT_EQ(c.pad_token_id, 151643);
  EXPECT_EQ(c.bos_token_id, 151643);
  // An int eos and a single stop string.
  const auto d = GenerationConfig::from_json({{"eos_token_id", 2}, {"stop_strings", "###"}}, "x");
  EXPECT_EQ(d.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(d.stop_strings, (std::vector<std::string>{"###"}));
  // What run.json records reads back to the same config.
  const auto r = GenerationConfig::from_json(c.to_json(), "run.json");
  EXPECT_EQ(r.to_json(), c.to_json());
}

TEST(GenerationConfig, BadValuesNameTheFileAndKey) {
  try {
    GenerationConfig::from_json({{"top_k", "one"}}, "/m/generation_config.json");
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/m/generation_config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("top_k"), std::string::npos) << msg;
  }
  EXPECT_THROW(GenerationConfig::from_json({{"eos_token_id", {1, "2"}}}, "x"), std::exception);
  EXPECT_THROW(GenerationConfig::from_json({{"top_p", 1.5}}, "x"), std::exception);
  EXPECT_THROW(GenerationConfig::from_json({{"repetition_penalty", 0}}, "x"), std::exception);
  EXPECT_THROW(GenerationConfig::from_json({{"do_sample", 1}}, "x"), std::exception);
}

TEST(GenerationConfig, LoadFallsBackToConfigJson) {
  test::TempDir dir;
  // No files at all: the defaults.
  EXPECT_TRUE(GenerationConfig::load(dir.path()).eos_token_ids.empty());
  // No generation_config.json: from config.json (from_model_config), the text_config filling what
  // the top level leaves unset.
  test::write_text(dir / "config.json",
                   R"({"model_type": "llava", "pad_token_id": 32001,
                       "text_config": {"eos_token_id": 2, "bos_token_id": 1, "pad_token_id": 0}})");
  auto c = GenerationConfig::load(dir.path());
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.pad_token_id, 32001);
  EXPECT_FALSE(c.do_sample);
  // generation_config.json present: it alone decides.
  test::write_text(dir / "generation_config.json", R"({"eos_token_id": [7, 8], "do_sample": true})");
  c = GenerationConfig::load(dir.path());
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{7, 8}));
  EXPECT_TRUE(c.do_sample);
  EXPECT_EQ(c.bos_token_id, -1);
  test::write_text(dir / "generation_config.json", R"({"top_k": 1.5})");
  try {
    GenerationConfig::load(dir.path());
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "generation_config.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mvb::nn
