// One LoRA training step on CPU (issue 17): the random ~100M-parameter LLaVA-1.5-shaped VLM of
// bench/generation_bench.cpp (llava-hf layout, LLaMA 12 x 768, CLIP ViT 6 x 384, 49 image tokens; made
// by tests/oracles/models/generation_bench_reference.py make), LoRA r 16 / alpha 32 on every Linear
// of the decoder layers (the reference's find_lora_modules with --tune_modules L), AdamW; a batch
// of B SLAKE-fixture image + question + answer samples. Measured, fp32, with the threads `medvlmbench train`
// uses (nn::configure_training_threads; transformers gets as many as our busiest pool):
//   - ours: forward + backward + AdamW step through train::TrainableVlm (what `medvlmbench train` runs),
//     with and without --gradient_checkpointing; median step time, tokens/s (real tokens incl. image
//     tokens), peak CPU tensor memory of a step (core/cpu_memory.h) and peak-RSS growth over the steps (from
//     before the warm-up step);
//   - transformers + PEFT on the same model, batch and targets
//     (tests/oracles/train/lora_step_bench_reference.py), in the same command: step time, tokens/s,
//     peak-RSS growth; and the ratios.
// The load average is printed: on a shared machine, compare the ratios, not the absolute numbers, and
// measure in a quiet moment: on 2 CPUs at load ~5, OpenMP's fork-join over 2 threads slowed either side
// 2-7x, whichever happened to meet the busier seconds.
// Like `medvlmbench train`, the bench first re-executes itself onto the OpenBLAS kernels the CPU supports
// when OpenBLAS fell back to older ones (nn/openblas_kernels.h), and prints the BLAS each side ran on.
//
//   ninja -C build bench_lora_step_bench && ./build/bench_lora_step_bench [batch=4] [steps=5] [threads=0]
// Needs the oracle environment (.venv/bin/python or MVB_ORACLE_PYTHON).
#include <ATen/ATen.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "medvlmbench/core/cpu_memory.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/core/process_stats.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/llava/llava_model.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/checkpoint.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/nn/decoder.h"
#include "medvlmbench/nn/openblas_kernels.h"
#include "medvlmbench/train/generative_trainer.h"
#include "medvlmbench/train/optim.h"
#include "medvlmbench/train/sft.h"
#include "support/bench_harness.h"

namespace fs = std::filesystem;
using namespace mvb;

