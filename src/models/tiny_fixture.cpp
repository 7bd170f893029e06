// tiny-fixture: a small convolutional image classifier with seeded random weights. It exists so the
// demo and CI exercise the real pipeline (decode, preprocess, batching, writers, metrics) without a
// downloaded checkpoint. Its scores come from its weights and the pixels only; it never sees labels.
// With --model_path pointing at a folder holding tiny_fixture.pt (torch::save of the module), those
// weights are loaded instead.
#include <torch/nn/functional/activation.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/model.h"

namespace mvb {
namespace {

struct TinyNetImpl : torch::nn::Module {
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear head{nullptr};
  explicit TinyNetImpl(int64_t num_classes) {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 5).stride(4).padding(2)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).stride(2).padding(1)));
    head = register_module("head", torch::nn::Linear(16, num_classes));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::gelu(conv1(x));
    x = torch::gelu(conv2(x));
    return head(x.mean({2, 3}));
  }
};
TORCH_MODULE(TinyNet);

class TinyFixtureClassifier : public ImageClassifier {
 public:
  explicit TinyFixtureClassifier(const ModelSpec& spec) : device_(spec.device) {
    const int64_t classes = spec.class_texts.empty() ? 2 : static_cast<int64_t>(spec.class_texts.size());
    {
      torch::manual_seed(static_cast<uint64_t>(spec.seed));
      net_ = TinyNet(classes);
    }
    const std::string weights = io::join_path(spec.model_path, "tiny_fixture.pt");
    if (spec.model_path != "original_pretrained" && io::exists(weights)) {
      try {
        torch::load(net_, weights);
      } catch (const c10::Error& e) {
        throw Error("cannot load " + weights + ": " + e.what_without_backtrace());
      }
      source_ = weights;
    }
    net_->to(device_);
    net_->eval();
    transform_.resize = 64;
    transform_.crop = 64;
    transform_.interpolation = "bilinear";
    transform_.mean = {0.5f, 0.5f, 0.5f};
    transform_.std = {0.5f, 0.5f, 0.5f};
    classes_ = classes;
  }
  const ImageTransform& transform() const override { return transform_; }
  at::Tensor classify(const at::Tensor& pixel_values) override {
    torch::NoGradGuard no_grad;
    return net_->forward(pixel_values.to(device_));
  }
  c10::Device device() const override { return device_; }
  nlohmann::json describe() const override {
    int64_t params = 0;
    for (const auto& p : net_->parameters()) params += p.numel();
    return {{"architecture", "tiny-fixture conv classifier"},
            {"parameters", params},
            {"classes", classes_},
            {"weights", source_},
            {"dtype", "float32"}};
  }

 private:
  c10::Device device_;
  TinyNet net_{nullptr};
  ImageTransform transform_;
  int64_t classes_ = 2;
  std::string source_ = "seeded random (--seed)";
};

}  // namespace

MVB_REGISTER(model_registry(), "tiny-fixture",
             ModelEntry{"classifier",
                        {"diagnosis"},
                        "Tiny seeded-random conv classifier for demos and CI (no checkpoint needed)",
                        /*needs_checkpoint=*/false,
                        [](const ModelSpec& spec) { return std::make_unique<TinyFixtureClassifier>(spec); }});

}  // namespace mvb
