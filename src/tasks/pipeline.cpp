#include "medvlmbench/tasks/pipeline.h"

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_set>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/cancel.h"
#include "medvlmbench/core/cpu_memory.h"
#include "medvlmbench/core/device.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/launch_env.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/core/url_redact.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"
#include "medvlmbench/io/run_layout.h"
#include "medvlmbench/models/build.h"
#include "medvlmbench/models/checkpoint_path.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/nn/openblas_kernels.h"
#include "medvlmbench/tasks/agent_summary.h"
#include "medvlmbench/tasks/bertscore.h"
#include "medvlmbench/tasks/judge.h"
#include "medvlmbench/tasks/task.h"
#include "medvlmbench/tasks/usage.h"

namespace mvb {
namespace {

// What the model factory gets, for eval and train alike.
ModelSpec model_spec(const RunConfig& cfg, const ResolvedModelPath& checkpoint, const DatasetInfo& info,
                     const c10::Device& device, const std::string& dtype) {
  ModelSpec spec;
  spec.name = cfg.model;
  // The folder --model_path resolved to (a hub-cache snapshot for original_pretrained); cfg.model_path
  // stays as given, since the run folder is named after it as the reference names it.
  spec.model_path = checkpoint.folder;
  spec.model_base = cfg.model_base;
  spec.device = device;
  spec.dtype = dtype;
  spec.seed = cfg.seed;
  spec.cache_dir = cfg.cache_dir;
  spec.task = cfg.task;
  spec.usage = cfg.usage;
  spec.class_texts = info.class_texts;
  spec.multi_label = info.multi_label;
  spec.options = cfg.model_options();  // api_* settings for API-backed models
  return spec;
}

// The precision the model is built in, checked against the device before any output is written
// (the model factory checks again, for library callers).
std::string model_dtype_for(const RunConfig& cfg, const c10::Device& device) {
  const std::string dtype = cfg.model_dtype();
  MVB_USAGE_CHECK(!(dtype == "fp16" && device.is_cpu()), "dtype fp16 needs a CUDA device; on CPU use bf16 or fp32");
  return dtype;
}

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

nlohmann::json versions_json() {
  return {{"medvlmbench", MVB_VERSION},
          {"git_commit", MVB_GIT_COMMIT},
          {"libtorch", compat::torch_version()},
          {"cuda_available", compat::cuda_available()},
          {"openblas_kernels", nn::openblas_kernels().loaded},  // "" when the BLAS is not OpenBLAS
          {"build_type", MVB_BUILD_TYPE}};
}

// Writes rows to predictions.jsonl as they finish, counting them for the manifest. A fresh run opens
// the file at its first row, after `on_first_row` has set the previous run's outputs aside: a rerun
// refused by the runner (a bad --prompt_template ...) or stopped before its first row leaves them as
// they were (issue 18, defect 2).
class FileSink : public PredictionSink {
 public:
  FileSink(std::string path, io::JsonlWriter::Mode mode, std::function<void()> on_first_row)
      : path_(std::move(path)), mode_(mode), on_first_row_(std::move(on_first_row)) {}
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    if (w_) return;
    if (on_first_row_) on_first_row_();
    w_ = std::make_unique<io::JsonlWriter>(path_, mode_);
  }
  bool opened() const { return w_ != nullptr; }
  void write(const nlohmann::json& row) override {
    open();
    w_->write(row);
    ++rows;
    if (row.value("status", "") == "failed") {
      ++errors;
      spdlog::warn("sample {} failed: {}", row.value("id", "?"), row.value("error", ""));
    }
  }
  void checkpoint() override {
    if (w_) w_->sync();
  }
  int64_t rows = 0, errors = 0;

