#include "medvlmbench/nn/openblas_kernels.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace mvb::nn {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the OS's support (XCR0), not only the CPUID bits.
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace

std::string better_openblas_kernels(const std::string& loaded, bool avx512, bool avx2_fma) {
  // OpenBLAS's x86 kernel sets without AVX2, i.e. what it falls back to on CPUs it does not recognise.
  static const std::array<const char*, 12> kOlder = {"prescott",   "core2",     "penryn", "dunnington",
                                                     "nehalem",    "atom",      "nano",   "katmai",
                                                     "coppermine", "northwood", "banias", "sandybridge"};
  const std::string name = lower(loaded);
  if (std::find(kOlder.begin(), kOlder.end(), name) == kOlder.end()) return "";
  if (avx512) return "SkylakeX";
  if (avx2_fma) return "Haswell";
  return "";
}

std::string better_openblas_kernels(const std::string& loaded) {
  return better_openblas_kernels(loaded, cpu_has_avx512(), cpu_has_avx2_fma());
}

OpenblasKernels openblas_kernels() {
  OpenblasKernels out;
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  out.user_set = coretype && *coretype;  // OpenBLAS ignores an empty value too
  using CoreName = char* (*)();
  auto* corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!corename || !corename()) return out;
  out.loaded = corename();
  out.better = better_openblas_kernels(out.loaded);
  return out;
}

void reexec_with_faster_openblas_kernels(char** argv) {
#ifdef __linux__
  if (const char* flag = std::getenv("MVB_OPENBLAS_REEXEC"); flag && std::strcmp(flag, "0") == 0) return;
  const OpenblasKernels k = openblas_kernels();
  // A set OPENBLAS_CORETYPE is the user's choice or our own earlier exec: never loop.
  if (k.user_set || k.better.empty()) return;
  if (setenv("OPENBLAS_CORETYPE", k.better.c_str(), 1) != 0) return;
  // The program's own path rather than /proc/self/exe, which would rename the process "exe" (its comm, as
  // ps, top and perf show it); /proc/self/exe when the path cannot be read or no longer runs (rebuilt).
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    execv(self, argv);
  }
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // exec failed: go on as we were
#else
  (void)argv;
#endif
}

}  // namespace mvb::nn
