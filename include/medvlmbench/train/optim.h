// What HF Trainer (transformers 4.53.1) does around a training step, for the generative trainers:
// AdamW (torch.optim.AdamW's single-tensor update, which torch runs for CPU tensors), its parameter
// groups with Trainer's weight-decay exclusions, the learning-rate schedules with warm-up, and the
// step counts Trainer derives from epochs, batch size and gradient accumulation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mvb::train {

// get_scheduler(name, warmup, total) as a factor on the base learning rate before optimizer step
// `step` (0-based): "linear" (get_linear_schedule_with_warmup), "cosine" (half a cosine), "constant"
// (no warm-up, as HF's get_constant_schedule ignores it), "constant_with_warmup".
double lr_factor(const std::string& type, int64_t step, int64_t total, int64_t warmup);
// TrainingArguments.get_warmup_steps: ceil(total * ratio).
int64_t warmup_steps(int64_t total, double warmup_ratio);
// Trainer's max_steps: ceil(epochs * max(batches_per_epoch // accumulation, 1)), or max_steps when > 0.
int64_t total_update_steps(int64_t batches_per_epoch, int accumulation, double epochs, int64_t max_steps);

struct ParamGroup {
  std::string name;  // for logs: "decay", "no_decay", "projector", ...
  std::vector<std::pair<std::string, at::Tensor>> params;
  double lr = 0;  // base learning rate (the schedule scales it)
  double weight_decay = 0;
};

// torch.optim.AdamW (betas 0.9 / 0.999, eps 1e-8, amsgrad off), the single-tensor update order, so a
// step equals PyTorch's to rounding and a resumed run continues bitwise. Its state is plain tensors
// that a checkpoint saves and loads by parameter name.
class AdamW {
 public:
  explicit AdamW(std::vector<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  // One update with each group's lr = base lr * factor; parameters without a gradient are skipped.
  void step(double lr_factor);
  void zero_grad();
  std::vector<ParamGroup>& groups() { return groups_; }
  int64_t steps() const { return step_; }
  // "<param>.exp_avg" / "<param>.exp_avg_sq" tensors plus "__step__"; load checks every name matches.
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& source);
  std::vector<at::Tensor> parameters() const;

 private:
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<at::Tensor>> exp_avg_, exp_avg_sq_;
  double beta1_, beta2_, eps_;
  int64_t step_ = 0;
};

// Whether Trainer decays a parameter: not a bias, and (HF Trainer's get_decay_parameter_names, which
// LLaMA-Factory and plain Trainer use) not in a norm layer; LLaVA's own trainer (llava_trainer.py)
// only drops biases and nn.LayerNorm parameters, so its RMSNorm weights decay.
bool decays(const std::string& name, bool in_layernorm, bool llava_rules);

// torch.amp.GradScaler's dynamic loss scaling for fp16 training (HF Trainer uses it with --fp16):
// the loss is multiplied by the scale before backward; unscale() divides the gradients back and says
// whether all are finite; update() halves the scale after an overflow (the step is skipped) and
// doubles it after 2000 clean steps. Disabled, it does nothing (scale 1, always finite).
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double init_scale = 65536.0, double growth = 2.0, double backoff = 0.5,
                      int growth_interval = 2000)
      : enabled_(enabled), scale_(init_scale), growth_(growth), backoff_(backoff), interval_(growth_interval) {}
  at::Tensor scale(const at::Tensor& loss) const;
  bool unscale(const std::vector<at::Tensor>& params) const;
  void update(bool found_inf);
  double current() const { return enabled_ ? scale_ : 1.0; }
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  double scale_, growth_, backoff_;
  int interval_, good_steps_ = 0;
};

}  // namespace mvb::train