 private:
  std::string path_;
  io::JsonlWriter::Mode mode_;
  std::function<void()> on_first_row_;
  std::mutex mu_;
  std::unique_ptr<io::JsonlWriter> w_;
};

// Skips samples whose ids already have a finished (non-failed) row.
class SkipDoneReader : public SampleReader {
 public:
  SkipDoneReader(std::unique_ptr<SampleReader> inner, std::unordered_set<std::string> done)
      : inner_(std::move(inner)), done_(std::move(done)) {}
  bool next(Sample& out) override {
    while (inner_->next(out))
      if (!done_.count(out.id)) return true;
    return false;
  }
  int64_t size_hint() const override {
    const int64_t n = inner_->size_hint();
    return n < 0 ? n : std::max<int64_t>(0, n - static_cast<int64_t>(done_.size()));
  }

 private:
  std::unique_ptr<SampleReader> inner_;
  std::unordered_set<std::string> done_;
};

// Keeps the last row per sample id: a resumed run may retry a sample that failed before.
std::vector<nlohmann::json> latest_rows(std::vector<nlohmann::json> rows) {
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < rows.size(); ++i) last[rows[i].value("id", "#" + std::to_string(i))] = i;
  std::vector<nlohmann::json> out;
  for (size_t i = 0; i < rows.size(); ++i)
    if (last[rows[i].value("id", "#" + std::to_string(i))] == i) out.push_back(std::move(rows[i]));
  return out;
}

std::string csv_field(const nlohmann::json& v) {
  std::string s;
  if (v.is_null()) return "";
  if (v.is_string())
    s = v.get<std::string>();
  else if (v.is_number_float()) {
    std::ostringstream os;
    os.precision(10);
    os << v.get<double>();
    s = os.str();
  } else
    s = v.dump();
  if (s.find_first_of(",\"\n") != std::string::npos) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  }
  return s;
}

void write_results_csv(const std::string& path, const std::vector<std::pair<std::string, nlohmann::json>>& row) {
  std::string header, values;
  for (size_t i = 0; i < row.size(); ++i) {
    header += (i ? "," : "") + csv_field(row[i].first);
    values += (i ? "," : "") + csv_field(row[i].second);
  }
  io::write_file_atomic(path, header + "\n" + values + "\n");
}

struct Scored {
  nlohmann::json metrics_file;
};

// Scores predictions.jsonl in `run_dir` and writes metrics.json, results.csv and (save_pred)
// predictions.json.
nlohmann::json score_and_write(const std::string& run_dir, const RunConfig& cfg, const DatasetInfo* ds,
                               const std::string& model_family, bool save_pred) {
  const auto& task = task_registry().get(cfg.task);
  auto evaluator = task.evaluator();
  const std::string pred_path = io::join_path(run_dir, kPredictionsFile);
  std::vector<nlohmann::json> rows;
  if (io::exists(pred_path)) rows = latest_rows(io::read_jsonl(pred_path).rows);
  ScoreOptions opts;
  opts.bootstrap = cfg.bootstrap;
  opts.seed = cfg.seed;
  if (cfg.task == "vqa" || cfg.task == "caption") {
    opts.bertscore_model = bertscore::resolve_model_dir(cfg.bertscore_model);
    opts.device = cfg.device;
  }
  if (ds) {
    opts.class_texts = ds->class_texts;
    opts.multi_label = ds->multi_label;
  }
  // results.csv carries the reference's own modality string ("Chest Xray", "image" ...).
  const std::string results_modality = !ds ? "" : ds->results_modality.empty() ? ds->modality : ds->results_modality;
  opts.identity = {{"model", cfg.model},         {"model_name", io::basename(cfg.model_path)},
                   {"task", cfg.task},           {"dataset", cfg.dataset},
                   {"model_type", model_family}, {"modality", results_modality}};
  ScoreResult r = evaluator->score(rows, opts);
  nlohmann::json m = {{"task", cfg.task},
                      {"dataset", cfg.dataset},
                      {"split", cfg.split},
                      {"model", cfg.model},
                      {"model_path", cfg.model_path},
                      {"usage", cfg.usage.empty() ? kOffTheShelfUsage : cfg.usage},
                      {"num_rows", rows.size()},
                      {"num_scored", r.num_scored},
                      {"num_errors", r.num_errors},
                      {"metrics", r.metrics},
                      {"ci95", r.ci95},
                      {"notes", r.notes},
                      {"scored_at", now_iso8601()}};
  // Agent wrappers (issue 16): calls, fallbacks, agreement, tokens and cost per sample.
  if (nlohmann::json agents = agent_summary(rows); !agents.is_null()) m["agent"] = agents;
  io::write_json_atomic(io::join_path(run_dir, kMetricsFile), m);
  if (!r.results_csv.empty()) write_results_csv(io::join_path(run_dir, kResultsCsvFile), r.results_csv);
  if (save_pred)
    io::write_json_atomic(io::join_path(run_dir, kReferencePredictionsFile), evaluator->reference_predictions(rows));
  return m;
}

