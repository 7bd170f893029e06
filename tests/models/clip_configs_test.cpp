// The typed CLIP / SigLIP configs: transformers' defaults for absent or null keys, the old *_dict
// sections, and a wrong type reported with the file and the key.
#include "medvlmbench/models/clip_configs.h"

#include <gtest/gtest.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string folder_with_config(const TempDir& tmp, const std::string& json) {
  write_text(io::join_path(tmp.path(), "config.json"), json);
  return tmp.path();
}

TEST(ClipConfigs, AbsentAndNullKeysTakeTransformersDefaults) {
  TempDir tmp;
  const ClipConfig c = ClipConfig::read(
      folder_with_config(tmp, R"({"projection_dim": 64, "text_config_dict": {"hidden_size": 32, "hidden_act": null},
               "vision_config": {"patch_size": 16, "layer_norm_eps": 1e-6}})"));
  EXPECT_EQ(c.projection_dim, 64);
  EXPECT_EQ(c.text_config.hidden_size, 32);  // read from the old text_config_dict
  EXPECT_EQ(c.text_config.hidden_act, "quick_gelu");
  EXPECT_EQ(c.text_config.eos_token_id, 49407);
  EXPECT_EQ(c.vision_config.patch_size, 16);
  EXPECT_EQ(c.vision_config.hidden_size, 768);
  EXPECT_DOUBLE_EQ(c.vision_config.layer_norm_eps, 1e-6);
  const auto v = c.vision_config.tower();
  EXPECT_TRUE(v.class_token && v.pre_norm && !v.patch_bias && !v.attention_pool);

  const SiglipConfig s = SiglipConfig::read(folder_with_config(tmp, R"({"text_config": {"hidden_size": 48}})"));
  EXPECT_EQ(s.text_config.projection_size, 48);  // None in transformers: the text width
  EXPECT_EQ(s.text_config.tower().head_dim, 48);
  EXPECT_EQ(s.text_config.max_position_embeddings, 64);
  EXPECT_EQ(s.vision_config.patch_size, 16);
  EXPECT_TRUE(s.vision_config.tower().attention_pool);
}

TEST(ClipConfigs, WrongTypeNamesTheFileAndTheKey) {
  TempDir tmp;
  const std::string dir = folder_with_config(tmp, R"({"vision_config": {"hidden_size": "768"}})");
  try {
    ClipConfig::read(dir);
    FAIL() << "a string hidden_size was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(io::join_path(dir, "config.json") + " vision_config"), std::string::npos) << m;
    EXPECT_NE(m.find("hidden_size must be an integer"), std::string::npos) << m;
  }
  folder_with_config(tmp, R"({"text_config": [1], "vision_config": {}})");
  EXPECT_THROW(SiglipConfig::read(dir), Error);
  folder_with_config(tmp, R"({"vision_config": {"vision_use_head": "yes"}})");
  EXPECT_THROW(SiglipConfig::read(dir), Error);
}

}  // namespace
}  // namespace mvb::test
