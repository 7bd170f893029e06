// The diagnosis usages' optimiser (lp, img-lora-lp, clip-img-lora), as the reference's HF Trainer runs
// it: torch's AdamW over the trained tensors in Trainer's two groups (weight decay on all but biases and
// norm weights: train::decays), the learning rate of each update from HF's get_scheduler (lr_factor in
// optim.h), gradient accumulation over windows of micro-batches, and the gradients clipped to
// max_grad_norm before each update.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mvb::train {

struct ScheduleOptions {
  double learning_rate = 3e-5;
  double weight_decay = 0.0;
  std::string lr_scheduler_type = "linear";
  double warmup_ratio = 0.0;   // warm-up updates: ceil(warmup_ratio * total_updates)
  double max_grad_norm = 1.0;  // <= 0: no clipping
};

class ScheduledAdamW {
 public:
  // Computes a micro-batch's loss (the graph is built when it is called, so a window holds inputs, not graphs).
  using MicroBatchLoss = std::function<at::Tensor()>;

  // `params`: (name, tensor); the name decides the decay group ("head.bias" is not decayed).
  ScheduledAdamW(const ScheduleOptions& options, const std::vector<std::pair<std::string, at::Tensor>>& params,
                 int64_t total_updates);
  ~ScheduledAdamW();

  // One update over a window of micro-batches (--gradient_accumulation_steps of them, fewer at the end
  // of an epoch): each micro-batch's loss is divided by the window's size before its backward, so the
  // gradients are those of the window's mean loss, as HF Trainer accumulates them. Returns that mean.
  double step(const std::vector<MicroBatchLoss>& window);
  int64_t updates() const { return updates_; }
  int64_t total_updates() const { return total_updates_; }
  // The schedule is spent: HF Trainer stops at max_steps, mid-epoch when the epochs are fractional.
  bool done() const { return updates_ >= total_updates_; }

 private:
  struct Impl;
  ScheduleOptions options_;
  std::vector<at::Tensor> params_;  // also what clipping clips, in this order
  std::unique_ptr<Impl> impl_;
  int64_t total_updates_;
  int64_t warmup_updates_;
  int64_t updates_ = 0;
};

}  // namespace mvb::train
