// OpenBLAS kernel choice. Debian 12's OpenBLAS 0.3.21 (the BLAS behind Debian's LibTorch: fp32 at::linear,
// at::matmul/bmm in attention, every training product) picks its kernels by CPU model number and falls
// back to Prescott (SSE3) on models newer than it knows, e.g. Sapphire and Emerald Rapids, even though the
// CPU has AVX-512. Measured on such a machine (1 thread): sgemm 256x768x3072 145 ms with Prescott vs 38 ms
// with SkylakeX kernels (3.8x), sgemv 4096x4096 45 vs 33 ms. OpenBLAS reads OPENBLAS_CORETYPE only while it
// loads, before main(), so the one remedy from inside the program is to run itself again with it set.
#pragma once

#include <string>

namespace mvb::nn {

struct OpenblasKernels {
  std::string loaded;     // openblas_get_corename() of the loaded OpenBLAS; empty when OpenBLAS is not loaded
  std::string better;     // a faster kernel set this CPU supports, when `loaded` is an older fallback; else empty
  bool user_set = false;  // OPENBLAS_CORETYPE is set and not empty (the user's choice, or our re-exec)
};

OpenblasKernels openblas_kernels();

// The faster kernel set for a CPU whose OpenBLAS chose `loaded` (case-insensitive): "SkylakeX" with
// AVX-512 F/BW/VL/DQ, "Haswell" with AVX2+FMA, only when `loaded` is one of the pre-AVX2 fallbacks; else "".
std::string better_openblas_kernels(const std::string& loaded, bool avx512, bool avx2_fma);
// The same for the CPU this runs on.
std::string better_openblas_kernels(const std::string& loaded);

// First thing in main() of a subcommand that computes (eval, train, score): when OpenBLAS fell back to
// kernels older than the CPU and OPENBLAS_CORETYPE is unset (or empty), sets it and re-executes this
// program (same argv and environment; the process id stays). Loading LibTorch a second time costs about a
// second, so quick subcommands do not call it. Does nothing elsewhere, with MVB_OPENBLAS_REEXEC=0, or when
// exec fails (the run goes on with the slower kernels).
void reexec_with_faster_openblas_kernels(char** argv);

}  // namespace mvb::nn