struct Validated {
  RunConfig cfg;  // names canonicalised
  // The registry entry as cfg.task sees it (ModelEntry::for_task).
  std::shared_ptr<const ModelEntry> model;
  const UsageEntry* usage = nullptr;
  std::unique_ptr<Dataset> dataset;
  ResolvedModelPath checkpoint;  // what --model_path names (models/checkpoint_path.h)
};

Validated validate(const RunConfig& in, const std::string& kind) {
  Validated v;
  v.cfg = in;
  RunConfig& cfg = v.cfg;
  cfg.task = task_registry().canonical(cfg.task);
  cfg.dataset = dataset_registry().canonical(cfg.dataset);
  v.dataset = dataset_registry().get(cfg.dataset).factory();
  const DatasetInfo& info = v.dataset->info();
  MVB_USAGE_CHECK(std::find(info.tasks.begin(), info.tasks.end(), cfg.task) != info.tasks.end(), "dataset '",
                  cfg.dataset, "' does not support task '", cfg.task, "'; it supports: ", join(info.tasks, ", "));
  MVB_USAGE_CHECK(std::find(info.splits.begin(), info.splits.end(), cfg.split) != info.splits.end(),
                  "invalid --split '", cfg.split, "' for ", cfg.dataset, "; valid splits: ", join(info.splits, ", "));
  MVB_USAGE_CHECK(!cfg.model.empty(), "--model is required; run `medvlmbench list models` for the choices");
  cfg.model = model_registry().canonical(cfg.model);
  v.model = std::make_shared<const ModelEntry>(model_registry().get(cfg.model).for_task(cfg.task));
  MVB_USAGE_CHECK(std::find(v.model->tasks.begin(), v.model->tasks.end(), cfg.task) != v.model->tasks.end(), "model '",
                  cfg.model, "' does not support task '", cfg.task, "'; it supports: ", join(v.model->tasks, ", "));
  v.usage = &find_usage(cfg.usage, cfg.task, kind);
  if (!cfg.usage.empty()) cfg.usage = v.usage->usage;
  MVB_USAGE_CHECK(
      std::find(v.usage->families.begin(), v.usage->families.end(), v.model->family) != v.usage->families.end(),
      "usage '", v.usage->usage, "' does not work with ", v.model->family, " model '", cfg.model, "'; it needs a ",
      join(v.usage->families, " or "), " model");
  MVB_USAGE_CHECK(!cfg.model_path.empty(),
                  "--model_path is required: a checkpoint folder, or "
                  "\"original_pretrained\" for models that need none");
  // A folder, or original_pretrained / not_given / a hub id found in models/ or the hub cache.
  v.checkpoint = resolve_model_path(cfg.model, *v.model, cfg.model_path, cfg.cache_dir);
  MVB_CHECK(!cfg.image_path.empty(), "--image_path is required: the dataset folder (see datasets/README.md)");
  MVB_CHECK(io::exists(cfg.image_path), "--image_path ", cfg.image_path,
            " does not exist; expected layout: ", info.layout);
  return v;
}

