#include "medvlmbench/nn/embedding.h"

#include <ATen/ATen.h>

#include "medvlmbench/core/error.h"

namespace mvb::nn {

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t d, bool target) : num_embeddings(num), dim(d), peft_target(target) {
  // nn.Embedding's default init (standard normal).
  weight = register_parameter("weight", at::randn({num, d}));
}

at::Tensor EmbeddingImpl::delta() const {
  // Product in fp32 (PEFT does the same for half weights on CPU), cast back to the table's dtype.
  return at::matmul(lora_embedding_B.to(at::kFloat), lora_embedding_A.to(at::kFloat))
      .t()
      .mul(lora.scaling())
      .to(weight.scalar_type());
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) {
  at::Tensor out = at::embedding(weight, ids);
  if (has_lora() && !merged_)
    out = out + at::matmul(at::embedding(lora_embedding_A.t(), ids), lora_embedding_B.t()) * lora.scaling();
  return out;
}

at::Tensor EmbeddingImpl::table() {
  if (!has_lora() || merged_) return weight;
  // Equal to forward(arange(num_embeddings)) without the gather.
  return weight + at::matmul(lora_embedding_A.t(), lora_embedding_B.t()) * lora.scaling();
}

void EmbeddingImpl::enable_lora(const LoraConfig& cfg) {
  MVB_CHECK(!has_lora(), "LoRA is already enabled on this embedding");
  MVB_CHECK(cfg.r > 0, "LoRA rank must be positive (got ", cfg.r, ")");
  lora = cfg;
  auto opts = weight.options();
  lora_embedding_A = register_parameter("lora_embedding_A", at::zeros({cfg.r, num_embeddings}, opts));
  lora_embedding_B = register_parameter("lora_embedding_B", at::randn({dim, cfg.r}, opts));
}

void EmbeddingImpl::merge_lora() {
  if (!has_lora() || merged_) return;
  at::NoGradGuard no_grad;
  weight.add_(delta());
  merged_ = true;
}

void EmbeddingImpl::unmerge_lora() {
  if (!has_lora() || !merged_) return;
  at::NoGradGuard no_grad;
  weight.sub_(delta());
  merged_ = false;
}

namespace {
void collect(torch::nn::Module& m, const std::string& prefix, std::vector<std::pair<std::string, Embedding>>& out) {
  for (auto& child : m.named_children()) {
    const std::string name = prefix.empty() ? child.key() : prefix + "." + child.key();
    if (auto e = std::dynamic_pointer_cast<EmbeddingImpl>(child.value()))
      out.emplace_back(name, Embedding(e));
    else
      collect(*child.value(), name, out);
  }
}
}  // namespace

std::vector<std::pair<std::string, Embedding>> find_embeddings(torch::nn::Module& module) {
  std::vector<std::pair<std::string, Embedding>> out;
  collect(module, "", out);
  return out;
}

}  // namespace mvb::nn
