// Issue 18, defect 4: resource flags have bounds, and config numbers are never truncated.
// --num_workers 100000 once created 32,000 threads and hung; --bootstrap 1e9 grew past 4.9 GB;
// --batch_size -1 silently ran with 64; --bootstrap -1 silently turned CIs off; a fractional size in a
// checkpoint's config was truncated. Each is now a one-line error naming the flag (or file and key)
// and the limit, before any output is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace mvb {
namespace {

test::CommandResult mvb_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), test::exe_path());
  return test::run_command(args);
}

std::vector<std::string> demo_args(const std::string& exp) {
  return {"eval",
          "--task",
          "diagnosis",
          "--dataset",
          "ChestXray",
          "--split",
          "test",
          "--model",
          "tiny-fixture",
          "--model_path",
          "original_pretrained",
          "--image_path",
          test::fixture_path("demo/ChestXray"),
          "--exp_path",
          exp,
          "--log_level",
          "warn"};
}

void expect_usage_error(const test::CommandResult& r, const std::vector<std::string>& fragments) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in " << r.err;
}

TEST(ResourceLimits, AbsurdFlagValuesAreUsageErrorsNamingTheLimit) {
  test::TempDir exp;
  struct Case {
    std::vector<std::string> flags;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {{"--num_workers", "100000"}, {"--num_workers", "1024"}},
      {{"--num_workers=-1"}, {"--num_workers", "1024"}},
      {{"--bootstrap", "1000000000"}, {"--bootstrap", "1000000"}},
      {{"--bootstrap=-1"}, {"--bootstrap", "1000000"}},
      {{"--batch_size=-1"}, {"--batch_size", "4096"}},
      {{"--batch_size", "100000"}, {"--batch_size", "4096"}},
  };
  for (const auto& c : cases) {
    auto args = demo_args(exp.path());
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    SCOPED_TRACE(c.flags[0]);
    expect_usage_error(mvb_cmd(args), c.fragments);
  }
  // Refused before anything is written.
  EXPECT_FALSE(std::filesystem::exists(exp / "diagnosis")) << "a refused run created output";
  // The limits themselves are accepted.
  auto args = demo_args(exp.path());
  args.insert(args.end(), {"--num_workers", "1", "--bootstrap", "0", "--batch_size", "4"});
  auto ok = mvb_cmd(args);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

// open_clip_config.json's embed_dim 12.5 was read as 12 and the run went on; now it names file and key.
TEST(ResourceLimits, FractionalConfigIntegerIsAnErrorNamingFileAndKey) {
  test::TempDir tmp;
  const std::string ckpt = tmp / "ckpt";
  std::filesystem::copy(test::fixture_path("models/tiny-biomedclip"), ckpt, std::filesystem::copy_options::recursive);
  const std::string cfg_path = ckpt + "/open_clip_config.json";
  auto cfg = nlohmann::json::parse(test::read_text(cfg_path));
  cfg["model_cfg"]["embed_dim"] = 12.5;
  test::write_text(cfg_path, cfg.dump(2));
  auto r = mvb_cmd({"eval",       "--task",       "diagnosis",   "--dataset",    "ChestXray",
                    "--split",    "test",         "--usage",     "clip-zs",      "--model",
                    "BioMedCLIP", "--model_path", ckpt,          "--image_path", test::fixture_path("demo/ChestXray"),
                    "--exp_path", tmp / "exp",    "--log_level", "warn",         "--device",
                    "cpu"});
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(cfg_path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("embed_dim must be an integer (got 12.5)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mvb