namespace {

const std::vector<std::pair<std::string, std::string>> kQa = {
    {"What organ is shown in this image?", "The lung, seen on a chest CT scan."},
    {"Which modality is used to take this image?", "Computed tomography."},
    {"Where is the abnormality located?", "In the left lower lobe, near the hilum."},
    {"What diseases are included in the picture?", "Pneumonia and a small pleural effusion."}};

// The batch as transformers takes it: each -200 expanded to the image's tokens, right-padded.
void write_hf_batch(const std::string& path, const std::vector<train::SftExample>& b, int64_t image_token,
                    int64_t per_image) {
  std::vector<std::vector<int64_t>> ids, labels;
  size_t longest = 0;
  for (const auto& ex : b) {
    std::vector<int64_t> i, l;
    for (size_t k = 0; k < ex.input_ids.size(); ++k) {
      if (ex.input_ids[k] == -200) {
        i.insert(i.end(), per_image, image_token);
        l.insert(l.end(), per_image, train::kIgnoreIndex);
      } else {
        i.push_back(ex.input_ids[k]);
        l.push_back(ex.labels[k]);
      }
    }
    longest = std::max(longest, i.size());
    ids.push_back(i);
    labels.push_back(l);
  }
  const int64_t B = static_cast<int64_t>(b.size()), L = static_cast<int64_t>(longest);
  at::Tensor t_ids = at::zeros({B, L}, at::kLong), t_lab = at::full({B, L}, train::kIgnoreIndex, at::kLong),
             t_mask = at::zeros({B, L}, at::kLong);
  std::vector<at::Tensor> px;
  for (int64_t r = 0; r < B; ++r) {
    const int64_t n = static_cast<int64_t>(ids[r].size());
    t_ids[r].slice(0, 0, n).copy_(at::tensor(ids[r], at::kLong));
    t_lab[r].slice(0, 0, n).copy_(at::tensor(labels[r], at::kLong));
    t_mask[r].slice(0, 0, n).fill_(1);
    for (const auto& p : b[r].pixels) px.push_back(p);
  }
  io::write_safetensors(
      path, {{"input_ids", t_ids}, {"labels", t_lab}, {"attention_mask", t_mask}, {"pixel_values", at::stack(px)}});
}

struct Result {
  double step_s = 0, loss = 0, peak_tensor_mb = 0, peak_rss_mb = -1;
};

Result run_ours(const std::string& model_dir, const std::vector<std::pair<std::string, std::string>>& samples,
                const std::vector<std::string>& images, bool checkpointing, int steps,
                std::vector<std::string>* targets, std::vector<train::SftExample>* batch_out) {
  ModelSpec spec;
  spec.name = "LLaVA-1.5";
  spec.model_path = model_dir;
  spec.dtype = "fp32";
  llava::LlavaModel model(spec, llava::LlavaModel::Variant::kLlava15);
  auto t = train::make_trainable(model, "LLaVA-1.5");
  const train::TrainPlan plan = t->plan("L", true);
  nn::LoraConfig lcfg;
  lcfg.r = 16;
  lcfg.alpha = 32;
  lcfg.dropout = 0;
  torch::manual_seed(0);
  train::add_lora(t->root(), plan.lora_modules, lcfg);
  const auto trainable = train::select_trainable(t->root(), plan, true, "none");
  if (targets)
    for (const auto& m : plan.lora_modules) targets->push_back(*t->peft_name(m));
  for (auto& m : t->root().modules(true))
    if (dynamic_cast<nn::DecoderModelImpl*>(m.get())) nn::set_gradient_checkpointing(*m, checkpointing);
  train::ParamGroup g;
  g.name = "all";
  g.lr = 1e-4;
  g.params = trainable;
  train::AdamW opt({g});
  std::vector<train::SftExample> batch;
  train::SftOptions so;
  for (size_t i = 0; i < samples.size(); ++i)
    batch.push_back(t->example(samples[i].first, samples[i].second, {ImageRef::file(images[i])}, so));
  if (batch_out) *batch_out = batch;
  t->root().train();
  auto step = [&] {
    auto [sum, count] = t->loss_sum(batch);
    const at::Tensor loss = sum / static_cast<double>(count);
    loss.backward();
    opt.step(1.0);
    opt.zero_grad();
    return loss.item<double>();
  };
  Result r;
  // Memory is measured from before the warm-up step: after it, the allocator keeps what the step freed
  // resident and the timed steps reuse it, so growth measured from there reads ~0 on both sides. Free
  // heap memory (e.g. the previous run's model in this process) goes back to the OS first.
  malloc_trim(0);
  const bool can_peak = core::reset_peak_rss();
  const int64_t rss0 = core::proc_status_kb("VmRSS");
  core::reset_cpu_peak();
  const int64_t live0 = core::cpu_live_bytes();
  r.loss = step();  // warm-up
  std::vector<double> times;
  for (int s = 0; s < steps; ++s) {
    const double t0 = bench::now_s();
    r.loss = step();
    times.push_back(bench::now_s() - t0);
  }
  std::sort(times.begin(), times.end());
  r.step_s = times[times.size() / 2];
  r.peak_tensor_mb = (core::cpu_peak_bytes() - live0) / 1048576.0;
  if (can_peak) r.peak_rss_mb = (core::proc_status_kb("VmHWM") - rss0) / 1024.0;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  // The kernel choice `medvlmbench train` makes (src/cli/main.cpp), before anything else runs.
  nn::reexec_with_faster_openblas_kernels(argv);
  const int batch = argc > 1 ? std::atoi(argv[1]) : 4;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 5;
  if (argc > 3 && std::atoi(argv[3]) > 0) setenv("MVB_NUM_THREADS", argv[3], 1);
  // The threads `medvlmbench train` runs a CPU step with (nn/cpu_threads.h).
  const nn::CpuThreads threads = nn::configure_training_threads();
  // transformers + PEFT gets as many threads as our busiest pool (LibTorch's, or OpenBLAS's when that
  // one runs the products).
  const int cpus = std::max(threads.intra_op, threads.openblas);
  log::init("warn");
  core::install_cpu_memory_tracker();
  if (batch < 1 || steps < 1) {
    std::cerr << "usage: bench_lora_step_bench [batch>=1] [steps>=1] [threads]\n";
    return 2;
  }
  const std::string py = bench::oracle_python();  // prints how to install it when missing
  if (py.empty()) return 1;
  const std::string src = mvb::bench::source_path("");
  const std::string work = "/tmp/mvb_lora_step_bench";
  fs::remove_all(work);
  fs::create_directories(work);
  const std::string model_dir = work + "/llava-100m";
  std::printf("making the ~100M LLaVA checkpoint with transformers ...\n");
  std::fflush(stdout);
  if (std::system((py + " " + src + "/tests/oracles/models/generation_bench_reference.py make " + model_dir + " " +
                   src + "/tests/fixtures/models/llava/hf > " + work + "/params.txt")
                      .c_str()) != 0) {
    std::cerr << "cannot make the checkpoint with transformers\n";
    return 1;
  }
  std::vector<std::string> images;
  for (const auto& e : fs::directory_iterator(src + "/tests/fixtures/datasets/SLAKE/imgs"))
    images.push_back(e.path().string() + "/source.jpg");
  std::sort(images.begin(), images.end());
  std::vector<std::pair<std::string, std::string>> samples;
  std::vector<std::string> sample_images;
  for (int i = 0; i < batch; ++i) {
    samples.push_back(kQa[i % kQa.size()]);
    sample_images.push_back(images[i % images.size()]);
  }
  const std::string load_start = bench::load_average();
  std::vector<std::string> targets;
  std::vector<train::SftExample> ex;
  const Result plain = run_ours(model_dir, samples, sample_images, false, steps, &targets, &ex);
  const Result ckpt = run_ours(model_dir, samples, sample_images, true, steps, nullptr, nullptr);
  {
    const nlohmann::json cfg = io::read_json(model_dir + "/config.json");
    const int64_t per_image = cfg["image_seq_length"].get<int64_t>();
    write_hf_batch(work + "/batch.safetensors", ex, cfg["image_token_index"].get<int64_t>(), per_image);
    std::ofstream(work + "/targets.json")
        << nlohmann::json{{"target_modules", targets}, {"r", 16}, {"lora_alpha", 32}}.dump();
  }
  const at::Tensor mask = io::open_safetensors(work + "/batch.safetensors").get("attention_mask");
  const double tokens = mask.sum().item<double>();
  const std::string cmd = py + " " + src + "/tests/oracles/train/lora_step_bench_reference.py " + model_dir + " " +
                          work + "/batch.safetensors " + work + "/targets.json " + work + "/hf.json " +
                          std::to_string(steps) + " " + std::to_string(cpus);
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "the transformers + PEFT side failed\n";
    return 1;
  }
  const nlohmann::json hf = io::read_json(work + "/hf.json");
  const double hf_step = hf["step_s"].get<double>();
  std::printf(
      "LoRA step (r 16, %zu decoder Linears), batch %d (%.0f tokens incl. 49 image tokens each), fp32 CPU; "
      "load %s at start, %s at end\n",
      targets.size(), batch, tokens, load_start.c_str(), bench::load_average().c_str());
  std::printf("%-34s %9s %10s %12s %14s %8s\n", "", "step s", "tokens/s", "peak RSS MB", "peak tensor MB", "loss");
  auto row = [&](const char* name, double step_s, double rss, double tensor, double loss) {
    std::printf("%-34s %9.3f %10.1f %12.1f %14s %8.4f\n", name, step_s, tokens / step_s, rss,
                tensor >= 0 ? std::to_string(static_cast<int>(tensor + 0.5)).c_str() : "-", loss);
  };
  std::printf("ours: %s; %d LibTorch intra-op thread(s), %d OpenBLAS thread(s)\n", bench::our_blas().c_str(),
              threads.intra_op, threads.openblas);
  std::printf("transformers + PEFT: torch %s, %s; %d thread(s)\n", hf.value("torch", std::string("?")).c_str(),
              hf.value("blas", std::string("?")).c_str(), hf.value("threads", 0));
  row("medvlmbench", plain.step_s, plain.peak_rss_mb, plain.peak_tensor_mb, plain.loss);
  row("medvlmbench --gradient_checkpointing", ckpt.step_s, ckpt.peak_rss_mb, ckpt.peak_tensor_mb, ckpt.loss);
  row("transformers + PEFT", hf_step, hf["peak_rss_growth_mb"].get<double>(), -1, hf["loss"].get<double>());
  std::printf("speed ratio (ours / transformers+PEFT tokens/s): %.2fx plain, %.2fx checkpointed\n",
              hf_step / plain.step_s, hf_step / ckpt.step_s);
  std::printf("peak RSS growth ratio (ours / transformers+PEFT): %.2f plain, %.2f checkpointed\n",
              plain.peak_rss_mb / hf["peak_rss_growth_mb"].get<double>(),
              ckpt.peak_rss_mb / hf["peak_rss_growth_mb"].get<double>());
  return 0;
}
