#include "medvlmbench/train/sft.h"

#include <ATen/ATen.h>

#include <map>

#include "medvlmbench/core/error.h"

namespace mvb::train {

std::unique_ptr<TrainableVlm> make_llava_trainable(Model& model);
std::unique_ptr<TrainableVlm> make_qwen_trainable(Model& model);

std::unique_ptr<TrainableVlm> make_trainable(Model& model, const std::string& name) {
  if (auto t = make_llava_trainable(model)) return t;
  if (auto t = make_qwen_trainable(model)) return t;
  throw UsageError("model '" + name +
                   "' cannot be fine-tuned by medvlmbench yet; generative training supports LLaVA-1.5, LLaVA-Med, "
                   "Qwen2-VL, Qwen25-VL and Lingshu");
}

int add_lora(torch::nn::Module& root, const std::vector<std::string>& modules, const nn::LoraConfig& cfg) {
  std::map<std::string, nn::Linear> by_name;
  for (auto& [name, lin] : nn::find_linears(root)) by_name.emplace(name, lin);
  for (const auto& m : modules) {
    auto it = by_name.find(m);
    MVB_CHECK(it != by_name.end(), "LoRA target ", m, " is not a Linear layer of the model");
    it->second->enable_lora(cfg);
  }
  return static_cast<int>(modules.size());
}

std::pair<at::Tensor, int64_t> TrainableVlm::loss_sum(const std::vector<SftExample>& batch) {
  const auto [logits, labels] = forward_batch(batch);
  return shifted_ce_sum(logits, labels);
}

std::pair<at::Tensor, int64_t> shifted_ce_sum(const at::Tensor& logits, const at::Tensor& labels) {
  // transformers' ForCausalLMLoss: position t predicts labels[:, t + 1]; -100 ignored. As there, the
  // labels are shifted (padded with -100 at the end) rather than the logits cut: logits[:, :-1] is not
  // contiguous, and reshaping it copied all the logits forward and again in backward (the largest
  // tensors of a step: B x L x vocab floats).
  const int64_t V = logits.size(-1);
  const at::Tensor x = logits.to(at::kFloat).reshape({-1, V});
  const at::Tensor y =
      at::cat({labels.slice(1, 1), at::full({labels.size(0), 1}, kIgnoreIndex, labels.options())}, 1).reshape({-1});
  const int64_t count = y.ne(kIgnoreIndex).sum().item<int64_t>();
  const at::Tensor loss = at::cross_entropy_loss(x, y, {}, at::Reduction::Sum, kIgnoreIndex);
  return {loss, count};
}

}  // namespace mvb::train
