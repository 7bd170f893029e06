#include "medvlmbench/io/files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/run_layout.h"
#include "support/test_support.h"

namespace mvb::io {
namespace {

TEST(Files, AtomicWriteReplacesWholeFileAndLeavesNoTemp) {
  test::TempDir dir;
  const std::string path = dir / "m.json";
  write_json_atomic(path, {{"a", 1}});
  write_json_atomic(path, {{"b", 2}});
  EXPECT_EQ(read_json(path), (nlohmann::json{{"b", 2}}));
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(Files, ReadErrorsNameTheFile) {
  test::TempDir dir;
  try {
    read_file(dir / "nope.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.txt"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
  test::write_text(dir / "bad.json", "{\"a\": ");
  try {
    read_json(dir / "bad.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed JSON in " + (dir / "bad.json")), std::string::npos) << e.what();
  }
}

TEST(Files, CreateDirectoriesRefusesAFile) {
  test::TempDir dir;
  test::write_text(dir / "f", "x");
  EXPECT_THROW(create_directories(dir / "f"), Error);
  create_directories(dir / "a/b/c");
  EXPECT_TRUE(is_directory(dir / "a/b/c"));
}

TEST(Files, PathHelpers) {
  EXPECT_EQ(join_path("a", "b"), "a/b");
  EXPECT_EQ(join_path("a/", "b"), "a/b");
  EXPECT_EQ(join_path("a", "/abs"), "/abs");
  EXPECT_EQ(basename("/x/y/llava-v1.5-7b/"), "llava-v1.5-7b");
  EXPECT_EQ(basename("original_pretrained"), "original_pretrained");
  EXPECT_TRUE(is_within("/data/root", "/data/root/imgs/a.png"));
  EXPECT_FALSE(is_within("/data/root", "/data/root/../other/a.png"));
  EXPECT_FALSE(is_within("/data/root", "/data/rootx/a.png"));
}

TEST(RunLayout, MatchesTheReference) {
  RunConfig c;
  c.exp_path = "./log";
  c.task = "vqa";
  c.dataset = "SLAKE";
  c.model = "LLaVA-1.5";
  c.seed = 3;
  c.model_path = "./pretrained_models/llava-v1.5-7b";
  EXPECT_EQ(eval_run_dir(c), "./log/vqa/SLAKE/LLaVA-1.5/eval_seed3/llava-v1.5-7b");
  c.usage = "mdagent";
  EXPECT_EQ(eval_run_dir(c), "./log/vqa/SLAKE/LLaVA-1.5/eval_seed3/llava-v1.5-7b/mdagent");
  // Shards write below the whole run's folder (merge fills it); 0/1 is the whole run.
  c.shard = "2/4";
  EXPECT_EQ(eval_run_dir(c), "./log/vqa/SLAKE/LLaVA-1.5/eval_seed3/llava-v1.5-7b/mdagent/shard-2-of-4");
  c.shard = "0/1";
  EXPECT_EQ(eval_run_dir(c), "./log/vqa/SLAKE/LLaVA-1.5/eval_seed3/llava-v1.5-7b/mdagent");
  c.shard = "";
  c.output_dir = "./out";
  c.peft = "lora";
  c.tune_modules = "L";
  EXPECT_EQ(train_run_dir(c), "./out/vqa/SLAKE/LLaVA-1.5/train_lora_L_seed3_llava");
  c.task = "diagnosis";
  c.usage = "lp";
  EXPECT_EQ(train_run_dir(c), "./out/diagnosis/SLAKE/LLaVA-1.5/train_lp_seed3");
}

}  // namespace
}  // namespace mvb::io
