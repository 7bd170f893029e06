#include "medvlmbench/train/scheduled_adamw.h"

#include <torch/types.h>

// clip_grad.h relies on torch/types.h being included before it.
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include "medvlmbench/core/error.h"
#include "medvlmbench/train/optim.h"

namespace mvb::train {

namespace {

// HF Trainer.create_optimizer's groups: weight decay on the parameters get_decay_parameter_names keeps,
// none on the rest. Empty groups are left out (torch's optimizers refuse them).
std::vector<torch::optim::OptimizerParamGroup> decay_groups(
    const std::vector<std::pair<std::string, at::Tensor>>& params, const ScheduleOptions& o) {
  std::vector<at::Tensor> decayed, not_decayed;
  for (const auto& [name, p] : params)
    (decays(name, /*in_layernorm=*/false, /*llava_rules=*/false) ? decayed : not_decayed).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (const auto& [tensors, weight_decay] :
       {std::make_pair(decayed, o.weight_decay), std::make_pair(not_decayed, 0.0)})
    if (!tensors.empty())
      groups.emplace_back(tensors, std::make_unique<torch::optim::AdamWOptions>(
                                       torch::optim::AdamWOptions(o.learning_rate).weight_decay(weight_decay)));
  return groups;
}

std::vector<at::Tensor> tensors_of(const std::vector<std::pair<std::string, at::Tensor>>& params) {
  std::vector<at::Tensor> out;
  for (const auto& np : params) out.push_back(np.second);
  return out;
}

}  // namespace

struct ScheduledAdamW::Impl {
  Impl(const std::vector<std::pair<std::string, at::Tensor>>& params, const ScheduleOptions& o)
      : adamw(decay_groups(params, o), torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay)) {}
  torch::optim::AdamW adamw;
};

ScheduledAdamW::ScheduledAdamW(const ScheduleOptions& options,
                               const std::vector<std::pair<std::string, at::Tensor>>& params, int64_t total_updates)
    : options_(options),
      params_(tensors_of(params)),
      impl_(std::make_unique<Impl>(params, options)),
      total_updates_(total_updates),
      warmup_updates_(warmup_steps(total_updates, options.warmup_ratio)) {}

ScheduledAdamW::~ScheduledAdamW() = default;

double ScheduledAdamW::step(const std::vector<MicroBatchLoss>& window) {
  MVB_CHECK(!window.empty(), "ScheduledAdamW::step: an update needs at least one micro-batch");
  const double lr =
      options_.learning_rate * lr_factor(options_.lr_scheduler_type, updates_, total_updates_, warmup_updates_);
  for (auto& g : impl_->adamw.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  impl_->adamw.zero_grad();
  double loss_sum = 0;
  for (const MicroBatchLoss& micro_batch : window) {
    at::Tensor loss = micro_batch();
    loss_sum += loss.item<double>();
    // A window of one is left undivided, so a run without accumulation is bitwise what it was.
    if (window.size() > 1) loss = loss / static_cast<double>(window.size());
    loss.backward();
  }
  if (options_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params_, options_.max_grad_norm);
  impl_->adamw.step();
  ++updates_;
  return loss_sum / static_cast<double>(window.size());
}

}  // namespace mvb::train
