// Private to src/train/distributed*.cpp: the collective interface of the LibTorch in use and the
// constructors of its Gloo and NCCL process groups, each in its own translation unit because their
// headers need libraries a build may lack (gloo's headers; NCCL and CUDA's).
#pragma once

#include <torch/version.h>

#include <chrono>
#include <string>
#include <torch/csrc/distributed/c10d/Store.hpp>

// LibTorch 2.x: a ProcessGroupGloo/NCCL is a c10d::Backend; 1.13: a c10d::ProcessGroup. Both have
// the same allreduce/broadcast calls.
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace mvb::train::detail {

#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

// Null when this build has no such backend (then *why says what is missing).
bool gloo_compiled(std::string* why);
bool nccl_compiled(std::string* why);
// Connects to every other rank through `store`; collectives time out after `timeout`.
c10::intrusive_ptr<Collectives> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                          std::chrono::milliseconds timeout);
c10::intrusive_ptr<Collectives> make_nccl(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                          std::chrono::milliseconds timeout);

}  // namespace mvb::train::detail