// Where the checkpoint came from, and one line per reference flag accepted without being used.
void log_checkpoint_and_compat_notes(const ResolvedModelPath& ckpt, const RunConfig& cfg) {
  if (ckpt.source != "folder" && ckpt.source != "not needed")
    spdlog::info("--model_path {}: {}{} from the {} at {}", ckpt.requested, ckpt.hub_id,
                 ckpt.revision.empty() ? "" : " @ " + ckpt.revision.substr(0, 12), ckpt.source, ckpt.folder);
  for (const std::string& note : cfg.reference_compat_notes) spdlog::info("{}", note);
}

void add_checkpoint_and_compat_notes(nlohmann::json& manifest, const ResolvedModelPath& ckpt, const RunConfig& cfg) {
  manifest["checkpoint"] = ckpt.to_json();
  if (!cfg.reference_compat_notes.empty()) manifest["reference_flags_not_used"] = cfg.reference_compat_notes;
}

void write_manifest(const std::string& run_dir, nlohmann::json manifest) {
  io::write_json_atomic(io::join_path(run_dir, kManifestFile), manifest);
}

}  // namespace

// --shard, or the Slurm array task's shard (announced in the log once the run folder is known).
static RunConfig with_environment_shard(const RunConfig& in) {
  RunConfig cfg = in;
  cfg.shard = shard_from_environment(in.shard, &cfg.shard_source);
  return cfg;
}

