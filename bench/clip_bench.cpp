// clip-zs throughput on CPU: images/s end to end (decode, preprocess, encode, score, write rows) with
// the tiny fixture CLIP and a ViT-B/16-sized random CLIP, plus the vision forward alone against the
// python3-torch reference implementation (scripts/reference/clip_reference.py, eager PyTorch, the same
// libtorch 1.13 kernels) on the same batch in the same command, best of 3 each, with the load average.
//
//   ninja -C build bench_clip_bench && ./build/bench_clip_bench [num_images=96] [threads=0 (one per CPU,
//   nn/cpu_threads.h)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 96;
  if (argc > 2 && std::atoi(argv[2]) > 0) setenv("MVB_NUM_THREADS", argv[2], 1);
  nn::configure_cpu_threads();  // what the CLIP factory does on CPU
  log::init("warn");
  const std::string work = "/tmp/mvb_clip_bench";
  fs::remove_all(work);
  const std::string data = make_dataset(work + "/data", n);
  const std::string base = work + "/clip-b16";
  const std::string py = MVB_SYSTEM_PYTHON;
  if (std::system((py + " " + MVB_SOURCE_DIR + "/tests/oracles/models/make_model_fixtures.py --clip-base " + base).c_str()) != 0) {
    std::cerr << "cannot make the ViT-B/16-sized checkpoint (needs /usr/bin/python3 with python3-torch)\n";
    return 1;
  }
  std::printf("clip-zs on %d 512x512 PNGs, CPU, %d libtorch threads (nn/cpu_threads.h; load %s at start)\n", n,
              at::get_num_threads(), load_average().c_str());
  const double tiny = clip_zs_images_per_s(std::string(MVB_SOURCE_DIR) + "/tests/fixtures/models/tiny-clip", data,
                                           work + "/out_tiny", 64);
  std::printf("  tiny CLIP (ViT 2L/24, 32px):      %8.1f images/s end to end\n", tiny);
  const double b16 = clip_zs_images_per_s(base, data, work + "/out_b16", 32);
  std::printf("  ViT-B/16-sized CLIP (224px):      %8.2f images/s end to end\n", b16);

  // Vision forward alone (encode_image: ViT-B/16 + projection), ours vs the eager python3-torch port,
  // same batch, best of `reps` each. The reference runs twice: with python3-torch's default threads
  // (what `python clip_reference.py` gets) and with our thread policy (nn/cpu_threads.h: one LibTorch
  // thread per CPU, OpenBLAS single-threaded); the ratio is against the faster of the two.
  ModelSpec spec;
  spec.name = "CLIP";
  spec.model_path = base;
  const auto clip = make_contrastive_towers(spec);
  const nn::CpuThreads threads = nn::configure_cpu_threads();
  const int64_t b = 16;
  const int reps = 3;
  at::manual_seed(0);
  at::Tensor px = at::randn({b, 3, 224, 224});
  auto best_of = [&](bool onednn) {
    nn::set_onednn_linear(onednn);
    clip->encode_image(px.slice(0, 0, 2));  // warm-up (and the oneDNN weight copies)
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now_s();
      clip->encode_image(px);
      best = std::min(best, now_s() - t0);
    }
    return best;
  };
  const double ours_blas_s = best_of(false);
  const double ours_s = best_of(true);
  io::write_safetensors(work + "/px.safetensors", {{"pixel_values", px}});
  const std::string script = work + "/ref_time.py";
  std::ofstream(script)
      << "import sys, time, json, ctypes, torch\n"
      << "sys.path.insert(0, '" << MVB_SOURCE_DIR << "/tests/oracles/models'); sys.path.insert(0, '" << MVB_SOURCE_DIR << "/tests/oracles/common')\n"
      << "import clip_reference as r, st_io\n"
      << "if sys.argv[1] == 'ours':\n"
      << "    ctypes.CDLL('libblas.so.3').openblas_set_num_threads(1)\n"
      << "    torch.set_num_threads(" << threads.intra_op << ")\n"
      << "cfg = json.load(open('" << base << "/config.json'))\n"
      << "sd = st_io.load('" << base << "/model.safetensors')\n"
      << "px = st_io.load('" << work << "/px.safetensors')['pixel_values']\n"
      << "best = 1e30\n"
      << "with torch.no_grad():\n"
      << "    r.vision(sd, cfg['vision_config'], px[:2])\n"
      << "    for _ in range(" << reps << "):\n"
      << "        t = time.time(); r.vision(sd, cfg['vision_config'], px); best = min(best, time.time() - t)\n"
      << "print(torch.get_num_threads(), best)\n";
  auto reference = [&](const std::string& mode, int* ref_threads) {
    const std::string out = work + "/ref_" + mode + ".txt";
    if (std::system((py + " " + script + " " + mode + " > " + out).c_str()) != 0) return -1.0;
    std::istringstream in(io::read_file(out));
    double t = -1;
    in >> *ref_threads >> t;
    return t;
  };
  int default_threads = 0, ours_threads = 0;
  const double ref_default_s = reference("default", &default_threads);
  const double ref_ours_s = threads.openblas_single ? reference("ours", &ours_threads) : -1.0;
  if (ref_default_s <= 0) {
    std::cerr << "reference timing failed\n";
    return 1;
  }
  const double ref_s = ref_ours_s > 0 ? std::min(ref_default_s, ref_ours_s) : ref_default_s;
  std::printf("  ViT-B/16 encode_image, batch %lld, best of %d (load average %s):\n", static_cast<long long>(b), reps,
              load_average().c_str());
  std::printf("    ours, %d threads, oneDNN linear:          %6.2f s (%5.2f img/s)\n", threads.intra_op, ours_s,
              b / ours_s);
  std::printf("    ours, %d threads, BLAS linear:            %6.2f s (%5.2f img/s)\n", threads.intra_op, ours_blas_s,
              b / ours_blas_s);
  std::printf("    python3-torch port, default %d thread(s): %6.2f s (%5.2f img/s)\n", default_threads, ref_default_s,
              b / ref_default_s);
  if (ref_ours_s > 0)
    std::printf("    python3-torch port, our thread policy:   %6.2f s (%5.2f img/s)\n", ref_ours_s, b / ref_ours_s);
  std::printf("    ratio ours / best python3-torch: %.2fx (throughput)\n", ref_s / ours_s);
  fs::remove_all(work);
  return 0;
}
