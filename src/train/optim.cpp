#include "medvlmbench/train/optim.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb::train {

double lr_factor(const std::string& type, int64_t step, int64_t total, int64_t warmup) {
  if (type == "constant") return 1.0;
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (type == "constant_with_warmup") return 1.0;
  if (type == "cosine") {
    const double progress =
        static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
  }
  MVB_CHECK(type == "linear", "unknown --lr_scheduler_type '", type,
            "' (linear, cosine, constant, constant_with_warmup)");
  return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

int64_t warmup_steps(int64_t total, double ratio) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(total) * ratio));
}

int64_t total_update_steps(int64_t batches_per_epoch, int accumulation, double epochs, int64_t max_steps) {
  if (max_steps > 0) return max_steps;
  const int64_t per_epoch = std::max<int64_t>(batches_per_epoch / std::max(1, accumulation), 1);
  return static_cast<int64_t>(std::ceil(epochs * static_cast<double>(per_epoch)));
}

AdamW::AdamW(std::vector<ParamGroup> groups, double beta1, double beta2, double eps)
    : groups_(std::move(groups)), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (const auto& g : groups_) {
    std::vector<at::Tensor> m, v;
    for (const auto& [name, p] : g.params) {
      m.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
      v.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    }
    exp_avg_.push_back(std::move(m));
    exp_avg_sq_.push_back(std::move(v));
  }
}

void AdamW::step(double factor) {
  at::NoGradGuard no_grad;
  ++step_;
  // torch.optim.adamw._single_tensor_adamw (capturable off, amsgrad off, maximize off).
  const double bias_correction1 = 1.0 - std::pow(beta1_, static_cast<double>(step_));
  const double bias_correction2 = 1.0 - std::pow(beta2_, static_cast<double>(step_));
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    const double lr = g.lr * factor;
    const double step_size = lr / bias_correction1;
    for (size_t i = 0; i < g.params.size(); ++i) {
      at::Tensor p = g.params[i].second;
      const at::Tensor grad = p.grad();
      if (!grad.defined()) continue;
      p.mul_(1.0 - lr * g.weight_decay);
      exp_avg_[gi][i].lerp_(grad, 1.0 - beta1_);
      exp_avg_sq_[gi][i].mul_(beta2_).addcmul_(grad, grad, 1.0 - beta2_);
      const at::Tensor denom = (exp_avg_sq_[gi][i].sqrt() / bias_correction2_sqrt).add_(eps_);
      p.addcdiv_(exp_avg_[gi][i], denom, -step_size);
    }
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& [name, p] : g.params) p.mutable_grad() = at::Tensor();  // set_to_none, torch's default
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      out.emplace_back(groups_[gi].params[i].first + ".exp_avg", exp_avg_[gi][i]);
      out.emplace_back(groups_[gi].params[i].first + ".exp_avg_sq", exp_avg_sq_[gi][i]);
    }
  out.emplace_back("__step__", at::tensor(std::vector<int64_t>{step_}, at::kLong));
  return out;
}

void AdamW::load_state(const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& source) {
  std::map<std::string, at::Tensor> by_name(tensors.begin(), tensors.end());
  at::NoGradGuard no_grad;
  auto take = [&](const std::string& name, at::Tensor& dst) {
    auto it = by_name.find(name);
    MVB_CHECK(it != by_name.end(), source, " has no optimizer state ", name,
              "; it was written for other trainable parameters (different --peft / --tune_modules / --lora_r?)");
    MVB_CHECK(it->second.sizes() == dst.sizes(), source, ": optimizer state ", name, " has shape ", it->second.sizes(),
              ", expected ", dst.sizes());
    dst.copy_(it->second);
  };
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      take(groups_[gi].params[i].first + ".exp_avg", exp_avg_[gi][i]);
      take(groups_[gi].params[i].first + ".exp_avg_sq", exp_avg_sq_[gi][i]);
    }
  auto it = by_name.find("__step__");
  MVB_CHECK(it != by_name.end(), source, " has no __step__");
  step_ = it->second.item<int64_t>();
}

std::vector<at::Tensor> AdamW::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& g : groups_)
    for (const auto& [name, p] : g.params) out.push_back(p);
  return out;
}

bool decays(const std::string& name, bool in_layernorm, bool llava_rules) {
  if (in_layernorm) return false;
  const std::string n = to_lower(name);
  if (n.find("bias") != std::string::npos) return false;
  if (llava_rules) return true;
  static const std::regex norm(R"(layernorm|rmsnorm|(^|\.)norm($|\.)|_norm($|\.))");
  return !std::regex_search(n, norm);
}

at::Tensor LossScaler::scale(const at::Tensor& loss) const { return enabled_ ? loss.mul(scale_) : loss; }

bool LossScaler::unscale(const std::vector<at::Tensor>& params) const {
  if (!enabled_) return true;
  at::NoGradGuard no_grad;
  bool finite = true;
  for (const auto& p : params) {
    at::Tensor g = p.grad();
    if (!g.defined()) continue;
    g.mul_(1.0 / scale_);
    finite = finite && g.isfinite().all().item<bool>();
  }
  return finite;
}

void LossScaler::update(bool found_inf) {
  if (!enabled_) return;
  if (found_inf) {
    scale_ *= backoff_;
    good_steps_ = 0;
  } else if (++good_steps_ >= interval_) {
    scale_ *= growth_;
    good_steps_ = 0;
  }
}

}  // namespace mvb::train
