// The one way to load a state dict: read_weights (lazy, renamed views of the mapped checkpoint) and
// assign_weights (strict copy into a module with load_state_dict's report). Also the memory claim
// of issue 13 at small scale: a sharded bf16 checkpoint loads into a bf16 module holding about one
// copy of the weights (mapped files, pages given back after each copy), and a missing shard is a
// clear error.
#include "medvlmbench/nn/weights.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/process_stats.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"
#include "support/test_support.h"

namespace mvb {
namespace {

using test::error_message_of;
using test::TempDir;

io::StateDict make(const TempDir& d, const std::string& file,
                   const std::vector<std::pair<std::string, at::Tensor>>& ts) {
  io::write_safetensors(d / file, ts);
  return io::StateDict::open(d / file);
}

TEST(Weights, AssignReportsMissingUnexpectedAndMismatched) {
  TempDir d;
  torch::nn::Sequential net(torch::nn::Linear(3, 2), torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
  const at::Tensor w = at::randn({2, 3}).to(at::kBFloat16);
  io::StateDict sd =
      make(d, "w.safetensors",
           {{"0.weight", w}, {"0.bias", at::ones({2})}, {"1.weight", at::full({2}, 2.0)}, {"extra", at::ones({1})}});
  // Strict: the error names the checkpoint and every kind of problem.
  const std::string m = error_message_of([&] { nn::assign_weights(*net, nn::read_weights(sd, nullptr), sd.source()); });
  EXPECT_NE(m.find("cannot load " + sd.source()), std::string::npos) << m;
  EXPECT_NE(m.find("missing: 1.bias"), std::string::npos) << m;
  EXPECT_NE(m.find("unexpected: extra"), std::string::npos) << m;

  // The rename function skips tensors; optional names may be absent.
  auto skip_extra = [](const std::string& n) -> std::optional<std::string> {
    if (n == "extra") return std::nullopt;
    return n;
  };
  nn::AssignReport r = nn::assign_weights(*net, nn::read_weights(sd, skip_extra), sd.source(), {"1.bias"});
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.loaded, 3u);
  // bf16 in the file, fp32 in the module: cast on copy, exact for bf16 values.
  EXPECT_TRUE(at::equal(net->named_parameters()["0.weight"], w.to(at::kFloat)));
  EXPECT_TRUE(at::equal(net->named_parameters()["1.weight"], at::full({2}, 2.0)));

  // A bf16 module gets bf16 values (the copy casts to the module's dtype).
  net->to(at::kBFloat16);
  nn::assign_weights(*net, nn::read_weights(sd, skip_extra), sd.source(), {"1.bias"});
  EXPECT_EQ(net->named_parameters()["0.weight"].scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(net->named_parameters()["0.weight"], w));

  // Renames onto module names; two names landing on one is an error naming both.
  io::StateDict prefixed = make(d, "p.safetensors",
                                {{"model.0.weight", w},
                                 {"model.0.bias", at::ones({2})},
                                 {"model.1.weight", at::ones({2})},
                                 {"model.1.bias", at::zeros({2})}});
  auto strip = [](const std::string& n) -> std::optional<std::string> { return n.substr(6); };
  EXPECT_EQ(nn::assign_weights(*net, nn::read_weights(prefixed, strip), prefixed.source()).loaded, 4u);
  const std::string clash = error_message_of([&] {
    nn::read_weights(prefixed, [](const std::string&) -> std::optional<std::string> { return std::string("x"); });
  });
  EXPECT_NE(clash.find("map to 'x'"), std::string::npos) << clash;

  // Shape mismatches name the tensor and both shapes.
  io::StateDict bad = make(d, "bad.safetensors",
                           {{"0.weight", at::ones({3, 2})},
                            {"0.bias", at::ones({2})},
                            {"1.weight", at::ones({2})},
                            {"1.bias", at::ones({2})}});
  const std::string mm =
      error_message_of([&] { nn::assign_weights(*net, nn::read_weights(bad, nullptr), bad.source()); });
  EXPECT_NE(mm.find("shape mismatch: 0.weight: checkpoint [3, 2] vs model [2, 3]"), std::string::npos) << mm;
}

TEST(Weights, ReleasedPagesReadBackFromTheFile) {
  TempDir d;
  const at::Tensor v = at::arange(0, 1 << 16, at::kFloat);  // 256 KiB: whole pages to give back
  io::StateDict sd = make(d, "w.safetensors", {{"v", v}});
  at::Tensor mapped = sd.get("v");
  ASSERT_TRUE(at::equal(mapped, v));
  io::release_mapped_pages(mapped);
  EXPECT_TRUE(at::equal(mapped, v));       // faulted back in from the file
  io::release_mapped_pages(v.clone());     // not on a mapping: nothing happens
  io::release_mapped_pages(at::Tensor());  // undefined: nothing happens
  EXPECT_TRUE(at::equal(mapped, v));
}

// ---- Loading memory --------------------------------------------------------------------------

// A bf16 "model" whose parameters are allocated, not initialised (as a loader that fills every
// parameter from the checkpoint allocates them): their pages are first touched by the copy.
struct Bf16Weight : torch::nn::Module {
  explicit Bf16Weight(int64_t dim) { register_parameter("weight", at::empty({dim, dim}, at::kBFloat16)); }
};
struct Bf16Stack : torch::nn::Module {
  Bf16Stack(int layers, int64_t dim) {
    auto list = register_module("layers", torch::nn::ModuleList());
    for (int i = 0; i < layers; ++i) list->push_back(std::make_shared<Bf16Weight>(dim));
  }
};

constexpr int kLayers = 8;
constexpr int64_t kDim = 2048;  // 8 layers x 2048 x 2048 x 2 bytes = 64 MiB

// Writes layers 0-3 and 4-7 into two shards plus model.safetensors.index.json, as
// save_pretrained(max_shard_size=...) lays them out. Values are seeded, so the test can rebuild them.
void write_sharded(const TempDir& d) {
  nlohmann::json weight_map = nlohmann::json::object();
  for (int s = 0; s < 2; ++s) {
    const std::string shard = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
    std::vector<std::pair<std::string, at::Tensor>> ts;
    for (int i = s * kLayers / 2; i < (s + 1) * kLayers / 2; ++i) {
      const std::string name = "layers." + std::to_string(i) + ".weight";
      at::manual_seed(i);
      ts.emplace_back(name, at::randn({kDim, kDim}).to(at::kBFloat16));
      weight_map[name] = shard;
    }
    io::write_safetensors(d / shard, ts);
  }
  std::ofstream(d / "model.safetensors.index.json")
      << nlohmann::json{{"metadata", {{"total_size", kLayers * kDim * kDim * 2}}}, {"weight_map", weight_map}}.dump();
}

TEST(Weights, ShardedBf16CheckpointLoadsWithAboutOneCopyInMemory) {
  TempDir d;
  write_sharded(d);
  // Hand the writer's freed buffers back to the kernel, so the model's allocations below are not
  // served from already-resident heap (which would hide their cost).
  ::malloc_trim(0);
  const core::PeakRssMeter peak;
  if (!peak.available()) GTEST_SKIP() << "/proc/self/clear_refs is not writable here: cannot measure peak RSS";
  const int64_t weights_kb = kLayers * kDim * kDim * 2 / 1024;
  {
    Bf16Stack model(kLayers, kDim);
    io::StateDict sd = io::StateDict::open(d.path());  // the folder: reads the index
    EXPECT_EQ(sd.source(), d / "model.safetensors.index.json");
    ASSERT_EQ(sd.size(), static_cast<size_t>(kLayers));
    nn::assign_weights(model, nn::read_weights(sd, nullptr), sd.source());
    const int64_t peak_growth_kb = peak.growth_kb();
    // One copy is the module's parameters; the mapping adds at most a tensor in flight (8 MiB).
    // Without giving the pages back the growth is two copies (measured: ~2.0x).
    EXPECT_LT(peak_growth_kb, weights_kb * 13 / 10)
        << "peak RSS grew " << peak_growth_kb / 1024 << " MiB loading " << weights_kb / 1024 << " MiB of bf16 weights";
    EXPECT_GT(peak_growth_kb, weights_kb * 9 / 10) << "the parameters themselves must have been written";
    RecordProperty("peak_rss_growth_over_weights", std::to_string(double(peak_growth_kb) / weights_kb));
    std::printf("[ memory ] peak RSS growth %.1f MiB for %.1f MiB of bf16 weights (%.2fx)\n", peak_growth_kb / 1024.0,
                weights_kb / 1024.0, double(peak_growth_kb) / weights_kb);
    // The values arrived (first and last layer of each shard).
    for (int i : {0, 3, 4, 7}) {
      at::manual_seed(i);
      const at::Tensor expected = at::randn({kDim, kDim}).to(at::kBFloat16);
      EXPECT_TRUE(at::equal(model.named_parameters()["layers." + std::to_string(i) + ".weight"], expected)) << i;
    }
  }
}

TEST(Weights, MissingShardNamesTheIndexAndTheShard) {
  TempDir d;
  nlohmann::json weight_map = {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}};
  io::write_safetensors(d / "model-00001-of-00002.safetensors", {{"a", at::ones({2}, at::kBFloat16)}});
  std::ofstream(d / "model.safetensors.index.json") << nlohmann::json{{"weight_map", weight_map}}.dump();
  const std::string m = error_message_of([&] { io::StateDict::open(d.path()); });
  EXPECT_EQ(m, "missing shard " + (d / "model-00002-of-00002.safetensors") + " named by " +
                   (d / "model.safetensors.index.json") + "; download every shard of the checkpoint");
}

}  // namespace
}  // namespace mvb
