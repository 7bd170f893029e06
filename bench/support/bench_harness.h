// What the generation benches (bench/generation_bench.cpp, gemma3_bench, internvl_bench, blip_bench,
// blip2_bench) share: the command line, the machine's load, a SLAKE-layout dataset for `eval --task vqa`,
// timing our side (the eval pipeline's samples/s, model loading with its peak RSS and bytes read, per-token
// decode latency) and running the transformers reference script (tests/oracles/models/*_bench_reference.py,
// helpers in tests/oracles/common/bench_support.py) in the same command, then comparing answers.
// Each bench keeps its own fixture, model and printout; what they all do the same way lives here.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medvlmbench/core/process_stats.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/cpu_threads.h"

namespace mvb::bench {

// ---------------------------------------------------------------- command line and machine
// argv: [samples] [new_tokens] [batch] [threads (0 = one per CPU, nn/cpu_threads.h)]. Sets the thread
// policy (MVB_NUM_THREADS when threads > 0) and warn-level logging. ok is false (usage printed) for
// samples < 1, new_tokens < min_new_tokens or batch < 1.
struct Args {
  int samples = 0;
  int new_tokens = 0;
  int batch = 0;
  nn::CpuThreads threads;
  bool ok = false;
};
Args parse_args(int argc, char** argv, const std::string& name, int samples, int new_tokens, int batch,
                int min_new_tokens = 1);

double now_s();
std::string load_average();  // the three numbers of /proc/loadavg
// What fp32 products of our side run on: LibTorch's version, MKL or OpenBLAS (with its kernel set).
std::string our_blas();
std::string source_path(const std::string& rel);  // MVB_SOURCE_DIR/rel
// MVB_ORACLE_PYTHON, else the source tree's .venv/bin/python; empty (with how to install it printed)
// when it does not exist.
std::string oracle_python();
// Drops the clean pages of dir's *.safetensors from the page cache, so loading reads them from storage.
void evict_page_cache(const std::string& dir);
// An empty scratch folder (removed first if it exists).
std::string fresh_dir(const std::string& path);

// ---------------------------------------------------------------- data
// A SLAKE-layout folder (imgs/<name>/source.<ext> + test.json) that `eval --dataset SLAKE` reads.
class SlakeFolder {
 public:
  explicit SlakeFolder(std::string root);
  // The SLAKE fixture's images (tests/fixtures/datasets/SLAKE/imgs), copied in; their img_names, sorted.
  std::vector<std::string> add_fixture_images();
  // source copied to imgs/<name>/source<ext>; returns its img_name.
  std::string add_image(const std::string& name, const std::string& source);
  // One English question (CLOSED when the answer is Yes or No, else OPEN).
  void add_question(const std::string& img_name, const std::string& question, const std::string& answer);
  // Writes test.json; returns the root (--image_path).
  std::string write() const;