RunOutcome run_eval(const RunConfig& in, const std::vector<std::string>& argv) {
  const auto t0 = std::chrono::steady_clock::now();
  Validated v = validate(with_environment_shard(in), "eval");
  const RunConfig& cfg = v.cfg;
  const DatasetInfo& info = v.dataset->info();
  const SampleSelection selection = SampleSelection::parse(cfg.shard, cfg.limit);
  const c10::Device device = resolve_device(cfg.device);
  const std::string dtype = model_dtype_for(cfg, device);

  MVB_CHECK(!io::exists(cfg.exp_path) || io::is_directory(cfg.exp_path), "--exp_path ", cfg.exp_path,
            " is a file; give a folder for run outputs");
  // Everything that can refuse the run (dataset files, the model and its checkpoint) is checked
  // before a file of the run folder is touched: a refused rerun leaves the previous run's outputs.
  auto reader = v.dataset->open(DatasetRequest{cfg.task, cfg.split, cfg.image_path, cfg.cache_dir});
  // An empty split is an error (it would score to null metrics and exit 0); an empty --shard/--limit
  // selection of a non-empty split is not (more shards than samples), and writes an empty run.
  MVB_CHECK(reader->size_hint() != 0, cfg.dataset, " split '", cfg.split, "' (task ", cfg.task, ") at ", cfg.image_path,
            " has no samples; expected layout: ", info.layout);
  reader = select_samples(std::move(reader), selection);
  const bool empty_selection = reader->size_hint() == 0;
  RunOutcome out;
  out.run_dir = eval_run_dir(cfg);
  const std::string pred_path = io::join_path(out.run_dir, kPredictionsFile);
  const bool resuming = cfg.resume && io::exists(pred_path);
  std::unordered_set<std::string> done;
  if (resuming) {
    io::repair_jsonl(pred_path);
    for (const auto& row : io::read_jsonl(pred_path).rows)
      if (row.value("status", "") != "failed" && row.contains("id")) done.insert(row["id"].get<std::string>());
    out.resumed_rows = static_cast<int64_t>(done.size());
  }
  if (!done.empty()) reader = std::make_unique<SkipDoneReader>(std::move(reader), done);

  io::create_directories(out.run_dir);
  io::remove_stale_temp_files(out.run_dir);  // left by a process killed inside write_file_atomic
  log::add_file(io::join_path(out.run_dir, "eval.log"));
  spdlog::info("run folder: {}", out.run_dir);
  if (!cfg.shard.empty() && cfg.shard_source != "--shard")
    spdlog::info("shard {} from the Slurm array ({}); pass --shard 0/1 to run every sample", cfg.shard,
                 cfg.shard_source);
  log_checkpoint_and_compat_notes(v.checkpoint, cfg);
  if (resuming) spdlog::info("resuming: {} samples already done in {}", done.size(), pred_path);

  nn::CpuThreads cpu_threads;
  if (device.is_cpu()) {
    // Before the model exists: Debian's LibTorch starts with one intra-op thread (nn/cpu_threads.h), and
    // batched forwards allocate blocks glibc would otherwise map and unmap per op (core/cpu_memory.h).
    cpu_threads = nn::configure_cpu_threads();
    core::reuse_freed_tensor_memory();
    spdlog::info("CPU: {} LibTorch intra-op thread(s), {} OpenBLAS thread(s)", cpu_threads.intra_op,
                 cpu_threads.openblas);
  }
  const auto t_load = std::chrono::steady_clock::now();
  std::unique_ptr<Model> model = build_model(cfg.model, *v.model, model_spec(cfg, v.checkpoint, info, device, dtype));
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  spdlog::info("model {} ready in {:.2f} s", cfg.model, load_s);

  nlohmann::json manifest = {{"argv", strip_url_credentials(argv)},
                             {"config", cfg.to_json()},
                             {"versions", versions_json()},
                             {"device", device.str()},
                             {"dataset",
                              {{"name", info.name},
                               {"modality", info.modality},
                               {"classes", info.class_texts},
                               {"multi_label", info.multi_label}}},
                             {"status", "running"},
                             {"started_at", now_iso8601()}};
  // Which samples this run had (medvlmbench merge reads it back).
  manifest["shard"] = {{"index", selection.shard_index},
                       {"count", selection.shard_count},
                       {"limit", selection.limit},
                       {"order", "interleaved: samples at dataset positions index, index+count, ..."},
                       {"source", cfg.shard_source}};
  if (device.is_cpu())
    manifest["cpu_threads"] = {{"libtorch_intra_op", cpu_threads.intra_op}, {"openblas", cpu_threads.openblas}};
  add_checkpoint_and_compat_notes(manifest, v.checkpoint, cfg);
  // predictions.jsonl: resume appends to the finished rows; a fresh run sets the previous run's
  // outputs aside (as *.previous) when its first row is ready, and starts a new file.
  FileSink sink(pred_path, resuming ? io::JsonlWriter::Mode::kAppend : io::JsonlWriter::Mode::kTruncate, [&] {
    if (!resuming) {
      const auto moved = set_aside_previous_outputs(out.run_dir);
      if (!moved.empty())
        spdlog::warn("an earlier run's {} moved aside to *{} in {} (use --resume to continue a run)", join(moved, ", "),
                     kPreviousSuffix, out.run_dir);
    }
    write_manifest(out.run_dir, manifest);
  });
  if (resuming || empty_selection) sink.open();

  RunContext ctx{cfg, info, out.run_dir, device, std::move(reader), -1, model.get(), &sink};
  ctx.total = ctx.samples->size_hint();
  auto runner = v.usage->factory();
  const auto t_run = std::chrono::steady_clock::now();
  runner->run(ctx);
  sink.checkpoint();
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_run).count();
  out.status = cancel_requested() ? "interrupted" : "completed";
  if (!sink.opened()) {
    // No row at all: the earlier run's files stay as they were, and nothing is scored or recorded.
    log::remove_file();
    MVB_CHECK(out.status == "interrupted", "the run produced no rows for ", cfg.dataset, " split '", cfg.split, "' at ",
              cfg.image_path);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.metrics = {{"task", cfg.task},   {"dataset", cfg.dataset}, {"split", cfg.split},
                   {"model", cfg.model}, {"usage", cfg.usage},     {"num_rows", 0}};
    return out;
  }

  // --judge: score the open answers with an LLM judge before the evaluator reads the rows.
  if (!cfg.judge.empty() && !cancel_requested())
    ctx.stats["judge"] = judge_predictions(pred_path, judge_config_from(cfg)).to_json();

  out.rows_written = sink.rows;
  out.error_rows = sink.errors;
  out.metrics = score_and_write(out.run_dir, cfg, &info, v.model->family, cfg.save_pred);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  manifest["status"] = out.status;
  manifest["finished_at"] = now_iso8601();
  manifest["model"] = model->describe();
  manifest["timings"] = {{"total_s", out.seconds},
                         {"model_load_s", load_s},
                         {"inference_s", run_s},
                         {"samples_per_s", run_s > 0 ? sink.rows / run_s : 0.0}};
  manifest["samples"] = {{"written", sink.rows},
                         {"errors", sink.errors},
                         {"resumed", out.resumed_rows},
                         {"scored", out.metrics["num_scored"]}};
  manifest["usage_stats"] = ctx.stats;
  if (out.status == "interrupted") manifest["interrupted_by_signal"] = cancel_signal();
  write_manifest(out.run_dir, manifest);
  log::remove_file();
  return out;
}

