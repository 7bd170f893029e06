// Activation (gradient) checkpointing, as torch.utils.checkpoint does it, which LibTorch lacks: a
// block's forward runs without keeping its intermediate activations (only its input is kept), and
// the backward pass runs the block again with autograd on and back-propagates through that copy.
// Memory for activations drops from every block's intermediates to one block's at a time, at the
// price of a second forward per block.
//
// The recomputation sees what the first forward saw: the RNG state of the CPU generator (and of the
// input's CUDA device) is restored around it, so dropout draws the same mask, and the autocast
// settings are those of the forward. The generators are then put back where they were, so the random
// stream after the step equals that of a run without checkpointing (resumed runs stay bitwise).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <functional>
#include <vector>

namespace mvb::nn {

using CheckpointFn = std::function<at::Tensor(const at::Tensor&)>;

// fn(x) with its activations recomputed during backward. `params` are the parameters fn uses that
// need gradients (frozen ones may be left out); gradients reach them and x through the normal
// autograd graph. Without grad mode (or with nothing needing a gradient) this is just fn(x).
at::Tensor checkpoint(const CheckpointFn& fn, const at::Tensor& x, const std::vector<at::Tensor>& params);

// Whether a decoder stack (nn::DecoderModel) checkpoints its layers, as transformers'
// gradient_checkpointing_enable(): only while training (train mode, grad mode on, no KV cache). Held
// here by module (weakly: a destroyed module's entry lapses) rather than in the decoder's options, so
// the decoder's layout and every model built on it stay as they are.
void set_gradient_checkpointing(torch::nn::Module& decoder, bool on);
bool gradient_checkpointing(const torch::nn::Module& decoder);

}  // namespace mvb::nn
