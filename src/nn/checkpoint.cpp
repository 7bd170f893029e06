#include "medvlmbench/nn/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <memory>
#include <mutex>
#include <unordered_map>

#include "medvlmbench/core/autocast.h"

namespace mvb::nn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::Generator generator_for(const c10::Device& d) {
  return d.is_cuda() ? at::globalContext().defaultGenerator(d) : at::detail::getDefaultCPUGenerator();
}

at::Tensor get_rng(at::Generator g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}

void set_rng(at::Generator g, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
}

// What the backward pass needs to run the block again. The function object cannot live in an
// IValue, so it travels in a capsule in the context's saved_data.
struct Recompute : torch::CustomClassHolder {
  CheckpointFn fn;
  at::Tensor input;  // detached
  bool input_requires_grad = false;
  std::vector<c10::Device> rng_devices;
  std::vector<at::Tensor> rng_states;
  compat::AutocastState autocast;
};

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  // Function::apply runs this with grad mode off; nothing of the block's graph outlives it.
  static at::Tensor forward(AutogradContext* ctx, c10::intrusive_ptr<Recompute> r, const at::Tensor& x,
                            at::TensorList params) {
    r->input = x.detach();
    r->input_requires_grad = x.requires_grad();
    r->rng_devices.push_back(c10::Device(c10::kCPU));
    if (x.is_cuda()) r->rng_devices.push_back(x.device());
    for (const auto& d : r->rng_devices) r->rng_states.push_back(get_rng(generator_for(d)));
    r->autocast = compat::autocast_state();
    // The block runs with autograd on (the graph is dropped at once by the detach), so that it takes
    // the same kernels as its recomputation: no-grad paths (in-place ops, oneDNN's Linear) round
    // differently, and the gradients would no longer equal a plain run's bitwise.
    at::Tensor out;
    {
      at::AutoGradMode grad_on(true);
      out = r->fn(r->input.detach().requires_grad_(r->input_requires_grad)).detach();
    }
    ctx->saved_data["recompute"] = c10::IValue::make_capsule(r);
    ctx->save_for_backward(params.vec());
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto r = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
    // The forward's random state and autocast settings for the rerun; the current ones after it.
    std::vector<at::Tensor> now;
    for (const auto& d : r->rng_devices) now.push_back(get_rng(generator_for(d)));
    for (size_t i = 0; i < r->rng_devices.size(); ++i) set_rng(generator_for(r->rng_devices[i]), r->rng_states[i]);
    const compat::AutocastState autocast_now = compat::autocast_state();
    compat::set_autocast_state(r->autocast);
    at::Tensor x = r->input.detach().requires_grad_(r->input_requires_grad);
    at::Tensor out;
    try {
      at::AutoGradMode grad_on(true);
      out = r->fn(x);
    } catch (...) {
      compat::set_autocast_state(autocast_now);
      throw;
    }
    compat::set_autocast_state(autocast_now);
    for (size_t i = 0; i < r->rng_devices.size(); ++i) set_rng(generator_for(r->rng_devices[i]), now[i]);

    // Gradients for (capsule, x, params...): the capsule gets none.
    const variable_list params = ctx->get_saved_variables();
    variable_list inputs;
    if (r->input_requires_grad) inputs.push_back(x);
    for (const auto& p : params) inputs.push_back(p);
    variable_list result(2 + params.size());
    if (!inputs.empty() && out.requires_grad()) {
      const variable_list g = torch::autograd::grad({out}, inputs, {grads[0]}, /*retain_graph=*/false,
                                                    /*create_graph=*/false, /*allow_unused=*/true);
      size_t k = 0;
      if (r->input_requires_grad) result[1] = g[k++];
      for (size_t i = 0; i < params.size(); ++i) result[2 + i] = g[k++];
    }
    return result;
  }
};

}  // namespace

at::Tensor checkpoint(const CheckpointFn& fn, const at::Tensor& x, const std::vector<at::Tensor>& params) {
  bool needs_grad = x.requires_grad();
  for (const auto& p : params) needs_grad = needs_grad || p.requires_grad();
  if (!at::GradMode::is_enabled() || !needs_grad) return fn(x);
  auto r = c10::make_intrusive<Recompute>();
  r->fn = fn;
  return CheckpointFunction::apply(r, x, at::TensorList(params));
}

namespace {
struct CheckpointedModules {
  std::mutex mu;
  std::unordered_map<const torch::nn::Module*, std::weak_ptr<torch::nn::Module>> on;
};
CheckpointedModules& checkpointed() {
  static auto* c = new CheckpointedModules();
  return *c;
}
}  // namespace

void set_gradient_checkpointing(torch::nn::Module& decoder, bool on) {
  auto& c = checkpointed();
  std::lock_guard<std::mutex> lock(c.mu);
  if (on)
    c.on[&decoder] = decoder.shared_from_this();
  else
    c.on.erase(&decoder);
}

bool gradient_checkpointing(const torch::nn::Module& decoder) {
  auto& c = checkpointed();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.on.empty()) return false;
  auto it = c.on.find(&decoder);
  if (it == c.on.end()) return false;
  // A module destroyed since (its address possibly reused by a new one) is off.
  if (it->second.expired()) {
    c.on.erase(it);
    return false;
  }
  return true;
}

}  // namespace mvb::nn
