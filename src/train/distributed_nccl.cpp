// The NCCL process group (CUDA training), compiled only against a CUDA LibTorch that has it
// (USE_C10D_NCCL) with nccl.h found (src/train/area.cmake defines MVB_HAVE_NCCL).
#include <string>

#include "distributed_backend.h"
#include "medvlmbench/core/error.h"

#if defined(MVB_HAVE_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace mvb::train::detail {

bool nccl_compiled(std::string* why) {
#if defined(MVB_HAVE_NCCL)
  (void)why;
  return true;
#else
  if (why)
    *why = "this build has no NCCL backend (it needs a CUDA LibTorch built with NCCL and nccl.h at configure time)";
  return false;
#endif
}

c10::intrusive_ptr<Collectives> make_nccl(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                          std::chrono::milliseconds timeout) {
#if defined(MVB_HAVE_NCCL)
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
#else
  (void)store, (void)rank, (void)size, (void)timeout;
  std::string why;
  nccl_compiled(&why);
  throw Error("data parallel training on CUDA needs NCCL: " + why);
#endif
}

}  // namespace mvb::train::detail
