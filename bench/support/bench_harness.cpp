#include "bench_harness.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/nn/openblas_kernels.h"
#include "medvlmbench/tasks/pipeline.h"

namespace fs = std::filesystem;

namespace mvb::bench {

Args parse_args(int argc, char** argv, const std::string& name, int samples, int new_tokens, int batch,
                int min_new_tokens) {
  Args a;
  a.samples = argc > 1 ? std::atoi(argv[1]) : samples;
  a.new_tokens = argc > 2 ? std::atoi(argv[2]) : new_tokens;
  a.batch = argc > 3 ? std::atoi(argv[3]) : batch;
  if (argc > 4 && std::atoi(argv[4]) > 0) setenv("MVB_NUM_THREADS", argv[4], 1);
  a.threads = nn::configure_cpu_threads();
  log::init("warn");
  a.ok = a.samples >= 1 && a.new_tokens >= min_new_tokens && a.batch >= 1;
  if (!a.ok)
    std::cerr << "usage: bench_" << name << " [samples>=1] [new_tokens>=" << min_new_tokens
              << "] [batch>=1] [threads]\n";
  return a;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string load_average() {
  std::istringstream in(io::read_file("/proc/loadavg"));
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string source_path(const std::string& rel) { return std::string(MVB_SOURCE_DIR) + "/" + rel; }

std::string oracle_python() {
  const char* env = std::getenv("MVB_ORACLE_PYTHON");
  const std::string py = env && *env ? env : source_path(".venv/bin/python");
  if (fs::exists(py)) return py;
  std::cerr << "the oracle environment is missing (" << py << "): install it with `bash scripts/oracle_env.sh`\n";
  return "";
}

void evict_page_cache(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    const int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::fsync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

std::string fresh_dir(const std::string& path) {
  fs::remove_all(path);
  fs::create_directories(path);
  return path;
}

SlakeFolder::SlakeFolder(std::string root) : root_(std::move(root)) { fs::create_directories(root_ + "/imgs"); }

std::vector<std::string> SlakeFolder::add_fixture_images() {
  const std::string src = source_path("tests/fixtures/datasets/SLAKE/imgs");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(src)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (auto& name : names) name = add_image(name, src + "/" + name + "/source.jpg");
  return names;
}

std::string SlakeFolder::add_image(const std::string& name, const std::string& source) {
  const std::string file = "source" + fs::path(source).extension().string();
  fs::create_directories(root_ + "/imgs/" + name);
  fs::copy_file(source, root_ + "/imgs/" + name + "/" + file, fs::copy_options::overwrite_existing);
  return name + "/" + file;
}

void SlakeFolder::add_question(const std::string& img_name, const std::string& question, const std::string& answer) {
  const bool closed = answer == "Yes" || answer == "No";
  records_.push_back({{"qid", records_.size()},
                      {"img_name", img_name},
                      {"question", question},
                      {"answer", answer},
                      {"q_lang", "en"},
                      {"answer_type", closed ? "CLOSED" : "OPEN"}});
}

std::string SlakeFolder::write() const {
  std::ofstream(root_ + "/test.json") << records_.dump();
  return root_;
}

const std::vector<std::pair<std::string, std::string>>& slake_questions() {
  static const std::vector<std::pair<std::string, std::string>> qa = {
      {"What organ is shown in this image?", "Lung"},
      {"Which modality is used to take this image?", "CT"},
      {"Where is the abnormality located?", "Left lung"},
      {"What is the largest organ in the picture?", "Liver"},
      {"Does the picture contain the heart?", "Yes"},
      {"Is this a study of the abdomen?", "No"},
      {"What diseases are included in the picture?", "Pneumonia"},
      {"How many kidneys are there in this image?", "2"}};
  return qa;
}

EvalRun run_vqa_eval(const std::string& model, const std::string& model_dir, const std::string& data,
                     const std::string& out, int batch, int new_tokens) {
  RunConfig c;
  c.command = "eval";
  c.task = "vqa";
  c.dataset = "SLAKE";
  c.split = "test";
  c.image_path = data;
  c.model = model;
  c.model_path = model_dir;
  c.exp_path = out;
  c.device = "cpu";
  c.dtype = "fp32";
  c.bootstrap = 0;
  c.bertscore_model = "none";
  c.batch_size = batch;
  c.max_new_tokens = new_tokens;
  c.num_workers = 2;
  const core::PeakRssMeter peak;
  const RunOutcome r = run_eval(c, {"bench"});
  EvalRun e;
  e.peak_rss_growth_mib = peak.growth_mib();
  const nlohmann::json manifest = io::read_json(r.run_dir + "/run.json");
  e.samples_per_s = manifest["timings"]["samples_per_s"].get<double>();
  e.rows = io::read_jsonl(r.run_dir + "/predictions.jsonl").rows;
  return e;
}

std::vector<std::string> predictions(const std::vector<nlohmann::json>& rows) {
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row.value("prediction", ""));
  return out;
}

Loaded load_model(const ModelSpec& spec) {
  const ModelEntry* entry = model_registry().find(spec.name);
  if (!entry) throw std::runtime_error(spec.name + " is not registered in this build");
  evict_page_cache(spec.model_path);
  Loaded l;
  const int64_t read0 = core::proc_io_counter("read_bytes"), rchar0 = core::proc_io_counter("rchar");
  l.peak = std::make_unique<core::PeakRssMeter>();
  const double t0 = now_s();
  l.model = entry->factory(spec);
  l.seconds = now_s() - t0;
  l.peak_rss_growth_mib = l.peak->growth_mib();
  l.read_bytes = core::proc_io_counter("read_bytes") - read0;
  l.rchar = core::proc_io_counter("rchar") - rchar0;
  return l;
}

GenerativeModel& generative(Model& model, const std::string& name) {
  auto* gen = dynamic_cast<GenerativeModel*>(&model);
  if (!gen) throw std::runtime_error(name + " is not a generative model");
  return *gen;
}

double best_of_3_s(GenerativeModel& gen, GenerationRequest req, int tokens) {
  req.max_new_tokens = tokens;
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const double t0 = now_s();
    const auto res = gen.generate({req});
    best = std::min(best, now_s() - t0);
    if (!res[0].error.empty()) throw std::runtime_error(res[0].error);
  }
  return best;
}

double decode_ms_per_token(GenerativeModel& gen, const GenerationRequest& req, int new_tokens) {
  return (best_of_3_s(gen, req, new_tokens) - best_of_3_s(gen, req, 1)) / (new_tokens - 1) * 1000;
}

nlohmann::json reference_samples(const std::vector<nlohmann::json>& rows) {
  nlohmann::json samples = nlohmann::json::array();
  for (const auto& row : rows) {
    const nlohmann::json prompt = row.value("prompt", nlohmann::json(""));
    // "qs" is the request's text where the model rendered a longer prompt around it.
    samples.push_back({{"image", row["image_path"]}, {"prompt", prompt}, {"question", row.value("qs", prompt)}});
  }
  return samples;
}

nlohmann::json run_reference(const std::string& python, const std::string& script, const std::vector<std::string>& args,
                             const std::string& result_json, const std::string& log) {
  std::string cmd = python + " " + source_path(script);
  for (const auto& a : args) cmd += " " + a;
  if (!log.empty()) cmd += " > " + log + " 2>&1";
  if (std::system(cmd.c_str()) != 0 || !fs::exists(result_json)) {
    std::cerr << "transformers reference run failed: " << cmd << "\n";
    return nullptr;
  }
  return io::read_json(result_json);
}

int identical_answers(const std::vector<std::string>& ours, const nlohmann::json& reference_answers) {
  int n = 0;
  for (size_t i = 0; i < ours.size() && i < reference_answers.size(); ++i)
    n += ours[i] == reference_answers[i].get<std::string>();
  return n;
}

void print_comparison(const Comparison& c) {
  const nlohmann::json& ref = *c.reference;
  const double ref_sps = ref["samples_per_s"].get<double>();
  std::printf("  throughput (load average %s at end):\n", load_average().c_str());
  std::printf("    ours, eval --batch_size %d:                 %7.3f samples/s\n", c.batch, c.ours_samples_per_s);
  std::printf("    transformers generate, batch 1 (%d thr):   %7.3f samples/s\n", ref["threads"].get<int>(), ref_sps);
  std::printf("    ratio ours / transformers: %.2fx%s; identical answers %d/%zu\n", c.ours_samples_per_s / ref_sps,
              c.ratio_note.c_str(), c.identical, c.samples);
  const double ref_token_ms = ref["per_token_ms"].get<double>();
  std::printf("  decode latency per token at batch 1 (best of 3):\n");
  std::printf("    ours %.2f ms, transformers %.2f ms (ratio %.2fx; < 1 = ours faster)\n", c.ours_token_ms,
              ref_token_ms, c.ours_token_ms / ref_token_ms);
  const double params = static_cast<double>(c.parameters);
  const double mib = params * 4 / 1048576.0;
  std::printf("  loading %.*f MiB of %s, page cache evicted first:\n", mib < 10 ? 2 : 0, mib, c.loading_what.c_str());
  std::printf(
      "    ours:         %.2f s; peak RSS growth %7.1f MiB after loading, %7.1f MiB through the first "
      "answer; %.2f bytes read from storage per weight (by read() calls: %.2f)\n",
      c.loaded->seconds, c.loaded->peak_rss_growth_mib, c.ours_first_answer_peak_mib, c.loaded->read_bytes / params,
      c.loaded->rchar / params);
  std::printf(
      "    transformers: peak RSS growth %7.1f MiB after loading, %7.1f MiB through the first answer; %.2f "
      "bytes read from storage per weight (by read() calls: %.2f)\n",
      ref["load_peak_rss_mb"].get<double>(), ref["first_answer_peak_rss_mb"].get<double>(),
      ref["load_read_bytes"].get<double>() / params, ref["load_rchar"].get<double>() / params);
  if (c.ours_mean_new_tokens >= 0 && ref.contains("new_tokens") && !ref["new_tokens"].empty()) {
    double sum = 0;
    for (const auto& t : ref["new_tokens"]) sum += t.get<double>();
    std::printf("  new tokens per answer (mean): ours %.1f, transformers %.1f\n", c.ours_mean_new_tokens,
                sum / ref["new_tokens"].size());
  }
}

std::string our_blas() {
  std::string s = "LibTorch " + compat::torch_version() + ", ";
  const nn::OpenblasKernels k = nn::openblas_kernels();
  if (at::hasMKL())
    s += "MKL" + (k.loaded.empty() ? std::string() : " (an OpenBLAS is loaded too, kernels " + k.loaded + ")");
  else if (!k.loaded.empty())
    s +=
        "OpenBLAS kernels " + k.loaded + (k.better.empty() ? "" : " (a fallback: this CPU could run " + k.better + ")");
  else
    s += "BLAS unknown (neither MKL nor OpenBLAS)";
  return s;
}

int run_vqa_bench(const VqaBench& b, int argc, char** argv) {
  // The kernel choice `medvlmbench eval` makes (src/cli/main.cpp), before anything else runs: the in-process
  // decode-latency measurement ran on OpenBLAS's Prescott fallback without it (218 vs 32 ms per token).
  nn::reexec_with_faster_openblas_kernels(argv);
  const Args args = parse_args(argc, argv, b.name, b.samples, b.new_tokens, b.batch, 2);
  if (!args.ok) return 2;
  const int n = args.samples, new_tokens = args.new_tokens, batch = args.batch;
  const std::string py = oracle_python();
  if (py.empty()) return 1;
  if (!model_registry().find(b.model)) {
    std::cerr << b.model << " is not registered in this build; nothing to measure\n";
    return 1;
  }
  for (const auto& f : b.required_files)
    if (!fs::exists(source_path(f))) {
      std::cerr << "missing " << source_path(f) << " (this bench's fixture)\n";
      return 1;
    }
  const std::string work = fresh_dir("/tmp/mvb_" + b.name);
  const std::string model_dir = work + "/model";
  std::printf("making %s with transformers ...\n", b.making.c_str());
  std::fflush(stdout);
  std::string make = py + " " + source_path(b.script) + " make " + model_dir;
  for (const auto& a : b.make_args) make += " " + a;
  if (std::system((make + " > " + work + "/make.log 2>&1").c_str()) != 0) {
    std::cerr << "cannot make the checkpoint with transformers: " << make << " (see " << work << "/make.log)\n";
    return 1;
  }
  SlakeFolder folder(work + "/data");
  const std::vector<std::string> images = folder.add_fixture_images();
  const auto& qa = b.questions.empty() ? slake_questions() : b.questions;
  for (int i = 0; i < n; ++i)
    folder.add_question(images[i % images.size()], qa[i % qa.size()].first, qa[i % qa.size()].second);
  const std::string data = folder.write();
  const int64_t params = io::StateDict::open(model_dir).num_parameters();
  std::printf("%s, %.1fM parameters (fp32), %d samples x %d new tokens, CPU, %d threads (load %s at start)\n",
              b.title.c_str(), params / 1e6, n, new_tokens, args.threads.intra_op, load_average().c_str());
  std::printf("ours: %s\n", our_blas().c_str());
  std::fflush(stdout);  // before the run's progress lines (stderr)

  // Loading, then per-token decode latency at batch 1 with the loaded model.
  ModelSpec spec;
  spec.name = b.model;
  spec.model_path = model_dir;
  spec.dtype = "fp32";
  spec.options = {{"max_new_tokens", new_tokens}};
  Loaded loaded = load_model(spec);
  GenerativeModel& gen = generative(*loaded.model, b.model);
  GenerationRequest req;
  req.prompt = qa.front().first;
  req.images = {ImageRef::file(data + "/imgs/" + images.front())};
  best_of_3_s(gen, req, 2);  // warm-up
  // Weights left on a mapping are read at first use: the peak through the first answer compares.
  const double peak_first_mb = loaded.peak->growth_mib();
  const double ours_token_ms = decode_ms_per_token(gen, req, new_tokens);
  loaded.model.reset();

  // Throughput: the whole eval pipeline at --batch_size.
  const EvalRun ours = run_vqa_eval(b.model, model_dir, data, work + "/out", batch, new_tokens);

  // transformers at batch 1, on the prompts our rows recorded.
  std::ofstream(work + "/samples.json") << reference_samples(ours.rows).dump();
  const std::string ref_json = work + "/reference.json";
  const nlohmann::json ref = run_reference(py, b.script,
                                           {"run", model_dir, work + "/samples.json", ref_json,
                                            std::to_string(args.threads.intra_op), std::to_string(new_tokens)},
                                           ref_json);
  if (ref.is_null()) return 1;

  Comparison c;
  c.batch = batch;
  c.ours_samples_per_s = ours.samples_per_s;
  c.reference = &ref;
  c.identical = identical_answers(predictions(ours.rows), ref["answers"]);
  c.samples = ours.rows.size();
  c.ratio_note = b.ratio_note;
  c.ours_token_ms = ours_token_ms;
  c.loaded = &loaded;
  c.ours_first_answer_peak_mib = peak_first_mb;
  c.parameters = params;
  c.loading_what = b.loading_what;
  double tokens = 0;
  int counted = 0;
  for (const auto& row : ours.rows)
    if (row.contains("completion_tokens")) tokens += row["completion_tokens"].get<double>(), ++counted;
  if (counted) c.ours_mean_new_tokens = tokens / counted;
  print_comparison(c);
  fs::remove_all(work);
  return 0;
}

}  // namespace mvb::bench
