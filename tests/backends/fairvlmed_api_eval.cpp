#include "fairvlmed_api_eval.h"

#include <filesystem>

namespace mvb::test {

FairVlmedApiEval::FairVlmedApiEval(const TempDir& dir, const FakeApiServer& server)
    : data(dir / "FairVLMed10k"),
      run_dir(dir / "out/vqa/Harvard-FairVLMed10k/openai-compatible/eval_seed0/original_pretrained") {
  std::filesystem::copy(fixture_path("datasets/FairVLMed10k"), data, std::filesystem::copy_options::recursive);
  argv = {exe_path(),
          "eval",
          "--task",
          "vqa",
          "--dataset",
          "Harvard-FairVLMed10k",
          "--split",
          "test",
          "--image_path",
          data,
          "--model",
          "openai-compatible",
          "--api_base",
          server.openai_base(),
          "--api_model",
          "fake-vlm",
          "--model_path",
          "original_pretrained",
          "--exp_path",
          dir / "out",
          "--no_cache",
          "--bootstrap",
          "0",
          "--bertscore_model",
          "none"};
}

}  // namespace mvb::test
