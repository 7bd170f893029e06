// Issue 18, defect 9: `check --model_path` said OK for checkpoints that eval then refused (missing
// config, zero patch size, zero heads, a vocab that is not JSON, zero crop size): it read only the
// config and the weight headers. It now builds the model as eval does, so the two agree. And a value
// of the wrong type (a string where a number belongs) is an error naming the file and the key, not
// only nlohmann's type_error.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace mvb {
namespace {

namespace fs = std::filesystem;

test::CommandResult mvb_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args);
}

void edit_json(const std::string& path, const std::function<void(nlohmann::json&)>& f) {
  auto j = nlohmann::json::parse(test::read_text(path));
  f(j);
  test::write_text(path, j.dump(2));
}

test::CommandResult eval_on(const std::string& ckpt, const std::string& exp) {
  return mvb_cmd({"eval",
                  "--task",
                  "diagnosis",
                  "--usage",
                  "clip-zs",
                  "--dataset",
                  "ChestXray",
                  "--split",
                  "test",
                  "--model",
                  "CLIP",
                  "--model_path",
                  ckpt,
                  "--image_path",
                  test::fixture_path("demo/ChestXray"),
                  "--exp_path",
                  exp,
                  "--bootstrap",
                  "0",
                  "--log_level",
                  "error"});
}

struct Break {
  std::string name;
  std::function<void(const std::string& dir)> apply;
  std::vector<std::string> check_says;  // fragments of check's report
};

TEST(CheckBuildsTheModel, RefusesWhatEvalRefuses) {
  const std::vector<Break> breaks = {
      {"missing config", [](const std::string& d) { fs::remove(d + "/config.json"); }, {"config.json"}},
      {"zero patch size",
       [](const std::string& d) {
         edit_json(d + "/config.json", [](auto& j) { j["vision_config"]["patch_size"] = 0; });
       },
       {"patch_size"}},
      {"zero heads",
       [](const std::string& d) {
         edit_json(d + "/config.json", [](auto& j) { j["vision_config"]["num_attention_heads"] = 0; });
       },
       {"0 heads"}},
      {"vocab not JSON",
       [](const std::string& d) {
         fs::remove(d + "/tokenizer.json");  // so the BPE files are what is read
         test::write_text(d + "/vocab.json", "this is not JSON");
       },
       {"vocab.json"}},
      {"zero crop size",
       [](const std::string& d) {
         edit_json(d + "/preprocessor_config.json", [](auto& j) { j["crop_size"] = {{"height", 0}, {"width", 0}}; });
       },
       {"crop_size"}},
      {"string patch size",
       [](const std::string& d) {
         edit_json(d + "/config.json", [](auto& j) { j["vision_config"]["patch_size"] = "8"; });
       },
       {"config.json", "patch_size"}},
      {"string rescale factor",
       [](const std::string& d) {
         edit_json(d + "/preprocessor_config.json", [](auto& j) { j["rescale_factor"] = "1/255"; });
       },
       {"preprocessor_config.json", "rescale_factor"}},
  };
  test::TempDir tmp;
  {
    // The intact checkpoint: check builds it and says OK, without --model too (config.json names it).
    auto ok = mvb_cmd({"check", "--model_path", test::fixture_path("models/tiny-clip"), "--format", "json"});
    ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_EQ(nlohmann::json::parse(ok.out)["model"]["built_as"], "CLIP");
  }
  int n = 0;
  for (const auto& b : breaks) {
    SCOPED_TRACE(b.name);
    const std::string ckpt = tmp / ("ckpt" + std::to_string(n++));
    fs::copy(test::fixture_path("models/tiny-clip"), ckpt, fs::copy_options::recursive);
    b.apply(ckpt);
    auto ev = eval_on(ckpt, tmp / "out");
    ASSERT_NE(ev.exit_code, 0) << "eval accepts this break, so check may too";
    for (const auto& f : b.check_says) EXPECT_NE(ev.err.find(f), std::string::npos) << "eval: " << ev.err;
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--model", "CLIP"}, std::vector<std::string>{}}) {
      // Without --model (check reads config.json's model_type) for a few; all of them with --model.
      if (extra.empty() && b.name != "string patch size" && b.name != "zero crop size") continue;
      auto args = std::vector<std::string>{"check", "--model_path", ckpt};
      args.insert(args.end(), extra.begin(), extra.end());
      auto ck = mvb_cmd(args);
      EXPECT_EQ(ck.exit_code, 1) << "check said OK where eval refused: " << ck.out << ck.err;
      for (const auto& f : b.check_says) EXPECT_NE(ck.out.find(f), std::string::npos) << "check: " << ck.out << ck.err;
    }
  }
  // Without config.json and without --model, check cannot know the model; it says so instead of OK.
  const std::string bare = tmp / "bare";
  fs::copy(test::fixture_path("models/tiny-clip"), bare, fs::copy_options::recursive);
  fs::remove(bare + "/config.json");
  auto ck = mvb_cmd({"check", "--model_path", bare});
  EXPECT_EQ(ck.exit_code, 1) << ck.out;
  EXPECT_NE(ck.out.find("--model"), std::string::npos) << ck.out;
}

}  // namespace
}  // namespace mvb
