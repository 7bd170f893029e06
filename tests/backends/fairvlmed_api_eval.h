// The API end-to-end tests that run `eval --task vqa` with the openai-compatible model against a
// FakeApiServer share this setup: a copy of the FairVLMed10k fixture dataset (so a test may edit its
// CSV) and the command line, with no response cache, bootstrap or BERTScore to keep the run cheap.
#pragma once

#include <string>
#include <vector>

#include "fake_api_server.h"
#include "support/test_support.h"

namespace mvb::test {

struct FairVlmedApiEval {
  // Copies tests/fixtures/datasets/FairVLMed10k to <dir>/FairVLMed10k; the run writes under <dir>/out.
  FairVlmedApiEval(const TempDir& dir, const FakeApiServer& server);

  std::string data;     // the dataset copy
  std::string run_dir;  // where predictions.jsonl and run.json land
  // The executable and its arguments (model "fake-vlm"); tests append flags before running it.
  std::vector<std::string> argv;
};

}  // namespace mvb::test