 private:
  std::string root_;
  nlohmann::json records_ = nlohmann::json::array();
};

// The SLAKE-style question/answer pairs the benches ask, in order.
const std::vector<std::pair<std::string, std::string>>& slake_questions();

// ---------------------------------------------------------------- our side
// `eval --task vqa --dataset SLAKE` on CPU, fp32, no bootstrap or BERTScore: samples/s from run.json
// (model load excluded), the prediction rows, and the peak RSS growth over the whole run.
struct EvalRun {
  double samples_per_s = 0;
  std::vector<nlohmann::json> rows;
  double peak_rss_growth_mib = -1;
};
EvalRun run_vqa_eval(const std::string& model, const std::string& model_dir, const std::string& data,
                     const std::string& out, int batch, int new_tokens);
std::vector<std::string> predictions(const std::vector<nlohmann::json>& rows);

// The registry's factory for spec, with the checkpoint evicted from the page cache first: seconds, peak
// RSS growth and bytes read (from storage: read_bytes; by read() calls: rchar). peak stays running, so
// peak.growth_mib() later is the peak through whatever followed (weights left on a mapping are read at
// first use).
struct Loaded {
  std::unique_ptr<Model> model;
  double seconds = 0;
  double peak_rss_growth_mib = -1;
  int64_t read_bytes = 0, rchar = 0;
  std::unique_ptr<core::PeakRssMeter> peak;
};
Loaded load_model(const ModelSpec& spec);
GenerativeModel& generative(Model& model, const std::string& name);  // throws naming the model

// Best of 3 wall times of gen.generate({req}) with req.max_new_tokens = tokens.
double best_of_3_s(GenerativeModel& gen, GenerationRequest req, int tokens);
// Per-token decode latency at batch 1: (best(new_tokens) - best(1)) / (new_tokens - 1), in ms.
double decode_ms_per_token(GenerativeModel& gen, const GenerationRequest& req, int new_tokens);

// ---------------------------------------------------------------- the transformers side
// [{"image", "prompt" (what our row recorded), "question" (what the model was asked)}] of our rows.
nlohmann::json reference_samples(const std::vector<nlohmann::json>& rows);
// Runs `<oracle python> <source>/<script> args...` (output to log when given, else inherited) and reads
// the RESULT.json it writes at result_json; a null json (the command printed) when it fails.
nlohmann::json run_reference(const std::string& python, const std::string& script, const std::vector<std::string>& args,
                             const std::string& result_json, const std::string& log = "");
// How many of ours equal the reference's answers, position by position.
int identical_answers(const std::vector<std::string>& ours, const nlohmann::json& reference_answers);

// ---------------------------------------------------------------- printing (the generation_bench layout)
// ours_mean_new_tokens >= 0 and a reference "new_tokens" list add a line of mean answer lengths (the
// per-token latency assumes answers as long as asked).
struct Comparison {
  int batch = 1;
  double ours_samples_per_s = 0;
  const nlohmann::json* reference = nullptr;  // samples_per_s, threads, per_token_ms, load_* (see above)
  int identical = 0;
  size_t samples = 0;
  std::string ratio_note;  // after the ratio, e.g. " (expected >= 3x)"
  double ours_token_ms = 0;
  Loaded* loaded = nullptr;
  double ours_first_answer_peak_mib = -1;
  int64_t parameters = 0;
  std::string loading_what;  // e.g. "fp32 safetensors (3 shards + index)"
  double ours_mean_new_tokens = -1;
};
void print_comparison(const Comparison& c);

// ---------------------------------------------------------------- the whole VQA comparison
// generation_bench, blip_bench and blip2_bench: the reference script makes the checkpoint
// (`make MODEL_DIR make_args...` into /tmp/mvb_<name>), the SLAKE fixture's images x slake_questions()
// (or b.questions) make the dataset; then ours: loading (page cache evicted) and per-token decode latency at batch 1
// with the loaded model, `eval --task vqa` at --batch_size; then the script's `run MODEL_DIR SAMPLES.json RESULT.json
// THREADS MAX_NEW_TOKENS` (transformers at batch 1); then print_comparison. Returns main's exit status.
struct VqaBench {
  std::string name;                              // bench_<name>
  std::string model;                             // registry name
  std::string script;                            // tests/oracles/models/<x>_bench_reference.py
  std::vector<std::string> make_args;            // after `make MODEL_DIR`
  std::vector<std::string> required_files;       // checked first (source-relative)
  std::string making;                            // "the ~100M LLaVA checkpoint"
  std::string title;                             // "LLaVA-1.5-shaped random VLM"
  std::string loading_what;                      // see Comparison
  std::string ratio_note;                        // see Comparison
  int samples = 32, new_tokens = 32, batch = 8;  // defaults of the command line
  // The questions (and answers) asked in turn; empty = slake_questions().
  std::vector<std::pair<std::string, std::string>> questions;
};
int run_vqa_bench(const VqaBench& b, int argc, char** argv);

}  // namespace mvb::bench
