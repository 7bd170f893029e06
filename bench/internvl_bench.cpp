// InternVL3 generation on CPU (issue 14) with the tiny -hf fixture checkpoint
// (tests/fixtures/models/internvl: InternViT 2 x 16 with 56 px tiles, Qwen2 2 x 32), at its default
// image budget (1..12 tiles + thumbnail: the SLAKE fixture's 32 px images give 1 tile, the 190 x 60 one
// 3 + 1): N SLAKE-layout VQA samples with M new tokens, greedy,
//   - ours: `eval --task vqa` with --batch_size B (left-padded batches), samples/s from run.json, peak
//     RSS growth over the run (VmHWM after /proc/self/clear_refs);
//   - transformers' InternVLForConditionalGeneration.generate at batch 1, one sample at a time (the
//     reference's way), in the same command, fp32, the same thread count: samples/s, peak RSS growth
//     (tests/oracles/models/internvl_bench_reference.py); and how many answers agree.
// The load average is printed: on a shared machine, compare the ratios, not the absolute numbers.
//
//   ninja -C build bench_internvl_bench && ./build/bench_internvl_bench [samples=32] [new_tokens=32]
//       [batch=8] [threads=0 (one per CPU)]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/tasks/pipeline.h"

namespace fs = std::filesystem;
using namespace mvb;

namespace {

std::string load_average() {
  std::istringstream in(io::read_file("/proc/loadavg"));
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string oracle_python() {
  const char* env = std::getenv("MVB_ORACLE_PYTHON");
  return env && *env ? env : std::string(MVB_SOURCE_DIR) + "/.venv/bin/python";
}

int64_t status_kb(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return -1;
}

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.close();
  return !f.fail();
}

// A SLAKE-layout folder of n questions over the SLAKE fixture's images plus one wide image (several tiles).
std::string make_dataset(const std::string& root, int n) {
  const std::string src = std::string(MVB_SOURCE_DIR) + "/tests/fixtures/datasets/SLAKE/imgs";
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(src)) {
    names.push_back(e.path().filename().string());
    fs::create_directories(root + "/imgs/" + names.back());
    fs::copy_file(src + "/" + names.back() + "/source.jpg", root + "/imgs/" + names.back() + "/source.jpg");
  }
  std::sort(names.begin(), names.end());
  fs::create_directories(root + "/imgs/wide");
  fs::copy_file(std::string(MVB_SOURCE_DIR) + "/tests/fixtures/models/qwen2_vl_images/wide_190x60.png",
                root + "/imgs/wide/source.png");
  const std::vector<std::string> qs = {"What organ is shown in this image?",
                                       "Which modality is used to take this image?",
                                       "Does the picture contain the heart?", "Where is the abnormality located?"};
  nlohmann::json records = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    const bool wide = i % 4 == 3;
    records.push_back({{"qid", i},
                       {"img_name", wide ? std::string("wide/source.png") : names[i % names.size()] + "/source.jpg"},
                       {"question", qs[i % qs.size()]},
                       {"answer", "Yes"},
                       {"q_lang", "en"},
                       {"answer_type", "CLOSED"}});
  }
  std::ofstream(root + "/test.json") << records.dump();
  return root;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 32;
  const int new_tokens = argc > 2 ? std::atoi(argv[2]) : 32;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 8;
  if (argc > 4 && std::atoi(argv[4]) > 0) setenv("MVB_NUM_THREADS", argv[4], 1);
  const nn::CpuThreads threads = nn::configure_cpu_threads();
  log::init("warn");
  if (n < 1 || new_tokens < 1 || batch < 1) {
    std::cerr << "usage: bench_internvl_bench [samples>=1] [new_tokens>=1] [batch>=1] [threads]\n";
    return 2;
  }
  const std::string py = oracle_python();
  if (!fs::exists(py)) {
    std::cerr << "the oracle environment is missing (" << py << "): install it with `bash scripts/oracle_env.sh`\n";
    return 1;
  }
  const std::string ckpt = std::string(MVB_SOURCE_DIR) + "/tests/fixtures/models/internvl";
  const std::string work = "/tmp/mvb_internvl_bench";
  fs::remove_all(work);
  fs::create_directories(work);
  const std::string data = make_dataset(work + "/data", n);
  std::printf("InternVL3 tiny -hf fixture, %d samples x %d new tokens, CPU, %d threads (load %s at start)\n", n,
              new_tokens, threads.intra_op, load_average().c_str());

  RunConfig c;
  c.command = "eval";
  c.task = "vqa";
  c.dataset = "SLAKE";
  c.split = "test";
  c.image_path = data;
  c.model = "InternVL3";
  c.model_path = ckpt;
  c.exp_path = work + "/out";
  c.device = "cpu";
  c.dtype = "fp32";
  c.bootstrap = 0;
  c.bertscore_model = "none";
  c.batch_size = batch;
  c.max_new_tokens = new_tokens;
  c.num_workers = 2;
  const bool can_peak = reset_peak_rss();
  const int64_t rss0 = status_kb("VmRSS");
  const RunOutcome r = run_eval(c, {"bench"});
  const double ours_peak_mb = can_peak ? (status_kb("VmHWM") - rss0) / 1024.0 : -1;
  const nlohmann::json manifest = io::read_json(r.run_dir + "/run.json");
  const double ours_sps = manifest["timings"]["samples_per_s"].get<double>();
  const auto rows = io::read_jsonl(r.run_dir + "/predictions.jsonl").rows;

  nlohmann::json samples = nlohmann::json::array();
  for (const auto& row : rows) samples.push_back({{"image", row["image_path"]}, {"prompt", row["prompt"]}});
  std::ofstream(work + "/samples.json") << samples.dump();
  const std::string script = std::string(MVB_SOURCE_DIR) + "/tests/oracles/models/internvl_bench_reference.py";
  const std::string ref_json = work + "/reference.json";
  const std::string cmd = py + " " + script + " run " + ckpt + " " + work + "/samples.json " + ref_json + " " +
                          std::to_string(threads.intra_op) + " " + std::to_string(new_tokens);
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "transformers reference run failed: " << cmd << "\n";
    return 1;
  }
  const nlohmann::json ref = io::read_json(ref_json);
  int agree = 0;
  for (size_t i = 0; i < rows.size() && i < ref["answers"].size(); ++i)
    agree += rows[i].value("prediction", "") == ref["answers"][i].get<std::string>();
  const double ref_sps = ref["samples_per_s"].get<double>();
  std::printf("  (load average %s at end)\n", load_average().c_str());
  std::printf("  ours, eval --batch_size %d:               %8.3f samples/s, peak RSS growth %7.1f MiB\n", batch,
              ours_sps, ours_peak_mb);
  std::printf("  transformers generate, batch 1 (%d thr):  %8.3f samples/s, peak RSS growth %7.1f MiB\n",
              ref["threads"].get<int>(), ref_sps, ref["peak_rss_mb"].get<double>());
  std::printf("  ratio ours / transformers: %.2fx; identical answers %d/%zu\n", ours_sps / ref_sps, agree, rows.size());
  fs::remove_all(work);
  return 0;
}
