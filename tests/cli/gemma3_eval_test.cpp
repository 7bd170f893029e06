// `medvlmbench eval --task vqa` and `--task caption` end to end with the tiny Gemma3 / MedGemma checkpoints
// (tests/fixtures/models/gemma3, medgemma) on the SLAKE and MIMIC-CXR fixture datasets: the registry names, the
// local generative path of the runner with --batch_size (left padding), predictions rows with the Gemma chat
// template (MedGemma's system turn) and token counts, and run.json's description of what ran.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/support/eval_run.h"

namespace mvb {
namespace {

using nlohmann::json;

struct Case {
  std::string task, dataset, model, checkpoint, batch;
};

TEST(Gemma3Eval, VqaAndCaptionRunEndToEnd) {
  for (const Case& c :
       {Case{"vqa", "SLAKE", "Gemma3", "gemma3", "3"}, Case{"caption", "MIMIC_CXR", "Gemma3", "gemma3", "2"},
        Case{"vqa", "SLAKE", "MedGemma", "medgemma", "2"}}) {
    SCOPED_TRACE(c.model + " " + c.task);
    test::TempDir exp;
    const test::EvalRun run = test::run_eval({c.task,
                                              c.dataset,
                                              c.model,
                                              test::fixture_path("models/" + c.checkpoint),
                                              exp.path(),
                                              {"--batch_size", c.batch, "--max_new_tokens", "24"}});
    const auto& rows = run.rows;
    ASSERT_FALSE(rows.empty());
    const std::string head = c.model == "MedGemma"
                                 ? "<bos><start_of_turn>user\nYou are an expert on understanding medical images.\n\n"
                                   "<start_of_image>"
                                 : "<bos><start_of_turn>user\n<start_of_image>";
    for (const auto& row : rows) {
      EXPECT_EQ(row.at("prompt").get<std::string>().rfind(head, 0), 0u) << row.dump();
      EXPECT_EQ(row.value("error", ""), "") << row.dump();
      EXPECT_GT(row.at("prompt_tokens").get<int64_t>(), 0);
      EXPECT_LE(row.at("completion_tokens").get<int64_t>(), 24);
    }
    const json& manifest = run.manifest;
    EXPECT_EQ(manifest.at("model").at("generation").at("max_new_tokens"), 24);
    EXPECT_EQ(manifest.at("model").at("generation").at("do_sample"), false);
    EXPECT_EQ(manifest.at("model").at("architecture"), "Gemma3ForConditionalGeneration");
    EXPECT_EQ(manifest.at("model").at("model"), c.model);
  }
}

}  // namespace
}  // namespace mvb
