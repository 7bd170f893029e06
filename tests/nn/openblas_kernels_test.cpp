// Which OpenBLAS kernels replace a fallback the loaded OpenBLAS chose (nn/openblas_kernels.h); the
// re-exec itself is tested through the executable in tests/cli/cli_test.cpp.
#include "medvlmbench/nn/openblas_kernels.h"

#include <gtest/gtest.h>

namespace mvb::nn {
namespace {

TEST(OpenblasKernels, FallbacksAreReplacedByWhatTheCpuSupports) {
  EXPECT_EQ(better_openblas_kernels("Prescott", /*avx512=*/true, /*avx2_fma=*/true), "SkylakeX");
  EXPECT_EQ(better_openblas_kernels("prescott", /*avx512=*/false, /*avx2_fma=*/true), "Haswell");
  EXPECT_EQ(better_openblas_kernels("Sandybridge", /*avx512=*/false, /*avx2_fma=*/true), "Haswell");
  EXPECT_EQ(better_openblas_kernels("Nehalem", /*avx512=*/false, /*avx2_fma=*/false), "");
}

TEST(OpenblasKernels, ModernChoicesAreLeftAlone) {
  for (const char* name : {"Haswell", "SkylakeX", "Cooperlake", "SapphireRapids", "Zen", "ARMV8", ""})
    EXPECT_EQ(better_openblas_kernels(name, /*avx512=*/true, /*avx2_fma=*/true), "") << name;
}

}  // namespace
}  // namespace mvb::nn
