// clip-zs throughput on CPU: images/s end to end (decode, preprocess, encode, score, write rows) with
// the tiny fixture CLIP and a ViT-B/16-sized random CLIP (built by transformers), plus the vision
// forward alone against transformers' CLIPModel (eager attention, fp32, no_grad, the same number of
// threads) run by tests/oracles/models/clip_bench_reference.py with the oracle environment
// (.venv/bin/python, or MVB_ORACLE_PYTHON), on the same batch, best of 3 each, with the load average.
//
//   ninja -C build bench_clip_bench && ./build/bench_clip_bench [num_images=96] [threads=0 (one per CPU,
//   nn/cpu_threads.h)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/nn/cpu_threads.h"
#include "medvlmbench/nn/linear.h"
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

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// A ChestXray folder of n 512x512 PNGs made from the demo images (realistic decode + resize cost).
std::string make_dataset(const std::string& root, int n) {
  const std::string src = std::string(MVB_SOURCE_DIR) + "/tests/fixtures/demo/ChestXray/train";
  for (const char* cls : {"NORMAL", "PNEUMONIA"}) fs::create_directories(root + "/test/" + cls);
  std::vector<std::pair<std::string, cv::Mat>> seeds;
  for (const char* cls : {"NORMAL", "PNEUMONIA"})
    for (const auto& e : fs::directory_iterator(src + "/" + cls)) {
      cv::Mat big;
      cv::resize(cv::imread(e.path().string(), cv::IMREAD_GRAYSCALE), big, cv::Size(512, 512), 0, 0, cv::INTER_CUBIC);
      seeds.emplace_back(cls, big);
    }
  for (int i = 0; i < n; ++i) {
    const auto& [cls, img] = seeds[i % seeds.size()];
    cv::imwrite(root + "/test/" + cls + "/img_" + std::to_string(i) + ".png", img);
  }
  return root;
}

double clip_zs_images_per_s(const std::string& model_path, const std::string& data, const std::string& out, int batch) {
  RunConfig c;
  c.command = "eval";
  c.task = "diagnosis";
  c.dataset = "ChestXray";
  c.split = "test";
  c.image_path = data;
  c.model = "CLIP";
  c.model_path = model_path;
  c.usage = "clip-zs";
  c.exp_path = out;
  c.device = "cpu";
  c.bootstrap = 0;
  c.batch_size = batch;
  c.num_workers = 2;
  const double t0 = now_s();
  RunOutcome r = run_eval(c, {"bench"});
  const double dt = now_s() - t0;
  return r.rows_written / dt;
}

}  // namespace