RunOutcome run_train(const RunConfig& in, const std::vector<std::string>& argv) {
  const auto t0 = std::chrono::steady_clock::now();
  Validated v = validate(in, "train");
  const RunConfig& cfg = v.cfg;
  // Started by torchrun or srun with several processes: data parallel generative fine-tuning
  // (train/distributed.h), where only rank 0 writes the run folder and the others log warnings.
  const LaunchEnv& dist = launch_env();
  MVB_USAGE_CHECK(!dist.distributed() || cfg.task == "vqa" || cfg.task == "caption",
                  "multi-process (data parallel) training is implemented for --task vqa and caption; this process is ",
                  dist.describe(), ": run --task ", cfg.task,
                  " as one process (unset WORLD_SIZE / use srun --ntasks=1)");
  c10::Device device = resolve_device(cfg.device);
  // One process per GPU: a bare --device cuda (or auto) is this process's cuda:LOCAL_RANK.
  if (dist.distributed() && device.is_cuda() && cfg.device.find(':') == std::string::npos)
    device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(dist.local_rank % compat::cuda_device_count()));
  if (dist.distributed()) log::set_rank(dist.rank);
  const std::string dtype = model_dtype_for(cfg, device);
  MVB_CHECK(!io::exists(cfg.output_dir) || io::is_directory(cfg.output_dir), "--output_dir ", cfg.output_dir,
            " is a file; give a folder for training outputs");
  RunOutcome out;
  out.run_dir = train_run_dir(cfg);
  if (dist.writes()) {
    io::create_directories(out.run_dir);
    io::remove_stale_temp_files(out.run_dir);
    log::add_file(io::join_path(out.run_dir, "train.log"));
  }
  log_checkpoint_and_compat_notes(v.checkpoint, cfg);
  nlohmann::json manifest = {{"argv", strip_url_credentials(argv)},
                             {"config", cfg.to_json()},
                             {"versions", versions_json()},
                             {"device", device.str()},
                             {"status", "running"},
                             {"started_at", now_iso8601()}};
  if (dist.distributed())
    manifest["data_parallel"] = {{"world_size", dist.world_size},
                                 {"launcher", dist.source},
                                 {"master", dist.master_addr + ":" + std::to_string(dist.master_port)}};
  if (device.is_cpu()) core::reuse_freed_tensor_memory();  // core/cpu_memory.h; threads: the trainer's choice
  add_checkpoint_and_compat_notes(manifest, v.checkpoint, cfg);
  const auto save_manifest = [&] {
    if (dist.writes()) write_manifest(out.run_dir, manifest);
  };
  save_manifest();

  const DatasetInfo& info = v.dataset->info();
  auto reader = select_samples(v.dataset->open(DatasetRequest{cfg.task, cfg.split, cfg.image_path, cfg.cache_dir}),
                               SampleSelection::parse(cfg.shard, cfg.limit));
  std::unique_ptr<Model> model = build_model(cfg.model, *v.model, model_spec(cfg, v.checkpoint, info, device, dtype));
  manifest["model"] = model->describe();  // architecture, parameters, dtype, checkpoint, as eval records
  save_manifest();
  RunContext ctx{cfg, info, out.run_dir, device, std::move(reader), -1, model.get(), nullptr};
  ctx.total = ctx.samples->size_hint();
  v.usage->factory()->run(ctx);
  out.status = cancel_requested() ? "interrupted" : "completed";
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  manifest["status"] = out.status;
  manifest["finished_at"] = now_iso8601();
  manifest["usage_stats"] = ctx.stats;
  manifest["timings"] = {{"total_s", out.seconds}};
  save_manifest();
  log::remove_file();
  return out;
}

