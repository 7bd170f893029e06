// clip-zs throughput on CPU: images/s end to end (decode, preprocess, encode, score, write rows) with
// the tiny fixture CLIP and a ViT-B/16-sized random CLIP, plus the vision forward alone against the
// python3-torch reference implementation (scripts/reference/clip_reference.py, eager PyTorch, the same
// libtorch 1.13 kernels) on the same batch in the same command.
//
//   ninja -C build bench_clip_bench && ./build/bench_clip_bench [num_images=96] [threads=0 (libtorch default)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/log.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/models/contrastive_towers.h"
#include "medvlmbench/tasks/pipeline.h"

namespace fs = std::filesystem;
using namespace mvb;

namespace {

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
  if (argc > 2 && std::atoi(argv[2]) > 0) at::set_num_threads(std::atoi(argv[2]));
  log::init("warn");
  const std::string work = "/tmp/mvb_clip_bench";
  fs::remove_all(work);
  const std::string data = make_dataset(work + "/data", n);
  const std::string base = work + "/clip-b16";
  const std::string py = MVB_SYSTEM_PYTHON;
  if (std::system((py + " " + MVB_SOURCE_DIR + "/scripts/make_model_fixtures.py --clip-base " + base).c_str()) != 0) {
    std::cerr << "cannot make the ViT-B/16-sized checkpoint (needs /usr/bin/python3 with python3-torch)\n";
    return 1;
  }
  std::printf("clip-zs on %d 512x512 PNGs, CPU, %d libtorch threads\n", n, at::get_num_threads());
  const double tiny = clip_zs_images_per_s(std::string(MVB_SOURCE_DIR) + "/tests/fixtures/models/tiny-clip", data,
                                           work + "/out_tiny", 64);
  std::printf("  tiny CLIP (ViT 2L/24, 32px):      %8.1f images/s end to end\n", tiny);
  const double b16 = clip_zs_images_per_s(base, data, work + "/out_b16", 32);
  std::printf("  ViT-B/16-sized CLIP (224px):      %8.2f images/s end to end\n", b16);

  // Vision forward alone, ours vs the eager python3-torch reference, same batch.
  ModelSpec spec;
  spec.model_path = base;
  auto model = model_registry().get("CLIP").factory(spec);
  auto* clip = dynamic_cast<ContrastiveTowers*>(model.get());
  const int64_t b = 16;
  at::manual_seed(0);
  at::Tensor px = at::randn({b, 3, 224, 224});
  clip->encode_image(px.slice(0, 0, 2));  // warm-up
  double t0 = now_s();
  at::Tensor ours = clip->encode_image(px);
  const double ours_s = now_s() - t0;
  io::write_safetensors(work + "/px.safetensors", {{"pixel_values", px}});
  const std::string snippet =
      "import sys,time,json,torch; sys.path.insert(0,'" + std::string(MVB_SOURCE_DIR) +
      "/scripts/reference'); import clip_reference as r, st_io; torch.set_num_threads(" +
      std::to_string(at::get_num_threads()) + "); cfg=json.load(open('" + base + "/config.json')); sd=st_io.load('" +
      base + "/model.safetensors'); px=st_io.load('" + work +
      "/px.safetensors')['pixel_values']\nwith torch.no_grad():\n r.vision(sd,cfg['vision_config'],px[:2]); "
      "t=time.time(); out=r.vision(sd,cfg['vision_config'],px); print(time.time()-t)";
  const std::string cmd = py + " -c \"" + snippet + "\" > " + work + "/ref_time.txt";
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "reference timing failed\n";
    return 1;
  }
  const double ref_s = std::stod(io::read_file(work + "/ref_time.txt"));
  std::printf(
      "  ViT-B/16 vision forward, batch %lld: ours %.2f s (%.2f img/s), python3-torch eager reference %.2f s "
      "(%.2f img/s): ratio %.2fx\n",
      static_cast<long long>(b), ours_s, b / ours_s, ref_s, b / ref_s, ref_s / ours_s);
  fs::remove_all(work);
  return 0;
}
