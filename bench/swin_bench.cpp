// MedCLIP's vision tower at its real size: a Swin-Tiny (224px, patch 4, window 7, depths 2-2-6-2,
// embed 96) with random weights, forward on CPU, ours vs the python3-torch port of transformers'
// modeling_swin.py (scripts/reference/medclip_reference.py, eager PyTorch, the same libtorch 1.13
// kernels) on the same batch and weights in the same command; the outputs are compared as well.
//
//   ninja -C build bench_swin_bench && ./build/bench_swin_bench [batch=8] [threads=0 (libtorch default)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "medvlmbench/build_info.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/swin.h"
#include "medvlmbench/nn/weights.h"

namespace fs = std::filesystem;
using namespace mvb;

namespace {
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 8;
  if (argc > 2 && std::atoi(argv[2]) > 0) at::set_num_threads(std::atoi(argv[2]));
  const std::string py = MVB_SYSTEM_PYTHON;
  const std::string work = (fs::temp_directory_path() / ("mvb_swin_bench_" + std::to_string(::getpid()))).string();
  fs::create_directories(work);
  const std::string cfg = R"({"image_size": 224, "patch_size": 4, "embed_dim": 96, "depths": [2, 2, 6, 2],
    "num_heads": [3, 6, 12, 24], "window_size": 7, "mlp_ratio": 4.0, "qkv_bias": true, "hidden_act": "gelu",
    "layer_norm_eps": 1e-5})";
  io::write_file_atomic(work + "/config.json", cfg);
  at::manual_seed(0);
  nn::SwinModel m(nn::SwinOptions::from_config(nlohmann::json::parse(cfg), "bench config"));
  {
    at::NoGradGuard no_grad;
    for (auto& p : m->named_parameters(true)) {
      at::Tensor& t = p.value();
      const double fan_in = t.dim() > 1 ? static_cast<double>(t.numel() / t.size(0)) : 50.0;
      t.copy_(at::randn(t.sizes()) / std::sqrt(fan_in));
    }
  }
  m->eval();
  io::write_safetensors(work + "/w.safetensors", nn::named_tensors(*m));
  at::Tensor px = at::randn({batch, 3, 224, 224});
  io::write_safetensors(work + "/px.safetensors", {{"pixel_values", px}});

  at::NoGradGuard no_grad;
  m->forward(px.slice(0, 0, 2));  // warm-up
  double t0 = now_s();
  at::Tensor ours = m->forward(px).pooled;
  const double ours_s = now_s() - t0;

  const std::string snippet = "import sys,time,json,torch; sys.path.insert(0,'" + std::string(MVB_SOURCE_DIR) +
                              "/tests/oracles/models'); sys.path.insert(0,'" + std::string(MVB_SOURCE_DIR) + "/tests/oracles/common'); import medclip_reference as r, st_io; torch.set_num_threads(" +
                              std::to_string(at::get_num_threads()) + "); cfg=json.load(open('" + work +
                              "/config.json')); sd=st_io.load('" + work + "/w.safetensors'); px=st_io.load('" + work +
                              "/px.safetensors')['pixel_values']\nwith torch.no_grad():\n r.swin_model(sd,cfg,px[:2]); "
                              "t=time.time(); out,_=r.swin_model(sd,cfg,px); print(time.time()-t); st_io.save('" +
                              work + "/ref.safetensors', {'pooled': out})";
  if (std::system((py + " -c \"" + snippet + "\" > " + work + "/ref_time.txt").c_str()) != 0) {
    std::cerr << "reference timing failed (needs /usr/bin/python3 with python3-torch)\n";
    return 1;
  }
  const double ref_s = std::stod(io::read_file(work + "/ref_time.txt"));
  const double diff = (ours - io::open_safetensors(work + "/ref.safetensors").get("pooled")).abs().max().item<double>();
  std::printf(
      "Swin-Tiny vision forward (224px), batch %lld, %d threads: ours %.3f s (%.2f img/s), python3-torch eager "
      "reference %.3f s (%.2f img/s): ratio %.2fx; max |pooled diff| %.2e\n",
      static_cast<long long>(batch), at::get_num_threads(), ours_s, batch / ours_s, ref_s, batch / ref_s,
      ref_s / ours_s, diff);
  fs::remove_all(work);
  return 0;
}
