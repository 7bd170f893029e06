// MedCLIP's vision tower at its real size: a Swin-Tiny (224px, patch 4, window 7, depths 2-2-6-2,
// embed 96) with random weights, forward on CPU, ours vs transformers' SwinModel
// (tests/oracles/models/swin_bench_reference.py in the oracle environment, eager PyTorch) on the same
// batch and weights with the same thread count; the pooled outputs are compared as well. The weights
// go through SwinModel.from_pretrained under SwinModel's checkpoint names, so loading is exercised too.
//
//   bash scripts/oracle_env.sh   # once: the oracle environment (.venv) with transformers
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
#include <sstream>

#include "medvlmbench/build_info.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/nn/swin.h"
#include "medvlmbench/nn/weights.h"

namespace fs = std::filesystem;
using namespace mvb;

namespace {
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The oracle environment's interpreter, as the tests find it (MVB_ORACLE_PYTHON overrides).
std::string oracle_python() {
  const char* env = std::getenv("MVB_ORACLE_PYTHON");
  return (env && *env) ? std::string(env) : std::string(MVB_SOURCE_DIR) + "/.venv/bin/python";
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 8;
  if (argc > 2 && std::atoi(argv[2]) > 0) at::set_num_threads(std::atoi(argv[2]));
  const std::string py = oracle_python();
  if (::access(py.c_str(), X_OK) != 0) {
    std::cerr << "the oracle environment is missing (" << py << "): install it with `bash scripts/oracle_env.sh`\n";
    return 1;
  }
  const std::string work = (fs::temp_directory_path() / ("mvb_swin_bench_" + std::to_string(::getpid()))).string();
  fs::create_directories(work);
  const std::string cfg = R"({"model_type": "swin", "image_size": 224, "patch_size": 4, "embed_dim": 96,
    "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24], "window_size": 7, "mlp_ratio": 4.0, "qkv_bias": true,
    "hidden_act": "gelu", "layer_norm_eps": 1e-5, "num_channels": 3, "use_absolute_embeddings": false})";
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
  io::write_safetensors(work + "/model.safetensors", nn::named_tensors(*m));
  at::Tensor px = at::randn({batch, 3, 224, 224});
  io::write_safetensors(work + "/pixels.safetensors", {{"pixel_values", px}});

  at::NoGradGuard no_grad;
  m->forward(px.slice(0, 0, 2));  // warm-up
  double t0 = now_s();
  at::Tensor ours = m->forward(px).pooled;
  const double ours_s = now_s() - t0;

  const std::string cmd = py + " " + MVB_SOURCE_DIR + "/tests/oracles/models/swin_bench_reference.py " + work + " " +
                          std::to_string(at::get_num_threads()) + " > " + work + "/reference_time.txt";
  if (std::system(cmd.c_str()) != 0) {
    std::cerr << "swin_bench_reference.py failed (" << cmd << ")\n";
    return 1;
  }
  std::istringstream timing(io::read_file(work + "/reference_time.txt"));
  double ref_s = 0;
  std::string attn;
  timing >> ref_s >> attn;
  const double diff =
      (ours - io::open_safetensors(work + "/reference.safetensors").get("pooler_output")).abs().max().item<double>();
  std::printf(
      "Swin-Tiny vision forward (224px), batch %lld, %d threads: ours %.3f s (%.2f img/s), transformers SwinModel "
      "(%s attention) %.3f s (%.2f img/s): ratio %.2fx; max |pooled diff| %.2e\n",
      static_cast<long long>(batch), at::get_num_threads(), ours_s, batch / ours_s, attn.c_str(), ref_s, batch / ref_s,
      ref_s / ours_s, diff);
  fs::remove_all(work);
  return 0;
}