nlohmann::json score_run_dir(const std::string& run_dir, int bootstrap, const std::string& bertscore_model,
                             const std::string& device) {
  const std::string manifest_path = io::join_path(run_dir, kManifestFile);
  MVB_CHECK(io::exists(manifest_path), run_dir, " is not a run folder (no ", kManifestFile,
            "); give the folder that `medvlmbench eval` printed");
  const nlohmann::json manifest = io::read_json(manifest_path);
  MVB_CHECK(manifest.contains("config"), manifest_path, " has no \"config\" block; it was not written by medvlmbench");
  const auto& c = manifest["config"];
  RunConfig cfg;
  cfg.task = c.value("task", "");
  cfg.dataset = c.value("dataset", "");
  cfg.split = c.value("split", "");
  cfg.model = c.value("model", "");
  cfg.model_path = c.value("model_path", "");
  cfg.usage = c.value("usage", "");
  cfg.seed = c.value("seed", 0);
  cfg.bootstrap = bootstrap;
  cfg.bertscore_model = bertscore_model.empty() ? c.value("bertscore_model", "") : bertscore_model;
  cfg.device = device;
  std::unique_ptr<Dataset> ds;
  if (const DatasetEntry* e = dataset_registry().find(cfg.dataset)) ds = e->factory();
  std::string family;
  if (const ModelEntry* m = model_registry().find(cfg.model)) family = m->for_task(cfg.task).family;
  return score_and_write(run_dir, cfg, ds ? &ds->info() : nullptr, family, c.value("save_pred", false));
}

std::string format_summary(const nlohmann::json& m, const std::string& run_dir) {
  std::ostringstream os;
  os << m.value("task", "") << " | " << m.value("dataset", "") << " (" << m.value("split", "") << ") | "
     << m.value("model", "") << " | usage " << m.value("usage", "") << "\n";
  os << "samples: " << m.value("num_rows", 0) << " rows, " << m.value("num_scored", 0) << " scored, "
     << m.value("num_errors", 0) << " errors\n";
  const nlohmann::json metrics = m.value("metrics", nlohmann::json::object());
  const nlohmann::json ci = m.value("ci95", nlohmann::json::object());
  const nlohmann::json notes = m.value("notes", nlohmann::json::array());
  std::vector<std::string> structured;  // curves, per-class tables: too long for a summary line
  for (const auto& [name, value] : metrics.items()) {
    if (value.is_structured()) {
      structured.push_back(name);
      continue;
    }
    os << "  " << name << ": ";
    if (value.is_number()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.4f", value.get<double>());
      os << buf;
      if (ci.contains(name) && ci[name].is_array() && ci[name].size() == 2) {
        std::snprintf(buf, sizeof buf, "  [95%% CI %.4f, %.4f]", ci[name][0].get<double>(), ci[name][1].get<double>());
        os << buf;
      }
    } else {
      os << "n/a";
    }
    os << "\n";
  }
  if (!structured.empty()) os << "  (in metrics.json: " << join(structured, ", ") << ")\n";
  for (const auto& note : notes) os << "  note: " << note.get<std::string>() << "\n";
  os << "outputs: " << run_dir << "\n";
  return os.str();
}

}  // namespace mvb
