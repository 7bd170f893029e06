// nn::make_mkl_reproducible (nn/cpu_threads.h): with MKL loaded (the 2.x wheel), its dynamic thread count is off
// afterwards, and an elementwise op split over every intra-op thread computes each half to full accuracy (the
// first-call race it guards against gave one thread's half of a cos table 1.5e-4 errors). Without MKL (Debian's
// LibTorch) the call changes nothing.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <iostream>

#include "medvlmbench/nn/cpu_threads.h"

namespace mvb::nn {
namespace {

TEST(MklReproducible, DynamicThreadsOffAndSplitCosIsAccurate) {
  make_mkl_reproducible();
  make_mkl_reproducible();  // once per process; a second call is a no-op
  // MKL's C getter, or (the 2.x wheel exports only this one) its service-layer twin; both take no argument.
  using GetDynamic = int (*)();
  void* getter = dlsym(RTLD_DEFAULT, "MKL_Get_Dynamic");
  if (!getter) getter = dlsym(RTLD_DEFAULT, "mkl_serv_get_dynamic");
  if (getter)
    EXPECT_EQ(reinterpret_cast<GetDynamic>(getter)(), 0);
  else if (at::hasMKL())
    std::cout << "[note] this MKL exports no dynamic-threads getter: only the accuracy half is checked\n";
  // RoPE-shaped: positions x frequencies, large enough to be split across the intra-op threads.
  const at::Tensor pos = at::arange(0, 4096, at::kFloat).unsqueeze(1);
  const at::Tensor inv = at::pow(10000.0, -at::arange(0, 12, at::kFloat) / 12.0);
  const at::Tensor emb = pos * inv;
  const double err = (emb.cos().to(at::kDouble) - emb.to(at::kDouble).cos()).abs().max().item<double>();
  EXPECT_LT(err, 1e-6) << "threads " << at::get_num_threads();
}

}  // namespace
}  // namespace mvb::nn