// The pinned PyPI oracle environment (tests/oracles/requirements.txt, `bash scripts/oracle_env.sh`).
static std::string oracle_python() {
  const char* env = std::getenv("MVB_ORACLE_PYTHON");
  return env && *env ? env : std::string(MVB_SOURCE_DIR) + "/.venv/bin/python";
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 96;
  if (argc > 2 && std::atoi(argv[2]) > 0) setenv("MVB_NUM_THREADS", argv[2], 1);
  nn::configure_cpu_threads();  // what the CLIP factory does on CPU
  log::init("warn");
  const std::string py = oracle_python();
  if (!fs::exists(py)) {
    std::cerr << "the oracle environment is missing (" << py << "): install it with `bash scripts/oracle_env.sh`\n";
    return 1;
  }
  const std::string work = "/tmp/mvb_clip_bench";
  fs::remove_all(work);
  const std::string data = make_dataset(work + "/data", n);
  const std::string base = work + "/clip-b16";
  const std::string oracles = std::string(MVB_SOURCE_DIR) + "/tests/oracles/models/";
  if (std::system((py + " " + oracles + "make_hf_clip_fixtures.py --clip-base " + base).c_str()) != 0) {
    std::cerr << "cannot make the ViT-B/16-sized checkpoint with transformers\n";
    return 1;
  }
  std::printf("clip-zs on %d 512x512 PNGs, CPU, %d libtorch threads (nn/cpu_threads.h; load %s at start)\n", n,
              at::get_num_threads(), load_average().c_str());
  const double tiny = clip_zs_images_per_s(std::string(MVB_SOURCE_DIR) + "/tests/fixtures/models/tiny-clip", data,
                                           work + "/out_tiny", 64);
  std::printf("  tiny CLIP (ViT 2L/24, 32px):      %8.1f images/s end to end\n", tiny);
  const double b16 = clip_zs_images_per_s(base, data, work + "/out_b16", 32);
  std::printf("  ViT-B/16-sized CLIP (224px):      %8.2f images/s end to end\n", b16);

  // Vision forward alone (encode_image: ViT-B/16 + projection), ours vs transformers' CLIPModel, same
  // batch and thread count (nn/cpu_threads.h: one LibTorch thread per CPU, OpenBLAS single-threaded),
  // best of `reps` each.
  ModelSpec spec;
  spec.name = "CLIP";
  spec.model_path = base;
  const auto clip = make_contrastive_towers(spec);
  const nn::CpuThreads threads = nn::configure_cpu_threads();
  const int64_t b = 16;
  const int reps = 3;
  at::manual_seed(0);
  at::Tensor px = at::randn({b, 3, 224, 224});
  at::Tensor ours_feats;
  auto best_of = [&](nn::CpuLinearRoute route) {
    nn::set_cpu_linear_route(route);
    clip->encode_image(px.slice(0, 0, 2));  // warm-up
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now_s();
      ours_feats = clip->encode_image(px);
      best = std::min(best, now_s() - t0);
    }
    return best;
  };
  const double ours_aten_s = best_of(nn::CpuLinearRoute::kAtLinear);
  const double ours_onednn_s = best_of(nn::CpuLinearRoute::kOnednn);
  const double ours_s = best_of(nn::CpuLinearRoute::kAuto);  // last: its features are compared
  io::write_safetensors(work + "/px.safetensors", {{"pixel_values", px}});
  const std::string ref_out = work + "/ref.safetensors", ref_txt = work + "/ref_time.txt";
  const std::string cmd = py + " " + oracles + "clip_bench_reference.py " + base + " " + work + "/px.safetensors " +
                          ref_out + " " + std::to_string(reps) + " " + std::to_string(threads.intra_op) +
                          (threads.openblas_single ? " --openblas-single" : "") + " > " + ref_txt;
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "transformers reference timing failed: " << cmd << "\n";
    return 1;
  }
  std::istringstream in(io::read_file(ref_txt));
  int ref_threads = 0;
  double ref_s = -1;
  in >> ref_threads >> ref_s;
  const double diff = (ours_feats - io::open_safetensors(ref_out).get("image_embeds")).abs().max().item<double>();
  std::printf("  ViT-B/16 encode_image, batch %lld, best of %d (load average %s):\n", static_cast<long long>(b), reps,
              load_average().c_str());
  std::printf("    ours, %d threads, default kernels:            %6.2f s (%5.2f img/s)\n", threads.intra_op, ours_s,
              b / ours_s);
  std::printf("    ours, %d threads, oneDNN linear:              %6.2f s (%5.2f img/s)\n", threads.intra_op,
              ours_onednn_s, b / ours_onednn_s);
  std::printf("    ours, %d threads, at::linear:                 %6.2f s (%5.2f img/s)\n", threads.intra_op,
              ours_aten_s, b / ours_aten_s);
  std::printf("    transformers CLIPModel, eager, %d thread(s):   %6.2f s (%5.2f img/s)\n", ref_threads, ref_s,
              b / ref_s);
  std::printf("    ratio ours / transformers: %.2fx (throughput); max |image_embeds diff| %.2e\n", ref_s / ours_s,
              diff);
  fs::remove_all(work);
  return 0;
}
